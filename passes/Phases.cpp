//===- Phases.cpp - the strata-level pipeline, phase by phase -------------===//

#include "passes/Phases.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void mlir::strata::buildTrainPhase(OpPassManager &pm,
                                   const TrainPhaseOptions &options) {
  StrataMixedPrecisionOptions mixed;
  mixed.functions.assign(options.losses.begin(), options.losses.end());
  mixed.precision = options.precision;
  pm.addPass(createStrataMixedPrecision(mixed));
  StrataAutodiffOptions autodiff;
  autodiff.functions.assign(options.losses.begin(), options.losses.end());
  autodiff.recompute = options.recompute;
  autodiff.scaledLoss = options.scaledLoss;
  pm.addPass(createStrataAutodiff(autodiff));
  pm.addPass(createStrataOptimizer());
}

void mlir::strata::buildShardPhase(OpPassManager &pm, bool train,
                                   int64_t contextLength) {
  StrataPipelineOptions pipeline;
  pipeline.train = train;
  pipeline.contextLength = contextLength;
  pm.addPass(createStrataPipeline(pipeline));
  StrataShardOptions shard;
  shard.beside = true;
  shard.train = train;
  pm.addPass(createStrataShard(shard));
  StrataExpertParallelOptions experts;
  experts.train = train;
  pm.addPass(createStrataExpertParallel(experts));
}

void mlir::strata::buildQuantizePhase(OpPassManager &pm,
                                      const QuantizePhaseOptions &options) {
  StrataQuantizeOptions quantize;
  quantize.scheme = options.quantize;
  quantize.lmHead = options.quantizeLmHead;
  pm.addPass(createStrataQuantize(quantize));
  pm.addPass(createStrataCalibrationEntry());
  StrataNarrowWeightsOptions narrow;
  narrow.dtype = options.weightsDtype;
  pm.addPass(createStrataNarrowWeights(narrow));
}

namespace {
struct TrainPhaseCLOptions : PassPipelineOptions<TrainPhaseCLOptions> {
  ListOption<std::string> losses{
      *this, "losses",
      llvm::cl::desc("Loss functions to differentiate (default: loss)")};
  Option<std::string> recompute{
      *this, "recompute",
      llvm::cl::desc("layer (recompute each layer in its backward) or none"),
      llvm::cl::init("layer")};
  Option<std::string> precision{
      *this, "precision",
      llvm::cl::desc("bf16, f16 or f32 (default: the training plan's)"),
      llvm::cl::init("")};
  Option<bool> scaledLoss{
      *this, "scaled-loss",
      llvm::cl::desc("the gradient takes a loss scale (dynamic loss scaling)"),
      llvm::cl::init(false)};
};
struct QuantizePhaseCLOptions : PassPipelineOptions<QuantizePhaseCLOptions> {
  Option<std::string> weightsDtype{
      *this, "weights-dtype",
      llvm::cl::desc("The matrix products' weights: bf16, f16 or f32"),
      llvm::cl::init("f32")};
  Option<std::string> quantize{
      *this, "quantize",
      llvm::cl::desc("int8 linear layers: w8a16, w8a8_dynamic, w8a8 or none"),
      llvm::cl::init("none")};
  Option<bool> quantizeLmHead{*this, "quantize-lm-head",
                              llvm::cl::desc("Quantize the LM head too"),
                              llvm::cl::init(false)};
};
} // namespace

void mlir::strata::registerStrataPhases() {
  PassPipelineRegistration<TrainPhaseCLOptions>(
      "strata-phase-train",
      "The train phase of the strata-level pipeline: the training entry "
      "points (what strata-compile --train runs)",
      [](OpPassManager &pm, const TrainPhaseCLOptions &cl) {
        TrainPhaseOptions options;
        if (!cl.losses.empty())
          options.losses.assign(cl.losses.begin(), cl.losses.end());
        options.recompute = cl.recompute;
        options.precision = cl.precision;
        options.scaledLoss = cl.scaledLoss;
        buildTrainPhase(pm, options);
      });
  PassPipelineRegistration<>(
      "strata-phase-shard",
      "The shard phase of the strata-level pipeline: the plan's "
      "pipeline-stage, tensor- or expert-parallel programs beside the whole "
      "one (what strata-compile runs for --pp, --tp or --ep above 1)",
      [](OpPassManager &pm) { buildShardPhase(pm); });
  PassPipelineRegistration<QuantizePhaseCLOptions>(
      "strata-phase-quantize",
      "The quantize phase of the strata-level pipeline: the weights' "
      "storage types (what strata-compile --quantize and --weights-dtype "
      "run)",
      [](OpPassManager &pm, const QuantizePhaseCLOptions &cl) {
        QuantizePhaseOptions options;
        options.weightsDtype = cl.weightsDtype;
        options.quantize = cl.quantize;
        options.quantizeLmHead = cl.quantizeLmHead;
        buildQuantizePhase(pm, options);
      });
}

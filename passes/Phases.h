//===- Phases.h - the strata-level pipeline, phase by phase -----*- C++ -*-===//
//
// strata-compile runs the strata-level pipeline in phases, in this order:
//
//   import    the frontend: config -> strata IR (what --emit=mlir prints);
//   shard     --strata-phase-shard: the plan's tensor-parallel program
//             beside the whole one (strata-shard{beside}), its loss
//             included when training, so that the train phase
//             differentiates the partitioned loss too;
//   train     --strata-phase-train: the training entry points (autodiff);
//   quantize  int8 (issue 16 registers --strata-phase-quantize);
//   lower     codegen's --strata-lower-to-llvm-cpu / -nvvm-cuda.
//
// Each phase is one pass pipeline registered by name, built by the same
// function strata-compile calls, so `strata-opt --strata-phase-...` replays
// exactly what the compiler ran from a .mlir file alone.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_PASSES_PHASES_H
#define STRATA_PASSES_PHASES_H

#include "mlir/Pass/PassManager.h"

#include <string>
#include <vector>

namespace mlir::strata {

struct TrainPhaseOptions {
  /// The losses to differentiate (strata-autodiff's `functions`).
  std::vector<std::string> losses{"loss"};
  /// strata-autodiff's `recompute`: "layer" or "none".
  std::string recompute = "layer";
  /// strata-mixed-precision's `precision`: bf16, f16, f32 or empty (the
  /// module's training plan).
  std::string precision;
  /// strata-autodiff's `scaled-loss`: the gradient takes a loss scale.
  bool scaledLoss = false;
};

/// The train phase: the losses in the plan's precision
/// (strata-mixed-precision), `<loss>_grad` for each (strata-autodiff), and
/// `optimizer_step` (strata-optimizer).
void buildTrainPhase(OpPassManager &pm, const TrainPhaseOptions &options);

/// The shard phase: the programs ranks of a launch run, beside the whole
/// one, which a world of one runs. With the plan's pp above 1, a program
/// per pipeline stage (strata-pipeline: `stage<N>.forward`, `.decode`);
/// with tp above 1 (and pp 1), stage 0's tensor-parallel program
/// (strata-shard). `train`: the training forward (`loss`) too, which the
/// train phase then differentiates as `stage<N>.loss`. `contextLength`:
/// the context the FLOPs balancing the stages assume.
void buildShardPhase(OpPassManager &pm, bool train = false,
                     int64_t contextLength = 4096);

struct QuantizePhaseOptions {
  /// strata-narrow-weights' `dtype`: the matrix products' weights in bf16,
  /// f16 or f32 (as built).
  std::string weightsDtype = "f32";
  /// strata-quantize's `scheme` (none: no int8) and `lm-head`.
  std::string quantize = "none";
  bool quantizeLmHead = false;
};

/// The quantize phase: int8 linear layers (strata-quantize), then the
/// other products' weights' storage types (strata-narrow-weights).
void buildQuantizePhase(OpPassManager &pm, const QuantizePhaseOptions &options);

/// Registers the phases as `--strata-phase-<name>` pipelines.
void registerStrataPhases();

} // namespace mlir::strata

#endif // STRATA_PASSES_PHASES_H

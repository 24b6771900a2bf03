//===- Pipelines.cpp - the CPU lowering pipeline ----------------*- C++ -*-===//
//
// One builder serves strata-compile and strata-opt, so the opt tool replays
// exactly what the compiler runs. Upstream stages are spelled as textual
// pipelines: they are stable across MLIR releases where C++ factories move.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "passes/Passes.h"

using namespace mlir;
using namespace mlir::strata;

LogicalResult
mlir::strata::buildCpuLoweringPipeline(OpPassManager &pm,
                                       const CpuPipelineOptions &options) {
  StringRef stop = options.stopAfter;
  if (stop != "linalg" && stop != "loops" && stop != "llvm")
    return failure();
  pm.addPass(createStrataParamsToArguments());
  pm.addPass(createStrataConvertToLinalg());
  pm.addPass(createCanonicalizerPass());
  if (stop == "linalg")
    return success();
  if (failed(parsePassPipeline(
          "one-shot-bufferize{bufferize-function-boundaries "
          "function-boundary-type-conversion=identity-layout-map},"
          "buffer-deallocation-pipeline",
          pm)))
    return failure();
  pm.addPass(createStrataCopiesToLinalg());
  if (failed(parsePassPipeline("convert-linalg-to-loops,canonicalize", pm)))
    return failure();
  if (stop == "loops")
    return success();
  pm.addPass(createStrataExportEntryPoints());
  return parsePassPipeline(
      "expand-strided-metadata,lower-affine,convert-scf-to-cf,"
      "convert-math-to-llvm,convert-math-to-libm,finalize-memref-to-llvm,"
      "convert-arith-to-llvm,convert-index-to-llvm,convert-cf-to-llvm,"
      "convert-func-to-llvm,reconcile-unrealized-casts",
      pm);
}

namespace {
struct CpuPipelineCLOptions : PassPipelineOptions<CpuPipelineCLOptions> {
  Option<std::string> stopAfter{
      *this, "stop-after",
      llvm::cl::desc("Last stage: linalg, loops or llvm"),
      llvm::cl::init("llvm")};
};
} // namespace

void mlir::strata::registerCodegenPipelines() {
  registerStrataCodegenPasses();
  PassPipelineRegistration<CpuPipelineCLOptions>(
      "strata-lower-to-llvm-cpu",
      "Lower strata to the LLVM dialect for the CPU (what strata-compile "
      "--target=cpu runs)",
      [](OpPassManager &pm, const CpuPipelineCLOptions &cl) {
        CpuPipelineOptions options;
        options.stopAfter = cl.stopAfter;
        if (failed(buildCpuLoweringPipeline(pm, options)))
          llvm::errs() << "strata-lower-to-llvm-cpu: unknown stop-after '"
                       << options.stopAfter << "'\n";
      });
}

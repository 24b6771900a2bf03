//===- Passes.h - Strata codegen passes and pipelines -----------*- C++ -*-===//

#ifndef STRATA_CODEGEN_PASSES_H
#define STRATA_CODEGEN_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::strata {

#define GEN_PASS_DECL
#include "codegen/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/Passes.h.inc"

/// Options of the CPU lowering pipeline.
struct CpuPipelineOptions {
  /// Stop after this stage: "linalg" (tensors), "loops" (buffers and scf)
  /// or "llvm" (the LLVM dialect).
  std::string stopAfter = "llvm";
};

/// strata -> linalg on tensors -> one-shot bufferization -> loops -> LLVM.
/// Exactly what `strata-compile --target=cpu` runs; `strata-opt
/// --strata-lower-to-llvm-cpu` replays it.
LogicalResult buildCpuLoweringPipeline(OpPassManager &pm,
                                       const CpuPipelineOptions &options);

/// Registers the codegen passes and the `strata-lower-to-llvm-cpu` pipeline.
void registerCodegenPipelines();

} // namespace mlir::strata

#endif // STRATA_CODEGEN_PASSES_H

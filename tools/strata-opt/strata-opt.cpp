//===- strata-opt.cpp - mlir-opt with the Strata dialect --------*- C++ -*-===//
//
// The IR driver for lit tests and debugging: parses, verifies, runs passes
// and prints, with the strata dialect and the upstream dialects and passes
// the pipeline lowers through.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::strata::registerStrataPasses();
  mlir::strata::registerCodegenPipelines();
  mlir::DialectRegistry registry;
  // Every upstream dialect the lowering passes through (linalg, memref,
  // scf, llvm, ...) and their interface models (bufferization, ...).
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<mlir::strata::StrataDialect,
                  mlir::strata::kernel::StrataKernelDialect>();
  mlir::strata::registerCodegenExtensions(registry);
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "Strata optimizer driver\n", registry));
}

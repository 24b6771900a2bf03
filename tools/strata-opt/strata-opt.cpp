//===- strata-opt.cpp - mlir-opt with the Strata dialect --------*- C++ -*-===//
//
// The IR driver for lit tests and debugging: parses, verifies, runs passes
// and prints, with the strata dialect and the upstream dialects and passes
// the pipeline lowers through.
//
// Two things differ from mlir-opt: input nested deeper than
// kMaxMlirNesting levels is rejected before parsing (the upstream parser recurses once per
// nested type, attribute or region and would overflow the stack), and -o
// FILE is written through tools/common's OutputFile (atomically, only when
// everything succeeded).
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"
#include "passes/Passes.h"
#include "passes/Phases.h"
#include "tools/common/MlirNesting.h"
#include "runtime/OutputFile.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

namespace {

/// mlir-opt's main loop on the checked input; the output buffered and
/// written atomically when it goes to a file.
mlir::LogicalResult run(llvm::StringRef inputName, llvm::StringRef outputName,
                        mlir::DialectRegistry &registry,
                        const mlir::MlirOptMainConfig &config) {
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(inputName, &error);
  if (!input) {
    llvm::errs() << error << "\n";
    return mlir::failure();
  }
  if (auto deep = strata::tools::findExcessiveNesting(input->getBuffer())) {
    llvm::errs() << strata::tools::excessiveNestingMessage(
                        input->getBufferIdentifier(), *deep)
                 << "\n";
    return mlir::failure();
  }
  // Standard output keeps mlir-opt's behaviour: printed as it goes, even
  // for inputs that fail (split-input-file tests read both streams).
  if (outputName == "-")
    return mlir::MlirOptMain(llvm::outs(), std::move(input), registry, config);
  std::string text;
  llvm::raw_string_ostream os(text);
  if (mlir::failed(
          mlir::MlirOptMain(os, std::move(input), registry, config)))
    return mlir::failure();
  if (strata::runtime::writeFile(outputName.str(), text, error))
    return mlir::success();
  llvm::errs() << "error: " << error << "\n";
  return mlir::failure();
}

} // namespace

int main(int argc, char **argv) {
  strata::runtime::ignoreFileSizeSignal();
  mlir::registerAllPasses();
  mlir::strata::registerStrataPasses();
  mlir::strata::registerStrataPhases();
  mlir::strata::registerCodegenPipelines();
  mlir::DialectRegistry registry;
  // Every upstream dialect the lowering passes through (linalg, memref,
  // scf, llvm, ...) and their interface models (bufferization, ...).
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<mlir::strata::StrataDialect,
                  mlir::strata::kernel::StrataKernelDialect>();
  mlir::strata::registerCodegenExtensions(registry);
  auto [inputName, outputName] = mlir::registerAndParseCLIOptions(
      argc, argv, "Strata optimizer driver\n", registry);
  mlir::MlirOptMainConfig config =
      mlir::MlirOptMainConfig::createFromCLOptions();
  // Listings read no input: upstream's driver prints them.
  if (config.shouldShowDialects() || config.shouldListPasses())
    return mlir::asMainReturnCode(
        mlir::MlirOptMain(argc, argv, inputName, outputName, registry));
  // Stack traces on crashes, as upstream's driver sets up.
  llvm::InitLLVM initLLVM(argc, argv);
  return mlir::asMainReturnCode(run(inputName, outputName, registry, config));
}

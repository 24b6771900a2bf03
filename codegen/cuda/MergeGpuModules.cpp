//===- MergeGpuModules.cpp - one device module for all kernels -*- C++ -*-===//
//
// Outlining gives every kernel its own gpu.module. One module means one PTX
// text and one cubin per executable: one ptxas run at compile time, one
// cuModuleLoadDataEx at load time, and globals copied into several kernels'
// modules stored once.
//
//===----------------------------------------------------------------------===//

#include "codegen/cuda/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAMERGEGPUMODULES
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;

namespace {
struct MergeGpuModulesPass
    : public mlir::strata::impl::StrataMergeGpuModulesBase<
          MergeGpuModulesPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> sources(module.getOps<gpu::GPUModuleOp>());
    if (sources.empty())
      return;
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto merged = gpu::GPUModuleOp::create(b, module.getLoc(), moduleName);
    // Outlining names every kernel after its function and uniques only the
    // modules; the module names become the kernel names.
    llvm::StringSet<> outlined;
    for (gpu::GPUModuleOp source : sources) {
      auto kernels = llvm::to_vector(source.getOps<gpu::GPUFuncOp>());
      if (kernels.size() != 1) {
        source.emitOpError("expected one kernel per outlined module");
        return signalPassFailure();
      }
      outlined.insert(source.getName());
      // Launches are re-pointed below, so no use needs updating here.
      SymbolTable::setSymbolName(kernels.front(), source.getNameAttr());
    }
    SymbolTable table(merged);
    for (gpu::GPUModuleOp source : sources) {
      for (Operation &op :
           llvm::make_early_inc_range(source.getBody()->getOperations())) {
        auto symbol = dyn_cast<SymbolOpInterface>(op);
        // The same module global copied into several kernels' modules.
        if (symbol && table.lookup(symbol.getName()))
          continue;
        op.moveBefore(merged.getBody(), merged.getBody()->end());
        if (symbol)
          table.insert(&op);
      }
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      StringAttr kernel = launch.getKernelModuleName();
      if (outlined.contains(kernel.getValue()))
        launch.setKernelAttr(SymbolRefAttr::get(
            b.getStringAttr(moduleName), {FlatSymbolRefAttr::get(kernel)}));
    });
    for (gpu::GPUModuleOp source : sources)
      source.erase();
  }
};
} // namespace

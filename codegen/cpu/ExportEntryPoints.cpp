//===- ExportEntryPoints.cpp - C interfaces for model functions -*- C++ -*-===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAEXPORTENTRYPOINTS
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;

namespace {
struct ExportEntryPointsPass
    : public mlir::strata::impl::StrataExportEntryPointsBase<
          ExportEntryPointsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal())
        func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                      UnitAttr::get(&getContext()));
  }
};
} // namespace

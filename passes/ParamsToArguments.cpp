//===- ParamsToArguments.cpp - strata.param to function arguments -*- C++ -*-===//

#include "dialect/StrataOps.h"
#include "passes/Passes.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAPARAMSTOARGUMENTS
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

LogicalResult outlineParams(func::FuncOp func) {
  if (func.isExternal())
    return success();
  SmallVector<ParamOp> params;
  func.walk([&](ParamOp op) { params.push_back(op); });
  if (params.empty())
    return success();
  Block &entry = func.front();
  MLIRContext *ctx = func.getContext();
  for (ParamOp param : params) {
    if (param->getBlock() != &entry)
      return param.emitOpError("must be in the entry block of its function to "
                               "become an argument");
    unsigned index = func.getNumArguments();
    NamedAttrList attrs;
    attrs.append("strata.param", param.getNameAttr());
    attrs.append("strata.init", param.getInitAttr());
    if (failed(func.insertArgument(index, param.getType(),
                                   attrs.getDictionary(ctx), param.getLoc())))
      return failure();
    param.getResult().replaceAllUsesWith(func.getArgument(index));
    param.erase();
  }
  return success();
}

struct ParamsToArgumentsPass
    : public mlir::strata::impl::StrataParamsToArgumentsBase<
          ParamsToArgumentsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (failed(outlineParams(func)))
        return signalPassFailure();
  }
};

} // namespace

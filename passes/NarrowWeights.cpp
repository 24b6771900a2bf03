//===- NarrowWeights.cpp - matrix weights stored in bf16 or f16 -*- C++ -*-===//
//
// Decode reads every weight once per token, so its time is the weights'
// bytes: storing the matrix products' weights in bf16 (or f16) halves it.
// The products widen each element as they read it and accumulate in f32,
// so only the weights' rounding changes the numbers.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"
#include "passes/Passes.h"
#include "passes/ProductWeights.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATANARROWWEIGHTS
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// Whether `use` reads its value as the weight of a matrix product, whose
/// lowering widens a narrow weight as it reads it.
bool readsAsProductWeight(OpOperand &use) {
  Operation *op = use.getOwner();
  unsigned i = use.getOperandNumber();
  if (auto linear = dyn_cast<LinearOp>(op))
    return i == 1 && !isRouterGate(linear);
  if (isa<LMHeadOp>(op))
    return i == 1;
  if (auto experts = dyn_cast<MoEExpertsOp>(op))
    return use.get() == experts.getGateProj() ||
           use.get() == experts.getUpProj() ||
           use.get() == experts.getDownProj();
  return false;
}

/// Retypes the chosen parameters and arguments to `to`.
void narrow(ModuleOp module, const ProductWeights &weights, Type to) {
  auto narrowed = [&](Type t) {
    return cast<RankedTensorType>(t).clone(to);
  };
  module.walk([&](ParamOp p) {
    if (weights.names().contains(p.getName()))
      p.getResult().setType(narrowed(p.getType()));
  });
  llvm::SetVector<Operation *> retyped;
  for (auto [f, i] : weights.arguments()) {
    BlockArgument a = cast<func::FuncOp>(f).getArgument(i);
    a.setType(narrowed(a.getType()));
    retyped.insert(f);
  }
  for (Operation *f : retyped)
    syncFunctionType(cast<func::FuncOp>(f));
}

struct StrataNarrowWeightsPass
    : public mlir::strata::impl::StrataNarrowWeightsBase<
          StrataNarrowWeightsPass> {
  using StrataNarrowWeightsBase::StrataNarrowWeightsBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder b(&getContext());
    Type to;
    if (dtype == "bf16")
      to = b.getBF16Type();
    else if (dtype == "f16")
      to = b.getF16Type();
    else if (dtype != "f32") {
      module.emitError() << "strata-narrow-weights: dtype must be bf16, f16 "
                            "or f32, got '"
                         << dtype << "'";
      return signalPassFailure();
    }
    if (!to)
      return;
    ProductWeights weights(module, readsAsProductWeight);
    weights.solve();
    narrow(module, weights, to);
  }
};

} // namespace

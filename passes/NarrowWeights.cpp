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

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATANARROWWEIGHTS
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// Whether `linear` computes a router's logits (the MoE gate): its top-k
/// choice is sensitive to rounding, so its weight stays f32.
bool isRouterGate(LinearOp linear) {
  return llvm::any_of(linear->getUsers(),
                      [](Operation *user) { return isa<RouterOp>(user); });
}

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

/// A function argument, by function and position.
using Arg = std::pair<Operation *, unsigned>;

class Narrowing {
public:
  explicit Narrowing(ModuleOp module) : module(module), symbols(module) {}

  /// The parameter names every read of which (in every function, through
  /// calls) is a product's weight, and the function arguments they reach.
  void solve();
  /// Retypes those parameters and arguments to `to`.
  void apply(Type to);
  const llvm::StringSet<> &names() const { return narrow; }

private:
  /// Whether every use of `value` is a product weight or a call operand
  /// whose callee argument is still a candidate.
  bool usesQualify(Value value);

  ModuleOp module;
  SymbolTable symbols;
  llvm::StringSet<> narrow;
  llvm::SetVector<Arg> args; ///< candidate (then chosen) arguments
  llvm::DenseMap<Operation *, SmallVector<func::CallOp>> callers;
};

bool Narrowing::usesQualify(Value value) {
  for (OpOperand &use : value.getUses()) {
    if (readsAsProductWeight(use))
      continue;
    auto call = dyn_cast<func::CallOp>(use.getOwner());
    auto callee =
        call ? symbols.lookup<func::FuncOp>(call.getCallee()) : func::FuncOp();
    if (!callee || !args.contains({callee, use.getOperandNumber()}))
      return false;
  }
  return true;
}

void Narrowing::solve() {
  // Candidates: every float argument of a defined function, every
  // parameter name; then remove violators until nothing changes (the
  // largest consistent choice).
  llvm::StringMap<SmallVector<ParamOp>> params;
  module.walk([&](Operation *op) {
    if (auto p = dyn_cast<ParamOp>(op))
      params[p.getName()].push_back(p);
    if (auto call = dyn_cast<func::CallOp>(op))
      if (auto callee = symbols.lookup<func::FuncOp>(call.getCallee()))
        callers[callee].push_back(call);
  });
  for (auto f : module.getOps<func::FuncOp>())
    if (!f.isExternal() && !f.isPublic())
      for (BlockArgument a : f.getArguments())
        if (auto t = dyn_cast<RankedTensorType>(a.getType());
            t && t.getElementType().isF32())
          args.insert({f, a.getArgNumber()});
  for (auto &entry : params)
    narrow.insert(entry.getKey());
  // An argument stays when its uses qualify and every caller passes it a
  // narrowed parameter or a chosen argument of its own.
  auto passedNarrow = [&](Value v) {
    if (auto p = v.getDefiningOp<ParamOp>())
      return narrow.contains(p.getName());
    auto a = dyn_cast<BlockArgument>(v);
    return a && args.contains({a.getOwner()->getParentOp(), a.getArgNumber()});
  };
  bool changed = true;
  while (changed) {
    changed = false;
    for (auto &entry : params)
      if (narrow.contains(entry.getKey()) &&
          !llvm::all_of(entry.getValue(), [&](ParamOp p) {
            return usesQualify(p.getResult());
          })) {
        narrow.erase(entry.getKey());
        changed = true;
      }
    SmallVector<Arg> dropped;
    for (Arg arg : args) {
      auto f = cast<func::FuncOp>(arg.first);
      bool keep = usesQualify(f.getArgument(arg.second)) &&
                  llvm::all_of(callers[f], [&](func::CallOp call) {
                    return passedNarrow(call.getOperand(arg.second));
                  });
      if (!keep)
        dropped.push_back(arg);
    }
    for (Arg arg : dropped)
      args.remove(arg);
    changed |= !dropped.empty();
  }
}

void Narrowing::apply(Type to) {
  auto narrowed = [&](Type t) {
    return cast<RankedTensorType>(t).clone(to);
  };
  module.walk([&](ParamOp p) {
    if (narrow.contains(p.getName()))
      p.getResult().setType(narrowed(p.getType()));
  });
  llvm::SetVector<Operation *> retyped;
  for (Arg arg : args) {
    auto f = cast<func::FuncOp>(arg.first);
    BlockArgument a = f.getArgument(arg.second);
    a.setType(narrowed(a.getType()));
    retyped.insert(f);
  }
  for (Operation *op : retyped) {
    auto f = cast<func::FuncOp>(op);
    f.setType(FunctionType::get(f.getContext(),
                                f.front().getArgumentTypes(),
                                f.getResultTypes()));
  }
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
    Narrowing narrowing(module);
    narrowing.solve();
    narrowing.apply(to);
  }
};

} // namespace

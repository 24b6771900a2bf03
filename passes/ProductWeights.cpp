//===- ProductWeights.cpp - parameters read only as product weights -------===//

#include "passes/ProductWeights.h"

#include "dialect/StrataOps.h"

using namespace mlir;
using namespace mlir::strata;

ProductWeights::ProductWeights(ModuleOp module, WeightUse isWeightUse)
    : module(module), isWeightUse(isWeightUse), symbols(module) {}

ArrayRef<func::CallOp> ProductWeights::callsOf(Operation *callee) const {
  auto it = callers.find(callee);
  return it == callers.end() ? ArrayRef<func::CallOp>() : it->second;
}

bool ProductWeights::isChosen(Value v) const {
  if (auto p = v.getDefiningOp<ParamOp>())
    return chosen.contains(p.getName());
  auto a = dyn_cast<BlockArgument>(v);
  return a && args.contains({a.getOwner()->getParentOp(), a.getArgNumber()});
}

bool ProductWeights::usesQualify(Value value) {
  for (OpOperand &use : value.getUses()) {
    if (isWeightUse(use))
      continue;
    auto call = dyn_cast<func::CallOp>(use.getOwner());
    auto callee =
        call ? symbols.lookup<func::FuncOp>(call.getCallee()) : func::FuncOp();
    if (!callee || !args.contains({callee, use.getOperandNumber()}))
      return false;
  }
  return true;
}

void ProductWeights::solve() {
  // Candidates: every f32 argument of a defined private function, every
  // f32 parameter name; then remove violators until nothing changes (the
  // largest consistent choice).
  llvm::StringMap<SmallVector<ParamOp>> params;
  auto isF32 = [](Type t) {
    auto tensor = dyn_cast<RankedTensorType>(t);
    return tensor && tensor.getElementType().isF32();
  };
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
        if (isF32(a.getType()))
          args.insert({f, a.getArgNumber()});
  for (auto &entry : params)
    if (llvm::all_of(entry.getValue(),
                     [&](ParamOp p) { return isF32(p.getType()); }))
      chosen.insert(entry.getKey());
  bool changed = true;
  while (changed) {
    changed = false;
    for (auto &entry : params)
      if (chosen.contains(entry.getKey()) &&
          !llvm::all_of(entry.getValue(), [&](ParamOp p) {
            return usesQualify(p.getResult());
          })) {
        chosen.erase(entry.getKey());
        changed = true;
      }
    SmallVector<Arg> dropped;
    for (Arg arg : args) {
      auto f = cast<func::FuncOp>(arg.first);
      bool keep = usesQualify(f.getArgument(arg.second)) &&
                  llvm::all_of(callsOf(f), [&](func::CallOp call) {
                    return isChosen(call.getOperand(arg.second));
                  });
      if (!keep)
        dropped.push_back(arg);
    }
    for (Arg arg : dropped)
      args.remove(arg);
    changed |= !dropped.empty();
  }
}

bool mlir::strata::isRouterGate(Operation *linear) {
  auto feedsRouter = [](Operation *op) {
    return llvm::any_of(op->getUsers(),
                        [](Operation *user) { return isa<RouterOp>(user); });
  };
  if (feedsRouter(linear))
    return true;
  // The seed's MLP gate: fc1 -> activation -> fc2 -> router.
  for (Operation *act : linear->getUsers())
    if (isa<GeluOp, SiluOp>(act))
      for (Operation *fc2 : act->getUsers())
        if (isa<LinearOp>(fc2) && feedsRouter(fc2))
          return true;
  return false;
}

void mlir::strata::syncFunctionType(func::FuncOp f) {
  f.setType(FunctionType::get(f.getContext(), f.front().getArgumentTypes(),
                              f.getResultTypes()));
}

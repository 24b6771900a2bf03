//===- PartitionedProgram.cpp - the program ranks run beside the whole one ===//

#include "passes/PartitionedProgram.h"

#include "dialect/StrataOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;
using namespace mlir::strata;

namespace {
/// A value passed where the body now takes `want`: a weight's
/// strata.param, or an entry point's argument.
LogicalResult retype(Value operand, Type want, func::FuncOp callee,
                     unsigned index, int64_t ranks, StringRef axis) {
  if (auto param = operand.getDefiningOp<ParamOp>()) {
    auto dim = callee.getArgAttrOfType<IntegerAttr>(index, "strata.shard_dim");
    if (!dim)
      return param.emitOpError("is passed to @")
             << callee.getName() << " as a slice it did not split";
    param.getResult().setType(cast<RankedTensorType>(want));
    param->setAttr("strata.shard_dim", dim);
    if (axis != "tp")
      param->setAttr("strata.shard_axis",
                     StringAttr::get(param.getContext(), axis));
    param->setAttr(
        "strata.shard_count",
        IntegerAttr::get(IntegerType::get(param.getContext(), 64), ranks));
    return success();
  }
  if (auto arg = dyn_cast<BlockArgument>(operand)) {
    arg.setType(want);
    return success();
  }
  return operand.getDefiningOp()->emitOpError("produces a value that @")
         << callee.getName() << " takes split over its " << axis << " ranks "
         << "(argument " << index << "), which only parameters and entry "
         << "arguments can be";
}
} // namespace

/// Clones every body that `entries` reach as `<prefix><name>`, `entries`
/// and the clones calling the clones (with `cloneEntries`, `entries` are
/// cloned too and marked `strata.stage = 0`). Returns the cloned bodies.
void mlir::strata::cloneProgram(ModuleOp module, ArrayRef<func::FuncOp> entries,
                                bool cloneEntries, StringRef prefix,
                                SmallVectorImpl<func::FuncOp> &bodies) {
  SymbolTable symbols(module);
  llvm::StringMap<func::FuncOp> clones;
  SmallVector<func::FuncOp> work;
  auto cloneOf = [&](func::FuncOp f) {
    auto [it, inserted] = clones.try_emplace(f.getName());
    if (inserted) {
      func::FuncOp c = f.clone();
      c.setSymName((prefix + f.getName()).str());
      symbols.insert(c, Block::iterator(f->getNextNode()));
      it->second = c;
      work.push_back(c);
    }
    return it->second;
  };
  Builder b(module.getContext());
  for (func::FuncOp entry : entries) {
    if (cloneEntries)
      cloneOf(entry)->setAttr("strata.stage", b.getI64IntegerAttr(0));
    else
      work.push_back(entry);
  }
  while (!work.empty()) {
    func::FuncOp c = work.pop_back_val();
    c.walk([&](func::CallOp call) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      if (callee && !callee.isExternal())
        call.setCallee(cloneOf(callee).getName());
    });
    if (c.isPrivate())
      bodies.push_back(c);
  }
}

/// The inference entry points (and with `train` the loss, which the train
/// phase then differentiates), cloned with every body they reach as
/// `stage0.<name>`: the tensor-parallel program of a plan without stages.
void mlir::strata::cloneInferenceProgram(
    ModuleOp module, bool train, SmallVectorImpl<func::FuncOp> &bodies) {
  SmallVector<func::FuncOp> entries;
  for (StringRef name : {"forward", "decode", "loss"})
    if (auto entry = module.lookupSymbol<func::FuncOp>(name);
        entry && (train || name != "loss"))
      entries.push_back(entry);
  cloneProgram(module, entries, /*cloneEntries=*/true, kStagePrefix, bodies);
}

/// An inference entry clone that passes no slice and calls no partitioned
/// body computes what the original does: the program leaves it out and
/// its ranks run the original (decode of a model whose decode bodies
/// stay whole). The loss clone stays: training looks for the program's.
void mlir::strata::dropUnchangedEntries(ModuleOp module) {
  SmallVector<func::FuncOp> unchanged;
  for (auto f : module.getOps<func::FuncOp>()) {
    if (!f->hasAttr("strata.stage") ||
        f.getName() == (kStagePrefix + "loss").str())
      continue;
    bool changed = false;
    f.walk([&](Operation *op) {
      if (auto param = dyn_cast<ParamOp>(op))
        changed |= param->hasAttr("strata.shard_dim");
      if (auto call = dyn_cast<func::CallOp>(op))
        changed |= call.getCallee().starts_with(kStagePrefix);
    });
    if (!changed)
      unchanged.push_back(f);
  }
  for (func::FuncOp f : unchanged)
    f.erase();
}

/// A cloned body that nothing splits (a layer with latent attention and
/// routed experts, whose weights all stay whole) is the original: its
/// callers call that, so the program adds no code for it.
void mlir::strata::dropUnchangedClone(ModuleOp module, func::FuncOp clone) {
  bool calls = false;
  clone.walk([&](func::CallOp) { calls = true; });
  if (calls)
    return;
  StringRef original = clone.getName();
  if (!original.consume_front(kStagePrefix))
    original.consume_front(kBodyPrefix);
  if (failed(SymbolTable::replaceAllSymbolUses(
          clone, StringAttr::get(module.getContext(), original), module)))
    return;
  clone.erase();
}

/// Gives every call the partitioned bodies' types: weights become the
/// rank's slices at their strata.param, entry arguments and results
/// (KV caches) take the sliced types.
LogicalResult mlir::strata::updateCallers(ModuleOp module, int64_t ranks,
                                          StringRef axis) {
  SymbolTable symbols(module);
  WalkResult walk = module.walk([&](func::CallOp call) {
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    if (!callee || callee.isExternal())
      return WalkResult::advance();
    FunctionType type = callee.getFunctionType();
    for (auto [i, operand] : llvm::enumerate(call.getOperands())) {
      Type want = type.getInput(i);
      if (operand.getType() == want)
        continue;
      if (failed(retype(operand, want, callee, i, ranks, axis)))
        return WalkResult::interrupt();
    }
    for (auto [result, want] :
         llvm::zip_equal(call.getResults(), type.getResults()))
      result.setType(want);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  // Entry points return what their calls now produce.
  for (auto f : module.getOps<func::FuncOp>()) {
    if (f.isExternal())
      continue;
    SmallVector<Type> inputs(f.front().getArgumentTypes());
    SmallVector<Type> results;
    f.walk([&](func::ReturnOp ret) {
      results.assign(ret.getOperandTypes().begin(),
                     ret.getOperandTypes().end());
    });
    f.setFunctionType(FunctionType::get(f.getContext(), inputs, results));
  }
  return success();
}

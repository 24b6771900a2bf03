//===- MixedPrecision.cpp - bf16/f16 compute in a training loss -*- C++ -*-===//
//
// Mixed precision as strata.round ops on the loss before autodiff: the
// rounding's gradient rule rounds the gradients the same way, so the
// backward needs no mixed-precision logic of its own. Storage stays f32;
// what changes is every number the step computes with.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAMIXEDPRECISION
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// The ops a mixed-precision model runs in the narrow format: the matrix
/// products and the weights they read. The router stays in f32 (its
/// top-k choice is sensitive to rounding; DeepSeek-V3 keeps its gating in
/// f32 too), as do norms, activations and losses.
bool computesNarrow(Operation *op) {
  return isa<LinearOp, AttentionOp, LatentAttentionOp, MoEExpertsOp,
             MemoryCompressionOp, LMHeadOp, ClassificationHeadOp>(op);
}

bool isF32Tensor(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t && t.getElementType().isF32();
}

/// Rounds the narrow ops' float operands and results in `func`, each value
/// once.
void roundNarrowOps(func::FuncOp func, TypeAttr to) {
  llvm::DenseMap<Value, Value> rounded;
  OpBuilder b(func.getContext());
  auto roundOf = [&](Value v) -> Value {
    if (auto r = v.getDefiningOp<RoundOp>(); r && r.getTo() == to.getValue())
      return v;
    Value &slot = rounded[v];
    if (!slot) {
      if (auto arg = dyn_cast<BlockArgument>(v))
        b.setInsertionPointToStart(arg.getOwner());
      else
        b.setInsertionPointAfter(v.getDefiningOp());
      slot = RoundOp::create(b, v.getLoc(), v, to);
    }
    return slot;
  };
  SmallVector<Operation *> narrow;
  SmallVector<EmbeddingOp> embeddings;
  func.walk([&](Operation *op) {
    if (computesNarrow(op))
      narrow.push_back(op);
    if (auto e = dyn_cast<EmbeddingOp>(op))
      embeddings.push_back(e);
  });
  // The embedding table is read as the narrow model holds it; the rows it
  // gathers are then exact in that format.
  for (EmbeddingOp e : embeddings)
    e.getTableMutable().assign(roundOf(e.getTable()));
  for (Operation *op : narrow) {
    for (OpOperand &operand : op->getOpOperands())
      if (isF32Tensor(operand.get().getType()))
        operand.set(roundOf(operand.get()));
    b.setInsertionPointAfter(op);
    for (Value result : op->getResults()) {
      if (!isF32Tensor(result.getType()) || result.use_empty())
        continue;
      auto round = RoundOp::create(b, op->getLoc(), result, to);
      result.replaceAllUsesExcept(round, round);
      rounded[result] = round;
    }
  }
}

/// The defined functions `root` calls, directly or not.
void collectCallees(func::FuncOp root, SymbolTable &symbols,
                    llvm::SetVector<func::FuncOp> &callees) {
  root.walk([&](func::CallOp call) {
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    if (callee && !callee.isExternal() && callees.insert(callee))
      collectCallees(callee, symbols, callees);
  });
}

/// Redirects the calls in `func` to the clones in `clones`.
void callClones(func::FuncOp func,
                const llvm::DenseMap<StringAttr, func::FuncOp> &clones) {
  func.walk([&](func::CallOp call) {
    if (func::FuncOp clone = clones.lookup(call.getCalleeAttr().getAttr()))
      call.setCallee(clone.getName());
  });
}

LogicalResult applyMixedPrecision(ModuleOp module, func::FuncOp loss,
                                  TypeAttr to) {
  SymbolTable symbols(module);
  llvm::SetVector<func::FuncOp> callees;
  collectCallees(loss, symbols, callees);
  if (callees.contains(loss))
    return loss.emitOpError("calls itself; strata-mixed-precision needs a "
                            "call graph without cycles");
  std::string suffix =
      isa<BFloat16Type>(to.getValue()) ? "_bf16" : "_f16";
  llvm::DenseMap<StringAttr, func::FuncOp> clones;
  for (func::FuncOp callee : callees) {
    std::string name = (callee.getName() + suffix).str();
    // Another loss compiled before this one made it already.
    if (auto known = symbols.lookup<func::FuncOp>(name)) {
      clones[callee.getNameAttr()] = known;
      continue;
    }
    auto clone = cast<func::FuncOp>(callee->clone());
    clone.setName(name);
    clone.setPrivate();
    module.getBody()->getOperations().insertAfter(callee->getIterator(),
                                                  clone);
    symbols.insert(clone);
    clones[callee.getNameAttr()] = clone;
    roundNarrowOps(clone, to);
  }
  for (auto &entry : clones)
    callClones(entry.second, clones);
  callClones(loss, clones);
  roundNarrowOps(loss, to);
  return success();
}

struct StrataMixedPrecisionPass
    : public mlir::strata::impl::StrataMixedPrecisionBase<
          StrataMixedPrecisionPass> {
  using StrataMixedPrecisionBase::StrataMixedPrecisionBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string chosen = precision;
    if (chosen.empty()) {
      auto plan = module->getAttrOfType<TrainingAttr>("strata.training");
      chosen = plan ? stringifyPrecision(plan.getPrecision()).str() : "f32";
    }
    if (chosen == "f32")
      return;
    Builder b(&getContext());
    TypeAttr to;
    if (chosen == "bf16")
      to = TypeAttr::get(b.getBF16Type());
    else if (chosen == "f16")
      to = TypeAttr::get(b.getF16Type());
    if (!to) {
      module.emitError() << "strata-mixed-precision: precision must be "
                            "bf16, f16 or f32, got '"
                         << chosen << "'";
      return signalPassFailure();
    }
    SmallVector<std::string> names(functions.begin(), functions.end());
    if (names.empty())
      names.push_back("loss");
    for (const std::string &name : names) {
      auto func = module.lookupSymbol<func::FuncOp>(name);
      if (!func) {
        module.emitError() << "strata-mixed-precision: no function @" << name;
        return signalPassFailure();
      }
      if (failed(applyMixedPrecision(module, func, to)))
        return signalPassFailure();
    }
  }
};

} // namespace

//===- RollLayerCalls.cpp - runs of layer calls become loops ----*- C++ -*-===//
//
// After strata-export-entry-points an entry point calls each layer's body
// once per layer, and the calls differ only in regular ways: the pointer
// into `args` advances by the same stride per layer, and the activations
// alternate between two arena slots. Such a run becomes an scf.for over the
// layers, so an entry point's code no longer grows with the layer count.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Dominance.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAROLLLAYERCALLS
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;

namespace {

/// How one operand of the calls in a run depends on the layer l.
struct OperandPattern {
  enum Kind {
    Invariant,
    Alternating,
    PointerStride,
    AlternatingView,
    ReturnedAlloc
  } kind;
  Value even, odd;               ///< Invariant: even; Alternating: both
  LLVM::GEPOp firstGep;          ///< PointerStride: args + first + l*stride
  int64_t first = 0, stride = 0; ///< in pointer-sized elements
  memref::ViewOp firstView;      ///< AlternatingView: shift even/odd
  /// ReturnedAlloc: a fresh buffer per layer, stored as an entry result at
  /// word first + l*stride of the results that `resultsLoad` reads.
  memref::AllocOp firstAlloc;
  LLVM::LoadOp resultsLoad;
  SmallVector<Operation *> stores; ///< the casts, addresses and stores
};

/// A value that the loop, placed before `anchor`, can use.
bool availableAt(Value v, Operation *anchor, DominanceInfo &dom) {
  return dom.properlyDominates(v, anchor);
}

std::optional<OperandPattern> alternation(ArrayRef<Value> values,
                                          Operation *anchor,
                                          DominanceInfo &dom) {
  for (size_t l = 2; l < values.size(); ++l)
    if (values[l] != values[l % 2])
      return std::nullopt;
  if (!availableAt(values[0], anchor, dom) ||
      !availableAt(values[1], anchor, dom))
    return std::nullopt;
  OperandPattern p;
  p.kind = values[0] == values[1] ? OperandPattern::Invariant
                                  : OperandPattern::Alternating;
  p.even = values[0];
  p.odd = values[1];
  return p;
}

/// The ops of type OpT that define `values`, or none if one is not.
template <typename OpT>
std::optional<SmallVector<OpT>> definingOps(ArrayRef<Value> values) {
  SmallVector<OpT> ops;
  for (Value v : values) {
    auto op = v.getDefiningOp<OpT>();
    if (!op)
      return std::nullopt;
    ops.push_back(op);
  }
  return ops;
}

/// GEPs off one base with one constant index that advances by a stride.
std::optional<OperandPattern> pointerStride(ArrayRef<Value> values,
                                            Operation *anchor,
                                            DominanceInfo &dom) {
  auto found = definingOps<LLVM::GEPOp>(values);
  if (!found)
    return std::nullopt;
  SmallVector<LLVM::GEPOp> &geps = *found;
  for (LLVM::GEPOp gep : geps)
    if (!gep.getDynamicIndices().empty() ||
        gep.getRawConstantIndices().size() != 1)
      return std::nullopt;
  LLVM::GEPOp first = geps.front();
  if (!availableAt(first.getBase(), anchor, dom))
    return std::nullopt;
  int64_t start = first.getRawConstantIndices()[0];
  int64_t stride = geps[1].getRawConstantIndices()[0] - start;
  for (auto [l, gep] : llvm::enumerate(geps))
    if (gep.getBase() != first.getBase() ||
        gep.getElemType() != first.getElemType() ||
        gep.getRawConstantIndices()[0] != start + int64_t(l) * stride)
      return std::nullopt;
  OperandPattern p;
  p.kind = OperandPattern::PointerStride;
  p.firstGep = first;
  p.first = start;
  p.stride = stride;
  return p;
}

/// Views of one buffer with the same sizes whose offsets alternate.
std::optional<OperandPattern> alternatingView(ArrayRef<Value> values,
                                              Operation *anchor,
                                              DominanceInfo &dom) {
  auto views = definingOps<memref::ViewOp>(values);
  if (!views)
    return std::nullopt;
  memref::ViewOp first = views->front();
  SmallVector<Value> shifts;
  for (memref::ViewOp view : *views) {
    if (view.getSource() != first.getSource() ||
        view.getType() != first.getType() ||
        view.getSizes() != first.getSizes())
      return std::nullopt;
    shifts.push_back(view.getByteShift());
  }
  if (!availableAt(first.getSource(), anchor, dom) ||
      !llvm::all_of(first.getSizes(),
                    [&](Value s) { return availableAt(s, anchor, dom); }))
    return std::nullopt;
  std::optional<OperandPattern> shift = alternation(shifts, anchor, dom);
  if (!shift)
    return std::nullopt;
  shift->kind = OperandPattern::AlternatingView;
  shift->firstView = first;
  return shift;
}

/// The descriptor store of a buffer that is an entry result: a cast, then
/// a store to `results + word` (export's layout). Null if `alloc` has any
/// other use than `call`.
LLVM::StoreOp resultStore(memref::AllocOp alloc, func::CallOp call) {
  LLVM::StoreOp store;
  for (Operation *user : alloc->getUsers()) {
    if (user == call.getOperation())
      continue;
    auto cast = dyn_cast<UnrealizedConversionCastOp>(user);
    if (store || !cast || !cast->hasOneUse())
      return nullptr;
    store = dyn_cast<LLVM::StoreOp>(*cast->user_begin());
    if (!store || store.getValue() != cast.getResult(0))
      return nullptr;
  }
  return store;
}

/// Buffers allocated for each layer and returned by the entry point
/// (decode's new cache entries): the loop allocates one per iteration and
/// stores its descriptor where the return would have.
std::optional<OperandPattern> returnedAlloc(ArrayRef<Value> values,
                                            ArrayRef<func::CallOp> calls,
                                            Operation *anchor,
                                            DominanceInfo &dom) {
  OperandPattern p;
  p.kind = OperandPattern::ReturnedAlloc;
  SmallVector<int64_t> words;
  for (auto [value, call] : llvm::zip(values, calls)) {
    auto alloc = value.getDefiningOp<memref::AllocOp>();
    LLVM::StoreOp store = alloc ? resultStore(alloc, call) : nullptr;
    auto gep = store ? store.getAddr().getDefiningOp<LLVM::GEPOp>() : nullptr;
    auto load = gep ? gep.getBase().getDefiningOp<LLVM::LoadOp>() : nullptr;
    if (!load || !gep.getDynamicIndices().empty() ||
        gep.getRawConstantIndices().size() != 1 || !gep->hasOneUse())
      return std::nullopt;
    if (!p.firstAlloc) {
      p.firstAlloc = alloc;
      p.resultsLoad = load;
      p.firstGep = gep;
    }
    if (alloc.getType() != p.firstAlloc.getType() ||
        alloc.getDynamicSizes() != p.firstAlloc.getDynamicSizes() ||
        !alloc.getSymbolOperands().empty() || load != p.resultsLoad ||
        gep.getElemType() != p.firstGep.getElemType())
      return std::nullopt;
    words.push_back(gep.getRawConstantIndices()[0]);
    p.stores.append({store.getValue().getDefiningOp(), store, gep});
  }
  if (words.size() < 2)
    return std::nullopt;
  p.first = words[0];
  p.stride = words[1] - words[0];
  for (auto [l, word] : llvm::enumerate(words))
    if (word != p.first + int64_t(l) * p.stride)
      return std::nullopt;
  if (!availableAt(p.resultsLoad.getAddr(), anchor, dom) ||
      !llvm::all_of(p.firstAlloc.getDynamicSizes(),
                    [&](Value s) { return availableAt(s, anchor, dom); }))
    return std::nullopt;
  return p;
}

std::optional<OperandPattern> classify(ArrayRef<Value> values,
                                       ArrayRef<func::CallOp> calls,
                                       Operation *anchor, DominanceInfo &dom) {
  if (auto p = alternation(values, anchor, dom))
    return p;
  if (auto p = pointerStride(values, anchor, dom))
    return p;
  if (auto p = alternatingView(values, anchor, dom))
    return p;
  return returnedAlloc(values, calls, anchor, dom);
}

/// first + l * stride as an i64 (an index into args or the results).
Value strided(OpBuilder &b, Location loc, Value l, int64_t first,
              int64_t stride) {
  Value offset = arith::AddIOp::create(
      b, loc, arith::ConstantIndexOp::create(b, loc, first),
      arith::MulIOp::create(b, loc, l,
                            arith::ConstantIndexOp::create(b, loc, stride)));
  return arith::IndexCastOp::create(b, loc, b.getI64Type(), offset);
}

/// Operand value for layer `l` inside the loop.
Value materialize(OpBuilder &b, Location loc, OperandPattern p,
                  Value l, Value isOdd) {
  switch (p.kind) {
  case OperandPattern::Invariant:
    return p.even;
  case OperandPattern::Alternating:
    return arith::SelectOp::create(b, loc, isOdd, p.odd, p.even);
  case OperandPattern::PointerStride:
    return LLVM::GEPOp::create(b, loc, p.firstGep.getType(),
                               p.firstGep.getElemType(), p.firstGep.getBase(),
                               ValueRange{strided(b, loc, l, p.first,
                                                  p.stride)});
  case OperandPattern::ReturnedAlloc:
    return memref::AllocOp::create(b, loc, p.firstAlloc.getType(),
                                   p.firstAlloc.getDynamicSizes(),
                                   p.firstAlloc.getAlignmentAttr());
  case OperandPattern::AlternatingView: {
    Value shift = p.even == p.odd ? p.even
                                  : arith::SelectOp::create(b, loc, isOdd,
                                                            p.odd, p.even)
                                        .getResult();
    return memref::ViewOp::create(b, loc, p.firstView.getType(),
                                  p.firstView.getSource(), shift,
                                  p.firstView.getSizes());
  }
  }
  llvm_unreachable("unknown operand pattern");
}

/// Rolls `calls` (same callee, no results, only pure ops between them)
/// into a loop if every operand follows a pattern; false otherwise.
bool rollRun(ArrayRef<func::CallOp> calls, DominanceInfo &dom) {
  func::CallOp first = calls.front();
  SmallVector<OperandPattern> patterns;
  for (unsigned k = 0; k < first.getNumOperands(); ++k) {
    SmallVector<Value> values;
    for (func::CallOp call : calls)
      values.push_back(call.getOperand(k));
    std::optional<OperandPattern> p = classify(values, calls, first, dom);
    if (!p)
      return false;
    patterns.push_back(*p);
  }
  OpBuilder b(first);
  Location loc = first.getLoc();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value count = arith::ConstantIndexOp::create(b, loc, calls.size());
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(b, loc, zero, count, one);
  b.setInsertionPointToStart(loop.getBody());
  Value l = loop.getInductionVar();
  Value isOdd = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ne,
      arith::AndIOp::create(b, loc, l, one), zero);
  SmallVector<Value> operands;
  for (const OperandPattern &p : patterns)
    operands.push_back(materialize(b, loc, p, l, isOdd));
  func::CallOp::create(b, loc, first.getCalleeAttr(), TypeRange{}, operands);
  // Returned buffers are stored where the return would have stored them.
  for (auto [p, operand] : llvm::zip(patterns, operands)) {
    if (p.kind != OperandPattern::ReturnedAlloc)
      continue;
    auto load = cast<LLVM::LoadOp>(b.clone(*p.resultsLoad));
    Value addr = LLVM::GEPOp::create(
        b, loc, p.firstGep.getType(), p.firstGep.getElemType(), load,
        ValueRange{strided(b, loc, l, p.first, p.stride)});
    auto desc = p.stores[0]->getResult(0).getType();
    Value value =
        UnrealizedConversionCastOp::create(b, loc, desc, operand).getResult(0);
    LLVM::StoreOp::create(b, loc, value, addr);
    for (Operation *op : p.stores)
      op->dropAllUses();
    for (Operation *op : p.stores)
      op->erase();
  }

  // The calls go; so do the pure ops between them that fed only them.
  Operation *end = calls.back()->getNextNode();
  SmallVector<Operation *> between;
  for (Operation *op = first; op != end; op = op->getNextNode())
    between.push_back(op);
  for (func::CallOp call : calls)
    call.erase();
  for (Operation *op : llvm::reverse(between))
    if (!isa<func::CallOp>(op) && op->use_empty() &&
        (isPure(op) || isa<memref::AllocOp>(op)) &&
        !op->hasTrait<OpTrait::IsTerminator>())
      op->erase();
  return true;
}

/// Maximal runs of calls to one callee in `block` with only pure ops
/// between them.
SmallVector<SmallVector<func::CallOp>> findRuns(Block &block) {
  SmallVector<SmallVector<func::CallOp>> runs;
  SmallVector<func::CallOp> current;
  auto flush = [&] {
    if (current.size() >= 3)
      runs.push_back(current);
    current.clear();
  };
  for (Operation &op : block) {
    auto call = dyn_cast<func::CallOp>(op);
    if (call && call.getNumResults() == 0) {
      if (!current.empty() &&
          current.front().getCalleeAttr() != call.getCalleeAttr())
        flush();
      current.push_back(call);
      continue;
    }
    // Allocations move into the loop with the calls that fill them.
    if (!isPure(&op) && !isa<memref::AllocOp>(op))
      flush();
  }
  flush();
  return runs;
}

struct RollLayerCallsPass
    : public mlir::strata::impl::StrataRollLayerCallsBase<RollLayerCallsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal() || !func.isPublic())
        continue;
      DominanceInfo dom(func);
      for (Block &block : func.getBody()) {
        bool rolled = false;
        for (ArrayRef<func::CallOp> run : findRuns(block)) {
          // The first call may take a seed the others do not (a zero
          // accumulator where the rest take the previous layer's sum).
          bool done = rollRun(run, dom);
          if (!done && run.size() > 3)
            done = rollRun(run.drop_front(), dom);
          rolled |= done;
        }
        if (!rolled)
          continue;
        // What fed only the first calls of the runs (their views and
        // pointers) is dead now.
        for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
          if (op.use_empty() &&
              (isPure(&op) || isa<memref::AllocOp>(op)) &&
              !op.hasTrait<OpTrait::IsTerminator>())
            op.erase();
      }
    }
  }
};
} // namespace

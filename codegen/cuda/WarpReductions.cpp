//===- WarpReductions.cpp - one warp per reduced output --------*- C++ -*-===//
//
// A contraction whose reduction runs along the contiguous dimension of its
// inputs (x·Wᵀ in every linear layer, q·kᵀ, norms, softmax sums) is slow
// as one thread per output: each thread walks a whole row alone, neighbours
// read addresses a row apart, and a decode step's few outputs leave most
// of the GPU idle. Here such ops become a launch where each warp owns one
// output: its 32 lanes stride the reduction with coalesced loads, combine
// their partial results with shuffles, and lane 0 folds in the output's
// initial value. Ops whose reduction is strided for some input (A·B with
// B row-major) keep the thread-per-output mapping of
// strata-map-loops-to-gpu, which is coalesced for them.
//
//===----------------------------------------------------------------------===//

#include "codegen/cuda/Passes.h"
#include "codegen/cuda/KernelBuilder.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAWARPREDUCTIONS
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// The yielded combiner `out ⊕ f(ins)` and its identity, when the payload
/// has that shape: the output block argument is used once, by the yielded
/// op, an associative and commutative float reduction.
struct Combiner {
  Operation *op = nullptr;
  TypedAttr identity;
};

std::optional<Combiner> matchCombiner(linalg::LinalgOp op) {
  Block *body = op.getBlock();
  BlockArgument out = op.getRegionOutputArgs()[0];
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  Operation *combine = yield.getOperand(0).getDefiningOp();
  if (!combine || combine->getBlock() != body || !out.hasOneUse() ||
      *out.getUsers().begin() != combine || combine->getNumOperands() != 2)
    return std::nullopt;
  Combiner c{combine, {}};
  // Integer sums: a quantized model's int8 products into i32 (exact, in
  // any order).
  if (auto integer = dyn_cast<IntegerType>(out.getType())) {
    if (!isa<arith::AddIOp>(combine) || integer.getWidth() != 32)
      return std::nullopt;
    c.identity = IntegerAttr::get(integer, 0);
    return c;
  }
  auto type = dyn_cast<FloatType>(out.getType());
  if (!type)
    return std::nullopt;
  const llvm::fltSemantics &sem = type.getFloatSemantics();
  if (isa<arith::AddFOp>(combine))
    c.identity = FloatAttr::get(type, APFloat::getZero(sem));
  else if (isa<arith::MaximumFOp, arith::MaxNumFOp>(combine))
    c.identity = FloatAttr::get(type, APFloat::getInf(sem, /*Negative=*/true));
  else if (isa<arith::MinimumFOp, arith::MinNumFOp>(combine))
    c.identity = FloatAttr::get(type, APFloat::getInf(sem));
  else
    return std::nullopt;
  return c;
}

/// Every input that the reduction indexes reads it as its innermost,
/// unit-stride dimension.
bool reductionIsContiguous(linalg::LinalgOp op, unsigned r) {
  bool any = false;
  for (OpOperand *input : op.getDpsInputOperands()) {
    auto type = dyn_cast<MemRefType>(input->get().getType());
    if (!type)
      continue;
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!map.isFunctionOfDim(r))
      continue;
    any = true;
    if (map.getNumResults() == 0 ||
        map.getResults().back() != getAffineDimExpr(r, op.getContext()))
      return false;
    for (AffineExpr e : map.getResults().drop_back())
      if (e.isFunctionOfDim(r))
        return false;
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(type.getStridesAndOffset(strides, offset)) ||
        strides.back() != 1)
      return false;
  }
  return any;
}

unsigned reductionDim(linalg::LinalgOp op) {
  SmallVector<unsigned> dims;
  op.getReductionDims(dims);
  return dims.front();
}

/// The buffer `v` is a view of (itself when it is none).
Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

/// Clones `op`'s payload (its terminator aside) at `b` for the iteration
/// `ivs`, its block arguments already in `map`; linalg.index reads `ivs`.
void cloneBody(OpBuilder &b, linalg::LinalgOp op, ArrayRef<Value> ivs,
               IRMapping &map) {
  for (Operation &inner : op.getBlock()->without_terminator()) {
    if (auto idx = dyn_cast<linalg::IndexOp>(inner))
      map.map(idx.getResult(), ivs[idx.getDim()]);
    else
      b.clone(inner, map);
  }
}

/// Emits, inside the warp that owns reduced value `value` (the output of
/// the reduction at the row `row`), `epilogue`'s outputs for that row:
/// lanes stride the epilogue's last loop, whose extents are `sizes`, and
/// `value` stands for every read of `reduced`.
void emitRowEpilogue(OpBuilder &b, Location loc, linalg::GenericOp epilogue,
                     ArrayRef<Value> sizes, ArrayRef<Value> row, Value value,
                     Value reduced, Value lane, Value warpSize) {
  // Rows the epilogue does not run (a smaller leading extent) are skipped.
  Value inside = arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
  for (auto [i, size] : llvm::zip(row, sizes))
    inside = arith::AndIOp::create(
        b, loc, inside,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, i, size));
  auto ifInside = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifInside.thenBlock()->getTerminator());
  forRange(
      b, loc, lane, sizes.back(), warpSize,
      [&](OpBuilder &b, Location loc, Value j) {
        SmallVector<Value> ivs(row);
        ivs.push_back(j);
        IRMapping map;
        for (OpOperand &operand : epilogue->getOpOperands()) {
          BlockArgument arg = epilogue.getMatchingBlockArgument(&operand);
          Value v = operand.get();
          if (v == reduced)
            v = value;
          else if (isa<MemRefType>(v.getType()) &&
                   (epilogue.isDpsInput(&operand) || !arg.use_empty()))
            v = memref::LoadOp::create(
                b, loc, v,
                applyIndexingMap(
                    b, loc, epilogue.getMatchingIndexingMap(&operand), ivs));
          map.map(arg, v);
        }
        cloneBody(b, epilogue, ivs, map);
        auto yield =
            cast<linalg::YieldOp>(epilogue.getBlock()->getTerminator());
        for (auto [result, init] :
             llvm::zip(yield.getOperands(), epilogue.getDpsInitsMutable()))
          memref::StoreOp::create(
              b, loc, map.lookupOrDefault(result), init.get(),
              applyIndexingMap(b, loc, epilogue.getMatchingIndexingMap(&init),
                               ivs));
      });
}

} // namespace

linalg::GenericOp mlir::strata::rowEpilogue(linalg::LinalgOp op) {
  MLIRContext *ctx = op.getContext();
  OpOperand *init = op.getDpsInitOperand(0);
  Value out = init->get();
  unsigned r = reductionDim(op);
  // The output is indexed by the parallel loops, in order.
  AffineMap outMap = op.getMatchingIndexingMap(init);
  unsigned rank = outMap.getNumResults();
  if (rank + 1 != op.getNumLoops())
    return {};
  for (unsigned d = 0, k = 0; d < op.getNumLoops(); ++d)
    if (d != r && outMap.getResult(k++) != getAffineDimExpr(d, ctx))
      return {};
  Operation *next = op->getNextNode();
  while (next && (isa<memref::AllocOp>(next) || isMemoryEffectFree(next)))
    next = next->getNextNode();
  auto epilogue = dyn_cast_or_null<linalg::GenericOp>(next);
  if (!epilogue || !epilogue.hasPureBufferSemantics() ||
      epilogue.getNumLoops() != rank + 1 ||
      epilogue.getNumParallelLoops() != rank + 1)
    return {};
  // Reads the reduced value once, at its leading loops.
  OpOperand *reads = nullptr;
  for (OpOperand &operand : epilogue->getOpOperands()) {
    if (operand.get() != out)
      continue;
    if (reads || !epilogue.isDpsInput(&operand))
      return {};
    reads = &operand;
  }
  SmallVector<AffineExpr> leading;
  for (unsigned d = 0; d < rank; ++d)
    leading.push_back(getAffineDimExpr(d, ctx));
  if (!reads || epilogue.getMatchingIndexingMap(reads) !=
                    AffineMap::get(rank + 1, 0, leading, ctx))
    return {};
  // Its outputs are fresh buffers the reduction does not touch, so writing
  // them while other warps still reduce is safe; and it reads the reduced
  // buffer only through `reads`, whose value its warp holds (other rows
  // may not be written yet), not through another operand. The reduced
  // buffer is a fresh allocation too, so no other handle (an aliasing
  // argument or global) reaches it.
  Value reducedRoot = rootBuffer(out);
  if (!reducedRoot.getDefiningOp<memref::AllocOp>())
    return {};
  llvm::SmallPtrSet<Value, 4> written{reducedRoot};
  for (OpOperand &operand : epilogue->getOpOperands()) {
    Value root = rootBuffer(operand.get());
    if (&operand != reads && root == reducedRoot)
      return {};
    if (!epilogue.isDpsInit(&operand))
      continue;
    if (!root.getDefiningOp<memref::AllocOp>())
      return {};
    for (Value used : op->getOperands())
      if (rootBuffer(used) == root)
        return {};
    written.insert(root);
  }
  // Its body may load (a gather fused in, as tensor.extract bufferizes
  // to) from buffers that neither kernel writes; nothing else with effects.
  for (Operation &inner : epilogue.getBlock()->without_terminator()) {
    if (auto load = dyn_cast<memref::LoadOp>(inner)) {
      if (written.contains(rootBuffer(load.getMemRef())))
        return {};
      continue;
    }
    if (!isMemoryEffectFree(&inner))
      return {};
  }
  return epilogue;
}

bool mlir::strata::isWarpReducible(linalg::LinalgOp op, int64_t minReduction) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1)
    return false;
  unsigned r = reductionDim(op);
  SmallVector<int64_t> loops = op.getStaticLoopRanges();
  if (!ShapedType::isDynamic(loops[r]) && loops[r] < minReduction)
    return false;
  return reductionIsContiguous(op, r) && matchCombiner(op).has_value();
}

LogicalResult mlir::strata::lowerToWarps(linalg::LinalgOp op,
                                         int64_t warpsPerBlock,
                                         int64_t maxBlocks) {
  linalg::FillOp fill = fillFeeding(op);
  if (failed(lowerToWarps(op, warpsPerBlock, maxBlocks, fill, rowEpilogue(op))))
    return failure();
  if (fill)
    fill->erase();
  return success();
}

LogicalResult mlir::strata::lowerToWarps(linalg::LinalgOp op,
                                         int64_t warpsPerBlock,
                                         int64_t maxBlocks, linalg::FillOp fill,
                                         linalg::GenericOp epilogue) {
  std::optional<Combiner> found = matchCombiner(op);
  if (!found)
    return failure();
  const Combiner &combiner = *found;
  // What the epilogue's launch needs (its output allocations, shapes) moves
  // ahead of the reduction: nothing in between has memory effects.
  if (epilogue)
    while (op->getNextNode() != epilogue.getOperation())
      op->getNextNode()->moveBefore(op);
  OpBuilder b(op);
  Location loc = op.getLoc();
  SmallVector<Value> epilogueSizes;
  if (epilogue)
    for (Range &range : cast<linalg::LinalgOp>(epilogue.getOperation())
                            .createLoopRanges(b, loc))
      epilogueSizes.push_back(
          getValueOrCreateConstantIndexOp(b, loc, range.size));
  SmallVector<Range, 4> ranges = op.createLoopRanges(b, loc);
  unsigned r = reductionDim(op);
  unsigned numLoops = op.getNumLoops();
  // Ranges start at 0 with unit steps for linalg ops on buffers.
  SmallVector<Value> sizes;
  for (Range &range : ranges)
    sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, range.size));
  Value total = indexConstant(b, loc, 1);
  for (unsigned d = 0; d < numLoops; ++d)
    if (d != r)
      total = arith::MulIOp::create(b, loc, total, sizes[d]);
  WarpPerItem warps =
      createWarpPerItemLaunch(b, loc, total, warpsPerBlock, maxBlocks);
  Value lane = warps.lane;
  Value warpSize = warps.warpSize;

  // Parallel indices from the output number, innermost fastest.
  SmallVector<Value> ivs(numLoops), parallelSizes;
  SmallVector<unsigned> parallel;
  for (unsigned d = 0; d < numLoops; ++d)
    if (d != r) {
      parallel.push_back(d);
      parallelSizes.push_back(sizes[d]);
    }
  for (auto [d, iv] :
       llvm::zip(parallel, delinearize(b, loc, warps.item, parallelSizes)))
    ivs[d] = iv;

  // Each lane folds every 32nd element of the reduction.
  Value identity = arith::ConstantOp::create(b, loc, combiner.identity);
  auto lanes = scf::ForOp::create(b, loc, lane, sizes[r], warpSize,
                                  ValueRange{identity});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(lanes.getBody());
    ivs[r] = lanes.getInductionVar();
    IRMapping map;
    for (OpOperand *input : op.getDpsInputOperands()) {
      BlockArgument arg = op.getMatchingBlockArgument(input);
      Value v = input->get();
      if (isa<MemRefType>(v.getType()))
        v = memref::LoadOp::create(
            b, loc, v,
            applyIndexingMap(b, loc, op.getMatchingIndexingMap(input), ivs));
      map.map(arg, v);
    }
    map.map(op.getRegionOutputArgs()[0], lanes.getRegionIterArg(0));
    cloneBody(b, op, ivs, map);
    scf::YieldOp::create(b, loc, map.lookup(combiner.op->getResult(0)));
  }
  ivs[r] = nullptr;
  // Butterfly across the warp: every lane ends with the whole result.
  auto combine = [&](Value x, Value y) {
    IRMapping m;
    m.map(combiner.op->getOperand(0), x);
    m.map(combiner.op->getOperand(1), y);
    return b.clone(*combiner.op, m)->getResult(0);
  };
  Value partial = warpAllReduce(b, loc, lanes.getResult(0), combine);
  OpOperand *init = op.getDpsInitOperand(0);
  SmallVector<Value> parallelIvs;
  for (unsigned d = 0; d < numLoops; ++d)
    parallelIvs.push_back(d == r ? indexConstant(b, loc, 0) : ivs[d]);
  SmallVector<Value> at =
      applyIndexingMap(b, loc, op.getMatchingIndexingMap(init), parallelIvs);
  auto initialValue = [&]() -> Value {
    if (fill)
      return fill.getInputs()[0];
    return memref::LoadOp::create(b, loc, init->get(), at);
  };
  Value isFirst = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane,
                                        indexConstant(b, loc, 0));
  // With an epilogue every lane needs the result; else lane 0 alone. An
  // initial value in memory is read by lane 0 only (it alone stores the
  // result, so no lane's read races with that store) and broadcast.
  Value result;
  if (epilogue && fill) {
    result = combine(initialValue(), partial);
  } else if (epilogue) {
    auto read = scf::IfOp::create(b, loc, TypeRange{partial.getType()}, isFirst,
                                  /*withElse=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(read.thenBlock());
      scf::YieldOp::create(b, loc, initialValue());
      b.setInsertionPointToStart(read.elseBlock());
      scf::YieldOp::create(
          b, loc,
          ValueRange{arith::ConstantOp::create(b, loc, combiner.identity)});
    }
    result = gpu::ShuffleOp::create(b, loc, combine(read.getResult(0), partial),
                                    0, static_cast<int32_t>(kWarpSize),
                                    gpu::ShuffleMode::IDX)
                 .getShuffleResult();
  }
  auto ifFirst = scf::IfOp::create(b, loc, isFirst, /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifFirst.thenBlock()->getTerminator());
    memref::StoreOp::create(b, loc,
                            result ? result : combine(initialValue(), partial),
                            init->get(), at);
  }
  if (epilogue) {
    SmallVector<Value> row;
    for (unsigned d : parallel)
      row.push_back(ivs[d]);
    emitRowEpilogue(b, loc, epilogue, epilogueSizes, row, result, init->get(),
                    lane, warpSize);
    epilogue->erase();
  }
  op->erase();
  return success();
}

namespace {

struct WarpReductionsPass
    : public mlir::strata::impl::StrataWarpReductionsBase<WarpReductionsPass> {
  using Base::Base;

  void runOnOperation() override {
    // Epilogues (all-parallel, never candidates) are erased on the way.
    SmallVector<linalg::LinalgOp> candidates;
    for (auto func : getOperation().getOps<func::FuncOp>())
      for (Operation &op : func.getBody().getOps())
        if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
          if (isWarpReducible(linalgOp, minReduction))
            candidates.push_back(linalgOp);
    for (linalg::LinalgOp op : candidates)
      (void)lowerToWarps(op, warpsPerBlock, maxBlocks);
  }
};

} // namespace

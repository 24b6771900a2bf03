//===- FlashAttentionKernels.cpp - flash attention on CUDA -----*- C++ -*-===//
//
// strata.flash_attention on buffers -> one kernel, a warp per (batch,
// head, query) row. Lane i holds query elements and value accumulators
// i, i + 32, ... in registers (head dims are static, so these are
// unrolled), every key's score is the lanes' partial products summed by an
// xor butterfly, and the online softmax's running maximum and sum, the
// same in every lane, rescale the accumulators as keys arrive. Consecutive
// warps take consecutive queries of one head, so a block's warps read the
// same key and value rows while they are in L1; no score is written to
// memory and the three kernels of the materialised form (scores, softmax,
// P·V) become one.
//
//===----------------------------------------------------------------------===//

#include "codegen/AttentionUtils.h"
#include "codegen/Passes.h"
#include "codegen/cuda/KernelBuilder.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAFLASHATTENTIONKERNELS
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// One warp's row: the lane's slice of a head dim of static size `dim`
/// is elements lane + 32 j, j < ceil(dim / 32).
struct LaneSlice {
  int64_t dim;
  Value lane;

  int64_t count() const { return llvm::divideCeil(dim, kWarpSize); }

  Value index(OpBuilder &b, Location l, int64_t j) const {
    return arith::AddIOp::create(b, l, lane,
                                 indexConstant(b, l, j * kWarpSize));
  }
  /// Whether element j exists (always, when dim is a multiple of 32).
  Value inRange(OpBuilder &b, Location l, int64_t j) const {
    if (dim % kWarpSize == 0)
      return {};
    return arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                 index(b, l, j), indexConstant(b, l, dim));
  }
  /// memref[prefix..., element j], 0 past the end: the index is clamped
  /// so that every lane loads (no divergence before the shuffles).
  Value load(OpBuilder &b, Location l, Value memref, ValueRange prefix,
             int64_t j) const {
    Value at = index(b, l, j);
    Value ok = inRange(b, l, j);
    if (ok)
      at = arith::MinUIOp::create(b, l, at, indexConstant(b, l, dim - 1));
    SmallVector<Value> indices(prefix);
    indices.push_back(at);
    Value v = memref::LoadOp::create(b, l, memref, indices);
    return ok ? arith::SelectOp::create(b, l, ok, v, f32Constant(b, l, 0)) : v;
  }
};

void lowerToKernel(FlashAttentionOp op, int64_t warpsPerBlock,
                   int64_t maxBlocks) {
  OpBuilder b(op);
  Location l = op.getLoc();
  FlashShapes shapes = readFlashShapes(b, op);
  AttentionMask mask = flashMask(op);
  Value rows = arith::MulIOp::create(
      b, l, arith::MulIOp::create(b, l, shapes.batch, shapes.heads),
      shapes.queries);
  WarpPerItem warps =
      createWarpPerItemLaunch(b, l, rows, warpsPerBlock, maxBlocks);
  // Consecutive rows: consecutive queries of one head.
  SmallVector<Value> idx = delinearize(
      b, l, warps.item, {shapes.batch, shapes.heads, shapes.queries});
  Value bi = idx[0], hi = idx[1], si = idx[2];
  Value hk = arith::DivUIOp::create(b, l, hi, shapes.group);
  Value aligned = arith::AddIOp::create(b, l, si, shapes.offset);
  Value first = flashFirstKey(b, l, op, bi);
  LaneSlice qk{shapes.headDim, warps.lane}, ve{shapes.valueDim, warps.lane};

  SmallVector<Value> q;
  for (int64_t j = 0; j < qk.count(); ++j)
    q.push_back(qk.load(b, l, op.getQ(), {bi, si, hi}, j));
  Value scale = f32Constant(b, l, op.getScale().convertToDouble());
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddFOp::create(b, l, x, y);
  };

  // State: max, sum, then the lane's accumulators.
  auto addKey = [&](OpBuilder &b, Location l, Value t,
                    ValueRange state) -> SmallVector<Value> {
    Value partial = f32Constant(b, l, 0);
    for (int64_t j = 0; j < qk.count(); ++j)
      partial = math::FmaOp::create(
          b, l, q[j], qk.load(b, l, op.getK(), {bi, t, hk}, j), partial);
    Value x =
        arith::MulFOp::create(b, l, warpAllReduce(b, l, partial, add), scale);
    OnlineSoftmaxStep step = onlineSoftmaxStep(b, l, state[0], state[1], x);
    SmallVector<Value> next{step.max, step.sum};
    for (int64_t j = 0; j < ve.count(); ++j)
      next.push_back(math::FmaOp::create(
          b, l, step.weight, ve.load(b, l, op.getV(), {bi, t, hk}, j),
          arith::MulFOp::create(b, l, state[2 + j], step.rescale)));
    return next;
  };

  SmallVector<Value> init{
      f32Constant(b, l, -std::numeric_limits<float>::infinity()),
      f32Constant(b, l, 0)};
  init.append(ve.count(), f32Constant(b, l, 0));
  auto [lo, hiKey] = flashKeyRange(b, l, mask, aligned, shapes.keys);
  bool testEach = first || mask.layout;
  auto keys = scf::ForOp::create(
      b, l, lo, hiKey, indexConstant(b, l, 1), init,
      [&](OpBuilder &b, Location l, Value t, ValueRange state) {
        if (!testEach) {
          scf::YieldOp::create(b, l, addKey(b, l, t, state));
          return;
        }
        // The same for every lane of the warp: no divergence.
        Value visible =
            attentionKeyVisible(b, l, mask, aligned, t, first, shapes.keys);
        auto ifOp = scf::IfOp::create(
            b, l, visible,
            [&](OpBuilder &b, Location l) {
              scf::YieldOp::create(b, l, addKey(b, l, t, state));
            },
            [&](OpBuilder &b, Location l) {
              scf::YieldOp::create(b, l, state);
            });
        scf::YieldOp::create(b, l, ifOp.getResults());
      });
  Value sum = keys.getResult(1);
  for (int64_t j = 0; j < ve.count(); ++j) {
    Value result = arith::DivFOp::create(b, l, keys.getResult(2 + j), sum);
    SmallVector<Value> at{bi, si, hi, ve.index(b, l, j)};
    if (Value ok = ve.inRange(b, l, j)) {
      auto ifOp = scf::IfOp::create(b, l, ok, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      memref::StoreOp::create(b, l, result, op.getInit(), at);
    } else {
      memref::StoreOp::create(b, l, result, op.getInit(), at);
    }
  }
  op.erase();
}

struct FlashAttentionKernelsPass
    : public mlir::strata::impl::StrataFlashAttentionKernelsBase<
          FlashAttentionKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(lowerBufferized<FlashAttentionOp>(
            getOperation(), getArgument(), [&](FlashAttentionOp op) {
              lowerToKernel(op, warpsPerBlock, maxBlocks);
              return success();
            })))
      signalPassFailure();
  }
};

} // namespace

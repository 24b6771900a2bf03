//===- FlashAttentionLoops.cpp - flash attention as row loops --*- C++ -*-===//
//
// strata_kernel.flash_attention on buffers -> one scf.parallel over (batch, head,
// block of kQueryTile queries). For every key in the union of the block's
// key ranges each row computes the score (a dot product over the head dim;
// -inf where its mask hides the key), advances its online softmax and adds
// the key's weighted value row to its accumulators, rescaled whenever its
// running maximum grows; its sum divides them at the end. Key and value
// rows are read once per block, and no scores reach memory, so attention's
// memory is that of its output whatever the sequence length.
//
//===----------------------------------------------------------------------===//

#include "codegen/AttentionUtils.h"
#include "codegen/LoweringUtils.h"
#include "codegen/cpu/Passes.h"
#include "dialect/KernelDialect.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAFLASHATTENTIONLOOPS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// Queries per parallel iteration.
constexpr int64_t kQueryTile = 4;

/// `body(b, l, i)` for i in [0, n).
void forEach(OpBuilder &b, Location l, Value n,
             function_ref<void(OpBuilder &, Location, Value)> body) {
  forRange(b, l, indexConstant(b, l, 0), n, indexConstant(b, l, 1), body);
}

/// Query rows of `op`, kQueryTile per parallel iteration: consecutive
/// queries of one head share every key and value row they read (one load
/// feeds kQueryTile dot products and accumulator updates). Each row keeps
/// its own online-softmax state; a key a row must not see scores -inf,
/// which the softmax step turns into weight 0, so the rows share one
/// branch-free key loop over the union of their key ranges. Rows past the
/// last query repeat it and are not stored.
struct TileBuilder {
  kernel::FlashAttentionOp op;
  FlashShapes shapes;
  AttentionMask mask;
  Value scale;

  void build(OpBuilder &b, Location l, ValueRange ivs) {
    Value bi = ivs[0], hi = ivs[1], block = ivs[2];
    Value hk = arith::DivUIOp::create(b, l, hi, shapes.group);
    Value first = flashFirstKey(b, l, op, bi);
    Value lastQuery =
        arith::SubIOp::create(b, l, shapes.queries, indexConstant(b, l, 1));
    // queries[i]: the row's query (possibly past the last); rows[i]: the
    // one it computes (clamped).
    SmallVector<Value> queries, rows, aligned;
    for (int64_t i = 0; i < kQueryTile; ++i) {
      Value s = arith::AddIOp::create(
          b, l,
          arith::MulIOp::create(b, l, block, indexConstant(b, l, kQueryTile)),
          indexConstant(b, l, i));
      queries.push_back(s);
      rows.push_back(arith::MinUIOp::create(b, l, s, lastQuery));
      aligned.push_back(
          arith::AddIOp::create(b, l, rows.back(), shapes.offset));
    }
    // The union of the rows' ranges: the first row's start, the last's end.
    Value lo = flashKeyRange(b, l, mask, aligned.front(), shapes.keys).first;
    Value hiKey = flashKeyRange(b, l, mask, aligned.back(), shapes.keys).second;
    auto accType =
        MemRefType::get({kQueryTile, shapes.valueDim}, b.getF32Type());
    Value acc = memref::AllocaOp::create(b, l, accType);
    Value valueDim = indexConstant(b, l, shapes.valueDim);
    Value zero = f32Constant(b, l, 0);
    forEach(b, l, valueDim, [&](OpBuilder &b, Location l, Value e) {
      for (int64_t i = 0; i < kQueryTile; ++i)
        memref::StoreOp::create(b, l, zero, acc,
                                ValueRange{indexConstant(b, l, i), e});
    });
    Value negInf = f32Constant(b, l, -std::numeric_limits<float>::infinity());
    SmallVector<Value> init;
    for (int64_t i = 0; i < kQueryTile; ++i)
      init.append({negInf, zero});
    auto fm = arith::FastMathFlagsAttr::get(b.getContext(),
                                            arith::FastMathFlags::reassoc |
                                                arith::FastMathFlags::contract);
    auto keys = scf::ForOp::create(
        b, l, lo, hiKey, indexConstant(b, l, 1), init,
        [&](OpBuilder &b, Location l, Value t, ValueRange state) {
          // kQueryTile dot products over one read of the key row.
          SmallVector<Value> dotInit(kQueryTile, zero);
          auto dots = scf::ForOp::create(
              b, l, indexConstant(b, l, 0), indexConstant(b, l, shapes.headDim),
              indexConstant(b, l, 1), dotInit,
              [&](OpBuilder &b, Location l, Value d, ValueRange sums) {
                Value k = memref::LoadOp::create(b, l, op.getK(),
                                                 ValueRange{bi, t, hk, d});
                SmallVector<Value> next;
                for (int64_t i = 0; i < kQueryTile; ++i) {
                  Value q = memref::LoadOp::create(
                      b, l, op.getQ(), ValueRange{bi, rows[i], hi, d});
                  next.push_back(arith::AddFOp::create(
                      b, l, sums[i], arith::MulFOp::create(b, l, q, k, fm),
                      fm));
                }
                scf::YieldOp::create(b, l, next);
              });
          SmallVector<Value> next, rescale, weight;
          for (int64_t i = 0; i < kQueryTile; ++i) {
            Value x = arith::MulFOp::create(b, l, dots.getResult(i), scale);
            Value visible = attentionKeyVisible(b, l, mask, aligned[i], t,
                                                first, shapes.keys);
            x = arith::SelectOp::create(b, l, visible, x, negInf);
            OnlineSoftmaxStep step =
                onlineSoftmaxStep(b, l, state[2 * i], state[2 * i + 1], x);
            next.append({step.max, step.sum});
            rescale.push_back(step.rescale);
            weight.push_back(step.weight);
          }
          // One read of the value row updates every row's accumulators.
          forEach(b, l, valueDim, [&](OpBuilder &b, Location l, Value e) {
            Value v = memref::LoadOp::create(b, l, op.getV(),
                                             ValueRange{bi, t, hk, e});
            for (int64_t i = 0; i < kQueryTile; ++i) {
              SmallVector<Value> at{indexConstant(b, l, i), e};
              Value a = memref::LoadOp::create(b, l, acc, at);
              memref::StoreOp::create(
                  b, l,
                  arith::AddFOp::create(
                      b, l, arith::MulFOp::create(b, l, a, rescale[i]),
                      arith::MulFOp::create(b, l, weight[i], v)),
                  acc, at);
            }
          });
          scf::YieldOp::create(b, l, next);
        });
    // Store each real row once (repeated last rows are skipped).
    for (int64_t i = 0; i < kQueryTile; ++i) {
      Value s = queries[i];
      Value real = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, s,
                                         shapes.queries);
      auto ifOp = scf::IfOp::create(b, l, real, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      Value sum = keys.getResult(2 * i + 1);
      forEach(b, l, valueDim, [&](OpBuilder &b, Location l, Value e) {
        Value a = memref::LoadOp::create(b, l, acc,
                                         ValueRange{indexConstant(b, l, i), e});
        memref::StoreOp::create(b, l, arith::DivFOp::create(b, l, a, sum),
                                op.getInit(), ValueRange{bi, s, hi, e});
      });
    }
  }
};

void lowerToLoops(kernel::FlashAttentionOp op) {
  OpBuilder b(op);
  Location l = op.getLoc();
  TileBuilder tiles{op, readFlashShapes(b, op), flashMask(op),
                    f32Constant(b, l, op.getScale().convertToDouble())};
  Value zero = indexConstant(b, l, 0), one = indexConstant(b, l, 1);
  Value blocks = arith::CeilDivUIOp::create(b, l, tiles.shapes.queries,
                                            indexConstant(b, l, kQueryTile));
  scf::ParallelOp::create(
      b, l, ValueRange{zero, zero, zero},
      ValueRange{tiles.shapes.batch, tiles.shapes.heads, blocks},
      ValueRange{one, one, one}, [&](OpBuilder &b, Location l, ValueRange ivs) {
        tiles.build(b, l, ivs);
      });
  op.erase();
}

struct FlashAttentionLoopsPass
    : public mlir::strata::impl::StrataFlashAttentionLoopsBase<
          FlashAttentionLoopsPass> {
  void runOnOperation() override {
    if (failed(lowerBufferized<kernel::FlashAttentionOp>(
            getOperation(), getArgument(), [](kernel::FlashAttentionOp op) {
              lowerToLoops(op);
              return success();
            })))
      signalPassFailure();
  }
};

} // namespace

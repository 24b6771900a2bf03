//===- FlashAttentionLoops.cpp - flash attention as row loops --*- C++ -*-===//
//
// strata.flash_attention on buffers -> one scf.parallel over (batch, head,
// query) rows. A row zeroes its output, then for every key its masks leave
// computes the score (a dot product over the head dim), advances the
// online softmax and adds the key's weighted value row to the output,
// rescaled whenever the running maximum grows; the sum divides it at the
// end. No scores reach memory, so attention's memory is that of its output
// whatever the sequence length.
//
//===----------------------------------------------------------------------===//

#include "codegen/AttentionUtils.h"
#include "codegen/LoweringUtils.h"
#include "codegen/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAFLASHATTENTIONLOOPS
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

Value f32Const(OpBuilder &b, Location l, float v) {
  return arith::ConstantOp::create(b, l, b.getF32FloatAttr(v));
}

/// `body(b, l, i)` for i in [0, n).
void forEach(OpBuilder &b, Location l, Value n,
             function_ref<void(OpBuilder &, Location, Value)> body) {
  scf::ForOp::create(b, l, indexConstant(b, l, 0), n, indexConstant(b, l, 1),
                     ValueRange{},
                     [&](OpBuilder &b, Location l, Value i, ValueRange) {
                       body(b, l, i);
                       scf::YieldOp::create(b, l);
                     });
}

/// The rows of `op`, one parallel iteration each.
struct RowBuilder {
  FlashAttentionOp op;
  FlashShapes shapes;
  AttentionMask mask;
  Value scale;

  /// The score of key `t` for the row's query: scale * q . k, summed in
  /// any order (the loop vectorises).
  Value score(OpBuilder &b, Location l, Value bi, Value si, Value hi, Value hk,
              Value t) {
    auto fm = arith::FastMathFlagsAttr::get(b.getContext(),
                                            arith::FastMathFlags::reassoc |
                                                arith::FastMathFlags::contract);
    auto loop = scf::ForOp::create(
        b, l, indexConstant(b, l, 0), indexConstant(b, l, shapes.headDim),
        indexConstant(b, l, 1), ValueRange{f32Const(b, l, 0)},
        [&](OpBuilder &b, Location l, Value d, ValueRange acc) {
          Value q = memref::LoadOp::create(b, l, op.getQ(),
                                           ValueRange{bi, si, hi, d});
          Value k =
              memref::LoadOp::create(b, l, op.getK(), ValueRange{bi, t, hk, d});
          Value prod = arith::MulFOp::create(b, l, q, k, fm);
          scf::YieldOp::create(
              b, l, ValueRange{arith::AddFOp::create(b, l, acc[0], prod, fm)});
        });
    return arith::MulFOp::create(b, l, loop.getResult(0), scale);
  }

  /// Key `t`'s contribution: returns the new (max, sum).
  SmallVector<Value> addKey(OpBuilder &b, Location l, Value bi, Value si,
                            Value hi, Value hk, Value t, Value m, Value sum) {
    OnlineSoftmaxStep step =
        onlineSoftmaxStep(b, l, m, sum, score(b, l, bi, si, hi, hk, t));
    Value out = op.getInit();
    forEach(b, l, indexConstant(b, l, shapes.valueDim),
            [&](OpBuilder &b, Location l, Value e) {
              SmallVector<Value> at{bi, si, hi, e};
              Value acc = memref::LoadOp::create(b, l, out, at);
              Value v = memref::LoadOp::create(b, l, op.getV(),
                                               ValueRange{bi, t, hk, e});
              Value next = arith::AddFOp::create(
                  b, l, arith::MulFOp::create(b, l, acc, step.rescale),
                  arith::MulFOp::create(b, l, step.weight, v));
              memref::StoreOp::create(b, l, next, out, at);
            });
    return {step.max, step.sum};
  }

  void build(OpBuilder &b, Location l, ValueRange ivs) {
    Value bi = ivs[0], hi = ivs[1], si = ivs[2];
    Value hk = arith::DivUIOp::create(b, l, hi, shapes.group);
    Value aligned = arith::AddIOp::create(b, l, si, shapes.offset);
    Value first = flashFirstKey(b, l, op, bi);
    Value out = op.getInit();
    Value valueDim = indexConstant(b, l, shapes.valueDim);
    forEach(b, l, valueDim, [&](OpBuilder &b, Location l, Value e) {
      memref::StoreOp::create(b, l, f32Const(b, l, 0), out,
                              ValueRange{bi, si, hi, e});
    });
    auto [lo, hiKey] = flashKeyRange(b, l, mask, aligned, shapes.keys);
    // Padding and block-sparse masks are not ranges: test each key.
    bool testEach = first || mask.layout;
    Value negInf = f32Const(b, l, -std::numeric_limits<float>::infinity());
    auto keys = scf::ForOp::create(
        b, l, lo, hiKey, indexConstant(b, l, 1),
        ValueRange{negInf, f32Const(b, l, 0)},
        [&](OpBuilder &b, Location l, Value t, ValueRange state) {
          if (!testEach) {
            scf::YieldOp::create(
                b, l, addKey(b, l, bi, si, hi, hk, t, state[0], state[1]));
            return;
          }
          Value visible =
              attentionKeyVisible(b, l, mask, aligned, t, first, shapes.keys);
          auto ifOp = scf::IfOp::create(
              b, l, visible,
              [&](OpBuilder &b, Location l) {
                scf::YieldOp::create(
                    b, l, addKey(b, l, bi, si, hi, hk, t, state[0], state[1]));
              },
              [&](OpBuilder &b, Location l) {
                scf::YieldOp::create(b, l, state);
              });
          scf::YieldOp::create(b, l, ifOp.getResults());
        });
    Value sum = keys.getResult(1);
    forEach(b, l, valueDim, [&](OpBuilder &b, Location l, Value e) {
      SmallVector<Value> at{bi, si, hi, e};
      Value acc = memref::LoadOp::create(b, l, out, at);
      memref::StoreOp::create(b, l, arith::DivFOp::create(b, l, acc, sum), out,
                              at);
    });
  }
};

void lowerToLoops(FlashAttentionOp op) {
  OpBuilder b(op);
  Location l = op.getLoc();
  RowBuilder rows{op, readFlashShapes(b, op), flashMask(op),
                  f32Const(b, l, op.getScale().convertToDouble())};
  Value zero = indexConstant(b, l, 0), one = indexConstant(b, l, 1);
  scf::ParallelOp::create(
      b, l, ValueRange{zero, zero, zero},
      ValueRange{rows.shapes.batch, rows.shapes.heads, rows.shapes.queries},
      ValueRange{one, one, one},
      [&](OpBuilder &b, Location l, ValueRange ivs) { rows.build(b, l, ivs); });
  op.erase();
}

struct FlashAttentionLoopsPass
    : public mlir::strata::impl::StrataFlashAttentionLoopsBase<
          FlashAttentionLoopsPass> {
  void runOnOperation() override {
    SmallVector<FlashAttentionOp> ops;
    getOperation().walk([&](FlashAttentionOp op) { ops.push_back(op); });
    for (FlashAttentionOp op : ops) {
      if (!isa<MemRefType>(op.getInit().getType())) {
        op.emitOpError(
            "must be bufferized before strata-flash-attention-loops");
        return signalPassFailure();
      }
      lowerToLoops(op);
    }
  }
};

} // namespace

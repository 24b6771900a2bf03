//===- AttentionUtils.cpp - which keys a query sees --------------*- C++
//-*-===//

#include "codegen/AttentionUtils.h"
#include "codegen/LoweringUtils.h"
#include "dialect/KernelDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <limits>

using namespace mlir;
using namespace mlir::strata;

namespace {

/// splitmix64's finaliser on i64 values (wrapping arithmetic).
Value splitmix(OpBuilder &b, Location l, Value x) {
  auto c = [&](uint64_t v) -> Value {
    return arith::ConstantOp::create(
        b, l, b.getI64IntegerAttr(static_cast<int64_t>(v)));
  };
  Value z = arith::AddIOp::create(b, l, x, c(0x9E3779B97F4A7C15ull));
  z = arith::MulIOp::create(
      b, l,
      arith::XOrIOp::create(b, l, z, arith::ShRUIOp::create(b, l, z, c(30))),
      c(0xBF58476D1CE4E5B9ull));
  z = arith::MulIOp::create(
      b, l,
      arith::XOrIOp::create(b, l, z, arith::ShRUIOp::create(b, l, z, c(27))),
      c(0x94D049BB133111EBull));
  return arith::XOrIOp::create(b, l, z, arith::ShRUIOp::create(b, l, z, c(31)));
}

/// Whether key block `kb` is visible to query block `qb` under the
/// block-sparse layout (local, global or randomly drawn; see
/// #strata.block_sparse for the draw). `keyBlocks` (i64, the number of key
/// blocks) is given for a bidirectional layout, whose random candidates are
/// all non-local blocks after the global ones; null for a causal one, whose
/// candidates precede the local blocks.
Value blockVisible(OpBuilder &b, Location l, BlockSparseAttr layout, Value qb,
                   Value kb, Value keyBlocks) {
  using P = arith::CmpIPredicate;
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantOp::create(b, l, b.getI64IntegerAttr(v));
  };
  auto cmp = [&](P p, Value x, Value y) -> Value {
    return arith::CmpIOp::create(b, l, p, x, y);
  };
  auto all = [&](Value x, Value y) -> Value {
    return arith::AndIOp::create(b, l, x, y);
  };
  auto any = [&](Value x, Value y) -> Value {
    return arith::OrIOp::create(b, l, x, y);
  };
  auto sub = [&](Value x, Value y) -> Value {
    return arith::SubIOp::create(b, l, x, y);
  };
  int64_t local = layout.getNumLocalBlocks(),
          global = layout.getNumGlobalBlocks();
  int64_t r = layout.getNumRandomBlocks();
  Value firstLocal = sub(qb, c(local - 1));
  Value isLocal = all(cmp(P::sge, kb, firstLocal), cmp(P::sle, kb, qb));
  Value isGlobal = cmp(P::slt, kb, c(global));
  Value visible = any(isLocal, isGlobal);
  if (r == 0)
    return visible;
  // C candidates, and kb's index among them (meaningful when isCand).
  Value count, cand, isCand;
  if (!keyBlocks) {
    // Causal: blocks g .. qb - l.
    count = arith::MaxSIOp::create(b, l, sub(firstLocal, c(global)), c(0));
    cand = sub(kb, c(global));
    isCand = all(cmp(P::sge, cand, c(0)), cmp(P::slt, cand, count));
  } else {
    // Bidirectional: blocks g .. NB - 1 except the local ones [lo, hi].
    Value lo = arith::MaxSIOp::create(b, l, firstLocal, c(global));
    Value hi = arith::MinSIOp::create(b, l, qb, sub(keyBlocks, c(1)));
    Value locals = arith::MaxSIOp::create(
        b, l, arith::AddIOp::create(b, l, sub(hi, lo), c(1)), c(0));
    count = arith::MaxSIOp::create(b, l, sub(sub(keyBlocks, c(global)), locals),
                                   c(0));
    Value offset = sub(kb, c(global));
    cand = arith::SelectOp::create(b, l, cmp(P::slt, kb, lo), offset,
                                   sub(offset, locals));
    Value outsideLocal = any(cmp(P::slt, kb, lo), cmp(P::sgt, kb, hi));
    isCand = all(cmp(P::sge, kb, c(global)), outsideLocal);
  }
  Value takeAll = cmp(P::sle, count, c(r));
  Value rowSeed = splitmix(
      b, l,
      arith::XOrIOp::create(b, l, c(layout.getSeed()), splitmix(b, l, qb)));
  SmallVector<Value> chosen;
  Value drawn = arith::ConstantOp::create(b, l, b.getBoolAttr(false));
  for (int64_t m = 0; m < r; ++m) {
    // n = C - r + m + 1 >= 1 whenever C > r; clamp for the take-all case.
    Value n = arith::MaxSIOp::create(
        b, l, arith::AddIOp::create(b, l, count, c(m + 1 - r)), c(1));
    Value v = arith::RemUIOp::create(
        b, l, splitmix(b, l, arith::AddIOp::create(b, l, rowSeed, c(m))), n);
    Value taken = arith::ConstantOp::create(b, l, b.getBoolAttr(false));
    for (Value prev : chosen)
      taken = any(taken, cmp(P::eq, prev, v));
    Value pick = arith::SelectOp::create(b, l, taken, sub(n, c(1)), v);
    chosen.push_back(pick);
    drawn = any(drawn, cmp(P::eq, pick, cand));
  }
  return any(visible, all(isCand, any(takeAll, drawn)));
}

} // namespace

Value mlir::strata::attentionKeyVisible(OpBuilder &b, Location l,
                                        const AttentionMask &mask,
                                        Value aligned, Value t, Value first,
                                        Value keys) {
  using P = arith::CmpIPredicate;
  auto cmp = [&](P p, Value x, Value y) -> Value {
    return arith::CmpIOp::create(b, l, p, x, y);
  };
  Value keep = arith::ConstantOp::create(b, l, b.getBoolAttr(true));
  if (first) {
    // A padding query still sees itself, so its row stays finite (no NaN
    // reaches the padding's cached keys and values).
    keep = arith::OrIOp::create(b, l, cmp(P::sge, t, first),
                                cmp(P::eq, t, aligned));
  }
  if (mask.causal)
    keep = arith::AndIOp::create(b, l, keep, cmp(P::sle, t, aligned));
  if (mask.window) {
    Value w = arith::ConstantIndexOp::create(b, l, *mask.window);
    keep = arith::AndIOp::create(
        b, l, keep, cmp(P::sgt, t, arith::SubIOp::create(b, l, aligned, w)));
  }
  if (BlockSparseAttr layout = mask.layout) {
    // Blocks count from each row's first real key, so a padded row has the
    // layout it has alone.
    Value bs = arith::ConstantIndexOp::create(b, l, layout.getBlockSize());
    auto toI64 = [&](Value v) -> Value {
      return arith::IndexCastOp::create(b, l, b.getI64Type(), v);
    };
    Value qPos = aligned, kPos = t, realKeys = keys;
    if (first) {
      Value zero = arith::ConstantIndexOp::create(b, l, 0);
      auto real = [&](Value v) -> Value {
        return arith::MaxSIOp::create(
            b, l, arith::SubIOp::create(b, l, v, first), zero);
      };
      qPos = real(aligned);
      kPos = real(t);
      realKeys = real(keys);
    }
    Value qb = toI64(arith::DivUIOp::create(b, l, qPos, bs));
    Value kb = toI64(arith::DivUIOp::create(b, l, kPos, bs));
    Value keyBlocks;
    if (!mask.causal)
      keyBlocks = toI64(arith::CeilDivUIOp::create(b, l, realKeys, bs));
    keep = arith::AndIOp::create(b, l, keep,
                                 blockVisible(b, l, layout, qb, kb, keyBlocks));
  }
  return keep;
}

FlashShapes mlir::strata::readFlashShapes(OpBuilder &b,
                                          kernel::FlashAttentionOp op) {
  Location l = op.getLoc();
  auto dim = [&](Value v, int64_t i) -> Value {
    return memref::DimOp::create(b, l, v, i);
  };
  FlashShapes s;
  s.batch = dim(op.getQ(), 0);
  s.queries = dim(op.getQ(), 1);
  s.heads = dim(op.getQ(), 2);
  s.keys = dim(op.getK(), 1);
  s.group = arith::DivUIOp::create(b, l, s.heads, dim(op.getK(), 2));
  s.offset = arith::SubIOp::create(b, l, s.keys, s.queries);
  s.headDim = cast<MemRefType>(op.getQ().getType()).getDimSize(3);
  s.valueDim = cast<MemRefType>(op.getV().getType()).getDimSize(3);
  return s;
}

std::pair<Value, Value> mlir::strata::flashKeyRange(OpBuilder &b, Location l,
                                                    const AttentionMask &mask,
                                                    Value aligned, Value keys) {
  Value zero = arith::ConstantIndexOp::create(b, l, 0);
  Value one = arith::ConstantIndexOp::create(b, l, 1);
  Value lo = zero, hi = keys;
  if (mask.causal)
    hi = arith::MinSIOp::create(b, l, keys,
                                arith::AddIOp::create(b, l, aligned, one));
  if (mask.window) {
    Value w = arith::ConstantIndexOp::create(b, l, *mask.window - 1);
    lo = arith::MaxSIOp::create(b, l, zero,
                                arith::SubIOp::create(b, l, aligned, w));
  }
  return {lo, hi};
}

OnlineSoftmaxStep mlir::strata::onlineSoftmaxStep(OpBuilder &b, Location l,
                                                  Value m, Value sum, Value x) {
  // One exponential per key: e = exp(-|x - m|) is the key's weight when
  // the maximum stays (x <= m), else the factor rescaling what came before
  // (the new key then weighs exp(0) = 1). On a row's first key m = -inf:
  // e = 0, so nothing is rescaled into the (empty) sums; a -inf score
  // while m is still -inf (overflowed q.k) weighs 0 instead of NaN.
  OnlineSoftmaxStep step;
  Value grows = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x, m);
  step.max = arith::SelectOp::create(b, l, grows, x, m);
  Value gap = math::AbsFOp::create(b, l, arith::SubFOp::create(b, l, x, m));
  Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, gap));
  Value unset = arith::CmpFOp::create(
      b, l, arith::CmpFPredicate::OEQ, m,
      f32Constant(b, l, -std::numeric_limits<double>::infinity()));
  e = arith::SelectOp::create(b, l, unset, f32Constant(b, l, 0), e);
  Value one = f32Constant(b, l, 1);
  step.rescale = arith::SelectOp::create(b, l, grows, e, one);
  step.weight = arith::SelectOp::create(b, l, grows, one, e);
  step.sum = arith::AddFOp::create(
      b, l, arith::MulFOp::create(b, l, sum, step.rescale), step.weight);
  return step;
}

AttentionMask mlir::strata::flashMask(kernel::FlashAttentionOp op) {
  return AttentionMask{op.getCausal(), op.getWindow(), op.getSparsityAttr()};
}

Value mlir::strata::flashFirstKey(OpBuilder &b, Location l,
                                  kernel::FlashAttentionOp op,
                                  Value batchIndex) {
  Value padding = op.getKeyPadding();
  if (!padding)
    return {};
  return loadIndex(b, l, padding, batchIndex);
}

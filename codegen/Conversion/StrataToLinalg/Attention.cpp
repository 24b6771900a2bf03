//===- Attention.cpp - rotary and attention to linalg -----------*- C++ -*-===//
//
// Rotary: the per-dim frequency, sign and partner tables (including YaRN's
// blended frequencies and mscale) are computed here at compile time, in
// double precision, so the kernel is one gather-and-rotate generic.
//
// Attention, materialised: scores = q.k * scale for every (batch, head,
// query, key), masked (codegen/AttentionUtils.h), softmax in f32 by max /
// exp / sum, then weights . v. Grouped KV heads are read through the
// indexing maps (kv head = h floordiv (H / KV)), never copied. With
// `flash-attention` the op becomes strata_kernel.flash_attention instead
// (online softmax, no scores), which each target lowers itself.
//
//===----------------------------------------------------------------------===//

#include "codegen/AttentionUtils.h"
#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"

#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::strata;
using namespace mlir::strata::detail;

namespace {

//===----------------------------------------------------------------------===//
// Rotary tables
//===----------------------------------------------------------------------===//

/// YaRN helpers, as in DeepSeek-V2/V3's reference implementation.
double yarnCorrectionDim(double rotations, double dim, double base,
                         double maxPos) {
  return dim * std::log(maxPos / (rotations * 2 * M_PI)) / (2 * std::log(base));
}

double yarnMscale(double scale, double mscale) {
  return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

/// Inverse frequencies of the rd/2 rotary pairs.
SmallVector<double> inverseFrequencies(RopeAttr rope, int64_t rd) {
  double theta = rope.getTheta().convertToDouble();
  double factor = rope.getFactor().convertToDouble();
  int64_t half = rd / 2;
  SmallVector<double> inv(half);
  for (int64_t i = 0; i < half; ++i)
    inv[i] = 1.0 / std::pow(theta, static_cast<double>(2 * i) / rd);
  if (rope.getScaling() == RopeScaling::Linear) {
    for (double &f : inv)
      f /= factor;
  } else if (rope.getScaling() == RopeScaling::Yarn) {
    double maxPos = static_cast<double>(rope.getOriginalMaxPosition());
    double low = std::floor(yarnCorrectionDim(
        rope.getBetaFast().convertToDouble(), rd, theta, maxPos));
    double high = std::ceil(yarnCorrectionDim(
        rope.getBetaSlow().convertToDouble(), rd, theta, maxPos));
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(rd - 1));
    if (low == high)
      high += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      double extrapolate = 1.0 - ramp; // weight of the unscaled frequency
      inv[i] = inv[i] / factor * (1 - extrapolate) + inv[i] * extrapolate;
    }
  }
  return inv;
}

/// cos/sin multiplier of YaRN (1 otherwise).
double rotaryMscale(RopeAttr rope) {
  if (rope.getScaling() != RopeScaling::Yarn)
    return 1.0;
  double factor = rope.getFactor().convertToDouble();
  return yarnMscale(factor, rope.getMscale().convertToDouble()) /
         yarnMscale(factor, rope.getMscaleAllDim().convertToDouble());
}

Value f32Table(OpBuilder &b, Location loc, ArrayRef<float> values) {
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    b.getF32Type());
  return arith::ConstantOp::create(b, loc, type,
                                   DenseElementsAttr::get(type, values));
}

Value indexTable(OpBuilder &b, Location loc, ArrayRef<int64_t> values) {
  auto type = RankedTensorType::get({static_cast<int64_t>(values.size())},
                                    b.getIndexType());
  return arith::ConstantOp::create(b, loc, type,
                                   DenseElementsAttr::get(type, values));
}

struct RotaryLowering : OpRewritePattern<RotaryOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RotaryOp op,
                                PatternRewriter &rewriter) const override {
    Value x = op.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    int64_t hd = op.getHeadDimAttr().getInt();
    int64_t rd = op.getRotaryDimAttr().getInt();
    int64_t pass = hd - rd, half = rd / 2;
    bool interleaved = op.getInterleaved();
    SmallVector<double> inv = inverseFrequencies(op.getRope(), rd);

    // Per dim of a head: frequency (0 for pass-through dims), the sign of
    // the partner's term, and the partner's offset.
    SmallVector<float> freq(hd, 0.0f), sign(hd, 0.0f);
    SmallVector<int64_t> delta(hd, 0);
    for (int64_t j = pass; j < hd; ++j) {
      int64_t r = j - pass;
      int64_t pair = interleaved ? r / 2 : r % half;
      bool first = interleaved ? r % 2 == 0 : r < half;
      int64_t partner = interleaved ? (r ^ 1) : (first ? r + half : r - half);
      freq[j] = static_cast<float>(inv[pair]);
      // The inverse rotation (the backward) negates the sine term.
      sign[j] = (first != op.getInverse()) ? -1.0f : 1.0f;
      delta[j] = partner - r;
    }
    Value freqT = f32Table(rewriter, loc, freq);
    Value signT = f32Table(rewriter, loc, sign);
    Value deltaT = indexTable(rewriter, loc, delta);
    float mscale = static_cast<float>(rotaryMscale(op.getRope()));

    AffineExpr c = getAffineDimExpr(2, ctx);
    AffineMap perDim = AffineMap::get(3, 0, {c % hd}, ctx);
    AffineMap identity = rewriter.getMultiDimIdentityMap(3);
    SmallVector<Value> inputs{x, freqT, signT, deltaT};
    SmallVector<AffineMap> maps{identity, perDim, perDim, perDim};
    if (Value pos = op.getPositions()) {
      inputs.push_back(pos);
      maps.push_back(AffineMap::get(
          3, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx)}, ctx));
    }
    Value init =
        emptyTensor(rewriter, loc, x, type.getShape(), type.getElementType());
    Value out = buildPointwise(
        rewriter, loc, inputs, maps, init,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value position;
          if (args.size() > 4) {
            position = arith::SIToFPOp::create(b, l, b.getF32Type(), args[4]);
          } else {
            Value s = linalg::IndexOp::create(b, l, 1);
            Value i64 = arith::IndexCastOp::create(b, l, b.getI64Type(), s);
            position = arith::UIToFPOp::create(b, l, b.getF32Type(), i64);
          }
          Value angle = arith::MulFOp::create(b, l, position, args[1]);
          Value scale = arith::ConstantOp::create(b, l, b.getF32Type(),
                                                  b.getF32FloatAttr(mscale));
          Value cos = arith::MulFOp::create(
              b, l, math::CosOp::create(b, l, angle), scale);
          Value sin = arith::MulFOp::create(
              b, l, math::SinOp::create(b, l, angle), scale);
          // Pass-through dims have frequency 0 and sign 0: x * 1 + 0.
          Value bIdx = linalg::IndexOp::create(b, l, 0);
          Value sIdx = linalg::IndexOp::create(b, l, 1);
          Value cIdx = linalg::IndexOp::create(b, l, 2);
          Value partnerIdx = arith::AddIOp::create(b, l, cIdx, args[3]);
          Value partner = tensor::ExtractOp::create(
              b, l, x, ValueRange{bIdx, sIdx, partnerIdx});
          Value rotated = arith::MulFOp::create(
              b, l, arith::MulFOp::create(b, l, partner, args[2]), sin);
          Value cosTerm = arith::MulFOp::create(b, l, args[0], cos);
          Value isPass = arith::CmpFOp::create(
              b, l, arith::CmpFPredicate::OEQ, args[2],
              arith::ConstantOp::create(b, l, b.getF32Type(),
                                        b.getF32FloatAttr(0.0f)));
          Value result = arith::AddFOp::create(b, l, cosTerm, rotated);
          return arith::SelectOp::create(b, l, isPass, args[0], result);
        });
    rewriter.replaceOp(op, out);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// Dynamic size `dim` of `v` (or the static one) as an index value.
Value dimOf(OpBuilder &b, Location loc, Value v, int64_t dim) {
  return tensor::DimOp::create(b, loc, v, dim);
}

/// What attention's forward and backward share: the heads and the mask.
struct AttentionParams {
  int64_t h, kvh, d, dv;
  double scale;
  AttentionMask mask;
  Value keyPadding;
  int64_t group() const { return h / kvh; }
};

/// Packed heads [B, S, heads * dim] viewed as [B, S, heads, dim], so every
/// loop dim appears plainly in some indexing map (linalg needs invertible
/// maps); a KV group is then h floordiv group in the k/v maps.
Value splitHeads(OpBuilder &b, Location loc, Value packed, int64_t heads,
                 int64_t dim) {
  auto t = cast<RankedTensorType>(packed.getType());
  auto type = RankedTensorType::get(
      {t.getDimSize(0), t.getDimSize(1), heads, dim}, b.getF32Type());
  return tensor::ExpandShapeOp::create(
      b, loc, type, packed, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
}

/// The materialised scores of q4 [B, S, H, D] against k4 [B, T, KVH, D]:
/// `probs[b, h, s, t]` = exp(masked scaled score - row max) and `rowSum`
/// [B, H, S] its sum over keys (softmax = probs / rowSum), with the sizes
/// and a filler for tensors of the same dims.
struct MaterializedScores {
  Value probs, rowSum;
  Value batch, queries, keys;
  int64_t batchSize, querySize, keySize;
  std::function<Value(RankedTensorType, ArrayRef<Value>, Value)> filled;
};

MaterializedScores buildScores(OpBuilder &b_, Location loc,
                               const AttentionParams &params, Value q,
                               Value k) {
  MLIRContext *ctx = b_.getContext();
  Type f32 = b_.getF32Type();
  auto qType = cast<RankedTensorType>(q.getType());
  int64_t h = params.h, group = params.group();
  MaterializedScores out;
  Value batch = dimOf(b_, loc, q, 0);
  Value queries = dimOf(b_, loc, q, 1);
  Value keys = dimOf(b_, loc, k, 1);
  int64_t batchSize = qType.getDimSize(0), querySize = qType.getDimSize(1);
  int64_t keySize = cast<RankedTensorType>(k.getType()).getDimSize(1);
  // A tensor of `type` filled with `value`; `sizes` holds each dim's
  // runtime size (null for dims that are always static), used where the
  // type has the dim dynamic.
  // Captures by value: the filler outlives this function.
  auto filled = [&b_, loc, f32](RankedTensorType type, ArrayRef<Value> sizes,
                                Value value) -> Value {
    SmallVector<Value> dynamic;
    for (auto [dim, size] : llvm::zip_equal(type.getShape(), sizes))
      if (ShapedType::isDynamic(dim))
        dynamic.push_back(size);
    Value empty =
        tensor::EmptyOp::create(b_, loc, type.getShape(), f32, dynamic);
    return linalg::FillOp::create(b_, loc, value, empty).getResult(0);
  };

  // scores[b, h, s, t] = scale * sum_d q[b, s, h*D + d] * k[b, t, g(h)*D + d]
  auto scoresType =
      RankedTensorType::get({batchSize, h, querySize, keySize}, f32);
  Value zero = f32Constant(b_, loc, 0.0);
  Value scoresInit = filled(scoresType, {batch, Value(), queries, keys}, zero);
  AffineExpr bE = getAffineDimExpr(0, ctx), hE = getAffineDimExpr(1, ctx),
             sE = getAffineDimExpr(2, ctx), tE = getAffineDimExpr(3, ctx),
             dE = getAffineDimExpr(4, ctx);
  SmallVector<utils::IteratorType> qkIters(5, utils::IteratorType::parallel);
  qkIters.back() = utils::IteratorType::reduction;
  Value scores =
      linalg::GenericOp::create(b_, loc, TypeRange{scoresType},
                                ValueRange{q, k}, ValueRange{scoresInit},
                                ArrayRef<AffineMap>{
                                    AffineMap::get(5, 0, {bE, sE, hE, dE}, ctx),
                                    AffineMap::get(
                                        5, 0, {bE, tE, hE.floorDiv(group), dE},
                                        ctx),
                                    AffineMap::get(5, 0, {bE, hE, sE, tE},
                                                   ctx)},
                                qkIters,
                                [&](OpBuilder &b, Location l, ValueRange args) {
                                  Value prod = arith::MulFOp::create(
                                      b, l, args[0], args[1]);
                                  linalg::YieldOp::create(
                                      b, l,
                                      ValueRange{arith::AddFOp::create(
                                          b, l, args[2], prod)});
                                })
          .getResult(0);

  // Scale and mask. Queries are aligned to the end of the keys (decode).
  Value scale = f32Constant(b_, loc, params.scale);
  Value negInf = f32Constant(b_, loc, -std::numeric_limits<float>::infinity());
  Value offset = arith::SubIOp::create(b_, loc, keys, queries);
  const AttentionMask &mask = params.mask;
  // Each batch row's leading padding keys are hidden from all queries.
  SmallVector<Value> maskInputs{scores};
  SmallVector<AffineMap> maskMaps{b_.getMultiDimIdentityMap(4)};
  if (Value padding = params.keyPadding) {
    maskInputs.push_back(padding);
    maskMaps.push_back(AffineMap::get(4, 0, {bE}, ctx));
  }
  Value masked = buildPointwise(
      b_, loc, maskInputs, maskMaps, scoresInit,
      [&](OpBuilder &b, Location l, ValueRange args) -> Value {
        Value s = linalg::IndexOp::create(b, l, 2);
        Value t = linalg::IndexOp::create(b, l, 3);
        Value aligned = arith::AddIOp::create(b, l, s, offset);
        // Row b's first real key (key padding), null without padding.
        Value first = args.size() > 1 ? Value(arith::IndexCastOp::create(
                                            b, l, b.getIndexType(), args[1]))
                                      : Value();
        Value keep = attentionKeyVisible(b, l, mask, aligned, t, first, keys);
        Value scaled = arith::MulFOp::create(b, l, args[0], scale);
        return arith::SelectOp::create(b, l, keep, scaled, negInf);
      });

  // Row max and sum of exponentials over keys.
  auto rowType = RankedTensorType::get({batchSize, h, querySize}, f32);
  auto rowInit = [&](Value fill) -> Value {
    return filled(rowType, {batch, Value(), queries}, fill);
  };
  AffineMap id4 = b_.getMultiDimIdentityMap(4);
  AffineMap row4 = AffineMap::get(4, 0, {bE, hE, sE}, ctx);
  SmallVector<utils::IteratorType> rowIters(4, utils::IteratorType::parallel);
  rowIters.back() = utils::IteratorType::reduction;
  // Each score row reduced into `init` by `combine(element, acc)`.
  using Combine = Value (*)(OpBuilder &, Location, Value, Value);
  auto reduceRows = [&](Value in, Value init, Combine combine) -> Value {
    return buildGeneric(b_, loc, {in}, init, {id4, row4}, rowIters,
                        [&](OpBuilder &b, Location l, ValueRange args) {
                          return combine(b, l, args[0], args[1]);
                        });
  };
  Value rowMax = reduceRows(
      masked, rowInit(negInf),
      [](OpBuilder &b, Location l, Value x, Value acc) -> Value {
        return arith::MaximumFOp::create(b, l, x, acc);
      });
  Value probs =
      buildPointwise(b_, loc, {masked, rowMax}, {id4, row4}, scoresInit,
                     [&](OpBuilder &b, Location l, ValueRange args) -> Value {
                       return math::ExpOp::create(
                           b, l, arith::SubFOp::create(b, l, args[0], args[1]));
                     });
  Value rowSum =
      reduceRows(probs, rowInit(zero),
                 [](OpBuilder &b, Location l, Value x, Value acc) -> Value {
                   return arith::AddFOp::create(b, l, x, acc);
                 });

  out.probs = probs;
  out.rowSum = rowSum;
  out.batch = batch;
  out.queries = queries;
  out.keys = keys;
  out.batchSize = batchSize;
  out.querySize = querySize;
  out.keySize = keySize;
  out.filled = filled;
  return out;
}

/// Attention dropout's factor per weight, [B, H, S, T]: 1/(1-p) where the
/// counter-based generator keeps (b, h, s, t), 0 where it drops; keyed by
/// (seed, salt; step, the linear index in [B, H, S, T], the bits of
/// q4[b, s, h, 0]) as strata.attention documents. q4 is q split as
/// [B, S, H, D]. The forward and the backward build the same factors.
Value dropoutFactors(OpBuilder &b, Location loc, const MaterializedScores &sc,
                     Value q4, Value step, int64_t h, double p, int64_t seed,
                     int64_t salt) {
  MLIRContext *ctx = b.getContext();
  Type i64 = b.getI64Type(), f32 = b.getF32Type();
  auto asI64 = [&](Value index) {
    return arith::IndexCastOp::create(b, loc, i64, index).getResult();
  };
  SmallVector<Value> sizes{
      asI64(sc.batch),
      arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(h)),
      asI64(sc.queries), asI64(sc.keys)};
  Value init = sc.filled(
      RankedTensorType::get({sc.batchSize, h, sc.querySize, sc.keySize}, f32),
      {sc.batch, Value(), sc.queries, sc.keys}, f32Constant(b, loc, 0.0));
  AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
             d2 = getAffineDimExpr(2, ctx);
  AffineMap qMap =
      AffineMap::get(4, 0, {d0, d2, d1, getAffineConstantExpr(0, ctx)}, ctx);
  return buildPointwise(
      b, loc, {q4, step}, {qMap, AffineMap::get(4, 0, {}, ctx)}, init,
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value index = linearIndex(nb, l, sizes);
        Value keep =
            dropoutKeeps(nb, l, args[0], index, args[1], seed, salt, p);
        return arith::SelectOp::create(nb, l, keep,
                                       f32Constant(nb, l, 1.0 / (1.0 - p)),
                                       f32Constant(nb, l, 0.0));
      });
}

/// x * factors, both [B, H, S, T].
Value scaleScores(OpBuilder &b, Location loc, Value x, Value factors,
                  Value init) {
  AffineMap id4 = b.getMultiDimIdentityMap(4);
  return buildPointwise(b, loc, {x, factors}, {id4, id4}, init,
                        [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                          return arith::MulFOp::create(nb, l, a[0], a[1]);
                        });
}

struct AttentionLowering : OpRewritePattern<AttentionOp> {
  AttentionLowering(MLIRContext *ctx, bool flash)
      : OpRewritePattern(ctx), flash(flash) {}
  bool flash;

  /// The kernel-level form: strata_kernel.flash_attention into an empty
  /// [B, S, H, Dv] destination, on the split views.
  Value buildFlash(PatternRewriter &rewriter, AttentionOp op, Value q, Value k,
                   Value v) const {
    Location loc = op.getLoc();
    auto qType = cast<RankedTensorType>(q.getType());
    auto vType = cast<RankedTensorType>(v.getType());
    Value init = emptyTensor(rewriter, loc, q,
                             {qType.getDimSize(0), qType.getDimSize(1),
                              qType.getDimSize(2), vType.getDimSize(3)},
                             rewriter.getF32Type());
    return kernel::FlashAttentionOp::create(
               rewriter, loc, TypeRange{init.getType()}, q, k, v,
               op.getKeyPadding(), init,
               rewriter.getF64FloatAttr(op.getSoftmaxScale()),
               rewriter.getBoolAttr(op.getCausal()), op.getWindowAttr(),
               op.getSparsityAttr())
        .getResult()
        .front();
  }

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Value q = op.getQ(), k = op.getK(), v = op.getV();
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    BlockSparseAttr layout = op.getSparsityAttr();
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type f32 = rewriter.getF32Type();
    int64_t h = op.getNumHeadsAttr().getInt();
    int64_t kvh = op.getNumKvHeadsAttr().getInt();
    int64_t d = op.getHeadDimAttr().getInt();
    int64_t dv = op.getVHeadDimAttr().getInt();
    int64_t group = h / kvh;

    // View the packed heads as [B, S, heads, dim] so every loop dim appears
    // plainly in some indexing map (linalg needs invertible maps); the KV
    // group is then just h floordiv group in the k/v maps.
    q = splitHeads(rewriter, loc, q, h, d);
    k = splitHeads(rewriter, loc, k, kvh, d);
    v = splitHeads(rewriter, loc, v, kvh, dv);
    // Training with dropout materialises the weights to mask them.
    double dropout = op.getStep() ? op.getDropout().convertToDouble() : 0.0;
    if (flash && dropout == 0.0) {
      rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(
          op, op.getType(), buildFlash(rewriter, op, q, k, v),
          ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
      return success();
    }

    AttentionParams params{
        h,
        kvh,
        d,
        dv,
        op.getSoftmaxScale(),
        AttentionMask{op.getCausal(), op.getWindow(), layout},
        op.getKeyPadding()};
    MaterializedScores scores = buildScores(rewriter, loc, params, q, k);
    Value probs = scores.probs, rowSum = scores.rowSum;
    Value batch = scores.batch, queries = scores.queries;
    int64_t batchSize = scores.batchSize, querySize = scores.querySize;
    auto filled = scores.filled;
    Value zero = f32Constant(rewriter, loc, 0.0);
    AffineMap id4 = rewriter.getMultiDimIdentityMap(4);
    // Dropping unnormalised weights and dividing by the full row sum below
    // drops the normalised ones.
    if (dropout > 0.0)
      probs = scaleScores(
          rewriter, loc, probs,
          dropoutFactors(rewriter, loc, scores, q, op.getStep(), h, dropout,
                         static_cast<int64_t>(op.getSeed()),
                         static_cast<int64_t>(op.getSalt())),
          emptyTensor(rewriter, loc, probs,
                      cast<RankedTensorType>(probs.getType()).getShape(), f32));
    // out[b, s, h, e] = (sum_t probs[b, h, s, t] * v[b, t, g(h)*Dv + e]) / sum:
    // a plain contraction (which the targets tile or vectorise), then one
    // division per output instead of one per product.
    auto outType = RankedTensorType::get({batchSize, querySize, h, dv}, f32);
    Value outInit = filled(outType, {batch, queries, Value(), Value()}, zero);
    // dims: b, s, h, e, t
    AffineExpr b5 = getAffineDimExpr(0, ctx), s5 = getAffineDimExpr(1, ctx),
               h5 = getAffineDimExpr(2, ctx), e5 = getAffineDimExpr(3, ctx),
               t5 = getAffineDimExpr(4, ctx);
    SmallVector<utils::IteratorType> pvIters(5, utils::IteratorType::parallel);
    pvIters.back() = utils::IteratorType::reduction;
    Value weighted = linalg::GenericOp::create(
                         rewriter, loc, TypeRange{outType},
                         ValueRange{probs, v}, ValueRange{outInit},
                         ArrayRef<AffineMap>{
                             AffineMap::get(5, 0, {b5, h5, s5, t5}, ctx),
                             AffineMap::get(
                                 5, 0, {b5, t5, h5.floorDiv(group), e5}, ctx),
                             AffineMap::get(5, 0, {b5, s5, h5, e5}, ctx)},
                         pvIters,
                         [&](OpBuilder &b, Location l, ValueRange args) {
                           Value prod =
                               arith::MulFOp::create(b, l, args[0], args[1]);
                           linalg::YieldOp::create(
                               b, l,
                               ValueRange{
                                   arith::AddFOp::create(b, l, args[2], prod)});
                         })
                         .getResult(0);
    AffineExpr b4 = getAffineDimExpr(0, ctx), s4 = getAffineDimExpr(1, ctx),
               h4 = getAffineDimExpr(2, ctx);
    Value out4 =
        buildPointwise(rewriter, loc, {weighted, rowSum},
                       {id4, AffineMap::get(4, 0, {b4, h4, s4}, ctx)},
                       emptyTensor(rewriter, loc, weighted,
                                   {batchSize, querySize, h, dv}, f32),
                       [&](OpBuilder &b, Location l, ValueRange args) -> Value {
                         return arith::DivFOp::create(b, l, args[0], args[1]);
                       });
    auto resultType = cast<RankedTensorType>(op.getType());
    Value out = tensor::CollapseShapeOp::create(
        rewriter, loc, resultType, out4,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
    rewriter.replaceOp(op, out);
    return success();
  }
};

/// The backward of attention from the recomputed probabilities (see
/// strata.attention_backward); with the forward's masks.
struct AttentionBackwardLowering : OpRewritePattern<AttentionBackwardOp> {
  using OpRewritePattern::OpRewritePattern;

  /// A contraction into a fresh zero tensor of `type`: out += a * b.
  static Value contract(OpBuilder &b, Location loc, Value x, Value y,
                        ArrayRef<AffineMap> maps, unsigned reductionDim,
                        Value init) {
    SmallVector<utils::IteratorType> iters(maps.front().getNumDims(),
                                           utils::IteratorType::parallel);
    iters[reductionDim] = utils::IteratorType::reduction;
    return buildGeneric(b, loc, ValueRange{x, y}, init, maps, iters,
                        [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                          return arith::AddFOp::create(
                              nb, nl, a[2],
                              arith::MulFOp::create(nb, nl, a[0], a[1]));
                        });
  }

  /// [B, T, H, E] per query head -> [B, T, KVH, E], summing each KV group.
  static Value sumGroups(OpBuilder &b, Location loc, Value perHead, int64_t kvh,
                         int64_t group, Value init) {
    auto t = cast<RankedTensorType>(perHead.getType());
    auto grouped = RankedTensorType::get(
        {t.getDimSize(0), t.getDimSize(1), kvh, group, t.getDimSize(3)},
        b.getF32Type());
    Value expanded = tensor::ExpandShapeOp::create(
        b, loc, grouped, perHead,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}, {4}});
    MLIRContext *ctx = b.getContext();
    SmallVector<utils::IteratorType> iters(5, utils::IteratorType::parallel);
    iters[3] = utils::IteratorType::reduction;
    return buildGeneric(
        b, loc, ValueRange{expanded}, init,
        {b.getMultiDimIdentityMap(5), dimsMap(ctx, 5, {0, 1, 2, 4})}, iters,
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return arith::AddFOp::create(nb, nl, a[0], a[1]).getResult();
        });
  }

  LogicalResult matchAndRewrite(AttentionBackwardOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type f32 = rewriter.getF32Type();
    int64_t h = op.getNumHeads(), kvh = op.getNumKvHeads(), d = op.getHeadDim(),
            dv = op.getVHeadDim();
    AttentionParams params{
        h,
        kvh,
        d,
        dv,
        op.getSoftmaxScale(),
        AttentionMask{op.getCausal(), op.getWindow(), op.getSparsityAttr()},
        op.getKeyPadding()};
    int64_t group = params.group();
    Value q = splitHeads(rewriter, loc, op.getQ(), h, d);
    Value k = splitHeads(rewriter, loc, op.getK(), kvh, d);
    Value v = splitHeads(rewriter, loc, op.getV(), kvh, dv);
    Value dO = splitHeads(rewriter, loc, op.getResultGrad(), h, dv);
    MaterializedScores sc = buildScores(rewriter, loc, params, q, k);
    Value zero = f32Constant(rewriter, loc, 0.0);
    int64_t B = sc.batchSize, S = sc.querySize, T = sc.keySize;
    auto zeros = [&](ArrayRef<int64_t> shape, ArrayRef<Value> sizes) {
      return sc.filled(RankedTensorType::get(shape, f32), sizes, zero);
    };
    Value scoresZero =
        zeros({B, h, S, T}, {sc.batch, Value(), sc.queries, sc.keys});
    AffineMap id4 = rewriter.getMultiDimIdentityMap(4);
    AffineMap row4 = dimsMap(ctx, 4, {0, 1, 2});
    // P = probs / rowSum.
    Value p = buildPointwise(
        rewriter, loc, {sc.probs, sc.rowSum}, {id4, row4}, scoresZero,
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::DivFOp::create(b, l, a[0], a[1]);
        });
    AffineExpr e0 = getAffineDimExpr(0, ctx), e1 = getAffineDimExpr(1, ctx),
               e2 = getAffineDimExpr(2, ctx), e3 = getAffineDimExpr(3, ctx),
               e4 = getAffineDimExpr(4, ctx);
    auto map5 = [&](ArrayRef<AffineExpr> exprs) {
      return AffineMap::get(5, 0, exprs, ctx);
    };
    // dP[b, h, s, t] = sum_e dO[b, s, h, e] v[b, t, g(h), e]: dims b h s t e.
    Value dP = contract(rewriter, loc, dO, v,
                        {map5({e0, e2, e1, e4}),
                         map5({e0, e3, e1.floorDiv(group), e4}),
                         map5({e0, e1, e2, e3})},
                        4, scoresZero);
    // With dropout the forward's output read P M: v's gradient reads the
    // masked weights, and the weights' gradient is dP M.
    Value pv = p;
    double dropout = op.getStep() ? op.getDropout().convertToDouble() : 0.0;
    if (dropout > 0.0) {
      Value factors =
          dropoutFactors(rewriter, loc, sc, q, op.getStep(), h, dropout,
                         static_cast<int64_t>(op.getSeed()),
                         static_cast<int64_t>(op.getSalt()));
      pv = scaleScores(rewriter, loc, p, factors, scoresZero);
      dP = scaleScores(rewriter, loc, dP, factors, scoresZero);
    }
    // dS = P (dP - sum_t P dP), scaled: the gradient of the raw q.k.
    Value rowDot = buildGeneric(
        rewriter, loc, ValueRange{p, dP},
        zeros({B, h, S}, {sc.batch, Value(), sc.queries}), {id4, id4, row4},
        {utils::IteratorType::parallel, utils::IteratorType::parallel,
         utils::IteratorType::parallel, utils::IteratorType::reduction},
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::AddFOp::create(b, l, a[2],
                                       arith::MulFOp::create(b, l, a[0], a[1]));
        });
    Value scale = f32Constant(rewriter, loc, params.scale);
    Value dS = buildPointwise(
        rewriter, loc, {p, dP, rowDot}, {id4, id4, row4}, scoresZero,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value diff = arith::SubFOp::create(b, l, a[1], a[2]);
          return arith::MulFOp::create(
              b, l, arith::MulFOp::create(b, l, a[0], diff), scale);
        });
    // dQ[b, s, h, d] = sum_t dS[b, h, s, t] k[b, t, g(h), d]: dims b s h d t.
    Value dQ = contract(
        rewriter, loc, dS, k,
        {map5({e0, e2, e1, e4}), map5({e0, e4, e2.floorDiv(group), e3}),
         map5({e0, e1, e2, e3})},
        4, zeros({B, S, h, d}, {sc.batch, sc.queries, Value(), Value()}));
    // Per query head, then summed over each KV group:
    // dK[b, t, h, d] = sum_s dS[b, h, s, t] q[b, s, h, d]: dims b t h d s;
    // dV[b, t, h, e] = sum_s P[b, h, s, t] dO[b, s, h, e].
    auto perHead = [&](Value scores, Value x, int64_t width) {
      return contract(
          rewriter, loc, scores, x,
          {map5({e0, e2, e4, e1}), map5({e0, e4, e2, e3}),
           map5({e0, e1, e2, e3})},
          4, zeros({B, T, h, width}, {sc.batch, sc.keys, Value(), Value()}));
    };
    Value dK =
        sumGroups(rewriter, loc, perHead(dS, q, d), kvh, group,
                  zeros({B, T, kvh, d}, {sc.batch, sc.keys, Value(), Value()}));
    Value dV = sumGroups(
        rewriter, loc, perHead(pv, dO, dv), kvh, group,
        zeros({B, T, kvh, dv}, {sc.batch, sc.keys, Value(), Value()}));
    auto pack = [&](Value x, Type type) -> Value {
      return tensor::CollapseShapeOp::create(
          rewriter, loc, cast<RankedTensorType>(type), x,
          ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
    };
    rewriter.replaceOp(op, {pack(dQ, op.getQ().getType()),
                            pack(dK, op.getK().getType()),
                            pack(dV, op.getV().getType())});
    return success();
  }
};

/// The channels [offset, offset + size) of `x`'s last dim (any rank).
Value sliceLastDim(OpBuilder &b, Location loc, Value x, int64_t offset,
                   int64_t size) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes,
      strides(rank, b.getIndexAttr(1));
  offsets.back() = b.getIndexAttr(offset);
  SmallVector<int64_t> shape(type.getShape());
  shape.back() = size;
  for (int64_t i = 0; i + 1 < rank; ++i)
    sizes.push_back(
        type.isDynamicDim(i)
            ? OpFoldResult(tensor::DimOp::create(b, loc, x, i).getResult())
            : OpFoldResult(b.getIndexAttr(type.getDimSize(i))));
  sizes.push_back(b.getIndexAttr(size));
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), x, offsets,
      sizes, strides);
}

/// Multi-head latent attention becomes strata ops (projections, norms,
/// rotary, channel_slice, latent_kv_heads, attention) that the other
/// patterns lower: LatentAttentionOp::decompose, which its gradient rule
/// shares. A decode step expands the cached latent of every position;
/// absorbing kv_b into q and o instead is an optimisation still to come.
struct LatentAttentionDecomposition : OpRewritePattern<LatentAttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LatentAttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    rewriter.replaceOp(op, op.decompose(rewriter));
    return success();
  }
};

struct ChannelSliceLowering : OpRewritePattern<ChannelSliceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ChannelSliceOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    rewriter.replaceOp(op,
                       sliceLastDim(rewriter, op.getLoc(), op.getInput(),
                                    op.getOffset(), type.getShape().back()));
    return success();
  }
};

/// Zeros of the input's type with the gradient inserted at the offset.
struct ChannelSliceBackwardLowering : OpRewritePattern<ChannelSliceBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ChannelSliceBackwardOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value grad = op.getResultGrad();
    auto type = cast<RankedTensorType>(op.getType());
    auto gradType = cast<RankedTensorType>(grad.getType());
    int64_t rank = type.getRank();
    Value zeros = filledTensor(rewriter, loc, grad, type.getShape(),
                               type.getElementType(), 0.0);
    SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0)), sizes,
        strides(rank, rewriter.getIndexAttr(1));
    offsets.back() = rewriter.getIndexAttr(op.getOffset());
    for (int64_t i = 0; i < rank; ++i)
      sizes.push_back(
          gradType.isDynamicDim(i)
              ? OpFoldResult(
                    tensor::DimOp::create(rewriter, loc, grad, i).getResult())
              : OpFoldResult(rewriter.getIndexAttr(gradType.getDimSize(i))));
    rewriter.replaceOpWithNewOp<tensor::InsertSliceOp>(op, grad, zeros, offsets,
                                                       sizes, strides);
    return success();
  }
};

Value indexConstant(OpBuilder &b, Location l, int64_t v) {
  return arith::ConstantIndexOp::create(b, l, v);
}

/// Per-head keys [k_nope | shared k_rope] and values gathered from the
/// expanded latent, one generic each.
struct LatentKVHeadsLowering : OpRewritePattern<LatentKVHeadsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LatentKVHeadsOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    Value kv = op.getKv(), kpe = op.getRopeKey();
    int64_t h = op.getNumHeads(), nope = op.getQkNopeHeadDim(),
            vd = op.getVHeadDim();
    int64_t rope = cast<RankedTensorType>(kpe.getType()).getShape().back();
    int64_t qk = nope + rope, stride = nope + vd, kvLast = h * stride - 1;
    Type f32 = rewriter.getF32Type();
    auto kType = cast<RankedTensorType>(op.getK().getType());
    auto vType = cast<RankedTensorType>(op.getV().getType());
    auto idx = indexConstant;
    // k[b, s, h*qk + j] = j < nope ? kv[b, s, h*stride + j]
    //                              : kpe[b, s, j - nope]
    Value k = buildPointwise(
        rewriter, loc, {}, {},
        emptyTensor(rewriter, loc, kv, kType.getShape(), f32),
        [&](OpBuilder &b, Location l, ValueRange) -> Value {
          Value bi = linalg::IndexOp::create(b, l, 0);
          Value si = linalg::IndexOp::create(b, l, 1);
          Value c = linalg::IndexOp::create(b, l, 2);
          Value head = arith::DivUIOp::create(b, l, c, idx(b, l, qk));
          Value j = arith::RemUIOp::create(b, l, c, idx(b, l, qk));
          Value isNope = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                               j, idx(b, l, nope));
          // Both reads stay in bounds; the select keeps the right one.
          Value kvIdx = arith::MinUIOp::create(
              b, l,
              arith::AddIOp::create(
                  b, l, arith::MulIOp::create(b, l, head, idx(b, l, stride)),
                  j),
              idx(b, l, kvLast));
          Value peIdx = arith::SubIOp::create(
              b, l, arith::MaxUIOp::create(b, l, j, idx(b, l, nope)),
              idx(b, l, nope));
          Value fromKv =
              tensor::ExtractOp::create(b, l, kv, ValueRange{bi, si, kvIdx});
          Value fromPe =
              tensor::ExtractOp::create(b, l, kpe, ValueRange{bi, si, peIdx});
          return arith::SelectOp::create(b, l, isNope, fromKv, fromPe);
        });
    // v[b, s, h*vd + e] = kv[b, s, h*stride + nope + e]
    Value v = buildPointwise(
        rewriter, loc, {}, {},
        emptyTensor(rewriter, loc, kv, vType.getShape(), f32),
        [&](OpBuilder &b, Location l, ValueRange) -> Value {
          Value c = linalg::IndexOp::create(b, l, 2);
          Value head = arith::DivUIOp::create(b, l, c, idx(b, l, vd));
          Value e = arith::RemUIOp::create(b, l, c, idx(b, l, vd));
          Value src = arith::AddIOp::create(
              b, l, arith::MulIOp::create(b, l, head, idx(b, l, stride)),
              arith::AddIOp::create(b, l, e, idx(b, l, nope)));
          return tensor::ExtractOp::create(
              b, l, kv,
              ValueRange{linalg::IndexOp::create(b, l, 0),
                         linalg::IndexOp::create(b, l, 1), src});
        });
    rewriter.replaceOp(op, {k, v});
    return success();
  }
};

/// The transpose of latent_kv_heads: kv_grad gathers each head's key nope
/// part and value gradient back into kv's layout; rope_key_grad sums the
/// rope part of every head's key gradient.
struct LatentKVHeadsBackwardLowering
    : OpRewritePattern<LatentKVHeadsBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LatentKVHeadsBackwardOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value dk = op.getKGrad(), dv = op.getVGrad();
    int64_t h = op.getNumHeads(), nope = op.getQkNopeHeadDim(),
            vd = op.getVHeadDim();
    auto kvType = cast<RankedTensorType>(op.getKvGrad().getType());
    auto ropeType = cast<RankedTensorType>(op.getRopeKeyGrad().getType());
    int64_t rope = ropeType.getShape().back();
    int64_t qk = nope + rope, stride = nope + vd;
    Type f32 = rewriter.getF32Type();
    auto idx = indexConstant;
    // kv_grad[b, t, h*stride + j] = j < nope ? dk[b, t, h*qk + j]
    //                                        : dv[b, t, h*vd + j - nope]
    Value dkv = buildPointwise(
        rewriter, loc, {}, {},
        emptyTensor(rewriter, loc, dk, kvType.getShape(), f32),
        [&](OpBuilder &b, Location l, ValueRange) -> Value {
          Value bi = linalg::IndexOp::create(b, l, 0);
          Value ti = linalg::IndexOp::create(b, l, 1);
          Value c = linalg::IndexOp::create(b, l, 2);
          Value head = arith::DivUIOp::create(b, l, c, idx(b, l, stride));
          Value j = arith::RemUIOp::create(b, l, c, idx(b, l, stride));
          Value isNope = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                               j, idx(b, l, nope));
          // Both reads stay in bounds; the select keeps the right one.
          Value kIdx = arith::AddIOp::create(
              b, l, arith::MulIOp::create(b, l, head, idx(b, l, qk)),
              arith::MinUIOp::create(b, l, j, idx(b, l, nope - 1)));
          Value vIdx = arith::AddIOp::create(
              b, l, arith::MulIOp::create(b, l, head, idx(b, l, vd)),
              arith::SubIOp::create(
                  b, l, arith::MaxUIOp::create(b, l, j, idx(b, l, nope)),
                  idx(b, l, nope)));
          Value fromK =
              tensor::ExtractOp::create(b, l, dk, ValueRange{bi, ti, kIdx});
          Value fromV =
              tensor::ExtractOp::create(b, l, dv, ValueRange{bi, ti, vIdx});
          return arith::SelectOp::create(b, l, isNope, fromK, fromV);
        });
    // rope_key_grad[b, t, r] = sum_h dk[b, t, h, nope + r]: dims b t r h.
    auto dkType = cast<RankedTensorType>(dk.getType());
    auto perHead = RankedTensorType::get(
        {dkType.getDimSize(0), dkType.getDimSize(1), h, qk}, f32);
    Value expanded = tensor::ExpandShapeOp::create(
        rewriter, loc, perHead, dk,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
    Value ropePart = sliceLastDim(rewriter, loc, expanded, nope, rope);
    SmallVector<utils::IteratorType> iters(4, utils::IteratorType::parallel);
    iters[3] = utils::IteratorType::reduction;
    Value dkpe = buildGeneric(
        rewriter, loc, ValueRange{ropePart},
        filledTensor(rewriter, loc, dk, ropeType.getShape(), f32, 0.0),
        {dimsMap(ctx, 4, {0, 1, 3, 2}), dimsMap(ctx, 4, {0, 1, 2})}, iters,
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::AddFOp::create(b, l, a[0], a[1]);
        });
    rewriter.replaceOp(op, {dkv, dkpe});
    return success();
  }
};

} // namespace

void mlir::strata::populateAttentionToLinalgPatterns(
    RewritePatternSet &patterns, bool flash) {
  patterns
      .add<RotaryLowering, LatentAttentionDecomposition, ChannelSliceLowering,
           ChannelSliceBackwardLowering, LatentKVHeadsLowering,
           LatentKVHeadsBackwardLowering, AttentionBackwardLowering>(
          patterns.getContext());
  patterns.add<AttentionLowering>(patterns.getContext(), flash);
}

//===- Gradients.cpp - the backward ops to linalg ---------------*- C++ -*-===//
//
// The *_backward ops strata-autodiff emits, on tensors like the forward
// patterns: reductions as linalg.generic, the embedding's scatter-add as a
// loop over token positions that adds each position's row into the table's
// gradient (work proportional to the tokens, not to the vocabulary).
//
//===----------------------------------------------------------------------===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::strata;
using namespace mlir::strata::detail;

namespace {

using utils::IteratorType;

Value constant(OpBuilder &b, Location loc, double v) {
  return f32Constant(b, loc, v);
}
Value mul(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MulFOp::create(b, loc, x, y);
}
Value add(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, x, y);
}
Value sub(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::SubFOp::create(b, loc, x, y);
}
Value sigmoid(OpBuilder &b, Location loc, Value x) {
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, constant(b, loc, 1.0),
                               add(b, loc, constant(b, loc, 1.0), e));
}
/// d silu(x) / dx = s (1 + x (1 - s)), s = sigmoid(x).
Value siluDerivative(OpBuilder &b, Location loc, Value x) {
  Value s = sigmoid(b, loc, x);
  Value oneMinus = sub(b, loc, constant(b, loc, 1.0), s);
  return mul(b, loc, s,
             add(b, loc, constant(b, loc, 1.0), mul(b, loc, x, oneMinus)));
}
Value geluDerivative(OpBuilder &b, Location loc, Value x, bool tanhApprox) {
  auto c = [&](double v) { return constant(b, loc, v); };
  if (tanhApprox) {
    // 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 a x^2), t = tanh(k (x + a x^3))
    double k = std::sqrt(2.0 / M_PI), a = 0.044715;
    Value x2 = mul(b, loc, x, x);
    Value u = mul(b, loc, c(k), add(b, loc, x, mul(b, loc, c(a),
                                                     mul(b, loc, x2, x))));
    Value t = math::TanhOp::create(b, loc, u);
    Value left = mul(b, loc, c(0.5), add(b, loc, c(1.0), t));
    Value du = mul(b, loc, c(k), add(b, loc, c(1.0), mul(b, loc, c(3 * a), x2)));
    Value right = mul(b, loc, mul(b, loc, c(0.5), x),
                      mul(b, loc, sub(b, loc, c(1.0), mul(b, loc, t, t)), du));
    return add(b, loc, left, right);
  }
  // Phi(x) + x phi(x)
  Value cdf = mul(b, loc, c(0.5),
                  add(b, loc, c(1.0),
                      math::ErfOp::create(b, loc, mul(b, loc, x, c(M_SQRT1_2)))));
  Value pdf = mul(b, loc, c(1.0 / std::sqrt(2 * M_PI)),
                  math::ExpOp::create(b, loc,
                                      mul(b, loc, c(-0.5), mul(b, loc, x, x))));
  return add(b, loc, cdf, mul(b, loc, x, pdf));
}

/// Iterators: parallel except the listed dims.
SmallVector<IteratorType> iteratorsReducing(unsigned rank,
                                            ArrayRef<unsigned> reduced) {
  SmallVector<IteratorType> it(rank, IteratorType::parallel);
  for (unsigned d : reduced)
    it[d] = IteratorType::reduction;
  return it;
}

SmallVector<unsigned> range(unsigned begin, unsigned end) {
  SmallVector<unsigned> r;
  for (unsigned i = begin; i < end; ++i)
    r.push_back(i);
  return r;
}

/// Sums `body(args)` over the last dim of rank-`rank` inputs into a row
/// tensor shaped like `like` without its last dim.
Value rowSum(OpBuilder &b, Location loc, ValueRange inputs, Value like,
             unsigned rank,
             llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> term) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(like.getType());
  Value init = filledTensor(b, loc, like, type.getShape().drop_back(),
                            b.getF32Type(), 0.0);
  SmallVector<AffineMap> maps(inputs.size(), b.getMultiDimIdentityMap(rank));
  maps.push_back(dimsMap(ctx, rank, range(0, rank - 1)));
  return buildGeneric(b, loc, inputs, init, maps,
                      iteratorsReducing(rank, {rank - 1}),
                      [&](OpBuilder &nb, Location nl, ValueRange args) {
                        return add(nb, nl, args.back(),
                                   term(nb, nl, args.drop_back()));
                      });
}

struct LinearBackwardLowering : OpRewritePattern<LinearBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearBackwardOp op,
                                PatternRewriter &b) const override {
    if (!isF32Only(op))
      return b.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Value x = op.getInput(), w = op.getWeight(), dy = op.getResultGrad();
    auto xType = cast<RankedTensorType>(x.getType());
    auto wType = cast<RankedTensorType>(w.getType());
    unsigned r = xType.getRank(), lead = r - 1;
    auto fma = [](OpBuilder &nb, Location nl, ValueRange a) {
      return add(nb, nl, a[2], mul(nb, nl, a[0], a[1]));
    };
    // dx[d.., i] = sum_o dy[d.., o] w[o, i]: dims (d.., i, o).
    SmallVector<unsigned> dDims = range(0, lead);
    auto with = [&](ArrayRef<unsigned> head, ArrayRef<unsigned> tail) {
      SmallVector<unsigned> all(head);
      all.append(tail.begin(), tail.end());
      return all;
    };
    Value dxInit = filledTensor(b, loc, x, xType.getShape(), b.getF32Type(), 0);
    Value dx = buildGeneric(
        b, loc, ValueRange{dy, w}, dxInit,
        {dimsMap(ctx, r + 1, with(dDims, {r})), dimsMap(ctx, r + 1, {r, lead}),
         dimsMap(ctx, r + 1, with(dDims, {lead}))},
        iteratorsReducing(r + 1, {r}), fma);
    // dw[o, i] = sum_d dy[d.., o] x[d.., i]: dims (o, i, d..).
    SmallVector<unsigned> dAfter = range(2, r + 1);
    Value dwInit = filledTensor(b, loc, w, wType.getShape(), b.getF32Type(), 0);
    Value dw = buildGeneric(
        b, loc, ValueRange{dy, x}, dwInit,
        {dimsMap(ctx, r + 1, with(dAfter, {0})),
         dimsMap(ctx, r + 1, with(dAfter, {1})), dimsMap(ctx, r + 1, {0, 1})},
        iteratorsReducing(r + 1, dAfter), fma);
    SmallVector<Value> results{dx, dw};
    if (op.getHasBias()) {
      // db[o] = sum_d dy[d.., o]: dims (o, d..).
      SmallVector<unsigned> dTail = range(1, r);
      Value dbInit = filledTensor(b, loc, w, {wType.getDimSize(0)},
                                  b.getF32Type(), 0);
      results.push_back(buildGeneric(
          b, loc, ValueRange{dy}, dbInit,
          {dimsMap(ctx, r, with(dTail, {0})), dimsMap(ctx, r, {0})},
          iteratorsReducing(r, dTail),
          [](OpBuilder &nb, Location nl, ValueRange a) {
            return add(nb, nl, a[1], a[0]);
          }));
    }
    b.replaceOp(op, results);
    return success();
  }
};

struct RMSNormBackwardLowering : OpRewritePattern<RMSNormBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormBackwardOp op,
                                PatternRewriter &b) const override {
    if (!isF32Only(op))
      return b.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Value x = op.getInput(), w = op.getWeight(), dy = op.getResultGrad();
    auto type = cast<RankedTensorType>(x.getType());
    unsigned rank = type.getRank();
    int64_t width = type.getShape().back();
    if (ShapedType::isDynamic(width))
      return b.notifyMatchFailure(op, "the normalised dim must be static");
    AffineMap full = b.getMultiDimIdentityMap(rank);
    AffineMap row = dimsMap(ctx, rank, range(0, rank - 1));
    AffineMap last = dimsMap(ctx, rank, {rank - 1});
    // r = rsqrt(mean(x^2) + eps) per row.
    Value squares = rowSum(b, loc, ValueRange{x}, x, rank,
                           [](OpBuilder &nb, Location nl, ValueRange a) {
                             return mul(nb, nl, a[0], a[0]);
                           });
    double eps = op.getEps().convertToDouble();
    Value rInit = filledTensor(b, loc, x, type.getShape().drop_back(),
                               b.getF32Type(), 0);
    Value r = buildPointwise(b, loc, ValueRange{squares}, {}, rInit,
                             [&](OpBuilder &nb, Location nl, ValueRange a) {
                               Value mean = mul(nb, nl, a[0],
                                                constant(nb, nl, 1.0 / width));
                               return math::RsqrtOp::create(
                                   nb, nl, add(nb, nl, mean,
                                               constant(nb, nl, eps)));
                             });
    // s = sum_j dy_j w_j x_j per row.
    Value s = buildGeneric(
        b, loc, ValueRange{dy, w, x},
        filledTensor(b, loc, x, type.getShape().drop_back(), b.getF32Type(), 0),
        {full, last, full, row}, iteratorsReducing(rank, {rank - 1}),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return add(nb, nl, a[3], mul(nb, nl, mul(nb, nl, a[0], a[1]), a[2]));
        });
    // dx = r dy w - x r^3 s / D.
    Value dxInit = filledTensor(b, loc, x, type.getShape(), b.getF32Type(), 0);
    Value dx = buildPointwise(
        b, loc, ValueRange{dy, w, x, r, s}, {full, last, full, row, row},
        dxInit, [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value rr = a[3];
          Value r3 = mul(nb, nl, mul(nb, nl, rr, rr), rr);
          Value first = mul(nb, nl, mul(nb, nl, a[0], a[1]), rr);
          Value second = mul(nb, nl, mul(nb, nl, a[2], r3),
                             mul(nb, nl, a[4], constant(nb, nl, 1.0 / width)));
          return sub(nb, nl, first, second);
        });
    // dw_j = sum over rows of dy x r: dims (j, rows..) reordered.
    SmallVector<unsigned> rows = range(0, rank - 1);
    Value dwInit = filledTensor(b, loc, w, {width}, b.getF32Type(), 0);
    Value dw = buildGeneric(b, loc, ValueRange{dy, x, r}, dwInit,
                            {full, full, row, last},
                            iteratorsReducing(rank, rows),
                            [](OpBuilder &nb, Location nl, ValueRange a) {
                              return add(nb, nl, a[3],
                                         mul(nb, nl, mul(nb, nl, a[0], a[1]),
                                             a[2]));
                            });
    b.replaceOp(op, {dx, dw});
    return success();
  }
};

struct ActivationBackwardLowering : OpRewritePattern<ActivationBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ActivationBackwardOp op,
                                PatternRewriter &b) const override {
    if (!isF32Only(op))
      return b.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    Value x = op.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    bool silu = op.getKind() == "silu";
    bool tanhApprox = op.getApproximate() == GeluApproximation::Tanh;
    Value init = emptyTensor(b, loc, x, type.getShape(), b.getF32Type());
    b.replaceOp(op, buildPointwise(
                        b, loc, ValueRange{x, op.getResultGrad()}, {}, init,
                        [&](OpBuilder &nb, Location nl, ValueRange a) {
                          Value d = silu ? siluDerivative(nb, nl, a[0])
                                         : geluDerivative(nb, nl, a[0],
                                                          tanhApprox);
                          return mul(nb, nl, a[1], d);
                        }));
    return success();
  }
};

struct SwiGLUBackwardLowering : OpRewritePattern<SwiGLUBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SwiGLUBackwardOp op,
                                PatternRewriter &b) const override {
    if (!isF32Only(op))
      return b.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    Value g = op.getGate(), u = op.getUp(), dy = op.getResultGrad();
    auto type = cast<RankedTensorType>(g.getType());
    auto init = [&] {
      return emptyTensor(b, loc, g, type.getShape(), b.getF32Type());
    };
    Value dg = buildPointwise(b, loc, ValueRange{g, u, dy}, {}, init(),
                              [](OpBuilder &nb, Location nl, ValueRange a) {
                                return mul(nb, nl, mul(nb, nl, a[2], a[1]),
                                           siluDerivative(nb, nl, a[0]));
                              });
    Value du = buildPointwise(b, loc, ValueRange{g, dy}, {}, init(),
                              [](OpBuilder &nb, Location nl, ValueRange a) {
                                return mul(nb, nl, a[1],
                                           buildSilu(nb, nl, a[0]));
                              });
    b.replaceOp(op, {dg, du});
    return success();
  }
};

struct CrossEntropyBackwardLowering
    : OpRewritePattern<CrossEntropyBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CrossEntropyBackwardOp op,
                                PatternRewriter &b) const override {
    if (!isF32Only(op))
      return b.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Value z = op.getLogits(), labels = op.getLabels();
    auto type = cast<RankedTensorType>(z.getType());
    unsigned rank = type.getRank();
    AffineMap full = b.getMultiDimIdentityMap(rank);
    AffineMap row = dimsMap(ctx, rank, range(0, rank - 1));
    AffineMap scalar = AffineMap::get(rank, 0, {}, ctx);
    ArrayRef<int64_t> rowShape = type.getShape().drop_back();
    Type labelType = cast<RankedTensorType>(labels.getType()).getElementType();
    int64_t ignore = op.getIgnoreIndex();
    auto isCounted = [&](OpBuilder &nb, Location nl, Value label) {
      Value ig = arith::ConstantOp::create(nb, nl, labelType,
                                           nb.getIntegerAttr(labelType, ignore));
      return arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ne, label, ig);
    };
    Value rowMax = buildGeneric(
        b, loc, ValueRange{z},
        filledTensor(b, loc, z, rowShape, b.getF32Type(), -INFINITY),
        {full, row}, iteratorsReducing(rank, {rank - 1}),
        [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          return arith::MaximumFOp::create(nb, nl, a[0], a[1]);
        });
    Value sumExp = buildGeneric(
        b, loc, ValueRange{z, rowMax},
        filledTensor(b, loc, z, rowShape, b.getF32Type(), 0), {full, row, row},
        iteratorsReducing(rank, {rank - 1}),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return add(nb, nl, a[2],
                     math::ExpOp::create(nb, nl, sub(nb, nl, a[0], a[1])));
        });
    // n: the labels that count, over every row.
    AffineMap labelsMap = b.getMultiDimIdentityMap(rank - 1);
    Value count = buildGeneric(
        b, loc, ValueRange{labels},
        filledTensor(b, loc, z, {}, b.getF32Type(), 0),
        {labelsMap, AffineMap::get(rank - 1, 0, {}, ctx)},
        SmallVector<IteratorType>(rank - 1, IteratorType::reduction),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value one = arith::SelectOp::create(nb, nl, isCounted(nb, nl, a[0]),
                                              constant(nb, nl, 1.0),
                                              constant(nb, nl, 0.0));
          return add(nb, nl, a[1], one);
        });
    Value init = emptyTensor(b, loc, z, type.getShape(), b.getF32Type());
    Value dz = buildPointwise(
        b, loc, ValueRange{z, rowMax, sumExp, labels, count, op.getLossGrad()},
        {full, row, row, row, scalar, scalar}, init,
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value p = arith::DivFOp::create(
              nb, nl, math::ExpOp::create(nb, nl, sub(nb, nl, a[0], a[1])),
              a[2]);
          Value v = linalg::IndexOp::create(nb, nl, rank - 1);
          Value label = arith::IndexCastOp::create(nb, nl, nb.getIndexType(),
                                                   a[3]);
          Value hit = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::eq,
                                            v, label);
          Value diff = sub(nb, nl, p,
                           arith::SelectOp::create(nb, nl, hit,
                                                   constant(nb, nl, 1.0),
                                                   constant(nb, nl, 0.0)));
          // 0 on ignored rows, and everywhere when no label counts.
          Value n = arith::MaximumFOp::create(nb, nl, a[4],
                                              constant(nb, nl, 1.0));
          Value scaled =
              arith::DivFOp::create(nb, nl, mul(nb, nl, diff, a[5]), n);
          return arith::SelectOp::create(nb, nl, isCounted(nb, nl, a[3]),
                                         scaled, constant(nb, nl, 0.0));
        });
    b.replaceOp(op, dz);
    return success();
  }
};

struct EmbeddingBackwardLowering : OpRewritePattern<EmbeddingBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EmbeddingBackwardOp op,
                                PatternRewriter &b) const override {
    if (!isF32Only(op))
      return b.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    Value tokens = op.getTokens(), dy = op.getResultGrad();
    auto tableType = cast<RankedTensorType>(op.getTableGrad().getType());
    int64_t vocab = tableType.getDimSize(0), hidden = tableType.getDimSize(1);
    Type tokenType = cast<RankedTensorType>(tokens.getType()).getElementType();
    Value table = filledTensor(b, loc, dy, tableType.getShape(),
                               b.getF32Type(), 0);
    auto index = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    Value zero = index(0), one = index(1);
    Value batch = tensor::DimOp::create(b, loc, tokens, 0);
    Value seq = tensor::DimOp::create(b, loc, tokens, 1);
    auto rowType = RankedTensorType::get({hidden}, b.getF32Type());
    auto outer = scf::ForOp::create(
        b, loc, zero, batch, one, ValueRange{table},
        [&](OpBuilder &ob, Location ol, Value bi, ValueRange outerAcc) {
          auto inner = scf::ForOp::create(
              ob, ol, zero, seq, one, outerAcc,
              [&](OpBuilder &ib, Location il, Value si, ValueRange acc) {
                Value token = tensor::ExtractOp::create(ib, il, tokens,
                                                        ValueRange{bi, si});
                Value id = arith::IndexCastOp::create(ib, il,
                                                      ib.getIndexType(), token);
                // Ids outside the table add nothing (the forward rejects
                // them; the backward must not write out of bounds).
                Value inRange = arith::AndIOp::create(
                    ib, il,
                    arith::CmpIOp::create(
                        ib, il, arith::CmpIPredicate::sge, token,
                        arith::ConstantOp::create(
                            ib, il, tokenType,
                            ib.getIntegerAttr(tokenType, 0))),
                    arith::CmpIOp::create(
                        ib, il, arith::CmpIPredicate::slt, token,
                        arith::ConstantOp::create(
                            ib, il, tokenType,
                            ib.getIntegerAttr(tokenType, vocab))));
                auto update = scf::IfOp::create(
                    ib, il, inRange,
                    [&](OpBuilder &tb, Location tl) {
                      SmallVector<OpFoldResult> one2{tb.getIndexAttr(1),
                                                     tb.getIndexAttr(1)};
                      Value cur = tensor::ExtractSliceOp::create(
                          tb, tl, rowType, acc[0],
                          ArrayRef<OpFoldResult>{id, tb.getIndexAttr(0)},
                          ArrayRef<OpFoldResult>{tb.getIndexAttr(1),
                                                 tb.getIndexAttr(hidden)},
                          one2);
                      Value grad = tensor::ExtractSliceOp::create(
                          tb, tl, rowType, dy,
                          ArrayRef<OpFoldResult>{bi, si, tb.getIndexAttr(0)},
                          ArrayRef<OpFoldResult>{tb.getIndexAttr(1),
                                                 tb.getIndexAttr(1),
                                                 tb.getIndexAttr(hidden)},
                          ArrayRef<OpFoldResult>{tb.getIndexAttr(1),
                                                 tb.getIndexAttr(1),
                                                 tb.getIndexAttr(1)});
                      Value sum = buildPointwise(
                          tb, tl, ValueRange{grad}, {}, cur,
                          [](OpBuilder &nb, Location nl, ValueRange a) {
                            return add(nb, nl, a[0], a[1]);
                          });
                      Value next = tensor::InsertSliceOp::create(
                          tb, tl, sum, acc[0],
                          ArrayRef<OpFoldResult>{id, tb.getIndexAttr(0)},
                          ArrayRef<OpFoldResult>{tb.getIndexAttr(1),
                                                 tb.getIndexAttr(hidden)},
                          one2);
                      scf::YieldOp::create(tb, tl, next);
                    },
                    [&](OpBuilder &eb, Location el) {
                      scf::YieldOp::create(eb, el, acc[0]);
                    });
                scf::YieldOp::create(ib, il, update.getResult(0));
              });
          scf::YieldOp::create(ob, ol, inner.getResult(0));
        });
    b.replaceOp(op, outer.getResult(0));
    return success();
  }
};

} // namespace

void mlir::strata::populateGradientsToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ActivationBackwardLowering, CrossEntropyBackwardLowering,
               EmbeddingBackwardLowering, LinearBackwardLowering,
               RMSNormBackwardLowering, SwiGLUBackwardLowering>(
      patterns.getContext());
}

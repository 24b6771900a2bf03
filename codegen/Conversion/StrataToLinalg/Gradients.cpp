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

/// `x` [R, C] transposed to [C, R].
Value transposed(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<Value> dynamic;
  for (int64_t d : {1, 0})
    if (type.isDynamicDim(d))
      dynamic.push_back(tensor::DimOp::create(b, loc, x, d));
  Value init = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{type.getDimSize(1), type.getDimSize(0)},
      type.getElementType(), dynamic);
  return linalg::TransposeOp::create(b, loc, x, init, ArrayRef<int64_t>{1, 0})
      .getResult()[0];
}

/// [d.., C] as [prod(d..), C].
Value rows(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getRank() == 2)
    return x;
  ReassociationIndices leading;
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    leading.push_back(i);
  return tensor::CollapseShapeOp::create(
      b, loc, x,
      ArrayRef<ReassociationIndices>{leading, {type.getRank() - 1}});
}

/// Both products are the forward's contraction x·Wᵀ (buildProjection) on
/// transposed operands, so they get the same tiles as the forward:
/// dx = dy·(Wᵀ)ᵀ and dW = (dyᵀ)·(xᵀ)ᵀ over every leading position.
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
    unsigned r = xType.getRank();
    Value dx = buildProjection(b, loc, dy, transposed(b, loc, w), Value());
    Value dw = buildProjection(b, loc, transposed(b, loc, rows(b, loc, dy)),
                               transposed(b, loc, rows(b, loc, x)), Value());
    SmallVector<Value> results{dx, dw};
    if (op.getHasBias()) {
      // db[o] = sum_d dy[d.., o]: dims (o, d..).
      SmallVector<unsigned> dTail = range(1, r);
      SmallVector<unsigned> dyDims(dTail);
      dyDims.push_back(0);
      Value dbInit = filledTensor(b, loc, w, {wType.getDimSize(0)},
                                  b.getF32Type(), 0);
      results.push_back(buildGeneric(
          b, loc, ValueRange{dy}, dbInit,
          {dimsMap(ctx, r, dyDims), dimsMap(ctx, r, {0})},
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

struct LayerNormBackwardLowering : OpRewritePattern<LayerNormBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormBackwardOp op,
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
    ArrayRef<int64_t> rowShape = type.getShape().drop_back();
    double eps = op.getEps().convertToDouble();
    auto c = [](OpBuilder &nb, Location nl, double v) {
      return constant(nb, nl, v);
    };
    auto rowsOf = [&](Value v) {
      return buildPointwise(b, loc, ValueRange{v}, {},
                            filledTensor(b, loc, x, rowShape, b.getF32Type(), 0),
                            [&](OpBuilder &nb, Location nl, ValueRange a) {
                              return mul(nb, nl, a[0], c(nb, nl, 1.0 / width));
                            });
    };
    // mean, then r = rsqrt(var + eps) per row (biased variance).
    Value mean = rowsOf(rowSum(b, loc, ValueRange{x}, x, rank,
                               [](OpBuilder &, Location, ValueRange a) {
                                 return a[0];
                               }));
    Value var = rowsOf(buildGeneric(
        b, loc, ValueRange{x, mean},
        filledTensor(b, loc, x, rowShape, b.getF32Type(), 0), {full, row, row},
        iteratorsReducing(rank, {rank - 1}),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          Value d = sub(nb, nl, a[0], a[1]);
          return add(nb, nl, a[2], mul(nb, nl, d, d));
        }));
    Value r = buildPointwise(
        b, loc, ValueRange{var}, {},
        filledTensor(b, loc, x, rowShape, b.getF32Type(), 0),
        [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          return math::RsqrtOp::create(nb, nl, add(nb, nl, a[0], c(nb, nl, eps)));
        });
    auto xhat = [](OpBuilder &nb, Location nl, Value xv, Value m, Value rv) {
      return mul(nb, nl, sub(nb, nl, xv, m), rv);
    };
    // mean(g) and mean(g xhat) per row, g = dy w.
    Value mg = rowsOf(buildGeneric(
        b, loc, ValueRange{dy, w},
        filledTensor(b, loc, x, rowShape, b.getF32Type(), 0), {full, last, row},
        iteratorsReducing(rank, {rank - 1}),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return add(nb, nl, a[2], mul(nb, nl, a[0], a[1]));
        }));
    Value mgx = rowsOf(buildGeneric(
        b, loc, ValueRange{dy, w, x, mean, r},
        filledTensor(b, loc, x, rowShape, b.getF32Type(), 0),
        {full, last, full, row, row, row}, iteratorsReducing(rank, {rank - 1}),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value g = mul(nb, nl, a[0], a[1]);
          return add(nb, nl, a[5], mul(nb, nl, g, xhat(nb, nl, a[2], a[3], a[4])));
        }));
    Value dx = buildPointwise(
        b, loc, ValueRange{dy, w, x, mean, r, mg, mgx},
        {full, last, full, row, row, row, row},
        filledTensor(b, loc, x, type.getShape(), b.getF32Type(), 0),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value g = mul(nb, nl, a[0], a[1]);
          Value xh = xhat(nb, nl, a[2], a[3], a[4]);
          Value inner = sub(nb, nl, sub(nb, nl, g, a[5]), mul(nb, nl, xh, a[6]));
          return mul(nb, nl, a[4], inner);
        });
    SmallVector<unsigned> rows = range(0, rank - 1);
    Value dw = buildGeneric(
        b, loc, ValueRange{dy, x, mean, r},
        filledTensor(b, loc, w, {width}, b.getF32Type(), 0),
        {full, full, row, row, last}, iteratorsReducing(rank, rows),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          return add(nb, nl, a[4], mul(nb, nl, a[0], xhat(nb, nl, a[1], a[2], a[3])));
        });
    Value db = buildGeneric(
        b, loc, ValueRange{dy}, filledTensor(b, loc, w, {width}, b.getF32Type(), 0),
        {full, last}, iteratorsReducing(rank, rows),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return add(nb, nl, a[1], a[0]);
        });
    b.replaceOp(op, {dx, dw, db});
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

/// Expert id `index` (i32) as an index in [0, experts): unsigned min, as
/// the forward clamps, so no input indexes out of bounds.
Value expertId(OpBuilder &b, Location loc, Value index, int64_t experts) {
  Value last = arith::ConstantOp::create(
      b, loc, b.getI32Type(), b.getI32IntegerAttr(experts - 1));
  return arith::IndexCastOp::create(
      b, loc, b.getIndexType(), arith::MinUIOp::create(b, loc, index, last));
}

/// i1: whether expert id `index` (i32) is expert `e` (an index).
Value isExpert(OpBuilder &b, Location loc, Value index, Value e,
               int64_t experts) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                               expertId(b, loc, index, experts), e);
}

Value select(OpBuilder &b, Location loc, Value cond, Value x) {
  return arith::SelectOp::create(b, loc, cond, x, constant(b, loc, 0.0));
}

/// out += a * b over the dims the maps leave out of the output.
Value contraction(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                  ArrayRef<AffineMap> maps, ArrayRef<unsigned> reduced) {
  return buildGeneric(b, loc, inputs, init, maps,
                      iteratorsReducing(maps.front().getNumDims(), reduced),
                      [](OpBuilder &nb, Location nl, ValueRange a) {
                        Value prod = mul(nb, nl, a[0], a[1]);
                        for (size_t i = 2; i + 1 < a.size(); ++i)
                          prod = mul(nb, nl, prod, a[i]);
                        return add(nb, nl, a.back(), prod);
                      });
}

struct RouterBackwardLowering : OpRewritePattern<RouterBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouterBackwardOp op,
                                PatternRewriter &b) const override {
    if (!isF32Only(op))
      return b.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    Value logits = op.getLogits(), indices = op.getIndices();
    // The forward's noisy logits, recomputed from the same key.
    if (op.getStep() && op.getNoiseStd().convertToDouble() > 0)
      logits = buildRouterNoise(b, loc, logits, op.getStep(),
                                op.getNoiseStd().convertToDouble(),
                                static_cast<int64_t>(op.getSeed()),
                                static_cast<int64_t>(op.getSalt()));
    auto type = cast<RankedTensorType>(logits.getType());
    int64_t E = op.getNumExperts(), K = op.getTopK();
    int64_t B = type.getDimSize(0), S = type.getDimSize(1);
    bool softmax = op.getScoring() == RouterScoring::Softmax;
    double r = op.getRoutedScalingFactor().convertToDouble();
    AffineMap id3 = b.getMultiDimIdentityMap(3);
    AffineMap row3 = dimsMap(ctx, 3, {0, 1});
    auto zeros = [&](ArrayRef<int64_t> shape) {
      return filledTensor(b, loc, logits, shape, f32, 0.0);
    };
    // The scores sigma.
    Value sigma;
    if (softmax) {
      Value rowMax = buildGeneric(
          b, loc, ValueRange{logits},
          filledTensor(b, loc, logits, {B, S}, f32, -INFINITY), {id3, row3},
          iteratorsReducing(3, {2}),
          [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
            return arith::MaximumFOp::create(nb, nl, a[0], a[1]);
          });
      Value exps = buildPointwise(
          b, loc, ValueRange{logits, rowMax}, {id3, row3}, zeros({B, S, E}),
          [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
            return math::ExpOp::create(nb, nl, sub(nb, nl, a[0], a[1]));
          });
      Value sum = rowSum(b, loc, ValueRange{exps}, logits, 3,
                         [](OpBuilder &, Location, ValueRange a) {
                           return a[0];
                         });
      sigma = buildPointwise(
          b, loc, ValueRange{exps, sum}, {id3, row3}, zeros({B, S, E}),
          [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
            return arith::DivFOp::create(nb, nl, a[0], a[1]);
          });
    } else {
      sigma = buildPointwise(b, loc, ValueRange{logits}, {}, zeros({B, S, E}),
                             [](OpBuilder &nb, Location nl, ValueRange a) {
                               return sigmoid(nb, nl, a[0]);
                             });
    }
    // u: the selected experts' scores.
    Value u = buildPointwise(
        b, loc, ValueRange{indices}, {}, zeros({B, S, K}),
        [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value bi = linalg::IndexOp::create(nb, nl, 0);
          Value si = linalg::IndexOp::create(nb, nl, 1);
          return tensor::ExtractOp::create(
              nb, nl, sigma, ValueRange{bi, si, expertId(nb, nl, a[0], E)});
        });
    Value dw = op.getWeightsGrad();
    // du = r dw, or with renormalisation r/Z (dw - sum_k dw u / Z).
    Value du;
    if (op.getNormTopkProb()) {
      Value z = rowSum(b, loc, ValueRange{u}, u, 3,
                       [](OpBuilder &, Location, ValueRange a) { return a[0]; });
      Value dot = rowSum(b, loc, ValueRange{dw, u}, u, 3,
                         [](OpBuilder &nb, Location nl, ValueRange a) {
                           return mul(nb, nl, a[0], a[1]);
                         });
      du = buildPointwise(
          b, loc, ValueRange{dw, z, dot}, {id3, row3, row3}, zeros({B, S, K}),
          [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
            Value inner = sub(nb, nl, a[0],
                              arith::DivFOp::create(nb, nl, a[2], a[1]));
            return mul(nb, nl, constant(nb, nl, r),
                       arith::DivFOp::create(nb, nl, inner, a[1]));
          });
    } else {
      du = buildPointwise(b, loc, ValueRange{dw}, {}, zeros({B, S, K}),
                          [&](OpBuilder &nb, Location nl, ValueRange a) {
                            return mul(nb, nl, a[0], constant(nb, nl, r));
                          });
    }
    // dsigma = scores_grad + each selected expert's du: dims (b, s, e, k).
    Value dsigma = buildGeneric(
        b, loc, ValueRange{indices, du}, op.getScoresGrad(),
        {dimsMap(ctx, 4, {0, 1, 3}), dimsMap(ctx, 4, {0, 1, 3}),
         dimsMap(ctx, 4, {0, 1, 2})},
        iteratorsReducing(4, {3}),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value e = linalg::IndexOp::create(nb, nl, 2);
          return add(nb, nl, a[2],
                     select(nb, nl, isExpert(nb, nl, a[0], e, E), a[1]));
        });
    // Through the scoring.
    Value dl;
    if (softmax) {
      Value t = rowSum(b, loc, ValueRange{sigma, dsigma}, logits, 3,
                       [](OpBuilder &nb, Location nl, ValueRange a) {
                         return mul(nb, nl, a[0], a[1]);
                       });
      dl = buildPointwise(
          b, loc, ValueRange{sigma, dsigma, t}, {id3, id3, row3},
          zeros({B, S, E}), [](OpBuilder &nb, Location nl, ValueRange a) {
            return mul(nb, nl, a[0], sub(nb, nl, a[1], a[2]));
          });
    } else {
      dl = buildPointwise(
          b, loc, ValueRange{sigma, dsigma}, {}, zeros({B, S, E}),
          [](OpBuilder &nb, Location nl, ValueRange a) {
            Value oneMinus = sub(nb, nl, constant(nb, nl, 1.0), a[0]);
            return mul(nb, nl, a[1], mul(nb, nl, a[0], oneMinus));
          });
    }
    b.replaceOp(op, dl);
    return success();
  }
};

/// Dense over experts: every token's path through every expert is
/// computed and weighted by its routing weight (zero where the expert was
/// not selected). Work grows with E / top_k over the forward's grouped
/// form; the reference form (strata-convert-to-linalg without
/// group-experts). The targets compile the grouped backward (MoE.cpp).
struct MoEExpertsBackwardLowering : OpRewritePattern<MoEExpertsBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MoEExpertsBackwardOp op,
                                PatternRewriter &b) const override {
    if (!isF32Only(op))
      return b.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    Value x = op.getInput(), w = op.getWeights(), idx = op.getIndices();
    Value gate = op.getGateProj(), up = op.getUpProj(),
          down = op.getDownProj(), dy = op.getResultGrad();
    auto xType = cast<RankedTensorType>(x.getType());
    auto gType = cast<RankedTensorType>(gate.getType());
    int64_t B = xType.getDimSize(0), S = xType.getDimSize(1),
            D = xType.getDimSize(2), E = op.getNumExperts(),
            F = gType.getDimSize(1), K = op.getTopK();
    auto zeros = [&](ArrayRef<int64_t> shape) {
      return filledTensor(b, loc, x, shape, f32, 0.0);
    };
    auto m = [&](unsigned rank, ArrayRef<unsigned> dims) {
      return dimsMap(ctx, rank, dims);
    };
    // R[b, s, e]: the routing weight of expert e (0 when not selected).
    Value routing = buildGeneric(
        b, loc, ValueRange{w, idx}, zeros({B, S, E}),
        {m(4, {0, 1, 3}), m(4, {0, 1, 3}), m(4, {0, 1, 2})},
        iteratorsReducing(4, {3}),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value e = linalg::IndexOp::create(nb, nl, 2);
          return add(nb, nl, a[2],
                     select(nb, nl, isExpert(nb, nl, a[1], e, E), a[0]));
        });
    // h[b, s, e, f] = sum_d proj[e, f, d] x[b, s, d]: dims b s e f d.
    auto project = [&](Value proj) {
      return contraction(b, loc, ValueRange{proj, x}, zeros({B, S, E, F}),
                         {m(5, {2, 3, 4}), m(5, {0, 1, 4}),
                          m(5, {0, 1, 2, 3})},
                         {4});
    };
    Value hg = project(gate), hu = project(up);
    Value act = buildPointwise(
        b, loc, ValueRange{hg, hu}, {}, zeros({B, S, E, F}),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return mul(nb, nl, buildSilu(nb, nl, a[0]), a[1]);
        });
    // o[b, s, e, d] = sum_f down[e, d, f] act[b, s, e, f]: dims b s e d f.
    Value o = contraction(b, loc, ValueRange{down, act}, zeros({B, S, E, D}),
                          {m(5, {2, 3, 4}), m(5, {0, 1, 2, 4}),
                           m(5, {0, 1, 2, 3})},
                          {4});
    // dR[b, s, e] = sum_d dy[b, s, d] o[b, s, e, d]: dims b s e d.
    Value dR = contraction(b, loc, ValueRange{dy, o}, zeros({B, S, E}),
                           {m(4, {0, 1, 3}), m(4, {0, 1, 2, 3}),
                            m(4, {0, 1, 2})},
                           {3});
    // dw[b, s, k] = dR[b, s, indices[b, s, k]]: dims b s k e.
    Value dw = buildGeneric(
        b, loc, ValueRange{idx, dR}, zeros({B, S, K}),
        {m(4, {0, 1, 2}), m(4, {0, 1, 3}), m(4, {0, 1, 2})},
        iteratorsReducing(4, {3}),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value e = linalg::IndexOp::create(nb, nl, 3);
          return add(nb, nl, a[2],
                     select(nb, nl, isExpert(nb, nl, a[0], e, E), a[1]));
        });
    // do[b, s, e, d] = R[b, s, e] dy[b, s, d].
    Value dOut = buildPointwise(
        b, loc, ValueRange{routing, dy}, {m(4, {0, 1, 2}), m(4, {0, 1, 3})},
        zeros({B, S, E, D}), [](OpBuilder &nb, Location nl, ValueRange a) {
          return mul(nb, nl, a[0], a[1]);
        });
    // ddown[e, d, f] = sum_{b,s} do[b, s, e, d] act[b, s, e, f]: e d f b s.
    Value dDown = contraction(b, loc, ValueRange{dOut, act},
                              filledTensor(b, loc, down, {E, D, F}, f32, 0.0),
                              {m(5, {3, 4, 0, 1}), m(5, {3, 4, 0, 2}),
                               m(5, {0, 1, 2})},
                              {3, 4});
    // dact[b, s, e, f] = sum_d down[e, d, f] do[b, s, e, d]: b s e f d.
    Value dAct = contraction(b, loc, ValueRange{down, dOut},
                             zeros({B, S, E, F}),
                             {m(5, {2, 4, 3}), m(5, {0, 1, 2, 4}),
                              m(5, {0, 1, 2, 3})},
                             {4});
    Value dhg = buildPointwise(
        b, loc, ValueRange{dAct, hg, hu}, {}, zeros({B, S, E, F}),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return mul(nb, nl, mul(nb, nl, a[0], a[2]),
                     siluDerivative(nb, nl, a[1]));
        });
    Value dhu = buildPointwise(
        b, loc, ValueRange{dAct, hg}, {}, zeros({B, S, E, F}),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return mul(nb, nl, a[0], buildSilu(nb, nl, a[1]));
        });
    // dproj[e, f, d] = sum_{b,s} dh[b, s, e, f] x[b, s, d]: e f d b s.
    auto projGrad = [&](Value dh, Value proj) {
      return contraction(b, loc, ValueRange{dh, x},
                         filledTensor(b, loc, proj, {E, F, D}, f32, 0.0),
                         {m(5, {3, 4, 0, 1}), m(5, {3, 4, 2}),
                          m(5, {0, 1, 2})},
                         {3, 4});
    };
    Value dGate = projGrad(dhg, gate), dUp = projGrad(dhu, up);
    // dx[b, s, d] = sum_{e,f} gate[e, f, d] dhg + up[e, f, d] dhu: b s d e f.
    Value dx = buildGeneric(
        b, loc, ValueRange{gate, dhg, up, dhu}, zeros({B, S, D}),
        {m(5, {3, 4, 2}), m(5, {0, 1, 3, 4}), m(5, {3, 4, 2}),
         m(5, {0, 1, 3, 4}), m(5, {0, 1, 2})},
        iteratorsReducing(5, {3, 4}),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return add(nb, nl, a[4],
                     add(nb, nl, mul(nb, nl, a[0], a[1]),
                         mul(nb, nl, a[2], a[3])));
        });
    b.replaceOp(op, {dx, dw, dGate, dUp, dDown});
    return success();
  }
};

struct RouterAuxLossBackwardLowering
    : OpRewritePattern<RouterAuxLossBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouterAuxLossBackwardOp op,
                                PatternRewriter &b) const override {
    if (!isF32Only(op))
      return b.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    Value scores = op.getScores(), idx = op.getIndices();
    auto type = cast<RankedTensorType>(scores.getType());
    int64_t B = type.getDimSize(0), S = type.getDimSize(1),
            E = type.getDimSize(2);
    int64_t K = cast<RankedTensorType>(idx.getType()).getDimSize(2);
    if (ShapedType::isDynamic(E) || ShapedType::isDynamic(K))
      return b.notifyMatchFailure(op, "experts and top_k must be static");
    // N tokens, as f32.
    auto dimF32 = [&](int64_t d) -> Value {
      Value i = tensor::DimOp::create(b, loc, scores, d);
      Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), i);
      return arith::SIToFPOp::create(b, loc, f32, i64);
    };
    Value n = mul(b, loc, dimF32(0), dimF32(1));
    // Selections per expert: dims e b s k.
    Value counts = buildGeneric(
        b, loc, ValueRange{idx},
        filledTensor(b, loc, scores, {E}, f32, 0.0),
        {dimsMap(ctx, 4, {1, 2, 3}), dimsMap(ctx, 4, {0})},
        iteratorsReducing(4, {1, 2, 3}),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value e = linalg::IndexOp::create(nb, nl, 0);
          return add(nb, nl, a[1],
                     select(nb, nl, isExpert(nb, nl, a[0], e, E),
                            constant(nb, nl, 1.0)));
        });
    // g_e = loss_grad coef E f_e, f_e = counts / (N K).
    double coef = op.getCoef().convertToDouble();
    AffineMap scalar1 = AffineMap::get(1, 0, {}, ctx);
    Value g = buildPointwise(
        b, loc, ValueRange{counts, op.getLossGrad()},
        {b.getMultiDimIdentityMap(1), scalar1},
        filledTensor(b, loc, scores, {E}, f32, 0.0),
        [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value f = arith::DivFOp::create(
              nb, nl, a[0], mul(nb, nl, n, constant(nb, nl, double(K))));
          return mul(nb, nl, mul(nb, nl, a[1], f),
                     constant(nb, nl, coef * double(E)));
        });
    AffineMap id3 = b.getMultiDimIdentityMap(3);
    AffineMap row3 = dimsMap(ctx, 3, {0, 1});
    AffineMap last3 = dimsMap(ctx, 3, {2});
    Value z = rowSum(b, loc, ValueRange{scores}, scores, 3,
                     [](OpBuilder &, Location, ValueRange a) { return a[0]; });
    Value q = buildGeneric(
        b, loc, ValueRange{g, scores},
        filledTensor(b, loc, scores, {B, S}, f32, 0.0), {last3, id3, row3},
        iteratorsReducing(3, {2}),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return add(nb, nl, a[2], mul(nb, nl, a[0], a[1]));
        });
    Value ds = buildPointwise(
        b, loc, ValueRange{g, z, q}, {last3, row3, row3},
        filledTensor(b, loc, scores, {B, S, E}, f32, 0.0),
        [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
          Value first = arith::DivFOp::create(nb, nl, a[0], a[1]);
          Value second = arith::DivFOp::create(nb, nl, a[2],
                                               mul(nb, nl, a[1], a[1]));
          return arith::DivFOp::create(nb, nl, sub(nb, nl, first, second), n);
        });
    b.replaceOp(op, ds);
    return success();
  }
};

struct SigmoidGateBackwardLowering : OpRewritePattern<SigmoidGateBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SigmoidGateBackwardOp op,
                                PatternRewriter &b) const override {
    if (!isF32Only(op))
      return b.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = b.getContext();
    Value v = op.getValue(), l = op.getLogit(), dy = op.getResultGrad();
    auto type = cast<RankedTensorType>(v.getType());
    auto lType = cast<RankedTensorType>(l.getType());
    unsigned rank = type.getRank();
    AffineMap full = b.getMultiDimIdentityMap(rank);
    // The logit's [..., 1] read at every position of the last dim.
    SmallVector<AffineExpr> exprs;
    for (unsigned i = 0; i + 1 < rank; ++i)
      exprs.push_back(getAffineDimExpr(i, ctx));
    exprs.push_back(getAffineConstantExpr(0, ctx));
    AffineMap gate = AffineMap::get(rank, 0, exprs, ctx);
    Value dv = buildPointwise(
        b, loc, ValueRange{dy, l}, {full, gate},
        emptyTensor(b, loc, v, type.getShape(), b.getF32Type()),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          return mul(nb, nl, a[0], sigmoid(nb, nl, a[1]));
        });
    Value dl = buildGeneric(
        b, loc, ValueRange{dy, v, l},
        filledTensor(b, loc, l, lType.getShape(), b.getF32Type(), 0.0),
        {full, full, gate, gate}, iteratorsReducing(rank, {rank - 1}),
        [](OpBuilder &nb, Location nl, ValueRange a) {
          Value s = sigmoid(nb, nl, a[2]);
          Value ds = mul(nb, nl, s, sub(nb, nl, constant(nb, nl, 1.0), s));
          return add(nb, nl, a[3], mul(nb, nl, mul(nb, nl, a[0], a[1]), ds));
        });
    b.replaceOp(op, {dv, dl});
    return success();
  }
};

/// spread[b, s, c] = s == S - 1 ? g[b, c] : 0 (last), or g[b, c] / S
/// (mean): one pointwise generic.
struct PoolingBackwardLowering : OpRewritePattern<PoolingBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PoolingBackwardOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value x = op.getInput(), g = op.getResultGrad();
    auto type = cast<RankedTensorType>(op.getType());
    SmallVector<Value> dynamicSizes;
    for (int64_t i = 0; i < 3; ++i)
      if (type.isDynamicDim(i))
        dynamicSizes.push_back(
            i < 2 ? tensor::DimOp::create(rewriter, loc, x, i).getResult()
                  : tensor::DimOp::create(rewriter, loc, g, 1).getResult());
    Value init = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                         rewriter.getF32Type(), dynamicSizes);
    Value seq = tensor::DimOp::create(rewriter, loc, x, 1);
    bool last = op.getPooling() == Pooling::Last;
    Value spread = buildPointwise(
        rewriter, loc, {g}, {dimsMap(ctx, 3, {0, 2})}, init,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          if (last) {
            Value s = linalg::IndexOp::create(b, l, 1);
            Value lastPos = arith::SubIOp::create(
                b, l, seq, arith::ConstantIndexOp::create(b, l, 1));
            Value isLast = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::eq, s, lastPos);
            return arith::SelectOp::create(b, l, isLast, a[0],
                                           constant(b, l, 0.0));
          }
          Value count = arith::UIToFPOp::create(
              b, l, b.getF32Type(),
              arith::IndexCastOp::create(b, l, b.getI64Type(), seq));
          return arith::DivFOp::create(b, l, a[0], count);
        });
    rewriter.replaceOp(op, spread);
    return success();
  }
};

} // namespace

Value mlir::strata::detail::buildSiluDerivative(OpBuilder &b, Location loc,
                                                Value x) {
  return siluDerivative(b, loc, x);
}

void mlir::strata::populateGradientsToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ActivationBackwardLowering, CrossEntropyBackwardLowering,
               EmbeddingBackwardLowering, LayerNormBackwardLowering,
               LinearBackwardLowering,
               MoEExpertsBackwardLowering, PoolingBackwardLowering, RMSNormBackwardLowering,
               RouterAuxLossBackwardLowering, RouterBackwardLowering,
               SigmoidGateBackwardLowering, SwiGLUBackwardLowering>(
      patterns.getContext());
}

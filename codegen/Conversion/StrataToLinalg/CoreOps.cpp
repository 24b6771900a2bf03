//===- CoreOps.cpp - embedding, norms and projections to linalg -*- C++ -*-===//
//
// Norms are a reduction generic over the last dim followed by a pointwise
// generic; projections are one generic contracting the input's last dim
// with the [out, in] weight, accumulating into the broadcast bias (or 0).
//
//===----------------------------------------------------------------------===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"
#include "codegen/LoweringUtils.h"

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::strata;
using namespace mlir::strata::detail;

namespace {

/// Sums f(x) over the last dim of `x`: result has x's shape minus that dim.
Value reduceLastDim(OpBuilder &b, Location loc, Value x,
                    llvm::function_ref<Value(OpBuilder &, Location, Value)> f) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  Value acc = filledTensor(b, loc, x, type.getShape().drop_back(),
                           type.getElementType(), 0.0);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{acc.getType()}, ValueRange{x}, ValueRange{acc},
      ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank),
                          dimsMap(ctx, rank, iota(rank - 1))},
      iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value sum = arith::AddFOp::create(nb, nl, args[1], f(nb, nl, args[0]));
        linalg::YieldOp::create(nb, nl, sum);
      });
  return generic.getResult(0);
}

/// The size of x's last dim as an f32 scalar.
Value lastDimAsFloat(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  Type f32 = b.getF32Type();
  int64_t d = type.getShape().back();
  if (!ShapedType::isDynamic(d))
    return arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(d));
  Value dim = tensor::DimOp::create(b, loc, x, type.getRank() - 1);
  Value i64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), dim);
  return arith::UIToFPOp::create(b, loc, f32, i64);
}

struct RMSNormLowering : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    Value x = op.getInput();
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(x.getType());
    unsigned rank = type.getRank();
    MLIRContext *ctx = rewriter.getContext();
    Value sumSq = reduceLastDim(rewriter, loc, x,
                                [](OpBuilder &b, Location l, Value v) -> Value {
                                  return arith::MulFOp::create(b, l, v, v);
                                });
    Value d = lastDimAsFloat(rewriter, loc, x);
    Value eps = f32Constant(rewriter, loc, op.getEps().convertToDouble());
    Value init = emptyTensor(rewriter, loc, x, type.getShape(),
                             type.getElementType());
    Value out = buildPointwise(
        rewriter, loc, {x, sumSq, op.getWeight()},
        {rewriter.getMultiDimIdentityMap(rank),
         dimsMap(ctx, rank, iota(rank - 1)), dimsMap(ctx, rank, {rank - 1})},
        init, [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value meanSq = arith::DivFOp::create(b, l, args[1], d);
          Value inv = math::RsqrtOp::create(
              b, l, arith::AddFOp::create(b, l, meanSq, eps));
          return arith::MulFOp::create(
              b, l, arith::MulFOp::create(b, l, args[0], inv), args[2]);
        });
    rewriter.replaceOp(op, out);
    return success();
  }
};

/// (x - mean) * rsqrt(var + eps) * w (+ bias) over the last dim, with the
/// variance from a second pass over the centred values (stable).
Value buildLayerNorm(OpBuilder &rewriter, Location loc, Value x, Value weight,
                     Value bias, double epsValue) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  MLIRContext *ctx = rewriter.getContext();
  AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
  AffineMap rowMap = dimsMap(ctx, rank, iota(rank - 1));
  AffineMap featureMap = dimsMap(ctx, rank, {rank - 1});
  Value d = lastDimAsFloat(rewriter, loc, x);
  Value sum = reduceLastDim(rewriter, loc, x,
                            [](OpBuilder &, Location, Value v) { return v; });
  Value rowInit = emptyTensor(rewriter, loc, x, type.getShape().drop_back(),
                              type.getElementType());
  Value mean = buildPointwise(
      rewriter, loc, {sum}, {}, rowInit,
      [&](OpBuilder &b, Location l, ValueRange args) -> Value {
        return arith::DivFOp::create(b, l, args[0], d);
      });
  Value centered = buildPointwise(
      rewriter, loc, {x, mean}, {identity, rowMap},
      emptyTensor(rewriter, loc, x, type.getShape(), type.getElementType()),
      [&](OpBuilder &b, Location l, ValueRange args) -> Value {
        return arith::SubFOp::create(b, l, args[0], args[1]);
      });
  Value sumSq = reduceLastDim(rewriter, loc, centered,
                              [](OpBuilder &b, Location l, Value v) -> Value {
                                return arith::MulFOp::create(b, l, v, v);
                              });
  Value eps = f32Constant(rewriter, loc, epsValue);
  SmallVector<Value> inputs{centered, sumSq, weight};
  SmallVector<AffineMap> maps{identity, rowMap, featureMap};
  if (bias) {
    inputs.push_back(bias);
    maps.push_back(featureMap);
  }
  return buildPointwise(
      rewriter, loc, inputs, maps,
      emptyTensor(rewriter, loc, x, type.getShape(), type.getElementType()),
      [&](OpBuilder &b, Location l, ValueRange args) -> Value {
        Value var = arith::DivFOp::create(b, l, args[1], d);
        Value inv =
            math::RsqrtOp::create(b, l, arith::AddFOp::create(b, l, var, eps));
        Value y = arith::MulFOp::create(
            b, l, arith::MulFOp::create(b, l, args[0], inv), args[2]);
        return args.size() > 3 ? arith::AddFOp::create(b, l, y, args[3]) : y;
      });
}

struct LayerNormLowering : OpRewritePattern<LayerNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    rewriter.replaceOp(op, buildLayerNorm(rewriter, op.getLoc(), op.getInput(),
                                          op.getWeight(), op.getBias(),
                                          op.getEps().convertToDouble()));
    return success();
  }
};

template <typename OpT>
struct ProjectionLowering : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    // The weight is operand 1 of both.
    if (!isF32WithNarrowWeights(op, {1}))
      return rewriter.notifyMatchFailure(op, "only f32 (and a narrow "
                                             "weight) is lowered here");
    Value bias;
    if constexpr (std::is_same_v<OpT, LinearOp>)
      bias = op.getBias();
    rewriter.replaceOp(op, buildProjection(rewriter, op.getLoc(),
                                           op.getInput(), op.getWeight(),
                                           bias));
    return success();
  }
};

/// layernorm(x + dec(act(enc(x)))): composed from the same builders as the
/// standalone ops.
struct MemoryCompressionLowering : OpRewritePattern<MemoryCompressionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MemoryCompressionOp op,
                                PatternRewriter &rewriter) const override {
    Value x = op.getInput();
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    Value encoded = buildProjection(rewriter, loc, x, op.getEncWeight(),
                                    op.getEncBias());
    auto encType = cast<RankedTensorType>(encoded.getType());
    Activation act = op.getActivation();
    Value activated = buildPointwise(
        rewriter, loc, {encoded}, {},
        emptyTensor(rewriter, loc, encoded, encType.getShape(),
                    encType.getElementType()),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          switch (act) {
          case Activation::Gelu:
            return buildGelu(b, l, args[0], /*tanhApproximation=*/false);
          case Activation::Silu:
            return buildSilu(b, l, args[0]);
          case Activation::Relu:
            return arith::MaximumFOp::create(b, l, args[0],
                                             f32Constant(b, l, 0.0));
          }
          llvm_unreachable("unknown activation");
        });
    Value decoded = buildProjection(rewriter, loc, activated,
                                    op.getDecWeight(), op.getDecBias());
    auto type = cast<RankedTensorType>(x.getType());
    Value residual = buildPointwise(
        rewriter, loc, {x, decoded}, {},
        emptyTensor(rewriter, loc, x, type.getShape(), type.getElementType()),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          return arith::AddFOp::create(b, l, args[0], args[1]);
        });
    rewriter.replaceOp(op, buildLayerNorm(rewriter, loc, residual,
                                          op.getNormWeight(), op.getNormBias(),
                                          op.getEps().convertToDouble()));
    return success();
  }
};

/// Pools [B, S, D] over the sequence (last token or mean) and projects to
/// [B, C] with the classifier weight and bias.
struct ClassificationHeadLowering : OpRewritePattern<ClassificationHeadOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ClassificationHeadOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value x = op.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    Type f32 = rewriter.getF32Type();
    SmallVector<int64_t> pooledShape{type.getDimSize(0), type.getDimSize(2)};
    Value pooled;
    if (op.getPooling() == Pooling::Last) {
      Value seq = tensor::DimOp::create(rewriter, loc, x, 1);
      Value last = arith::SubIOp::create(
          rewriter, loc, seq, arith::ConstantIndexOp::create(rewriter, loc, 1));
      pooled = buildPointwise(
          rewriter, loc, {}, {},
          emptyTensor(rewriter, loc, x, pooledShape, f32),
          [&](OpBuilder &b, Location l, ValueRange) -> Value {
            return tensor::ExtractOp::create(
                b, l, x,
                ValueRange{linalg::IndexOp::create(b, l, 0), last,
                           linalg::IndexOp::create(b, l, 1)});
          });
    } else {
      Value sum =
          linalg::GenericOp::create(
              rewriter, loc, TypeRange{RankedTensorType::get(pooledShape, f32)},
              ValueRange{x},
              ValueRange{filledTensor(rewriter, loc, x, pooledShape, f32, 0.0)},
              ArrayRef<AffineMap>{rewriter.getMultiDimIdentityMap(3),
                                  dimsMap(ctx, 3, {0, 2})},
              ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                            utils::IteratorType::reduction,
                                            utils::IteratorType::parallel},
              [&](OpBuilder &b, Location l, ValueRange a) {
                linalg::YieldOp::create(
                    b, l, ValueRange{arith::AddFOp::create(b, l, a[0], a[1])});
              })
              .getResult(0);
      Value seq = tensor::DimOp::create(rewriter, loc, x, 1);
      Value count = arith::UIToFPOp::create(
          rewriter, loc, f32,
          arith::IndexCastOp::create(rewriter, loc, rewriter.getI64Type(),
                                     seq));
      pooled = buildPointwise(
          rewriter, loc, {sum}, {},
          emptyTensor(rewriter, loc, x, pooledShape, f32),
          [&](OpBuilder &b, Location l, ValueRange a) -> Value {
            return arith::DivFOp::create(b, l, a[0], count);
          });
    }
    rewriter.replaceOp(op, buildProjection(rewriter, loc, pooled,
                                           op.getWeight(), op.getBias()));
    return success();
  }
};

/// result[b, s, d] = table[tokens[b, s], d]. The runtime rejects token ids
/// outside the vocabulary before a program runs (checkTokens); the row is
/// clamped to the table anyway (one min per row, hoisted out of the d loop)
/// so that the gather is in bounds by construction, whatever the caller's
/// vocabulary says.
struct EmbeddingLowering : OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    MLIRContext *ctx = rewriter.getContext();
    Value table = op.getTable();
    Value init = emptyTensor(rewriter, loc, op.getTokens(), type.getShape(),
                             type.getElementType());
    // The hidden dim of the result comes from the table, not the tokens.
    if (type.isDynamicDim(2))
      return rewriter.notifyMatchFailure(op, "needs a static hidden size");
    int64_t rows = cast<RankedTensorType>(table.getType()).getDimSize(0);
    if (ShapedType::isDynamic(rows))
      return rewriter.notifyMatchFailure(op, "needs a static vocabulary");
    Value out = buildPointwise(
        rewriter, loc, {op.getTokens()}, {dimsMap(ctx, 3, {0, 1})}, init,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value row = clampedIndex(b, l, args[0], rows);
          Value col = linalg::IndexOp::create(b, l, 2);
          return tensor::ExtractOp::create(b, l, table, ValueRange{row, col});
        });
    rewriter.replaceOp(op, out);
    return success();
  }
};

} // namespace

/// y[..., o] = bias[o] + sum_i x[..., i] * w[o, i].
Value mlir::strata::detail::buildProjection(OpBuilder &b, Location loc,
                                           Value x, Value w, Value bias) {
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  unsigned lead = xType.getRank() - 1;
  unsigned rank = lead + 2; // leading dims, out, in
  MLIRContext *ctx = b.getContext();
  SmallVector<int64_t> outShape(xType.getShape().drop_back());
  outShape.push_back(wType.getDimSize(0));
  Type elementType = xType.getElementType();

  Value acc;
  if (bias) {
    // Broadcast the bias into the accumulator: one pass less than adding it.
    acc = buildPointwise(b, loc, {bias}, {dimsMap(ctx, lead + 1, {lead})},
                         emptyTensor(b, loc, x, outShape, elementType),
                         [](OpBuilder &, Location, ValueRange args) {
                           return args[0];
                         });
  } else {
    acc = filledTensor(b, loc, x, outShape, elementType, 0.0);
  }
  SmallVector<unsigned> xDims = iota(lead);
  xDims.push_back(lead + 1);
  SmallVector<unsigned> yDims = iota(lead + 1);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{acc.getType()}, ValueRange{x, w}, ValueRange{acc},
      ArrayRef<AffineMap>{dimsMap(ctx, rank, xDims),
                          dimsMap(ctx, rank, {lead, lead + 1}),
                          dimsMap(ctx, rank, yDims)},
      iterators, [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value prod = arith::MulFOp::create(nb, nl, args[0],
                                           widenToF32(nb, nl, args[1]));
        linalg::YieldOp::create(nb, nl,
                                ValueRange{arith::AddFOp::create(
                                    nb, nl, args[2], prod)});
      });
  return generic.getResult(0);
}

void mlir::strata::populateCoreToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<RMSNormLowering, LayerNormLowering,
               ProjectionLowering<LinearOp>, ProjectionLowering<LMHeadOp>,
               EmbeddingLowering, MemoryCompressionLowering,
               ClassificationHeadLowering>(
      patterns.getContext());
}

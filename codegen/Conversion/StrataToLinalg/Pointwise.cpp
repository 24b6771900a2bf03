//===- Pointwise.cpp - pointwise strata ops to linalg -----------*- C++ -*-===//
//
// gelu, silu, swiglu, add, dropout, round and sigmoid_gate become one
// all-parallel linalg.generic each; fusion passes merge neighbours later.
//
//===----------------------------------------------------------------------===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;
using namespace mlir::strata;
using namespace mlir::strata::detail;

namespace {

/// Shared shape of unary/binary pointwise patterns.
template <typename OpT> struct PointwisePattern : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;

  virtual Value compute(OpBuilder &b, Location loc, OpT op,
                        ValueRange args) const = 0;

  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    Value first = op->getOperand(0);
    Value init = emptyTensor(rewriter, op.getLoc(), first, type.getShape(),
                             type.getElementType());
    Value result =
        buildPointwise(rewriter, op.getLoc(), op->getOperands(), {}, init,
                       [&](OpBuilder &b, Location loc, ValueRange args) {
                         return compute(b, loc, op, args);
                       });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct GeluLowering : PointwisePattern<GeluOp> {
  using PointwisePattern::PointwisePattern;
  Value compute(OpBuilder &b, Location loc, GeluOp op,
                ValueRange args) const override {
    return buildGelu(b, loc, args[0],
                     op.getApproximate() == GeluApproximation::Tanh);
  }
};

struct SiluLowering : PointwisePattern<SiluOp> {
  using PointwisePattern::PointwisePattern;
  Value compute(OpBuilder &b, Location loc, SiluOp,
                ValueRange args) const override {
    return buildSilu(b, loc, args[0]);
  }
};

struct SwiGLULowering : PointwisePattern<SwiGLUOp> {
  using PointwisePattern::PointwisePattern;
  Value compute(OpBuilder &b, Location loc, SwiGLUOp,
                ValueRange args) const override {
    return arith::MulFOp::create(b, loc, buildSilu(b, loc, args[0]), args[1]);
  }
};

struct AddLowering : PointwisePattern<AddOp> {
  using PointwisePattern::PointwisePattern;
  Value compute(OpBuilder &b, Location loc, AddOp,
                ValueRange args) const override {
    return arith::AddFOp::create(b, loc, args[0], args[1]);
  }
};

/// `x` rounded to the nearest bf16 (`toF16` false) or f16 value, in f32.
/// Integer arithmetic on the bits, so that no target needs a conversion
/// instruction or a runtime library call: adding half an ulp of the
/// narrower format minus one, plus the kept part's lowest bit, then
/// clearing the dropped bits rounds to nearest even; a carry out of the
/// largest finite value gives inf. f16's subnormals have a fixed step of
/// 2^-24, so below 2^-14 the value is rounded to a multiple of it instead.
Value buildRoundTo(OpBuilder &b, Location loc, Value x, bool toF16) {
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto ci = [&](int64_t v) {
    return arith::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(v));
  };
  auto cf = [&](float v) {
    return arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  };
  unsigned dropped = toF16 ? 13 : 16; // f32's 23 mantissa bits, kept 10 / 7
  Value bits = arith::BitcastOp::create(b, loc, i32, x);
  Value lowestKept = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, bits, ci(dropped)), ci(1));
  Value biased = arith::AddIOp::create(
      b, loc, bits,
      arith::AddIOp::create(b, loc, ci((1 << (dropped - 1)) - 1), lowestKept));
  Value rounded = arith::BitcastOp::create(
      b, loc, f32,
      arith::AndIOp::create(b, loc, biased,
                            ci(static_cast<int32_t>(~0u << dropped))));
  if (toF16) {
    Value magnitude = math::AbsFOp::create(b, loc, rounded);
    Value inf = math::CopySignOp::create(
        b, loc, cf(std::numeric_limits<float>::infinity()), x);
    rounded = arith::SelectOp::create(
        b, loc,
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, magnitude,
                              cf(65504.0f)),
        inf, rounded);
    Value scale = cf(16777216.0f); // 2^24: f16's subnormal step is 2^-24
    Value subnormal = arith::MulFOp::create(
        b, loc,
        math::RoundEvenOp::create(b, loc,
                                  arith::MulFOp::create(b, loc, x, scale)),
        cf(1.0f / 16777216.0f));
    rounded = arith::SelectOp::create(
        b, loc,
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT,
                              math::AbsFOp::create(b, loc, x),
                              cf(6.103515625e-05f)), // 2^-14
        subnormal, rounded);
  }
  // NaN stays NaN (the bit trick could carry a NaN's payload into inf).
  Value isNan =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, x, x);
  return arith::SelectOp::create(b, loc, isNan, x, rounded);
}

struct RoundLowering : PointwisePattern<RoundOp> {
  using PointwisePattern::PointwisePattern;
  Value compute(OpBuilder &b, Location loc, RoundOp op,
                ValueRange args) const override {
    return buildRoundTo(b, loc, args[0], isa<Float16Type>(op.getTo()));
  }
};

/// out = keep(x) ? value * 1/(1-p) : 0 over x's shape, `value` being x
/// (forward) or the result's gradient (backward).
Value buildDropout(OpBuilder &b, Location loc, Value x, Value value, Value step,
                   double p, int64_t seed, int64_t salt) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> sizes = dimsAsI64(b, loc, x);
  Value init = emptyTensor(b, loc, x, type.getShape(), type.getElementType());
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap scalar = AffineMap::get(rank, 0, {}, ctx);
  return buildPointwise(
      b, loc, {x, value, step}, {identity, identity, scalar}, init,
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value index = linearIndex(nb, l, sizes);
        Value keep =
            dropoutKeeps(nb, l, args[0], index, args[2], seed, salt, p);
        Type f = args[1].getType();
        Value scaled = arith::MulFOp::create(
            nb, l, args[1],
            arith::ConstantOp::create(nb, l, f,
                                      nb.getFloatAttr(f, 1.0 / (1.0 - p))));
        return arith::SelectOp::create(
            nb, l, keep, scaled,
            arith::ConstantOp::create(nb, l, f, nb.getFloatAttr(f, 0.0)));
      });
}

/// Inference (no step) or p = 0: the identity. Training: the counter-based
/// mask of buildDropout.
struct DropoutLowering : OpRewritePattern<DropoutOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DropoutOp op,
                                PatternRewriter &rewriter) const override {
    double p = op.getP().convertToDouble();
    if (!op.getStep() || p == 0) {
      rewriter.replaceOp(op, op.getInput());
      return success();
    }
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    rewriter.replaceOp(op, buildDropout(rewriter, op.getLoc(), op.getInput(),
                                        op.getInput(), op.getStep(), p,
                                        static_cast<int64_t>(op.getSeed()),
                                        static_cast<int64_t>(op.getSalt())));
    return success();
  }
};

struct DropoutBackwardLowering : OpRewritePattern<DropoutBackwardOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DropoutBackwardOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    rewriter.replaceOp(op, buildDropout(rewriter, op.getLoc(), op.getInput(),
                                        op.getResultGrad(), op.getStep(),
                                        op.getP().convertToDouble(),
                                        static_cast<int64_t>(op.getSeed()),
                                        static_cast<int64_t>(op.getSalt())));
    return success();
  }
};

/// value[..., d] * sigmoid(logit[..., 0]).
struct SigmoidGateLowering : OpRewritePattern<SigmoidGateOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SigmoidGateOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    unsigned rank = type.getRank();
    MLIRContext *ctx = rewriter.getContext();
    SmallVector<AffineExpr> logitExprs;
    for (unsigned i = 0; i + 1 < rank; ++i)
      logitExprs.push_back(getAffineDimExpr(i, ctx));
    logitExprs.push_back(getAffineConstantExpr(0, ctx));
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap logitMap = AffineMap::get(rank, 0, logitExprs, ctx);
    Value init = emptyTensor(rewriter, op.getLoc(), op.getValue(),
                             type.getShape(), type.getElementType());
    Value result = buildPointwise(
        rewriter, op.getLoc(), {op.getValue(), op.getLogit()},
        {identity, logitMap}, init,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Type t = args[1].getType();
          Value one =
              arith::ConstantOp::create(b, loc, t, b.getFloatAttr(t, 1.0));
          Value gate = arith::DivFOp::create(
              b, loc, one,
              arith::AddFOp::create(
                  b, loc, one,
                  math::ExpOp::create(b, loc,
                                      arith::NegFOp::create(b, loc, args[1]))));
          return arith::MulFOp::create(b, loc, args[0], gate);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::strata::populatePointwiseToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<GeluLowering, SiluLowering, SwiGLULowering, AddLowering,
               DropoutLowering, DropoutBackwardLowering, SigmoidGateLowering,
               RoundLowering>(
      patterns.getContext());
}

Value mlir::strata::detail::dropoutKeeps(OpBuilder &b, Location loc, Value x,
                                         Value index, Value step, int64_t seed,
                                         int64_t salt, double p) {
  Type i64 = b.getI64Type();
  auto c = [&](uint64_t v) {
    return arith::ConstantOp::create(
        b, loc, i64, b.getIntegerAttr(i64, static_cast<int64_t>(v)));
  };
  Value bits = arith::ExtUIOp::create(
      b, loc, i64, arith::BitcastOp::create(b, loc, b.getI32Type(), x));
  Value stepBits = arith::ExtUIOp::create(b, loc, i64, step);
  Value h = counterHash(b, loc, seed, salt, {stepBits, index, bits});
  Value draw = arith::ShRUIOp::create(b, loc, h, c(32)); // uniform in [0, 2^32)
  auto threshold = static_cast<uint64_t>(p * 4294967296.0);
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, draw,
                               c(threshold));
}

//===- Pointwise.cpp - pointwise strata ops to linalg -----------*- C++ -*-===//
//
// gelu, silu, swiglu, add, dropout and sigmoid_gate become one
// all-parallel linalg.generic each; fusion passes merge neighbours later.
//
//===----------------------------------------------------------------------===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace mlir::strata;
using namespace mlir::strata::detail;

namespace {

/// Shared shape of unary/binary pointwise patterns.
template <typename OpT>
struct PointwisePattern : OpRewritePattern<OpT> {
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
    Value result = buildPointwise(
        rewriter, op.getLoc(), op->getOperands(), {}, init,
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

/// Inference lowering: dropout is the identity. Training lowers it with the
/// step's generator state when train_step exists.
struct DropoutLowering : OpRewritePattern<DropoutOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DropoutOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, op.getInput());
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
               DropoutLowering, SigmoidGateLowering>(patterns.getContext());
}

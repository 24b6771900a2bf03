//===- Losses.cpp - cross-entropy and router balance loss to linalg -*- C++ -*-===//
//
// Losses reduce to 0-d tensors. Cross-entropy is computed as
// logsumexp(logits) - logits[label] with the row max subtracted first, and
// averaged over the labels that are not ignore_index (0 when all are).
//
//===----------------------------------------------------------------------===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"
#include "codegen/LoweringUtils.h"

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

/// Reduces `input` into `init` over the dims that `outMap` drops.
Value reduce(OpBuilder &b, Location loc, Value input, AffineMap inMap,
             Value init, AffineMap outMap,
             llvm::function_ref<Value(OpBuilder &, Location, Value, Value)>
                 combine) {
  unsigned rank = inMap.getNumDims();
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::reduction);
  for (AffineExpr e : outMap.getResults())
    iterators[cast<AffineDimExpr>(e).getPosition()] =
        utils::IteratorType::parallel;
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{input},
             ValueRange{init}, ArrayRef<AffineMap>{inMap, outMap}, iterators,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl,
                                       ValueRange{combine(nb, nl, args[0],
                                                          args[1])});
             })
      .getResult(0);
}

/// A 0-d f32 tensor holding `value`.
Value scalarTensor(OpBuilder &b, Location loc, double value) {
  Value empty = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{},
                                        b.getF32Type());
  return linalg::FillOp::create(b, loc, f32Constant(b, loc, value), empty)
      .getResult(0);
}

struct CrossEntropyLowering : OpRewritePattern<CrossEntropyOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CrossEntropyOp op,
                                PatternRewriter &rewriter) const override {
    Value logits = op.getLogits(), labels = op.getLabels();
    auto type = cast<RankedTensorType>(logits.getType());
    if (!isF32Only(op))
      return rewriter.notifyMatchFailure(op, "only f32 is lowered here");
    int64_t vocab = type.getShape().back();
    if (ShapedType::isDynamic(vocab))
      return rewriter.notifyMatchFailure(op, "needs a static vocabulary");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    unsigned rank = type.getRank();
    AffineMap full = rewriter.getMultiDimIdentityMap(rank);
    SmallVector<AffineExpr> rowExprs;
    for (unsigned i = 0; i + 1 < rank; ++i)
      rowExprs.push_back(getAffineDimExpr(i, ctx));
    AffineMap row = AffineMap::get(rank, 0, rowExprs, ctx);
    ArrayRef<int64_t> rowShape = type.getShape().drop_back();
    auto rowInit = [&](double v) {
      return filledTensor(rewriter, loc, logits, rowShape,
                          rewriter.getF32Type(), v);
    };

    Value rowMax = reduce(rewriter, loc, logits, full,
                          rowInit(-std::numeric_limits<float>::infinity()),
                          row, [](OpBuilder &b, Location l, Value x, Value acc) {
                            return arith::MaximumFOp::create(b, l, x, acc)
                                .getResult();
                          });
    // sum exp(l - max) with the max read through a second input.
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    iters.back() = utils::IteratorType::reduction;
    Value sumExp =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{rowInit(0.0).getType()},
            ValueRange{logits, rowMax}, ValueRange{rowInit(0.0)},
            ArrayRef<AffineMap>{full, row, row}, iters,
            [&](OpBuilder &b, Location l, ValueRange args) {
              Value e = math::ExpOp::create(
                  b, l, arith::SubFOp::create(b, l, args[0], args[1]));
              linalg::YieldOp::create(
                  b, l, ValueRange{arith::AddFOp::create(b, l, args[2], e)});
            })
            .getResult(0);

    // Per position: (loss, counted) where ignored labels count 0.
    int64_t ignore = op.getIgnoreIndexAttr().getInt();
    Value lossInit = emptyTensor(rewriter, loc, logits, rowShape,
                                 rewriter.getF32Type());
    Value perToken = buildPointwise(
        rewriter, loc, {labels, rowMax, sumExp}, {}, lossInit,
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Type labelType = args[0].getType();
          Value ignored = arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::eq, args[0],
              arith::ConstantOp::create(
                  b, l, labelType, b.getIntegerAttr(labelType, ignore)));
          // An ignored label may be out of range: read column 0 instead.
          // Other labels are clamped to the vocabulary, so that no label
          // reads out of bounds (nothing checks them before the call).
          Value safe = arith::SelectOp::create(
              b, l, ignored,
              arith::ConstantOp::create(b, l, labelType,
                                        b.getIntegerAttr(labelType, 0)),
              args[0]);
          SmallVector<Value> idx;
          for (unsigned i = 0; i + 1 < rank; ++i)
            idx.push_back(linalg::IndexOp::create(b, l, i));
          idx.push_back(clampedIndex(b, l, safe, vocab));
          Value picked = tensor::ExtractOp::create(b, l, logits, idx);
          Value lse = arith::AddFOp::create(b, l, args[1],
                                            math::LogOp::create(b, l, args[2]));
          Value loss = arith::SubFOp::create(b, l, lse, picked);
          return arith::SelectOp::create(b, l, ignored, f32Constant(b, l, 0.0), loss);
        });
    Value counted = buildPointwise(
        rewriter, loc, {labels}, {},
        emptyTensor(rewriter, loc, logits, rowShape, rewriter.getF32Type()),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Type labelType = args[0].getType();
          Value ignored = arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::eq, args[0],
              arith::ConstantOp::create(
                  b, l, labelType, b.getIntegerAttr(labelType, ignore)));
          return arith::SelectOp::create(b, l, ignored, f32Constant(b, l, 0.0),
                                         f32Constant(b, l, 1.0));
        });
    unsigned rowRank = rank - 1;
    AffineMap all = rewriter.getMultiDimIdentityMap(rowRank);
    AffineMap toScalar = AffineMap::get(rowRank, 0, {}, ctx);
    auto add = [](OpBuilder &b, Location l, Value x, Value acc) {
      return arith::AddFOp::create(b, l, x, acc).getResult();
    };
    Value total = reduce(rewriter, loc, perToken, all,
                         scalarTensor(rewriter, loc, 0.0), toScalar, add);
    Value count = reduce(rewriter, loc, counted, all,
                         scalarTensor(rewriter, loc, 0.0), toScalar, add);
    Value mean = buildPointwise(
        rewriter, loc, {total, count}, {}, scalarTensor(rewriter, loc, 0.0),
        [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          Value none = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ,
                                             args[1], f32Constant(b, l, 0.0));
          Value div = arith::DivFOp::create(b, l, args[0], args[1]);
          return arith::SelectOp::create(b, l, none, f32Constant(b, l, 0.0), div);
        });
    rewriter.replaceOp(op, mean);
    return success();
  }
};

} // namespace

void mlir::strata::populateLossToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<CrossEntropyLowering>(patterns.getContext());
}

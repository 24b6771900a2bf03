//===- Quantized.cpp - int8 quantized forms to linalg -----------*- C++ -*-===//
//
// strata.quantized_linear: the int8 weight's per-channel scale leaves the
// sum, so both schemes are a contraction over int8 weights followed by one
// multiply per output. w8a16's contraction is buildProjection's (the
// weight widened as read: the CPU's register tiles take it); w8a8_dynamic
// quantizes each row of x first and sums int8 products exactly in int32;
// static w8a8 rounds x to uint8 with its calibrated scale and zero point,
// stored offset by -128 as int8 so that the same int8 contraction takes it
// (and a uint8 x int8 instruction only flips the top bit back), the
// offset and the zero point coming back as one multiple of the weight
// row's sum (a parameter the runtime computes when the weights change, so
// that a call reads the weight once).
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

Value mlir::strata::detail::rowScales(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned lead = type.getRank() - 1;
  MLIRContext *ctx = b.getContext();
  Value absMax = filledTensor(b, loc, x, type.getShape().drop_back(),
                              b.getF32Type(), 0.0);
  SmallVector<utils::IteratorType> iterators(lead + 1,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  absMax = buildGeneric(
      b, loc, {x}, absMax,
      {dimsMap(ctx, lead + 1, iota(lead + 1)), dimsMap(ctx, lead + 1,
                                                       iota(lead))},
      iterators, [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        return arith::MaximumFOp::create(nb, nl, args[1],
                                         math::AbsFOp::create(nb, nl, args[0]));
      });
  return buildPointwise(
      b, loc, {absMax}, {}, emptyTensor(b, loc, x, type.getShape().drop_back(),
                                        b.getF32Type()),
      [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value zero = f32Constant(nb, nl, 0.0f);
        Value positive = arith::CmpFOp::create(
            nb, nl, arith::CmpFPredicate::OGT, args[0], zero);
        Value scaled = arith::DivFOp::create(nb, nl, args[0],
                                             f32Constant(nb, nl, 127.0f));
        return arith::SelectOp::create(nb, nl, positive, scaled,
                                       f32Constant(nb, nl, 1.0f));
      });
}

Value mlir::strata::detail::quantizeRows(OpBuilder &b, Location loc, Value x,
                                         Value scales, Type elementType) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  return buildPointwise(
      b, loc, {x, scales},
      {dimsMap(ctx, rank, iota(rank)), dimsMap(ctx, rank, iota(rank - 1))},
      emptyTensor(b, loc, x, type.getShape(), elementType),
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value q = math::RoundEvenOp::create(
            nb, nl, arith::DivFOp::create(nb, nl, args[0], args[1]));
        q = arith::MinimumFOp::create(
            nb, nl, arith::MaximumFOp::create(nb, nl, q,
                                              f32Constant(nb, nl, -127.0f)),
            f32Constant(nb, nl, 127.0f));
        if (elementType.isF32())
          return q;
        return arith::FPToSIOp::create(nb, nl, elementType, q);
      });
}

Value mlir::strata::detail::quantizeOffsetRows(
    OpBuilder &b, Location loc, Value x, Value scale, Value zeroPoint,
    AffineMap paramMap) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  return buildPointwise(
      b, loc, {x, scale, zeroPoint},
      {dimsMap(ctx, rank, iota(rank)), paramMap, paramMap},
      emptyTensor(b, loc, x, type.getShape(), b.getI8Type()),
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value q = math::RoundEvenOp::create(
            nb, nl, arith::DivFOp::create(nb, nl, args[0], args[1]));
        q = arith::AddFOp::create(nb, nl, q, args[2]);
        q = arith::MinimumFOp::create(
            nb, nl, arith::MaximumFOp::create(nb, nl, q, f32Constant(nb, nl, 0)),
            f32Constant(nb, nl, 255.0f));
        q = arith::SubFOp::create(nb, nl, q, f32Constant(nb, nl, 128.0f));
        return arith::FPToSIOp::create(nb, nl, nb.getI8Type(), q);
      });
}

Value mlir::strata::detail::unoffsetSum(OpBuilder &b, Location loc, Value acc,
                                        Value rowSum, Value zeroPoint) {
  Type i32 = b.getI32Type();
  Value z = arith::FPToSIOp::create(b, loc, i32, zeroPoint);
  Value shift = arith::SubIOp::create(
      b, loc, arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(128)), z);
  return arith::AddIOp::create(b, loc, acc,
                               arith::MulIOp::create(b, loc, shift, rowSum));
}

namespace {

/// acc[p.., n] = sum_k x_q[p.., k] * w_q[n, k] in i32 (exact: |x_q w_q| <=
/// 127^2, so 2^31 / 127^2 > 133,000 products fit).
Value int8Contraction(OpBuilder &b, Location loc, Value xq, Value wq) {
  auto xType = cast<RankedTensorType>(xq.getType());
  auto wType = cast<RankedTensorType>(wq.getType());
  unsigned lead = xType.getRank() - 1, rank = lead + 2;
  MLIRContext *ctx = b.getContext();
  SmallVector<int64_t> outShape(xType.getShape().drop_back());
  outShape.push_back(wType.getDimSize(0));
  Value empty = emptyTensor(b, loc, xq, outShape, b.getI32Type());
  Value zero = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
  Value acc = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  SmallVector<unsigned> xDims = iota(lead);
  xDims.push_back(lead + 1);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  return buildGeneric(
      b, loc, {xq, wq}, acc,
      {dimsMap(ctx, rank, xDims), dimsMap(ctx, rank, {lead, lead + 1}),
       dimsMap(ctx, rank, iota(lead + 1))},
      iterators, [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Type i32 = nb.getI32Type();
        Value x = arith::ExtSIOp::create(nb, nl, i32, args[0]);
        Value w = arith::ExtSIOp::create(nb, nl, i32, args[1]);
        return arith::AddIOp::create(nb, nl, args[2],
                                     arith::MulIOp::create(nb, nl, x, w));
      });
}

struct QuantizedLinearLowering : OpRewritePattern<QuantizedLinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(QuantizedLinearOp op,
                                PatternRewriter &rewriter) const override {
    if (!isF32WithNarrowWeights(op, {}))
      return rewriter.notifyMatchFailure(op, "only f32 activations");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value x = op.getInput(), w = op.getWeight();
    auto outType = cast<RankedTensorType>(op.getType());
    unsigned rank = outType.getRank(), lead = rank - 1;
    SmallVector<Value> inputs;
    SmallVector<AffineMap> maps;
    Value rowScale;
    bool isStatic = op.getScheme() == QuantScheme::W8A8;
    if (op.getScheme() == QuantScheme::W8A16) {
      inputs.push_back(buildProjection(rewriter, loc, x, w, Value()));
    } else if (isStatic) {
      AffineMap first = AffineMap::get(
          rank, 0, {getAffineConstantExpr(0, ctx)}, ctx);
      inputs.push_back(int8Contraction(
          rewriter, loc,
          quantizeOffsetRows(rewriter, loc, x, op.getInputScale(),
                             op.getInputZeroPoint(), first),
          w));
    } else {
      rowScale = rowScales(rewriter, loc, x);
      inputs.push_back(int8Contraction(
          rewriter, loc,
          quantizeRows(rewriter, loc, x, rowScale, rewriter.getI8Type()), w));
    }
    maps.push_back(dimsMap(ctx, rank, iota(rank)));
    inputs.push_back(op.getWeightScale());
    maps.push_back(dimsMap(ctx, rank, {lead}));
    if (rowScale) {
      inputs.push_back(rowScale);
      maps.push_back(dimsMap(ctx, rank, iota(lead)));
    }
    if (isStatic) {
      AffineMap first = AffineMap::get(
          rank, 0, {getAffineConstantExpr(0, ctx)}, ctx);
      inputs.append(
          {op.getInputScale(), op.getInputZeroPoint(), op.getWeightRowSums()});
      maps.append({first, first, dimsMap(ctx, rank, {lead})});
    }
    if (Value bias = op.getBias()) {
      inputs.push_back(bias);
      maps.push_back(dimsMap(ctx, rank, {lead}));
    }
    bool dynamic = bool(rowScale), hasBias = bool(op.getBias());
    // y = acc (* s_x) * s_w (+ b), in that order (the reference's); the
    // static scheme's exact sum first takes its offset and zero point.
    Value y = buildPointwise(
        rewriter, loc, inputs, maps,
        emptyTensor(rewriter, loc, x, outType.getShape(),
                    outType.getElementType()),
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value acc = args[0];
          unsigned next = 2;
          if (dynamic) {
            acc = arith::SIToFPOp::create(nb, nl, nb.getF32Type(), acc);
            acc = arith::MulFOp::create(nb, nl, acc, args[next++]);
          }
          if (isStatic) {
            acc = unoffsetSum(nb, nl, acc, args[next + 2], args[next + 1]);
            acc = arith::SIToFPOp::create(nb, nl, nb.getF32Type(), acc);
            acc = arith::MulFOp::create(nb, nl, acc, args[next]);
            next += 3;
          }
          Value out = arith::MulFOp::create(nb, nl, acc, args[1]);
          if (hasBias)
            out = arith::AddFOp::create(nb, nl, out, args[next]);
          return out;
        });
    rewriter.replaceOp(op, y);
    return success();
  }
};

} // namespace

void mlir::strata::populateQuantizedToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<QuantizedLinearLowering>(patterns.getContext());
}

//===- Utils.cpp - shared helpers of the strata-to-linalg patterns -*- C++
//-*-===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::strata;

bool mlir::strata::detail::isF32Only(Operation *op) {
  auto ok = [](Type t) {
    auto tensor = dyn_cast<RankedTensorType>(t);
    return !tensor || !isa<FloatType>(tensor.getElementType()) ||
           tensor.getElementType().isF32();
  };
  return llvm::all_of(op->getOperandTypes(), ok) &&
         llvm::all_of(op->getResultTypes(), ok);
}

Value mlir::strata::detail::emptyTensor(OpBuilder &b, Location loc, Value like,
                                        ArrayRef<int64_t> shape,
                                        Type elementType) {
  SmallVector<Value> dynamicSizes;
  for (auto [i, dim] : llvm::enumerate(shape))
    if (ShapedType::isDynamic(dim))
      dynamicSizes.push_back(tensor::DimOp::create(b, loc, like, i));
  return tensor::EmptyOp::create(b, loc, shape, elementType, dynamicSizes);
}

Value mlir::strata::detail::filledTensor(OpBuilder &b, Location loc, Value like,
                                         ArrayRef<int64_t> shape,
                                         Type elementType, double value) {
  Value empty = emptyTensor(b, loc, like, shape, elementType);
  Value scalar = arith::ConstantOp::create(b, loc, elementType,
                                           b.getFloatAttr(elementType, value));
  return linalg::FillOp::create(b, loc, scalar, empty).getResult(0);
}

Value mlir::strata::detail::buildPointwise(
    OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<AffineMap> maps,
    Value init,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  auto type = cast<RankedTensorType>(init.getType());
  unsigned rank = type.getRank();
  SmallVector<AffineMap> indexing(maps.begin(), maps.end());
  if (indexing.empty())
    indexing.assign(inputs.size(), b.getMultiDimIdentityMap(rank));
  indexing.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type}, inputs, ValueRange{init}, indexing, iterators,
      [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
        Value out = body(nested, nestedLoc, args.drop_back());
        linalg::YieldOp::create(nested, nestedLoc, out);
      });
  return generic.getResult(0);
}

AffineMap mlir::strata::detail::dimsMap(MLIRContext *ctx, unsigned rank,
                                        ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

Value mlir::strata::detail::buildGeneric(
    OpBuilder &b, Location loc, ValueRange inputs, Value init,
    ArrayRef<AffineMap> maps, ArrayRef<utils::IteratorType> iterators,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
             iterators,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl, ValueRange{body(nb, nl, args)});
             })
      .getResult(0);
}

Value mlir::strata::detail::buildSilu(OpBuilder &b, Location loc, Value x) {
  // x / (1 + exp(-x)), which saturates cleanly at both ends in f32.
  Type t = x.getType();
  Value one = arith::ConstantOp::create(b, loc, t, b.getFloatAttr(t, 1.0));
  Value negX = arith::NegFOp::create(b, loc, x);
  Value denom =
      arith::AddFOp::create(b, loc, one, math::ExpOp::create(b, loc, negX));
  return arith::DivFOp::create(b, loc, x, denom);
}

Value mlir::strata::detail::buildGelu(OpBuilder &b, Location loc, Value x,
                                      bool tanhApproximation) {
  Type t = x.getType();
  auto c = [&](double v) {
    return arith::ConstantOp::create(b, loc, t, b.getFloatAttr(t, v));
  };
  Value half = arith::MulFOp::create(b, loc, x, c(0.5));
  Value inner;
  if (tanhApproximation) {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    Value x3 =
        arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
    Value poly = arith::AddFOp::create(
        b, loc, x, arith::MulFOp::create(b, loc, x3, c(0.044715)));
    inner = math::TanhOp::create(
        b, loc, arith::MulFOp::create(b, loc, poly, c(std::sqrt(2.0 / M_PI))));
  } else {
    // 0.5 x (1 + erf(x / sqrt(2)))
    inner = math::ErfOp::create(b, loc,
                                arith::MulFOp::create(b, loc, x, c(M_SQRT1_2)));
  }
  return arith::MulFOp::create(b, loc, half,
                               arith::AddFOp::create(b, loc, c(1.0), inner));
}

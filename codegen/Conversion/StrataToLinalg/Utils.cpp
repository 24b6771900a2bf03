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
  return isF32WithNarrowWeights(op, {});
}

bool mlir::strata::detail::isF32WithNarrowWeights(
    Operation *op, ArrayRef<unsigned> weights) {
  auto ok = [](Type t, bool narrowAllowed) {
    auto tensor = dyn_cast<RankedTensorType>(t);
    if (!tensor || !isa<FloatType>(tensor.getElementType()))
      return true;
    Type e = tensor.getElementType();
    return e.isF32() || (narrowAllowed && (e.isBF16() || e.isF16()));
  };
  for (OpOperand &operand : op->getOpOperands())
    if (!ok(operand.get().getType(),
            llvm::is_contained(weights, operand.getOperandNumber())))
      return false;
  return llvm::all_of(op->getResultTypes(),
                      [&](Type t) { return ok(t, false); });
}

SmallVector<unsigned> mlir::strata::detail::iota(unsigned n) {
  SmallVector<unsigned> dims(n);
  for (unsigned i = 0; i < n; ++i)
    dims[i] = i;
  return dims;
}

Value mlir::strata::detail::widenToF32(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isF32())
    return v;
  if (v.getType().isInteger(8))
    return arith::SIToFPOp::create(b, loc, b.getF32Type(), v);
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
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

namespace {
Value i64Constant(OpBuilder &b, Location loc, uint64_t v) {
  Type i64 = b.getI64Type();
  return arith::ConstantOp::create(
      b, loc, i64, b.getIntegerAttr(i64, static_cast<int64_t>(v)));
}
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
} // namespace

Value mlir::strata::detail::mix64(OpBuilder &b, Location loc, Value z) {
  auto xorShift = [&](Value v, uint64_t shift) {
    return arith::XOrIOp::create(
        b, loc, v, arith::ShRUIOp::create(b, loc, v, i64Constant(b, loc, shift)));
  };
  z = arith::MulIOp::create(b, loc, xorShift(z, 30),
                            i64Constant(b, loc, 0xBF58476D1CE4E5B9ull));
  z = arith::MulIOp::create(b, loc, xorShift(z, 27),
                            i64Constant(b, loc, 0x94D049BB133111EBull));
  return xorShift(z, 31);
}

Value mlir::strata::detail::counterHash(OpBuilder &b, Location loc,
                                        int64_t seed, int64_t salt,
                                        ValueRange words) {
  Value h = mix64(
      b, loc,
      arith::XOrIOp::create(
          b, loc, i64Constant(b, loc, static_cast<uint64_t>(seed)),
          i64Constant(b, loc, static_cast<uint64_t>(salt) * kGolden)));
  for (Value word : words)
    h = mix64(b, loc,
              arith::AddIOp::create(b, loc,
                                    arith::XOrIOp::create(b, loc, h, word),
                                    i64Constant(b, loc, kGolden)));
  return h;
}

Value mlir::strata::detail::linearIndex(OpBuilder &b, Location loc,
                                        ValueRange sizes) {
  Type i64 = b.getI64Type();
  Value index = i64Constant(b, loc, 0);
  for (auto [d, size] : llvm::enumerate(sizes)) {
    Value i = arith::IndexCastOp::create(b, loc, i64,
                                         linalg::IndexOp::create(b, loc, d));
    index = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, index, size), i);
  }
  return index;
}

SmallVector<Value> mlir::strata::detail::dimsAsI64(OpBuilder &b, Location loc,
                                                   Value x) {
  SmallVector<Value> sizes;
  unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
  for (unsigned d = 0; d < rank; ++d)
    sizes.push_back(arith::IndexCastOp::create(
        b, loc, b.getI64Type(), tensor::DimOp::create(b, loc, x, d)));
  return sizes;
}

Value mlir::strata::detail::normalFromHash(OpBuilder &b, Location loc,
                                           Value h) {
  Type f32 = b.getF32Type();
  auto f = [&](double v) {
    return arith::ConstantOp::create(b, loc, f32, b.getF32FloatAttr(v));
  };
  Value hi = arith::ShRUIOp::create(b, loc, h, i64Constant(b, loc, 40));
  Value mid = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, h, i64Constant(b, loc, 8)),
      i64Constant(b, loc, 0xFFFFFF));
  // Both exact in f32 (24 bits).
  Value u1 = arith::MulFOp::create(
      b, loc,
      arith::UIToFPOp::create(
          b, loc, f32, arith::AddIOp::create(b, loc, hi, i64Constant(b, loc, 1))),
      f(1.0 / 16777216.0));
  Value u2 = arith::MulFOp::create(b, loc,
                                   arith::UIToFPOp::create(b, loc, f32, mid),
                                   f(1.0 / 16777216.0));
  Value radius = math::SqrtOp::create(
      b, loc, arith::MulFOp::create(b, loc, f(-2.0), math::LogOp::create(b, loc, u1)));
  Value angle = arith::MulFOp::create(b, loc, u2, f(2.0 * M_PI));
  return arith::MulFOp::create(b, loc, radius, math::CosOp::create(b, loc, angle));
}

Value mlir::strata::detail::buildRouterNoise(OpBuilder &b, Location loc,
                                             Value logits, Value step,
                                             double noiseStd, int64_t seed,
                                             int64_t salt) {
  auto type = cast<RankedTensorType>(logits.getType());
  unsigned rank = type.getRank();
  SmallVector<Value> sizes = dimsAsI64(b, loc, logits);
  Value init =
      emptyTensor(b, loc, logits, type.getShape(), type.getElementType());
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap scalar = AffineMap::get(rank, 0, {}, b.getContext());
  return buildPointwise(
      b, loc, {logits, step}, {identity, scalar}, init,
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Type i64 = nb.getI64Type();
        Value bits = arith::ExtUIOp::create(
            nb, l, i64,
            arith::BitcastOp::create(nb, l, nb.getI32Type(), args[0]));
        Value stepBits = arith::ExtUIOp::create(nb, l, i64, args[1]);
        Value h = counterHash(nb, l, seed, salt,
                              {stepBits, linearIndex(nb, l, sizes), bits});
        Value noise = arith::MulFOp::create(
            nb, l, normalFromHash(nb, l, h),
            arith::ConstantOp::create(nb, l, nb.getF32Type(),
                                      nb.getF32FloatAttr(noiseStd)));
        return arith::AddFOp::create(nb, l, args[0], noise);
      });
}

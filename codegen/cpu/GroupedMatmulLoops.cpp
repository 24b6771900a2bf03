//===- GroupedMatmulLoops.cpp - grouped matmuls as GEMM loops -*- C++ -*-===//
//
// strata_kernel.grouped_matmul on buffers -> a loop over the groups (experts),
// each running x·Wᵀ as a linalg contraction on its contiguous rows and its
// weight matrix. The contraction is then register-tiled and handed to the
// thread pool like every other linear layer, so each expert's weights are
// read once per tile of its rows.
//
//===----------------------------------------------------------------------===//

#include "codegen/LoweringUtils.h"
#include "codegen/cpu/Passes.h"
#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAGROUPEDMATMULLOOPS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// `source[offsets..][sizes..]` with unit strides, dropping the leading
/// unit dims when `rank` is lower than the source's.
Value window(OpBuilder &b, Location loc, Value source,
             ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes,
             int64_t rank) {
  auto type = cast<MemRefType>(source.getType());
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  SmallVector<int64_t> shape;
  for (OpFoldResult size : sizes.take_back(rank))
    shape.push_back(getConstantIntValue(size).value_or(ShapedType::kDynamic));
  auto result = memref::SubViewOp::inferRankReducedResultType(
      shape, type, offsets, sizes, strides);
  return memref::SubViewOp::create(b, loc, cast<MemRefType>(result), source,
                                   offsets, sizes, strides);
}

/// init[start:end] += rows[start:end] · weights[e]ᵀ for each group e.
LogicalResult lowerToLoops(kernel::GroupedMatmulOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  Value rows = op.getRows(), weights = op.getWeights(),
        offsets = op.getOffsets(), init = op.getInit();
  auto wType = cast<MemRefType>(weights.getType());
  int64_t n = wType.getDimSize(1), d = wType.getDimSize(2);
  Value groups = memref::DimOp::create(b, loc, weights, 0);
  scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), groups, indexConstant(b, loc, 1),
      ValueRange{}, [&](OpBuilder &b, Location loc, Value e, ValueRange) {
        Value start = loadIndex(b, loc, offsets, e);
        Value next = arith::AddIOp::create(b, loc, e, indexConstant(b, loc, 1));
        Value end = loadIndex(b, loc, offsets, next);
        Value count = arith::SubIOp::create(b, loc, end, start);
        OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
        Value a =
            window(b, loc, rows, {start, zero}, {count, b.getIndexAttr(d)}, 2);
        Value w = window(b, loc, weights, {e, zero, zero},
                         {one, b.getIndexAttr(n), b.getIndexAttr(d)}, 2);
        Value c =
            window(b, loc, init, {start, zero}, {count, b.getIndexAttr(n)}, 2);
        auto map = [&](ArrayRef<unsigned> dims) {
          SmallVector<AffineExpr> exprs;
          for (unsigned dim : dims)
            exprs.push_back(getAffineDimExpr(dim, ctx));
          return AffineMap::get(3, 0, exprs, ctx);
        };
        // dims: m, n, k
        linalg::GenericOp::create(
            b, loc, ValueRange{a, w}, ValueRange{c},
            ArrayRef<AffineMap>{map({0, 2}), map({1, 2}), map({0, 1})},
            ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                          utils::IteratorType::parallel,
                                          utils::IteratorType::reduction},
            [](OpBuilder &b, Location loc, ValueRange args) {
              // Int8 rows and weights: exact i32 sums (the register tiles'
              // int8 form).
              if (args[0].getType().isInteger(8)) {
                Type i32 = b.getI32Type();
                Value product = arith::MulIOp::create(
                    b, loc, arith::ExtSIOp::create(b, loc, i32, args[0]),
                    arith::ExtSIOp::create(b, loc, i32, args[1]));
                linalg::YieldOp::create(
                    b, loc,
                    ValueRange{arith::AddIOp::create(b, loc, args[2], product)});
                return;
              }
              // A bf16/f16/int8 weight is widened as read (the register
              // tiles load it narrow and widen the vector).
              Value w = args[1];
              if (w.getType().isInteger(8))
                w = arith::SIToFPOp::create(b, loc, b.getF32Type(), w);
              else if (!w.getType().isF32())
                w = arith::ExtFOp::create(b, loc, b.getF32Type(), w);
              Value product = arith::MulFOp::create(b, loc, args[0], w);
              linalg::YieldOp::create(
                  b, loc,
                  ValueRange{arith::AddFOp::create(b, loc, args[2], product)});
            });
        scf::YieldOp::create(b, loc);
      });
  op.erase();
  return success();
}

struct GroupedMatmulLoopsPass
    : public mlir::strata::impl::StrataGroupedMatmulLoopsBase<
          GroupedMatmulLoopsPass> {
  void runOnOperation() override {
    if (failed(lowerBufferized<kernel::GroupedMatmulOp>(
            getOperation(), getArgument(), lowerToLoops)))
      signalPassFailure();
  }
};

} // namespace

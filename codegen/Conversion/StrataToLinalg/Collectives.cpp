//===- Collectives.cpp - shard collectives to kernel ops -------*- C++ -*-===//
//
// A tensor-parallel program's communication, as shard-partition left it:
// the row-parallel products' `shard.all_reduce` (a sum over the grid's
// last axis, `tp`) becomes `strata_kernel.all_reduce`, which each target
// lowers to the runtime's collective hook. Other collectives have no
// lowering yet and stay (the pass reports them).
//
//===----------------------------------------------------------------------===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"

#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::strata;

namespace {

/// Whether `op` sums over exactly its grid's last axis (the plan's tp).
bool sumsOverTensorAxis(shard::AllReduceOp op) {
  if (op.getReduction() != shard::ReductionKind::Sum)
    return false;
  auto grid =
      SymbolTable::lookupNearestSymbolFrom<shard::GridOp>(op, op.getGridAttr());
  ArrayRef<int16_t> axes = op.getGridAxes();
  return grid && axes.size() == 1 && axes.front() == grid.getRank() - 1;
}

struct AllReduceToKernel : OpRewritePattern<shard::AllReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(shard::AllReduceOp op,
                                PatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getInput().getType());
    if (!type || type != op.getType() || !type.getElementType().isF32() ||
        !sumsOverTensorAxis(op))
      return rewriter.notifyMatchFailure(op, "not an f32 sum over tp");
    auto reduced = kernel::AllReduceOp::create(rewriter, op.getLoc(),
                                               TypeRange{type}, op.getInput());
    rewriter.replaceOp(op, reduced.getResult());
    return success();
  }
};

/// Megatron's f is the identity in the forward (its backward's sum is a
/// shard.all_reduce of its own).
struct DropEnterTensorParallel : OpRewritePattern<EnterTensorParallelOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EnterTensorParallelOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, op.getInput());
    return success();
  }
};

} // namespace

void mlir::strata::populateCollectivesToKernelPatterns(
    RewritePatternSet &patterns) {
  patterns.add<AllReduceToKernel, DropEnterTensorParallel>(
      patterns.getContext());
}

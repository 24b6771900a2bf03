//===- Collectives.cpp - shard collectives to kernel ops -------*- C++ -*-===//
//
// A tensor-parallel program's communication, as shard-partition left it:
// the row-parallel products' `shard.all_reduce` (a sum over the grid's
// last axis, `tp`) becomes `strata_kernel.all_reduce`, which each target
// lowers to the runtime's collective hook. An expert-parallel program's
// exchanges (strata.expert_route / expert_dispatch / expert_combine)
// become the flat strata_kernel.expert_route / expert_exchange, which the
// targets lower to the runtime's hooks too. Other collectives have no
// lowering yet and stay (the pass reports them).
//
//===----------------------------------------------------------------------===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"

#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
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

/// An empty tensor of `type` whose leading dim is `lead` and whose other
/// dims are those of `like` (same rank).
Value emptyLike(OpBuilder &b, Location loc, RankedTensorType type,
                OpFoldResult lead, Value like) {
  SmallVector<OpFoldResult> sizes{lead};
  for (int64_t d = 1; d < type.getRank(); ++d)
    sizes.push_back(tensor::getMixedSize(b, loc, like, d));
  return tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
}

/// The ranks of the exchange's grid axis.
FailureOr<int64_t> groupSize(Operation *op, FlatSymbolRefAttr gridName,
                             int64_t axis) {
  auto grid = SymbolTable::lookupNearestSymbolFrom<shard::GridOp>(
      op, gridName.getAttr());
  if (!grid || axis >= grid.getRank() ||
      ShapedType::isDynamic(grid.getShape()[axis]))
    return failure();
  return grid.getShape()[axis];
}

/// The leading dim of the group's rows: G times this rank's sequences.
OpFoldResult groupRows(OpBuilder &b, Location loc, Value local, int64_t group) {
  OpFoldResult batch = tensor::getMixedSize(b, loc, local, 0);
  if (auto c = getConstantIntValue(batch))
    return b.getIndexAttr(*c * group);
  return arith::MulIOp::create(b, loc, cast<Value>(batch),
                               arith::ConstantIndexOp::create(b, loc, group))
      .getResult();
}

/// The inits keep the values' shapes: the target flattens the buffers
/// when it calls the runtime (a tensor-level expand of one flat dim into
/// two dynamic ones does not survive MLIR 22's expand-strided-metadata).
struct ExpertRouteToKernel : OpRewritePattern<ExpertRouteOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ExpertRouteOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<int64_t> group = groupSize(op, op.getGridAttr(), op.getAxis());
    if (failed(group))
      return rewriter.notifyMatchFailure(op, "no static grid axis");
    Location loc = op.getLoc();
    OpFoldResult rows = groupRows(rewriter, loc, op.getIndices(), *group);
    auto route = kernel::ExpertRouteOp::create(
        rewriter, loc, op->getResultTypes(), op.getWeights(), op.getIndices(),
        emptyLike(rewriter, loc, op.getRowWeights().getType(), rows,
                  op.getWeights()),
        emptyLike(rewriter, loc, op.getRowIndices().getType(), rows,
                  op.getIndices()),
        rewriter.getI64IntegerAttr(
            cast<RankedTensorType>(op.getIndices().getType()).getDimSize(2)),
        op.getNumExpertsAttr());
    rewriter.replaceOp(op, route.getResults());
    return success();
  }
};

/// Dispatch (`Combine` false) and combine: one exchange of rows.
template <typename OpT, bool Combine>
struct ExpertExchangeToKernel : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    FailureOr<int64_t> group = groupSize(op, op.getGridAttr(), op.getAxis());
    if (failed(group))
      return rewriter.notifyMatchFailure(op, "no static grid axis");
    Location loc = op.getLoc();
    Value input = op->getOperand(0);
    auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
    int64_t width = resultType.getDimSize(2);
    if (ShapedType::isDynamic(width))
      return rewriter.notifyMatchFailure(op, "needs a static row width");
    // Dispatch writes the group's rows, combine this rank's tokens.
    OpFoldResult lead =
        Combine ? tensor::getMixedSize(rewriter, loc, op.getIndices(), 0)
                : groupRows(rewriter, loc, input, *group);
    auto exchange = kernel::ExpertExchangeOp::create(
        rewriter, loc, TypeRange{resultType}, input, op.getRowIndices(),
        op.getIndices(), emptyLike(rewriter, loc, resultType, lead, input),
        rewriter.getBoolAttr(Combine), rewriter.getI64IntegerAttr(width),
        rewriter.getI64IntegerAttr(
            cast<RankedTensorType>(op.getIndices().getType()).getDimSize(2)),
        op.getNumExpertsAttr());
    rewriter.replaceOp(op, exchange.getResult()[0]);
    return success();
  }
};

} // namespace

void mlir::strata::populateCollectivesToKernelPatterns(
    RewritePatternSet &patterns) {
  patterns.add<AllReduceToKernel, DropEnterTensorParallel, ExpertRouteToKernel,
               ExpertExchangeToKernel<ExpertDispatchOp, /*Combine=*/false>,
               ExpertExchangeToKernel<ExpertCombineOp, /*Combine=*/true>>(
      patterns.getContext());
}

//===- StrataOpsSharding.cpp - the shard dialect's interface on model ops -===//
//
// Each op says how its loops map onto its operands and results
// (shard::ShardingInterface), so that upstream sharding-propagation carries
// a plan's annotations through a layer and shard-partition turns it into
// the program of one rank. Megatron's tensor parallelism falls out: a
// linear layer split on its output features needs nothing, split on its
// input features (the reduction) it sums its partial products with one
// all-reduce; attention and rotary embeddings split by whole heads; norms
// see whole rows.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Shard/Interfaces/ShardingInterface.h"
#include "mlir/Dialect/Shard/Interfaces/ShardingInterfaceImpl.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::strata;

namespace {

using shard::GridAxis;
using shard::ReductionKind;
using shard::Sharding;
using utils::IteratorType;

int64_t rankOf(Value v) { return cast<RankedTensorType>(v.getType()).getRank(); }

/// A map from `loops` loops to the listed ones.
AffineMap mapTo(MLIRContext *ctx, unsigned loops, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(loops, 0, exprs, ctx);
}

/// The loops 0..n-1.
SmallVector<unsigned> leading(unsigned n) {
  SmallVector<unsigned> dims(n);
  for (unsigned i = 0; i < n; ++i)
    dims[i] = i;
  return dims;
}

/// The product of the grid axes `axes` of the grid that `sharding` names.
FailureOr<int64_t> axesSize(Operation *op, const Sharding &sharding,
                            ArrayRef<GridAxis> axes,
                            SymbolTableCollection &symbols) {
  shard::GridOp grid = shard::getGrid(op, sharding.getGridAttr(), symbols);
  if (!grid)
    return failure();
  int64_t size = 1;
  for (GridAxis axis : axes)
    size *= grid.getShape()[axis];
  return size;
}

/// The grid axes that split the last dimension of `sharding`'s tensor.
ArrayRef<GridAxis> lastDimAxes(const Sharding &sharding, int64_t rank) {
  if (!sharding || static_cast<int64_t>(sharding.getSplitAxes().size()) < rank)
    return {};
  return sharding.getSplitAxes()[rank - 1].asArrayRef();
}

/// What most models share: one parallel loop per dimension of the
/// result, every value indexed by all of them, and a partition that keeps
/// the op as it is on each rank's pieces. Models override what differs.
template <typename Model, typename Op>
struct ParallelSharding
    : shard::ShardingInterface::ExternalModel<Model, Op> {
  SmallVector<IteratorType> getLoopIteratorTypes(Operation *op) const {
    return SmallVector<IteratorType>(rankOf(op->getResult(0)),
                                     IteratorType::parallel);
  }
  SmallVector<AffineMap> getIndexingMaps(Operation *op) const {
    AffineMap identity = AffineMap::getMultiDimIdentityMap(
        rankOf(op->getResult(0)), op->getContext());
    return SmallVector<AffineMap>(op->getNumOperands() + 1, identity);
  }
  /// Refuses result shardings the op cannot be split under (an error at
  /// the op); models with such limits override it.
  LogicalResult checkSplit(Operation *, ArrayRef<Sharding>) const {
    return success();
  }
  LogicalResult partition(Operation *op, ArrayRef<Value> operands,
                          ArrayRef<Sharding> operandShardings,
                          ArrayRef<Sharding> resultShardings,
                          IRMapping &map, SymbolTableCollection &symbols,
                          OpBuilder &b) const {
    if (failed(static_cast<const Model *>(this)->checkSplit(op,
                                                            resultShardings)))
      return failure();
    shard::partitionTriviallyShardableOperation(
        *op, operands, operandShardings, resultShardings, map, symbols, b);
    return success();
  }
};

/// Element-wise ops of same-shaped operands.
template <typename Op>
struct ElementwiseSharding
    : ParallelSharding<ElementwiseSharding<Op>, Op> {};

/// After a partition whose split sum loops leave each rank a partial
/// result: the sum over the ranks of those loops' grid axes.
void sumPartials(Operation *op, ArrayRef<Sharding> resultShardings,
                 ArrayRef<IteratorType> loops,
                 const shard::ShardingArray &assignment, IRMapping &map,
                 OpBuilder &b) {
  Value partial = map.lookup(op->getResult(0));
  Value sum = shard::AllReduceOp::create(
      b, op->getLoc(), partial, resultShardings[0].getGrid(),
      shard::getReductionGridAxes(loops, assignment), ReductionKind::Sum);
  map.map(op->getResult(0), sum);
}

/// y[..., n] = sum_k x[..., k] W[n, k] (+ b[n]): batch loops, then n
/// (parallel) and k (a sum).
struct LinearSharding
    : shard::ShardingInterface::ExternalModel<LinearSharding, LinearOp> {
  SmallVector<IteratorType> getLoopIteratorTypes(Operation *op) const {
    SmallVector<IteratorType> types(rankOf(op->getResult(0)),
                                    IteratorType::parallel);
    types.push_back(IteratorType::reduction);
    return types;
  }
  SmallVector<ReductionKind> getReductionLoopIteratorKinds(Operation *) const {
    return {ReductionKind::Sum};
  }
  SmallVector<AffineMap> getIndexingMaps(Operation *op) const {
    auto linear = cast<LinearOp>(op);
    MLIRContext *ctx = op->getContext();
    unsigned batch = rankOf(linear.getResult()) - 1;
    unsigned n = batch, k = batch + 1, loops = batch + 2;
    SmallVector<unsigned> input = leading(batch);
    input.push_back(k);
    SmallVector<unsigned> result = leading(batch);
    result.push_back(n);
    SmallVector<AffineMap> maps{mapTo(ctx, loops, input),
                                mapTo(ctx, loops, {n, k})};
    if (linear.getBias())
      maps.push_back(mapTo(ctx, loops, {n}));
    maps.push_back(mapTo(ctx, loops, result));
    return maps;
  }
  LogicalResult partition(Operation *op, ArrayRef<Value> operands,
                          ArrayRef<Sharding> operandShardings,
                          ArrayRef<Sharding> resultShardings,
                          IRMapping &map, SymbolTableCollection &symbols,
                          OpBuilder &b) const {
    auto iface = cast<shard::ShardingInterface>(op);
    SmallVector<IteratorType> loops = iface.getLoopIteratorTypes();
    shard::ShardingArray assignment =
        shard::getGridAxisAssignmentForLoopIterators(
            operandShardings, resultShardings, loops,
            iface.getIndexingMaps());
    if (!shard::isAtLeastOneReductionIteratorSharded(loops, assignment)) {
      shard::partitionTriviallyShardableOperation(
          *op, operands, operandShardings, resultShardings, map, symbols, b);
      return success();
    }
    // Row parallel: each rank's product over its slice of the inputs is a
    // partial sum of the whole.
    if (cast<LinearOp>(op).getBias())
      return op->emitOpError("splits its input features over ranks but has a "
                             "bias, which the partial sums would add once "
                             "per rank");
    shard::partitionTriviallyShardableOperation(
        *op, operands, operandShardings, resultShardings, map, symbols, b);
    sumPartials(op, resultShardings, loops, assignment, map, b);
    return success();
  }
};

/// Normalisation of whole rows: batch loops and the feature loop, the
/// weight indexed by the feature loop. Splitting the features would
/// normalise by a part of the row, so partition refuses it.
template <typename Op>
struct RowNormSharding : ParallelSharding<RowNormSharding<Op>, Op> {
  SmallVector<AffineMap> getIndexingMaps(Operation *op) const {
    unsigned loops = rankOf(op->getResult(0));
    MLIRContext *ctx = op->getContext();
    AffineMap identity = AffineMap::getMultiDimIdentityMap(loops, ctx);
    SmallVector<AffineMap> maps{identity};
    for (unsigned i = 1; i < op->getNumOperands(); ++i)
      maps.push_back(mapTo(ctx, loops, {loops - 1}));
    maps.push_back(identity);
    return maps;
  }
  LogicalResult checkSplit(Operation *op,
                           ArrayRef<Sharding> resultShardings) const {
    if (!lastDimAxes(resultShardings[0], rankOf(op->getResult(0))).empty())
      return op->emitOpError("normalises whole rows: its last dimension "
                             "cannot be split over ranks");
    return success();
  }
};

/// Splits `op`'s heads: the trivial partition, then `num_heads` (and
/// `num_kv_heads`) divided by the ranks splitting the last dimension.
LogicalResult partitionHeads(Operation *op, ArrayRef<Value> operands,
                             ArrayRef<Sharding> operandShardings,
                             ArrayRef<Sharding> resultShardings,
                             IRMapping &map, SymbolTableCollection &symbols,
                             OpBuilder &b, ArrayRef<StringRef> headAttrs) {
  ArrayRef<GridAxis> axes =
      lastDimAxes(resultShardings[0], rankOf(op->getResult(0)));
  int64_t ranks = 1;
  if (!axes.empty()) {
    FailureOr<int64_t> size = axesSize(op, resultShardings[0], axes, symbols);
    if (failed(size))
      return op->emitOpError("is sharded on a grid that does not exist");
    ranks = *size;
  }
  for (StringRef name : headAttrs) {
    int64_t heads = cast<IntegerAttr>(op->getAttr(name)).getInt();
    if (heads % ranks)
      return op->emitOpError("has ")
             << heads << " " << name << ", which " << ranks
             << " ranks cannot split into whole heads";
  }
  shard::partitionTriviallyShardableOperation(
      *op, operands, operandShardings, resultShardings, map, symbols, b);
  if (ranks == 1)
    return success();
  Operation *local = map.lookup(op->getResult(0)).getDefiningOp();
  for (StringRef name : headAttrs) {
    int64_t heads = cast<IntegerAttr>(op->getAttr(name)).getInt();
    local->setAttr(name, b.getI64IntegerAttr(heads / ranks));
  }
  return success();
}

/// Rotary embeddings: [B, S, heads * head_dim], positions [B, S] or [S].
struct RotarySharding : ParallelSharding<RotarySharding, RotaryOp> {
  SmallVector<AffineMap> getIndexingMaps(Operation *op) const {
    auto rotary = cast<RotaryOp>(op);
    MLIRContext *ctx = op->getContext();
    unsigned loops = rankOf(rotary.getResult());
    AffineMap identity = AffineMap::getMultiDimIdentityMap(loops, ctx);
    SmallVector<AffineMap> maps{identity};
    if (Value positions = rotary.getPositions()) {
      // Positions index the leading (batch, sequence) loops they have.
      unsigned r = rankOf(positions);
      SmallVector<unsigned> dims;
      for (unsigned i = 0; i < r; ++i)
        dims.push_back(loops - 1 - r + i);
      maps.push_back(mapTo(ctx, loops, dims));
    }
    maps.push_back(identity);
    return maps;
  }
  LogicalResult partition(Operation *op, ArrayRef<Value> operands,
                          ArrayRef<Sharding> operandShardings,
                          ArrayRef<Sharding> resultShardings,
                          IRMapping &map, SymbolTableCollection &symbols,
                          OpBuilder &b) const {
    return partitionHeads(op, operands, operandShardings, resultShardings, map,
                          symbols, b, {"num_heads"});
  }
};

/// Attention: loops (batch, query, key, head features); q and the result
/// indexed by (batch, query, features), k and v by (batch, key, features),
/// so splitting the features splits whole query heads and the KV heads
/// they read alike.
struct AttentionSharding
    : shard::ShardingInterface::ExternalModel<AttentionSharding, AttentionOp> {
  SmallVector<IteratorType> getLoopIteratorTypes(Operation *) const {
    return {IteratorType::parallel, IteratorType::parallel,
            IteratorType::reduction, IteratorType::parallel};
  }
  SmallVector<ReductionKind> getReductionLoopIteratorKinds(Operation *) const {
    // The keys are a softmax's, not a sum's: never split (propagation
    // leaves them whole, partition refuses).
    return {ReductionKind::Generic};
  }
  SmallVector<AffineMap> getIndexingMaps(Operation *op) const {
    auto attention = cast<AttentionOp>(op);
    MLIRContext *ctx = op->getContext();
    SmallVector<AffineMap> maps{mapTo(ctx, 4, {0, 1, 3}),
                                mapTo(ctx, 4, {0, 2, 3}),
                                mapTo(ctx, 4, {0, 2, 3})};
    if (attention.getKeyPadding())
      maps.push_back(mapTo(ctx, 4, {0}));
    if (attention.getStep())
      maps.push_back(mapTo(ctx, 4, {}));
    maps.push_back(mapTo(ctx, 4, {0, 1, 3}));
    return maps;
  }
  LogicalResult partition(Operation *op, ArrayRef<Value> operands,
                          ArrayRef<Sharding> operandShardings,
                          ArrayRef<Sharding> resultShardings,
                          IRMapping &map, SymbolTableCollection &symbols,
                          OpBuilder &b) const {
    auto attention = cast<AttentionOp>(op);
    // Dropout draws from (b, h, s, t) of the whole head range.
    if (attention.getStep() &&
        !lastDimAxes(resultShardings[0], 3).empty())
      return op->emitOpError("has training dropout, whose draws depend on "
                             "the head index: its heads cannot be split yet");
    return partitionHeads(op, operands, operandShardings, resultShardings, map,
                          symbols, b, {"num_heads", "num_kv_heads"});
  }
};

/// tensor.concat, which the decode bodies use to append a step's keys and
/// values to the caches: identity maps; the concatenated dimension itself
/// cannot be split (each rank would concatenate its own pieces).
struct ConcatSharding : ParallelSharding<ConcatSharding, tensor::ConcatOp> {
  LogicalResult checkSplit(Operation *op,
                           ArrayRef<Sharding> resultShardings) const {
    int64_t dim = cast<tensor::ConcatOp>(op).getDim();
    const Sharding &result = resultShardings[0];
    if (result && static_cast<int64_t>(result.getSplitAxes().size()) > dim &&
        !result.getSplitAxes()[dim].empty())
      return op->emitOpError("cannot split the dimension it concatenates");
    return success();
  }
};

/// Routed experts split by their intermediate features F (Megatron's MLP
/// split inside every expert): gate and up by rows, down by columns, each
/// rank's result a partial sum over its features, then one all-reduce.
/// Loops: the tokens' batch dims and the result's features n (parallel),
/// then f, the input's features k, the expert e and the top-k slot j
/// (sums). Only f may be split; which expert a token reaches is data, so
/// a split of n, k, e or j is refused.
struct MoEExpertsSharding
    : shard::ShardingInterface::ExternalModel<MoEExpertsSharding,
                                              MoEExpertsOp> {
  SmallVector<IteratorType> getLoopIteratorTypes(Operation *op) const {
    SmallVector<IteratorType> types(rankOf(op->getResult(0)),
                                    IteratorType::parallel);
    types.append(4, IteratorType::reduction);
    return types;
  }
  SmallVector<ReductionKind> getReductionLoopIteratorKinds(Operation *) const {
    return SmallVector<ReductionKind>(4, ReductionKind::Sum);
  }
  SmallVector<AffineMap> getIndexingMaps(Operation *op) const {
    MLIRContext *ctx = op->getContext();
    unsigned batch = rankOf(op->getResult(0)) - 1;
    unsigned n = batch, f = batch + 1, k = batch + 2, e = batch + 3,
             j = batch + 4, loops = batch + 5;
    auto tokens = [&](unsigned last) {
      SmallVector<unsigned> dims = leading(batch);
      dims.push_back(last);
      return mapTo(ctx, loops, dims);
    };
    // input, weights, indices, gate, up, down; result.
    return {tokens(k),
            tokens(j),
            tokens(j),
            mapTo(ctx, loops, {e, f, k}),
            mapTo(ctx, loops, {e, f, k}),
            mapTo(ctx, loops, {e, n, f}),
            tokens(n)};
  }
  LogicalResult partition(Operation *op, ArrayRef<Value> operands,
                          ArrayRef<Sharding> operandShardings,
                          ArrayRef<Sharding> resultShardings, IRMapping &map,
                          SymbolTableCollection &symbols, OpBuilder &b) const {
    auto iface = cast<shard::ShardingInterface>(op);
    SmallVector<IteratorType> loops = iface.getLoopIteratorTypes();
    shard::ShardingArray assignment =
        shard::getGridAxisAssignmentForLoopIterators(
            operandShardings, resultShardings, loops, iface.getIndexingMaps());
    unsigned batch = rankOf(op->getResult(0)) - 1;
    for (unsigned loop = batch; loop < loops.size(); ++loop)
      if (loop != batch + 1 && loop < assignment.size() &&
          !assignment[loop].empty())
        return op->emitOpError("can split its experts' intermediate "
                               "features over ranks, not their input or "
                               "output features, the experts or the top-k "
                               "slots");
    shard::partitionTriviallyShardableOperation(
        *op, operands, operandShardings, resultShardings, map, symbols, b);
    if (!shard::isAtLeastOneReductionIteratorSharded(loops, assignment))
      return success();
    sumPartials(op, resultShardings, loops, assignment, map, b);
    return success();
  }
};

/// Every other op: whole tensors only. Propagation sees no loop to split
/// (all operands and results replicated) and partition keeps the op as it
/// is on every rank; a split value reaching it is gathered first.
template <typename Op>
struct ReplicatedSharding
    : shard::ShardingInterface::ExternalModel<ReplicatedSharding<Op>, Op> {
  SmallVector<IteratorType> getLoopIteratorTypes(Operation *) const {
    return {};
  }
  SmallVector<AffineMap> getIndexingMaps(Operation *op) const {
    SmallVector<AffineMap> maps;
    for (unsigned i = 0; i < op->getNumOperands() + op->getNumResults(); ++i)
      maps.push_back(AffineMap::get(op->getContext()));
    return maps;
  }
  FailureOr<shard::ShardingOption>
  getShardingOption(Operation *, ArrayRef<Sharding> operandShardings,
                    ArrayRef<Sharding> resultShardings) const {
    for (ArrayRef<Sharding> list : {operandShardings, resultShardings})
      for (const Sharding &sharding : list)
        if (sharding)
          return shard::ShardingOption({}, sharding.getGridAttr());
    return shard::ShardingOption::makeEmpty();
  }
  FailureOr<std::vector<Sharding>>
  getShardingAnnotations(Operation *op,
                         const shard::ShardingOption &option) const {
    std::vector<Sharding> all;
    if (option.empty)
      return all;
    for (unsigned i = 0; i < op->getNumOperands() + op->getNumResults(); ++i)
      all.push_back(Sharding::get(option.grid, {}));
    return all;
  }
  LogicalResult partition(Operation *op, ArrayRef<Value> operands,
                          ArrayRef<Sharding> operandShardings,
                          ArrayRef<Sharding> resultShardings,
                          IRMapping &map, SymbolTableCollection &symbols,
                          OpBuilder &b) const {
    shard::partitionFullyReplicatedOperation(
        *op, operands, operandShardings, resultShardings, map, symbols, b);
    return success();
  }
};

/// Attaches ReplicatedSharding to each listed op that has no model yet.
template <typename... Ops> void attachReplicated(MLIRContext &ctx) {
  (
      [&] {
        auto name = RegisteredOperationName::lookup(Ops::getOperationName(),
                                                    &ctx);
        if (name && !name->template hasInterface<shard::ShardingInterface>())
          Ops::template attachInterface<ReplicatedSharding<Ops>>(ctx);
      }(),
      ...);
}

} // namespace

void mlir::strata::attachShardingModels(MLIRContext &ctx) {
  AddOp::attachInterface<ElementwiseSharding<AddOp>>(ctx);
  SwiGLUOp::attachInterface<ElementwiseSharding<SwiGLUOp>>(ctx);
  SiluOp::attachInterface<ElementwiseSharding<SiluOp>>(ctx);
  GeluOp::attachInterface<ElementwiseSharding<GeluOp>>(ctx);
  LinearOp::attachInterface<LinearSharding>(ctx);
  RMSNormOp::attachInterface<RowNormSharding<RMSNormOp>>(ctx);
  LayerNormOp::attachInterface<RowNormSharding<LayerNormOp>>(ctx);
  RotaryOp::attachInterface<RotarySharding>(ctx);
  AttentionOp::attachInterface<AttentionSharding>(ctx);
  MoEExpertsOp::attachInterface<MoEExpertsSharding>(ctx);
  // The tensor dialect is a dependent dialect of strata's: loaded first.
  if (ctx.getLoadedDialect<tensor::TensorDialect>())
    tensor::ConcatOp::attachInterface<ConcatSharding>(ctx);
  attachReplicated<
#define GET_OP_LIST
#include "dialect/StrataOps.cpp.inc"
      >(ctx);
}

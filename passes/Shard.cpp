//===- Shard.cpp - tensor parallelism of the layer bodies -----------------===//
//
// strata-shard: the plan's tensor-parallel degree applied to each layer
// body (the private functions the entry points call with a layer's
// weights). Only the weights are annotated — Megatron's layout: the
// projections feeding attention or a gated MLP split by output features
// (rows), the ones reading attention's or the MLP's result split by input
// features (columns) — then upstream sharding-propagation carries the
// splits through the ops' sharding interface and shard-partition makes the
// rank's program, with a shard.all_reduce after each row-parallel product.
// The callers follow: the weights they pass become each rank's slice
// (strata.param with `strata.shard_dim`), and arguments and results that
// became slices (decode's KV caches) change type up to the entry points.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "passes/PartitionedProgram.h"
#include "passes/Passes.h"
#include "passes/ShardLayout.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Shard/Transforms/Passes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATASHARD
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// The mesh axis of tensor parallelism: the last of (pp, dp/ep, ep, tp).
constexpr int16_t kTensorAxis = 3;

/// Annotates `body`'s split weights and partitions it.
LogicalResult partitionBody(func::FuncOp body, FlatSymbolRefAttr grid,
                            const llvm::DenseMap<unsigned, int64_t> &splits) {
  OpBuilder b(body.getContext());
  b.setInsertionPointToStart(&body.front());
  for (auto [index, dim] : splits) {
    BlockArgument arg = body.getArgument(index);
    SmallVector<shard::GridAxesAttr> axes;
    for (int64_t d = 0; d <= dim; ++d)
      axes.push_back(shard::GridAxesAttr::get(
          b.getContext(), d == dim ? ArrayRef<int16_t>{kTensorAxis}
                                   : ArrayRef<int16_t>{}));
    auto sharding = shard::ShardingOp::create(b, body.getLoc(), grid, axes);
    auto annotated = shard::ShardOp::create(b, body.getLoc(), arg, sharding,
                                            /*annotate_for_users=*/true);
    arg.replaceAllUsesExcept(annotated.getResult(), annotated);
  }
  return success();
}

/// Pipeline stages' programs (strata-pipeline) split over tensor-parallel
/// ranks: the bodies they call, cloned as `tp.<name>`.
void cloneStageBodies(ModuleOp module, SmallVectorImpl<func::FuncOp> &bodies) {
  SmallVector<func::FuncOp> entries;
  for (auto f : module.getOps<func::FuncOp>())
    if (f->hasAttr("strata.stage"))
      entries.push_back(f);
  cloneProgram(module, entries, /*cloneEntries=*/false, kBodyPrefix, bodies);
}

struct StrataShardPass
    : public mlir::strata::impl::StrataShardBase<StrataShardPass> {
  using StrataShardBase::StrataShardBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto plan = module->getAttrOfType<ParallelAttr>("strata.parallel");
    if (!plan || plan.getTp() == 1)
      return;
    // With pipeline stages (strata-pipeline ran first), their programs'
    // bodies are split; else stage 0's program is made here.
    bool staged = beside && plan.getPp() > 1;
    if (!beside && (module.lookupSymbol("loss_grad") ||
                    module.lookupSymbol("optimizer_step"))) {
      module.emitError("strata-shard: tensor parallelism of training steps "
                       "is not implemented yet; compile without --train or "
                       "with --tp 1");
      return signalPassFailure();
    }
    // The layer bodies: private functions with a body that entry points
    // call (beside: those the cloned inference entry points call).
    SmallVector<func::FuncOp> bodies;
    if (staged) {
      cloneStageBodies(module, bodies);
    } else if (beside) {
      cloneInferenceProgram(module, train, bodies);
    } else {
      for (auto f : module.getOps<func::FuncOp>())
        if (f.isPrivate() && !f.isExternal())
          bodies.push_back(f);
    }
    for (func::FuncOp body : bodies) {
      llvm::DenseMap<unsigned, int64_t> splits =
          tensorParallelSplits(body, plan.getTp());
      SmallVector<Type> whole(body.getArgumentTypes());
      if (splits.empty()) {
        if (beside)
          dropUnchangedClone(module, body);
        continue;
      }
      if (beside) {
        // The upstream passes stop at ops without a sharding interface
        // (latent attention's decode slices its caches with tensor ops):
        // such a body stays whole in the program, as the error-free
        // answer, rather than failing the compile.
        if (!succeeded(partitionTrial(module, body, plan.getGrid(), splits))) {
          dropUnchangedClone(module, body);
          continue;
        }
      } else if (failed(partitionBody(body, plan.getGrid(), splits)) ||
                 failed(partition(body))) {
        return signalPassFailure();
      }
      markSplitArguments(body, whole);
      markColumnParallelInputs(body, plan.getGrid());
    }
    if (failed(updateCallers(module, plan.getTp())))
      return signalPassFailure();
    if (beside && !staged)
      dropUnchangedEntries(module);
  }

  /// Marks every argument of partitioned `body` that became a slice with
  /// `strata.shard_dim`: the annotated weights, and what propagation split
  /// with them (a column-parallel product's bias, decode's KV caches).
  void markSplitArguments(func::FuncOp body, ArrayRef<Type> whole) {
    for (auto [index, before] : llvm::enumerate(whole)) {
      auto from = dyn_cast<RankedTensorType>(before);
      auto to = dyn_cast<RankedTensorType>(body.getArgument(index).getType());
      if (!from || !to || from == to)
        continue;
      for (int64_t d = 0; d < from.getRank(); ++d)
        if (from.getDimSize(d) != to.getDimSize(d))
          body.setArgAttr(index, "strata.shard_dim",
                          IntegerAttr::get(IntegerType::get(&getContext(), 64),
                                           d));
    }
  }

  /// Upstream sharding-propagation and shard-partition on annotated `body`.
  LogicalResult partition(func::FuncOp body) {
    OpPassManager pm(func::FuncOp::getOperationName());
    pm.addPass(shard::createShardingPropagation());
    pm.addPass(shard::createPartition());
    return runPipeline(pm, body);
  }

  /// Partitions a copy of `body` with its diagnostics held back; on
  /// success the copy's body replaces `body`'s, else `body` is untouched.
  LogicalResult
  partitionTrial(ModuleOp module, func::FuncOp body, FlatSymbolRefAttr grid,
                 const llvm::DenseMap<unsigned, int64_t> &splits) {
    auto trial = cast<func::FuncOp>(body->clone());
    trial.setSymName((body.getName() + ".trial").str());
    module.getBody()->getOperations().insertAfter(body->getIterator(), trial);
    LogicalResult result = success();
    {
      ScopedDiagnosticHandler quiet(&getContext(),
                                    [](Diagnostic &) { return success(); });
      result = succeeded(partitionBody(trial, grid, splits)) &&
                       succeeded(partition(trial))
                   ? success()
                   : failure();
    }
    if (succeeded(result)) {
      body.getBody().takeBody(trial.getBody());
      body.setFunctionType(trial.getFunctionType());
    }
    trial.erase();
    return result;
  }

  /// Puts one strata.enter_tensor_parallel on each replicated value that
  /// column-parallel products (a weight split by rows) of partitioned
  /// `body` read: their backward sums its gradient over the ranks.
  void markColumnParallelInputs(func::FuncOp body, FlatSymbolRefAttr grid) {
    auto splitAs = [&](Value weight, int64_t want) {
      auto arg = dyn_cast<BlockArgument>(weight);
      auto dim = arg ? body.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(),
                                                          "strata.shard_dim")
                     : IntegerAttr();
      return dim && dim.getInt() == want;
    };
    // The replicated operands read by split computations: a column-parallel
    // product's input; split experts' input and routing weights (each
    // rank's expert outputs cover only its features).
    llvm::MapVector<Value, SmallVector<OpOperand *>> readers;
    body.walk([&](Operation *op) {
      if (auto linear = dyn_cast<LinearOp>(op);
          linear && splitAs(linear.getWeight(), 0))
        readers[linear.getInput()].push_back(&linear.getInputMutable());
      if (auto experts = dyn_cast<MoEExpertsOp>(op);
          experts && splitAs(experts.getGateProj(), 1)) {
        readers[experts.getInput()].push_back(&experts.getInputMutable());
        readers[experts.getWeights()].push_back(&experts.getWeightsMutable());
      }
    });
    OpBuilder b(&getContext());
    for (auto &[value, uses] : readers) {
      b.setInsertionPointAfterValue(value);
      auto enter = EnterTensorParallelOp::create(
          b, value.getLoc(), value, grid, b.getI64IntegerAttr(kTensorAxis));
      for (OpOperand *use : uses)
        use->set(enter.getResult());
    }
  }
};

} // namespace

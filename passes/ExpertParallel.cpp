//===- ExpertParallel.cpp - routed experts split over ranks ---------------===//
//
// strata-expert-parallel: the program that ranks of an expert-parallel plan
// run. Each rank holds E / ep of every MoE layer's routed experts; tokens
// travel to the ranks holding the experts they chose and their outputs
// travel back (strata.expert_dispatch / strata.expert_combine), the
// group's routing having been gathered first (strata.expert_route) so that
// every rank knows what arrives. The rank's experts then run over the
// received rows with the ordinary strata.moe_experts: rows whose selections
// are all elsewhere carry index -1 and are no expert's work.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"
#include "passes/PartitionedProgram.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAEXPERTPARALLEL
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// The mesh axis of expert parallelism in (pp, dp/ep, ep, tp).
constexpr int64_t kExpertAxis = 2;

/// `type` with its leading dim `group` times larger (dynamic stays so).
RankedTensorType rowsOf(Type type, int64_t group) {
  auto t = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(t.getShape());
  if (!ShapedType::isDynamic(shape[0]))
    shape[0] *= group;
  return t.clone(shape);
}

/// The stacked expert weight `v` as an argument of `body` with `experts`
/// leading rows, or null.
BlockArgument expertArgument(func::FuncOp body, Value v, int64_t experts) {
  auto arg = dyn_cast<BlockArgument>(v);
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!arg || arg.getOwner() != &body.front() || !type || type.getRank() != 3 ||
      type.getDimSize(0) != experts || !type.getElementType().isF32())
    return BlockArgument();
  return arg;
}

struct StrataExpertParallelPass
    : public mlir::strata::impl::StrataExpertParallelBase<
          StrataExpertParallelPass> {
  using StrataExpertParallelBase::StrataExpertParallelBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto plan = module->getAttrOfType<ParallelAttr>("strata.parallel");
    if (!plan || plan.getEp() == 1)
      return;
    if (plan.getTp() > 1 || plan.getPp() > 1) {
      module.emitError("strata-expert-parallel: expert parallelism together "
                       "with tensor or pipeline parallelism is not "
                       "implemented yet; compile with --ep 1 or with --tp 1 "
                       "--pp 1");
      return signalPassFailure();
    }
    int64_t group = plan.getEp();
    SmallVector<func::FuncOp> bodies;
    cloneInferenceProgram(module, train, bodies);
    for (func::FuncOp body : bodies) {
      FailureOr<bool> split = splitExperts(body, plan.getGrid(), group);
      if (failed(split))
        return signalPassFailure();
      if (!*split)
        dropUnchangedClone(module, body);
    }
    if (failed(updateCallers(module, group, "ep")))
      return signalPassFailure();
    dropUnchangedEntries(module);
    // Each expert's gradient gathers every rank's tokens: the runtime seeds
    // each rank's backward with its labelled tokens (the gradient of the
    // summed loss), so that ranks with fewer labels weigh less.
    if (auto loss =
            module.lookupSymbol<func::FuncOp>((kStagePrefix + "loss").str()))
      loss->setAttr("strata.seeded_loss", UnitAttr::get(&getContext()));
  }

  /// Rewrites each routed-experts op of `body` whose experts are its
  /// arguments; whether any was.
  FailureOr<bool> splitExperts(func::FuncOp body, FlatSymbolRefAttr grid,
                               int64_t group) {
    SmallVector<MoEExpertsOp> ops;
    body.walk([&](MoEExpertsOp op) { ops.push_back(op); });
    bool changed = false;
    for (MoEExpertsOp op : ops) {
      int64_t experts = op.getNumExperts();
      BlockArgument gate = expertArgument(body, op.getGateProj(), experts),
                    up = expertArgument(body, op.getUpProj(), experts),
                    down = expertArgument(body, op.getDownProj(), experts);
      if (!gate || !up || !down ||
          !getElementTypeOrSelf(op.getInput().getType()).isF32() ||
          !getElementTypeOrSelf(op.getWeights().getType()).isF32())
        continue;
      if (experts % group != 0)
        return op.emitOpError("has ")
               << experts << " experts, which the plan's " << group
               << " expert-parallel ranks do not divide";
      rewrite(op, grid, group);
      for (BlockArgument arg : {gate, up, down}) {
        auto type = cast<RankedTensorType>(arg.getType());
        SmallVector<int64_t> shape(type.getShape());
        shape[0] /= group;
        arg.setType(type.clone(shape));
        body.setArgAttr(
            arg.getArgNumber(), "strata.shard_dim",
            IntegerAttr::get(IntegerType::get(&getContext(), 64), 0));
      }
      changed = true;
    }
    if (changed)
      body.setFunctionType(
          FunctionType::get(&getContext(), body.front().getArgumentTypes(),
                            body.getFunctionType().getResults()));
    return changed;
  }

  /// route -> dispatch -> the rank's experts -> combine, in place of `op`.
  void rewrite(MoEExpertsOp op, FlatSymbolRefAttr grid, int64_t group) {
    OpBuilder b(op);
    Location loc = op.getLoc();
    IntegerAttr axis = b.getI64IntegerAttr(kExpertAxis);
    IntegerAttr experts = op.getNumExpertsAttr();
    auto route = ExpertRouteOp::create(
        b, loc, rowsOf(op.getWeights().getType(), group),
        rowsOf(op.getIndices().getType(), group), op.getWeights(),
        op.getIndices(), grid, axis, experts);
    auto rows = ExpertDispatchOp::create(
        b, loc, rowsOf(op.getInput().getType(), group), op.getInput(),
        route.getRowIndices(), op.getIndices(), grid, axis, experts);
    auto local = MoEExpertsOp::create(
        b, loc, rows.getType(), rows.getRows(), route.getRowWeights(),
        route.getRowIndices(), op.getGateProj(), op.getUpProj(),
        op.getDownProj(), b.getI64IntegerAttr(op.getNumExperts() / group),
        op.getTopKAttr(),
        b.getF64FloatAttr(op.getCapacityFactor().convertToDouble() / group));
    local->setDiscardableAttrs(op->getDiscardableAttrDictionary());
    auto combined = ExpertCombineOp::create(
        b, loc, op.getType(), local.getResult(), route.getRowIndices(),
        op.getIndices(), grid, axis, experts);
    op.replaceAllUsesWith(combined.getResult());
    op.erase();
  }
};

} // namespace

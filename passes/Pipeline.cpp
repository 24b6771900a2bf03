//===- Pipeline.cpp - the entry points split into pipeline stages ---------===//
//
// strata-pipeline: each entry point's layer calls grouped into the plan's
// pp stages (pipelineStages: the split the plan report shows), each stage
// a public function of its own beside the whole entry point. An entry
// point is a straight line — embedding, one call per layer, the head — so
// a stage is the run of ops up to its last layer call; what crosses a
// boundary is returned by one stage and taken by the next.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"
#include "passes/Passes.h"
#include "passes/PlanReport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAPIPELINE
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// The layer a call of the entry point runs (its location names it
/// `layers.N`), or -1.
int64_t layerOf(Operation *op) {
  auto named = dyn_cast<NameLoc>(op->getLoc());
  if (!isa<func::CallOp>(op) || !named)
    return -1;
  StringRef name = named.getName().getValue();
  int64_t layer;
  if (!name.consume_front("layers.") || name.getAsInteger(10, layer))
    return -1;
  return layer;
}

/// Ops without operands or regions (parameters, constants): cloned into
/// every stage that reads them instead of crossing a boundary.
bool isLeaf(Operation *op) {
  return op->getNumOperands() == 0 && op->getNumRegions() == 0;
}

/// What an entry point's argument `i` is (strata.arg; caches also name
/// their layer).
std::pair<StringRef, int64_t> argumentRole(StringRef entry, unsigned i) {
  if (i == 0)
    return {"tokens", -1};
  if (entry != "decode")
    return {"labels", -1};
  if (i == 1)
    return {"positions", -1};
  if (i == 2)
    return {"key_padding", -1};
  return {i % 2 == 1 ? "key_cache" : "value_cache", (i - 3) / 2};
}

/// What an entry point's result `i` is: decode's new caches follow its
/// logits; every other result is a plain value.
std::pair<StringRef, int64_t> resultRole(StringRef entry, unsigned i) {
  if (entry != "decode" || i == 0)
    return {"", -1};
  return {i % 2 == 1 ? "key_cache" : "value_cache", (i - 1) / 2};
}

class EntrySplitter {
public:
  EntrySplitter(func::FuncOp entry, ArrayRef<int64_t> layerStage,
                int64_t stages)
      : entry(entry), layerStage(layerStage), stages(stages) {}

  LogicalResult split();
  /// Whether a scalar crosses a boundary (a loss's running sum of router
  /// balance losses), after split's analysis.
  bool passesScalar() const;

private:
  /// Each op's stage, and what crosses each boundary.
  LogicalResult assignStages();
  void buildStage(int64_t s);

  func::FuncOp entry;
  ArrayRef<int64_t> layerStage;
  int64_t stages;
  llvm::DenseMap<Operation *, int64_t> stageOf;
  /// crossing[s]: the values stage s passes to stage s + 1, in the order of
  /// their definitions.
  std::vector<SmallVector<Value>> crossing;
};

LogicalResult EntrySplitter::assignStages() {
  Block &block = entry.front();
  // Backwards: an op belongs to the stage of the next layer call, ops
  // after the last one (the head, the loss) to the last stage.
  int64_t next = stages - 1;
  int64_t layers = 0;
  for (Operation &op : llvm::reverse(block.without_terminator())) {
    if (int64_t layer = layerOf(&op); layer >= 0) {
      if (layer >= static_cast<int64_t>(layerStage.size()))
        return op.emitOpError("calls layer ")
               << layer << ", but the model's stats count " << layerStage.size()
               << " layers";
      next = layerStage[layer];
      ++layers;
    }
    if (!isLeaf(&op))
      stageOf[&op] = next;
  }
  if (layers != static_cast<int64_t>(layerStage.size()))
    return entry.emitOpError("calls ")
           << layers << " layers, but the model has " << layerStage.size()
           << "; strata-pipeline splits entry points that call each layer "
              "once";
  crossing.assign(stages, {});
  for (Operation &op : block.without_terminator()) {
    auto it = stageOf.find(&op);
    if (it == stageOf.end())
      continue;
    int64_t from = it->second;
    for (Value v : op.getResults()) {
      int64_t last = from;
      for (Operation *user : v.getUsers())
        if (auto use = stageOf.find(user); use != stageOf.end())
          last = std::max(last, use->second);
      for (int64_t s = from; s < last; ++s)
        crossing[s].push_back(v);
    }
  }
  for (Value v : block.getTerminator()->getOperands())
    if (!v.getDefiningOp() || !stageOf.count(v.getDefiningOp()))
      return entry.emitOpError("returns a value no stage computes (an "
                               "argument or a constant); strata-pipeline "
                               "cannot place it");
  return success();
}

void EntrySplitter::buildStage(int64_t s) {
  MLIRContext *ctx = entry.getContext();
  Builder attrs(ctx);
  Block &block = entry.front();
  StringRef name = entry.getName();
  auto fn = func::FuncOp::create(entry.getLoc(),
                                 ("stage" + Twine(s) + "." + name).str(),
                                 FunctionType::get(ctx, {}, {}));
  Block *body = fn.addEntryBlock();
  IRMapping mapping;
  SmallVector<DictionaryAttr> argAttrs;
  // {key = kind, strata.layer, strata.index}, the last two when given.
  auto role = [&](StringRef key, StringRef kind, int64_t layer, int64_t index) {
    SmallVector<NamedAttribute> list{
        attrs.getNamedAttr(key, attrs.getStringAttr(kind))};
    if (layer >= 0)
      list.push_back(
          attrs.getNamedAttr("strata.layer", attrs.getI64IntegerAttr(layer)));
    if (index >= 0)
      list.push_back(
          attrs.getNamedAttr("strata.index", attrs.getI64IntegerAttr(index)));
    return attrs.getDictionaryAttr(list);
  };
  // The previous stage's activations, then the entry's arguments this
  // stage reads.
  if (s > 0)
    for (auto [i, v] : llvm::enumerate(crossing[s - 1])) {
      mapping.map(v, body->addArgument(v.getType(), v.getLoc()));
      argAttrs.push_back(role("strata.arg", "boundary", -1, i));
    }
  for (BlockArgument arg : block.getArguments()) {
    bool read = llvm::any_of(arg.getUsers(), [&](Operation *user) {
      auto it = stageOf.find(user);
      return it != stageOf.end() && it->second == s;
    });
    if (!read)
      continue;
    mapping.map(arg, body->addArgument(arg.getType(), arg.getLoc()));
    auto [kind, layer] = argumentRole(name, arg.getArgNumber());
    argAttrs.push_back(role("strata.arg", kind, layer, -1));
  }
  OpBuilder b = OpBuilder::atBlockEnd(body);
  for (Operation &op : block.without_terminator()) {
    auto it = stageOf.find(&op);
    if (it == stageOf.end() || it->second != s)
      continue;
    for (Value operand : op.getOperands())
      if (Operation *def = operand.getDefiningOp();
          def && isLeaf(def) && !mapping.contains(operand))
        b.clone(*def, mapping);
    b.clone(op, mapping);
  }
  // The entry's results this stage computes, then its activations.
  SmallVector<Value> results;
  SmallVector<DictionaryAttr> resultAttrs;
  for (auto [i, v] : llvm::enumerate(block.getTerminator()->getOperands())) {
    if (stageOf.lookup(v.getDefiningOp()) != s)
      continue;
    results.push_back(mapping.lookup(v));
    auto [kind, layer] = resultRole(name, i);
    resultAttrs.push_back(kind.empty()
                              ? attrs.getDictionaryAttr({})
                              : role("strata.result", kind, layer, -1));
  }
  if (s + 1 < stages)
    for (auto [i, v] : llvm::enumerate(crossing[s])) {
      results.push_back(mapping.lookup(v));
      resultAttrs.push_back(role("strata.result", "boundary", -1, i));
    }
  func::ReturnOp::create(b, entry.getLoc(), results);
  fn.setFunctionType(
      FunctionType::get(ctx, body->getArgumentTypes(), ValueRange(results)));
  fn.setAllArgAttrs(argAttrs);
  fn.setAllResultAttrs(resultAttrs);
  fn->setAttr("strata.stage", attrs.getI64IntegerAttr(s));
  auto first = llvm::find(layerStage, s) - layerStage.begin();
  fn->setAttr("strata.first_layer", attrs.getI64IntegerAttr(first));
  fn->setAttr("strata.num_layers",
              attrs.getI64IntegerAttr(llvm::count(layerStage, s)));
  // Stages follow the entry point, in order.
  Block *module = entry->getBlock();
  Operation *after = entry;
  while (after->getNextNode() &&
         after->getNextNode()->hasAttr("strata.stage") &&
         cast<func::FuncOp>(after->getNextNode())
             .getName()
             .ends_with(("." + name).str()))
    after = after->getNextNode();
  module->getOperations().insertAfter(after->getIterator(), fn);
}

bool EntrySplitter::passesScalar() const {
  for (const SmallVector<Value> &values : crossing)
    for (Value v : values)
      if (cast<ShapedType>(v.getType()).getRank() == 0)
        return true;
  return false;
}

LogicalResult EntrySplitter::split() {
  if (!llvm::hasSingleElement(entry.getBody()))
    return entry.emitOpError("has control flow; strata-pipeline splits "
                             "straight-line entry points");
  if (failed(assignStages()))
    return failure();
  // The gradient of a loss's running sum is the backward's seed itself,
  // a constant the CPU lowering cannot return from an entry point yet:
  // such a loss gets no stage programs (training runs as one process).
  if (entry.getName() == "loss" && passesScalar()) {
    entry.emitRemark("strata-pipeline: the loss passes its running sum of "
                     "router balance losses between stages, which pipeline "
                     "training does not support yet; no stage gets a loss");
    return success();
  }
  for (int64_t s = 0; s < stages; ++s)
    buildStage(s);
  return success();
}

struct StrataPipelinePass
    : public mlir::strata::impl::StrataPipelineBase<StrataPipelinePass> {
  using StrataPipelineBase::StrataPipelineBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto plan = module->getAttrOfType<ParallelAttr>("strata.parallel");
    if (!plan || plan.getPp() == 1)
      return;
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError("strata-pipeline: the module has no @forward to "
                       "balance the stages by");
      return signalPassFailure();
    }
    ModelStats stats = computeModelStats(forward, contextLength);
    PipelineStages split = pipelineStages(stats, plan.getPp());
    if (split.layerNames.empty()) {
      module.emitError("strata-pipeline: no call in @forward is a layer's "
                       "(the layer calls' locations name them `layers.N`): "
                       "keep the locations in the IR");
      return signalPassFailure();
    }
    if (split.stages != plan.getPp()) {
      module.emitError() << "strata-pipeline: --pp " << plan.getPp()
                         << " needs at least " << plan.getPp()
                         << " layers, and the model has "
                         << split.layerNames.size();
      return signalPassFailure();
    }
    // By layer number: the stats list the layers in the order they run.
    std::vector<int64_t> layerStage(split.layerNames.size());
    for (auto [i, layerName] : llvm::enumerate(split.layerNames)) {
      int64_t layer;
      if (StringRef(layerName).drop_front(7).getAsInteger(10, layer) ||
          layer < 0 || layer >= static_cast<int64_t>(layerStage.size())) {
        module.emitError() << "strata-pipeline: the stats name a layer '"
                           << layerName << "' out of order";
        return signalPassFailure();
      }
      layerStage[layer] = split.stageOf[i];
    }
    SmallVector<StringRef> entries{"forward", "decode"};
    if (train)
      entries.push_back("loss");
    for (StringRef name : entries)
      if (auto entry = module.lookupSymbol<func::FuncOp>(name))
        if (failed(EntrySplitter(entry, layerStage, split.stages).split()))
          return signalPassFailure();
  }
};

} // namespace

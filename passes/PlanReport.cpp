//===- PlanReport.cpp - per-rank memory and communication of a plan -------===//

#include "passes/PlanReport.h"

#include "dialect/StrataOps.h"
#include "passes/ModelStats.h"
#include "passes/Passes.h"
#include "passes/ShardLayout.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <limits>
#include <map>

using namespace mlir;
using namespace mlir::strata;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
/// Gradients and optimizer state are f32 whatever the weights' type.
constexpr int64_t kStateBytes = 4;

int64_t mulSat(int64_t a, int64_t b) {
  return llvm::checkedMul(a, b).value_or(kMax);
}
int64_t addSat(int64_t a, int64_t b) {
  return llvm::checkedAdd(a, b).value_or(kMax);
}
int64_t ceilDiv(int64_t a, int64_t b) { return a / b + (a % b != 0); }

int64_t elementBytes(Type type) {
  return (cast<ShapedType>(type).getElementTypeBitWidth() + 7) / 8;
}

/// Bytes per token of a `[B, S, F...]` activation: its static dims (the
/// batch and sequence are dynamic) times the element size.
int64_t bytesPerToken(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() == 0)
    return 0;
  int64_t n = elementBytes(type);
  for (int64_t d : type.getShape())
    if (!ShapedType::isDynamic(d))
      n = mulSat(n, d);
  return n;
}

/// Collective calls and the bytes per token their buffers hold.
struct Traffic {
  int64_t calls = 0, bytesPerToken = 0;
  void add(int64_t bytes, int64_t n = 1) {
    calls += n;
    bytesPerToken = addSat(bytesPerToken, bytes);
  }
  void add(const Traffic &other) { add(other.bytesPerToken, other.calls); }
};

/// What one rank holds and sends for one call of a layer body.
struct BodyLayout {
  /// Argument -> ranks it is split over (tp; ep, or tp x ep, for routed
  /// experts).
  llvm::DenseMap<unsigned, int64_t> divisor;
  /// Routed experts' weights: their data-parallel group is dp / ep ranks.
  llvm::DenseSet<unsigned> expertArgs;
  int64_t activationBytesPerToken = 0; ///< The ops' results, per rank.
  /// tp all-reduces of the forward and the backward; the expert-parallel
  /// program's all-gathers of the routing (forward) and all-to-alls of
  /// the forward (dispatch, combine) and the backward (the output's
  /// gradient dispatched, the rows' and routing weights' combined).
  Traffic tpForward, tpBackward, epRoute, epForward, epBackward;
  int64_t kvBytesPerToken = 0;
};

/// Routed experts (float or int8): every per-expert operand — the stacked
/// weights and, int8, their scales, row sums and activation parameters,
/// all [E, ..] — is split over the ep ranks; tokens travel to their
/// experts and back (dispatch and combine).
/// `featuresSplit`: tensor parallelism splits each expert's features.
template <typename ArgIndex>
void addExperts(BodyLayout &layout, Operation *op, ArgIndex argIndex,
                int64_t ep, bool featuresSplit) {
  int64_t experts = op->getAttrOfType<IntegerAttr>("num_experts").getInt();
  int64_t topK = op->getAttrOfType<IntegerAttr>("top_k").getInt();
  Value input = op->getOperand(0);
  for (Value v : op->getOperands().drop_front(3)) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    std::optional<unsigned> i = argIndex(v);
    if (!i || !type || type.getRank() == 0 || type.getDimSize(0) != experts)
      continue;
    layout.expertArgs.insert(*i);
    // Tensor parallelism splits each expert's features (the divisor tp
    // strata-shard's split put there), expert parallelism the experts.
    if (ep > 1) {
      auto [it, fresh] = layout.divisor.try_emplace(*i, 1);
      it->second = mulSat(it->second, ep);
    }
  }
  if (ep > 1) {
    // strata-expert-parallel's exchanges: the routing's K weights and K
    // ids gathered, and each token sent once to each rank holding one of
    // its experts (at most min(top_k, ep) ranks) and back.
    int64_t copies = std::min(topK, ep);
    int64_t rows = mulSat(copies, bytesPerToken(input));
    int64_t routing = mulSat(topK, 4);
    layout.epRoute.add(mulSat(2, routing), 2);
    layout.epForward.add(mulSat(2, rows), 2);
    layout.epBackward.add(addSat(mulSat(2, rows), mulSat(copies, routing)), 3);
  }
  // Split features: each rank's partial result is summed over tp, and in
  // the backward the input's and the routing weights' gradients.
  if (featuresSplit) {
    layout.tpForward.add(bytesPerToken(op->getResult(0)));
    layout.tpBackward.add(bytesPerToken(input));
    layout.tpBackward.add(bytesPerToken(op->getOperand(1)));
  }
}

/// DeepSeek's latent attention: heads split after the latent projections
/// (q and kv_b by rows, o by columns); the latents stay whole on every
/// rank and are what the KV cache holds.
template <typename SplitArg>
void addLatentAttention(BodyLayout &layout, LatentAttentionOp mla,
                        SplitArg splitArg, int64_t tp) {
  int64_t bytes = elementBytes(mla.getInput().getType());
  layout.kvBytesPerToken =
      addSat(layout.kvBytesPerToken,
             mulSat(bytes, mla.getKvLoraRank() + mla.getQkRopeHeadDim()));
  if (tp == 1 || mla.getNumHeads() % tp)
    return;
  splitArg(mla.getQProj(), tp);
  splitArg(mla.getKvBProj(), tp);
  splitArg(mla.getOProj(), tp);
  layout.tpForward.add(bytesPerToken(mla));
  int64_t qIn = mla.getQLoraRank() ? mla.getQLoraRank()
                                   : bytesPerToken(mla.getInput()) / bytes;
  layout.tpBackward.add(mulSat(bytes, qIn + mla.getKvLoraRank()), 2);
}

BodyLayout layoutOf(func::FuncOp body, int64_t tp, int64_t ep) {
  BodyLayout layout;
  llvm::DenseMap<unsigned, int64_t> splits;
  if (tp > 1)
    splits = tensorParallelSplits(body, tp);
  auto argIndex = [&](Value v) -> std::optional<unsigned> {
    auto arg = dyn_cast<BlockArgument>(v);
    if (!arg || arg.getOwner() != &body.front())
      return std::nullopt;
    return arg.getArgNumber();
  };
  auto splitArg = [&](Value v, int64_t ranks) {
    if (std::optional<unsigned> i = argIndex(v))
      layout.divisor[*i] = ranks;
  };
  for (auto [index, dim] : splits)
    layout.divisor[index] = tp;

  // Values each tensor-parallel rank holds a slice of.
  llvm::DenseSet<Value> sliced;
  llvm::SmallPtrSet<Value, 4> columnInputs;
  body.walk([&](Operation *op) {
    if (!isa<StrataCostOpInterface>(op))
      return;
    bool slicedResult = false;
    if (auto linear = dyn_cast<LinearOp>(op)) {
      std::optional<unsigned> w = argIndex(linear.getWeight());
      auto split = w ? splits.find(*w) : splits.end();
      if (split != splits.end() && split->second == 0) {
        slicedResult = true;
        if (columnInputs.insert(linear.getInput()).second)
          layout.tpBackward.add(bytesPerToken(linear.getInput()));
      } else if (split != splits.end()) {
        layout.tpForward.add(bytesPerToken(linear));
      }
    } else if (isa<MoEExpertsOp, QuantizedMoEExpertsOp>(op)) {
      std::optional<unsigned> gate = argIndex(op->getOperand(3));
      addExperts(layout, op, argIndex, ep, gate && splits.count(*gate));
    } else if (auto mla = dyn_cast<LatentAttentionOp>(op)) {
      addLatentAttention(layout, mla, splitArg, tp);
    } else {
      slicedResult = llvm::any_of(op->getOperands(),
                                  [&](Value v) { return sliced.contains(v); });
    }
    if (auto attention = dyn_cast<AttentionOp>(op)) {
      int64_t kv = addSat(bytesPerToken(attention.getK()),
                          bytesPerToken(attention.getV()));
      layout.kvBytesPerToken =
          addSat(layout.kvBytesPerToken, slicedResult ? kv / tp : kv);
    }
    for (Value result : op->getResults()) {
      if (slicedResult)
        sliced.insert(result);
      int64_t bytes = bytesPerToken(result);
      layout.activationBytesPerToken = addSat(
          layout.activationBytesPerToken, slicedResult ? bytes / tp : bytes);
    }
  });
  return layout;
}

/// Splits layers (costs in order) into `stages` contiguous runs, the
/// largest run's cost as small as possible; returns each layer's stage.
/// `first` and `last` are the costs stage 0 and the last stage add (the
/// embedding, the head).
std::vector<int64_t> balanceStages(ArrayRef<int64_t> costs, int64_t stages,
                                   int64_t first, int64_t last) {
  size_t n = costs.size();
  std::vector<int64_t> prefix(n + 1, 0);
  for (size_t i = 0; i < n; ++i)
    prefix[i + 1] = addSat(prefix[i], costs[i]);
  // best[s][i]: the least max cost of layers [0, i) in s stages.
  std::vector<std::vector<int64_t>> best(stages + 1,
                                         std::vector<int64_t>(n + 1, kMax));
  std::vector<std::vector<size_t>> cut(stages + 1,
                                       std::vector<size_t>(n + 1, 0));
  best[0][0] = 0;
  for (int64_t s = 1; s <= stages; ++s)
    for (size_t i = s; i <= n; ++i)
      for (size_t j = s - 1; j < i; ++j) {
        if (best[s - 1][j] == kMax)
          continue;
        int64_t run = prefix[i] - prefix[j];
        if (s == 1)
          run = addSat(run, first);
        if (s == stages && i == n)
          run = addSat(run, last);
        int64_t cost = std::max(best[s - 1][j], run);
        if (cost < best[s][i]) {
          best[s][i] = cost;
          cut[s][i] = j;
        }
      }
  std::vector<int64_t> stageOf(n, 0);
  size_t end = n;
  for (int64_t s = stages; s >= 1; --s) {
    size_t begin = cut[s][end];
    for (size_t i = begin; i < end; ++i)
      stageOf[i] = s - 1;
    end = begin;
  }
  return stageOf;
}

} // namespace

PipelineStages mlir::strata::pipelineStages(const ModelStats &stats,
                                            int64_t pp) {
  // The layers balanced by forward FLOPs (parameters when the model has
  // none), the embedding on the first stage and the head on the last.
  PipelineStages split;
  SmallVector<int64_t> costs;
  int64_t first = 0, last = 0;
  bool byParams = stats.total.flopsPerToken == 0;
  for (const GroupStats &g : stats.groups) {
    int64_t cost = byParams ? g.params : g.flopsPerToken;
    if (StringRef(g.name).starts_with("layers.")) {
      costs.push_back(cost);
      split.layerNames.push_back(g.name);
    } else if (split.layerNames.empty()) {
      first = addSat(first, cost);
    } else {
      last = addSat(last, cost);
    }
  }
  split.stages = std::min<int64_t>(pp, std::max<size_t>(costs.size(), 1));
  split.stageOf = balanceStages(costs, split.stages, first, last);
  return split;
}

namespace {

/// Accumulates the report while walking @forward.
class PlanWalker {
public:
  PlanWalker(ModuleOp module, PlanReport &report, int64_t slots)
      : module(module), r(report), slots(slots) {}
  void run(func::FuncOp forward, const ModelStats &stats);

private:
  RankKind &kindOf(Operation *op) {
    auto it = stageOfGroup.find(groupOf(op).str());
    return r.kinds[it == stageOfGroup.end() ? 0 : it->second];
  }
  void addParam(RankKind &kind, Value param, int64_t divisor, bool expert);
  void addComm(RankKind &kind, StringRef collective, StringRef axis,
               int64_t calls, int64_t bytes);
  void visitCall(func::CallOp call, func::FuncOp body);
  void visitOp(Operation *op);
  void finish();

  ModuleOp module;
  PlanReport &r;
  int64_t slots;
  std::map<std::string, int64_t> stageOfGroup;
  llvm::DenseMap<Operation *, BodyLayout> layouts;
  llvm::DenseSet<std::pair<int64_t, Value>> counted;
  /// What one stage's ops add up to, before the micro-batch's tokens.
  struct StageTotals {
    /// Parameters outside routed experts, and in them; and their tensors.
    int64_t denseParams = 0, expertParams = 0;
    int64_t denseTensors = 0, expertTensors = 0;
    /// Bytes per token: every forward result (kept for the backward
    /// without recomputation), the largest single group's, what
    /// --recompute=layer keeps (the layers' inputs and the values outside
    /// layers, each once) and the largest layer's results (what it
    /// recomputes at once).
    int64_t allActivations = 0, largestGroup = 0, kept = 0, largestLayer = 0;
    int64_t hiddenBytesPerToken = 0; ///< What crosses a stage boundary.
    Traffic tpForward, tpBackward, epRoute, epForward, epBackward;
  };
  std::vector<StageTotals> totals;
  llvm::DenseSet<std::pair<int64_t, Value>> keptValues;
  void keep(int64_t stage, Value v, int64_t bytes) {
    if (keptValues.insert({stage, v}).second)
      totals[stage].kept = addSat(totals[stage].kept, bytes);
  }
  int64_t logitsBytesPerToken = 0;
};

void PlanWalker::addParam(RankKind &kind, Value param, int64_t divisor,
                          bool expert) {
  if (!counted.insert({kind.stage, param}).second)
    return;
  auto type = cast<RankedTensorType>(param.getType());
  int64_t n = 1;
  for (int64_t d : type.getShape())
    n = mulSat(n, d);
  n /= divisor;
  kind.params = addSat(kind.params, n);
  kind.weightBytes = addSat(kind.weightBytes, mulSat(n, elementBytes(type)));
  StageTotals &t = totals[kind.stage];
  (expert ? t.expertParams : t.denseParams) += n;
  (expert ? t.expertTensors : t.denseTensors) += 1;
  r.hasExperts |= expert;
}

void PlanWalker::addComm(RankKind &kind, StringRef collective, StringRef axis,
                         int64_t calls, int64_t bytes) {
  if (!calls)
    return;
  for (CommVolume &c : kind.comm)
    if (c.collective == collective && c.axis == axis) {
      c.calls = addSat(c.calls, calls);
      c.bytes = addSat(c.bytes, bytes);
      return;
    }
  kind.comm.push_back({collective.str(), axis.str(), calls, bytes});
}

void PlanWalker::visitCall(func::CallOp call, func::FuncOp body) {
  auto [it, inserted] = layouts.try_emplace(body);
  if (inserted)
    it->second = layoutOf(body, r.tp, r.ep);
  const BodyLayout &layout = it->second;
  RankKind &kind = kindOf(call);
  StageTotals &t = totals[kind.stage];
  for (auto [i, operand] : llvm::enumerate(call.getOperands()))
    if (operand.getDefiningOp<ParamOp>())
      addParam(kind, operand, std::max<int64_t>(layout.divisor.lookup(i), 1),
               layout.expertArgs.contains(i));
  int64_t bytes = layout.activationBytesPerToken;
  t.allActivations = addSat(t.allActivations, bytes);
  t.largestGroup = std::max(t.largestGroup, bytes);
  t.largestLayer = std::max(t.largestLayer, bytes);
  if (call.getNumOperands()) {
    Value hidden = call.getOperand(0);
    keep(kind.stage, hidden, bytesPerToken(hidden));
    if (!t.hiddenBytesPerToken)
      t.hiddenBytesPerToken = bytesPerToken(hidden);
  }
  t.tpForward.add(layout.tpForward);
  t.tpBackward.add(layout.tpBackward);
  t.epRoute.add(layout.epRoute);
  t.epForward.add(layout.epForward);
  t.epBackward.add(layout.epBackward);
  kind.kvBytesPerToken = addSat(kind.kvBytesPerToken, layout.kvBytesPerToken);
}

void PlanWalker::visitOp(Operation *op) {
  RankKind &kind = kindOf(op);
  StageTotals &t = totals[kind.stage];
  // The embedding and the LM head are vocabulary-parallel.
  bool vocabulary = isa<EmbeddingOp, LMHeadOp>(op) && r.tp > 1;
  for (Value operand : op->getOperands())
    if (operand.getDefiningOp<ParamOp>())
      addParam(kind, operand, vocabulary ? r.tp : 1, false);
  int64_t bytes = 0;
  for (Value result : op->getResults())
    bytes = addSat(bytes, bytesPerToken(result));
  if (auto head = dyn_cast<LMHeadOp>(op)) {
    bytes /= vocabulary ? r.tp : 1;
    logitsBytesPerToken = bytesPerToken(head);
    if (vocabulary && r.training) {
      // Cross-entropy over vocabulary slices: the max, the sum of
      // exponentials and the label's logit; backward, the input's gradient.
      t.tpForward.add(3 * elementBytes(head.getType()), 3);
      t.tpBackward.add(bytesPerToken(head.getInput()));
    }
  } else if (vocabulary) {
    // Each rank embeds the tokens of its vocabulary slice; one all-reduce
    // sums the rows.
    t.tpForward.add(bytes);
  }
  t.allActivations = addSat(t.allActivations, bytes);
  t.largestGroup = std::max(t.largestGroup, bytes);
  // Recomputing layers keeps what ops outside them read from a layer and
  // what they produce.
  for (Value operand : op->getOperands())
    if (operand.getDefiningOp<func::CallOp>())
      keep(kind.stage, operand, bytesPerToken(operand));
  if (op->getNumResults())
    keep(kind.stage, op->getResult(0), bytes);
}

void PlanWalker::run(func::FuncOp forward, const ModelStats &stats) {
  PipelineStages split = pipelineStages(stats, r.pp);
  int64_t stages = split.stages;
  r.numLayers = split.layerNames.size();
  r.kinds.resize(stages);
  for (int64_t s = 0; s < stages; ++s) {
    r.kinds[s].stage = s;
    r.kinds[s].ranks = r.tp * r.dp;
  }
  bool seenLayer = false;
  for (const GroupStats &g : stats.groups) {
    int64_t s = 0;
    if (StringRef(g.name).starts_with("layers.")) {
      s = split.stageOf[llvm::find(split.layerNames, g.name) -
                        split.layerNames.begin()];
      seenLayer = true;
    } else if (seenLayer) {
      s = stages - 1;
    }
    stageOfGroup[g.name] = s;
    r.kinds[s].groups.push_back(g.name);
  }
  totals.assign(stages, StageTotals{});

  SymbolTable symbols(module);
  for (Operation &op : forward.getOps()) {
    if (auto call = dyn_cast<func::CallOp>(op)) {
      auto body = symbols.lookup<func::FuncOp>(call.getCallee());
      if (body && !body.isExternal())
        visitCall(call, body);
    } else if (isa<StrataCostOpInterface>(op)) {
      visitOp(&op);
    }
  }
  finish();
}

void PlanWalker::finish() {
  int64_t tokens = r.tokensPerMicroBatch;
  int64_t m = r.microBatchesPerStep;
  int64_t stages = r.kinds.size();
  for (RankKind &kind : r.kinds) {
    int64_t s = kind.stage;
    const StageTotals &t = totals[s];
    auto perStep = [&](int64_t perToken) {
      return mulSat(mulSat(perToken, tokens), m);
    };
    if (r.training) {
      int64_t kept =
          r.recomputeLayers ? addSat(t.kept, t.largestLayer) : t.allActivations;
      kind.activationBytes = mulSat(kept, tokens);
      // 1F1B: stage s starts stages - s forwards before its first backward.
      kind.microBatchesInFlight = std::min<int64_t>(stages - s, m);
      int64_t params = addSat(t.denseParams, t.expertParams);
      // A step over several micro-batches or data-parallel ranks holds the
      // sum of the gradients beside the last micro-batch's.
      int64_t copies = r.dp > 1 || r.accumulation > 1 ? 2 : 1;
      kind.gradientBytes = mulSat(params, kStateBytes * copies);
      int64_t dense = t.denseParams, experts = t.expertParams;
      if (r.zeroStage) {
        dense = ceilDiv(dense, r.dp);
        experts = ceilDiv(experts, r.dp / r.ep);
      }
      kind.optimizerBytes =
          mulSat(addSat(dense, experts), mulSat(kStateBytes, slots));
    } else {
      kind.activationBytes = mulSat(t.largestGroup, tokens);
      kind.kvCacheBytes = mulSat(kind.kvBytesPerToken, r.kvTokens);
    }
    if (r.tp > 1) {
      Traffic tp = t.tpForward;
      if (r.training)
        tp.add(t.tpBackward);
      addComm(kind, "all_reduce", "tp", mulSat(tp.calls, m),
              perStep(tp.bytesPerToken));
      if (!r.training && s == stages - 1 && logitsBytesPerToken)
        addComm(kind, "all_gather", "tp", m, perStep(logitsBytesPerToken));
    }
    if (r.ep > 1) {
      // Training runs each layer's forward exchanges again when the
      // backward recomputes the layer.
      int64_t forwards = r.training && r.recomputeLayers ? 2 : 1;
      Traffic route, exchanges;
      for (int64_t i = 0; i < forwards; ++i) {
        route.add(t.epRoute);
        exchanges.add(t.epForward);
      }
      if (r.training)
        exchanges.add(t.epBackward);
      addComm(kind, "all_gather", "ep", mulSat(route.calls, m),
              perStep(route.bytesPerToken));
      addComm(kind, "all_to_all", "ep", mulSat(exchanges.calls, m),
              perStep(exchanges.bytesPerToken));
    }
    if (stages > 1) {
      int64_t hidden = perStep(t.hiddenBytesPerToken);
      if (s > 0)
        addComm(kind, "recv", "pp", m, hidden);
      if (s + 1 < stages)
        addComm(kind, "send", "pp", m, hidden);
      if (r.training && s > 0)
        addComm(kind, "send", "pp", m, hidden);
      if (r.training && s + 1 < stages)
        addComm(kind, "recv", "pp", m, hidden);
    }
    if (r.training && r.dp > 1) {
      // One collective per parameter, once per step (after the
      // micro-batches). Routed experts split over ep reduce over the
      // dp / ep ranks that hold the same experts.
      StringRef expertAxis = r.ep > 1 ? "dp/ep" : "dp";
      auto gradients = [&](StringRef axis, int64_t tensors, int64_t params) {
        if (r.ep > 1 && axis == "dp/ep" && r.dp == r.ep)
          return; // a group of one
        int64_t bytes = mulSat(params, kStateBytes);
        if (r.zeroStage) {
          addComm(kind, "reduce", axis, tensors, bytes);
          addComm(kind, "broadcast", axis, tensors, bytes);
        } else {
          addComm(kind, "all_reduce", axis, tensors, bytes);
        }
      };
      gradients("dp", t.denseTensors, t.denseParams);
      gradients(expertAxis, t.expertTensors, t.expertParams);
    }
    int64_t total = addSat(kind.weightBytes, kind.gradientBytes);
    total = addSat(total, kind.optimizerBytes);
    total =
        addSat(total, mulSat(kind.activationBytes, kind.microBatchesInFlight));
    kind.totalBytes = addSat(total, kind.kvCacheBytes);
    if (kind.totalBytes == kMax && !r.overflow) {
      r.overflow = module;
      r.bytesOverflow = true;
    }
  }
}

} // namespace

PlanReport mlir::strata::computePlanReport(ModuleOp module, int64_t seqLen,
                                           bool recomputeLayers) {
  PlanReport r;
  r.recomputeLayers = recomputeLayers;
  if (auto plan = module->getAttrOfType<ParallelAttr>("strata.parallel")) {
    r.tp = plan.getTp();
    r.pp = plan.getPp();
    r.dp = plan.getDp();
    r.ep = plan.getEp();
    r.zeroStage = plan.getZeroStage();
    r.microBatchesPerStep = plan.getMicroBatches();
  }
  r.training =
      module.lookupSymbol("optimizer_step") || module.lookupSymbol("loss_grad");
  auto training = module->getAttrOfType<TrainingAttr>("strata.training");
  int64_t slots =
      optimizerStateSlots(training ? training.getOptimizer() : Optimizer::AdamW)
          .size();
  auto inference = module->getAttrOfType<InferenceAttr>("strata.inference");
  if (r.training) {
    r.accumulation = training ? training.getAccumulationSteps() : 1;
    int64_t batch = training ? training.getBatchSize() : 0;
    int64_t perRank =
        mulSat(mulSat(r.dp, r.accumulation), r.microBatchesPerStep);
    r.microBatchesPerStep = mulSat(r.microBatchesPerStep, r.accumulation);
    r.batchGiven = batch >= perRank;
    r.rowsPerMicroBatch = r.batchGiven ? batch / perRank : 1;
    r.seqLen = seqLen;
    r.tokensPerMicroBatch = mulSat(r.rowsPerMicroBatch, seqLen);
  } else {
    r.microBatchesPerStep = 1;
    r.rowsPerMicroBatch = 1;
    r.seqLen = r.tokensPerMicroBatch =
        inference ? inference.getMaxTokens() : seqLen;
    r.kvTokens = mulSat(inference ? inference.getMaxBatchSize() : 1, seqLen);
  }
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return r;
  ModelStats stats = computeModelStats(forward, seqLen);
  if (stats.overflow) {
    r.overflow = stats.overflow;
    return r;
  }
  PlanWalker(module, r, slots).run(forward, stats);
  return r;
}

std::optional<int64_t> mlir::strata::parseByteSize(StringRef text) {
  StringRef digits = text.trim();
  size_t end = digits.find_first_not_of("0123456789.eE+");
  StringRef unit = end == StringRef::npos ? "" : digits.substr(end).trim();
  digits = digits.substr(0, end);
  double value;
  if (digits.empty() || digits.getAsDouble(value) || value <= 0)
    return std::nullopt;
  static const std::pair<StringRef, double> units[] = {
      {"", 1},         {"b", 1},        {"kb", 1e3},     {"mb", 1e6},
      {"gb", 1e9},     {"tb", 1e12},    {"kib", 0x1p10}, {"mib", 0x1p20},
      {"gib", 0x1p30}, {"tib", 0x1p40}, {"k", 0x1p10},   {"m", 0x1p20},
      {"g", 0x1p30},   {"t", 0x1p40}};
  std::string lower = unit.lower();
  for (auto [name, scale] : units)
    if (lower == name) {
      double bytes = value * scale;
      if (bytes >= 0x1p63 || bytes < 1)
        return std::nullopt;
      return static_cast<int64_t>(bytes);
    }
  return std::nullopt;
}

/// 1536 -> "1.50 KiB".
static std::string humanBytes(int64_t n) {
  double v = static_cast<double>(n);
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    ++u;
  }
  return u ? llvm::formatv("{0:f2} {1}", v, units[u]).str()
           : llvm::formatv("{0} B", n).str();
}

LogicalResult mlir::strata::checkDeviceMemory(ModuleOp module,
                                              const PlanReport &report,
                                              int64_t deviceMemory) {
  if (report.kinds.empty())
    return success();
  const RankKind &worst = *llvm::max_element(
      report.kinds, [](const RankKind &a, const RankKind &b) {
        return a.totalBytes < b.totalBytes;
      });
  if (worst.totalBytes <= deviceMemory)
    return success();
  InFlightDiagnostic diag = module.emitError();
  diag << "the plan needs " << humanBytes(worst.totalBytes)
       << " on each rank of pipeline stage " << worst.stage << " (weights "
       << humanBytes(worst.weightBytes);
  if (report.training)
    diag << ", gradients " << humanBytes(worst.gradientBytes)
         << ", optimizer state " << humanBytes(worst.optimizerBytes)
         << ", activations " << humanBytes(worst.activationBytes) << " x "
         << worst.microBatchesInFlight << " micro-batches in flight";
  else
    diag << ", KV cache " << humanBytes(worst.kvCacheBytes) << ", activations "
         << humanBytes(worst.activationBytes);
  diag << "), over --device-memory " << humanBytes(deviceMemory) << "; ";
  // The remedies of the two largest parts, largest first.
  SmallVector<std::string> axes{"tp (now " + std::to_string(report.tp) + ")"};
  if (report.pp < report.numLayers)
    axes.push_back("pp (now " + std::to_string(report.pp) + ")");
  if (report.hasExperts && report.ep < report.dp)
    axes.push_back("ep (now " + std::to_string(report.ep) +
                   ") for the experts");
  std::string weights =
      "split the weights over more ranks: raise " + llvm::join(axes, " or ");
  std::string optimizer =
      !report.zeroStage && report.dp > 1
          ? "shard the optimizer state over the " + std::to_string(report.dp) +
                " data-parallel ranks (--zero 1)"
          : "shard the optimizer state over more data-parallel ranks: "
            "raise dp (now " +
                std::to_string(report.dp) + ") with --zero 1";
  std::string activations;
  if (!report.training) {
    activations = "a prefill of " + std::to_string(report.tokensPerMicroBatch) +
                  " tokens: lower inference.max_tokens";
  } else {
    // Only the remedies that shrink what this plan keeps.
    SmallVector<std::string> ways;
    if (report.batchGiven && report.rowsPerMicroBatch > 1)
      ways.push_back("raise num_micro_batches (now " +
                     std::to_string(report.microBatchesPerStep) +
                     " per step) for smaller micro-batches");
    if (!report.recomputeLayers)
      ways.push_back("recompute layers (--recompute=layer)");
    ways.push_back("raise tp (now " + std::to_string(report.tp) + ")");
    activations = "keep fewer activations: " + llvm::join(ways, ", or ");
  }
  std::string kv = "a KV cache of " + std::to_string(report.kvTokens) +
                   " tokens: lower inference.max_batch_size or the context";
  SmallVector<std::pair<int64_t, std::string *>> parts = {
      {addSat(worst.weightBytes, worst.gradientBytes), &weights},
      {worst.optimizerBytes, &optimizer},
      {mulSat(worst.activationBytes, worst.microBatchesInFlight), &activations},
      {worst.kvCacheBytes, &kv}};
  llvm::stable_sort(parts, [](auto &a, auto &b) { return a.first > b.first; });
  diag << *parts[0].second;
  if (parts[1].first)
    diag << "; or " << *parts[1].second;
  return failure();
}

llvm::json::Value mlir::strata::planToJson(const PlanReport &r) {
  llvm::json::Array kinds;
  for (const RankKind &k : r.kinds) {
    llvm::json::Array comm;
    for (const CommVolume &c : k.comm)
      comm.push_back(llvm::json::Object{{"collective", c.collective},
                                        {"axis", c.axis},
                                        {"calls", c.calls},
                                        {"bytes", c.bytes}});
    llvm::json::Array groups;
    for (const std::string &g : k.groups)
      groups.push_back(g);
    kinds.push_back(llvm::json::Object{
        {"stage", k.stage},
        {"ranks", k.ranks},
        {"groups", std::move(groups)},
        {"params", k.params},
        {"weight_bytes", k.weightBytes},
        {"gradient_bytes", k.gradientBytes},
        {"optimizer_state_bytes", k.optimizerBytes},
        {"activation_bytes_per_micro_batch", k.activationBytes},
        {"micro_batches_in_flight", k.microBatchesInFlight},
        {"kv_cache_bytes_per_token", k.kvBytesPerToken},
        {"kv_cache_bytes", k.kvCacheBytes},
        {"total_bytes", k.totalBytes},
        {"communication_per_step", std::move(comm)}});
  }
  return llvm::json::Object{
      {"tp", r.tp},
      {"pp", r.pp},
      {"dp", r.dp},
      {"ep", r.ep},
      {"zero_stage", r.zeroStage},
      {"world_size", mulSat(mulSat(r.tp, r.pp), r.dp)},
      {"mode", r.training ? "training" : "inference"},
      {"recompute_layers", r.training && r.recomputeLayers},
      {"batch_size_given", r.batchGiven},
      {"micro_batches_per_step", r.microBatchesPerStep},
      {"sequences_per_micro_batch", r.rowsPerMicroBatch},
      {"tokens_per_micro_batch", r.tokensPerMicroBatch},
      {"kv_cache_tokens", r.kvTokens},
      {"rank_kinds", std::move(kinds)}};
}

/// "embed, layers.0-1" from a stage's groups.
static std::string describeGroups(ArrayRef<std::string> groups) {
  std::string out;
  auto append = [&](const std::string &s) {
    out += out.empty() ? s : ", " + s;
  };
  for (size_t i = 0; i < groups.size(); ++i) {
    StringRef name = groups[i];
    if (!name.starts_with("layers.")) {
      append(groups[i]);
      continue;
    }
    size_t j = i;
    while (j + 1 < groups.size() &&
           StringRef(groups[j + 1]).starts_with("layers."))
      ++j;
    append(i == j ? groups[i]
                  : groups[i] + "-" + groups[j].substr(strlen("layers.")));
    i = j;
  }
  return out;
}

void mlir::strata::printPlanTable(const PlanReport &r, llvm::raw_ostream &os) {
  os << llvm::formatv("\nplan: tp {0} x pp {1} x dp {2} (ep {3} of dp) = {4} "
                      "ranks{5}; ",
                      r.tp, r.pp, r.dp, r.ep, mulSat(mulSat(r.tp, r.pp), r.dp),
                      r.zeroStage ? ", optimizer state sharded (ZeRO-1)" : "");
  if (r.training)
    os << llvm::formatv(
        "training step of {0} micro-batch{1} of {2} x {3} "
        "tokens per data-parallel rank{4}, {5}\n",
        r.microBatchesPerStep, r.microBatchesPerStep == 1 ? "" : "es",
        r.rowsPerMicroBatch, r.seqLen,
        r.batchGiven ? ""
                     : " (no batch_size: one sequence "
                       "per micro-batch assumed)",
        r.recomputeLayers ? "layers recomputed" : "no recomputation");
  else
    os << llvm::formatv("inference: a prefill of {0} tokens, a KV cache of "
                        "{1} tokens\n",
                        r.tokensPerMicroBatch, r.kvTokens);
  auto line = [&](StringRef what, int64_t bytes, StringRef note = "") {
    os << llvm::formatv("  {0,-24} {1,16} {2,12}{3}\n", what, bytes,
                        humanBytes(bytes), note);
  };
  for (const RankKind &k : r.kinds) {
    os << llvm::formatv("stage {0} ({1} ranks): {2}\n", k.stage, k.ranks,
                        describeGroups(k.groups));
    os << llvm::formatv("  {0,-24} {1,16}\n", "parameters", k.params);
    line("weights", k.weightBytes);
    if (r.training) {
      line("gradients", k.gradientBytes);
      line("optimizer state", k.optimizerBytes);
      line("activations/micro-batch", k.activationBytes,
           llvm::formatv(" x {0} in flight", k.microBatchesInFlight).str());
    } else {
      line("activations", k.activationBytes);
      line("KV cache", k.kvCacheBytes);
    }
    line("KV cache per token", k.kvBytesPerToken);
    line("total", k.totalBytes);
    if (k.comm.empty())
      continue;
    os << llvm::formatv("  communication per {0} (buffer bytes on each "
                        "rank):\n",
                        r.training ? "step" : "prefill");
    for (const CommVolume &c : k.comm)
      os << llvm::formatv("    {0,-10} on {1,-6} {2,8} calls {3,16} {4,12}\n",
                          c.collective, c.axis, c.calls, c.bytes,
                          humanBytes(c.bytes));
  }
}

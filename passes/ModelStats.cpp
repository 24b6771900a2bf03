//===- ModelStats.cpp - parameter and FLOP accounting over IR ---*- C++ -*-===//

#include "passes/ModelStats.h"

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <algorithm>
#include <limits>
#include <optional>

using namespace mlir;
using namespace mlir::strata;

StringRef mlir::strata::groupOf(Operation *op) {
  if (auto named = dyn_cast<NameLoc>(op->getLoc()))
    return named.getName().getValue();
  return "model";
}

namespace {
/// Walks an entry point and the layer bodies it calls. Inside a body the
/// group is the call's layer, and each argument stands for the caller's
/// value, so a parameter read in a shared body is still found by its op.
class StatsWalker {
public:
  StatsWalker(ModelStats &stats, int64_t contextLength)
      : stats(stats), contextLength(contextLength) {}

  void walk(func::FuncOp func, StringRef groupOverride,
            const llvm::DenseMap<Value, Value> &argMap);

private:
  GroupStats &group(StringRef name) {
    auto [it, inserted] = index.try_emplace(name, stats.groups.size());
    if (inserted)
      stats.groups.push_back(GroupStats{name.str()});
    return stats.groups[it->second];
  }
  void visitCost(StrataCostOpInterface cost, StringRef groupName,
                 const llvm::DenseMap<Value, Value> &argMap);
  /// sum += value, saturating and recording `op` on overflow (or on a
  /// negative value, which only an overflow inside a cost rule gives).
  void add(int64_t &sum, int64_t value, Operation *op);
  /// Elements of a parameter, or nullopt past 2^63 - 1.
  std::optional<int64_t> elementsOf(ParamOp param);

  ModelStats &stats;
  int64_t contextLength;
  llvm::StringMap<size_t> index;
  llvm::DenseSet<Value> counted;
};
} // namespace

void StatsWalker::add(int64_t &sum, int64_t value, Operation *op) {
  std::optional<int64_t> total =
      value < 0 ? std::nullopt : llvm::checkedAdd(sum, value);
  if (total) {
    sum = *total;
    return;
  }
  sum = std::numeric_limits<int64_t>::max();
  if (!stats.overflow)
    stats.overflow = op;
}

std::optional<int64_t> StatsWalker::elementsOf(ParamOp param) {
  // ShapedType::getNumElements wraps (2^32 x 2^32 counts 0).
  std::optional<int64_t> n = 1;
  for (int64_t d : param.getType().getShape())
    if (n)
      n = llvm::checkedMul(*n, d);
  return n;
}

void StatsWalker::visitCost(StrataCostOpInterface cost, StringRef groupName,
                           const llvm::DenseMap<Value, Value> &argMap) {
  Operation *op = cost;
  int64_t flops = cost.getFlopsPerToken(contextLength);
  add(group(groupName).flopsPerToken, flops, op);
  add(stats.total.flopsPerToken, flops, op);
  int64_t dense = flops;
  if (auto experts = dyn_cast<MoEExpertsOp>(op))
    dense = llvm::checkedMul(flops / experts.getTopKAttr().getInt(),
                             experts.getNumExpertsAttr().getInt())
                .value_or(-1);
  add(stats.denseExpertsFlopsPerToken, dense, op);
  // A parameter read by several ops (a tied head) is active once.
  for (OpOperand &operand : op->getOpOperands()) {
    Value v = argMap.lookup(operand.get());
    if (!v)
      v = operand.get();
    auto param = v.getDefiningOp<ParamOp>();
    if (!param || !counted.insert(v).second)
      continue;
    int64_t active = cost.getActiveParamElements(operand.getOperandNumber());
    add(group(groupOf(param)).activeParams, active, param);
    add(stats.total.activeParams, active, param);
  }
}

void StatsWalker::walk(func::FuncOp func, StringRef groupOverride,
                       const llvm::DenseMap<Value, Value> &argMap) {
  auto groupFor = [&](Operation *op) {
    return groupOverride.empty() ? groupOf(op) : groupOverride;
  };
  func.walk([&](Operation *op) {
    if (auto param = dyn_cast<ParamOp>(op)) {
      int64_t n = elementsOf(param).value_or(-1);
      add(group(groupOf(op)).params, n, op);
      add(stats.total.params, n, op);
      return;
    }
    if (auto call = dyn_cast<func::CallOp>(op)) {
      auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
          call, call.getCalleeAttr());
      if (!callee || callee.isExternal())
        return;
      llvm::DenseMap<Value, Value> inner;
      for (auto [arg, operand] :
           llvm::zip(callee.getArguments(), call.getOperands())) {
        Value outer = argMap.lookup(operand);
        inner[arg] = outer ? outer : operand;
      }
      walk(callee, groupFor(op), inner);
      return;
    }
    if (auto cost = dyn_cast<StrataCostOpInterface>(op))
      visitCost(cost, groupFor(op), argMap);
  });
}

ModelStats mlir::strata::computeModelStats(func::FuncOp func,
                                           int64_t contextLength) {
  ModelStats stats;
  stats.contextLength = contextLength;
  stats.total.name = "total";
  StatsWalker(stats, contextLength).walk(func, "", {});
  return stats;
}

static llvm::json::Object toJson(const GroupStats &g) {
  return llvm::json::Object{{"name", g.name},
                            {"params", g.params},
                            {"params_active", g.activeParams},
                            {"flops_per_token", g.flopsPerToken}};
}

void mlir::strata::printStatsJson(const ModelStats &stats,
                                  llvm::StringRef modelName,
                                  llvm::raw_ostream &os,
                                  std::optional<llvm::json::Value> plan) {
  llvm::json::Array layers;
  for (const GroupStats &g : stats.groups)
    layers.push_back(toJson(g));
  llvm::json::Object root{{"model", modelName},
                          {"context_length", stats.contextLength},
                          {"params_total", stats.total.params},
                          {"params_active", stats.total.activeParams},
                          {"flops_per_token", stats.total.flopsPerToken},
                          {"flops_per_token_dense_experts",
                           stats.denseExpertsFlopsPerToken},
                          {"layers", std::move(layers)}};
  if (plan)
    root["plan"] = std::move(*plan);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
}

/// 671026419200 -> "671.03B".
static std::string humanCount(int64_t n) {
  double v = static_cast<double>(n);
  const char *units[] = {"", "K", "M", "B", "T"};
  int u = 0;
  while (v >= 1000.0 && u < 4) {
    v /= 1000.0;
    ++u;
  }
  return u ? llvm::formatv("{0:f2}{1}", v, units[u]).str() : std::to_string(n);
}

void mlir::strata::printStatsTable(const ModelStats &stats,
                                   llvm::StringRef modelName,
                                   llvm::raw_ostream &os) {
  os << llvm::formatv("model {0}, forward FLOPs at a context of {1} tokens\n",
                      modelName, stats.contextLength);
  os << llvm::formatv("{0,-14} {1,18} {2,10} {3,18} {4,10} {5,16}\n", "layer",
                      "params", "", "active params", "", "FLOPs/token");
  auto row = [&](const GroupStats &g) {
    os << llvm::formatv("{0,-14} {1,18} {2,10} {3,18} {4,10} {5,16}\n", g.name,
                        g.params, humanCount(g.params), g.activeParams,
                        humanCount(g.activeParams), g.flopsPerToken);
  };
  for (const GroupStats &g : stats.groups)
    row(g);
  row(stats.total);
  if (stats.denseExpertsFlopsPerToken != stats.total.flopsPerToken)
    os << llvm::formatv("routed experts run only for the tokens that chose "
                        "them: {0} FLOPs/token against {1} if every expert "
                        "saw every token ({2:f1}x)\n",
                        stats.total.flopsPerToken,
                        stats.denseExpertsFlopsPerToken,
                        static_cast<double>(stats.denseExpertsFlopsPerToken) /
                            std::max<int64_t>(stats.total.flopsPerToken, 1));
}

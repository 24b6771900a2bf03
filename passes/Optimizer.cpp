//===- Optimizer.cpp - optimizer_step from the training plan ----*- C++ -*-===//
//
// The optimizer is compiled like the model: optimizer_step is straight-line
// strata ops with the plan's hyper-parameters as attributes. The runtime
// runs loss_grad over the micro-batches, sums their gradients and calls
// optimizer_step once, so accumulation needs nothing here.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"
#include "passes/Passes.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAOPTIMIZER
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

SmallVector<StringRef, 2>
mlir::strata::optimizerStateSlots(Optimizer optimizer) {
  switch (optimizer) {
  case Optimizer::AdamW:
    return {"exp_avg", "exp_avg_sq"};
  case Optimizer::Lion:
    return {"exp_avg"};
  case Optimizer::Sgd:
    return {"momentum_buffer"};
  }
  llvm_unreachable("unknown optimizer");
}

namespace {

/// Whether `value` is only ever a router's selection bias (followed through
/// calls into layer bodies); the routers are appended to `routers`. Such a
/// parameter gets no gradient — selection has none — and is no weight to
/// decay: DeepSeek-V3 keeps it as a buffer that only its load balancing
/// moves (strata.bias_balance), so the optimizer update leaves it alone.
bool onlySelectionBias(Value value, SymbolTable &symbols,
                       SmallVectorImpl<RouterOp> &routers, unsigned depth = 0) {
  if (depth > 8 || value.use_empty())
    return false;
  for (OpOperand &use : value.getUses()) {
    Operation *user = use.getOwner();
    if (auto router = dyn_cast<RouterOp>(user)) {
      if (router.getBias() != value)
        return false;
      routers.push_back(router);
      continue;
    }
    auto call = dyn_cast<func::CallOp>(user);
    auto callee =
        call ? symbols.lookup<func::FuncOp>(call.getCallee()) : func::FuncOp();
    if (!callee || callee.isExternal() ||
        !onlySelectionBias(callee.getArgument(use.getOperandNumber()), symbols,
                           routers, depth + 1))
      return false;
  }
  return true;
}

/// A selection bias that aux-loss-free balancing moves, and by how much.
struct BalancedBias {
  ParamOp param;
  double rate;
};

/// The rate at which `routers` (sharing one bias) move it, 0 when they do
/// not balance by bias; an error when they disagree.
FailureOr<double> balanceRate(ParamOp param, ArrayRef<RouterOp> routers) {
  double rate = 0.0;
  for (auto [i, router] : llvm::enumerate(routers)) {
    RouterOp r = router; // accessors are not const
    double mine = r.getBalance() == BalanceKind::BiasUpdate
                      ? r.getBiasUpdateRate().convertToDouble()
                      : 0.0;
    if (i > 0 && mine != rate)
      return param.emitOpError("is the selection bias of routers that "
                               "balance it differently (bias_update_rate ")
             << rate << " and " << mine << ")";
    rate = mine;
  }
  return rate;
}

/// How strata-optimizer marks an entry point's argument or result for the
/// runtime: `kind` is "arg:<role>" or "result:<role>", and `key` (when
/// given) names what it is, e.g. strata.param = "<name>".
DictionaryAttr role(Builder &b, StringRef kind, StringRef key = {},
                    Attribute value = {}) {
  NamedAttrList list;
  list.append(kind.starts_with("arg:") ? "strata.arg" : "strata.result",
              b.getStringAttr(kind.drop_front(kind.find(':') + 1)));
  if (!key.empty())
    list.append(key, value);
  return list.getDictionary(b.getContext());
}

/// The signature part of balanced selection biases: the step's expert
/// loads in, the moved biases out.
void appendBalanceSignature(Builder &b, ArrayRef<BalancedBias> biases,
                            SmallVectorImpl<Type> &inputs,
                            SmallVectorImpl<DictionaryAttr> &argAttrs,
                            SmallVectorImpl<Type> &outputs,
                            SmallVectorImpl<DictionaryAttr> &resultAttrs) {
  for (const BalancedBias &bias : biases) {
    ParamOp param = bias.param;
    auto type = cast<RankedTensorType>(param.getType());
    StringAttr name = b.getStringAttr(param.getName());
    inputs.push_back(RankedTensorType::get(type.getShape(), b.getI32Type()));
    argAttrs.push_back(role(b, "arg:expert_load", "strata.param", name));
    outputs.push_back(type);
    resultAttrs.push_back(role(b, "result:parameter", "strata.param", name));
  }
}

LogicalResult buildOptimizerStep(ModuleOp module, func::FuncOp loss,
                                 TrainingAttr plan,
                                 SmallVectorImpl<BalancedBias> &biases) {
  MLIRContext *ctx = module.getContext();
  SymbolTable symbols(module);
  SmallVector<ParamOp> params;
  llvm::StringSet<> seen;
  WalkResult walk = loss.walk([&](ParamOp p) {
    if (!seen.insert(p.getName()).second)
      return WalkResult::advance();
    SmallVector<RouterOp> routers;
    if (!onlySelectionBias(p.getResult(), symbols, routers)) {
      params.push_back(p);
      return WalkResult::advance();
    }
    FailureOr<double> rate = balanceRate(p, routers);
    if (failed(rate))
      return WalkResult::interrupt();
    if (*rate > 0)
      biases.push_back({p, *rate});
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (params.empty())
    return loss.emitOpError("reads no parameter: there is nothing to train");
  if (module.lookupSymbol("optimizer_step"))
    return module.emitError("strata-optimizer: @optimizer_step exists "
                            "already");
  Optimizer optimizer = plan.getOptimizer();
  SmallVector<StringRef, 2> slots = optimizerStateSlots(optimizer);
  Location loc = loss.getLoc();
  OpBuilder b(ctx);
  auto attr = [&](StringRef kind, StringRef key = {}, StringRef value = {}) {
    return role(b, kind, key, b.getStringAttr(value));
  };

  auto stepType = RankedTensorType::get({}, b.getI32Type());
  auto scalarType = RankedTensorType::get({}, b.getF32Type());
  // The schedule's step counts every step; AdamW's bias correction counts
  // the updates applied (a skipped float16 step is none), as torch's
  // GradScaler skips optimizer.step() but not the scheduler.
  SmallVector<Type> inputs{stepType, stepType}, outputs{scalarType, scalarType};
  SmallVector<DictionaryAttr> argAttrs{attr("arg:step"),
                                       attr("arg:update_count")};
  SmallVector<DictionaryAttr> resultAttrs{attr("result:lr"),
                                          attr("result:grad_norm")};
  for (ParamOp p : params) {
    inputs.push_back(p.getType());
    argAttrs.push_back(attr("arg:gradient", "strata.param", p.getName()));
  }
  for (ParamOp p : params)
    for (StringRef slot : slots) {
      inputs.push_back(p.getType());
      argAttrs.push_back(
          attr("arg:state", "strata.state", (p.getName() + "." + slot).str()));
    }
  for (ParamOp p : params) {
    outputs.push_back(p.getType());
    resultAttrs.push_back(
        attr("result:parameter", "strata.param", p.getName()));
  }
  for (ParamOp p : params)
    for (StringRef slot : slots) {
      outputs.push_back(p.getType());
      resultAttrs.push_back(attr("result:state", "strata.state",
                                 (p.getName() + "." + slot).str()));
    }
  appendBalanceSignature(b, biases, inputs, argAttrs, outputs, resultAttrs);

  b.setInsertionPointToEnd(module.getBody());
  auto step = func::FuncOp::create(b, loc, "optimizer_step",
                                   b.getFunctionType(inputs, outputs));
  step.setAllArgAttrs(argAttrs);
  step.setAllResultAttrs(resultAttrs);
  Block *entry = step.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  Value t = entry->getArgument(0);
  Value updates = entry->getArgument(1);
  ValueRange grads = entry->getArguments().slice(2, params.size());
  ValueRange states = entry->getArguments().slice(2 + params.size(),
                                                  params.size() * slots.size());
  ValueRange loads = entry->getArguments().take_back(biases.size());

  Value lr = LrScheduleOp::create(
      b, loc, scalarType, t, plan.getSchedule(), plan.getLr(),
      static_cast<uint64_t>(plan.getWarmupSteps()),
      static_cast<uint64_t>(plan.getTotalSteps()), plan.getMinLrRatio());
  Value norm = GlobalNormOp::create(b, loc, scalarType, grads);
  SmallVector<Value> newParams, newStates;
  for (auto [i, p] : llvm::enumerate(params)) {
    Value param = b.clone(*p)->getResult(0);
    ValueRange state = states.slice(i * slots.size(), slots.size());
    SmallVector<Type> stateTypes(slots.size(), p.getType());
    auto update = OptimizerUpdateOp::create(
        b, p.getLoc(), p.getType(), stateTypes, param, grads[i], state, updates,
        lr, norm, optimizer, plan.getWeightDecay(), plan.getBeta1(),
        plan.getBeta2(), plan.getEps(), plan.getGradientClipping());
    newParams.push_back(update.getNewParam());
    llvm::append_range(newStates, update.getNewState());
  }
  SmallVector<Value> results{lr, norm};
  llvm::append_range(results, newParams);
  llvm::append_range(results, newStates);
  for (auto [bias, load] : llvm::zip_equal(biases, loads)) {
    Value current = b.clone(*bias.param)->getResult(0);
    results.push_back(BiasBalanceOp::create(
        b, bias.param.getLoc(), current, load, b.getF64FloatAttr(bias.rate)));
  }
  func::ReturnOp::create(b, loc, results);
  return success();
}

/// ZeRO-1's entry points (a plan that shards the optimizer state over
/// data-parallel ranks): `optimizer_update` steps one parameter, any of
/// them, flattened to 1-D — each rank calls it for the parameters whose
/// state it keeps, with the global norm the ranks summed — and, when the
/// model balances selection biases, `optimizer_balance` moves them from the
/// step's expert loads on every rank. optimizer_step stays: a single
/// process runs the whole plan with it.
void buildShardedOptimizer(ModuleOp module, func::FuncOp loss,
                           TrainingAttr plan) {
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  Location loc = loss.getLoc();
  Optimizer optimizer = plan.getOptimizer();
  unsigned slots = optimizerStateSlots(optimizer).size();
  auto stepType = RankedTensorType::get({}, b.getI32Type());
  auto scalarType = RankedTensorType::get({}, b.getF32Type());
  auto flatType = RankedTensorType::get({ShapedType::kDynamic}, b.getF32Type());
  SmallVector<Type> inputs{stepType, stepType, scalarType, flatType, flatType};
  SmallVector<DictionaryAttr> argAttrs{
      role(b, "arg:step"), role(b, "arg:update_count"),
      role(b, "arg:grad_norm"), role(b, "arg:flat_param"),
      role(b, "arg:flat_gradient")};
  SmallVector<Type> outputs{scalarType, flatType};
  SmallVector<DictionaryAttr> resultAttrs{role(b, "result:lr"),
                                          role(b, "result:flat_param")};
  for (unsigned k = 0; k < slots; ++k) {
    IntegerAttr slot = b.getI32IntegerAttr(k);
    inputs.push_back(flatType);
    argAttrs.push_back(role(b, "arg:flat_state", "strata.slot", slot));
    outputs.push_back(flatType);
    resultAttrs.push_back(role(b, "result:flat_state", "strata.slot", slot));
  }
  b.setInsertionPointToEnd(module.getBody());
  auto update = func::FuncOp::create(b, loc, "optimizer_update",
                                     b.getFunctionType(inputs, outputs));
  update.setAllArgAttrs(argAttrs);
  update.setAllResultAttrs(resultAttrs);
  Block *entry = update.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  Value t = entry->getArgument(0);
  Value lr = LrScheduleOp::create(
      b, loc, scalarType, t, plan.getSchedule(), plan.getLr(),
      static_cast<uint64_t>(plan.getWarmupSteps()),
      static_cast<uint64_t>(plan.getTotalSteps()), plan.getMinLrRatio());
  SmallVector<Type> stateTypes(slots, flatType);
  auto op = OptimizerUpdateOp::create(
      b, loc, flatType, stateTypes, entry->getArgument(3),
      entry->getArgument(4), entry->getArguments().drop_front(5),
      /*updates=*/entry->getArgument(1), lr, entry->getArgument(2), optimizer,
      plan.getWeightDecay(), plan.getBeta1(), plan.getBeta2(), plan.getEps(),
      plan.getGradientClipping());
  SmallVector<Value> results{lr, op.getNewParam()};
  llvm::append_range(results, op.getNewState());
  func::ReturnOp::create(b, loc, results);
}

/// optimizer_step's balancing of selection biases alone.
void buildBalanceStep(ModuleOp module, func::FuncOp step,
                      ArrayRef<BalancedBias> biases) {
  if (biases.empty())
    return;
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  SmallVector<Type> inputs, outputs;
  SmallVector<DictionaryAttr> argAttrs, resultAttrs;
  appendBalanceSignature(b, biases, inputs, argAttrs, outputs, resultAttrs);
  b.setInsertionPointToEnd(module.getBody());
  auto balance = func::FuncOp::create(b, step.getLoc(), "optimizer_balance",
                                      b.getFunctionType(inputs, outputs));
  balance.setAllArgAttrs(argAttrs);
  balance.setAllResultAttrs(resultAttrs);
  Block *entry = balance.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  SmallVector<Value> results;
  for (auto [bias, load] : llvm::zip_equal(biases, entry->getArguments())) {
    ParamOp param = bias.param;
    Value current = b.clone(*param.getOperation())->getResult(0);
    results.push_back(BiasBalanceOp::create(b, param.getLoc(), current, load,
                                            b.getF64FloatAttr(bias.rate)));
  }
  func::ReturnOp::create(b, step.getLoc(), results);
}

struct StrataOptimizerPass
    : public mlir::strata::impl::StrataOptimizerBase<StrataOptimizerPass> {
  using StrataOptimizerBase::StrataOptimizerBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto func = module.lookupSymbol<func::FuncOp>(loss);
    if (!func) {
      module.emitError() << "strata-optimizer: no function @" << loss
                         << " whose parameters to train";
      return signalPassFailure();
    }
    auto plan = module->getAttrOfType<TrainingAttr>("strata.training");
    // Without a training section: the attribute's defaults.
    if (!plan)
      plan = cast<TrainingAttr>(
          parseAttribute("#strata.training<>", &getContext()));
    SmallVector<BalancedBias> biases;
    if (failed(buildOptimizerStep(module, func, plan, biases)))
      return signalPassFailure();
    auto parallel = module->getAttrOfType<ParallelAttr>("strata.parallel");
    if (parallel && parallel.getZeroStage() == 1 && parallel.getDp() > 1) {
      buildShardedOptimizer(module, func, plan);
      buildBalanceStep(module,
                       module.lookupSymbol<func::FuncOp>("optimizer_step"),
                       biases);
    }
  }
};

} // namespace

//===- StrataOpsOptimizer.cpp - verifiers of the optimizer's ops ----------===//
//
// Messages start with the constraint ids of docs/spec.md (Optimizer).
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"

using namespace mlir;
using namespace mlir::strata;

LogicalResult LrScheduleOp::verify() {
  if (!(getLr().convertToDouble() > 0.0))
    return emitOpError() << "lr_schedule_c1: lr must be positive, got "
                         << getLr().convertToDouble();
  // I64Attr's accessors are unsigned; the attribute holds a signed value.
  auto warmup = static_cast<int64_t>(getWarmupSteps());
  auto total = static_cast<int64_t>(getTotalSteps());
  if (warmup < 0)
    return emitOpError() << "lr_schedule_c2: warmup_steps must not be "
                            "negative, got "
                         << warmup;
  if (getSchedule() == LrSchedule::LinearWarmupCosineDecay && total <= warmup)
    return emitOpError() << "lr_schedule_c3: the cosine decay needs "
                            "total_steps > warmup_steps, got "
                         << total << " and " << warmup;
  double r = getMinLrRatio().convertToDouble();
  if (!(r >= 0.0 && r <= 1.0))
    return emitOpError() << "lr_schedule_c4: min_lr_ratio must be in [0, 1], "
                            "got "
                         << r;
  return success();
}

LogicalResult GlobalNormOp::verify() {
  if (getInputs().empty())
    return emitOpError() << "global_norm_c1: needs at least one operand";
  return success();
}

/// The optimizer state tensors per parameter: AdamW's two moments, Lion's
/// one, SGD's momentum buffer.
unsigned mlir::strata::optimizerStateCount(Optimizer optimizer) {
  return optimizer == Optimizer::AdamW ? 2 : 1;
}

LogicalResult OptimizerUpdateOp::verify() {
  Type type = getParam().getType();
  if (getGrad().getType() != type ||
      llvm::any_of(getState().getTypes(), [&](Type t) { return t != type; }))
    return emitOpError() << "optimizer_update_c1: grad and every state must "
                            "have the type of param, "
                         << type;
  unsigned want = optimizerStateCount(getOptimizer());
  if (getState().size() != want)
    return emitOpError() << "optimizer_update_c2: "
                         << stringifyOptimizer(getOptimizer()) << " keeps "
                         << want << " state tensor(s) per parameter, got "
                         << getState().size();
  double b1 = getBeta1().convertToDouble(), b2 = getBeta2().convertToDouble();
  if (!(b1 >= 0.0 && b1 < 1.0 && b2 >= 0.0 && b2 < 1.0) ||
      !(getEps().convertToDouble() > 0.0) ||
      !(getWeightDecay().convertToDouble() >= 0.0) ||
      !(getMaxGradNorm().convertToDouble() >= 0.0))
    return emitOpError() << "optimizer_update_c3: needs 0 <= beta1, beta2 < "
                            "1, eps > 0, weight_decay >= 0 and "
                            "max_grad_norm >= 0";
  if (getNewParam().getType() != type ||
      getNewState().size() != getState().size() ||
      llvm::any_of(getNewState().getTypes(),
                   [&](Type t) { return t != type; }))
    return emitOpError() << "optimizer_update_c4: the results must have the "
                            "types of param and its states";
  return success();
}

LogicalResult BiasBalanceOp::verify() {
  auto bias = cast<RankedTensorType>(getBias().getType());
  auto load = cast<RankedTensorType>(getLoad().getType());
  if (bias.getDimSize(0) != load.getDimSize(0))
    return emitOpError() << "bias_balance_c1: bias and load must both have "
                            "one element per expert, got "
                         << bias << " and " << load;
  if (!(getRate().convertToDouble() >= 0.0))
    return emitOpError() << "bias_balance_c2: rate must be >= 0, got "
                         << getRate().convertToDouble();
  return success();
}

//===- StrataOpsGradient.cpp - VJP rules and the backward ops' verifiers --===//
//
// StrataGradientOpInterface for the forward ops: each rule builds the
// operands' gradients from the results' at the builder's insertion point,
// with strata ops only (forward ops where they serve, the *_backward ops of
// StrataGradOps.td otherwise). docs/spec.md states each backward op.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::strata;

namespace {

RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Two dims agree when either is dynamic or they are equal.
bool agree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

bool sameShape(RankedTensorType a, RankedTensorType b) {
  if (a.getRank() != b.getRank())
    return false;
  for (int64_t i = 0; i < a.getRank(); ++i)
    if (!agree(a.getDimSize(i), b.getDimSize(i)))
      return false;
  return true;
}

/// norm_c1 and norm_c2 of rmsnorm_backward and layernorm_backward.
template <typename OpT> LogicalResult verifyNormBackward(OpT op) {
  auto input = tensorType(op.getInput()), weight = tensorType(op.getWeight());
  if (weight.getRank() != 1 || input.getRank() < 1 ||
      !agree(weight.getDimSize(0), input.getShape().back()))
    return op.emitOpError() << "norm_c1: weight must be rank 1 and match the "
                               "last dim of input, got "
                            << weight << " and " << input;
  if (!(op.getEps().convertToDouble() > 0))
    return op.emitOpError()
           << "norm_c2: eps must be > 0, got " << op.getEps().convertToDouble();
  return success();
}

/// Gradient of a linear map x W^T (+ b) — linear and lm_head.
void projectionVJP(OpBuilder &b, Operation *op, Value input, Value weight,
                   Value bias, Value resultGrad,
                   SmallVectorImpl<Value> &operandGrads) {
  SmallVector<Type> types{input.getType(), weight.getType()};
  if (bias)
    types.push_back(bias.getType());
  auto backward =
      LinearBackwardOp::create(b, op->getLoc(), types, input, weight,
                               resultGrad, bias ? b.getUnitAttr() : UnitAttr());
  operandGrads.append({backward.getInputGrad(), backward.getWeightGrad()});
  if (bias)
    operandGrads.push_back(backward.getBiasGrad());
}

} // namespace

//===----------------------------------------------------------------------===//
// VJP rules
//===----------------------------------------------------------------------===//

LogicalResult AddOp::buildVJP(OpBuilder &, ValueRange resultGrads,
                              SmallVectorImpl<Value> &operandGrads) {
  operandGrads.append({resultGrads[0], resultGrads[0]});
  return success();
}

LogicalResult RoundOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(
      RoundOp::create(b, getLoc(), resultGrads[0], getToAttr()));
  return success();
}

LogicalResult LinearOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                 SmallVectorImpl<Value> &operandGrads) {
  projectionVJP(b, *this, getInput(), getWeight(), getBias(), resultGrads[0],
                operandGrads);
  return success();
}

LogicalResult LMHeadOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                 SmallVectorImpl<Value> &operandGrads) {
  projectionVJP(b, *this, getInput(), getWeight(), Value(), resultGrads[0],
                operandGrads);
  return success();
}

LogicalResult RMSNormOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                  SmallVectorImpl<Value> &operandGrads) {
  auto backward = RMSNormBackwardOp::create(
      b, getLoc(), getInput(), getWeight(), resultGrads[0], getEpsAttr());
  operandGrads.append({backward.getInputGrad(), backward.getWeightGrad()});
  return success();
}

/// Inference-mode dropout (no step) is the identity; training-mode dropout
/// recomputes its mask in the backward.
LogicalResult DropoutOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                  SmallVectorImpl<Value> &operandGrads) {
  if (!getStep() || getP().convertToDouble() == 0) {
    operandGrads.push_back(resultGrads[0]);
    return success();
  }
  operandGrads.push_back(DropoutBackwardOp::create(
      b, getLoc(), getInput().getType(), getInput(), getStep(), resultGrads[0],
      getPAttr(), getSeedAttr(), getSaltAttr()));
  operandGrads.push_back(Value()); // the step
  return success();
}

LogicalResult DropoutBackwardOp::verify() {
  double p = getP().convertToDouble();
  if (!(p >= 0 && p < 1))
    return emitOpError() << "dropout_c1: p must be in [0, 1), got " << p;
  return success();
}

LogicalResult SiluOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(ActivationBackwardOp::create(
      b, getLoc(), getInput(), resultGrads[0], b.getStringAttr("silu"),
      GeluApproximationAttr::get(getContext(), GeluApproximation::None)));
  return success();
}

LogicalResult GeluOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(ActivationBackwardOp::create(
      b, getLoc(), getInput(), resultGrads[0], b.getStringAttr("gelu"),
      getApproximateAttr()));
  return success();
}

LogicalResult SwiGLUOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                 SmallVectorImpl<Value> &operandGrads) {
  auto backward =
      SwiGLUBackwardOp::create(b, getLoc(), getGate(), getUp(), resultGrads[0]);
  operandGrads.append({backward.getGateGrad(), backward.getUpGrad()});
  return success();
}

LogicalResult EmbeddingOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(Value()); // token ids
  operandGrads.push_back(EmbeddingBackwardOp::create(
      b, getLoc(), getTable().getType(), getTokens(), resultGrads[0]));
  return success();
}

LogicalResult CrossEntropyOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(
      CrossEntropyBackwardOp::create(b, getLoc(), getLogits(), getLabels(),
                                     resultGrads[0], getIgnoreIndexAttr()));
  operandGrads.push_back(Value()); // labels
  return success();
}

//===----------------------------------------------------------------------===//
// Backward ops' verifiers
//===----------------------------------------------------------------------===//

LogicalResult LinearBackwardOp::verify() {
  auto input = tensorType(getInput()), weight = tensorType(getWeight()),
       grad = tensorType(getResultGrad());
  if (weight.getRank() != 2 || input.getRank() < 1 ||
      !agree(input.getShape().back(), weight.getDimSize(1)))
    return emitOpError() << "linear_c1/c2: weight must be [out, in] with in "
                            "the last dim of input, got "
                         << weight << " and " << input;
  bool leading = grad.getRank() == input.getRank() &&
                 agree(grad.getShape().back(), weight.getDimSize(0));
  for (int64_t i = 0; leading && i + 1 < input.getRank(); ++i)
    leading = agree(grad.getDimSize(i), input.getDimSize(i));
  if (!leading)
    return emitOpError() << "linear_bwd_c1: result_grad must be input's "
                            "leading dims and [out], got "
                         << grad;
  if (getInputGrad().getType() != input ||
      getWeightGrad().getType() != weight ||
      static_cast<bool>(getBiasGrad()) != getHasBias())
    return emitOpError() << "linear_bwd_c2: the gradients must have the "
                            "types of input, weight (and bias with has_bias)";
  if (getBiasGrad()) {
    auto bias = tensorType(getBiasGrad());
    if (bias.getRank() != 1 || !agree(bias.getDimSize(0), weight.getDimSize(0)))
      return emitOpError() << "linear_bwd_c2: bias_grad must be [out], got "
                           << bias;
  }
  return success();
}

LogicalResult RMSNormBackwardOp::verify() { return verifyNormBackward(*this); }

LogicalResult EmbeddingBackwardOp::verify() {
  auto tokens = tensorType(getTokens()), grad = tensorType(getResultGrad()),
       table = tensorType(getTableGrad());
  if (tokens.getRank() != 2 || grad.getRank() != 3 ||
      !agree(grad.getDimSize(0), tokens.getDimSize(0)) ||
      !agree(grad.getDimSize(1), tokens.getDimSize(1)))
    return emitOpError() << "embedding_bwd_c1: result_grad must be [batch, "
                            "seq, hidden] over tokens [batch, seq], got "
                         << grad << " and " << tokens;
  if (table.getRank() != 2 || !table.hasStaticShape() ||
      !agree(table.getDimSize(1), grad.getDimSize(2)) ||
      table.getElementType() != grad.getElementType())
    return emitOpError() << "embedding_bwd_c2: table_grad must be a static "
                            "[vocab, hidden] of result_grad's element type, "
                            "got "
                         << table;
  return success();
}

LogicalResult CrossEntropyBackwardOp::verify() {
  auto logits = tensorType(getLogits()), labels = tensorType(getLabels());
  bool ok = logits.getRank() == labels.getRank() + 1;
  for (int64_t i = 0; ok && i < labels.getRank(); ++i)
    ok = agree(logits.getDimSize(i), labels.getDimSize(i));
  if (!ok)
    return emitOpError() << "xent_c1: logits must be labels' shape plus a "
                            "class dim, got "
                         << logits << " and " << labels;
  return success();
}

LogicalResult ActivationBackwardOp::verify() {
  if (getKind() != "silu" && getKind() != "gelu")
    return emitOpError() << "act_bwd_c1: kind must be silu or gelu, got '"
                         << getKind() << "'";
  return success();
}

LogicalResult AttentionOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  // The backward recomputes the forward's dropout mask from the same step,
  // seed and salt (and q).
  auto backward = AttentionBackwardOp::create(
      b, getLoc(), getQ().getType(), getK().getType(), getV().getType(), getQ(),
      getK(), getV(), resultGrads[0], getKeyPadding(), getStep(),
      getNumHeadsAttr(), getNumKvHeadsAttr(), getHeadDimAttr(),
      getVHeadDimAttr(), getCausalAttr(), getWindowAttr(), getSparsityAttr(),
      getScaleAttr(), getDropoutAttr(), getSeedAttr(), getSaltAttr());
  operandGrads.append(
      {backward.getQGrad(), backward.getKGrad(), backward.getVGrad()});
  if (getKeyPadding())
    operandGrads.push_back(Value());
  if (getStep())
    operandGrads.push_back(Value());
  return success();
}

LogicalResult RotaryOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                 SmallVectorImpl<Value> &operandGrads) {
  // A rotation's transpose is the rotation by the negated angle.
  operandGrads.push_back(RotaryOp::create(
      b, getLoc(), resultGrads[0], getPositions(), getNumHeadsAttr(),
      getHeadDimAttr(), getRotaryDimAttr(), getRopeAttr(), getInterleavedAttr(),
      b.getBoolAttr(!getInverse())));
  if (getPositions())
    operandGrads.push_back(Value());
  return success();
}

//===----------------------------------------------------------------------===//
// Mixture of experts
//===----------------------------------------------------------------------===//

LogicalResult RouterOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                 SmallVectorImpl<Value> &operandGrads) {
  // weights and scores, each zero when no gradient reaches it (the caller
  // passes zeros then); indices have none. With a step, the backward
  // recomputes the forward's noise from the same key.
  Value step = getNoiseStd().convertToDouble() > 0 ? getStep() : Value();
  auto backward = RouterBackwardOp::create(
      b, getLoc(), getLogits().getType(), getLogits(), getIndices(),
      resultGrads[0], resultGrads[2], step, getNumExpertsAttr(), getTopKAttr(),
      getScoringAttr(), getNormTopkProbAttr(), getRoutedScalingFactorAttr(),
      getNoiseStdAttr(), getSeedAttr(), getSaltAttr());
  operandGrads.push_back(backward);
  // The bias steers selection only; it moves by bias_update, not by
  // gradient.
  if (getBias())
    operandGrads.push_back(Value());
  if (getStep())
    operandGrads.push_back(Value());
  return success();
}

/// The mask depends on the indices only: the gradient is the same mask.
LogicalResult ExpertCapacityOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                         SmallVectorImpl<Value> &operandGrads) {
  auto masked =
      ExpertCapacityOp::create(b, getLoc(), resultGrads[0], getIndices(),
                               getNumExpertsAttr(), getCapacityFactorAttr());
  operandGrads.append({masked.getKept(), Value()});
  return success();
}

LogicalResult MoEExpertsOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                     SmallVectorImpl<Value> &operandGrads) {
  // Inference semantics: the capacity limit of training is applied before
  // this op by strata.expert_capacity in the training variants.
  auto backward = MoEExpertsBackwardOp::create(
      b, getLoc(), getInput(), getWeights(), getIndices(), getGateProj(),
      getUpProj(), getDownProj(), resultGrads[0], getNumExpertsAttr(),
      getTopKAttr());
  operandGrads.append({backward.getInputGrad(), backward.getWeightsGrad(),
                       Value(), backward.getGateProjGrad(),
                       backward.getUpProjGrad(), backward.getDownProjGrad()});
  return success();
}

LogicalResult RouterAuxLossOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  operandGrads.push_back(RouterAuxLossBackwardOp::create(
      b, getLoc(), getScores(), getIndices(), resultGrads[0], getCoefAttr()));
  operandGrads.push_back(Value());
  return success();
}

LogicalResult RouterBackwardOp::verify() {
  auto logits = tensorType(getLogits()), indices = tensorType(getIndices()),
       weights = tensorType(getWeightsGrad());
  int64_t e = getNumExperts(), k = getTopK();
  if (e < 1 || k < 1 || k > e)
    return emitOpError() << "router_c2: top_k must be in [1, num_experts = "
                         << e << "], got " << k;
  if (logits.getRank() != 3 || !agree(logits.getDimSize(2), e))
    return emitOpError() << "router_c1: logits must be [B, S, " << e
                         << "], got " << logits;
  bool ok = indices.getRank() == 3 && weights.getRank() == 3 &&
            agree(indices.getDimSize(2), k) && agree(weights.getDimSize(2), k);
  for (int64_t d = 0; ok && d < 2; ++d)
    ok = agree(indices.getDimSize(d), logits.getDimSize(d)) &&
         agree(weights.getDimSize(d), logits.getDimSize(d));
  if (!ok || getScoresGrad().getType() != logits)
    return emitOpError() << "router_bwd_c1: indices and weights_grad must be "
                            "[B, S, top_k] and scores_grad the logits' type";
  if (!(getNoiseStd().convertToDouble() >= 0))
    return emitOpError() << "router_c6: noise_std must be >= 0";
  return success();
}

LogicalResult MoEExpertsBackwardOp::verify() {
  auto input = tensorType(getInput()), gate = tensorType(getGateProj()),
       down = tensorType(getDownProj());
  int64_t e = getNumExperts(), k = getTopK();
  if (e < 1 || k < 1 || k > e)
    return emitOpError() << "moe_c4: top_k must be in [1, num_experts = " << e
                         << "], got " << k;
  if (input.getRank() != 3)
    return emitOpError() << "moe_c1: input must be rank 3 [batch, seq, "
                            "hidden], got "
                         << input;
  auto w = tensorType(getWeights()), i = tensorType(getIndices());
  bool ok = w.getRank() == 3 && i.getRank() == 3 && agree(w.getDimSize(2), k) &&
            agree(i.getDimSize(2), k);
  if (!ok)
    return emitOpError() << "moe_c2: weights and indices must be [B, S, " << k
                         << "]";
  if (gate.getRank() != 3 || down.getRank() != 3 ||
      getUpProj().getType() != gate || !agree(gate.getDimSize(0), e) ||
      !agree(gate.getDimSize(2), input.getDimSize(2)) ||
      !agree(down.getDimSize(0), e) ||
      !agree(down.getDimSize(1), input.getDimSize(2)) ||
      !agree(down.getDimSize(2), gate.getDimSize(1)))
    return emitOpError() << "moe_c3: gate_proj, up_proj must be [E, F, D] "
                            "and down_proj [E, D, F]";
  return success();
}

LogicalResult RouterAuxLossBackwardOp::verify() {
  auto scores = tensorType(getScores()), indices = tensorType(getIndices());
  if (scores.getRank() != 3 || indices.getRank() != 3 ||
      !agree(scores.getDimSize(0), indices.getDimSize(0)) ||
      !agree(scores.getDimSize(1), indices.getDimSize(1)))
    return emitOpError() << "auxloss_c1: scores must be [B, S, E] and "
                            "indices [B, S, top_k], got "
                         << scores << " and " << indices;
  if (!(getCoef().convertToDouble() >= 0))
    return emitOpError() << "auxloss_c2: coef must be >= 0";
  return success();
}

//===----------------------------------------------------------------------===//
// Layer norm and the memory-compression module
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                    SmallVectorImpl<Value> &operandGrads) {
  auto backward = LayerNormBackwardOp::create(
      b, getLoc(), getInput(), getWeight(), resultGrads[0], getEpsAttr());
  operandGrads.append({backward.getInputGrad(), backward.getWeightGrad()});
  if (getBias())
    operandGrads.push_back(backward.getBiasGrad());
  return success();
}

LogicalResult LayerNormBackwardOp::verify() {
  return verifyNormBackward(*this);
}

namespace {
/// The gradients of `op`'s operands from its result's, by its rule.
LogicalResult vjpOf(OpBuilder &b, Operation *op, Value resultGrad,
                    SmallVectorImpl<Value> &operandGrads) {
  return cast<StrataGradientOpInterface>(op).buildVJP(b, resultGrad,
                                                      operandGrads);
}
} // namespace

LogicalResult
MemoryCompressionOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                              SmallVectorImpl<Value> &operandGrads) {
  // The module is layernorm(x + dec(act(enc(x)))): recompute it as strata
  // ops and run their rules in reverse.
  Location loc = getLoc();
  Value x = getInput();
  auto enc = LinearOp::create(b, loc, x, getEncWeight(), getEncBias());
  Operation *act = nullptr;
  switch (getActivation()) {
  case Activation::Gelu:
    act = GeluOp::create(
        b, loc, enc.getResult(),
        GeluApproximationAttr::get(getContext(), GeluApproximation::None));
    break;
  case Activation::Silu:
    act = SiluOp::create(b, loc, enc.getResult());
    break;
  case Activation::Relu:
    return emitOpError("with a relu activation has no gradient rule yet");
  }
  auto dec =
      LinearOp::create(b, loc, act->getResult(0), getDecWeight(), getDecBias());
  auto sum = AddOp::create(b, loc, x, dec.getResult());
  auto norm = LayerNormOp::create(b, loc, sum.getResult(), getNormWeight(),
                                  getNormBias(), getEpsAttr());
  SmallVector<Value> normGrads, sumGrads, decGrads, actGrads, encGrads;
  if (failed(vjpOf(b, norm, resultGrads[0], normGrads)) ||
      failed(vjpOf(b, sum, normGrads[0], sumGrads)) ||
      failed(vjpOf(b, dec, sumGrads[1], decGrads)) ||
      failed(vjpOf(b, act, decGrads[0], actGrads)) ||
      failed(vjpOf(b, enc, actGrads[0], encGrads)))
    return failure();
  // input, enc (weight, bias), dec (weight, bias), norm (weight, bias).
  Value dx = AddOp::create(b, loc, sumGrads[0], encGrads[0]);
  operandGrads.append({dx, encGrads[1], encGrads[2], decGrads[1], decGrads[2],
                       normGrads[1], normGrads[2]});
  return success();
}

LogicalResult SigmoidGateOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  auto backward = SigmoidGateBackwardOp::create(b, getLoc(), getValue(),
                                                getLogit(), resultGrads[0]);
  operandGrads.append({backward.getValueGrad(), backward.getLogitGrad()});
  return success();
}

LogicalResult SigmoidGateBackwardOp::verify() {
  auto value = tensorType(getValue()), logit = tensorType(getLogit());
  bool ok = value.getRank() >= 1 && logit.getRank() == value.getRank() &&
            agree(logit.getShape().back(), 1);
  for (int64_t i = 0; ok && i + 1 < value.getRank(); ++i)
    ok = agree(value.getDimSize(i), logit.getDimSize(i));
  if (!ok)
    return emitOpError() << "gate_bwd_c1: logit must be value's shape with a "
                            "last dim of 1, got "
                         << logit << " for " << value;
  return success();
}

//===----------------------------------------------------------------------===//
// Multi-head latent attention and the ops of its decomposition
//===----------------------------------------------------------------------===//

namespace {
/// slice_c1 and slice_c2 of channel_slice (full: the input, part: the
/// result) and of channel_slice_backward (full: input_grad, part:
/// result_grad).
LogicalResult verifyChannelSlice(function_ref<InFlightDiagnostic()> emit,
                                 RankedTensorType full, RankedTensorType part,
                                 int64_t offset, bool fullStatic) {
  bool ok = full.getRank() >= 1 && part.getRank() == full.getRank();
  for (int64_t i = 0; ok && i + 1 < full.getRank(); ++i)
    ok = agree(full.getDimSize(i), part.getDimSize(i));
  if (!ok)
    return emit() << "slice_c1: the slice must have the rank and leading "
                     "dims of the full tensor, got "
                  << part << " of " << full;
  int64_t width = full.getShape().back(), size = part.getShape().back();
  if (offset < 0 || ShapedType::isDynamic(size) || size < 1 ||
      (fullStatic && ShapedType::isDynamic(width)) ||
      (!ShapedType::isDynamic(width) && offset + size > width))
    return emit() << "slice_c2: channels [" << offset << ", " << offset << " + "
                  << size << ") must be a static, non-empty range "
                  << "inside the last dim of " << full;
  return success();
}

/// mla_kv_c1 and mla_kv_c2 of latent_kv_heads and its backward.
LogicalResult verifyLatentKVHeads(function_ref<InFlightDiagnostic()> emit,
                                  int64_t h, int64_t nope, int64_t vd,
                                  RankedTensorType kv, RankedTensorType rope,
                                  RankedTensorType k, RankedTensorType v) {
  if (h < 1 || nope < 1 || vd < 1)
    return emit() << "mla_kv_c1: num_heads, qk_nope_head_dim and v_head_dim "
                     "must be >= 1";
  bool ok = kv.getRank() == 3 && rope.getRank() == 3 && k.getRank() == 3 &&
            v.getRank() == 3 && !rope.isDynamicDim(2);
  for (int64_t d = 0; ok && d < 2; ++d)
    ok = agree(kv.getDimSize(d), rope.getDimSize(d)) &&
         agree(kv.getDimSize(d), k.getDimSize(d)) &&
         agree(kv.getDimSize(d), v.getDimSize(d));
  if (ok) {
    int64_t r = rope.getDimSize(2);
    ok = r >= 1 && agree(kv.getDimSize(2), h * (nope + vd)) &&
         agree(k.getDimSize(2), h * (nope + r)) &&
         agree(v.getDimSize(2), h * vd);
  }
  if (!ok)
    return emit() << "mla_kv_c2: kv, rope key, k and v must be [B, T, H * "
                     "(nope + v_head_dim)], [B, T, rope], [B, T, H * (nope "
                     "+ rope)] and [B, T, H * v_head_dim], got "
                  << kv << ", " << rope << ", " << k << " and " << v;
  return success();
}

double yarnMscale(double factor, double mscale) {
  return factor <= 1 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0;
}

/// Reverse mode over `ops` (built in order): seeds `grads` with the last
/// result's gradient and runs each op's rule, summing the gradients of
/// values used more than once. Ops none of whose results has a gradient
/// are skipped.
LogicalResult reverseThrough(OpBuilder &b, ArrayRef<Operation *> ops,
                             DenseMap<Value, Value> &grads) {
  for (Operation *op : llvm::reverse(ops)) {
    SmallVector<Value> resultGrads;
    for (Value r : op->getResults())
      resultGrads.push_back(grads.lookup(r));
    if (llvm::all_of(resultGrads, [](Value g) { return !g; }))
      continue;
    if (llvm::any_of(resultGrads, [](Value g) { return !g; }))
      return op->emitOpError("needs a gradient for every result here");
    SmallVector<Value> operandGrads;
    if (failed(cast<StrataGradientOpInterface>(op).buildVJP(b, resultGrads,
                                                            operandGrads)))
      return failure();
    for (auto [operand, g] : llvm::zip(op->getOperands(), operandGrads)) {
      if (!g)
        continue;
      Value &slot = grads[operand];
      slot = slot ? AddOp::create(b, op->getLoc(), slot, g).getResult() : g;
    }
  }
  return success();
}
} // namespace

LogicalResult ChannelSliceOp::verify() {
  return verifyChannelSlice([&] { return emitOpError(); },
                            tensorType(getInput()), tensorType(getResult()),
                            getOffset(), /*fullStatic=*/false);
}

LogicalResult ChannelSliceBackwardOp::verify() {
  return verifyChannelSlice([&] { return emitOpError(); },
                            tensorType(getInputGrad()),
                            tensorType(getResultGrad()), getOffset(),
                            /*fullStatic=*/true);
}

LogicalResult ChannelSliceOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                       SmallVectorImpl<Value> &operandGrads) {
  auto input = tensorType(getInput());
  if (input.isDynamicDim(input.getRank() - 1))
    return emitOpError("with a dynamic last dim has no gradient rule");
  // input_grad takes result_grad's leading dims (the same values).
  SmallVector<int64_t> shape(tensorType(resultGrads[0]).getShape());
  shape.back() = input.getShape().back();
  operandGrads.push_back(ChannelSliceBackwardOp::create(
      b, getLoc(), RankedTensorType::get(shape, input.getElementType()),
      resultGrads[0], getOffsetAttr()));
  return success();
}

LogicalResult LatentKVHeadsOp::verify() {
  return verifyLatentKVHeads([&] { return emitOpError(); }, getNumHeads(),
                             getQkNopeHeadDim(), getVHeadDim(),
                             tensorType(getKv()), tensorType(getRopeKey()),
                             tensorType(getK()), tensorType(getV()));
}

LogicalResult LatentKVHeadsBackwardOp::verify() {
  return verifyLatentKVHeads(
      [&] { return emitOpError(); }, getNumHeads(), getQkNopeHeadDim(),
      getVHeadDim(), tensorType(getKvGrad()), tensorType(getRopeKeyGrad()),
      tensorType(getKGrad()), tensorType(getVGrad()));
}

LogicalResult LatentKVHeadsOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  auto backward = LatentKVHeadsBackwardOp::create(
      b, getLoc(), getKv().getType(), getRopeKey().getType(), resultGrads[0],
      resultGrads[1], getNumHeadsAttr(), getQkNopeHeadDimAttr(),
      getVHeadDimAttr());
  operandGrads.append({backward.getKvGrad(), backward.getRopeKeyGrad()});
  return success();
}

double LatentAttentionOp::getAttentionScale() {
  if (auto given = getSoftmaxScale())
    return given->convertToDouble();
  int64_t qk = getQkNopeHeadDim() + getQkRopeHeadDim();
  double scale = 1.0 / std::sqrt(static_cast<double>(qk));
  RopeAttr rope = getRope();
  double mscaleAll = rope.getMscaleAllDim().convertToDouble();
  if (rope.getScaling() == RopeScaling::Yarn && mscaleAll != 0) {
    double m = yarnMscale(rope.getFactor().convertToDouble(), mscaleAll);
    scale *= m * m;
  }
  return scale;
}

Value LatentAttentionOp::decompose(OpBuilder &b,
                                   SmallVectorImpl<Operation *> *ops) {
  Location loc = getLoc();
  auto record = [&](Operation *op) {
    if (ops)
      ops->push_back(op);
    return op->getResult(0);
  };
  Value x = getInput(), positions = getPositions();
  int64_t h = getNumHeads(), kvRank = getKvLoraRank();
  int64_t nope = getQkNopeHeadDim(), rope = getQkRopeHeadDim();
  int64_t vd = getVHeadDim(), qk = nope + rope;
  FloatAttr eps = getEpsAttr();
  RopeAttr ropeAttr = getRope();
  bool interleaved = getInterleaved();

  Value q;
  if (Value qa = getQAProj()) {
    Value c = record(LinearOp::create(b, loc, x, qa, Value()));
    c = record(RMSNormOp::create(b, loc, c, getQANorm(), eps));
    q = record(LinearOp::create(b, loc, c, getQProj(), Value()));
  } else {
    q = record(LinearOp::create(b, loc, x, getQProj(), Value()));
  }
  q = record(RotaryOp::create(b, loc, q, positions, h, qk, rope, ropeAttr,
                              interleaved));
  // Keys and values come from the normalised latent and the rotated shared
  // rope key: the cache's (a decode step) or this input's.
  Value latent = getCachedLatent(), kpe = getCachedRopeKey();
  if (!latent) {
    Value kva = record(LinearOp::create(b, loc, x, getKvAProj(), Value()));
    auto kvaType = tensorType(kva);
    auto sliceType = [&](int64_t size) {
      return RankedTensorType::get(
          {kvaType.getDimSize(0), kvaType.getDimSize(1), size},
          kvaType.getElementType());
    };
    latent = record(ChannelSliceOp::create(b, loc, sliceType(kvRank), kva,
                                           b.getI64IntegerAttr(0)));
    kpe = record(ChannelSliceOp::create(b, loc, sliceType(rope), kva,
                                        b.getI64IntegerAttr(kvRank)));
    latent = record(RMSNormOp::create(b, loc, latent, getKvANorm(), eps));
    kpe = record(RotaryOp::create(b, loc, kpe, positions, 1, rope, rope,
                                  ropeAttr, interleaved));
  }
  Value kv = record(LinearOp::create(b, loc, latent, getKvBProj(), Value()));
  auto kvType = tensorType(kv);
  auto headsType = [&](int64_t last) {
    return RankedTensorType::get(
        {kvType.getDimSize(0), kvType.getDimSize(1), last},
        kvType.getElementType());
  };
  auto heads = LatentKVHeadsOp::create(
      b, loc, headsType(h * qk), headsType(h * vd), kv, kpe,
      b.getI64IntegerAttr(h), b.getI64IntegerAttr(nope),
      b.getI64IntegerAttr(vd));
  record(heads);
  Value attn = record(AttentionOp::create(
      b, loc, q, heads.getK(), heads.getV(), getKeyPadding(), /*step=*/Value(),
      h, h, qk, vd, getCausal(), IntegerAttr(), BlockSparseAttr(),
      b.getF64FloatAttr(getAttentionScale()), APFloat(0.0)));
  return record(LinearOp::create(b, loc, attn, getOProj(), Value()));
}

LogicalResult
LatentAttentionOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                            SmallVectorImpl<Value> &operandGrads) {
  if (getCachedLatent())
    return emitOpError("with a KV cache (a decode step) has no gradient rule");
  // Recompute the op as strata ops and run their rules in reverse.
  SmallVector<Operation *> ops;
  Value result = decompose(b, &ops);
  DenseMap<Value, Value> grads;
  grads[result] = resultGrads[0];
  if (failed(reverseThrough(b, ops, grads)))
    return failure();
  // Positions and key padding (integers) have none.
  for (Value operand : getOperands())
    operandGrads.push_back(isa<FloatType>(tensorType(operand).getElementType())
                               ? grads.lookup(operand)
                               : Value());
  return success();
}

//===----------------------------------------------------------------------===//
// Classification head
//===----------------------------------------------------------------------===//

LogicalResult
ClassificationHeadOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                               SmallVectorImpl<Value> &operandGrads) {
  // logits = pool(x) W^T + b: pooling is linear over the sequence, so the
  // head's gradient is linear_backward's over every position with the
  // logits' gradient spread back by the pooling's transpose.
  auto input = tensorType(getInput()), grad = tensorType(resultGrads[0]);
  auto spreadType = RankedTensorType::get(
      {input.getDimSize(0), input.getDimSize(1), grad.getDimSize(1)},
      grad.getElementType());
  Value spread = PoolingBackwardOp::create(b, getLoc(), spreadType, getInput(),
                                           resultGrads[0], getPoolingAttr());
  projectionVJP(b, *this, getInput(), getWeight(), getBias(), spread,
                operandGrads);
  return success();
}

LogicalResult PoolingBackwardOp::verify() {
  auto input = tensorType(getInput()), grad = tensorType(getResultGrad()),
       spread = tensorType(getSpread());
  if (input.getRank() != 3 || grad.getRank() != 2 || spread.getRank() != 3 ||
      !agree(grad.getDimSize(0), input.getDimSize(0)) ||
      !agree(spread.getDimSize(0), input.getDimSize(0)) ||
      !agree(spread.getDimSize(1), input.getDimSize(1)) ||
      !agree(spread.getDimSize(2), grad.getDimSize(1)))
    return emitOpError() << "pool_bwd_c1: input must be [B, S, D], "
                            "result_grad [B, C] and spread [B, S, C], got "
                         << input << ", " << grad << " and " << spread;
  return success();
}

LogicalResult EnterTensorParallelOp::buildVJP(
    OpBuilder &b, ValueRange resultGrads, SmallVectorImpl<Value> &operandGrads) {
  auto grid = SymbolTable::lookupNearestSymbolFrom<shard::GridOp>(
      getOperation(), getGridAttr());
  if (!grid || getAxis() < 0 || getAxis() >= grid.getRank())
    return emitOpError("enter_c2: axis ")
           << getAxis() << " is not an axis of grid " << getGridAttr();
  operandGrads.push_back(shard::AllReduceOp::create(
      b, getLoc(), resultGrads[0], getGrid(),
      ArrayRef<shard::GridAxis>{static_cast<shard::GridAxis>(getAxis())},
      shard::ReductionKind::Sum));
  return success();
}

// Expert parallelism: dispatch and combine are each other's adjoints (one
// sends rows out, the other the same rows back and sums them), and the
// route's weights come back the combine's way.

LogicalResult ExpertRouteOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                      SmallVectorImpl<Value> &operandGrads) {
  Value grad;
  if (resultGrads[0])
    grad = ExpertCombineOp::create(
        b, getLoc(), getWeights().getType(), resultGrads[0], getRowIndices(),
        getIndices(), getGridAttr(), getAxisAttr(), getNumExpertsAttr());
  operandGrads.append({grad, Value()});
  return success();
}

LogicalResult ExpertDispatchOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                         SmallVectorImpl<Value> &operandGrads) {
  Value grad = ExpertCombineOp::create(
      b, getLoc(), getInput().getType(), resultGrads[0], getRowIndices(),
      getIndices(), getGridAttr(), getAxisAttr(), getNumExpertsAttr());
  operandGrads.append({grad, Value(), Value()});
  return success();
}

LogicalResult ExpertCombineOp::buildVJP(OpBuilder &b, ValueRange resultGrads,
                                        SmallVectorImpl<Value> &operandGrads) {
  Value grad = ExpertDispatchOp::create(
      b, getLoc(), getRows().getType(), resultGrads[0], getRowIndices(),
      getIndices(), getGridAttr(), getAxisAttr(), getNumExpertsAttr());
  operandGrads.append({grad, Value(), Value()});
  return success();
}

//===- StrataOpsCost.cpp - StrataCostOpInterface implementations -*- C++ -*-===//
//
// Forward FLOPs per token for each op (a multiply-add counts 2) and the
// active-parameter rule of routed experts. docs/spec.md states the
// conventions; the published-parameter tests in test/frontend check them.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::strata;

#include "dialect/StrataInterfaces.cpp.inc"

// The operand is a parameter (the caller checked): a strata.param, or the
// argument of a layer body that its call sites bind to one.
int64_t mlir::strata::detail::getParamElements(Value value) {
  auto type = value ? dyn_cast<RankedTensorType>(value.getType())
                    : RankedTensorType();
  if (!type || !type.hasStaticShape())
    return 0;
  return type.getNumElements();
}

/// Elements per token of a [..., D] value: its last dim (0 when dynamic).
static int64_t perToken(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  if (!t.getRank() || t.isDynamicDim(t.getRank() - 1))
    return 0;
  return t.getShape().back();
}

/// Elements of a statically shaped value (0 when any dim is dynamic).
static int64_t numElements(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  return t.hasStaticShape() ? t.getNumElements() : 0;
}

//===----------------------------------------------------------------------===//
// Attended keys
//===----------------------------------------------------------------------===//

/// Mean over query positions 0..L-1 of min(position + 1, window).
static double causalWindowKeys(int64_t length, int64_t window) {
  if (length <= 0)
    return 0;
  double sum = 0;
  int64_t ramp = std::min(length, window);
  sum += static_cast<double>(ramp) * (ramp + 1) / 2;   // positions < window
  sum += static_cast<double>(length - ramp) * window;  // the rest
  return sum / length;
}

/// Mean keys per query under the block-sparse layout (causal).
static double blockSparseKeys(int64_t length, BlockSparseAttr layout,
                              bool causal) {
  int64_t bs = layout.getBlockSize();
  int64_t blocks = (length + bs - 1) / bs;
  double sum = 0;
  for (int64_t i = 0; i < blocks; ++i) {
    int64_t visible = causal ? i + 1 : blocks;
    int64_t local = std::min<int64_t>(layout.getNumLocalBlocks(), i + 1);
    int64_t localStart = i - local + 1;
    int64_t global = std::min<int64_t>(layout.getNumGlobalBlocks(), visible);
    int64_t globalOutsideLocal = std::min(global, localStart);
    int64_t chosen = local + globalOutsideLocal;
    if (!causal)
      chosen = std::min(blocks, chosen);
    int64_t random =
        std::min<int64_t>(layout.getNumRandomBlocks(), visible - chosen);
    chosen += std::max<int64_t>(random, 0);
    // The diagonal block is half visible under a causal mask.
    double keys = static_cast<double>(chosen) * bs;
    if (causal)
      keys -= static_cast<double>(bs - 1) / 2;
    sum += keys * std::min(bs, length - i * bs);
  }
  return std::min<double>(sum / length, static_cast<double>(length));
}

/// Mean over queries q of the keys k in [q - window + 1, length) (the
/// one-sided window of a non-causal mask).
static double nonCausalWindowKeys(int64_t length, int64_t window) {
  if (length <= 0)
    return 0;
  double total = static_cast<double>(length) * length;
  if (length > window) {
    double cut = static_cast<double>(length - window);
    total -= cut * (cut + 1) / 2; // keys before each late query's window
  }
  return total / length;
}

double AttentionOp::getAttendedKeys(int64_t contextLength) {
  if (contextLength <= 0)
    return 0;
  if (auto layout = getSparsityAttr())
    return blockSparseKeys(contextLength, layout, getCausal());
  int64_t window = getWindow().value_or(contextLength);
  if (getCausal())
    return causalWindowKeys(contextLength, window);
  return nonCausalWindowKeys(contextLength, window);
}

//===----------------------------------------------------------------------===//
// FLOPs per token
//===----------------------------------------------------------------------===//

int64_t EmbeddingOp::getFlopsPerToken(int64_t) { return 0; }
int64_t RMSNormOp::getFlopsPerToken(int64_t) { return 4 * perToken(getInput()); }
int64_t LayerNormOp::getFlopsPerToken(int64_t) {
  return 8 * perToken(getInput());
}
int64_t LinearOp::getFlopsPerToken(int64_t) {
  auto w = cast<RankedTensorType>(getWeight().getType());
  if (!w.hasStaticShape())
    return 0;
  int64_t flops = 2 * w.getDimSize(0) * w.getDimSize(1);
  return getBias() ? flops + w.getDimSize(0) : flops;
}
int64_t QuantizedLinearOp::getFlopsPerToken(int64_t) {
  auto w = cast<RankedTensorType>(getWeight().getType());
  int64_t flops = 2 * w.getDimSize(0) * w.getDimSize(1);
  return getBias() ? flops + w.getDimSize(0) : flops;
}
// Pointwise costs follow the usual convention of one FLOP per arithmetic op:
// erf-GELU ~8, SiLU ~4 (exp, add, div, mul).
int64_t GeluOp::getFlopsPerToken(int64_t) { return 8 * perToken(getInput()); }
int64_t SiluOp::getFlopsPerToken(int64_t) { return 4 * perToken(getInput()); }
int64_t SwiGLUOp::getFlopsPerToken(int64_t) { return 5 * perToken(getGate()); }
int64_t AddOp::getFlopsPerToken(int64_t) { return perToken(getLhs()); }
int64_t DropoutOp::getFlopsPerToken(int64_t) { return 0; }
int64_t RoundOp::getFlopsPerToken(int64_t) { return 0; }
int64_t RotaryOp::getFlopsPerToken(int64_t) {
  return 3 * getNumHeadsAttr().getInt() * getRotaryDimAttr().getInt();
}

int64_t AttentionOp::getFlopsPerToken(int64_t contextLength) {
  double keys = getAttendedKeys(contextLength);
  int64_t h = getNumHeadsAttr().getInt();
  int64_t d = getHeadDimAttr().getInt() + getVHeadDimAttr().getInt();
  return static_cast<int64_t>(2.0 * h * d * keys);
}

int64_t LatentAttentionOp::getFlopsPerToken(int64_t contextLength) {
  int64_t flops = 0;
  for (Value w : {getQAProj(), getQProj(), getKvAProj(), getKvBProj(),
                  getOProj()})
    if (w)
      flops += 2 * numElements(w);
  int64_t h = getNumHeadsAttr().getInt();
  int64_t d = getQkNopeHeadDimAttr().getInt() +
              getQkRopeHeadDimAttr().getInt() + getVHeadDimAttr().getInt();
  double keys = causalWindowKeys(contextLength, contextLength);
  if (!getCausal())
    keys = static_cast<double>(contextLength);
  flops += static_cast<int64_t>(2.0 * h * d * keys);
  // Two RMSNorms over the latents and the rotary parts of q and k.
  flops += 4 * (getQLoraRankAttr().getInt() + getKvLoraRankAttr().getInt());
  flops += 3 * (h + 1) * getQkRopeHeadDimAttr().getInt();
  return flops;
}

int64_t RouterOp::getFlopsPerToken(int64_t) {
  return 4 * getNumExpertsAttr().getInt();
}

int64_t ExpertCapacityOp::getFlopsPerToken(int64_t) {
  return cast<RankedTensorType>(getWeights().getType()).getDimSize(2);
}

int64_t ExpertLoadOp::getFlopsPerToken(int64_t) {
  int64_t k = cast<RankedTensorType>(getIndices().getType()).getDimSize(2);
  return ShapedType::isDynamic(k) ? 0 : k;
}

/// Routed experts, float or int8: gate, up and down GEMMs, SwiGLU, and the
/// weighted sum of the top_k experts' outputs, per token.
static int64_t expertFlopsPerToken(Value gateProj, int64_t topK) {
  auto gate = cast<RankedTensorType>(gateProj.getType());
  if (!gate.hasStaticShape())
    return 0;
  int64_t d = gate.getDimSize(2), f = gate.getDimSize(1);
  return topK * (6 * d * f + 5 * f + 2 * d);
}

/// One token reads top_k of num_experts experts' stacked weights (and
/// their scales): `perExpert` says whether `operand` is one of those.
static int64_t activeExpertElements(Value operand, bool perExpert,
                                    int64_t numExperts, int64_t topK) {
  int64_t all = mlir::strata::detail::getParamElements(operand);
  return perExpert ? all / numExperts * topK : all;
}

int64_t MoEExpertsOp::getFlopsPerToken(int64_t) {
  return expertFlopsPerToken(getGateProj(), getTopKAttr().getInt());
}

int64_t MoEExpertsOp::getActiveParamElements(unsigned operandIndex) {
  Value operand = getOperand(operandIndex);
  return activeExpertElements(
      operand,
      operand == getGateProj() || operand == getUpProj() ||
          operand == getDownProj(),
      getNumExpertsAttr().getInt(), getTopKAttr().getInt());
}

int64_t QuantizedMoEExpertsOp::getFlopsPerToken(int64_t) {
  return expertFlopsPerToken(getGateProj(), getTopKAttr().getInt());
}

// Calibration's view of the experts: gate and up of each token's experts.
int64_t QuantizedMoEExpertInputsOp::getFlopsPerToken(int64_t) {
  auto w = cast<RankedTensorType>(getGateProj().getType());
  return 2 * 2 * getTopK() * w.getDimSize(1) * w.getDimSize(2);
}

int64_t QuantizedMoEExpertsOp::getActiveParamElements(unsigned operandIndex) {
  Value operand = getOperand(operandIndex);
  return activeExpertElements(
      operand,
      operand != getInput() && operand != getWeights() &&
          operand != getIndices(),
      getNumExpertsAttr().getInt(), getTopKAttr().getInt());
}

int64_t SigmoidGateOp::getFlopsPerToken(int64_t) {
  return perToken(getValue()) + 4; // one multiply per element, one sigmoid
}

int64_t RouterAuxLossOp::getFlopsPerToken(int64_t) {
  return 2 * perToken(getScores());
}

int64_t MemoryCompressionOp::getFlopsPerToken(int64_t) {
  int64_t d = perToken(getInput());
  int64_t r = numElements(getEncBias());
  int64_t act = getActivation() == Activation::Gelu   ? 8
                : getActivation() == Activation::Silu ? 4
                                                      : 1;
  return 4 * d * r + r + d /*biases*/ + act * r + d /*residual*/ +
         8 * d /*layernorm*/;
}

int64_t LMHeadOp::getFlopsPerToken(int64_t) {
  return 2 * numElements(getWeight());
}

int64_t ClassificationHeadOp::getFlopsPerToken(int64_t) {
  // Pooling reads every token; the projection runs once per sequence but is
  // counted per token, an upper bound that keeps the per-token sum simple.
  return perToken(getInput()) + 2 * numElements(getWeight());
}

int64_t CrossEntropyOp::getFlopsPerToken(int64_t) {
  return 4 * perToken(getLogits());
}

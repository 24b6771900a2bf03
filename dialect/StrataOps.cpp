//===- StrataOps.cpp - Strata op verifiers and type inference ---*- C++ -*-===//
//
// Shape rules live in inferReturnTypes, which MLIR runs both when parsing the
// custom form and when verifying any op, so every shape error is reported
// once with the same text. verify() checks what the result type does not
// depend on. Messages start with the constraint id of docs/spec.md.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <string>

using namespace mlir;
using namespace mlir::strata;

namespace {

/// Starts an error for op `OpT` during type inference, where no Operation
/// exists yet.
template <typename OpT>
InFlightDiagnostic inferError(MLIRContext *ctx, std::optional<Location> loc) {
  return mlir::emitError(loc ? *loc : UnknownLoc::get(ctx))
         << "'" << OpT::getOperationName() << "' op ";
}

std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

/// Two dims agree when either is dynamic or they are equal.
bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

RankedTensorType tensorOf(Value v) {
  return v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
}

int64_t lastDim(RankedTensorType t) {
  return t.getRank() ? t.getShape().back() : ShapedType::kDynamic;
}

/// Reads an integer attribute during type inference. When the custom parser
/// infers types, inherent attributes are still in the attribute dictionary,
/// not yet in the op's properties, so both are consulted.
std::optional<int64_t> intAttr(IntegerAttr fromProperties, DictionaryAttr attrs,
                               StringRef name) {
  IntegerAttr attr = fromProperties;
  if (!attr && attrs)
    attr = attrs.getAs<IntegerAttr>(name);
  if (!attr)
    return std::nullopt;
  return attr.getInt();
}

/// Checks that `t` has exactly `expected` dims (dynamic entries match any).
LogicalResult checkShape(function_ref<InFlightDiagnostic()> emit,
                         StringRef what, RankedTensorType t,
                         ArrayRef<int64_t> expected, StringRef id) {
  bool ok = t.getRank() == static_cast<int64_t>(expected.size());
  for (size_t i = 0; ok && i < expected.size(); ++i)
    ok = compatible(t.getDimSize(i), expected[i]);
  if (ok)
    return success();
  auto diag = emit();
  diag << id << ": " << what << " must have shape [";
  llvm::interleave(
      expected, diag, [&](int64_t d) { diag << dimStr(d); }, ", ");
  diag << "], got " << t;
  return failure();
}

} // namespace

//===----------------------------------------------------------------------===//
// Shared shape rules
//===----------------------------------------------------------------------===//

/// Ops whose result has the type of their first operand.
#define STRATA_SAME_TYPE_AS_FIRST_OPERAND(OP)                                  \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location>,   \
                                     OP::Adaptor adaptor,                      \
                                     SmallVectorImpl<Type> &inferred) {        \
    inferred.push_back(adaptor.getOperands()[0].getType());                    \
    return success();                                                          \
  }

STRATA_SAME_TYPE_AS_FIRST_OPERAND(GeluOp)
STRATA_SAME_TYPE_AS_FIRST_OPERAND(SiluOp)
STRATA_SAME_TYPE_AS_FIRST_OPERAND(DropoutOp)
STRATA_SAME_TYPE_AS_FIRST_OPERAND(RoundOp)
STRATA_SAME_TYPE_AS_FIRST_OPERAND(SwiGLUOp)
STRATA_SAME_TYPE_AS_FIRST_OPERAND(AddOp)
STRATA_SAME_TYPE_AS_FIRST_OPERAND(MoEExpertsOp)
STRATA_SAME_TYPE_AS_FIRST_OPERAND(QuantizedMoEExpertsOp)
STRATA_SAME_TYPE_AS_FIRST_OPERAND(MemoryCompressionOp)
STRATA_SAME_TYPE_AS_FIRST_OPERAND(LatentAttentionOp)
#undef STRATA_SAME_TYPE_AS_FIRST_OPERAND

/// Norm weights (and biases) are vectors over the input's last dim.
static LogicalResult inferNorm(function_ref<InFlightDiagnostic()> emit,
                               Value input, Value weight, Value bias,
                               SmallVectorImpl<Type> &inferred) {
  auto in = tensorOf(input);
  int64_t d = lastDim(in);
  if (failed(checkShape(emit, "weight", tensorOf(weight), {d}, "norm_c1")))
    return failure();
  if (bias && failed(checkShape(emit, "bias", tensorOf(bias), {d}, "norm_c1")))
    return failure();
  inferred.push_back(in);
  return success();
}

static LogicalResult verifyEps(Operation *op, double eps) {
  if (eps > 0)
    return success();
  return op->emitOpError() << "norm_c2: eps must be > 0, got " << eps;
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  if (!getType().hasStaticShape())
    return emitOpError() << "param_c1: parameter '" << getName()
                         << "' must have a static shape, got " << getType();
  if (getName().empty())
    return emitOpError() << "param_c2: name must be non-empty";
  if (!(getStd().convertToDouble() >= 0))
    return emitOpError() << "param_c3: std must be >= 0, got "
                         << getStd().convertToDouble();
  bool int8 = getType().getElementType().isInteger(8);
  if (int8 != getScale().has_value())
    return emitOpError() << "param_c4: "
                         << (int8 ? "an int8 parameter needs the `scale` "
                                    "parameter that dequantizes it"
                                  : "only an int8 parameter has a `scale`");
  if (int8 && getScale()->empty())
    return emitOpError() << "param_c4: `scale` must name a parameter";
  if (getInputScale().has_value() != getInputZeroPoint().has_value() ||
      (getInputScale() && (!int8 || getInputScale()->empty() ||
                           getInputZeroPoint()->empty())))
    return emitOpError() << "param_c5: `input_scale` and "
                            "`input_zero_point` name parameters together, "
                            "on an int8 parameter";
  if (getRowSums() && (!int8 || getRowSums()->empty()))
    return emitOpError() << "param_c6: `row_sums` names a parameter, on an "
                            "int8 parameter";
  return success();
}

//===----------------------------------------------------------------------===//
// Core ops
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto emit = [&] { return inferError<EmbeddingOp>(ctx, loc); };
  auto tokens = tensorOf(adaptor.getTokens());
  auto table = tensorOf(adaptor.getTable());
  if (table.getRank() != 2)
    return emit() << "embedding_c1: table must be rank 2 [vocab, hidden], got "
                  << table;
  if (tokens.getRank() != 2)
    return emit() << "embedding_c2: tokens must be rank 2 [batch, seq], got "
                  << tokens;
  inferred.push_back(RankedTensorType::get(
      {tokens.getDimSize(0), tokens.getDimSize(1), table.getDimSize(1)},
      table.getElementType()));
  return success();
}

LogicalResult RMSNormOp::inferReturnTypes(MLIRContext *ctx,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &inferred) {
  return inferNorm([&] { return inferError<RMSNormOp>(ctx, loc); },
                   adaptor.getInput(), adaptor.getWeight(), Value(), inferred);
}
LogicalResult RMSNormOp::verify() {
  return verifyEps(*this, getEps().convertToDouble());
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  return inferNorm([&] { return inferError<LayerNormOp>(ctx, loc); },
                   adaptor.getInput(), adaptor.getWeight(), adaptor.getBias(),
                   inferred);
}
LogicalResult LayerNormOp::verify() {
  return verifyEps(*this, getEps().convertToDouble());
}

/// Constraint ids of a projection's three shape rules.
struct ProjectionIds {
  StringRef weightRank, inFeatures, bias;
};

/// x: [..., in], w: [out, in], b: [out] -> [..., out].
static LogicalResult inferProjection(function_ref<InFlightDiagnostic()> emit,
                                     Value input, Value weight, Value bias,
                                     ProjectionIds ids,
                                     SmallVectorImpl<Type> &inferred) {
  auto in = tensorOf(input);
  auto w = tensorOf(weight);
  if (w.getRank() != 2)
    return emit() << ids.weightRank << ": weight must be rank 2 [out, in], got "
                  << w;
  if (in.getRank() < 1 || !compatible(lastDim(in), w.getDimSize(1)))
    return emit() << ids.inFeatures << ": the last dim of input ("
                  << dimStr(lastDim(in))
                  << ") must equal the weight's in_features ("
                  << dimStr(w.getDimSize(1)) << ")";
  if (bias && failed(checkShape(emit, "bias", tensorOf(bias), {w.getDimSize(0)},
                                ids.bias)))
    return failure();
  SmallVector<int64_t> shape(in.getShape().drop_back());
  shape.push_back(w.getDimSize(0));
  inferred.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

LogicalResult LinearOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  return inferProjection([&] { return inferError<LinearOp>(ctx, loc); },
                         adaptor.getInput(), adaptor.getWeight(),
                         adaptor.getBias(),
                         {"linear_c1", "linear_c2", "linear_c3"}, inferred);
}

LogicalResult QuantizedLinearOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  auto emit = [&] { return inferError<QuantizedLinearOp>(ctx, loc); };
  if (failed(inferProjection(emit, adaptor.getInput(), adaptor.getWeight(),
                             adaptor.getBias(),
                             {"quantized_linear_c1", "quantized_linear_c2",
                              "quantized_linear_c3"},
                             inferred)))
    return failure();
  auto w = tensorOf(adaptor.getWeight());
  return checkShape(emit, "weight_scale", tensorOf(adaptor.getWeightScale()),
                    {w.getDimSize(0)}, "quantized_linear_c3");
}

/// The static scheme's own operands — the calibrated activation parameters
/// (quantized_linear_c4, quantized_moe_c2) and the weights' row sums
/// (quantized_linear_c5, quantized_moe_c3): `values` (`names`) are all
/// given, shaped `shape`, exactly under the static w8a8 scheme.
static LogicalResult
verifyActivationParams(function_ref<InFlightDiagnostic()> emit,
                       QuantScheme scheme, ArrayRef<Value> values,
                       ArrayRef<StringRef> names, ArrayRef<int64_t> shape,
                       StringRef constraint) {
  bool stat = scheme == QuantScheme::W8A8;
  for (auto [v, name] : llvm::zip(values, names)) {
    if (bool(v) != stat)
      return emit() << constraint << ": " << name << " is "
                    << (stat ? "required by" : "only for")
                    << " the static w8a8 scheme";
    if (v && failed(checkShape(emit, name, tensorOf(v), shape, constraint)))
      return failure();
  }
  return success();
}

LogicalResult QuantizedLinearOp::verify() {
  auto emit = [&] { return emitOpError(); };
  auto weight = tensorOf(getWeight());
  int64_t out = weight.getRank() ? weight.getDimSize(0) : ShapedType::kDynamic;
  if (failed(verifyActivationParams(
          emit, getScheme(), {getInputScale(), getInputZeroPoint()},
          {"input_scale", "input_zero_point"}, {1}, "quantized_linear_c4")))
    return failure();
  return verifyActivationParams(emit, getScheme(), {getWeightRowSums()},
                                {"weight_row_sums"}, {out},
                                "quantized_linear_c5");
}

LogicalResult DropoutOp::verify() {
  double p = getP().convertToDouble();
  if (!(p >= 0 && p < 1))
    return emitOpError() << "dropout_c1: p must be in [0, 1), got " << p;
  return success();
}

LogicalResult RoundOp::verify() {
  auto type = cast<RankedTensorType>(getInput().getType());
  if (!type.getElementType().isF32())
    return emitOpError() << "round_c1: the input must be f32, got " << type;
  if (!isa<BFloat16Type, Float16Type>(getTo()))
    return emitOpError() << "round_c2: rounds to bf16 or f16, not "
                         << getTo();
  return success();
}

LogicalResult RotaryOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto emit = [&] { return inferError<RotaryOp>(ctx, loc); };
  auto heads =
      intAttr(adaptor.getNumHeadsAttr(), adaptor.getAttributes(), "num_heads");
  auto headDim =
      intAttr(adaptor.getHeadDimAttr(), adaptor.getAttributes(), "head_dim");
  auto rotaryDim = intAttr(adaptor.getRotaryDimAttr(), adaptor.getAttributes(),
                           "rotary_dim");
  if (!heads || !headDim || !rotaryDim)
    return emit() << "requires num_heads, head_dim and rotary_dim";
  if (*heads < 1 || *headDim < 1)
    return emit() << "rotary_c1: num_heads and head_dim must be >= 1, got "
                  << *heads << " and " << *headDim;
  if (*rotaryDim < 2 || *rotaryDim % 2 || *rotaryDim > *headDim)
    return emit() << "rotary_c2: rotary_dim must be even and in [2, head_dim = "
                  << *headDim << "], got " << *rotaryDim;
  auto in = tensorOf(adaptor.getInput());
  if (failed(checkShape(
          emit, "input", in,
          {ShapedType::kDynamic, ShapedType::kDynamic, *heads * *headDim},
          "rotary_c3")))
    return failure();
  if (Value pos = adaptor.getPositions())
    if (failed(checkShape(emit, "positions", tensorOf(pos),
                          {in.getDimSize(0), in.getDimSize(1)}, "rotary_c3")))
      return failure();
  inferred.push_back(in);
  return success();
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// attention_c1-c3 and c7: heads and dims, and q, k, v [batch, seq,
/// heads * dim] (shared with attention_backward).
LogicalResult mlir::strata::detail::verifyAttentionShapes(
    function_ref<InFlightDiagnostic()> emit, int64_t h, int64_t kvh,
    int64_t dqk, int64_t dv, RankedTensorType q, RankedTensorType k,
    RankedTensorType v) {
  if (h < 1 || kvh < 1 || dqk < 1 || dv < 1)
    return emit() << "attention_c1: num_heads (" << h << "), num_kv_heads ("
                  << kvh << "), head_dim (" << dqk << ") and v_head_dim ("
                  << dv << ") must be >= 1";
  if (h % kvh)
    return emit() << "attention_c2: num_kv_heads (" << kvh
                  << ") must divide num_heads (" << h << ")";
  if (q.getRank() != 3 || k.getRank() != 3 || v.getRank() != 3)
    return emit() << "attention_c7: q, k and v must be rank 3 [batch, seq, "
                     "heads * dim]";
  int64_t qb = q.getDimSize(0), kb = k.getDimSize(0), vb = v.getDimSize(0);
  if (!compatible(qb, kb) || !compatible(qb, vb) || !compatible(kb, vb))
    return emit() << "attention_c7: q, k and v must have the same batch, got "
                  << dimStr(qb) << ", " << dimStr(kb) << " and " << dimStr(vb);
  if (!compatible(k.getDimSize(1), v.getDimSize(1)))
    return emit() << "attention_c7: k and v must have the same length, got "
                  << dimStr(k.getDimSize(1)) << " and "
                  << dimStr(v.getDimSize(1));
  int64_t dyn = ShapedType::kDynamic;
  if (failed(checkShape(emit, "q", q, {dyn, dyn, h * dqk}, "attention_c3")) ||
      failed(
          checkShape(emit, "k", k, {dyn, dyn, kvh * dqk}, "attention_c3")) ||
      failed(checkShape(emit, "v", v, {dyn, dyn, kvh * dv}, "attention_c3")))
    return failure();
  return success();
}

/// attention_c4-c6, c9, c10: the mask's attributes and key padding.
template <typename OpT>
static LogicalResult verifyAttentionMask(OpT op) {
  if (std::optional<int64_t> window = op.getWindow()) {
    if (*window < 1)
      return op.emitOpError() << "attention_c4: window must be >= 1, got "
                              << *window;
    if (op.getSparsity())
      return op.emitOpError() << "attention_c5: window and sparsity are "
                                 "mutually exclusive";
  }
  if (auto scale = op.getScale(); scale && !(scale->convertToDouble() > 0))
    return op.emitOpError() << "attention_c6: scale must be > 0, got "
                            << scale->convertToDouble();
  // With fewer keys than queries, the first queries of a causal mask would
  // see no key at all (queries align to the end of the keys).
  auto qLen = cast<RankedTensorType>(op.getQ().getType()).getDimSize(1);
  auto kLen = cast<RankedTensorType>(op.getK().getType()).getDimSize(1);
  if (op.getCausal() && !ShapedType::isDynamic(qLen) &&
      !ShapedType::isDynamic(kLen) && kLen < qLen)
    return op.emitOpError()
           << "attention_c9: a causal mask needs at least as many keys as "
              "queries, got "
           << kLen << " keys for " << qLen << " queries";
  if (Value padding = op.getKeyPadding()) {
    auto emit = [&] { return op.emitOpError(); };
    int64_t batch = cast<RankedTensorType>(op.getQ().getType()).getDimSize(0);
    if (failed(checkShape(emit, "key_padding", tensorOf(padding), {batch},
                          "attention_c10")))
      return failure();
  }
  return success();
}

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *ctx,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto emit = [&] { return inferError<AttentionOp>(ctx, loc); };
  auto h =
      intAttr(adaptor.getNumHeadsAttr(), adaptor.getAttributes(), "num_heads");
  auto kvh = intAttr(adaptor.getNumKvHeadsAttr(), adaptor.getAttributes(),
                     "num_kv_heads");
  auto dqk =
      intAttr(adaptor.getHeadDimAttr(), adaptor.getAttributes(), "head_dim");
  auto dv =
      intAttr(adaptor.getVHeadDimAttr(), adaptor.getAttributes(), "v_head_dim");
  if (!h || !kvh || !dqk || !dv)
    return emit() << "requires num_heads, num_kv_heads, head_dim and "
                     "v_head_dim";
  auto q = tensorOf(adaptor.getQ());
  auto k = tensorOf(adaptor.getK());
  auto v = tensorOf(adaptor.getV());
  if (failed(detail::verifyAttentionShapes(emit, *h, *kvh, *dqk, *dv, q, k, v)))
    return failure();
  int64_t qb = q.getDimSize(0), kb = k.getDimSize(0), vb = v.getDimSize(0);
  int64_t b =
      ShapedType::isDynamic(qb) ? (ShapedType::isDynamic(kb) ? vb : kb) : qb;
  inferred.push_back(RankedTensorType::get({b, q.getDimSize(1), *h * *dv},
                                           q.getElementType()));
  return success();
}

LogicalResult AttentionOp::verify() {
  double dropout = getDropout().convertToDouble();
  if (!(dropout >= 0 && dropout < 1))
    return emitOpError() << "attention_c8: dropout must be in [0, 1), got "
                         << dropout;
  return verifyAttentionMask(*this);
}

LogicalResult AttentionBackwardOp::verify() {
  auto emit = [&] { return emitOpError(); };
  auto q = tensorOf(getQ());
  if (failed(detail::verifyAttentionShapes(
          emit, getNumHeads(), getNumKvHeads(), getHeadDim(), getVHeadDim(),
          q, tensorOf(getK()), tensorOf(getV()))) ||
      failed(checkShape(emit, "result_grad", tensorOf(getResultGrad()),
                        {q.getDimSize(0), q.getDimSize(1),
                         getNumHeads() * getVHeadDim()},
                        "attention_bwd_c1")))
    return failure();
  return verifyAttentionMask(*this);
}

double AttentionBackwardOp::getSoftmaxScale() {
  if (auto scale = getScale())
    return scale->convertToDouble();
  return 1.0 / std::sqrt(static_cast<double>(getHeadDim()));
}

double AttentionOp::getSoftmaxScale() {
  if (auto scale = getScale())
    return scale->convertToDouble();
  return 1.0 / std::sqrt(static_cast<double>(getHeadDimAttr().getInt()));
}

LogicalResult LatentAttentionOp::verify() {
  int64_t h = getNumHeadsAttr().getInt();
  int64_t qRank = getQLoraRankAttr().getInt();
  int64_t kvRank = getKvLoraRankAttr().getInt();
  int64_t nope = getQkNopeHeadDimAttr().getInt();
  int64_t rope = getQkRopeHeadDimAttr().getInt();
  int64_t vDim = getVHeadDimAttr().getInt();
  if (h < 1 || kvRank < 1 || nope < 1 || rope < 1 || vDim < 1 || rope % 2)
    return emitOpError() << "mla_c1: num_heads, kv_lora_rank, "
                            "qk_nope_head_dim, qk_rope_head_dim and v_head_dim "
                            "must be >= 1 and qk_rope_head_dim even";
  if (qRank < 0)
    return emitOpError() << "mla_c2: q_lora_rank must be >= 0, got " << qRank;
  bool hasQa = static_cast<bool>(getQAProj());
  if (hasQa != static_cast<bool>(getQANorm()) || hasQa != (qRank > 0))
    return emitOpError() << "mla_c2: q_a_proj and q_a_norm must be given "
                            "together, exactly when q_lora_rank > 0";
  auto in = tensorOf(getInput());
  if (in.getRank() != 3)
    return emitOpError() << "mla_c4: input must be rank 3, got " << in;
  int64_t d = lastDim(in);
  auto emit = [&] { return emitOpError(); };
  if (Value pos = getPositions())
    if (failed(checkShape(emit, "positions", tensorOf(pos),
                          {in.getDimSize(0), in.getDimSize(1)}, "mla_c4")))
      return failure();
  int64_t qIn = d;
  if (hasQa) {
    if (failed(checkShape(emit, "q_a_proj", tensorOf(getQAProj()), {qRank, d},
                          "mla_c3")) ||
        failed(checkShape(emit, "q_a_norm", tensorOf(getQANorm()), {qRank},
                          "mla_c3")))
      return failure();
    qIn = qRank;
  }
  if (failed(checkShape(emit, "q_proj", tensorOf(getQProj()),
                        {h * (nope + rope), qIn}, "mla_c3")) ||
      failed(checkShape(emit, "kv_a_proj", tensorOf(getKvAProj()),
                        {kvRank + rope, d}, "mla_c3")) ||
      failed(checkShape(emit, "kv_a_norm", tensorOf(getKvANorm()), {kvRank},
                        "mla_c3")) ||
      failed(checkShape(emit, "kv_b_proj", tensorOf(getKvBProj()),
                        {h * (nope + vDim), kvRank}, "mla_c3")) ||
      failed(checkShape(emit, "o_proj", tensorOf(getOProj()), {d, h * vDim},
                        "mla_c3")))
    return failure();
  if (static_cast<bool>(getCachedLatent()) !=
      static_cast<bool>(getCachedRopeKey()))
    return emitOpError() << "mla_c6: the cache needs both the latent and "
                            "the rope key";
  if (Value latent = getCachedLatent()) {
    auto lt = tensorOf(latent), rt = tensorOf(getCachedRopeKey());
    if (lt.getRank() != 3 || rt.getRank() != 3)
      return emitOpError() << "mla_c6: the cache's latent and rope key must "
                              "be rank 3, got "
                           << lt << " and " << rt;
    int64_t t = lt.getDimSize(1);
    if (failed(checkShape(emit, "cached latent", lt,
                          {in.getDimSize(0), t, kvRank}, "mla_c6")) ||
        failed(checkShape(emit, "cached rope key", rt,
                          {in.getDimSize(0), t, rope}, "mla_c6")))
      return failure();
    int64_t s = in.getDimSize(1);
    if (!ShapedType::isDynamic(t) && !ShapedType::isDynamic(s) && t < s)
      return emitOpError() << "mla_c6: the cache holds " << t
                           << " positions, fewer than the " << s
                           << " new ones it must include";
  }
  if (Value padding = getKeyPadding())
    if (failed(checkShape(emit, "key_padding", tensorOf(padding),
                          {in.getDimSize(0)}, "mla_c7")))
      return failure();
  if (auto scale = getSoftmaxScale(); scale && !(scale->convertToDouble() > 0))
    return emitOpError() << "mla_c5: softmax_scale must be > 0, got "
                         << scale->convertToDouble();
  if (!(getEps().convertToDouble() > 0))
    return emitOpError() << "mla_c5: eps must be > 0, got "
                         << getEps().convertToDouble();
  return success();
}

//===----------------------------------------------------------------------===//
// Mixture of experts
//===----------------------------------------------------------------------===//

LogicalResult RouterOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto emit = [&] { return inferError<RouterOp>(ctx, loc); };
  auto e = intAttr(adaptor.getNumExpertsAttr(), adaptor.getAttributes(),
                   "num_experts");
  auto k = intAttr(adaptor.getTopKAttr(), adaptor.getAttributes(), "top_k");
  if (!e || !k)
    return emit() << "requires num_experts and top_k";
  if (*e < 1)
    return emit() << "router_c1: num_experts must be >= 1, got " << *e;
  if (*k < 1 || *k > *e)
    return emit() << "router_c2: top_k must be in [1, num_experts = " << *e
                  << "], got " << *k;
  auto logits = tensorOf(adaptor.getLogits());
  int64_t dyn = ShapedType::kDynamic;
  if (failed(checkShape(emit, "logits", logits, {dyn, dyn, *e}, "router_c1")))
    return failure();
  int64_t b = logits.getDimSize(0), s = logits.getDimSize(1);
  inferred.push_back(
      RankedTensorType::get({b, s, *k}, logits.getElementType()));
  inferred.push_back(
      RankedTensorType::get({b, s, *k}, IntegerType::get(ctx, 32)));
  inferred.push_back(logits);
  return success();
}

LogicalResult RouterOp::verify() {
  int64_t e = getNumExpertsAttr().getInt();
  int64_t k = getTopKAttr().getInt();
  int64_t groups = getNGroupAttr().getInt();
  int64_t topkGroup = getTopkGroupAttr().getInt();
  if (groups < 1 || e % groups)
    return emitOpError() << "router_c3: n_group must be >= 1 and divide "
                            "num_experts ("
                         << e << "), got " << groups;
  if (topkGroup < 1 || topkGroup > groups)
    return emitOpError() << "router_c3: topk_group must be in [1, n_group = "
                         << groups << "], got " << topkGroup;
  if (k > topkGroup * (e / groups))
    return emitOpError() << "router_c4: top_k (" << k
                         << ") exceeds the experts in the kept groups ("
                         << topkGroup * (e / groups) << ")";
  if (Value bias = getBias())
    if (failed(checkShape([&] { return emitOpError(); }, "bias", tensorOf(bias),
                          {e}, "router_c5")))
      return failure();
  if (!(getNoiseStd().convertToDouble() >= 0) ||
      !(getRoutedScalingFactor().convertToDouble() > 0) ||
      !(getAuxLossCoef().convertToDouble() >= 0) ||
      !(getBiasUpdateRate().convertToDouble() >= 0))
    return emitOpError() << "router_c6: noise_std, aux_loss_coef and "
                            "bias_update_rate must be >= 0 and "
                            "routed_scaling_factor > 0";
  return success();
}

/// The routed experts' shapes (moe_c1..c4), shared by moe_experts and
/// its quantized form; `f` and `d` receive the experts' widths.
static LogicalResult verifyExperts(function_ref<InFlightDiagnostic()> emit,
                                   int64_t e, int64_t k, Value input,
                                   Value weights, Value indices, Value gateProj,
                                   Value upProj, Value downProj, int64_t &f,
                                   int64_t &d) {
  if (e < 1 || k < 1 || k > e)
    return emit() << "moe_c4: top_k must be in [1, num_experts = " << e
                  << "], got " << k;
  auto in = tensorOf(input);
  if (in.getRank() != 3)
    return emit() << "moe_c1: input must be rank 3 [batch, seq, hidden], got "
                  << in;
  int64_t b = in.getDimSize(0), s = in.getDimSize(1);
  d = in.getDimSize(2);
  auto w = tensorOf(weights);
  if (failed(checkShape(emit, "weights", w, {b, s, k}, "moe_c2")) ||
      failed(checkShape(emit, "indices", tensorOf(indices),
                        {ShapedType::isDynamic(b) ? w.getDimSize(0) : b,
                         ShapedType::isDynamic(s) ? w.getDimSize(1) : s, k},
                        "moe_c2")))
    return failure();
  auto gate = tensorOf(gateProj);
  f = gate.getRank() == 3 ? gate.getDimSize(1) : ShapedType::kDynamic;
  if (ShapedType::isDynamic(d) && gate.getRank() == 3)
    d = gate.getDimSize(2);
  if (failed(checkShape(emit, "gate_proj", gate, {e, f, d}, "moe_c3")) ||
      failed(checkShape(emit, "up_proj", tensorOf(upProj), {e, f, d},
                        "moe_c3")) ||
      failed(checkShape(emit, "down_proj", tensorOf(downProj), {e, d, f},
                        "moe_c3")))
    return failure();
  return success();
}

LogicalResult MoEExpertsOp::verify() {
  if (!(getCapacityFactor().convertToDouble() >= 0))
    return emitOpError() << "moe_c5: capacity_factor must be >= 0, got "
                         << getCapacityFactor().convertToDouble();
  int64_t f, d;
  return verifyExperts([&] { return emitOpError(); },
                       getNumExpertsAttr().getInt(), getTopKAttr().getInt(),
                       getInput(), getWeights(), getIndices(), getGateProj(),
                       getUpProj(), getDownProj(), f, d);
}

LogicalResult QuantizedMoEExpertsOp::verify() {
  auto emit = [&] { return emitOpError(); };
  int64_t e = getNumExpertsAttr().getInt(), f, d;
  if (failed(verifyExperts(emit, e, getTopKAttr().getInt(), getInput(),
                           getWeights(), getIndices(), getGateProj(),
                           getUpProj(), getDownProj(), f, d)))
    return failure();
  if (failed(checkShape(emit, "gate_scale", tensorOf(getGateScale()), {e, f},
                        "quantized_moe_c1")) ||
      failed(checkShape(emit, "up_scale", tensorOf(getUpScale()), {e, f},
                        "quantized_moe_c1")) ||
      failed(checkShape(emit, "down_scale", tensorOf(getDownScale()), {e, d},
                        "quantized_moe_c1")))
    return failure();
  if (failed(
          verifyActivationParams(emit, getScheme(),
                                 {getInputScale(), getInputZeroPoint(),
                                  getDownInputScale(), getDownInputZeroPoint()},
                                 {"input_scale", "input_zero_point",
                                  "down_input_scale", "down_input_zero_point"},
                                 {e}, "quantized_moe_c2")))
    return failure();
  if (failed(verifyActivationParams(
          emit, getScheme(), {getGateRowSums(), getUpRowSums()},
          {"gate_row_sums", "up_row_sums"}, {e, f}, "quantized_moe_c3")))
    return failure();
  return verifyActivationParams(emit, getScheme(), {getDownRowSums()},
                                {"down_row_sums"}, {e, d}, "quantized_moe_c3");
}

LogicalResult QuantizedMoEExpertInputsOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  auto emit = [&] { return inferError<QuantizedMoEExpertInputsOp>(ctx, loc); };
  auto numExperts = intAttr(adaptor.getNumExpertsAttr(),
                            adaptor.getAttributes(), "num_experts");
  auto topK = intAttr(adaptor.getTopKAttr(), adaptor.getAttributes(), "top_k");
  if (!numExperts || !topK)
    return emit() << "needs num_experts and top_k";
  int64_t e = *numExperts, k = *topK;
  if (e < 1 || k < 1 || k > e)
    return emit() << "moe_c4: top_k must be in [1, num_experts = " << e
                  << "], got " << k;
  auto in = tensorOf(adaptor.getInput());
  if (in.getRank() != 3)
    return emit() << "moe_c1: input must be rank 3 [batch, seq, hidden], got "
                  << in;
  int64_t d = in.getDimSize(2);
  auto gate = tensorOf(adaptor.getGateProj());
  int64_t f = gate.getRank() == 3 ? gate.getDimSize(1) : ShapedType::kDynamic;
  if (failed(checkShape(emit, "indices", tensorOf(adaptor.getIndices()),
                        {in.getDimSize(0), in.getDimSize(1), k}, "moe_c2")) ||
      failed(checkShape(emit, "gate_proj", gate, {e, f, d}, "moe_c3")) ||
      failed(checkShape(emit, "up_proj", tensorOf(adaptor.getUpProj()),
                        {e, f, d}, "moe_c3")) ||
      failed(checkShape(emit, "gate_scale", tensorOf(adaptor.getGateScale()),
                        {e, f}, "quantized_moe_c1")) ||
      failed(checkShape(emit, "up_scale", tensorOf(adaptor.getUpScale()),
                        {e, f}, "quantized_moe_c1")))
    return failure();
  Type f32 = Float32Type::get(ctx);
  inferred.push_back(RankedTensorType::get({ShapedType::kDynamic, d}, f32));
  inferred.push_back(RankedTensorType::get({ShapedType::kDynamic, f}, f32));
  inferred.push_back(
      RankedTensorType::get({e + 1}, IntegerType::get(ctx, 32)));
  return success();
}

LogicalResult SigmoidGateOp::inferReturnTypes(MLIRContext *ctx,
                                              std::optional<Location> loc,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &inferred) {
  auto emit = [&] { return inferError<SigmoidGateOp>(ctx, loc); };
  auto value = tensorOf(adaptor.getValue());
  if (value.getRank() < 1)
    return emit() << "gate_c1: value must have rank >= 1";
  SmallVector<int64_t> expected(value.getShape().drop_back());
  expected.push_back(1);
  if (failed(checkShape(emit, "logit", tensorOf(adaptor.getLogit()), expected,
                        "gate_c1")))
    return failure();
  inferred.push_back(value);
  return success();
}

LogicalResult
RouterAuxLossOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location>,
                                  Adaptor, SmallVectorImpl<Type> &inferred) {
  inferred.push_back(RankedTensorType::get({}, Float32Type::get(ctx)));
  return success();
}

LogicalResult RouterAuxLossOp::verify() {
  auto scores = tensorOf(getScores());
  auto indices = tensorOf(getIndices());
  if (scores.getRank() != 3 || indices.getRank() != 3 ||
      !compatible(scores.getDimSize(0), indices.getDimSize(0)) ||
      !compatible(scores.getDimSize(1), indices.getDimSize(1)))
    return emitOpError() << "auxloss_c1: scores must be [B, S, E] and "
                            "indices [B, S, top_k], got "
                         << scores << " and " << indices;
  if (!(getCoef().convertToDouble() >= 0))
    return emitOpError() << "auxloss_c2: coef must be >= 0";
  return success();
}

LogicalResult
ExpertCapacityOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location>,
                                   Adaptor adaptor,
                                   SmallVectorImpl<Type> &inferred) {
  inferred.push_back(adaptor.getWeights().getType());
  inferred.push_back(RankedTensorType::get({}, IntegerType::get(ctx, 32)));
  return success();
}

LogicalResult ExpertCapacityOp::verify() {
  auto weights = tensorOf(getWeights());
  auto indices = tensorOf(getIndices());
  bool ok = weights.getRank() == 3 && indices.getRank() == 3;
  for (int64_t d = 0; ok && d < 3; ++d)
    ok = compatible(weights.getDimSize(d), indices.getDimSize(d));
  if (!ok)
    return emitOpError() << "capacity_c1: weights and indices must both be "
                            "[B, S, top_k], got "
                         << weights << " and " << indices;
  if (getNumExperts() < 1 || !(getCapacityFactor().convertToDouble() > 0))
    return emitOpError() << "capacity_c2: num_experts must be >= 1 and "
                            "capacity_factor > 0, got "
                         << getNumExperts() << " and "
                         << getCapacityFactor().convertToDouble();
  return success();
}

LogicalResult
ExpertLoadOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                               Adaptor adaptor,
                               SmallVectorImpl<Type> &inferred) {
  auto emit = [&] { return inferError<ExpertLoadOp>(ctx, loc); };
  auto e = intAttr(adaptor.getNumExpertsAttr(), adaptor.getAttributes(),
                   "num_experts");
  if (!e)
    return emit() << "requires num_experts";
  if (*e < 1)
    return emit() << "load_c2: num_experts must be >= 1, got " << *e;
  inferred.push_back(RankedTensorType::get({*e}, IntegerType::get(ctx, 32)));
  return success();
}

LogicalResult ExpertLoadOp::verify() {
  auto indices = tensorOf(getIndices());
  if (indices.getRank() != 3)
    return emitOpError() << "load_c1: indices must be [B, S, top_k], got "
                         << indices;
  if (static_cast<int64_t>(getNumExperts()) < 1)
    return emitOpError() << "load_c2: num_experts must be >= 1, got "
                         << static_cast<int64_t>(getNumExperts());
  return success();
}

//===----------------------------------------------------------------------===//
// Expert parallelism: route, dispatch, combine
//===----------------------------------------------------------------------===//

namespace {

/// The shapes every expert exchange shares (ep_c1 as far as the types
/// tell without the grid): this rank's `indices` [B, S, K], the group's
/// `rowIndices` [R, S, K] and, when given, a `local` [B, S, W] value and
/// its `rows` [R, S, W], R = G * B.
LogicalResult verifyExchangeShapes(Operation *op, Value indices,
                                   Value rowIndices, Value local, Value rows,
                                   int64_t numExperts, int64_t axis) {
  auto emit = [&] { return op->emitOpError(); };
  auto idx = tensorOf(indices), rowIdx = tensorOf(rowIndices);
  if (idx.getRank() != 3)
    return emit() << "ep_c1: indices must be [B, S, K], got " << idx;
  int64_t b = idx.getDimSize(0), s = idx.getDimSize(1), k = idx.getDimSize(2);
  if (failed(checkShape(emit, "row_indices", rowIdx,
                        {ShapedType::kDynamic, s, k}, "ep_c1")))
    return failure();
  int64_t r = rowIdx.getDimSize(0);
  if (local) {
    auto in = tensorOf(local), out = tensorOf(rows);
    int64_t w = lastDim(in);
    if (failed(checkShape(emit, "the tokens", in, {b, s, w}, "ep_c1")) ||
        failed(checkShape(emit, "the rows", out, {r, s, w}, "ep_c1")))
      return failure();
  }
  if (!ShapedType::isDynamic(b) && !ShapedType::isDynamic(r) &&
      (b < 1 || r % b != 0))
    return emit() << "ep_c1: " << r << " rows are not a whole number of "
                  << "ranks' " << b << " sequences";
  if (axis < 0)
    return emit() << "ep_c1: axis must be >= 0, got " << axis;
  if (numExperts < 1)
    return emit() << "ep_c2: num_experts must be >= 1, got " << numExperts;
  return success();
}

/// ep_c1 and ep_c2 against the grid: axis `axis` has G ranks, G divides
/// the experts, and static rows are G ranks' sequences.
LogicalResult verifyExchangeGrid(Operation *op, SymbolTableCollection &tables,
                                 FlatSymbolRefAttr gridName, int64_t axis,
                                 Value indices, Value rowIndices,
                                 int64_t numExperts) {
  auto grid =
      tables.lookupNearestSymbolFrom<shard::GridOp>(op, gridName.getAttr());
  if (!grid)
    return op->emitOpError() << "ep_c1: " << gridName << " is not a grid";
  if (axis >= grid.getRank() || ShapedType::isDynamic(grid.getShape()[axis]))
    return op->emitOpError()
           << "ep_c1: axis " << axis << " is not a static axis of " << gridName;
  int64_t group = grid.getShape()[axis];
  int64_t b = tensorOf(indices).getDimSize(0),
          r = tensorOf(rowIndices).getDimSize(0);
  if (!ShapedType::isDynamic(b) && !ShapedType::isDynamic(r) && r != group * b)
    return op->emitOpError()
           << "ep_c1: expected " << group << " x " << b << " rows for the "
           << group << " ranks of axis " << axis << ", got " << r;
  if (numExperts % group != 0)
    return op->emitOpError() << "ep_c2: num_experts (" << numExperts
                             << ") must be split evenly over the " << group
                             << " ranks of axis " << axis;
  return success();
}

} // namespace

LogicalResult ExpertRouteOp::verify() {
  if (failed(verifyExchangeShapes(*this, getIndices(), getRowIndices(),
                                  getWeights(), getRowWeights(),
                                  getNumExperts(), getAxis())))
    return failure();
  if (!compatible(lastDim(tensorOf(getWeights())),
                  lastDim(tensorOf(getIndices()))))
    return emitOpError() << "ep_c1: weights and indices must have the same "
                            "shape, got "
                         << getWeights().getType() << " and "
                         << getIndices().getType();
  return success();
}

LogicalResult ExpertRouteOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyExchangeGrid(*this, tables, getGridAttr(), getAxis(),
                            getIndices(), getRowIndices(), getNumExperts());
}

LogicalResult ExpertDispatchOp::verify() {
  return verifyExchangeShapes(*this, getIndices(), getRowIndices(), getInput(),
                              getRows(), getNumExperts(), getAxis());
}

LogicalResult
ExpertDispatchOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyExchangeGrid(*this, tables, getGridAttr(), getAxis(),
                            getIndices(), getRowIndices(), getNumExperts());
}

LogicalResult ExpertCombineOp::verify() {
  return verifyExchangeShapes(*this, getIndices(), getRowIndices(), getResult(),
                              getRows(), getNumExperts(), getAxis());
}

LogicalResult ExpertCombineOp::verifySymbolUses(SymbolTableCollection &tables) {
  return verifyExchangeGrid(*this, tables, getGridAttr(), getAxis(),
                            getIndices(), getRowIndices(), getNumExperts());
}

//===----------------------------------------------------------------------===//
// Compression, heads, losses
//===----------------------------------------------------------------------===//

LogicalResult MemoryCompressionOp::verify() {
  double ratio = getRatio().convertToDouble();
  if (!(ratio > 0 && ratio <= 1))
    return emitOpError() << "compress_c1: ratio must be in (0, 1], got "
                         << ratio;
  if (!(getEps().convertToDouble() > 0))
    return emitOpError() << "compress_c3: eps must be > 0";
  // R and D come from the input when static, else from the encoder weight,
  // so the other five weights are always checked against one shape.
  auto enc = tensorOf(getEncWeight());
  if (enc.getRank() != 2)
    return emitOpError() << "compress_c2: enc_weight must be rank 2 [R, D], "
                            "got "
                         << enc;
  int64_t d = lastDim(tensorOf(getInput()));
  int64_t r = ShapedType::isDynamic(d)
                  ? enc.getDimSize(0)
                  : static_cast<int64_t>(static_cast<double>(d) * ratio);
  if (ShapedType::isDynamic(d))
    d = enc.getDimSize(1);
  if (!ShapedType::isDynamic(r) && r < 1)
    return emitOpError() << "compress_c1: int(hidden * ratio) must be >= 1, "
                            "got "
                         << r;
  auto emit = [&] { return emitOpError(); };
  if (failed(checkShape(emit, "enc_weight", tensorOf(getEncWeight()), {r, d},
                        "compress_c2")) ||
      failed(checkShape(emit, "enc_bias", tensorOf(getEncBias()), {r},
                        "compress_c2")) ||
      failed(checkShape(emit, "dec_weight", tensorOf(getDecWeight()), {d, r},
                        "compress_c2")) ||
      failed(checkShape(emit, "dec_bias", tensorOf(getDecBias()), {d},
                        "compress_c2")) ||
      failed(checkShape(emit, "norm_weight", tensorOf(getNormWeight()), {d},
                        "compress_c2")) ||
      failed(checkShape(emit, "norm_bias", tensorOf(getNormBias()), {d},
                        "compress_c2")))
    return failure();
  return success();
}

LogicalResult LMHeadOp::inferReturnTypes(MLIRContext *ctx,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  return inferProjection([&] { return inferError<LMHeadOp>(ctx, loc); },
                         adaptor.getInput(), adaptor.getWeight(), Value(),
                         {"lmhead_c1", "lmhead_c1", "lmhead_c1"}, inferred);
}

LogicalResult ClassificationHeadOp::inferReturnTypes(
    MLIRContext *ctx, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &inferred) {
  auto emit = [&] { return inferError<ClassificationHeadOp>(ctx, loc); };
  auto in = tensorOf(adaptor.getInput());
  if (in.getRank() != 3)
    return emit() << "cls_c1: input must be rank 3 [batch, seq, hidden], got "
                  << in;
  auto w = tensorOf(adaptor.getWeight());
  if (w.getRank() != 2)
    return emit() << "cls_c2: weight must be rank 2 [num_classes, hidden], got "
                  << w;
  if (failed(checkShape(emit, "weight", w, {w.getDimSize(0), in.getDimSize(2)},
                        "cls_c2")))
    return failure();
  if (!ShapedType::isDynamic(w.getDimSize(0)) && w.getDimSize(0) < 1)
    return emit() << "cls_c2: num_classes must be >= 1";
  if (Value bias = adaptor.getBias())
    if (failed(checkShape(emit, "bias", tensorOf(bias), {w.getDimSize(0)},
                          "cls_c2")))
      return failure();
  inferred.push_back(RankedTensorType::get({in.getDimSize(0), w.getDimSize(0)},
                                           in.getElementType()));
  return success();
}

LogicalResult
CrossEntropyOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location>,
                                 Adaptor, SmallVectorImpl<Type> &inferred) {
  inferred.push_back(RankedTensorType::get({}, Float32Type::get(ctx)));
  return success();
}

LogicalResult CrossEntropyOp::verify() {
  auto logits = tensorOf(getLogits());
  auto labels = tensorOf(getLabels());
  bool ok = logits.getRank() == labels.getRank() + 1;
  for (int64_t i = 0; ok && i < labels.getRank(); ++i)
    ok = compatible(logits.getDimSize(i), labels.getDimSize(i));
  if (!ok)
    return emitOpError() << "xent_c1: logits must be labels' shape plus a "
                            "class dim, got "
                         << logits << " and " << labels;
  return success();
}

#define GET_OP_CLASSES
#include "dialect/StrataOps.cpp.inc"

//===- ModelBuilder.cpp - ModelSpec to strata IR ----------------*- C++ -*-===//
//
// Emits the pre-norm block `x += attn(norm(x)); x += ffn(norm(x))` (plus the
// optional memory-compression module) once per distinct layer: each layer
// body is a private function of its activations and parameters, layers of
// the same structure share one (a 61-layer model has two or three), and the
// entry points bind each layer's parameters and call its body. Lowering and
// code generation then run once per kind of layer, not once per layer.
// Every op's location is the config key that decided it, wrapped in a
// NameLoc naming its scope: "layers.3" for a layer's parameters and its
// call, "layer" inside shared bodies, so diagnostics point at the config
// and statistics can group by layer.
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelBuilder.h"
#include "frontend/ConfigFile.h"
#include "frontend/ModelSpec.h"

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/ADT/StringSwitch.h"

#include <cmath>

using namespace ::strata;
using namespace mlir;
using namespace mlir::strata;

namespace {

class ModelBuilder {
public:
  ModelBuilder(MLIRContext *ctx, const ConfigFile &file,
               const StrataConfig &config)
      : ctx(ctx), file(file), cfg(config), m(config.model), b(ctx) {}

  OwningOpRef<ModuleOp> build();
  void addPlan(ModuleOp module);

private:
  /// Location of the config key `key` (falls back to the model section).
  Location at(StringRef key) const;
  Location inLayer(StringRef key) const {
    return NameLoc::get(StringAttr::get(ctx, scope), at(key));
  }
  Value param(StringRef name, ArrayRef<int64_t> shape,
              InitKind init = InitKind::Normal, StringRef key = "model");
  Value linear(Value x, StringRef name, int64_t out, int64_t in, bool bias,
               StringRef key);
  /// A SwiGLU FFN; `bias` for Llama's mlp_bias (dense layers only).
  Value ffn(Value x, StringRef prefix, int64_t width, StringRef key,
            bool bias = false);
  Value attention(Value x, const std::string &prefix);
  Value latentAttention(Value x, const std::string &prefix);
  Value moe(Value x, const std::string &prefix, SmallVectorImpl<Value> &aux);
  Value block(Value x, int64_t layer, SmallVectorImpl<Value> &aux);
  /// Emits layer `layer` as a call of its (shared) body function.
  Value callLayer(Value x, int64_t layer, SmallVectorImpl<Value> &aux);
  /// The existing body equal to `fn` (ignoring locations), else null.
  func::FuncOp findEquivalentBody(func::FuncOp fn);
  /// The rope attribute, verified (null after reporting an error).
  RopeAttr buildRopeAttr();
  /// Emits the network up to the heads; returns the final hidden state.
  Value trunk(Value tokens, SmallVectorImpl<Value> &aux);
  /// Emits `decode`: the forward pass over new tokens at `positions`,
  /// attending to per-layer key/value caches and returning the new rows.
  void buildDecode(ModuleOp module);

  /// Set while building `decode`: positions and per-layer caches in, the
  /// new key/value rows out.
  struct DecodeState {
    Value positions;
    /// [B] i32: each row's leading padding positions (left-padded batch).
    Value keyPadding;
    SmallVector<Value> keyCaches, valueCaches;
    SmallVector<Value> newKeys, newValues;
    unsigned layer = 0;
  };
  DecodeState *decoding = nullptr;

  /// Set while a layer body is built: `param()` appends an argument to the
  /// body and records the parameter the caller binds to it.
  struct LayerBody {
    struct Param {
      std::string name;
      RankedTensorType type;
      InitKind init;
      Location loc;
    };
    Block *block;
    SmallVector<Param> params;
  };
  LayerBody *body = nullptr;
  /// The entry point being built; layer bodies go before it.
  func::FuncOp entry;
  /// Every layer body emitted so far, for sharing.
  SmallVector<func::FuncOp> bodies;

  MLIRContext *ctx;
  const ConfigFile &file;
  const StrataConfig &cfg;
  const ModelSpec &m;
  OpBuilder b;
  std::string scope = "model";
  /// The scope of a layer body's parameters ("layers.3").
  std::string paramScope;
  llvm::StringMap<Value> params;
  RopeAttr rope;
  bool buildingLoss = false;
  Type f32 = Float32Type::get(ctx);
  int64_t dyn = ShapedType::kDynamic;
};

Location ModelBuilder::at(StringRef key) const {
  auto it = m.locs.find(key);
  if (it == m.locs.end() || !it->second.isValid())
    it = m.locs.find("model");
  if (it == m.locs.end())
    return FileLineColLoc::get(ctx, file.path(), 1, 1);
  return file.toLocation(ctx, it->second);
}

Value ModelBuilder::param(StringRef name, ArrayRef<int64_t> shape,
                          InitKind init, StringRef key) {
  auto type = RankedTensorType::get(shape, f32);
  if (body) {
    Location loc = inLayer(key);
    body->params.push_back(
        {name.str(), type, init,
         NameLoc::get(StringAttr::get(ctx, paramScope), at(key))});
    return body->block->addArgument(type, loc);
  }
  // Remembered by name so a tied LM head reuses the embedding's value.
  auto op = ParamOp::create(b, inLayer(key), type, b.getStringAttr(name),
                            InitKindAttr::get(ctx, init),
                            b.getF64FloatAttr(m.initializerRange),
                            /*scale=*/StringAttr(), StringAttr(), StringAttr(),
                            /*row_sums=*/StringAttr());
  params[name] = op;
  return op;
}

Value ModelBuilder::linear(Value x, StringRef name, int64_t out, int64_t in,
                           bool bias, StringRef key) {
  Value w = param((name + ".weight").str(), {out, in}, InitKind::Normal, key);
  Value bv = bias ? param((name + ".bias").str(), {out}, InitKind::Zeros, key)
                  : Value();
  return LinearOp::create(b, inLayer(key), x, w, bv);
}

Value ModelBuilder::ffn(Value x, StringRef prefix, int64_t width, StringRef key,
                        bool bias) {
  int64_t d = m.hiddenSize;
  Value gate = linear(x, (prefix + ".gate_proj").str(), width, d, bias, key);
  Value up = linear(x, (prefix + ".up_proj").str(), width, d, bias, key);
  Value act = SwiGLUOp::create(b, inLayer(key), gate, up);
  return linear(act, (prefix + ".down_proj").str(), d, width, bias, key);
}

RopeAttr ModelBuilder::buildRopeAttr() {
  const RopeSpec &r = m.rope;
  // getChecked runs the attribute verifier, which get() skips in release
  // builds: the compiler must never print IR its own parser rejects.
  return RopeAttr::getChecked(
      [&] { return mlir::emitError(at("model.attention")); }, ctx,
      APFloat(r.theta), r.scaling, APFloat(r.factor), r.originalMaxPosition,
      APFloat(r.betaFast), APFloat(r.betaSlow), APFloat(r.mscale),
      APFloat(r.mscaleAllDim));
}

Value ModelBuilder::attention(Value x, const std::string &prefix) {
  const AttentionSpec &a = m.attention;
  StringRef key = "model.attention";
  int64_t d = m.hiddenSize, h = m.numHeads, kv = m.numKvHeads, hd = m.headDim;
  Value q = linear(x, prefix + ".q_proj", h * hd, d, a.qkvBias, key);
  Value k = linear(x, prefix + ".k_proj", kv * hd, d, a.qkvBias, key);
  Value v = linear(x, prefix + ".v_proj", kv * hd, d, a.qkvBias, key);
  Value positions = decoding ? decoding->positions : Value();
  q = RotaryOp::create(b, inLayer(key), q, positions, h, hd, hd, rope,
                       m.rope.interleaved);
  k = RotaryOp::create(b, inLayer(key), k, positions, kv, hd, hd, rope,
                       m.rope.interleaved);
  if (decoding) {
    // Attend to the cached keys and values followed by the new ones.
    unsigned layer = decoding->layer++;
    decoding->newKeys.push_back(k);
    decoding->newValues.push_back(v);
    k = tensor::ConcatOp::create(b, inLayer(key), 1,
                                 ValueRange{decoding->keyCaches[layer], k});
    v = tensor::ConcatOp::create(b, inLayer(key), 1,
                                 ValueRange{decoding->valueCaches[layer], v});
  }
  IntegerAttr window;
  if (a.kind == AttentionKind::Local)
    window = b.getI64IntegerAttr(a.window);
  BlockSparseAttr sparsity;
  if (a.kind == AttentionKind::BlockSparse)
    sparsity =
        BlockSparseAttr::get(ctx, a.blockSize, a.numLocalBlocks,
                             a.numGlobalBlocks, a.numRandomBlocks, a.seed);
  FloatAttr scale =
      a.softmaxScale ? b.getF64FloatAttr(*a.softmaxScale) : FloatAttr();
  Value padding = decoding ? decoding->keyPadding : Value();
  // Dropout's seed as for the residual dropout; strata-autodiff adds the
  // step and a salt in training.
  Value o = AttentionOp::create(
      b, inLayer(key), q, k, v, padding,
      /*step=*/Value(), h, kv, hd, hd, a.causal, window, sparsity, scale,
      APFloat(m.attentionDropout), static_cast<uint64_t>(cfg.training.seed),
      /*salt=*/0);
  return linear(o, prefix + ".o_proj", d, h * hd, a.outputBias, key);
}

Value ModelBuilder::latentAttention(Value x, const std::string &prefix) {
  const AttentionSpec &a = m.attention;
  StringRef key = "model.attention";
  int64_t d = m.hiddenSize, h = m.numHeads;
  int64_t qk = a.qkNopeHeadDim + a.qkRopeHeadDim;
  Value qa, qaNorm, q;
  if (a.qLoraRank > 0) {
    qa = param(prefix + ".q_a_proj.weight", {a.qLoraRank, d}, InitKind::Normal,
               key);
    qaNorm = param(prefix + ".q_a_layernorm.weight", {a.qLoraRank},
                   InitKind::Ones, key);
    q = param(prefix + ".q_b_proj.weight", {h * qk, a.qLoraRank},
              InitKind::Normal, key);
  } else {
    q = param(prefix + ".q_proj.weight", {h * qk, d}, InitKind::Normal, key);
  }
  Value kva = param(prefix + ".kv_a_proj_with_mqa.weight",
                    {a.kvLoraRank + a.qkRopeHeadDim, d}, InitKind::Normal, key);
  Value kvaNorm = param(prefix + ".kv_a_layernorm.weight", {a.kvLoraRank},
                        InitKind::Ones, key);
  Value kvb = param(prefix + ".kv_b_proj.weight",
                    {h * (a.qkNopeHeadDim + a.vHeadDim), a.kvLoraRank},
                    InitKind::Normal, key);
  Value o = param(prefix + ".o_proj.weight", {d, h * a.vHeadDim},
                  InitKind::Normal, key);
  FloatAttr scale =
      a.softmaxScale ? b.getF64FloatAttr(*a.softmaxScale) : FloatAttr();
  Value positions, cachedLatent, cachedRopeKey, padding;
  if (decoding) {
    padding = decoding->keyPadding;
    // The cache holds each position's normalised latent and rotated rope
    // key; this step's rows are computed here and appended.
    positions = decoding->positions;
    Value kv = LinearOp::create(b, inLayer(key), x, kva, Value());
    auto slice = [&](int64_t offset, int64_t size) -> Value {
      auto type = cast<RankedTensorType>(kv.getType());
      SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(0),
                                        b.getIndexAttr(offset)};
      SmallVector<OpFoldResult> sizes{
          tensor::DimOp::create(b, inLayer(key), kv, 0).getResult(),
          tensor::DimOp::create(b, inLayer(key), kv, 1).getResult(),
          b.getIndexAttr(size)};
      SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
      return tensor::ExtractSliceOp::create(
          b, inLayer(key),
          RankedTensorType::get({dyn, dyn, size}, type.getElementType()), kv,
          offsets, sizes, strides);
    };
    Value latent = RMSNormOp::create(b, inLayer(key), slice(0, a.kvLoraRank),
                                     kvaNorm, APFloat(m.normEps));
    Value ropeKey = RotaryOp::create(
        b, inLayer(key), slice(a.kvLoraRank, a.qkRopeHeadDim), positions, 1,
        a.qkRopeHeadDim, a.qkRopeHeadDim, rope, m.rope.interleaved);
    unsigned layer = decoding->layer++;
    decoding->newKeys.push_back(latent);
    decoding->newValues.push_back(ropeKey);
    cachedLatent = tensor::ConcatOp::create(
        b, inLayer(key), 1, ValueRange{decoding->keyCaches[layer], latent});
    cachedRopeKey = tensor::ConcatOp::create(
        b, inLayer(key), 1, ValueRange{decoding->valueCaches[layer], ropeKey});
  }
  return LatentAttentionOp::create(
      b, inLayer(key), x, positions, qa, qaNorm, q, kva, kvaNorm, kvb, o,
      cachedLatent, cachedRopeKey, padding, h, a.qLoraRank, a.kvLoraRank,
      a.qkNopeHeadDim, a.qkRopeHeadDim, a.vHeadDim, rope, m.rope.interleaved,
      a.causal, scale, APFloat(m.normEps));
}

Value ModelBuilder::moe(Value x, const std::string &prefix,
                        SmallVectorImpl<Value> &aux) {
  const MoESpec &e = m.moe;
  const RouterSpec &r = e.router;
  int64_t d = m.hiddenSize, n = e.numExperts, f = e.intermediateSize;
  StringRef key = "model.moe";
  StringRef routerKey = m.locs.count("model.router") ? "model.router" : key;
  Value logits;
  if (r.gate == GateKind::MLP) {
    // The seed's gate: Linear(d, hidden) -> GELU -> Linear(hidden, E).
    Value hidden =
        linear(x, prefix + ".gate.fc1", r.mlpHidden, d, true, routerKey);
    hidden =
        GeluOp::create(b, inLayer(routerKey), hidden, GeluApproximation::None);
    logits =
        linear(hidden, prefix + ".gate.fc2", n, r.mlpHidden, true, routerKey);
  } else {
    logits = linear(x, prefix + ".gate", n, d, false, routerKey);
  }
  Value bias = r.correctionBias
                   ? param(prefix + ".gate.e_score_correction_bias", {n},
                           InitKind::Zeros, routerKey)
                   : Value();
  auto router = RouterOp::create(
      b, inLayer(routerKey), logits, bias, /*step=*/Value(), n, e.topK,
      r.scoring, r.normTopkProb, APFloat(r.routedScalingFactor), r.nGroup,
      r.topkGroup, APFloat(r.noiseStd), cfg.training.seed, r.balance,
      APFloat(r.auxLossCoef), APFloat(r.biasUpdateRate), /*salt=*/0);
  // The balance loss exists only where a loss is computed, not in forward.
  if (r.balance == BalanceKind::AuxLoss && buildingLoss)
    aux.push_back(
        RouterAuxLossOp::create(b, inLayer(routerKey), router.getScores(),
                                router.getIndices(), APFloat(r.auxLossCoef)));
  Value gate = param(prefix + ".experts." + e.gateName, {n, f, d},
                     InitKind::Normal, key);
  Value up =
      param(prefix + ".experts." + e.upName, {n, f, d}, InitKind::Normal, key);
  Value down = param(prefix + ".experts." + e.downName, {n, d, f},
                     InitKind::Normal, key);
  Value out = MoEExpertsOp::create(b, inLayer(key), x, router.getWeights(),
                                   router.getIndices(), gate, up, down, n,
                                   e.topK, APFloat(e.capacityFactor));
  if (e.numSharedExperts > 0) {
    int64_t width = e.sharedIntermediateSize
                        ? e.sharedIntermediateSize
                        : e.numSharedExperts * e.intermediateSize;
    std::string sharedName =
        e.sharedExpertGate ? ".shared_expert" : ".shared_experts";
    Value shared = ffn(x, prefix + sharedName, width, key);
    if (e.sharedExpertGate) {
      Value logit = linear(x, prefix + ".shared_expert_gate", 1, d, false, key);
      shared = SigmoidGateOp::create(b, inLayer(key), shared, logit);
    }
    out = AddOp::create(b, inLayer(key), out, shared);
  }
  return out;
}

Value ModelBuilder::block(Value x, int64_t layer, SmallVectorImpl<Value> &aux) {
  std::string prefix = "model.layers." + std::to_string(layer);
  int64_t d = m.hiddenSize;
  StringRef normKey = "model.hidden_size";
  auto norm = [&](Value v, StringRef name) -> Value {
    Value w = param(prefix + "." + name.str() + ".weight", {d}, InitKind::Ones,
                    normKey);
    return RMSNormOp::create(b, inLayer(normKey), v, w, APFloat(m.normEps));
  };
  auto residual = [&](Value v, Value delta, StringRef key) -> Value {
    // One seed for every layer, so that layers share their body; the
    // training step adds its number and a salt per op (strata-autodiff).
    if (m.hiddenDropout > 0)
      delta = DropoutOp::create(b, inLayer(key), delta, /*step=*/Value(),
                                APFloat(m.hiddenDropout),
                                static_cast<uint64_t>(cfg.training.seed),
                                /*salt=*/0);
    return AddOp::create(b, inLayer(key), v, delta);
  };

  Value h = norm(x, "input_layernorm");
  Value a = m.attention.kind == AttentionKind::Latent
                ? latentAttention(h, prefix + ".self_attn")
                : attention(h, prefix + ".self_attn");
  x = residual(x, a, "model.attention");
  h = norm(x, "post_attention_layernorm");
  Value f = m.isMoELayer(layer) ? moe(h, prefix + "." + m.moe.moduleName, aux)
                                : ffn(h, prefix + ".mlp", m.intermediateSize,
                                      "model.intermediate_size", m.mlpBias);
  x = residual(x, f,
               m.isMoELayer(layer) ? "model.moe" : "model.intermediate_size");
  if (m.compression.enabled) {
    StringRef key = "model.memory_compression";
    int64_t r =
        static_cast<int64_t>(static_cast<double>(d) * m.compression.ratio);
    std::string c = prefix + ".compression";
    // Created one statement at a time: argument evaluation order is
    // unspecified, and the IR must not depend on the host compiler.
    Value encW = param(c + ".encoder.weight", {r, d}, InitKind::Normal, key);
    Value encB = param(c + ".encoder.bias", {r}, InitKind::Zeros, key);
    Value decW = param(c + ".decoder.weight", {d, r}, InitKind::Normal, key);
    Value decB = param(c + ".decoder.bias", {d}, InitKind::Zeros, key);
    Value normW = param(c + ".norm.weight", {d}, InitKind::Ones, key);
    Value normB = param(c + ".norm.bias", {d}, InitKind::Zeros, key);
    x = MemoryCompressionOp::create(b, inLayer(key), x, encW, encB, decW, decB,
                                    normW, normB, APFloat(m.compression.ratio),
                                    m.compression.activation,
                                    APFloat(m.compression.eps));
  }
  return x;
}

func::FuncOp ModelBuilder::findEquivalentBody(func::FuncOp fn) {
  for (func::FuncOp other : bodies)
    if (other.getFunctionType() == fn.getFunctionType() &&
        OperationEquivalence::isRegionEquivalentTo(
            &other.getBody(), &fn.getBody(),
            OperationEquivalence::IgnoreLocations))
      return other;
  return nullptr;
}

Value ModelBuilder::callLayer(Value x, int64_t layer,
                              SmallVectorImpl<Value> &aux) {
  std::string layerScope = "layers." + std::to_string(layer);
  Location callLoc =
      NameLoc::get(StringAttr::get(ctx, layerScope), at("model"));

  // The body: (x, [positions, key padding, key cache, value cache],
  // parameters...) -> (x, [new keys, new values], balance losses...).
  func::FuncOp fn;
  LayerBody state;
  SmallVector<Value> callOperands{x};
  // A loss's balance losses accumulate through the layers (the running sum
  // goes in and comes out of each MoE body), so the calls of a run of MoE
  // layers differ only regularly and can become one loop.
  bool accumulates = buildingLoss && !decoding && m.isMoELayer(layer) &&
                     m.moe.router.balance == BalanceKind::AuxLoss;
  auto scalar = RankedTensorType::get({}, f32);
  if (accumulates)
    callOperands.push_back(
        aux.empty() ? arith::ConstantOp::create(
                          b, callLoc, DenseElementsAttr::get(scalar, 0.0f))
                          .getResult()
                    : aux.back());
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(entry);
    fn = func::FuncOp::create(b, at("model"), "layer",
                              b.getFunctionType({}, {}));
    fn.setPrivate();
    state.block = fn.addEntryBlock();
    b.setInsertionPointToStart(state.block);
    Value input = state.block->addArgument(x.getType(), callLoc);
    Value auxIn =
        accumulates ? state.block->addArgument(scalar, callLoc) : Value();
    DecodeState local, *outer = decoding;
    if (outer) {
      unsigned i = outer->layer++;
      for (Value v : {outer->positions, outer->keyPadding, outer->keyCaches[i],
                      outer->valueCaches[i]}) {
        callOperands.push_back(v);
        state.block->addArgument(v.getType(), callLoc);
      }
      local.positions = state.block->getArgument(1);
      local.keyPadding = state.block->getArgument(2);
      local.keyCaches.push_back(state.block->getArgument(3));
      local.valueCaches.push_back(state.block->getArgument(4));
      decoding = &local;
    }
    std::string outerScope = scope;
    scope = "layer";
    paramScope = layerScope;
    body = &state;
    SmallVector<Value> bodyAux;
    Value out = block(input, layer, bodyAux);
    if (accumulates) {
      Value sum = auxIn;
      for (Value a : bodyAux)
        sum = AddOp::create(b, inLayer("model.moe"), sum, a);
      bodyAux.assign({sum});
    }
    body = nullptr;
    scope = outerScope;
    decoding = outer;
    SmallVector<Value> results{out};
    if (outer) {
      results.push_back(local.newKeys.front());
      results.push_back(local.newValues.front());
    }
    llvm::append_range(results, bodyAux);
    func::ReturnOp::create(b, at("model"), results);
    fn.setType(b.getFunctionType(state.block->getArgumentTypes(),
                                 TypeRange(ValueRange(results))));
  }

  // Layers of the same structure share one body.
  if (func::FuncOp existing = findEquivalentBody(fn)) {
    fn.erase();
    fn = existing;
  } else {
    std::string name = (decoding ? "decode_" : "") +
                       std::string(m.isMoELayer(layer) ? "moe" : "dense") +
                       "_layer" +
                       (fn.getNumResults() > 1 && !decoding ? "_with_aux" : "");
    std::string unique = name;
    for (unsigned n = 1; llvm::any_of(
             bodies, [&](func::FuncOp f) { return f.getSymName() == unique; });
         ++n)
      unique = name + "_" + std::to_string(n);
    fn.setSymName(unique);
    bodies.push_back(fn);
  }

  // The call site binds this layer's parameters.
  for (const LayerBody::Param &p : state.params)
    callOperands.push_back(ParamOp::create(
        b, p.loc, p.type, b.getStringAttr(p.name),
        InitKindAttr::get(ctx, p.init), b.getF64FloatAttr(m.initializerRange),
        /*scale=*/StringAttr(), StringAttr(), StringAttr(),
        /*row_sums=*/StringAttr()));
  auto call = func::CallOp::create(b, callLoc, fn, callOperands);
  unsigned next = 1;
  if (decoding) {
    decoding->newKeys.push_back(call.getResult(next++));
    decoding->newValues.push_back(call.getResult(next++));
  }
  if (accumulates)
    aux.clear(); // the running sum replaces the earlier ones
  for (; next < call.getNumResults(); ++next)
    aux.push_back(call.getResult(next));
  return call.getResult(0);
}

Value ModelBuilder::trunk(Value tokens, SmallVectorImpl<Value> &aux) {
  scope = "embed";
  Value table = param("model.embed_tokens.weight", {m.vocabSize, m.hiddenSize},
                      InitKind::Normal, "model.vocab_size");
  Value x = EmbeddingOp::create(b, inLayer("model.vocab_size"), tokens, table);
  for (int64_t i = 0; i < m.numLayers; ++i)
    x = callLayer(x, i, aux);
  scope = "head";
  Value w = param("model.norm.weight", {m.hiddenSize}, InitKind::Ones,
                  "model.hidden_size");
  return RMSNormOp::create(b, inLayer("model.hidden_size"), x, w,
                           APFloat(m.normEps));
}

/// The config's parallel, training and inference sections as module
/// attributes, and the device mesh as a shard.grid: later passes read the
/// plan from the IR alone.
void ModelBuilder::addPlan(ModuleOp module) {
  const ParallelSpec &p = cfg.parallel;
  MLIRContext *ctx = module.getContext();
  // The grid points at the config's parallel section when it has one.
  auto section = p.locs.find("parallel");
  Location parallelLoc = section != p.locs.end() && section->second.isValid()
                             ? file.toLocation(ctx, section->second)
                             : at("model");
  auto plan = ParallelAttr::get(ctx, FlatSymbolRefAttr::get(ctx, "mesh"), p.tp,
                                p.pp, p.dp, p.ep, p.optimizerSharding ? 1 : 0,
                                p.microBatches);
  shard::GridOp::create(b, parallelLoc, "mesh", plan.getGridShape());
  module->setAttr("strata.parallel", plan);
  module->setAttr("strata.inference",
                  InferenceAttr::get(ctx, cfg.inference.maxBatchSize,
                                     cfg.inference.maxTokens));
  const TrainingSpec &t = cfg.training;
  if (!t.present)
    return;
  auto schedule = llvm::StringSwitch<LrSchedule>(t.schedule)
                      .Case("linear_warmup", LrSchedule::LinearWarmup)
                      .Case("linear_warmup_cosine_decay",
                            LrSchedule::LinearWarmupCosineDecay)
                      .Default(LrSchedule::Constant);
  auto precision = llvm::StringSwitch<Precision>(t.precision)
                       .Case("bfloat16", Precision::BF16)
                       .Case("float16", Precision::F16)
                       .Default(Precision::F32);
  module->setAttr(
      "strata.training",
      TrainingAttr::get(ctx,
                        t.optimizer == OptimizerKind::Lion  ? Optimizer::Lion
                        : t.optimizer == OptimizerKind::Sgd ? Optimizer::Sgd
                                                            : Optimizer::AdamW,
                        APFloat(t.lr), APFloat(t.weightDecay), APFloat(t.beta1),
                        APFloat(t.beta2), APFloat(t.eps), schedule,
                        t.warmupSteps, t.totalSteps, APFloat(t.minLrRatio),
                        APFloat(t.gradientClipping),
                        t.gradientAccumulationSteps, precision,
                        // float16's narrow range needs a dynamic loss scale.
                        precision == Precision::F16 ? LossScaling::Dynamic
                                                    : LossScaling::None,
                        t.checkpointInterval, t.checkpointKeepLast, t.batchSize,
                        t.seqLen, t.seed, t.ignoreIndex,
                        APFloat(t.lossScaleInit), t.lossScaleGrowthInterval));
}

OwningOpRef<ModuleOp> ModelBuilder::build() {
  rope = buildRopeAttr();
  if (!rope)
    return nullptr;
  OwningOpRef<ModuleOp> module = ModuleOp::create(at("model"));
  module->setSymName(m.name.empty() ? "model" : m.name);
  b.setInsertionPointToEnd(module->getBody());
  addPlan(*module);
  auto tokensType = RankedTensorType::get({dyn, dyn}, b.getI32Type());
  StringRef headKey =
      m.locs.count("model.heads") ? "model.heads" : "model.vocab_size";
  auto emitHeads = [&](Value x, bool classifier,
                       SmallVectorImpl<Value> &results) {
    if (m.heads.lm) {
      Value w = m.tieWordEmbeddings
                    ? params["model.embed_tokens.weight"]
                    : param("lm_head.weight", {m.vocabSize, m.hiddenSize},
                            InitKind::Normal, headKey);
      results.push_back(LMHeadOp::create(b, inLayer(headKey), x, w));
    }
    if (classifier && m.heads.numClasses) {
      StringRef key = m.locs.count("model.heads.classification")
                          ? "model.heads.classification"
                          : headKey;
      Value w = param("classifier.weight", {m.heads.numClasses, m.hiddenSize},
                      InitKind::Normal, key);
      Value bias =
          param("classifier.bias", {m.heads.numClasses}, InitKind::Zeros, key);
      results.push_back(ClassificationHeadOp::create(b, inLayer(key), x, w,
                                                     bias, m.heads.pooling));
    }
  };

  // forward(tokens) -> logits of every head.
  {
    auto func = func::FuncOp::create(b, at("model"), "forward",
                                     b.getFunctionType({tokensType}, {}));
    entry = func;
    Block *body = func.addEntryBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(body);
    SmallVector<Value> aux, results;
    emitHeads(trunk(body->getArgument(0), aux), /*classifier=*/true, results);
    func::ReturnOp::create(b, at("model"), results);
    func.setType(
        b.getFunctionType({tokensType}, TypeRange(ValueRange(results))));
    params.clear();
  }

  // loss(tokens, labels) -> mean cross-entropy + router balance losses.
  if (m.heads.lm) {
    auto func =
        func::FuncOp::create(b, at("model"), "loss",
                             b.getFunctionType({tokensType, tokensType}, {}));
    entry = func;
    Block *body = func.addEntryBlock();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(body);
    SmallVector<Value> aux, results;
    buildingLoss = true;
    Value x = trunk(body->getArgument(0), aux);
    buildingLoss = false;
    scope = "head";
    emitHeads(x, /*classifier=*/false, results);
    Value loss =
        CrossEntropyOp::create(b, inLayer(headKey), results.front(),
                               body->getArgument(1), cfg.training.ignoreIndex);
    for (Value a : aux)
      loss = AddOp::create(b, inLayer("model.moe"), loss, a);
    func::ReturnOp::create(b, at("model"), loss);
    func.setType(b.getFunctionType({tokensType, tokensType}, loss.getType()));
  }
  // decode(tokens, positions, key_padding, caches...) for incremental
  // generation of a left-padded batch: per layer a key and a value cache,
  // or for latent attention the normalised latent and the rotated rope key.
  // Only under a causal mask are earlier keys and values independent of
  // later tokens, so that a cache holds.
  if (m.heads.lm && m.attention.causal)
    buildDecode(*module);
  return module;
}

void ModelBuilder::buildDecode(ModuleOp module) {
  auto tokensType = RankedTensorType::get({dyn, dyn}, b.getI32Type());
  bool latent = m.attention.kind == AttentionKind::Latent;
  int64_t keyWidth = latent ? m.attention.kvLoraRank : m.numKvHeads * m.headDim;
  int64_t valueWidth =
      latent ? m.attention.qkRopeHeadDim : m.numKvHeads * m.headDim;
  SmallVector<Type> inputs{tokensType, tokensType,
                           RankedTensorType::get({dyn}, b.getI32Type())};
  for (int64_t i = 0; i < m.numLayers; ++i) {
    inputs.push_back(RankedTensorType::get({dyn, dyn, keyWidth}, f32));
    inputs.push_back(RankedTensorType::get({dyn, dyn, valueWidth}, f32));
  }
  auto func = func::FuncOp::create(b, at("model"), "decode",
                                   b.getFunctionType(inputs, {}));
  entry = func;
  Block *body = func.addEntryBlock();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(body);
  DecodeState state;
  state.positions = body->getArgument(1);
  state.keyPadding = body->getArgument(2);
  for (int64_t i = 0; i < m.numLayers; ++i) {
    state.keyCaches.push_back(body->getArgument(3 + 2 * i));
    state.valueCaches.push_back(body->getArgument(4 + 2 * i));
  }
  decoding = &state;
  SmallVector<Value> aux;
  Value x = trunk(body->getArgument(0), aux);
  decoding = nullptr;
  scope = "head";
  StringRef headKey =
      m.locs.count("model.heads") ? "model.heads" : "model.vocab_size";
  Value w = m.tieWordEmbeddings
                ? params["model.embed_tokens.weight"]
                : param("lm_head.weight", {m.vocabSize, m.hiddenSize},
                        InitKind::Normal, headKey);
  SmallVector<Value> results{LMHeadOp::create(b, inLayer(headKey), x, w)};
  for (int64_t i = 0; i < m.numLayers; ++i) {
    results.push_back(state.newKeys[i]);
    results.push_back(state.newValues[i]);
  }
  func::ReturnOp::create(b, at("model"), results);
  func.setType(b.getFunctionType(inputs, TypeRange(ValueRange(results))));
  params.clear();
}

} // namespace

namespace strata {
OwningOpRef<ModuleOp> buildModel(MLIRContext *ctx, const ConfigFile &file,
                                 const StrataConfig &config) {
  return ModelBuilder(ctx, file, config).build();
}
} // namespace strata

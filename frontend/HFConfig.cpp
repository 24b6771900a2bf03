//===- HFConfig.cpp - HuggingFace config.json -------------------*- C++ -*-===//
//
// Reads the public config.json of deepseek_v3, deepseek_v2, deepseek (MoE
// 16B), mixtral, qwen2_moe and llama into a ModelSpec, with the dtype the
// checkpoint is saved in (torch_dtype). Keys that do not change the
// architecture (architectures, use_cache, ...) are accepted silently;
// anything else unexpected is warned about.
//
//===----------------------------------------------------------------------===//

#include "frontend/ConfigFile.h"
#include "frontend/ModelSpec.h"

#include "llvm/ADT/StringSwitch.h"

using namespace strata;
using namespace mlir::strata;
using llvm::StringRef;

namespace {

/// Keys of any HF config that describe packaging, not the architecture.
constexpr StringRef kIgnoredKeys[] = {
    "architectures", "auto_map", "transformers_version", "use_cache",
    "pretraining_tp", "quantization_config", "output_router_logits",
    "_name_or_path", "ep_size", "return_dict", "output_attentions",
    "output_hidden_states", "use_return_dict", "attn_implementation",
    "_attn_implementation", "rope_interleave"};

enum class Family { Llama, Mixtral, Qwen2MoE, DeepSeek, DeepSeekV2, DeepSeekV3 };

void readRopeScaling(SectionReader &top, ModelSpec &m) {
  top.read("rope_theta", m.rope.theta, 0.0, 1e12, true);
  SectionReader rs = top.section("rope_scaling");
  if (!rs.present())
    return;
  m.locs["model.rope_scaling"] = rs.loc();
  std::string type = "none";
  // transformers renamed "type" to "rope_type"; both appear in the wild.
  if (rs.has("rope_type")) {
    rs.read("rope_type", type);
    rs.ignore({"type"}); // older spelling, often left beside the new one
  } else {
    rs.read("type", type);
  }
  if (type == "yarn")
    m.rope.scaling = RopeScaling::Yarn;
  else if (type == "linear")
    m.rope.scaling = RopeScaling::Linear;
  else if (type != "default" && type != "none")
    rs.error(rs.has("rope_type") ? "rope_type" : "type",
             "unsupported rope scaling '" + type + "'; expected yarn, linear "
             "or default");
  readRopeScalingParams(rs, m.rope);
  rs.warnUnknownKeys();
}

/// The checkpoint's dtype. transformers named the key torch_dtype until it
/// renamed it dtype; a config may carry both, and the newer one wins. Only
/// bf16 and f16 are narrow storage Strata has; float32, "auto", null or
/// anything else leave f32.
void readCheckpointDtype(SectionReader &top, ModelSpec &m) {
  std::string dtype;
  top.read("torch_dtype", dtype);
  top.read("dtype", dtype);
  m.checkpointDtype = dtype == "bfloat16"  ? "bf16"
                      : dtype == "float16" ? "f16"
                                           : "f32";
}

/// Keys every supported model_type shares (Llama's set).
void readCommon(SectionReader &top, ModelSpec &m) {
  auto required = [&](StringRef key, StringRef specKey, int64_t &out,
                      int64_t min, int64_t max) {
    if (top.require(key, out, min, max))
      m.locs[specKey] = top.locOf(key);
  };
  required("vocab_size", "model.vocab_size", m.vocabSize, 1, kMaxVocab);
  required("hidden_size", "model.hidden_size", m.hiddenSize, 1, kMaxDim);
  required("num_hidden_layers", "model.num_layers", m.numLayers, 1, 4096);
  required("num_attention_heads", "model.attention", m.numHeads, 1, 65536);
  m.numKvHeads = m.numHeads;
  if (top.read("num_key_value_heads", m.numKvHeads, 1, 65536))
    m.locs["model.num_kv_heads"] = top.locOf("num_key_value_heads");
  if (top.read("head_dim", m.headDim, 1, 65536))
    m.locs["model.head_dim"] = top.locOf("head_dim");
  top.read("max_position_embeddings", m.maxSeqLen, 1, kMaxVocab);
  if (top.read("intermediate_size", m.intermediateSize, 1, kMaxDim))
    m.locs["model.intermediate_size"] = top.locOf("intermediate_size");
  top.read("rms_norm_eps", m.normEps, 0.0, 1.0, true);
  top.read("tie_word_embeddings", m.tieWordEmbeddings);
  top.read("initializer_range", m.initializerRange, 0.0, 10.0);
  top.read("attention_dropout", m.attentionDropout, 0.0, 0.999);
  top.read("attention_bias", m.attention.qkvBias);
  top.read("mlp_bias", m.mlpBias);
  m.attention.outputBias = m.attention.qkvBias;
  top.read("bos_token_id", m.bosTokenId, 0, kMaxVocab);
  std::vector<int64_t> eos;
  if (top.read("eos_token_id", eos, 0, kMaxVocab) && !eos.empty())
    m.eosTokenId = eos.front();
  top.read("pad_token_id", m.padTokenId, 0, kMaxVocab);
  std::string act = "silu";
  if (top.read("hidden_act", act) && act != "silu")
    top.error("hidden_act", "only 'silu' (SwiGLU) feed-forward networks are "
                            "supported, got '" + act + "'");
  readRopeScaling(top, m);
  m.locs["model"] = top.loc();
}

/// A positive auxiliary-loss coefficient turns aux-loss balancing on; 0
/// (as inference-only configs often say) leaves it off.
void readAuxLossCoef(SectionReader &top, StringRef key, RouterSpec &r) {
  if (top.read(key, r.auxLossCoef, 0.0, 1e3) && r.auxLossCoef > 0)
    r.balance = BalanceKind::AuxLoss;
}

void readMixtral(SectionReader &top, ModelSpec &m) {
  MoESpec &e = m.moe;
  if (top.require("num_local_experts", e.numExperts, 1, 65536))
    m.locs["model.moe"] = top.locOf("num_local_experts");
  top.require("num_experts_per_tok", e.topK, 1, 1024);
  e.intermediateSize = m.intermediateSize;
  e.router.normTopkProb = true; // softmax over all, renormalised top-k
  // Mixtral checkpoints name the MoE module and expert projections so.
  e.moduleName = "block_sparse_moe";
  e.gateName = "w1";
  e.upName = "w3";
  e.downName = "w2";
  readAuxLossCoef(top, "router_aux_loss_coef", e.router);
  top.read("router_jitter_noise", e.router.noiseStd, 0.0, 100.0);
  if (top.read("sliding_window", m.attention.window, 1, kMaxVocab))
    m.attention.kind = AttentionKind::Local;
}

void readQwen2MoE(SectionReader &top, ModelSpec &m) {
  MoESpec &e = m.moe;
  if (top.require("num_experts", e.numExperts, 1, 65536))
    m.locs["model.moe"] = top.locOf("num_experts");
  top.require("num_experts_per_tok", e.topK, 1, 1024);
  top.require("moe_intermediate_size", e.intermediateSize, 1, kMaxDim);
  if (top.read("shared_expert_intermediate_size", e.sharedIntermediateSize, 1,
               kMaxDim)) {
    e.numSharedExperts = 1;
    e.sharedExpertGate = true;
  }
  top.read("norm_topk_prob", e.router.normTopkProb);
  readAuxLossCoef(top, "router_aux_loss_coef", e.router);
  int64_t step = 1;
  top.read("decoder_sparse_step", step, 1, 4096);
  std::vector<int64_t> mlpOnly;
  top.read("mlp_only_layers", mlpOnly, 0, 4095);
  // Qwen's rule: layer i is sparse iff (i + 1) % step == 0 and i is not in
  // mlp_only_layers.
  for (int64_t i = 0; i < m.numLayers; ++i)
    if ((i + 1) % step != 0 || llvm::is_contained(mlpOnly, i))
      e.denseLayers.push_back(i);
  m.attention.qkvBias = true; // Qwen2 projects q, k, v with biases
  bool sliding = false;
  top.read("use_sliding_window", sliding);
  int64_t window = 0;
  top.read("sliding_window", window, 1, kMaxVocab);
  // transformers' Qwen2-MoE default: the first 28 layers use full attention.
  int64_t fullLayers = 28;
  top.read("max_window_layers", fullLayers, 0, 4096);
  // Qwen2 slides the window only in layers >= max_window_layers.
  if (sliding && window) {
    if (fullLayers > 0 && fullLayers < m.numLayers)
      top.error("max_window_layers",
                "a sliding window in only some layers is not supported; "
                "set max_window_layers to 0 (all layers) or num_hidden_layers "
                "(none)");
    else if (fullLayers == 0) {
      m.attention.kind = AttentionKind::Local;
      m.attention.window = window;
    }
  }
}

void readDeepSeek(SectionReader &top, ModelSpec &m, Family family) {
  MoESpec &e = m.moe;
  if (top.read("n_routed_experts", e.numExperts, 1, 65536))
    m.locs["model.moe"] = top.locOf("n_routed_experts");
  top.read("num_experts_per_tok", e.topK, 1, 1024);
  top.read("n_shared_experts", e.numSharedExperts, 0, 1024);
  top.read("moe_intermediate_size", e.intermediateSize, 1, kMaxDim);
  top.read("first_k_dense_replace", e.firstDenseLayers, 0, 4096);
  top.read("moe_layer_freq", e.layerFreq, 1, 4096);
  top.read("norm_topk_prob", e.router.normTopkProb);
  readAuxLossCoef(top, "aux_loss_alpha", e.router);
  top.ignore({"seq_aux"});
  std::string scoring = "softmax";
  top.read("scoring_func", scoring);
  if (scoring == "sigmoid")
    e.router.scoring = RouterScoring::Sigmoid;
  else if (scoring != "softmax")
    top.error("scoring_func", "expected softmax or sigmoid, got '" + scoring +
                                  "'");
  if (family == Family::DeepSeek)
    return;

  // Multi-head latent attention (V2, V3).
  AttentionSpec &a = m.attention;
  a.kind = AttentionKind::Latent;
  top.read("q_lora_rank", a.qLoraRank, 0, kMaxDim); // null or 0: none
  top.require("kv_lora_rank", a.kvLoraRank, 1, kMaxDim);
  top.require("qk_nope_head_dim", a.qkNopeHeadDim, 1, 65536);
  top.require("qk_rope_head_dim", a.qkRopeHeadDim, 2, 65536);
  top.require("v_head_dim", a.vHeadDim, 1, 65536);
  m.rope.interleaved = true; // DeepSeek checkpoints pair dims (2i, 2i+1)
  top.read("routed_scaling_factor", e.router.routedScalingFactor, 0.0, 1e6,
           true);
  top.read("n_group", e.router.nGroup, 1, 65536);
  top.read("topk_group", e.router.topkGroup, 1, 65536);
  std::string method = "greedy";
  top.read("topk_method", method);
  if (method == "greedy") {
    e.router.nGroup = e.router.topkGroup = 1;
  } else if (method == "noaux_tc") {
    e.router.correctionBias = true;
    e.router.balance = BalanceKind::BiasUpdate;
    e.router.biasUpdateRate = 0.001;
  } else if (method != "group_limited_greedy") {
    top.error("topk_method", "expected greedy, group_limited_greedy or "
                             "noaux_tc, got '" + method + "'");
  }
  if (family == Family::DeepSeekV3)
    top.read("num_nextn_predict_layers", m.mtpLayers, 0, 64);
}

} // namespace

bool strata::readHFConfig(ConfigFile &file, StrataConfig &out) {
  SectionReader top(file, &file.root(), "");
  unsigned before = file.errorCount();
  std::string type;
  if (!top.require("model_type", type))
    return false;
  std::optional<Family> family =
      llvm::StringSwitch<std::optional<Family>>(type)
          .Case("llama", Family::Llama)
          .Case("mixtral", Family::Mixtral)
          .Case("qwen2_moe", Family::Qwen2MoE)
          .Case("deepseek", Family::DeepSeek)
          .Case("deepseek_v2", Family::DeepSeekV2)
          .Case("deepseek_v3", Family::DeepSeekV3)
          .Default(std::nullopt);
  if (!family) {
    top.error("model_type", "unsupported model_type '" + type +
                                "'; expected one of deepseek_v3, deepseek_v2, "
                                "deepseek, mixtral, qwen2_moe, llama");
    return false;
  }
  ModelSpec &m = out.model;
  m.format = "hf:" + type;
  m.name = type;
  m.normEps = 1e-6;
  readCommon(top, m);
  readCheckpointDtype(top, m);
  switch (*family) {
  case Family::Llama:
    break;
  case Family::Mixtral:
    readMixtral(top, m);
    break;
  case Family::Qwen2MoE:
    readQwen2MoE(top, m);
    break;
  case Family::DeepSeek:
  case Family::DeepSeekV2:
  case Family::DeepSeekV3:
    readDeepSeek(top, m, *family);
    break;
  }
  top.ignore(kIgnoredKeys);
  top.warnUnknownKeys();
  return file.errorCount() == before;
}

bool strata::readConfig(ConfigFile &file, StrataConfig &out) {
  // A HuggingFace config is recognised by its model_type, whatever the
  // file's syntax.
  bool hf = file.isJson() || file.root().find("model_type");
  bool ok = hf ? readHFConfig(file, out) : readSeedConfig(file, out);
  return ok && finalizeModel(file, out.model);
}

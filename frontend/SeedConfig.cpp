//===- SeedConfig.cpp - the seed's YAML config form -------------*- C++ -*-===//
//
// Reads the YAML form with `model`, `training`, `parallel`, `quantization`
// and `inference` sections. The training keys are exactly those of the seed's
// deepseek_train_config.yaml; the parallel keys those of its
// setup_3d_parallelism; model keys follow the seed's block config
// (hidden_size, num_attention_heads, moe_num_experts, moe_top_k,
// expert_capacity, ...). docs/config.md lists every key with its default.
//
//===----------------------------------------------------------------------===//

#include "frontend/ConfigFile.h"
#include "frontend/ModelSpec.h"

using namespace strata;
using namespace mlir::strata;
using llvm::StringRef;

namespace {

void readRope(SectionReader rope, ModelSpec &m) {
  rope.read("theta", m.rope.theta, 0.0, 1e12, /*minExclusive=*/true);
  rope.read("interleaved", m.rope.interleaved);
  SectionReader scaling = rope.section("scaling");
  if (scaling.present())
    m.locs["model.rope_scaling"] = scaling.loc();
  scaling.readEnum<RopeScaling>("type", m.rope.scaling,
                                {{"none", RopeScaling::None},
                                 {"linear", RopeScaling::Linear},
                                 {"yarn", RopeScaling::Yarn}});
  readRopeScalingParams(scaling, m.rope);
  scaling.warnUnknownKeys();
  rope.warnUnknownKeys();
}

void readAttention(SectionReader attn, ModelSpec &m) {
  AttentionSpec &a = m.attention;
  attn.readEnum<AttentionKind>("type", a.kind,
                               {{"full", AttentionKind::Full},
                                {"local", AttentionKind::Local},
                                {"block_sparse", AttentionKind::BlockSparse},
                                {"latent", AttentionKind::Latent}});
  attn.read("causal", a.causal);
  attn.read("window", a.window, 1, kMaxVocab);
  attn.read("block_size", a.blockSize, 1, 65536);
  attn.read("num_local_blocks", a.numLocalBlocks, 1, 65536);
  attn.read("num_global_blocks", a.numGlobalBlocks, 0, 65536);
  attn.read("num_random_blocks", a.numRandomBlocks, 0, 65536);
  attn.read("seed", a.seed, 0, INT64_MAX);
  double scale = 0;
  if (attn.read("softmax_scale", scale, 0.0, 1e6, true))
    a.softmaxScale = scale;
  attn.read("qkv_bias", a.qkvBias);
  attn.read("q_lora_rank", a.qLoraRank, 0, kMaxDim);
  attn.read("kv_lora_rank", a.kvLoraRank, 1, kMaxDim);
  attn.read("qk_nope_head_dim", a.qkNopeHeadDim, 1, 65536);
  attn.read("qk_rope_head_dim", a.qkRopeHeadDim, 2, 65536);
  attn.read("v_head_dim", a.vHeadDim, 1, 65536);
  if (a.kind == AttentionKind::Local && !attn.has("window"))
    attn.missing("window");
  if (a.kind == AttentionKind::Latent)
    for (StringRef key : {"kv_lora_rank", "qk_nope_head_dim",
                          "qk_rope_head_dim", "v_head_dim"})
      if (!attn.has(key))
        attn.missing(key);
  attn.warnUnknownKeys();
}

void readMoE(SectionReader &model, ModelSpec &m) {
  MoESpec &e = m.moe;
  SectionReader moe = model.section("moe");
  // The seed's block config spells three MoE keys flat on the model.
  auto either = [&](StringRef flat, StringRef nested, auto &&readFn) {
    if (model.has(flat) && moe.has(nested)) {
      model.error(flat, "given twice: also as '" + moe.path() + "." +
                            nested.str() + "'; keep one");
      model.ignore({flat});
      moe.ignore({nested});
      return;
    }
    readFn(model.has(flat) ? model : moe, model.has(flat) ? flat : nested);
  };
  either("moe_num_experts", "num_experts", [&](SectionReader &r, StringRef k) {
    if (r.read(k, e.numExperts, 0, 65536))
      m.locs["model.moe"] = r.locOf(k);
  });
  either("moe_top_k", "top_k", [&](SectionReader &r, StringRef k) {
    r.read(k, e.topK, 1, 1024);
  });
  either("expert_capacity", "capacity_factor",
         [&](SectionReader &r, StringRef k) {
           r.read(k, e.capacityFactor, 0.0, 1024.0);
         });
  moe.read("intermediate_size", e.intermediateSize, 1, kMaxDim);
  moe.read("num_shared_experts", e.numSharedExperts, 0, 1024);
  moe.read("shared_intermediate_size", e.sharedIntermediateSize, 1, kMaxDim);
  moe.read("first_dense_layers", e.firstDenseLayers, 0, 4096);
  moe.read("layer_freq", e.layerFreq, 1, 4096);

  SectionReader router = moe.section("router");
  RouterSpec &r = e.router;
  router.readEnum<GateKind>("type", r.gate,
                            {{"linear", GateKind::Linear},
                             {"mlp", GateKind::MLP}});
  router.read("hidden_size", r.mlpHidden, 1, kMaxDim);
  router.readEnum<RouterScoring>("scoring", r.scoring,
                                 {{"softmax", RouterScoring::Softmax},
                                  {"sigmoid", RouterScoring::Sigmoid}});
  router.read("noise_std", r.noiseStd, 0.0, 100.0);
  router.read("norm_topk_prob", r.normTopkProb);
  router.read("routed_scaling_factor", r.routedScalingFactor, 0.0, 1e6, true);
  router.read("n_group", r.nGroup, 1, 65536);
  router.read("topk_group", r.topkGroup, 1, 65536);
  router.read("correction_bias", r.correctionBias);
  if (router.loc().isValid())
    m.locs["model.router"] = router.loc();
  router.warnUnknownKeys();

  SectionReader balance = moe.section("balance");
  balance.readEnum<BalanceKind>("type", r.balance,
                                {{"none", BalanceKind::None},
                                 {"aux_loss", BalanceKind::AuxLoss},
                                 {"bias_update", BalanceKind::BiasUpdate}});
  balance.read("aux_loss_coef", r.auxLossCoef, 0.0, 1e3);
  balance.read("bias_update_rate", r.biasUpdateRate, 0.0, 1e3);
  balance.warnUnknownKeys();
  if (r.balance == BalanceKind::BiasUpdate)
    r.correctionBias = true;
  if (r.balance == BalanceKind::AuxLoss && !balance.has("aux_loss_coef"))
    r.auxLossCoef = 0.01;
  if (r.balance == BalanceKind::BiasUpdate && !balance.has("bias_update_rate"))
    r.biasUpdateRate = 0.001;
  if (moe.loc().isValid() && !m.locs.count("model.moe"))
    m.locs["model.moe"] = moe.loc();
  if (e.numExperts > 0 && !moe.has("intermediate_size"))
    moe.missing("intermediate_size");
  moe.warnUnknownKeys();
}

void readModel(SectionReader model, ModelSpec &m) {
  m.format = "yaml";
  m.locs["model"] = model.loc();
  model.read("name", m.name);
  auto required = [&](StringRef key, int64_t &out, int64_t min, int64_t max) {
    if (model.require(key, out, min, max))
      m.locs[("model." + key).str()] = model.locOf(key);
  };
  required("vocab_size", m.vocabSize, 1, kMaxVocab);
  required("hidden_size", m.hiddenSize, 1, kMaxDim);
  required("num_layers", m.numLayers, 1, 4096);
  required("num_attention_heads", m.numHeads, 1, 65536);
  m.numKvHeads = m.numHeads;
  if (model.read("num_kv_heads", m.numKvHeads, 1, 65536))
    m.locs["model.num_kv_heads"] = model.locOf("num_kv_heads");
  if (model.read("head_dim", m.headDim, 1, 65536))
    m.locs["model.head_dim"] = model.locOf("head_dim");
  model.read("max_seq_len", m.maxSeqLen, 1, kMaxVocab);
  if (model.read("intermediate_size", m.intermediateSize, 1, kMaxDim))
    m.locs["model.intermediate_size"] = model.locOf("intermediate_size");
  model.read("norm_eps", m.normEps, 0.0, 1.0, true);
  model.read("attention_dropout", m.attentionDropout, 0.0, 0.999);
  model.read("hidden_dropout", m.hiddenDropout, 0.0, 0.999);
  model.read("tie_word_embeddings", m.tieWordEmbeddings);
  model.read("initializer_range", m.initializerRange, 0.0, 10.0);
  model.read("bos_token_id", m.bosTokenId, 0, kMaxVocab);
  model.read("eos_token_id", m.eosTokenId, 0, kMaxVocab);
  model.read("pad_token_id", m.padTokenId, 0, kMaxVocab);

  SectionReader attn = model.section("attention");
  m.locs["model.attention"] =
      attn.loc().isValid() ? attn.loc() : model.locOf("num_attention_heads");
  readAttention(attn, m);
  readRope(model.section("rope"), m);
  readMoE(model, m);

  SectionReader mc = model.section("memory_compression");
  if (mc.loc().isValid()) {
    m.compression.enabled = true;
    m.locs["model.memory_compression"] = mc.loc();
  }
  mc.read("enabled", m.compression.enabled);
  mc.read("ratio", m.compression.ratio, 0.0, 1.0, true);
  mc.readEnum<Activation>("activation", m.compression.activation,
                          {{"gelu", Activation::Gelu},
                           {"silu", Activation::Silu},
                           {"relu", Activation::Relu}});
  mc.read("eps", m.compression.eps, 0.0, 1.0, true);
  mc.warnUnknownKeys();

  SectionReader heads = model.section("heads");
  if (heads.loc().isValid())
    m.locs["model.heads"] = heads.loc();
  heads.read("lm", m.heads.lm);
  SectionReader cls = heads.section("classification");
  if (cls.loc().isValid()) {
    m.locs["model.heads.classification"] = cls.loc();
    cls.require("num_classes", m.heads.numClasses, 1, kMaxVocab);
  }
  cls.readEnum<Pooling>("pooling", m.heads.pooling,
                        {{"last", Pooling::Last}, {"mean", Pooling::Mean}});
  cls.warnUnknownKeys();
  heads.warnUnknownKeys();
  model.warnUnknownKeys();
}

void readTraining(SectionReader t, TrainingSpec &s) {
  t.readEnum<std::string>("precision", s.precision,
                          {{"bfloat16", "bfloat16"},
                           {"float16", "float16"},
                           {"float32", "float32"}});
  SectionReader opt = t.section("optimizer");
  opt.readEnum<OptimizerKind>("type", s.optimizer,
                              {{"Lion", OptimizerKind::Lion},
                               {"lion", OptimizerKind::Lion},
                               {"AdamW", OptimizerKind::AdamW},
                               {"adamw", OptimizerKind::AdamW},
                               {"SGD", OptimizerKind::Sgd},
                               {"sgd", OptimizerKind::Sgd}});
  if (s.optimizer == OptimizerKind::Lion) {
    // Lion's usual defaults differ from AdamW's.
    s.beta2 = 0.99;
    s.lr = 1e-4;
  }
  SectionReader params = opt.section("params");
  params.read("lr", s.lr, 0.0, 10.0, true);
  params.read("weight_decay", s.weightDecay, 0.0, 10.0);
  params.read("beta1", s.beta1, 0.0, 1.0);
  params.read("beta2", s.beta2, 0.0, 1.0);
  params.read("eps", s.eps, 0.0, 1.0, true);
  // A moment's decay of 1 never forgets (and #strata.training rejects it).
  if (s.beta1 >= 1.0)
    params.error("beta1", "must be below 1, got 1");
  if (s.beta2 >= 1.0)
    params.error("beta2", "must be below 1, got 1");
  params.warnUnknownKeys();
  opt.warnUnknownKeys();
  t.read("gradient_clipping", s.gradientClipping, 0.0, 1e9);
  SectionReader sched = t.section("batch_scheduler");
  sched.readEnum<std::string>(
      "type", s.schedule,
      {{"linear_warmup_cosine_decay", "linear_warmup_cosine_decay"},
       {"linear_warmup", "linear_warmup"},
       {"constant", "constant"}});
  sched.read("warmup_steps", s.warmupSteps, 0, INT32_MAX);
  sched.read("total_steps", s.totalSteps, 0, INT32_MAX);
  sched.read("min_lr_ratio", s.minLrRatio, 0.0, 1.0);
  sched.warnUnknownKeys();
  if (s.totalSteps && s.warmupSteps > s.totalSteps)
    sched.error("warmup_steps", "must not exceed total_steps (" +
                                    llvm::Twine(s.totalSteps) + ")");
  SectionReader ckpt = t.section("checkpoint");
  ckpt.read("interval", s.checkpointInterval, 0, INT32_MAX);
  ckpt.read("keep_last", s.checkpointKeepLast, 0, 1000000);
  ckpt.warnUnknownKeys();
  t.read("gradient_accumulation_steps", s.gradientAccumulationSteps, 1,
         1000000);
  if (t.read("batch_size", s.batchSize, 1, 1 << 24))
    s.locs["batch_size"] = t.locOf("batch_size");
  if (t.read("seq_len", s.seqLen, 1, kMaxVocab))
    s.locs["seq_len"] = t.locOf("seq_len");
  t.read("seed", s.seed, 0, INT64_MAX);
  t.read("ignore_index", s.ignoreIndex, INT32_MIN, INT32_MAX);
  SectionReader scale = t.section("loss_scale");
  scale.read("initial", s.lossScaleInit, 1.0, 1e30);
  scale.read("growth_interval", s.lossScaleGrowthInterval, 1, INT32_MAX);
  scale.warnUnknownKeys();
  t.warnUnknownKeys();
}

void readParallel(SectionReader p, ParallelSpec &s) {
  auto degree = [&](StringRef key, int64_t &out) {
    if (p.read(key, out, 1, 1 << 20))
      s.locs[key] = p.locOf(key);
  };
  degree("tensor_parallel_degree", s.tp);
  degree("pipeline_parallel_degree", s.pp);
  degree("data_parallel_degree", s.dp);
  degree("expert_parallel_degree", s.ep);
  p.read("optimizer_sharding", s.optimizerSharding);
  if (p.read("num_micro_batches", s.microBatches, 1, 1 << 20))
    s.locs["num_micro_batches"] = p.locOf("num_micro_batches");
  if (p.loc().isValid())
    s.locs["parallel"] = p.loc();
  p.warnUnknownKeys();
}

} // namespace

bool strata::readSeedConfig(ConfigFile &file, StrataConfig &out) {
  SectionReader top(file, &file.root(), "");
  if (!top.has("model")) {
    top.missing("model");
    return false;
  }
  unsigned before = file.errorCount();
  SectionReader model = top.section("model");
  if (!model.present())
    return false; // section() reported that `model` is not a map
  readModel(model, out.model);
  SectionReader training = top.section("training");
  out.training.present = training.present();
  readTraining(training, out.training);
  readParallel(top.section("parallel"), out.parallel);
  SectionReader quant = top.section("quantization");
  using Scheme = QuantizationSpec::Scheme;
  quant.readEnum<Scheme>("scheme", out.quantization.scheme,
                         {{"none", Scheme::None},
                          {"w8a16", Scheme::W8A16},
                          {"w8a8-dynamic", Scheme::W8A8Dynamic},
                          {"w8a8", Scheme::W8A8}});
  quant.read("lm_head", out.quantization.lmHead);
  quant.warnUnknownKeys();
  SectionReader inf = top.section("inference");
  inf.read("max_batch_size", out.inference.maxBatchSize, 1, 1 << 20);
  inf.read("max_tokens", out.inference.maxTokens, 1, kMaxVocab);
  inf.warnUnknownKeys();
  top.warnUnknownKeys();
  return file.errorCount() == before;
}

//===- ModelSpec.cpp - defaults and cross-key checks ------------*- C++ -*-===//
//
// What one key's range check cannot see: relations between keys of the
// model, and the parallel plan against the model. Each error points at the
// config line of the key it is about.
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelSpec.h"
#include "frontend/ConfigFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace strata;
using llvm::StringRef;
using llvm::Twine;

void strata::readRopeScalingParams(SectionReader &section, RopeSpec &rope) {
  section.read("factor", rope.factor, 1.0, 1e6);
  section.read("original_max_position_embeddings", rope.originalMaxPosition, 1,
               kMaxVocab);
  section.read("beta_fast", rope.betaFast, 0.0, 1e6, /*minExclusive=*/true);
  section.read("beta_slow", rope.betaSlow, 0.0, 1e6, /*minExclusive=*/true);
  section.read("mscale", rope.mscale, 0.0, 1e6);
  section.read("mscale_all_dim", rope.mscaleAllDim, 0.0, 1e6);
}

bool ModelSpec::isMoELayer(int64_t i) const {
  if (!isMoE() || i < moe.firstDenseLayers || i % moe.layerFreq != 0)
    return false;
  return !llvm::is_contained(moe.denseLayers, i);
}

namespace {

/// Reports at the position of a recorded key, or the model section.
struct ModelChecker {
  ConfigFile &file;
  const ModelSpec &m;
  bool ok = true;

  void fail(StringRef key, const Twine &msg) {
    ok = false;
    auto it = m.locs.find(key);
    llvm::SMLoc loc = it != m.locs.end() ? it->second : llvm::SMLoc();
    if (!loc.isValid())
      if (auto model = m.locs.find("model"); model != m.locs.end())
        loc = model->second;
    file.error(loc, msg);
  }
};

} // namespace

double strata::estimateParams(const ModelSpec &m) {
  double d = m.hiddenSize, v = m.vocabSize;
  double attn = 4.0 * d * m.numHeads * std::max<int64_t>(m.headDim, 1);
  if (m.attention.kind == AttentionKind::Latent)
    attn = d * (m.attention.qLoraRank + m.attention.kvLoraRank) +
           m.numHeads * (m.attention.qkNopeHeadDim + m.attention.vHeadDim) *
               (d + m.attention.kvLoraRank + m.attention.qLoraRank);
  double moe = 3.0 * d * m.moe.intermediateSize *
               (m.moe.numExperts + m.moe.numSharedExperts);
  double dense = 3.0 * d * m.intermediateSize;
  return v * d * 2 + m.numLayers * (attn + std::max(moe, dense));
}

bool strata::finalizeModel(ConfigFile &file, ModelSpec &m) {
  ModelChecker c{file, m};
  AttentionSpec &a = m.attention;
  if (a.kind == AttentionKind::Latent) {
    // Latent attention has per-head keys of nope + rope dims and no KV groups.
    m.headDim = a.qkNopeHeadDim + a.qkRopeHeadDim;
    m.numKvHeads = m.numHeads;
    if (a.qkRopeHeadDim % 2)
      c.fail("model.attention", "qk_rope_head_dim (" + Twine(a.qkRopeHeadDim) +
                                    ") must be even for rotary embedding");
  } else if (!m.headDim) {
    if (m.hiddenSize % m.numHeads) {
      c.fail("model.attention",
             "num_attention_heads (" + Twine(m.numHeads) +
                 ") must divide hidden_size (" + Twine(m.hiddenSize) +
                 "), or head_dim must be given");
      return false;
    }
    m.headDim = m.hiddenSize / m.numHeads;
  }
  StringRef kvKey = m.locs.count("model.num_kv_heads") ? "model.num_kv_heads"
                                                        : "model.attention";
  StringRef headDimKey =
      m.locs.count("model.head_dim") ? "model.head_dim" : "model.attention";
  StringRef ropeKey = m.locs.count("model.rope_scaling") ? "model.rope_scaling"
                                                         : "model.attention";
  if (m.numKvHeads > m.numHeads || m.numHeads % m.numKvHeads)
    c.fail(kvKey, "the number of KV heads (" + Twine(m.numKvHeads) +
                                  ") must divide num_attention_heads (" +
                                  Twine(m.numHeads) + ")");
  if (a.kind != AttentionKind::Latent && m.headDim % 2)
    c.fail(headDimKey, "head_dim (" + Twine(m.headDim) +
                                  ") must be even for rotary embedding");
  if (a.kind == AttentionKind::Local && a.window < 1)
    c.fail("model.attention", "local attention needs window >= 1");
  if (m.rope.scaling == mlir::strata::RopeScaling::Yarn &&
      m.rope.originalMaxPosition < 1)
    c.fail(ropeKey, "yarn rope scaling needs "
                              "original_max_position_embeddings");

  // Feed-forward layers.
  bool anyDense = false;
  for (int64_t i = 0; i < m.numLayers; ++i)
    anyDense |= !m.isMoELayer(i);
  if (anyDense && !m.intermediateSize)
    c.fail("model.num_layers",
           m.isMoE() ? "intermediate_size is required: some layers are dense "
                       "FFNs (first_dense_layers, layer_freq)"
                     : "intermediate_size is required for a dense model (or "
                       "give the model experts)");
  if (m.isMoE()) {
    const MoESpec &e = m.moe;
    const RouterSpec &r = e.router;
    bool topKOk = e.topK <= e.numExperts;
    if (!topKOk)
      c.fail("model.moe", "top_k (" + Twine(e.topK) +
                              ") must not exceed the number of experts (" +
                              Twine(e.numExperts) + ")");
    if (!e.intermediateSize)
      c.fail("model.moe", "the experts' intermediate size is required");
    if (e.firstDenseLayers > m.numLayers)
      c.fail("model.moe", "first_dense_layers (" + Twine(e.firstDenseLayers) +
                              ") exceeds num_layers (" + Twine(m.numLayers) +
                              ")");
    if (e.numExperts % r.nGroup)
      c.fail("model.moe", "n_group (" + Twine(r.nGroup) +
                              ") must divide the number of experts (" +
                              Twine(e.numExperts) + ")");
    else if (r.topkGroup > r.nGroup)
      c.fail("model.moe", "topk_group (" + Twine(r.topkGroup) +
                              ") must not exceed n_group (" + Twine(r.nGroup) +
                              ")");
    else if (topKOk && e.topK > r.topkGroup * (e.numExperts / r.nGroup))
      c.fail("model.moe", "top_k (" + Twine(e.topK) +
                              ") exceeds the experts of the topk_group kept "
                              "groups (" +
                              Twine(r.topkGroup * (e.numExperts / r.nGroup)) +
                              ")");
  }
  if (m.compression.enabled &&
      static_cast<int64_t>(m.hiddenSize * m.compression.ratio) < 1)
    c.fail("model.memory_compression",
           "int(hidden_size * ratio) must be >= 1, got hidden_size " +
               Twine(m.hiddenSize) + " and ratio " +
               formatNumber(m.compression.ratio));
  if (!m.heads.lm && !m.heads.numClasses)
    c.fail("model.heads", "the model needs a head: enable lm or give "
                          "classification.num_classes");
  for (auto [name, id] : {std::pair<StringRef, int64_t>{"bos_token_id", m.bosTokenId},
                          {"eos_token_id", m.eosTokenId},
                          {"pad_token_id", m.padTokenId}})
    if (id >= m.vocabSize)
      c.fail("model.vocab_size", name + " (" + Twine(id) +
                                     ") is outside the vocabulary (vocab_size " +
                                     Twine(m.vocabSize) + ")");
  if (m.rope.scaling == mlir::strata::RopeScaling::Yarn &&
      m.rope.betaFast < m.rope.betaSlow)
    c.fail(ropeKey, "yarn rope scaling needs beta_fast (" +
                                  formatNumber(m.rope.betaFast) +
                                  ") >= beta_slow (" +
                                  formatNumber(m.rope.betaSlow) +
                                  ")");
  // Keep every count far from int64 overflow.
  double params = estimateParams(m);
  if (params > 1e14)
    c.fail("model.hidden_size",
           llvm::formatv("the model has about {0:e} parameters; Strata's "
                         "limit is 1e14",
                         params)
               .str());
  return c.ok;
}

bool strata::validateParallel(ConfigFile &file, const StrataConfig &cfg) {
  const ModelSpec &m = cfg.model;
  const ParallelSpec &p = cfg.parallel;
  bool ok = true;
  auto fail = [&](StringRef key, const Twine &msg) {
    ok = false;
    auto flag = p.fromCommandLine.find(key);
    if (flag != p.fromCommandLine.end()) {
      llvm::errs() << "error: " << flag->second << ": " << msg << " (model "
                   << file.path() << ")\n";
      return;
    }
    auto it = p.locs.find(key);
    if (it == p.locs.end())
      it = p.locs.find("parallel");
    file.error(it != p.locs.end() ? it->second : llvm::SMLoc(),
               "parallel." + key + ": " + msg);
  };
  auto mustDivide = [&](StringRef key, int64_t degree, int64_t n,
                        StringRef what) {
    if (n % degree)
      fail(key, Twine(degree) + " does not divide " + what + " (" + Twine(n) +
                    ")");
  };
  if (p.tp > 1) {
    StringRef tp = "tensor_parallel_degree";
    mustDivide(tp, p.tp, m.numHeads, "num_attention_heads");
    if (m.numKvHeads % p.tp && p.tp % m.numKvHeads)
      fail(tp, Twine(p.tp) + " must divide the KV heads (" +
                   Twine(m.numKvHeads) + ") or be a multiple of them");
    if (m.vocabSize % p.tp)
      fail(tp, Twine(p.tp) + " does not divide vocab_size (" +
                   Twine(m.vocabSize) + "); pad the vocabulary to a multiple");
    if (m.intermediateSize)
      mustDivide(tp, p.tp, m.intermediateSize, "intermediate_size");
    if (m.isMoE()) {
      mustDivide(tp, p.tp, m.moe.intermediateSize,
                 "the experts' intermediate size");
      if (m.moe.sharedIntermediateSize)
        mustDivide(tp, p.tp, m.moe.sharedIntermediateSize,
                   "the shared experts' intermediate size");
    }
  }
  if (p.pp > m.numLayers)
    fail("pipeline_parallel_degree",
         Twine(p.pp) + " pipeline stages exceed num_layers (" +
             Twine(m.numLayers) + "); a stage needs at least one layer");
  if (p.ep > 1) {
    if (!m.isMoE())
      fail("expert_parallel_degree", "expert parallelism needs a model with "
                                     "experts");
    else
      mustDivide("expert_parallel_degree", p.ep, m.moe.numExperts,
                 "the number of experts");
    if (p.dp % p.ep)
      fail("expert_parallel_degree",
           Twine(p.ep) + " must divide data_parallel_degree (" + Twine(p.dp) +
               "): expert groups are drawn from data-parallel ranks");
  }
  const TrainingSpec &t = cfg.training;
  auto trainingError = [&](StringRef key, const Twine &msg) {
    ok = false;
    auto it = t.locs.find(key);
    file.error(it != t.locs.end() ? it->second : llvm::SMLoc(),
               "training." + key + ": " + msg);
  };
  int64_t perStep = p.dp * t.gradientAccumulationSteps;
  if (t.batchSize > 0) {
    if (t.batchSize % perStep)
      trainingError("batch_size",
                    Twine(t.batchSize) +
                        " must be a multiple of data_parallel_degree x "
                        "gradient_accumulation_steps (" +
                        Twine(p.dp) + " x " +
                        Twine(t.gradientAccumulationSteps) + ")");
    else if ((t.batchSize / perStep) % p.microBatches)
      fail("num_micro_batches",
           Twine(p.microBatches) + " does not divide the per-rank batch (" +
               Twine(t.batchSize / perStep) + ")");
  }
  if (t.seqLen > m.maxSeqLen)
    trainingError("seq_len", Twine(t.seqLen) +
                                 " exceeds the model's maximum sequence "
                                 "length (" +
                                 Twine(m.maxSeqLen) + ")");
  if (p.tp * p.pp * p.dp > (int64_t(1) << 20))
    fail("data_parallel_degree", "more than 1048576 ranks in total");
  return ok;
}

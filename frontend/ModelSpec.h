//===- ModelSpec.h - the validated model, training and parallel plan -*- C++ -*-===//
//
// One description of a model that both config formats (the seed's YAML and
// HuggingFace config.json) are read into, validated once, and built into
// IR from. Each field that produces IR remembers the config position it
// came from, so ops carry the config line:column as their location.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_FRONTEND_MODELSPEC_H
#define STRATA_FRONTEND_MODELSPEC_H

#include "dialect/StrataDialect.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace strata {

class ConfigFile;
class SectionReader;

/// Sanity limits on sizes read from configs (both formats).
constexpr int64_t kMaxDim = int64_t(1) << 20;   ///< hidden, FFN widths, ranks
constexpr int64_t kMaxVocab = int64_t(1) << 24; ///< vocabulary, positions

enum class AttentionKind { Full, Local, BlockSparse, Latent };
enum class GateKind { Linear, MLP };

struct RopeSpec {
  double theta = 10000.0;
  mlir::strata::RopeScaling scaling = mlir::strata::RopeScaling::None;
  double factor = 1.0;
  int64_t originalMaxPosition = 0;
  double betaFast = 32.0, betaSlow = 1.0, mscale = 1.0, mscaleAllDim = 0.0;
  /// Pairs dims (2i, 2i+1) as DeepSeek's checkpoints; else rotate_half.
  bool interleaved = false;
};

struct AttentionSpec {
  AttentionKind kind = AttentionKind::Full;
  bool causal = true;
  int64_t window = 0; ///< Local attention window (keys), 0 = none.
  int64_t blockSize = 64, numLocalBlocks = 1, numGlobalBlocks = 1,
          numRandomBlocks = 3, seed = 0;
  std::optional<double> softmaxScale;
  bool qkvBias = false; ///< Biases on q/k/v projections (Qwen).
  bool outputBias = false;
  // Multi-head latent attention (DeepSeek-V2/V3).
  int64_t qLoraRank = 0, kvLoraRank = 0, qkNopeHeadDim = 0, qkRopeHeadDim = 0,
          vHeadDim = 0;
};

struct RouterSpec {
  GateKind gate = GateKind::Linear;
  int64_t mlpHidden = 256; ///< The seed's gate: d -> 256 -> E with GELU.
  mlir::strata::RouterScoring scoring = mlir::strata::RouterScoring::Softmax;
  double noiseStd = 0.0;
  bool normTopkProb = false;
  double routedScalingFactor = 1.0;
  int64_t nGroup = 1, topkGroup = 1;
  mlir::strata::BalanceKind balance = mlir::strata::BalanceKind::None;
  double auxLossCoef = 0.0, biasUpdateRate = 0.0;
  bool correctionBias = false; ///< V3's e_score_correction_bias.
};

struct MoESpec {
  int64_t numExperts = 0; ///< 0: every layer is a dense FFN.
  int64_t topK = 2;
  double capacityFactor = 0.0;
  int64_t intermediateSize = 0;
  int64_t numSharedExperts = 0;
  int64_t sharedIntermediateSize = 0; ///< 0: numSharedExperts * intermediate.
  bool sharedExpertGate = false; ///< Qwen2-MoE: sigmoid(linear(x)) * shared.
  int64_t firstDenseLayers = 0;
  int64_t layerFreq = 1;
  std::vector<int64_t> denseLayers; ///< Extra dense layers (Qwen mlp_only).
  RouterSpec router;
  /// Checkpoint names: the MoE module ("mlp"; Mixtral "block_sparse_moe")
  /// and its experts' gate/up/down projections (Mixtral: w1/w3/w2).
  std::string moduleName = "mlp";
  std::string gateName = "gate_proj", upName = "up_proj",
              downName = "down_proj";
};

struct CompressionSpec {
  bool enabled = false;
  double ratio = 0.4;
  mlir::strata::Activation activation = mlir::strata::Activation::Gelu;
  double eps = 1e-5;
};

struct HeadsSpec {
  bool lm = true;
  int64_t numClasses = 0; ///< 0: no classification head.
  mlir::strata::Pooling pooling = mlir::strata::Pooling::Last;
};

struct ModelSpec {
  std::string name;
  std::string format; ///< "yaml" or "hf:<model_type>".
  /// The dtype the checkpoint's weights are saved in: "bf16" or "f16" where
  /// a HuggingFace config's torch_dtype (or dtype) says so, else "f32".
  /// strata-compile's --weights-dtype auto stores the matrix weights in it.
  std::string checkpointDtype = "f32";
  int64_t vocabSize = 0, hiddenSize = 0, numLayers = 0;
  int64_t numHeads = 0, numKvHeads = 0, headDim = 0;
  int64_t maxSeqLen = 2048;
  int64_t intermediateSize = 0; ///< Dense FFN width.
  double normEps = 1e-6;
  double attentionDropout = 0.0, hiddenDropout = 0.0;
  bool tieWordEmbeddings = false;
  double initializerRange = 0.02;
  bool mlpBias = false; ///< Biases on dense FFN projections (Llama mlp_bias).
  int64_t bosTokenId = -1, eosTokenId = -1, padTokenId = -1;
  int64_t mtpLayers = 0; ///< Multi-token prediction modules (not built).
  AttentionSpec attention;
  RopeSpec rope;
  MoESpec moe;
  CompressionSpec compression;
  HeadsSpec heads;

  /// Config positions of the keys that produce IR, by qualified key
  /// ("model.hidden_size", "model.attention", ...).
  llvm::StringMap<llvm::SMLoc> locs;

  bool isMoE() const { return moe.numExperts > 0; }
  /// Whether layer `i` uses routed experts (else a dense FFN).
  bool isMoELayer(int64_t i) const;
};

enum class OptimizerKind { Lion, AdamW, Sgd };

struct TrainingSpec {
  bool present = false; ///< The config has a training section.
  std::string precision = "bfloat16";
  OptimizerKind optimizer = OptimizerKind::AdamW;
  double lr = 3e-4, weightDecay = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double gradientClipping = 0.0; ///< Global-norm clip, 0 = off.
  std::string schedule = "constant";
  int64_t warmupSteps = 0, totalSteps = 0;
  double minLrRatio = 0.0;
  int64_t checkpointInterval = 0, checkpointKeepLast = 0;
  int64_t gradientAccumulationSteps = 1;
  int64_t batchSize = 0, seqLen = 0; ///< Global batch; 0 = not given.
  int64_t seed = 0;
  int64_t ignoreIndex = -100;
  /// float16's dynamic loss scale: where it starts, and after how many
  /// steps without an overflow it doubles (torch.amp.GradScaler's).
  double lossScaleInit = 65536.0;
  int64_t lossScaleGrowthInterval = 2000;
  llvm::StringMap<llvm::SMLoc> locs; ///< "batch_size", "seq_len"
};

struct ParallelSpec {
  int64_t tp = 1, pp = 1, dp = 1, ep = 1;
  bool optimizerSharding = false; ///< ZeRO-1 over the data-parallel group.
  int64_t microBatches = 1;
  llvm::StringMap<llvm::SMLoc> locs;
  /// Config keys whose degree was overridden by a flag (--tp, ...).
  llvm::StringMap<std::string> fromCommandLine;
};

struct InferenceSpec {
  int64_t maxBatchSize = 32;
  int64_t maxTokens = 4096; ///< Token budget of one dynamic batch.
};

/// The seed YAML's `quantization` section: strata-compile --quantize and
/// --quantize-lm-head from the config (the flags win).
struct QuantizationSpec {
  enum class Scheme { None, W8A16, W8A8Dynamic, W8A8 } scheme = Scheme::None;
  bool lmHead = false;
};

/// Everything a config says.
struct StrataConfig {
  ModelSpec model;
  TrainingSpec training;
  ParallelSpec parallel;
  InferenceSpec inference;
  QuantizationSpec quantization;
};

/// Reads `file` (either format) into `out` and finalizes the model; errors
/// are reported on the file. The parallel plan is checked separately, after
/// command-line overrides, by validateParallel.
bool readConfig(ConfigFile &file, StrataConfig &out);
/// The seed's YAML form: model, training, parallel, inference sections.
bool readSeedConfig(ConfigFile &file, StrataConfig &out);
/// HuggingFace config.json of deepseek_v3, deepseek_v2, deepseek, mixtral,
/// qwen2_moe or llama.
bool readHFConfig(ConfigFile &file, StrataConfig &out);

/// Reads the scaling parameters shared by both formats' rope-scaling maps
/// (factor, original_max_position_embeddings, beta_fast, beta_slow, mscale,
/// mscale_all_dim); the scaling type is spelled differently by each.
void readRopeScalingParams(SectionReader &section, RopeSpec &rope);

/// Derives defaults (head_dim, ...) and checks what spans several keys
/// (heads divide hidden, top_k <= experts, ...).
bool finalizeModel(ConfigFile &file, ModelSpec &model);
/// Checks the parallel plan against the model: divisibility of heads,
/// widths, vocab, layers, experts and batch. Degrees set on the command line
/// (listed in `parallel.fromCommandLine`) are reported as flags.
bool validateParallel(ConfigFile &file, const StrataConfig &config);
/// Estimated parameter count from the spec alone (for sanity limits).
double estimateParams(const ModelSpec &model);

} // namespace strata

#endif // STRATA_FRONTEND_MODELSPEC_H

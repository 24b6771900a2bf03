//===- PlanReport.h - per-rank memory and communication of a plan -*- C++ -*-=//
//
// What one rank of each kind holds and sends under the module's parallel
// plan (#strata.parallel): the pipeline stage's layers (balanced by FLOPs),
// its parameters after the tensor- and expert-parallel splits, the bytes of
// weights, gradients and optimizer state (ZeRO-1 dividing the last over the
// data-parallel ranks), activations per micro-batch, KV cache per token,
// and the payload each collective carries per step, by mesh axis. Ranks of
// one stage are alike, so a stage is a rank kind.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_PASSES_PLANREPORT_H
#define STRATA_PASSES_PLANREPORT_H

#include "passes/ModelStats.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir::strata {

/// One collective's traffic per step on one mesh axis: `calls` invocations
/// whose buffers hold `bytes` in all (the payload each rank passes in; what
/// crosses the wire depends on the algorithm, e.g. a ring all-reduce sends
/// about twice the payload).
struct CommVolume {
  std::string collective; ///< all_reduce, reduce, broadcast, all_to_all,
                          ///< all_gather, send, recv.
  std::string axis;       ///< tp, pp, dp, dp/ep (the routed experts'
                          ///< data-parallel group), ep.
  int64_t calls = 0;
  int64_t bytes = 0;
};

/// One rank of a pipeline stage.
struct RankKind {
  int64_t stage = 0;
  int64_t ranks = 0;               ///< Ranks of this kind: tp x dp.
  std::vector<std::string> groups; ///< embed, layers.N, head.
  int64_t params = 0;
  int64_t weightBytes = 0;
  int64_t gradientBytes = 0;        ///< Training: f32 gradients.
  int64_t optimizerBytes = 0;       ///< Training: the optimizer's f32 state.
  int64_t activationBytes = 0;      ///< Per micro-batch.
  int64_t microBatchesInFlight = 1; ///< Activations held at once (1F1B).
  int64_t kvBytesPerToken = 0;
  int64_t kvCacheBytes = 0; ///< Inference: for the batch of full sequences.
  int64_t totalBytes = 0;
  std::vector<CommVolume> comm;
};

struct PlanReport {
  int64_t tp = 1, pp = 1, dp = 1, ep = 1, zeroStage = 0;
  bool training = false;
  /// Training: --recompute=layer keeps only each layer's input for the
  /// backward (the default); otherwise every forward result is kept.
  bool recomputeLayers = true;
  int64_t accumulation = 1;
  /// Training: the config gave a batch_size that the plan divides; else
  /// one sequence per micro-batch is assumed.
  bool batchGiven = false;
  /// Training: sequences per micro-batch and their length. Inference:
  /// one sequence of inference.max_tokens (a prefill's token budget).
  int64_t rowsPerMicroBatch = 1, seqLen = 1;
  int64_t tokensPerMicroBatch = 1;
  int64_t microBatchesPerStep = 1;
  int64_t kvTokens = 0; ///< Inference: the cache the total assumes.
  bool hasExperts = false;
  std::vector<RankKind> kinds;
  int64_t numLayers = 0;
  /// Where a count overflowed int64 (its figures are meaningless): a
  /// parameter count (kStatsOverflow) or, `bytesOverflow`, a byte count.
  Operation *overflow = nullptr;
  bool bytesOverflow = false;
};

/// The error reported at PlanReport::overflow.
inline constexpr llvm::StringLiteral kPlanOverflow =
    "the plan's byte counts exceed 2^63 - 1 (a context or batch too large "
    "to hold); no plan report";

/// The plan's pipeline stages: each layer's stage (layers in order of the
/// model's `layers.N` groups), the layers balanced by forward FLOPs
/// (parameters when the model has none), the embedding's cost on stage 0
/// and the head's on the last. The plan report and strata-pipeline both
/// split by it, so the report describes the programs that run.
struct PipelineStages {
  int64_t stages = 1; ///< pp, or fewer when the model has fewer layers
  std::vector<std::string> layerNames;
  std::vector<int64_t> stageOf; ///< by layer
};
PipelineStages pipelineStages(const ModelStats &stats, int64_t pp);

/// The report of `module`'s plan. Training when the module has training
/// entry points: micro-batches of training.batch_size / (dp x accumulation
/// x micro_batches) sequences of `seqLen` tokens. Otherwise inference:
/// one prefill of inference.max_tokens tokens and a KV cache of
/// inference.max_batch_size sequences of `seqLen` tokens.
PlanReport computePlanReport(ModuleOp module, int64_t seqLen,
                             bool recomputeLayers = true);

/// The largest kind's total against `deviceMemory` bytes: an error at the
/// module naming the stage, what fills it and the axes that would shrink it.
LogicalResult checkDeviceMemory(ModuleOp module, const PlanReport &report,
                                int64_t deviceMemory);

/// "80GiB", "80GB", "8e10", "85899345920" -> bytes; nullopt if malformed.
std::optional<int64_t> parseByteSize(llvm::StringRef text);

/// The report as JSON (the `plan` member of --stats=json).
llvm::json::Value planToJson(const PlanReport &report);
void printPlanTable(const PlanReport &report, llvm::raw_ostream &os);

} // namespace mlir::strata

#endif // STRATA_PASSES_PLANREPORT_H

//===- StrataAttrs.cpp - Strata attribute verifiers -------------*- C++ -*-===//
//
// Verifiers for #strata.rope and #strata.block_sparse; the constraint ids
// (rope_c1, ...) are those of docs/spec.md.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::strata;

#include "dialect/StrataEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/StrataAttrs.cpp.inc"

void StrataDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/StrataAttrs.cpp.inc"
      >();
}

LogicalResult RopeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               APFloat thetaF, RopeScaling scaling,
                               APFloat factorF, int64_t originalMaxPosition,
                               APFloat betaFastF, APFloat betaSlowF, APFloat,
                               APFloat) {
  double theta = thetaF.convertToDouble(), factor = factorF.convertToDouble();
  double betaFast = betaFastF.convertToDouble();
  double betaSlow = betaSlowF.convertToDouble();
  if (!(theta > 0))
    return emitError() << "rope_c1: theta must be > 0, got " << theta;
  if (!(factor >= 1))
    return emitError() << "rope_c2: factor must be >= 1, got " << factor;
  if (scaling != RopeScaling::Yarn)
    return success();
  if (originalMaxPosition < 1)
    return emitError() << "rope_c3: original_max_position must be >= 1 for "
                          "yarn scaling, got "
                       << originalMaxPosition;
  if (!(betaSlow > 0) || !(betaFast >= betaSlow))
    return emitError() << "rope_c4: yarn needs beta_fast >= beta_slow > 0, got "
                          "beta_fast = "
                       << betaFast << ", beta_slow = " << betaSlow;
  return success();
}

LogicalResult
BlockSparseAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t blockSize, int64_t numLocalBlocks,
                        int64_t numGlobalBlocks, int64_t numRandomBlocks,
                        int64_t seed) {
  if (blockSize < 1)
    return emitError() << "sparse_c1: block_size must be >= 1, got "
                       << blockSize;
  if (numLocalBlocks < 1)
    return emitError() << "sparse_c2: num_local_blocks must be >= 1, got "
                       << numLocalBlocks;
  if (numGlobalBlocks < 0 || numRandomBlocks < 0)
    return emitError() << "sparse_c3: num_global_blocks and num_random_blocks "
                          "must be >= 0";
  return success();
}

SmallVector<int64_t> ParallelAttr::getGridShape() const {
  return {getPp(), getDp() / getEp(), getEp(), getTp()};
}

LogicalResult ParallelAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   FlatSymbolRefAttr grid, int64_t tp,
                                   int64_t pp, int64_t dp, int64_t ep,
                                   int64_t zeroStage, int64_t microBatches) {
  if (!grid)
    return emitError() << "plan_c4: the parallel plan needs a grid symbol";
  for (auto [name, value] :
       {std::pair<StringRef, int64_t>{"tp", tp}, {"pp", pp}, {"dp", dp},
        {"ep", ep}, {"micro_batches", microBatches}})
    if (value < 1)
      return emitError() << "plan_c1: " << name << " must be >= 1, got "
                         << value;
  if (dp % ep)
    return emitError() << "plan_c2: ep (" << ep << ") must divide dp (" << dp
                       << ")";
  if (zeroStage != 0 && zeroStage != 1)
    return emitError() << "plan_c3: zero_stage must be 0 or 1, got "
                       << zeroStage;
  return success();
}

LogicalResult TrainingAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, Optimizer, APFloat lr,
    APFloat, APFloat beta1, APFloat beta2, APFloat eps, LrSchedule,
    int64_t warmupSteps, int64_t totalSteps, APFloat minLrRatio, APFloat,
    int64_t accumulationSteps, Precision, LossScaling, int64_t, int64_t, int64_t,
    int64_t, int64_t, int64_t, APFloat lossScaleInit,
    int64_t lossScaleGrowthInterval) {
  double b1 = beta1.convertToDouble(), b2 = beta2.convertToDouble();
  if (!(lr.convertToDouble() > 0) || !(eps.convertToDouble() > 0) ||
      !(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1))
    return emitError() << "train_c1: needs lr > 0, eps > 0 and 0 <= beta1, "
                          "beta2 < 1";
  if (totalSteps > 0 && warmupSteps > totalSteps)
    return emitError() << "train_c2: warmup_steps (" << warmupSteps
                       << ") exceeds total_steps (" << totalSteps << ")";
  if (accumulationSteps < 1)
    return emitError() << "train_c3: accumulation_steps must be >= 1, got "
                       << accumulationSteps;
  double ratio = minLrRatio.convertToDouble();
  if (!(ratio >= 0 && ratio <= 1))
    return emitError() << "train_c4: min_lr_ratio must be in [0, 1], got "
                       << ratio;
  double scale = lossScaleInit.convertToDouble();
  if (!(scale > 0 && std::isfinite(scale)) || lossScaleGrowthInterval < 1)
    return emitError() << "train_c5: needs a finite loss_scale_init > 0 and "
                          "loss_scale_growth_interval >= 1, got "
                       << scale << " and " << lossScaleGrowthInterval;
  return success();
}

LogicalResult
InferenceAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      int64_t maxBatchSize, int64_t maxTokens) {
  if (maxBatchSize < 1 || maxTokens < 1)
    return emitError() << "infer_c1: max_batch_size and max_tokens must be "
                          ">= 1";
  return success();
}

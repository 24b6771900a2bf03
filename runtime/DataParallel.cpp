//===- DataParallel.cpp - a training step split over data-parallel ranks --===//

#include "runtime/DataParallel.h"

using namespace strata::runtime;

strata_status_code strata::runtime::shareOfBatch(const strata_session &s,
                                                 size_t batch, size_t micro,
                                                 size_t &first, size_t &rows,
                                                 strata_status *status) {
  size_t ranks = static_cast<size_t>(s.parallel.dpSize());
  if (batch % (ranks * micro))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "a batch of %zu sequences does not split into %zu "
                "data-parallel ranks x %zu micro-batches (the executable's "
                "gradient accumulation steps times its plan's micro-batches): "
                "use a multiple of %zu",
                batch, ranks, micro, ranks * micro);
  rows = batch / ranks;
  first = static_cast<size_t>(s.parallel.dpRank()) * rows;
  return ok(status);
}

strata_status_code strata::runtime::reduceOverDataParallel(
    strata_session &s, Weights &sums, double &lossSum, int64_t &labelled,
    int64_t &dropped, strata_status *status) {
  if (s.parallel.dpSize() == 1)
    return ok(status);
  Communicator &group = *s.parallel.dataParallel;
  // One call per parameter: a parameter's gradient is contiguous already.
  for (size_t i = 0; i < sums.size(); ++i)
    if (strata_status_code code = group.allReduceSum(
            sums[i].data.get(), sums[i].elements, STRATA_COMM_F32, status))
      return code;
  return reduceScalarsOverDataParallel(s, lossSum, labelled, dropped, status);
}

strata_status_code strata::runtime::reduceScalarsOverDataParallel(
    strata_session &s, double &lossSum, int64_t &labelled, int64_t &dropped,
    strata_status *status) {
  if (s.parallel.dpSize() == 1)
    return ok(status);
  Communicator &group = *s.parallel.dataParallel;
  for (auto &[parameter, load] : s.training.expertLoads)
    if (strata_status_code code = group.allReduceSum(
            load.data(), load.size(), STRATA_COMM_I32, status))
      return code;
  // A rank reports -1 dropped exactly when the model has no capacity,
  // which every rank shares.
  int64_t counts[2] = {labelled, dropped < 0 ? 0 : dropped};
  if (strata_status_code code =
          group.allReduceSum(&lossSum, 1, STRATA_COMM_F64, status))
    return code;
  if (strata_status_code code =
          group.allReduceSum(counts, 2, STRATA_COMM_I64, status))
    return code;
  labelled = counts[0];
  if (dropped >= 0)
    dropped = counts[1];
  return ok(status);
}

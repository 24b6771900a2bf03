//===- DataParallel.h - a training step split over data-parallel ranks -*- C++ -*-===//
//
// Every data-parallel rank is given the same global batch and trains on
// its own rows; the group sums what the rows produced, weighted by their
// labelled tokens, so the update is the one a single rank would make on
// the whole batch.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_DATAPARALLEL_H
#define STRATA_RUNTIME_DATAPARALLEL_H

#include "runtime/Session.h"

namespace strata::runtime {

/// This rank's rows of a global batch of `batch` rows that each rank
/// splits into `micro` micro-batches: [*first, *first + *rows).
strata_status_code shareOfBatch(const strata_session &s, size_t batch,
                                size_t micro, size_t &first, size_t &rows,
                                strata_status *status);

/// Over the data-parallel group, sums: of the gradients and the loss
/// (each weighted by its labelled tokens), of the labelled tokens, the
/// dropped assignments and the expert loads.
strata_status_code reduceOverDataParallel(strata_session &s, Weights &sums,
                                          double &lossSum, int64_t &labelled,
                                          int64_t &dropped,
                                          strata_status *status);

/// The scalars of reduceOverDataParallel alone (ZeRO-1 reduces the
/// gradients to their owners instead).
strata_status_code reduceScalarsOverDataParallel(strata_session &s,
                                                 double &lossSum,
                                                 int64_t &labelled,
                                                 int64_t &dropped,
                                                 strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_DATAPARALLEL_H

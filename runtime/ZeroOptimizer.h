//===- ZeroOptimizer.h - ZeRO stage 1 over the data-parallel ranks -*- C++ -*-===//
//
// The optimizer state sharded by parameter (as torch's
// ZeroRedundancyOptimizer does): each data-parallel rank owns some of the
// trained parameters, balanced by elements, and keeps their optimizer state
// alone. A step reduces each gradient to its owner, sums the owners' squared
// norms into the global one, lets each owner update its parameters with the
// compiled optimizer_update, and broadcasts every parameter from its owner.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_ZEROOPTIMIZER_H
#define STRATA_RUNTIME_ZEROOPTIMIZER_H

#include "runtime/Session.h"

namespace strata::runtime {

/// On joining a world: owners of the trained parameters when the plan
/// shards the optimizer state over more than one data-parallel rank
/// (otherwise nothing).
strata_status_code assignStateOwners(strata_session &s, strata_status *status);

/// Whether the session's optimizer state is sharded.
bool shardsOptimizerState(const strata_session &s);

/// Zeros for the state of the parameters this rank owns; none for the rest.
strata_status_code allocateOwnedState(strata_session &s, strata_status *status);

/// Everything of a ZeRO-1 step after the micro-batches: `sums` are the
/// token-weighted gradient sums and `lossSum` the loss's; fills the
/// metrics (loss, tokens, dropped, lr, grad_norm, skipped).
strata_status_code zeroUpdate(strata_session &s, Weights &sums,
                              double lossSum, strata_train_metrics &m,
                              strata_status *status);

/// Collective: rank 0 of the data-parallel group ends with the whole
/// optimizer state (to save it); the others keep theirs.
strata_status_code gatherOptimizerState(strata_session &s,
                                        strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_ZEROOPTIMIZER_H

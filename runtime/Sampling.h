//===- Sampling.h - picking the next token ----------------------*- C++ -*-===//

#ifndef STRATA_RUNTIME_SAMPLING_H
#define STRATA_RUNTIME_SAMPLING_H

#include "runtime/Internal.h"

#include <cstdint>

namespace strata::runtime {

/// The generator every random choice of the runtime draws from.
uint64_t splitmix64(uint64_t x);

/// `options`, or the greedy defaults when null, checked.
strata_status_code resolveSampling(const strata_sampling_options *options,
                                   strata_sampling_options &opts,
                                   strata_status *status);

/// Picks the next token from one row of logits; advances `state` when it
/// draws. Greedy picks the first largest logit that is not NaN (token 0
/// when all are NaN); sampling gives NaN logits probability 0.
int32_t sampleToken(const float *logits, int64_t vocab,
                    const strata_sampling_options &opts, uint64_t &state);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_SAMPLING_H

//===- ExpertExchange.h - an expert-parallel program's all-to-alls -*- C++
//-*-===//
//
// What the CPU kernels' expert hooks do (runtime/abi.h): the group's
// routing gathered and localised to the rank's experts, and token rows
// sent to the ranks holding their experts and back. Rank c of a group of G
// holds experts [c * E / G, (c + 1) * E / G). Every rank derives every
// message size from the same gathered routing, so no sizes travel.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_EXPERTEXCHANGE_H
#define STRATA_RUNTIME_EXPERTEXCHANGE_H

#include "runtime/strata.h"

#include <cstdint>

namespace strata::runtime {

class Communicator;

/// strata.expert_route: `pairs` = tokens * topK of this rank's routing in,
/// the group's `rowPairs` = G * pairs out (rank order), ids of this rank's
/// experts made local, every other id -1 with weight 0.
strata_status_code expertRoute(Communicator &group, int64_t topK,
                               int64_t numExperts, const float *weights,
                               const int32_t *indices, int64_t pairs,
                               float *rowWeights, int32_t *rowIndices,
                               int64_t rowPairs, strata_status *status);

/// strata.expert_dispatch (`combine` false: this rank's tokens in, the
/// group's rows out) and strata.expert_combine (the rows in, this rank's
/// tokens out, summed over the ranks that sent them). Rows are `width`
/// floats; `indices` is this rank's routing, `rowIndices` expertRoute's.
strata_status_code expertExchange(Communicator &group, bool combine,
                                  int64_t width, int64_t topK,
                                  int64_t numExperts, const float *input,
                                  int64_t inputCount, const int32_t *rowIndices,
                                  int64_t rowPairs, const int32_t *indices,
                                  int64_t pairs, float *output,
                                  int64_t outputCount, strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_EXPERTEXCHANGE_H

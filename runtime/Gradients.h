//===- Gradients.h - a training step's gradients ----------------*- C++ -*-===//

#ifndef STRATA_RUNTIME_GRADIENTS_H
#define STRATA_RUNTIME_GRADIENTS_H

#include "runtime/Session.h"

#include <vector>

namespace strata::runtime {

/// Runs loss_grad on a batch: the loss to `*loss`, every parameter's
/// gradient to session.gradients (f32), and the number of labels that are
/// not ignored to `*labelled` and the (token, expert) assignments the
/// experts' capacity dropped to `*dropped` (-1 without a capacity limit),
/// each when not null. With `summed` the gradients are of the loss summed
/// over the labelled tokens rather than their mean: loss_grad's backward
/// is seeded with their number (an expert-parallel program's loss_grad
/// takes that seed, since each expert's gradient sums every rank's
/// tokens); the loss stays the mean.
strata_status_code computeGradients(strata_session &session,
                                    const int32_t *tokens,
                                    const int32_t *labels, size_t batch,
                                    size_t seq, float *loss, int64_t *labelled,
                                    int64_t *dropped, strata_status *status,
                                    bool summed = false);

/// A tensor-parallel rank's gradient of its slice of a parameter (the
/// result `descriptor`, for `param`, a Parameter argument with a
/// shard_dim) gathered with the other ranks' into `whole`: part r of
/// `shard_count` along `shard_dim` from tp rank r. Every rank then holds
/// the same whole gradient, as one process does.
strata_status_code gatherSlices(strata_session &s,
                                const strata::fb::Argument *param,
                                const int64_t *descriptor, HostTensor &whole,
                                strata_status *status);

/// The ignore index of labels (cross-entropy skips them).
constexpr int32_t kIgnoreIndex = -100;

/// `labels`, or each position's next token with the last one ignored,
/// into `out`; an id outside the vocabulary (and not kIgnoreIndex) fails.
strata_status_code resolveLabels(const strata::fb::Metadata *meta,
                                 const int32_t *tokens, const int32_t *labels,
                                 size_t batch, size_t seq,
                                 std::vector<int32_t> &out,
                                 strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_GRADIENTS_H

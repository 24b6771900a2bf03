//===- Pipeline.h - a launch's pipeline stages --------------------*- C++
//-*-===//
//
// A pipeline-parallel launch: each rank runs its stage's program (the
// executable's stages[pp coordinate]) and passes the stage's boundary
// values — the hidden state — to the next stage's rank, and in training
// their gradients back, point to point over the pipeline group.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_PIPELINE_H
#define STRATA_RUNTIME_PIPELINE_H

#include "runtime/Session.h"

#include <vector>

namespace strata::runtime {

class CallFrame;
struct Results;

/// A stage boundary's value (or its gradient) on the host, row-major.
struct BoundaryValue {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
using BoundaryValues = std::vector<BoundaryValue>; ///< by boundary index

/// Adds Boundary (or BoundaryGrad) argument `arg` of `ep` to `frame`:
/// value `arg->index()` of `values`.
strata_status_code addBoundary(CallFrame &frame,
                               const strata::fb::EntryPoint *ep,
                               const strata::fb::Argument *arg,
                               const BoundaryValues &values,
                               strata_status *status);

/// Before this rank's stage calls `ep`: the Boundary values its arguments
/// take, from the previous stage's rank (none on stage 0).
strata_status_code receiveBoundary(strata_session &s,
                                   const strata::fb::EntryPoint *ep,
                                   BoundaryValues &in, strata_status *status);

/// After the call: its Boundary results to the next stage's rank (none
/// from the last stage), returning once they are sent.
strata_status_code sendBoundary(strata_session &s,
                                const strata::fb::EntryPoint *ep,
                                const Results &results, strata_status *status);

/// forward through the stages: the first takes the tokens, each passes its
/// boundary values on, the last's logits ([batch, seq, vocab], f32) are
/// broadcast, so every rank returns them in `logits`.
strata_status_code pipelineForward(strata_session &s, const int32_t *tokens,
                                   size_t batch, size_t seq, float *logits,
                                   strata_status *status);

/// The gradients of a step's `micro` micro-batches of `rows` sequences
/// through the stages, in a 1F1B schedule: each micro-batch's gradient
/// of its mean loss weighted by its labelled tokens and summed into `sum`
/// (the session's accumulator) — this stage's parameters' only — and
/// summed over the pipeline group, so every rank then holds every
/// parameter's (a tied embedding's two stages added), with the loss sum,
/// the labelled tokens, the dropped assignments (-1 without a capacity)
/// and the expert loads, as TrainingState::accumulate would on one rank.
strata_status_code pipelineGradients(strata_session &s, const int32_t *tokens,
                                     const int32_t *labels, size_t rows,
                                     size_t seq, size_t micro, Weights *&sum,
                                     double &lossSum, int64_t &labelled,
                                     int64_t &dropped, strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_PIPELINE_H

//===- Pipeline.cpp - a launch's pipeline stages --------------------------===//
//
// Stage k of P runs its program's entry points and talks to its
// neighbours only: boundary values go to k + 1 (forward tag), their
// gradients to k - 1 (backward tag). Sends do not wait for the receiver
// (their bytes live until the call ends), receives do, so the 1F1B order
// below cannot deadlock: every receive's message was sent by a rank that
// needed nothing from this one first.
//
//===----------------------------------------------------------------------===//

#include "runtime/Pipeline.h"
#include "runtime/EntryCall.h"
#include "runtime/Gradients.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>

using namespace strata::runtime;
using strata::fb::ArgumentKind;
using strata::fb::ResultKind;

namespace {

constexpr int kForwardTag = 11;  ///< boundary values, stage k to k + 1
constexpr int kBackwardTag = 12; ///< their gradients, stage k + 1 to k
/// A message's header: the value's rank, then its dims.
constexpr size_t kHeaderWords = 8;

using Value = BoundaryValue;
using Values = BoundaryValues;

/// The results of `kind` a call of `ep` returned, by index.
void collect(const strata::fb::EntryPoint *ep, const Results &results,
             ResultKind kind, Values &out) {
  out.clear();
  for (size_t r = 0; r < ep->results()->size(); ++r) {
    const auto *res = ep->results()->Get(r);
    if (res->kind() != kind)
      continue;
    size_t index = static_cast<size_t>(res->index());
    if (out.size() <= index)
      out.resize(index + 1);
    const int64_t *d = results.descriptor(r);
    size_t rank = res->shape()->size();
    Value &v = out[index];
    v.shape.assign(d + 3, d + 3 + rank);
    size_t elements = 1;
    for (int64_t dim : v.shape)
      elements *= static_cast<size_t>(dim);
    v.data.resize(elements);
    copyRowMajor(d, rank, v.data.data());
  }
}

/// The messages of one call to the neighbouring stages.
class Link {
public:
  explicit Link(Communicator &group) : group(group) {}

  /// Starts sending `values` to stage `peer`.
  strata_status_code send(int peer, int tag, const Values &values,
                          strata_status *status) {
    for (const Value &v : values) {
      std::vector<int64_t> &header = headers.emplace_back(kHeaderWords, 0);
      header[0] = static_cast<int64_t>(v.shape.size());
      std::copy(v.shape.begin(), v.shape.end(), header.begin() + 1);
      const std::vector<float> &payload = payloads.emplace_back(v.data);
      if (strata_status_code code = group.send(
              header.data(), kHeaderWords * sizeof(int64_t), peer, tag, status))
        return code;
      if (strata_status_code code =
              group.send(payload.data(), payload.size() * sizeof(float), peer,
                         tag, status))
        return code;
    }
    return STRATA_OK;
  }

  /// Receives from stage `peer` the values `ep`'s arguments of `kind`
  /// take, checked against their ranks and static dims.
  strata_status_code recv(int peer, int tag, const strata::fb::EntryPoint *ep,
                          ArgumentKind kind, Values &out,
                          strata_status *status) {
    std::map<int, const strata::fb::Argument *> wanted;
    for (const auto *arg : *ep->arguments())
      if (arg->kind() == kind)
        wanted[arg->index()] = arg;
    out.assign(wanted.size(), {});
    for (auto [index, arg] : wanted) {
      int64_t header[kHeaderWords];
      if (strata_status_code code =
              group.recv(header, sizeof(header), peer, tag, status))
        return code;
      const auto *want = arg->shape();
      bool fits = index >= 0 && static_cast<size_t>(index) < out.size() &&
                  header[0] == static_cast<int64_t>(want->size());
      size_t elements = 1;
      for (size_t d = 0; fits && d < want->size(); ++d) {
        int64_t dim = header[1 + d];
        fits = dim >= 0 && (want->Get(d) < 0 || want->Get(d) == dim);
        elements *= static_cast<size_t>(dim);
      }
      if (!fits)
        return fail(status, STRATA_COMMUNICATION_ERROR,
                    "pipeline stage %d sent %s %d of a shape that %s does "
                    "not take: the stages' ranks run different executables "
                    "or calls",
                    peer, strata::fb::EnumNameArgumentKind(kind), index,
                    ep->name()->c_str());
      Value &v = out[static_cast<size_t>(index)];
      v.shape.assign(header + 1, header + 1 + header[0]);
      v.data.resize(elements);
      if (strata_status_code code = group.recv(
              v.data.data(), elements * sizeof(float), peer, tag, status))
        return code;
    }
    return STRATA_OK;
  }

  /// Waits for this call's sends; their bytes may go then.
  strata_status_code finish(strata_status *status) {
    strata_status_code code = group.waitSends(status);
    headers.clear();
    payloads.clear();
    return code;
  }

private:
  Communicator &group;
  // Deques: what a started send reads stays where it is.
  std::deque<std::vector<int64_t>> headers;
  std::deque<std::vector<float>> payloads;
};

/// What a stage's entry point is called with, by argument kind.
struct StageInputs {
  const int32_t *tokens = nullptr;
  const int32_t *labels = nullptr;
  int64_t rows = 0, seq = 0;
  int32_t step = 0;
  float lossScale = 1.0f;
  const Values *boundary = nullptr;
  const Values *boundaryGrad = nullptr;
};

strata_status_code callStage(strata_session &s,
                             const strata::fb::EntryPoint *ep,
                             const StageInputs &in, Results &out,
                             strata_status *status) {
  CallFrame frame(s, ep);
  if (strata_status_code code = frame.prepare(status))
    return code;
  const size_t cells = static_cast<size_t>(in.rows * in.seq);
  for (const auto *arg : *ep->arguments()) {
    strata_status_code code = STRATA_OK;
    switch (arg->kind()) {
    case ArgumentKind::Tokens:
    case ArgumentKind::Labels: {
      const int32_t *ids =
          arg->kind() == ArgumentKind::Tokens ? in.tokens : in.labels;
      code = frame.add(ids, cells * sizeof(int32_t), {in.rows, in.seq}, status);
      break;
    }
    case ArgumentKind::Step:
      code = frame.add(&in.step, sizeof(in.step), {}, status);
      break;
    case ArgumentKind::LossScale:
      code = frame.add(&in.lossScale, sizeof(in.lossScale), {}, status);
      break;
    case ArgumentKind::Boundary:
    case ArgumentKind::BoundaryGrad: {
      const Values *values =
          arg->kind() == ArgumentKind::Boundary ? in.boundary : in.boundaryGrad;
      code = values ? addBoundary(frame, ep, arg, *values, status)
                    : fail(status, STRATA_INTERNAL_ERROR,
                           "%s's %s were not received", ep->name()->c_str(),
                           strata::fb::EnumNameArgumentKind(arg->kind()));
      break;
    }
    case ArgumentKind::Parameter:
      frame.addParameter(arg);
      break;
    default:
      return fail(status, STRATA_UNSUPPORTED,
                  "pipeline stage entry point %s takes %s, which this "
                  "runtime does not supply",
                  ep->name()->c_str(),
                  strata::fb::EnumNameArgumentKind(arg->kind()));
    }
    if (code)
      return code;
  }
  return frame.call(out, status);
}

/// The stage's own entry point `name` (not the executable's whole-model
/// one), or an error saying how to get it.
strata_status_code stageEntry(strata_session &s, const char *name,
                              const strata::fb::EntryPoint *&ep,
                              strata_status *status) {
  ep = findEntry(s, name);
  if (ep && ep != findEntry(s.exe, name))
    return STRATA_OK;
  return fail(status, STRATA_NOT_FOUND,
              "the executable's pipeline stage %d has no %s%s",
              s.parallel.pipeline->rank(), name,
              std::strcmp(name, "forward")
                  ? ": compile it with --train (a loss that passes a running "
                    "sum of router balance losses between stages, the "
                    "auxiliary-loss balancing's, has no stage programs yet)"
                  : "");
}

/// One training step's work on this stage.
class StageStep {
public:
  StageStep(strata_session &s, const int32_t *tokens, size_t rowsPerMicro,
            size_t seq)
      : s(s), group(*s.parallel.pipeline), link(group), tokens(tokens),
        rows(rowsPerMicro), seq(seq) {}

  strata_status_code prepare(size_t micro, const int32_t *labels,
                             strata_status *status);
  strata_status_code run(size_t micro, strata_status *status);
  /// Sums the stage's share over the pipeline group.
  strata_status_code reduce(strata_status *status);

  double lossSum = 0.0;
  int64_t labelled = 0, dropped = -1;

private:
  strata_status_code forward(size_t m, strata_status *status);
  strata_status_code backward(size_t m, strata_status *status);
  /// After micro-batch m's loss_grad: its share accumulated, and the
  /// gradients of its boundary arguments sent to the previous stage.
  strata_status_code finishBackward(size_t m, Results &results,
                                    strata_status *status);
  /// Adds a loss_grad call's gradients, loss and counts for micro-batch m.
  strata_status_code accumulate(size_t m, Results &results,
                                strata_status *status);
  StageInputs inputsOf(size_t m) const {
    StageInputs in;
    in.tokens = tokens + m * rows * seq;
    in.labels = targets[m].data();
    in.rows = static_cast<int64_t>(rows);
    in.seq = static_cast<int64_t>(seq);
    in.step = static_cast<int32_t>(s.training.step + 1);
    in.lossScale = s.training.lossScale;
    return in;
  }
  bool last() const { return group.rank() + 1 == group.size(); }

  strata_session &s;
  Communicator &group;
  Link link;
  const int32_t *tokens;
  size_t rows, seq;
  const strata::fb::EntryPoint *forwardEp = nullptr, *gradEp = nullptr;
  std::vector<const strata::fb::Argument *> params;
  std::vector<std::vector<int32_t>> targets; ///< by micro-batch
  std::vector<Values> saved; ///< each micro-batch's input, for its backward
  std::vector<float> scratch;
  HostTensor whole; ///< a gathered gradient
};

strata_status_code StageStep::prepare(size_t micro, const int32_t *labels,
                                      strata_status *status) {
  if (!last())
    if (strata_status_code code =
            stageEntry(s, "loss_forward", forwardEp, status))
      return code;
  if (strata_status_code code = stageEntry(s, "loss_grad", gradEp, status))
    return code;
  for (const auto *arg : *gradEp->arguments())
    if (arg->kind() == ArgumentKind::Parameter)
      params.push_back(arg);
  if (gradEp->results()->size() < params.size())
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "stage %d's loss_grad does not return a gradient per "
                "parameter",
                group.rank());
  const auto *meta = s.exe->root->metadata();
  targets.resize(micro);
  saved.resize(micro);
  for (size_t m = 0; m < micro; ++m)
    if (strata_status_code code =
            resolveLabels(meta, tokens + m * rows * seq,
                          labels ? labels + m * rows * seq : nullptr, rows, seq,
                          targets[m], status))
      return code;
  TrainingState &t = s.training;
  if (!t.haveAccumulator) {
    if (strata_status_code code =
            t.accumulated.allocate(s.exe->root, status, STRATA_F32))
      return code;
    t.haveAccumulator = true;
  }
  for (size_t i = 0; i < t.accumulated.size(); ++i)
    std::memset(t.accumulated[i].data.get(), 0, t.accumulated[i].bytes());
  t.expertLoads.clear();
  return STRATA_OK;
}

strata_status_code StageStep::forward(size_t m, strata_status *status) {
  int k = group.rank();
  Values in;
  if (k > 0)
    if (strata_status_code code = link.recv(k - 1, kForwardTag, gradEp,
                                            ArgumentKind::Boundary, in, status))
      return code;
  StageInputs inputs = inputsOf(m);
  inputs.boundary = &in;
  Results results;
  if (last()) {
    // The loss's stage runs its backward at once (1F1B's last stage).
    if (strata_status_code code = callStage(s, gradEp, inputs, results, status))
      return code;
    return finishBackward(m, results, status);
  }
  if (strata_status_code code =
          callStage(s, forwardEp, inputs, results, status))
    return code;
  Values out;
  collect(forwardEp, results, ResultKind::Boundary, out);
  saved[m] = std::move(in);
  return link.send(k + 1, kForwardTag, out, status);
}

strata_status_code StageStep::backward(size_t m, strata_status *status) {
  int k = group.rank();
  Values grads;
  if (strata_status_code code =
          link.recv(k + 1, kBackwardTag, gradEp, ArgumentKind::BoundaryGrad,
                    grads, status))
    return code;
  StageInputs inputs = inputsOf(m);
  inputs.boundary = &saved[m];
  inputs.boundaryGrad = &grads;
  Results results;
  if (strata_status_code code = callStage(s, gradEp, inputs, results, status))
    return code;
  saved[m].clear();
  return finishBackward(m, results, status);
}

strata_status_code StageStep::finishBackward(size_t m, Results &results,
                                             strata_status *status) {
  if (strata_status_code code = accumulate(m, results, status))
    return code;
  int k = group.rank();
  if (k == 0)
    return STRATA_OK;
  Values back;
  collect(gradEp, results, ResultKind::BoundaryGrad, back);
  return link.send(k - 1, kBackwardTag, back, status);
}

strata_status_code StageStep::accumulate(size_t m, Results &results,
                                         strata_status *status) {
  TrainingState &t = s.training;
  int64_t n = std::count_if(targets[m].begin(), targets[m].end(),
                            [](int32_t id) { return id != kIgnoreIndex; });
  const auto *res = gradEp->results();
  for (size_t r = 0; r < res->size(); ++r) {
    const int64_t *d = results.descriptor(r);
    switch (res->Get(r)->kind()) {
    case ResultKind::DroppedTokens:
      dropped = std::max<int64_t>(dropped, 0) +
                reinterpret_cast<const int32_t *>(d[1])[d[2]];
      break;
    case ResultKind::ExpertLoad: {
      std::vector<int32_t> &sum = t.expertLoads[res->Get(r)->parameter()];
      sum.resize(static_cast<size_t>(d[3]), 0);
      const int32_t *load = reinterpret_cast<const int32_t *>(d[1]) + d[2];
      for (int64_t e = 0; e < d[3]; ++e)
        sum[e] += load[e * d[4]];
      break;
    }
    default:
      break;
    }
  }
  // The loss's stage: result 0 is the micro-batch's mean loss.
  if (last()) {
    const int64_t *d = results.descriptor(0);
    lossSum +=
        static_cast<double>(n) * reinterpret_cast<const float *>(d[1])[d[2]];
    labelled += n;
  }
  // The gradients of the mean (of the scaled mean under dynamic loss
  // scaling), weighted by the micro-batch's labelled tokens.
  // A slice's gradient (stages split over tensor-parallel ranks) is
  // gathered with the other ranks' first.
  const float weight = static_cast<float>(n) / t.lossScale;
  size_t first = res->size() - params.size();
  for (size_t j = 0; j < params.size(); ++j) {
    HostTensor &acc = t.accumulated[params[j]->parameter()];
    const float *from = nullptr;
    if (params[j]->shard_dim() >= 0) {
      if (!whole.data || whole.elements != acc.elements) {
        whole.shape = acc.shape;
        whole.elements = acc.elements;
        if (!whole.allocate())
          return fail(status, STRATA_OUT_OF_MEMORY,
                      "out of memory gathering a gradient's slices");
      }
      whole.shape = acc.shape;
      if (strata_status_code code = gatherSlices(
              s, params[j], results.descriptor(first + j), whole, status))
        return code;
      from = reinterpret_cast<const float *>(whole.data.get());
    } else {
      scratch.resize(acc.elements);
      copyRowMajor(results.descriptor(first + j), params[j]->shape()->size(),
                   scratch.data());
      from = scratch.data();
    }
    float *to = reinterpret_cast<float *>(acc.data.get());
    for (size_t i = 0; i < acc.elements; ++i)
      to[i] += weight * from[i];
  }
  return STRATA_OK;
}

strata_status_code StageStep::run(size_t micro, strata_status *status) {
  if (last()) {
    for (size_t m = 0; m < micro; ++m)
      if (strata_status_code code = forward(m, status))
        return code;
    return link.finish(status);
  }
  // 1F1B: as many forwards as stages after this one (the pipeline fills),
  // then a forward and a backward in turn, then the backwards left.
  size_t warm = std::min<size_t>(group.size() - 1 - group.rank(), micro);
  for (size_t m = 0; m < warm; ++m)
    if (strata_status_code code = forward(m, status))
      return code;
  for (size_t i = 0; i + warm < micro; ++i) {
    if (strata_status_code code = forward(warm + i, status))
      return code;
    if (strata_status_code code = backward(i, status))
      return code;
  }
  for (size_t m = micro - warm; m < micro; ++m)
    if (strata_status_code code = backward(m, status))
      return code;
  return link.finish(status);
}

strata_status_code StageStep::reduce(strata_status *status) {
  TrainingState &t = s.training;
  // Every rank reduces the same loads: those optimizer_step balances by.
  if (const auto *step = findEntry(s.exe, "optimizer_step"))
    for (const auto *arg : *step->arguments())
      if (arg->kind() == ArgumentKind::ExpertLoad)
        t.expertLoads[arg->parameter()].resize(
            static_cast<size_t>(arg->shape()->Get(0)), 0);
  for (auto &[parameter, load] : t.expertLoads)
    if (strata_status_code code = group.allReduceSum(load.data(), load.size(),
                                                     STRATA_COMM_I32, status))
      return code;
  for (size_t i = 0; i < t.accumulated.size(); ++i)
    if (strata_status_code code = group.allReduceSum(
            t.accumulated[i].data.get(), t.accumulated[i].elements,
            STRATA_COMM_F32, status))
      return code;
  // Only the loss's stage counts labels; stages without a capacity limit
  // report -1 dropped.
  int64_t counts[3] = {labelled, std::max<int64_t>(dropped, 0),
                       dropped >= 0 ? 1 : 0};
  if (strata_status_code code =
          group.allReduceSum(&lossSum, 1, STRATA_COMM_F64, status))
    return code;
  if (strata_status_code code =
          group.allReduceSum(counts, 3, STRATA_COMM_I64, status))
    return code;
  labelled = counts[0];
  dropped = counts[2] ? counts[1] : -1;
  return STRATA_OK;
}

} // namespace

strata_status_code
strata::runtime::addBoundary(CallFrame &frame, const strata::fb::EntryPoint *ep,
                             const strata::fb::Argument *arg,
                             const BoundaryValues &values,
                             strata_status *status) {
  size_t index = static_cast<size_t>(arg->index());
  if (index >= values.size())
    return fail(status, STRATA_INTERNAL_ERROR, "%s's %s %zu was not received",
                ep->name()->c_str(),
                strata::fb::EnumNameArgumentKind(arg->kind()), index);
  const BoundaryValue &v = values[index];
  return frame.add(v.data.data(), v.data.size() * sizeof(float), v.shape,
                   status);
}

strata_status_code
strata::runtime::receiveBoundary(strata_session &s,
                                 const strata::fb::EntryPoint *ep,
                                 BoundaryValues &in, strata_status *status) {
  Communicator &group = *s.parallel.pipeline;
  in.clear();
  if (group.rank() == 0)
    return STRATA_OK;
  return Link(group).recv(group.rank() - 1, kForwardTag, ep,
                          ArgumentKind::Boundary, in, status);
}

strata_status_code
strata::runtime::sendBoundary(strata_session &s,
                              const strata::fb::EntryPoint *ep,
                              const Results &results, strata_status *status) {
  Communicator &group = *s.parallel.pipeline;
  if (group.rank() + 1 == group.size())
    return STRATA_OK;
  Values out;
  collect(ep, results, ResultKind::Boundary, out);
  Link link(group);
  if (strata_status_code code =
          link.send(group.rank() + 1, kForwardTag, out, status))
    return code;
  return link.finish(status);
}

strata_status_code strata::runtime::pipelineForward(strata_session &s,
                                                    const int32_t *tokens,
                                                    size_t batch, size_t seq,
                                                    float *logits,
                                                    strata_status *status) {
  Communicator &group = *s.parallel.pipeline;
  int k = group.rank(), stages = group.size();
  const strata::fb::EntryPoint *ep = nullptr;
  if (strata_status_code code = stageEntry(s, "forward", ep, status))
    return code;
  Link link(group);
  Values in;
  if (k > 0)
    if (strata_status_code code = link.recv(k - 1, kForwardTag, ep,
                                            ArgumentKind::Boundary, in, status))
      return code;
  StageInputs inputs;
  inputs.tokens = tokens;
  inputs.rows = static_cast<int64_t>(batch);
  inputs.seq = static_cast<int64_t>(seq);
  inputs.boundary = &in;
  Results results;
  if (strata_status_code code = callStage(s, ep, inputs, results, status))
    return code;
  const int64_t vocab = s.exe->root->metadata()->vocab_size();
  if (k + 1 < stages) {
    Values out;
    collect(ep, results, ResultKind::Boundary, out);
    if (strata_status_code code = link.send(k + 1, kForwardTag, out, status))
      return code;
  } else {
    const auto *shape = ep->results()->Get(0)->shape();
    if (shape->size() != 3 || shape->Get(2) != vocab)
      return fail(status, STRATA_UNSUPPORTED,
                  "the last pipeline stage's forward does not return the LM "
                  "logits [batch, seq, vocab]; this model has no "
                  "language-model head");
    copyRowMajor(results.descriptor(0), 3, logits);
  }
  if (strata_status_code code = link.finish(status))
    return code;
  return group.broadcast(
      logits, batch * seq * static_cast<size_t>(vocab) * sizeof(float),
      stages - 1, status);
}

strata_status_code strata::runtime::pipelineGradients(
    strata_session &s, const int32_t *tokens, const int32_t *labels,
    size_t rows, size_t seq, size_t micro, Weights *&sum, double &lossSum,
    int64_t &labelled, int64_t &dropped, strata_status *status) {
  StageStep step(s, tokens, rows / micro, seq);
  if (strata_status_code code = step.prepare(micro, labels, status))
    return code;
  if (strata_status_code code = step.run(micro, status))
    return code;
  if (strata_status_code code = step.reduce(status))
    return code;
  sum = &s.training.accumulated;
  lossSum = step.lossSum;
  labelled = step.labelled;
  dropped = step.dropped;
  return STRATA_OK;
}

//===- Training.cpp - an optimizer step ----------------------------------===//
//
// strata_session_train_step: loss_grad on each micro-batch of this rank's
// share of the batch, the gradients averaged over every labelled token of
// the step (the micro-batches', then the data-parallel ranks':
// DataParallel.cpp), then the compiled optimizer_step (schedule, clipping, update)
// on the parameters and the optimizer state. The runtime only moves
// tensors: every number an update uses is computed by compiled code.
//
//===----------------------------------------------------------------------===//

#include "runtime/Training.h"
#include "runtime/DType.h"
#include "runtime/DataParallel.h"
#include "runtime/EntryCall.h"
#include "runtime/Gradients.h"
#include "runtime/Pipeline.h"
#include "runtime/ZeroOptimizer.h"

#include <cmath>
#include <cstring>

using namespace strata::runtime;

namespace {

bool allFinite(const HostTensor &t) {
  const float *p = reinterpret_cast<const float *>(t.data.get());
  float sum = 0.0f;
  // A sum of products with zero is NaN exactly when some element is not
  // finite; cheaper than a test per element.
  for (size_t i = 0; i < t.elements; ++i)
    sum += p[i] * 0.0f;
  return sum == 0.0f;
}

/// Dynamic loss scaling after a step (torch.amp.GradScaler's rule): an
/// overflow halves the scale and restarts the count of clean steps;
/// `interval` clean steps in a row double it.
void updateLossScale(TrainingState &t, bool overflowed, int64_t interval) {
  if (overflowed) {
    t.lossScale *= 0.5f;
    t.cleanSteps = 0;
    return;
  }
  if (++t.cleanSteps < interval)
    return;
  float grown = t.lossScale * 2.0f;
  if (std::isfinite(grown))
    t.lossScale = grown;
  t.cleanSteps = 0;
}

/// The training state, zeros, on first use (under ZeRO-1, this rank's).
strata_status_code ensureState(strata_session &s, strata_status *status) {
  TrainingState &t = s.training;
  const auto *state = s.exe->root->training_state();
  if (t.state.size() == (state ? state->size() : 0))
    return STRATA_OK;
  if (shardsOptimizerState(s))
    return allocateOwnedState(s, status);
  std::vector<HostTensor> fresh;
  if (strata_status_code code = allocateTrainingState(s.exe, fresh, status))
    return code;
  for (HostTensor &tensor : fresh)
    std::memset(tensor.data.get(), 0, tensor.bytes());
  t.state = std::move(fresh);
  return STRATA_OK;
}

strata_status_code checkTrainable(strata_session &s, strata_status *status) {
  if (!findEntry(s.exe, "optimizer_step") || !findEntry(s.exe, "loss_grad"))
    return fail(status, STRATA_NOT_FOUND,
                "the executable has no training entry points (loss_grad, "
                "optimizer_step): compile it with strata-compile --train");
  const auto *params = s.exe->root->parameters();
  for (size_t i = 0; i < s.weights.size(); ++i)
    if (s.weights[i].dtype != STRATA_F32)
      return fail(status, STRATA_UNSUPPORTED,
                  "parameter '%s' is stored as %s; training updates F32 "
                  "parameters",
                  params->Get(i)->name()->c_str(),
                  safetensorsName(s.weights[i].dtype));
  return STRATA_OK;
}

/// The gradients of this rank's `micro` micro-batches. With one
/// micro-batch and one data-parallel rank they are loss_grad's own
/// (s.gradients). Otherwise each micro-batch's gradient of its mean loss
/// is weighted by its labelled tokens and summed into `sum`
/// (s.training.accumulated), the loss likewise into `lossSum`: divided by
/// the labelled tokens of the whole step (finishStep, after the
/// data-parallel ranks have added theirs), they are the gradient and loss
/// of the mean over every labelled token of the global batch, however the
/// batch was split. An expert-parallel rank's gradients are of the summed
/// loss already (computeGradients' `summed`) and are summed unweighted.
strata_status_code accumulateGradients(strata_session &s, const int32_t *tokens,
                                       const int32_t *labels, size_t batch,
                                       size_t seq, size_t micro,
                                       bool weighted, Weights *&sum,
                                       double &lossSum, int64_t &labelled,
                                       int64_t &dropped,
                                       strata_status *status) {
  TrainingState &t = s.training;
  size_t rows = batch / micro;
  lossSum = 0.0;
  t.expertLoads.clear(); // computeGradients sums this step's into it
  labelled = 0;
  dropped = -1;
  sum = &s.gradients;
  // An expert-parallel rank's expert gradients sum every rank's tokens:
  // each rank's backward is seeded by its labelled tokens (summed losses),
  // so its gradients need no weight of their own.
  bool summed = s.parallel.expertsSplit();
  for (size_t k = 0; k < micro; ++k) {
    size_t at = k * rows * seq;
    float l = 0.0f;
    int64_t n = 0, d = -1;
    if (strata_status_code code =
            computeGradients(s, tokens + at, labels ? labels + at : nullptr,
                             rows, seq, &l, &n, &d, status, summed))
      return code;
    labelled += n;
    if (d >= 0)
      dropped = (dropped < 0 ? 0 : dropped) + d;
    if (!weighted) {
      lossSum = l;
      break;
    }
    lossSum += static_cast<double>(n) * l;
    if (!t.haveAccumulator) {
      if (strata_status_code code =
              t.accumulated.allocate(s.exe->root, status, STRATA_F32))
        return code;
      t.haveAccumulator = true;
    }
    sum = &t.accumulated;
    const float weight = summed ? 1.0f : static_cast<float>(n);
    for (size_t i = 0; i < s.gradients.size(); ++i) {
      float *acc = reinterpret_cast<float *>(t.accumulated[i].data.get());
      const float *g =
          reinterpret_cast<const float *>(s.gradients[i].data.get());
      size_t count = s.gradients[i].elements;
      if (k == 0)
        for (size_t j = 0; j < count; ++j)
          acc[j] = weight * g[j];
      else
        for (size_t j = 0; j < count; ++j)
          acc[j] += weight * g[j];
    }
  }
  return STRATA_OK;
}

/// Weighted sums to means: divided by the step's labelled tokens (all of
/// the data-parallel group's), or by 1 when every label was ignored.
void finishStep(Weights &sum, double lossSum, int64_t labelled, float &loss) {
  double tokens = labelled > 0 ? static_cast<double>(labelled) : 1.0;
  loss = static_cast<float>(lossSum / tokens);
  const float inverse = static_cast<float>(1.0 / tokens);
  for (size_t i = 0; i < sum.size(); ++i) {
    float *p = reinterpret_cast<float *>(sum[i].data.get());
    for (size_t j = 0; j < sum[i].elements; ++j)
      p[j] *= inverse;
  }
}

/// optimizer_step on `grads`: new parameters and state in place.
strata_status_code applyUpdate(strata_session &s, const Weights &grads,
                               strata_train_metrics &m, strata_status *status) {
  TrainingState &t = s.training;
  const strata::fb::EntryPoint *ep = findEntry(s.exe, "optimizer_step");
  CallFrame frame(s, ep);
  if (strata_status_code code = frame.prepare(status))
    return code;
  int32_t step = static_cast<int32_t>(t.step + 1);
  int32_t update = static_cast<int32_t>(t.updates + 1);
  for (const auto *arg : *ep->arguments()) {
    std::vector<int64_t> shape(arg->shape()->begin(), arg->shape()->end());
    strata_status_code code = STRATA_OK;
    switch (arg->kind()) {
    case strata::fb::ArgumentKind::Step:
      code = frame.add(&step, sizeof(step), shape, status);
      break;
    case strata::fb::ArgumentKind::UpdateCount:
      code = frame.add(&update, sizeof(update), shape, status);
      break;
    case strata::fb::ArgumentKind::Gradient: {
      const HostTensor &g = grads[arg->parameter()];
      code = frame.add(g.data.get(), g.bytes(), shape, status);
      break;
    }
    case strata::fb::ArgumentKind::OptimizerState: {
      const HostTensor &st = t.state[arg->state()];
      code = frame.add(st.data.get(), st.bytes(), shape, status);
      break;
    }
    case strata::fb::ArgumentKind::Parameter:
      frame.addParameter(arg);
      break;
    case strata::fb::ArgumentKind::ExpertLoad: {
      // What loss_grad counted over this step's micro-batches.
      auto it = t.expertLoads.find(arg->parameter());
      if (it == t.expertLoads.end() ||
          static_cast<int64_t>(it->second.size()) != shape[0])
        return fail(
            status, STRATA_CORRUPT_EXECUTABLE,
            "optimizer_step balances the selection bias '%s' by "
            "expert loads that loss_grad does not count",
            s.exe->root->parameters()->Get(arg->parameter())->name()->c_str());
      code = frame.add(it->second.data(), it->second.size() * sizeof(int32_t),
                       shape, status);
      break;
    }
    default:
      return fail(status, STRATA_UNSUPPORTED,
                  "optimizer_step takes an argument this runtime cannot "
                  "supply");
    }
    if (code)
      return code;
  }
  Results out;
  if (strata_status_code code = frame.call(out, status))
    return code;
  auto scalar = [&](size_t r) {
    const int64_t *d = out.descriptor(r);
    return reinterpret_cast<const float *>(d[1])[d[2]];
  };
  for (size_t r = 0; r < ep->results()->size(); ++r) {
    const auto *res = ep->results()->Get(r);
    size_t rank = res->shape()->size();
    switch (res->kind()) {
    case strata::fb::ResultKind::Parameter:
      copyRowMajor(
          out.descriptor(r), rank,
          reinterpret_cast<float *>(s.weights[res->parameter()].data.get()));
      break;
    case strata::fb::ResultKind::OptimizerState:
      copyRowMajor(out.descriptor(r), rank,
                   reinterpret_cast<float *>(t.state[res->state()].data.get()));
      break;
    case strata::fb::ResultKind::LearningRate:
      m.lr = scalar(r);
      break;
    case strata::fb::ResultKind::GradNorm:
      m.grad_norm = scalar(r);
      break;
    default: // values optimizer_step does not return
      break;
    }
  }
  s.weights.changed();
  return STRATA_OK;
}

strata_status_code trainStep(strata_session &s, const int32_t *tokens,
                             const int32_t *labels, size_t batch, size_t seq,
                             strata_train_metrics &m, strata_status *status) {
  if (strata_status_code code = checkTrainable(s, status))
    return code;
  const auto *plan = s.exe->root->training();
  size_t micro = plan ? static_cast<size_t>(plan->accumulation_steps()) : 1;
  // Each accumulation step is the plan's micro-batches: pipeline stages
  // run them through the stages (1F1B), a single process one by one, so
  // both sum the same micro-batches' gradients.
  if (const auto *parallel = s.exe->root->parallel())
    micro *= static_cast<size_t>(parallel->micro_batches());
  bool pipelined = s.parallel.pipelined();
  size_t first, rows;
  if (strata_status_code code =
          shareOfBatch(s, batch, micro, first, rows, status))
    return code;
  if (strata_status_code code = ensureState(s, status))
    return code;
  m = strata_train_metrics{};
  m.loss_scale = s.training.lossScale;
  // Weighted sums unless loss_grad's own result is the step's gradient.
  bool weighted = micro > 1 || s.parallel.dpSize() > 1 || pipelined;
  Weights *sum = nullptr;
  double lossSum = 0.0;
  const int32_t *rowTokens = tokens + first * seq;
  const int32_t *rowLabels = labels ? labels + first * seq : nullptr;
  if (strata_status_code code =
          pipelined ? pipelineGradients(s, rowTokens, rowLabels, rows, seq,
                                        micro, sum, lossSum, m.tokens,
                                        m.dropped_tokens, status)
                    : accumulateGradients(s, rowTokens, rowLabels, rows, seq,
                                          micro, weighted, sum, lossSum,
                                          m.tokens, m.dropped_tokens, status))
    return code;
  Weights &grads = *sum;
  if (shardsOptimizerState(s)) {
    if (strata_status_code code = zeroUpdate(s, grads, lossSum, m, status))
      return code;
    if (plan->dynamic_loss_scaling())
      updateLossScale(s.training, m.skipped, plan->loss_scale_growth_interval());
    s.training.updates += !m.skipped;
    m.step = ++s.training.step;
    return ok(status);
  }
  if (strata_status_code code = reduceOverDataParallel(
          s, grads, lossSum, m.tokens, m.dropped_tokens, status))
    return code;
  if (weighted)
    finishStep(grads, lossSum, m.tokens, m.loss);
  else
    m.loss = static_cast<float>(lossSum);
  bool finite = std::isfinite(m.loss);
  for (size_t i = 0; finite && i < grads.size(); ++i)
    finite = allFinite(grads[i]);
  if (!finite) {
    // Nothing changes; the schedule still moves on, as torch's GradScaler
    // skips optimizer.step() but not the scheduler.
    m.skipped = 1;
    m.grad_norm = INFINITY;
  } else if (strata_status_code code = applyUpdate(s, grads, m, status)) {
    return code;
  }
  if (plan && plan->dynamic_loss_scaling())
    updateLossScale(s.training, !finite, plan->loss_scale_growth_interval());
  s.training.updates += !m.skipped;
  m.step = ++s.training.step;
  return ok(status);
}

} // namespace

strata_status_code strata::runtime::allocateStateTensor(
    const strata_executable *exe, size_t index, HostTensor &out,
    strata_status *status) {
  const auto *entry = exe->root->training_state()->Get(index);
  out.dtype = STRATA_F32;
  out.shape.assign(entry->shape()->begin(), entry->shape()->end());
  out.elements = 1;
  for (int64_t d : out.shape)
    out.elements *= static_cast<size_t>(d);
  if (!out.allocate())
    return fail(status, STRATA_OUT_OF_MEMORY,
                "out of memory for the optimizer state '%s'",
                entry->name()->c_str());
  return STRATA_OK;
}

strata_status_code
strata::runtime::allocateTrainingState(const strata_executable *exe,
                                       std::vector<HostTensor> &out,
                                       strata_status *status) {
  const auto *table = exe->root->training_state();
  out.clear();
  out.resize(table ? table->size() : 0);
  for (size_t i = 0; i < out.size(); ++i)
    if (strata_status_code code = allocateStateTensor(exe, i, out[i], status))
      return code;
  return STRATA_OK;
}

extern "C" {

strata_status_code strata_session_train_step(strata_session *session,
                                             const int32_t *tokens,
                                             const int32_t *labels,
                                             size_t batch, size_t seq,
                                             strata_train_metrics *metrics,
                                             strata_status *status) {
  if (!session || !tokens || batch == 0 || seq == 0)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_train_step: null argument or empty input");
  return guardApi(__func__, status, [&] {
    strata_train_metrics m{};
    strata_status_code code =
        trainStep(*session, tokens, labels, batch, seq, m, status);
    if (code == STRATA_OK && metrics)
      *metrics = m;
    return code;
  });
}

int64_t strata_session_train_steps_done(const strata_session *session) {
  return session ? session->training.step : 0;
}

int64_t strata_session_train_updates_done(const strata_session *session) {
  return session ? session->training.updates : 0;
}

size_t strata_session_training_state_bytes(const strata_session *session) {
  size_t bytes = 0;
  if (session)
    for (const HostTensor &t : session->training.state)
      bytes += t.data ? t.bytes() : 0;
  return bytes;
}

} // extern "C"

//===- ZeroOptimizer.cpp - ZeRO stage 1 over the data-parallel ranks ------===//

#include "runtime/ZeroOptimizer.h"
#include "runtime/DataParallel.h"
#include "runtime/EntryCall.h"
#include "runtime/Training.h"

#include <cmath>
#include <cstring>

using namespace strata::runtime;

namespace {

/// The parameters optimizer_step updates from their gradients, in order.
std::vector<int> trainedParameters(const strata_executable *exe) {
  std::vector<int> trained;
  if (const strata::fb::EntryPoint *ep = findEntry(exe, "optimizer_step"))
    for (const auto *arg : *ep->arguments())
      if (arg->kind() == strata::fb::ArgumentKind::Gradient)
        trained.push_back(arg->parameter());
  return trained;
}

/// The owner of training_state[i]: its parameter's.
int stateOwner(const strata_session &s, size_t i) {
  int parameter = s.exe->root->training_state()->Get(i)->parameter();
  return parameter >= 0 ? s.parallel.owner[parameter] : 0;
}

bool ownsState(const strata_session &s, size_t i) {
  return stateOwner(s, i) == s.parallel.dpRank();
}

/// Frees the state this rank does not own (after a checkpoint load or a
/// gather, which bring all of it).
void dropForeignState(strata_session &s) {
  for (size_t i = 0; i < s.training.state.size(); ++i)
    if (!ownsState(s, i))
      s.training.state[i] = HostTensor{};
}

/// optimizer_update on parameter `p`'s flattened value, gradient and state:
/// the new ones in place, the learning rate to `lr`.
strata_status_code updateParameter(strata_session &s, int p,
                                   const float *grad, float norm, float &lr,
                                   strata_status *status) {
  const strata::fb::EntryPoint *ep = findEntry(s.exe, "optimizer_update");
  HostTensor &param = s.weights[p];
  const std::vector<int64_t> flat{static_cast<int64_t>(param.elements)};
  // This parameter's state slots, in slot order: the training_state
  // entries that belong to it, in the order strata-optimizer made them.
  std::vector<HostTensor *> slots;
  const auto *table = s.exe->root->training_state();
  for (size_t i = 0; i < table->size(); ++i)
    if (table->Get(i)->parameter() == p)
      slots.push_back(&s.training.state[i]);
  CallFrame frame(s, ep);
  if (strata_status_code code = frame.prepare(status))
    return code;
  int32_t step = static_cast<int32_t>(s.training.step + 1);
  int32_t update = static_cast<int32_t>(s.training.updates + 1);
  size_t bytes = param.elements * sizeof(float);
  for (const auto *arg : *ep->arguments()) {
    strata_status_code code = STRATA_OK;
    switch (arg->kind()) {
    case strata::fb::ArgumentKind::Step:
      code = frame.add(&step, sizeof(step), {}, status);
      break;
    case strata::fb::ArgumentKind::UpdateCount:
      code = frame.add(&update, sizeof(update), {}, status);
      break;
    case strata::fb::ArgumentKind::GradNorm:
      code = frame.add(&norm, sizeof(norm), {}, status);
      break;
    case strata::fb::ArgumentKind::FlatParameter:
      code = frame.add(param.data.get(), bytes, flat, status);
      break;
    case strata::fb::ArgumentKind::FlatGradient:
      code = frame.add(grad, bytes, flat, status);
      break;
    case strata::fb::ArgumentKind::FlatState:
      if (static_cast<size_t>(arg->state()) >= slots.size())
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "optimizer_update takes state slot %d, but parameter "
                    "'%s' has %zu",
                    arg->state(),
                    s.exe->root->parameters()->Get(p)->name()->c_str(),
                    slots.size());
      code = frame.add(slots[arg->state()]->data.get(), bytes, flat, status);
      break;
    default:
      return fail(status, STRATA_UNSUPPORTED,
                  "optimizer_update takes an argument this runtime cannot "
                  "supply");
    }
    if (code)
      return code;
  }
  Results out;
  if (strata_status_code code = frame.call(out, status))
    return code;
  for (size_t r = 0; r < ep->results()->size(); ++r) {
    const auto *res = ep->results()->Get(r);
    switch (res->kind()) {
    case strata::fb::ResultKind::LearningRate: {
      const int64_t *d = out.descriptor(r);
      lr = reinterpret_cast<const float *>(d[1])[d[2]];
      break;
    }
    case strata::fb::ResultKind::FlatParameter:
      copyRowMajor(out.descriptor(r), 1,
                   reinterpret_cast<float *>(param.data.get()));
      break;
    case strata::fb::ResultKind::FlatState:
      if (static_cast<size_t>(res->state()) >= slots.size())
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "optimizer_update returns state slot %d of %zu",
                    res->state(), slots.size());
      copyRowMajor(out.descriptor(r), 1,
                   reinterpret_cast<float *>(slots[res->state()]->data.get()));
      break;
    default:
      break;
    }
  }
  return STRATA_OK;
}

/// optimizer_balance, when the model balances selection biases: every
/// rank moves them alike from the group's expert loads.
strata_status_code balanceBiases(strata_session &s, strata_status *status) {
  const strata::fb::EntryPoint *ep = findEntry(s.exe, "optimizer_balance");
  if (!ep)
    return STRATA_OK;
  CallFrame frame(s, ep);
  if (strata_status_code code = frame.prepare(status))
    return code;
  for (const auto *arg : *ep->arguments()) {
    std::vector<int64_t> shape(arg->shape()->begin(), arg->shape()->end());
    if (arg->kind() == strata::fb::ArgumentKind::Parameter) {
      frame.addParameter(arg);
      continue;
    }
    auto it = s.training.expertLoads.find(arg->parameter());
    if (arg->kind() != strata::fb::ArgumentKind::ExpertLoad ||
        it == s.training.expertLoads.end() ||
        static_cast<int64_t>(it->second.size()) != shape[0])
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "optimizer_balance takes an argument that is no expert "
                  "load loss_grad counts");
    if (strata_status_code code =
            frame.add(it->second.data(), it->second.size() * sizeof(int32_t),
                      shape, status))
      return code;
  }
  Results out;
  if (strata_status_code code = frame.call(out, status))
    return code;
  for (size_t r = 0; r < ep->results()->size(); ++r) {
    const auto *res = ep->results()->Get(r);
    if (res->kind() == strata::fb::ResultKind::Parameter)
      copyRowMajor(
          out.descriptor(r), res->shape()->size(),
          reinterpret_cast<float *>(s.weights[res->parameter()].data.get()));
  }
  return STRATA_OK;
}

} // namespace

strata_status_code strata::runtime::assignStateOwners(strata_session &s,
                                                      strata_status *status) {
  ParallelPlace &place = s.parallel;
  place.owner.clear();
  const auto *plan = s.exe->root->parallel();
  if (!plan || plan->zero_stage() != 1 || place.dpSize() == 1 ||
      !findEntry(s.exe, "optimizer_step"))
    return ok(status);
  if (!findEntry(s.exe, "optimizer_update"))
    return fail(status, STRATA_UNSUPPORTED,
                "the plan shards the optimizer state (ZeRO stage 1), but "
                "the executable has no optimizer_update: recompile it with "
                "this strata-compile");
  // Greedy by elements, in parameter order: deterministic on every rank.
  place.owner.assign(s.exe->root->parameters()->size(), -1);
  std::vector<int64_t> load(place.dpSize(), 0);
  for (int p : trainedParameters(s.exe)) {
    int least = 0;
    for (int r = 1; r < place.dpSize(); ++r)
      if (load[r] < load[least])
        least = r;
    place.owner[p] = least;
    int64_t elements = 1;
    for (int64_t d : *s.exe->root->parameters()->Get(p)->shape())
      elements *= d;
    load[least] += elements;
  }
  return ok(status);
}

bool strata::runtime::shardsOptimizerState(const strata_session &s) {
  return !s.parallel.owner.empty();
}

strata_status_code strata::runtime::allocateOwnedState(strata_session &s,
                                                       strata_status *status) {
  const auto *table = s.exe->root->training_state();
  std::vector<HostTensor> state(table ? table->size() : 0);
  for (size_t i = 0; i < state.size(); ++i) {
    if (!ownsState(s, i))
      continue;
    HostTensor &t = state[i];
    if (strata_status_code code = allocateStateTensor(s.exe, i, t, status))
      return code;
    std::memset(t.data.get(), 0, t.bytes());
  }
  s.training.state = std::move(state);
  return STRATA_OK;
}

strata_status_code strata::runtime::zeroUpdate(strata_session &s,
                                               Weights &sums, double lossSum,
                                               strata_train_metrics &m,
                                               strata_status *status) {
  ParallelPlace &place = s.parallel;
  Communicator &group = *place.dataParallel;
  // A checkpoint load brings every rank the whole state; keep its share.
  dropForeignState(s);
  std::vector<int> trained = trainedParameters(s.exe);
  // Each gradient to its owner only: half an all-reduce's traffic.
  for (int p : trained)
    if (strata_status_code code =
            group.reduceSum(sums[p].data.get(), sums[p].elements,
                            STRATA_COMM_F32, place.owner[p], status))
      return code;
  if (strata_status_code code = reduceScalarsOverDataParallel(
          s, lossSum, m.tokens, m.dropped_tokens, status))
    return code;
  double tokens = m.tokens > 0 ? static_cast<double>(m.tokens) : 1.0;
  m.loss = static_cast<float>(lossSum / tokens);
  // The owners' gradients as means; their squares summed into the global
  // norm, and their finiteness agreed on.
  const float inverse = static_cast<float>(1.0 / tokens);
  double partial[2] = {0.0, 0.0}; // squared norm, non-finite count
  for (int p : trained) {
    if (place.owner[p] != place.dpRank())
      continue;
    float *g = reinterpret_cast<float *>(sums[p].data.get());
    for (size_t j = 0; j < sums[p].elements; ++j) {
      g[j] *= inverse;
      partial[0] += static_cast<double>(g[j]) * g[j];
    }
  }
  if (!std::isfinite(partial[0])) {
    partial[0] = 0.0; // a NaN would make every rank's sum NaN anyway
    partial[1] = 1.0;
  }
  if (strata_status_code code =
          group.allReduceSum(partial, 2, STRATA_COMM_F64, status))
    return code;
  if (partial[1] > 0 || !std::isfinite(partial[0]) || !std::isfinite(m.loss)) {
    m.skipped = 1;
    m.grad_norm = INFINITY;
    return STRATA_OK;
  }
  float norm = static_cast<float>(std::sqrt(partial[0]));
  m.grad_norm = norm;
  for (int p : trained) {
    if (place.owner[p] != place.dpRank())
      continue;
    if (strata_status_code code = updateParameter(
            s, p, reinterpret_cast<const float *>(sums[p].data.get()), norm,
            m.lr, status))
      return code;
  }
  for (int p : trained)
    if (strata_status_code code =
            group.broadcast(s.weights[p].data.get(), s.weights[p].bytes(),
                            place.owner[p], status))
      return code;
  if (strata_status_code code = balanceBiases(s, status))
    return code;
  // Every rank reports the schedule's rate, whether or not it owns any
  // parameter (rank 0 owns the first).
  float lr = m.lr;
  if (strata_status_code code = group.broadcast(&lr, sizeof(lr), 0, status))
    return code;
  m.lr = lr;
  s.weights.changed();
  return STRATA_OK;
}

strata_status_code strata::runtime::gatherOptimizerState(strata_session &s,
                                                         strata_status *status) {
  if (!shardsOptimizerState(s))
    return ok(status);
  if (s.training.state.empty())
    return ok(status); // no step yet: nothing to gather
  Communicator &group = *s.parallel.dataParallel;
  for (size_t i = 0; i < s.training.state.size(); ++i) {
    int owner = stateOwner(s, i);
    HostTensor &t = s.training.state[i];
    HostTensor received;
    HostTensor &buffer = owner == s.parallel.dpRank() ? t : received;
    if (owner != s.parallel.dpRank())
      if (strata_status_code code =
              allocateStateTensor(s.exe, i, buffer, status))
        return code;
    if (strata_status_code code =
            group.broadcast(buffer.data.get(), buffer.bytes(), owner, status))
      return code;
    if (s.parallel.dpRank() == 0 && owner != 0)
      t = std::move(received);
  }
  return ok(status);
}

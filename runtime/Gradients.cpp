//===- Gradients.cpp - a training step's gradients ------------------------===//
//
// Runs `loss_grad` (strata-compile --train): tokens and labels in, the loss
// and every parameter's gradient out. Its results are the loss, the count
// of dropped assignments (with an expert capacity), the expert loads of
// balanced selection biases (added to the session's training state), then
// one gradient per parameter argument, in the order of those arguments
// (strata-autodiff returns them in the order the parameters appear, which
// is the order strata-params-to-arguments gives the arguments).
//
//===----------------------------------------------------------------------===//

#include "runtime/Gradients.h"
#include "runtime/Checkpoint.h"
#include "runtime/EntryCall.h"

#include <algorithm>
#include <cstring>
#include <vector>

using namespace strata::runtime;

strata_status_code strata::runtime::resolveLabels(
    const strata::fb::Metadata *meta, const int32_t *tokens,
    const int32_t *labels, size_t batch, size_t seq, std::vector<int32_t> &out,
    strata_status *status) {
  out.resize(batch * seq);
  for (size_t b = 0; b < batch; ++b)
    for (size_t s = 0; s < seq; ++s) {
      size_t i = b * seq + s;
      out[i] =
          labels ? labels[i] : (s + 1 < seq ? tokens[i + 1] : kIgnoreIndex);
      if (out[i] != kIgnoreIndex &&
          (out[i] < 0 || out[i] >= meta->vocab_size()))
        return fail(status, STRATA_INVALID_ARGUMENT,
                    "label %d at position %zu is outside the vocabulary "
                    "[0, %lld) and not the ignore index %d",
                    out[i], i, (long long)meta->vocab_size(), kIgnoreIndex);
    }
  return STRATA_OK;
}

strata_status_code strata::runtime::gatherSlices(
    strata_session &s, const strata::fb::Argument *param,
    const int64_t *descriptor, HostTensor &whole, strata_status *status) {
  Communicator &group = *s.parallel.tensorParallel;
  size_t count = static_cast<size_t>(param->shard_count());
  if (static_cast<size_t>(group.size()) != count)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "parameter %d is sliced in %zu parts over %d tensor-parallel "
                "ranks",
                param->parameter(), count, group.size());
  size_t elements = whole.elements / count;
  std::vector<float> mine(elements), all(elements * count);
  copyRowMajor(descriptor, param->shape()->size(), mine.data());
  if (strata_status_code code = group.allGather(
          mine.data(), all.data(), elements * sizeof(float), status))
    return code;
  // copySlice's inverse: part p's runs back to their places.
  SliceRuns r =
      sliceRuns(whole.shape, param->shard_dim(), param->shard_count());
  float *to = reinterpret_cast<float *>(whole.data.get());
  for (size_t o = 0; o < r.outer; ++o)
    for (size_t part = 0; part < count; ++part)
      std::memcpy(to + o * r.stride + part * r.run,
                  all.data() + part * elements + o * r.run,
                  r.run * sizeof(float));
  return STRATA_OK;
}

namespace {

/// An expert-parallel rank's gradient of its part of the routed experts
/// (the result `descriptor`, for `param`, sliced over ep) into its place in
/// `whole`, zero elsewhere: the data-parallel sum over the ep ranks then
/// assembles the whole gradient, each part from the rank holding it.
void placeExpertSlice(strata_session &s, const strata::fb::Argument *param,
                      const int64_t *descriptor, HostTensor &whole) {
  size_t count = static_cast<size_t>(param->shard_count());
  size_t part = static_cast<size_t>(s.parallel.expertParallel->rank());
  size_t elements = whole.elements / count;
  std::vector<float> mine(elements);
  copyRowMajor(descriptor, param->shape()->size(), mine.data());
  SliceRuns r =
      sliceRuns(whole.shape, param->shard_dim(), param->shard_count());
  float *to = reinterpret_cast<float *>(whole.data.get());
  for (size_t o = 0; o < r.outer; ++o)
    std::memcpy(to + o * r.stride + part * r.run, mine.data() + o * r.run,
                r.run * sizeof(float));
}

/// Whether `param` is sliced over the expert-parallel ranks.
bool expertSlice(const strata::fb::Argument *param) {
  return param->shard_dim() >= 0 && param->shard_axis() &&
         param->shard_axis()->str() == "ep";
}

} // namespace

strata_status_code strata::runtime::computeGradients(
    strata_session &s, const int32_t *tokens, const int32_t *labels,
    size_t batch, size_t seq, float *loss, int64_t *labelled, int64_t *dropped,
    strata_status *status, bool summed) {
  const auto *root = s.exe->root;
  const auto *meta = root->metadata();
  size_t cells;
  if (strata_status_code code =
          checkBatch(meta, tokens, batch, seq, cells, status))
    return code;
  std::vector<int32_t> targets;
  if (strata_status_code code =
          resolveLabels(meta, tokens, labels, batch, seq, targets, status))
    return code;
  const int64_t counted =
      std::count_if(targets.begin(), targets.end(),
                    [](int32_t t) { return t != kIgnoreIndex; });
  if (labelled)
    *labelled = counted;
  if (s.parallel.pipelined())
    return fail(status, STRATA_UNSUPPORTED,
                "a pipeline stage's gradients come from a training step "
                "through every stage (strata_session_train_step), not from "
                "one batch on one rank");
  // An expert's gradient sums the tokens of every rank of its group: one
  // rank's batch alone has no gradient of its own.
  if (s.parallel.expertsSplit() && !summed)
    return fail(status, STRATA_UNSUPPORTED,
                "an expert-parallel rank's gradients come from a training "
                "step over every rank's batch (strata_session_train_step), "
                "not from one batch on one rank");
  // A tensor-parallel rank differentiates its program's loss; without one
  // loss_grad would run the whole model on every rank.
  const strata::fb::EntryPoint *ep = findEntry(s, "loss_grad");
  if (s.parallel.stage && ep && ep == findEntry(s.exe, "loss_grad"))
    return fail(status, STRATA_UNSUPPORTED,
                "the executable's tensor-parallel program has no loss_grad "
                "(it was built by an older strata-compile): compile it "
                "again, or with --tp 1 to train across data-parallel ranks, "
                "or train as one process");
  if (!ep)
    return fail(status, STRATA_NOT_FOUND,
                "the executable has no training entry point loss_grad: "
                "compile it with strata-compile --train");
  // The layout strata-autodiff gives loss_grad: the loss, then one
  // gradient per parameter argument, shaped like the parameter.
  std::vector<const strata::fb::Argument *> params;
  for (const auto *arg : *ep->arguments())
    if (arg->kind() == strata::fb::ArgumentKind::Parameter)
      params.push_back(arg);
  // ...after the loss, a count of dropped assignments when the model has
  // an expert capacity, then the expert loads of balanced selection biases.
  const auto *results = ep->results();
  size_t first = 1;
  bool hasDropped =
      results->size() > 1 &&
      results->Get(1)->kind() == strata::fb::ResultKind::DroppedTokens;
  first += hasDropped;
  size_t firstLoad = first;
  while (first < results->size() &&
         results->Get(first)->kind() == strata::fb::ResultKind::ExpertLoad)
    ++first;
  bool layout = results->size() == params.size() + first &&
                results->Get(0)->shape()->size() == 0 &&
                results->Get(0)->dtype() == strata::fb::DType::F32;
  for (size_t k = 0; layout && k < params.size(); ++k) {
    const auto *got = results->Get(first + k)->shape();
    const auto *want = params[k]->shape();
    layout = got->size() == want->size() &&
             std::equal(got->begin(), got->end(), want->begin());
  }
  if (!layout)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "loss_grad's results are not the loss and one gradient per "
                "parameter argument");

  const int32_t step = static_cast<int32_t>(s.training.step + 1);
  bool scaled = false;
  // The backward's seed: the loss scale (1 without dynamic scaling),
  // times the labelled tokens for the summed loss's gradient.
  const float seed = summed ? s.training.lossScale * static_cast<float>(counted)
                            : s.training.lossScale;
  CallFrame frame(s, ep);
  if (strata_status_code code = frame.prepare(status))
    return code;
  const std::vector<int64_t> shape{(int64_t)batch, (int64_t)seq};
  for (const auto *arg : *ep->arguments()) {
    strata_status_code code = STRATA_OK;
    switch (arg->kind()) {
    case strata::fb::ArgumentKind::Tokens:
      code = frame.add(tokens, cells * sizeof(int32_t), shape, status);
      break;
    case strata::fb::ArgumentKind::Labels:
      code = frame.add(targets.data(), cells * sizeof(int32_t), shape, status);
      break;
    case strata::fb::ArgumentKind::Step:
      // Dropout's generator: the number of the update these gradients are
      // for.
      code = frame.add(&step, sizeof(step), {}, status);
      break;
    case strata::fb::ArgumentKind::LossScale:
      scaled = true;
      code = frame.add(&seed, sizeof(float), {}, status);
      break;
    case strata::fb::ArgumentKind::Parameter:
      frame.addParameter(arg);
      break;
    default:
      return fail(status, STRATA_UNSUPPORTED,
                  "loss_grad takes an argument this runtime cannot supply");
    }
    if (code)
      return code;
  }
  if (summed && !scaled)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "the expert-parallel program's loss_grad takes no seed (a "
                "loss_scale argument); compile the executable again");
  Results out;
  if (strata_status_code code = frame.call(out, status))
    return code;
  if (!s.haveGradients) {
    if (strata_status_code code =
            s.gradients.allocate(root, status, STRATA_F32))
      return code;
    s.haveGradients = true;
  }
  // Parameters loss_grad does not read have a zero gradient.
  for (size_t i = 0; i < s.gradients.size(); ++i)
    std::memset(s.gradients[i].data.get(), 0, s.gradients[i].bytes());
  const int64_t *lossDescriptor = out.descriptor(0);
  *loss = reinterpret_cast<const float *>(lossDescriptor[1])[lossDescriptor[2]];
  for (size_t r = firstLoad; r < first; ++r) {
    const int64_t *d = out.descriptor(r);
    const int32_t *load = reinterpret_cast<const int32_t *>(d[1]) + d[2];
    std::vector<int32_t> &sum =
        s.training.expertLoads[results->Get(r)->parameter()];
    sum.resize(static_cast<size_t>(d[3]), 0);
    for (int64_t e = 0; e < d[3]; ++e)
      sum[e] += load[e * d[4]];
  }
  if (dropped) {
    *dropped = -1;
    if (hasDropped) {
      const int64_t *d = out.descriptor(1);
      *dropped = reinterpret_cast<const int32_t *>(d[1])[d[2]];
    }
  }
  for (size_t k = 0; k < params.size(); ++k) {
    HostTensor &whole = s.gradients[params[k]->parameter()];
    if (params[k]->shard_dim() < 0) {
      copyRowMajor(out.descriptor(first + k), params[k]->shape()->size(),
                   reinterpret_cast<float *>(whole.data.get()));
      continue;
    }
    if (expertSlice(params[k])) {
      placeExpertSlice(s, params[k], out.descriptor(first + k), whole);
      continue;
    }
    if (strata_status_code code = gatherSlices(
            s, params[k], out.descriptor(first + k), whole, status))
      return code;
  }
  // The gradients of the loss (summed: of the summed loss), not of the
  // scaled loss: an overflow stays inf, which the training step tests for.
  if (scaled && s.training.lossScale != 1.0f) {
    const float unscale = 1.0f / s.training.lossScale;
    for (size_t k = 0; k < s.gradients.size(); ++k) {
      float *p = reinterpret_cast<float *>(s.gradients[k].data.get());
      for (size_t i = 0; i < s.gradients[k].elements; ++i)
        p[i] *= unscale;
    }
  }
  return ok(status);
}

extern "C" {

strata_status_code strata_session_compute_gradients(
    strata_session *session, const int32_t *tokens, const int32_t *labels,
    size_t batch, size_t seq, float *loss, strata_status *status) {
  if (!session || !tokens || !loss || batch == 0 || seq == 0)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_compute_gradients: null argument or empty "
                "input");
  return guardApi(__func__, status, [&] {
    return computeGradients(*session, tokens, labels, batch, seq, loss,
                            /*labelled=*/nullptr, /*dropped=*/nullptr, status);
  });
}

strata_status_code
strata_session_save_gradients(strata_session *session, const char *path,
                              const strata_save_options *options,
                              strata_status *status) {
  if (!session || !path)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_save_gradients: null argument");
  if (!session->haveGradients)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "no gradients yet: call strata_session_compute_gradients "
                "first");
  strata_save_options defaults;
  strata_save_options_initialize(&defaults);
  return guardApi(__func__, status, [&] {
    return writeCheckpoint(path, session->exe->root, session->gradients,
                           options ? *options : defaults, status);
  });
}

} // extern "C"

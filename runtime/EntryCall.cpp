//===- EntryCall.cpp - calling a compiled entry point ---------------------===//
//
// Also the two C API calls that are one entry-point call each:
// strata_session_call and strata_session_forward.
//
//===----------------------------------------------------------------------===//

#include "runtime/EntryCall.h"
#include "runtime/Pipeline.h"
#include "runtime/abi.h"

#include <cstring>
#include <string>

namespace strata::runtime {

Descriptor::Descriptor(void *data, const std::vector<int64_t> &shape) {
  size_t rank = shape.size();
  words.assign(3 + 2 * rank, 0);
  words[0] = reinterpret_cast<int64_t>(data);
  words[1] = reinterpret_cast<int64_t>(data);
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    words[3 + i] = shape[i];
    words[3 + rank + i] = stride;
    stride *= shape[i];
  }
}

strata_status_code checkTokens(const strata::fb::Metadata *meta,
                               const int32_t *tokens, size_t count, size_t seq,
                               strata_status *status) {
  if (seq > static_cast<uint64_t>(meta->max_seq_len()))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "sequence of %zu tokens exceeds the model's maximum of %lld",
                seq, (long long)meta->max_seq_len());
  for (size_t i = 0; i < count; ++i)
    if (tokens[i] < 0 || tokens[i] >= meta->vocab_size())
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "token id %d at position %zu is outside the vocabulary "
                  "[0, %lld)",
                  tokens[i], i, (long long)meta->vocab_size());
  return STRATA_OK;
}

strata_status_code checkBatch(const strata::fb::Metadata *meta,
                              const int32_t *tokens, size_t batch, size_t seq,
                              size_t &cells, strata_status *status) {
  // Sizes a 64-bit product cannot hold would wrap past every later check.
  if (__builtin_mul_overflow(batch, seq, &cells) ||
      cells > static_cast<size_t>(INT32_MAX))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "a batch of %zu sequences of %zu tokens is too large", batch,
                seq);
  return checkTokens(meta, tokens, cells, seq, status);
}

/// The entry point `name` among `eps` (the executable's, or a stage's).
static const strata::fb::EntryPoint *findIn(
    const flatbuffers::Vector<flatbuffers::Offset<strata::fb::EntryPoint>> *eps,
    const char *name) {
  for (const auto *ep : *eps)
    if (ep->name()->str() == name)
      return ep;
  return nullptr;
}

const strata::fb::EntryPoint *findEntry(const strata_executable *exe,
                                        const char *name) {
  return findIn(exe->root->entry_points(), name);
}

const strata::fb::EntryPoint *findEntry(const strata_session &session,
                                        const char *name) {
  const strata::fb::Stage *stage = session.parallel.stage;
  if (const auto *ep = stage ? findIn(stage->entry_points(), name) : nullptr)
    return ep;
  return findEntry(session.exe, name);
}

CallFrame::~CallFrame() {
  for (void *p : staged)
    device.release(p);
}

strata_status_code CallFrame::prepare(strata_status *status) {
  if (session.uncalibrated && ep->name()->str() != "calibrate")
    return fail(status, STRATA_INVALID_ARGUMENT,
                "the model's w8a8 activation scales are not calibrated (its "
                "weights were drawn or loaded from a float checkpoint): "
                "calibrate with strata-run quantize --calibration-data, then "
                "load the checkpoint it writes");
  const char *symbol = ep->commands()->Get(0)->symbol()->c_str();
  entry = reinterpret_cast<EntryFn>(session.library->symbol(symbol));
  if (!entry)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "kernel library lacks entry symbol '%s'", symbol);
  descriptors.reserve(ep->arguments()->size());
  return session.weights.sync(device, status);
}

strata_status_code CallFrame::addTokensAndParameters(const int32_t *tokens,
                                                     size_t batch, size_t seq,
                                                     strata_status *status) {
  for (const auto *arg : *ep->arguments()) {
    if (arg->kind() == strata::fb::ArgumentKind::Tokens) {
      if (strata_status_code code =
              add(tokens, batch * seq * sizeof(int32_t),
                  {(int64_t)batch, (int64_t)seq}, status))
        return code;
    } else if (arg->kind() == strata::fb::ArgumentKind::Parameter) {
      addParameter(arg);
    } else {
      return fail(status, STRATA_UNSUPPORTED,
                  "%s takes %s; this runtime calls it with tokens and "
                  "parameters only",
                  ep->name()->c_str(),
                  strata::fb::EnumNameArgumentKind(arg->kind()));
    }
  }
  return STRATA_OK;
}

strata_status_code callWithTokens(strata_session &session,
                                  const strata::fb::EntryPoint *ep,
                                  const int32_t *tokens, size_t batch,
                                  size_t seq, Results &results,
                                  strata_status *status) {
  CallFrame frame(session, ep);
  if (strata_status_code code = frame.prepare(status))
    return code;
  if (strata_status_code code =
          frame.addTokensAndParameters(tokens, batch, seq, status))
    return code;
  return frame.call(results, status);
}

strata_status_code CallFrame::add(const void *data, size_t bytes,
                                  std::vector<int64_t> shape,
                                  strata_status *status) {
  void *where = const_cast<void *>(data);
  if (!device.hostMemory()) {
    where = device.allocate(bytes, status);
    if (!where)
      return status ? status->code : STRATA_OUT_OF_MEMORY;
    staged.push_back(where);
    if (bytes)
      if (strata_status_code code = device.upload(where, data, bytes, status))
        return code;
  }
  descriptors.emplace_back(where, shape);
  return STRATA_OK;
}

void CallFrame::addDevice(void *data, std::vector<int64_t> shape) {
  descriptors.emplace_back(data, shape);
}

void CallFrame::addParameter(const strata::fb::Argument *arg) {
  descriptors.emplace_back(
      session.weights.kernelPointer(arg->parameter(), device,
                                    /*slice=*/arg->shard_dim() >= 0),
      std::vector<int64_t>(arg->shape()->begin(), arg->shape()->end()));
}

strata_status_code CallFrame::call(Results &results, strata_status *status,
                                   const std::vector<bool> &keep) {
  size_t words = 0;
  for (const auto *res : *ep->results()) {
    results.offsets.push_back(words);
    words += 3 + 2 * res->shape()->size();
  }
  results.words.assign(words, 0);
  // args[0]: room for the results; then one descriptor per argument.
  std::vector<void *> args{results.words.data()};
  for (Descriptor &d : descriptors)
    args.push_back(d.pointer());
  if (strata_status_code code = device.begin(status))
    return code;
  entry(args.data());
  strata_status_code code = device.finish(status);
  if (device.hostMemory())
    return code;
  return resultsToHost(results, keep, code, status);
}

/// Copies every result not in `keep` to a host buffer and frees its device
/// memory, so that Results frees host memory only. After a failed call
/// (`code`, with the status already set) the device memory is released and the pointers
/// cleared.
strata_status_code CallFrame::resultsToHost(Results &results,
                                            const std::vector<bool> &keep,
                                            strata_status_code code,
                                            strata_status *status) {
  for (size_t r = 0; r < results.offsets.size(); ++r) {
    int64_t *d = results.descriptor(r);
    if (r < keep.size() && keep[r]) {
      if (code != STRATA_OK) {
        device.releaseResult(reinterpret_cast<void *>(d[0]));
        d[0] = d[1] = 0;
      }
      continue;
    }
    size_t rank = ep->results()->Get(r)->shape()->size();
    void *onDevice = reinterpret_cast<void *>(d[0]);
    // Extent of the strided view: offset plus the last element reached.
    int64_t span = d[2] + 1;
    bool empty = false;
    for (size_t i = 0; i < rank; ++i) {
      empty |= d[3 + i] == 0;
      span += (d[3 + i] - 1) * d[3 + rank + i];
    }
    size_t bytes = empty ? 0 : static_cast<size_t>(span) * sizeof(float);
    void *host = code == STRATA_OK ? std::malloc(bytes ? bytes : 1) : nullptr;
    if (code == STRATA_OK && !host)
      code = fail(status, STRATA_OUT_OF_MEMORY,
                  "out of memory copying results back");
    if (code == STRATA_OK && bytes)
      code = device.download(host, reinterpret_cast<void *>(d[1]), bytes,
                             status);
    device.releaseResult(onDevice);
    d[0] = d[1] = reinterpret_cast<int64_t>(host);
  }
  return code;
}

/// Copies a strided f32 result (a memref descriptor) out row-major.
void copyRowMajor(const int64_t *d, size_t rank, float *out) {
  const float *base = reinterpret_cast<const float *>(d[1]) + d[2];
  std::vector<int64_t> index(rank, 0);
  int64_t total = 1;
  bool contiguous = true;
  for (size_t i = rank; i-- > 0;) {
    contiguous &= d[3 + i] == 1 || d[3 + rank + i] == total;
    total *= d[3 + i];
  }
  if (contiguous) {
    std::memcpy(out, base, static_cast<size_t>(total) * sizeof(float));
    return;
  }
  for (int64_t k = 0; k < total; ++k) {
    int64_t offset = 0;
    for (size_t i = 0; i < rank; ++i)
      offset += index[i] * d[3 + rank + i];
    out[k] = base[offset];
    for (size_t i = rank; i-- > 0;) {
      if (++index[i] < d[3 + i])
        break;
      index[i] = 0;
    }
  }
}

} // namespace strata::runtime

using namespace strata::runtime;

namespace {
strata_status_code callParametersOnly(strata_session *session,
                                      const char *name, float *const *outputs,
                                      const size_t *capacities,
                                      size_t numOutputs,
                                      strata_status *status) {
  const strata::fb::EntryPoint *ep = findEntry(*session, name);
  if (!ep)
    return fail(status, STRATA_NOT_FOUND, "no entry point '%s'", name);
  for (const auto *arg : *ep->arguments())
    if (arg->kind() != strata::fb::ArgumentKind::Parameter)
      return fail(status, STRATA_UNSUPPORTED,
                  "entry point '%s' takes inputs other than parameters; "
                  "call it through forward or generate",
                  name);
  const auto *results = ep->results();
  if (numOutputs != results->size())
    return fail(status, STRATA_INVALID_ARGUMENT,
                "entry point '%s' has %u results, %zu outputs given", name,
                results->size(), numOutputs);
  for (size_t r = 0; r < numOutputs; ++r) {
    int64_t elements = checkedElements(results->Get(r)->shape(), false);
    if (elements < 0)
      return fail(status, STRATA_UNSUPPORTED,
                  "result %zu of '%s' has a dynamic shape; "
                  "strata_session_call needs static results",
                  r, name);
    if (capacities[r] < static_cast<size_t>(elements))
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "output %zu holds %zu floats, %lld needed", r, capacities[r],
                  (long long)elements);
  }
  CallFrame frame(*session, ep);
  if (strata_status_code code = frame.prepare(status))
    return code;
  for (const auto *arg : *ep->arguments())
    frame.addParameter(arg);
  Results out;
  if (strata_status_code code = frame.call(out, status))
    return code;
  for (size_t r = 0; r < numOutputs; ++r)
    copyRowMajor(out.descriptor(r), results->Get(r)->shape()->size(),
                 outputs[r]);
  return ok(status);
}

strata_status_code forward(strata_session *session, const int32_t *tokens,
                           size_t batch, size_t seq, float *logits,
                           size_t capacity, strata_status *status) {
  const auto *meta = session->exe->root->metadata();
  int64_t vocab = meta->vocab_size();
  size_t cells = 0, needed = 0;
  if (strata_status_code code =
          checkBatch(meta, tokens, batch, seq, cells, status))
    return code;
  if (__builtin_mul_overflow(cells, static_cast<size_t>(vocab), &needed))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "a batch of %zu sequences of %zu tokens is too large", batch,
                seq);
  if (capacity < needed)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "logits buffer holds %zu floats, %zu needed", capacity, needed);
  if (session->parallel.pipelined())
    return pipelineForward(*session, tokens, batch, seq, logits, status);
  const strata::fb::EntryPoint *ep = findEntry(*session, "forward");
  if (!ep)
    return fail(status, STRATA_NOT_FOUND, "the executable has no forward");
  const auto *first =
      ep->results()->size() ? ep->results()->Get(0)->shape() : nullptr;
  if (!first || first->size() != 3 || first->Get(2) != vocab)
    return fail(status, STRATA_UNSUPPORTED,
                "forward's first result is not the LM logits [batch, seq, "
                "vocab]; this model has no language-model head");
  Results results;
  if (strata_status_code code =
          callWithTokens(*session, ep, tokens, batch, seq, results, status))
    return code;
  // Copy the LM logits (result 0) out; Results frees the kernel's buffers.
  size_t k = 0;
  for (size_t b = 0; b < batch; ++b)
    for (size_t s = 0; s < seq; ++s)
      for (int64_t v = 0; v < vocab; ++v)
        logits[k++] = results.at3(0, b, s, v);
  return ok(status);
}
} // namespace

extern "C" {

strata_status_code strata_session_call(strata_session *session,
                                       const char *name, float *const *outputs,
                                       const size_t *capacities,
                                       size_t num_outputs,
                                       strata_status *status) {
  if (!session || !name || (num_outputs && (!outputs || !capacities)))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_call: null argument");
  return guardApi(__func__, status, [&] {
    return callParametersOnly(session, name, outputs, capacities, num_outputs,
                              status);
  });
}

strata_status_code strata_session_forward(strata_session *session,
                                          const int32_t *tokens, size_t batch,
                                          size_t seq, float *logits,
                                          size_t capacity,
                                          strata_status *status) {
  if (!session || !tokens || !logits || batch == 0 || seq == 0)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_forward: null argument or empty input");
  return guardApi(__func__, status, [&] {
    return forward(session, tokens, batch, seq, logits, capacity, status);
  });
}

} // extern "C"

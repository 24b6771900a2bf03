//===- Generate.cpp - generation: one loop for a sequence and a batch -----===//
//
// Every generation runs generateRows: each step computes the next logits
// of every unfinished sequence, samples a token per sequence from its own
// generator (seeded by seed + row), and stops a sequence at EOS or when it
// fills the model. The logits come from decode over a KV cache (a batch is
// left-padded to its longest prompt, padding hidden by the key-padding
// mask), or — for models without decode, or with the cache turned off —
// from forward over the whole sequence, one sequence at a time.
//
//===----------------------------------------------------------------------===//

#include "runtime/EntryCall.h"
#include "runtime/KvCache.h"
#include "runtime/Pipeline.h"
#include "runtime/Sampling.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

using namespace strata::runtime;

namespace {

/// One generation's sequences.
struct Batch {
  const int32_t *const *prompts;
  const size_t *lengths;
  size_t size;
  size_t maxNew;
  int32_t *out;      ///< [size, maxNew]
  size_t *outCounts; ///< [size]
};

/// Computes the last logits of every unfinished sequence.
class Stepper {
public:
  virtual ~Stepper() = default;
  /// Step `i`: `last` receives [batch, vocab] logits (rows of finished
  /// sequences are unspecified).
  virtual strata_status_code step(size_t i, const std::vector<bool> &done,
                                  std::vector<float> &last,
                                  strata_status *status) = 0;
};

/// decode over a KV cache: the prompts first, then one token per step.
class CachedStepper final : public Stepper {
public:
  CachedStepper(strata_session &session, const strata::fb::EntryPoint *decode,
                const Batch &batch)
      : session(session), decode(decode), batch(batch),
        cache(*session.device, static_cast<int64_t>(batch.size),
              session.exe->root->metadata()->max_seq_len()) {}

  strata_status_code step(size_t i, const std::vector<bool> &done,
                          std::vector<float> &last,
                          strata_status *status) override;

private:
  strata_status_code run(const int32_t *tokens, const int32_t *positions,
                         const int32_t *padding, int64_t n,
                         std::vector<float> &last, strata_status *status);

  strata_session &session;
  const strata::fb::EntryPoint *decode;
  const Batch &batch;
  KvCache cache;
};

strata_status_code CachedStepper::step(size_t i, const std::vector<bool> &done,
                                       std::vector<float> &last,
                                       strata_status *status) {
  const size_t B = batch.size;
  if (i == 0) {
    // Prompts left-padded to the longest (padding id 0), positions counted
    // from each prompt's first token.
    size_t longest = *std::max_element(batch.lengths, batch.lengths + B);
    std::vector<int32_t> tokens(B * longest, 0), positions(B * longest, 0),
        padding(B);
    for (size_t b = 0; b < B; ++b) {
      size_t pad = longest - batch.lengths[b];
      padding[b] = static_cast<int32_t>(pad);
      for (size_t t = 0; t < batch.lengths[b]; ++t) {
        tokens[b * longest + pad + t] = batch.prompts[b][t];
        positions[b * longest + pad + t] = static_cast<int32_t>(t);
      }
    }
    return run(tokens.data(), positions.data(), padding.data(),
               static_cast<int64_t>(longest), last, status);
  }
  // Finished sequences keep step with the batch on token 0.
  std::vector<int32_t> tokens(B, 0), positions(B), padding(B);
  size_t longest = *std::max_element(batch.lengths, batch.lengths + B);
  for (size_t b = 0; b < B; ++b) {
    positions[b] = static_cast<int32_t>(batch.lengths[b] + i - 1);
    padding[b] = static_cast<int32_t>(longest - batch.lengths[b]);
    if (!done[b])
      tokens[b] = batch.out[b * batch.maxNew + batch.outCounts[b] - 1];
  }
  return run(tokens.data(), positions.data(), padding.data(), 1, last, status);
}

strata_status_code CachedStepper::run(const int32_t *tokens,
                                      const int32_t *positions,
                                      const int32_t *padding, int64_t n,
                                      std::vector<float> &last,
                                      strata_status *status) {
  // A pipeline stage's decode takes the previous stage's hidden state.
  BoundaryValues boundary;
  if (session.parallel.pipelined())
    if (strata_status_code code =
            receiveBoundary(session, decode, boundary, status))
      return code;
  CallFrame frame(session, decode);
  if (strata_status_code code = frame.prepare(status))
    return code;
  const int64_t B = cache.batch();
  const size_t cells = static_cast<size_t>(B * n) * sizeof(int32_t);
  using strata::fb::ArgumentKind;
  for (const auto *arg : *decode->arguments()) {
    strata_status_code code = STRATA_OK;
    switch (arg->kind()) {
    case ArgumentKind::Tokens:
      code = frame.add(tokens, cells, {B, n}, status);
      break;
    case ArgumentKind::Positions:
      code = frame.add(positions, cells, {B, n}, status);
      break;
    case ArgumentKind::KeyPadding:
      code = frame.add(padding, B * sizeof(int32_t), {B}, status);
      break;
    case ArgumentKind::KeyCache:
    case ArgumentKind::ValueCache: {
      int64_t width = arg->shape()->Get(2);
      void *rows = nullptr;
      code = cache.rows(arg->kind() == ArgumentKind::KeyCache,
                        static_cast<size_t>(arg->layer()), width, rows, status);
      if (code == STRATA_OK)
        frame.addDevice(rows, {B, cache.length(), width});
      break;
    }
    case ArgumentKind::Boundary:
      code = addBoundary(frame, decode, arg, boundary, status);
      break;
    case ArgumentKind::Parameter:
      frame.addParameter(arg);
      break;
    default:
      return fail(status, STRATA_UNSUPPORTED,
                  "decode takes an argument this runtime cannot supply");
    }
    if (code)
      return code;
  }
  // The new cache rows stay where the kernels wrote them.
  std::vector<bool> keep(decode->results()->size(), true);
  keep[0] = false;
  Results results;
  if (strata_status_code code = frame.call(results, status, keep))
    return code;
  int64_t vocab = session.exe->root->metadata()->vocab_size();
  last.resize(static_cast<size_t>(B * vocab));
  if (!session.parallel.pipelined()) {
    for (int64_t b = 0; b < B; ++b)
      for (int64_t v = 0; v < vocab; ++v)
        last[b * vocab + v] = results.at3(0, b, n - 1, v);
    return cache.append(decode, results, n, status);
  }
  // Stages pass the hidden state on; the last one's logits go to every
  // rank, which all sample alike.
  Communicator &stages = *session.parallel.pipeline;
  bool lastStage = stages.rank() + 1 == stages.size();
  if (strata_status_code code = sendBoundary(session, decode, results, status))
    return code;
  if (lastStage)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t v = 0; v < vocab; ++v)
        last[b * vocab + v] = results.at3(0, b, n - 1, v);
  if (strata_status_code code = cache.append(decode, results, n, status))
    return code;
  return stages.broadcast(last.data(), last.size() * sizeof(float),
                          stages.size() - 1, status);
}

/// forward over the whole sequence, every step (one sequence).
class RecomputeStepper final : public Stepper {
public:
  RecomputeStepper(strata_session &session, const Batch &batch)
      : session(session), batch(batch) {}
  strata_status_code step(size_t, const std::vector<bool> &,
                          std::vector<float> &last,
                          strata_status *status) override {
    std::vector<int32_t> sequence(batch.prompts[0],
                                  batch.prompts[0] + batch.lengths[0]);
    sequence.insert(sequence.end(), batch.out, batch.out + batch.outCounts[0]);
    int64_t vocab = session.exe->root->metadata()->vocab_size();
    logits.resize(sequence.size() * static_cast<size_t>(vocab));
    if (strata_status_code code = strata_session_forward(
            &session, sequence.data(), 1, sequence.size(), logits.data(),
            logits.size(), status))
      return code;
    last.assign(logits.end() - vocab, logits.end());
    return STRATA_OK;
  }

private:
  strata_session &session;
  const Batch &batch;
  std::vector<float> logits;
};

/// The one generation loop.
strata_status_code generateRows(strata_session &session, Stepper &stepper,
                                const Batch &batch,
                                const strata_sampling_options &opts,
                                strata_status *status) {
  const auto *meta = session.exe->root->metadata();
  const int64_t vocab = meta->vocab_size(), maxSeq = meta->max_seq_len();
  const size_t B = batch.size;
  std::vector<uint64_t> rng(B);
  std::vector<bool> done(B, false);
  for (size_t b = 0; b < B; ++b)
    rng[b] = splitmix64(opts.seed + b);
  std::vector<float> last;
  for (size_t i = 0; i < batch.maxNew; ++i) {
    bool active = false;
    for (size_t b = 0; b < B; ++b) {
      if (static_cast<int64_t>(batch.lengths[b] + i) >= maxSeq)
        done[b] = true; // the sequence fills the model
      active |= !done[b];
    }
    if (!active)
      break;
    if (strata_status_code code = stepper.step(i, done, last, status))
      return code;
    std::vector<int32_t> picks(B, -1);
    for (size_t b = 0; b < B; ++b)
      if (!done[b])
        picks[b] = sampleToken(last.data() + b * vocab, vocab, opts, rng[b]);
    // Tensor-parallel ranks must run the same steps: they take the first
    // one's tokens, whatever the last bit of their own logits did.
    if (Communicator *group = session.parallel.tensorParallel.get();
        group && group->size() > 1)
      if (strata_status_code code = group->broadcast(
              picks.data(), picks.size() * sizeof(int32_t), 0, status))
        return code;
    for (size_t b = 0; b < B; ++b) {
      if (done[b])
        continue;
      int32_t next = picks[b];
      batch.out[b * batch.maxNew + batch.outCounts[b]++] = next;
      if (next == meta->eos_token_id())
        done[b] = true;
    }
  }
  return STRATA_OK;
}

/// Whether `decode` can run a left-padded batch (executables compiled
/// before key padding existed cannot).
bool takesKeyPadding(const strata::fb::EntryPoint *decode) {
  for (const auto *arg : *decode->arguments())
    if (arg->kind() == strata::fb::ArgumentKind::KeyPadding)
      return true;
  return false;
}

strata_status_code generate(strata_session &session, const Batch &batch,
                            const strata_sampling_options &opts,
                            strata_status *status) {
  const strata::fb::EntryPoint *decode = findEntry(session, "decode");
  bool cached = decode && session.useKvCache;
  if (cached && (batch.size == 1 || takesKeyPadding(decode))) {
    CachedStepper stepper(session, decode, batch);
    return generateRows(session, stepper, batch, opts, status);
  }
  // One sequence at a time, each as alone.
  for (size_t b = 0; b < batch.size; ++b) {
    Batch row{batch.prompts + b,          batch.lengths + b,    1,
              batch.maxNew,               batch.out + b * batch.maxNew,
              batch.outCounts + b};
    strata_sampling_options rowOpts = opts;
    rowOpts.seed = opts.seed + b;
    strata_status_code code;
    if (cached) {
      CachedStepper stepper(session, decode, row);
      code = generateRows(session, stepper, row, rowOpts, status);
    } else {
      RecomputeStepper stepper(session, row);
      code = generateRows(session, stepper, row, rowOpts, status);
    }
    if (code)
      return code;
  }
  return STRATA_OK;
}

/// Data parallelism: each rank of the group generates its share of the
/// rows (sampling as the whole batch would: row b from seed + b), then the
/// group sums the outputs — every other row is zero on each rank — so
/// every rank returns the whole batch. The ranks of an expert-parallel
/// group exchange tokens at every MoE layer, so they generate one share
/// together, in step (the same rows, the same shapes); the group's first
/// rank alone adds it to the sum.
strata_status_code generateShared(strata_session &session, const Batch &batch,
                                  const strata_sampling_options &opts,
                                  strata_status *status) {
  const ParallelPlace &place = session.parallel;
  size_t together = place.expertsSplit()
                        ? static_cast<size_t>(place.expertParallel->size())
                        : 1;
  size_t ranks = static_cast<size_t>(place.dpSize()) / together;
  if (ranks == 1 || batch.size == 1)
    return generate(session, batch, opts, status);
  // The data-parallel group orders ranks by world rank, the ep
  // coordinate fastest: an expert-parallel group is `together` neighbours.
  size_t rank = static_cast<size_t>(place.dpRank()) / together;
  bool adds = static_cast<size_t>(place.dpRank()) % together == 0;
  size_t first = batch.size * rank / ranks;
  size_t end = batch.size * (rank + 1) / ranks;
  if (batch.out)
    std::memset(batch.out, 0, batch.size * batch.maxNew * sizeof(int32_t));
  strata_status_code code = STRATA_OK;
  strata_status mine{};
  if (end > first) {
    Batch share{batch.prompts + first, batch.lengths + first,
                end - first,           batch.maxNew,
                batch.out ? batch.out + first * batch.maxNew : nullptr,
                batch.outCounts + first};
    strata_sampling_options shifted = opts;
    shifted.seed = opts.seed + first;
    code = generate(session, share, shifted, &mine);
  }
  // Agree on failure first: a rank that failed must not leave the others
  // waiting in the exchange below.
  int32_t failed = code != STRATA_OK;
  Communicator &group = *place.dataParallel;
  if (strata_status_code c =
          group.allReduceSum(&failed, 1, STRATA_COMM_I32, status))
    return c;
  if (code) {
    if (status)
      *status = mine;
    return code;
  }
  if (failed)
    return fail(status, STRATA_COMMUNICATION_ERROR,
                "another data-parallel rank failed to generate its share of "
                "the batch (it reports why)");
  std::vector<int64_t> counts(batch.size, 0);
  for (size_t b = first; b < end && adds; ++b)
    counts[b] = static_cast<int64_t>(batch.outCounts[b]);
  if (!adds && batch.out)
    std::memset(batch.out, 0, batch.size * batch.maxNew * sizeof(int32_t));
  if (batch.out)
    if (strata_status_code c = group.allReduceSum(
            batch.out, batch.size * batch.maxNew, STRATA_COMM_I32, status))
      return c;
  if (strata_status_code c = group.allReduceSum(counts.data(), counts.size(),
                                                STRATA_COMM_I64, status))
    return c;
  for (size_t b = 0; b < batch.size; ++b)
    batch.outCounts[b] = static_cast<size_t>(counts[b]);
  return STRATA_OK;
}

} // namespace

extern "C" {

strata_status_code strata_session_use_kv_cache(strata_session *session,
                                               int enabled,
                                               strata_status *status) {
  if (!session)
    return fail(status, STRATA_INVALID_ARGUMENT, "null session");
  session->useKvCache = enabled != 0;
  return ok(status);
}

strata_status_code strata_session_generate_batch(
    strata_session *session, const int32_t *const *prompts,
    const size_t *prompt_lengths, size_t batch, size_t max_new_tokens,
    const strata_sampling_options *options, int32_t *out, size_t *out_counts,
    strata_status *status) {
  if (!session || !prompts || !prompt_lengths || !out_counts || batch == 0 ||
      (max_new_tokens && !out))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_generate_batch: null argument or empty batch");
  strata_sampling_options opts;
  if (strata_status_code code = resolveSampling(options, opts, status))
    return code;
  size_t cells;
  if (__builtin_mul_overflow(batch, max_new_tokens, &cells))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%zu sequences of %zu new tokens is too large", batch,
                max_new_tokens);
  const auto *meta = session->exe->root->metadata();
  for (size_t b = 0; b < batch; ++b) {
    out_counts[b] = 0;
    if (!prompts[b] || prompt_lengths[b] == 0)
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "sequence %zu of the batch is null or empty", b);
    if (strata_status_code code = checkTokens(
            meta, prompts[b], prompt_lengths[b], prompt_lengths[b], status)) {
      if (batch == 1)
        return code;
      std::string message = status ? status->message : "";
      return fail(status, code, "sequence %zu of the batch: %s", b,
                  message.c_str());
    }
  }
  return guardApi(__func__, status, [&] {
    Batch rows{prompts, prompt_lengths, batch, max_new_tokens, out, out_counts};
    if (strata_status_code code = generateShared(*session, rows, opts, status))
      return code;
    return ok(status);
  });
}

strata_status_code
strata_session_generate(strata_session *session, const int32_t *prompt,
                        size_t prompt_length, size_t max_new_tokens,
                        const strata_sampling_options *options, int32_t *out,
                        size_t *out_count, strata_status *status) {
  if (!session || !prompt || !out_count || (max_new_tokens && !out) ||
      prompt_length == 0)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_generate: null argument or empty prompt");
  return strata_session_generate_batch(session, &prompt, &prompt_length, 1,
                                       max_new_tokens, options, out, out_count,
                                       status);
}

strata_status_code
strata_session_generate_greedy(strata_session *session, const int32_t *prompt,
                               size_t prompt_length, size_t max_new_tokens,
                               int32_t *out, size_t *out_count,
                               strata_status *status) {
  return strata_session_generate(session, prompt, prompt_length, max_new_tokens,
                                 nullptr, out, out_count, status);
}

} // extern "C"

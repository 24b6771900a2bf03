//===- Sampling.cpp - picking the next token ------------------------------===//

#include "runtime/Sampling.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace strata::runtime {

uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

strata_status_code resolveSampling(const strata_sampling_options *options,
                                   strata_sampling_options &opts,
                                   strata_status *status) {
  strata_sampling_options_initialize(&opts);
  if (options)
    opts = *options;
  if (!(opts.temperature >= 0) || opts.top_k < 0 ||
      !(opts.top_p > 0 && opts.top_p <= 1))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "sampling options out of range: temperature %g (>= 0), "
                "top_k %d (>= 0), top_p %g (in (0, 1])",
                opts.temperature, opts.top_k, opts.top_p);
  return STRATA_OK;
}

int32_t sampleToken(const float *logits, int64_t vocab,
                    const strata_sampling_options &opts, uint64_t &state) {
  if (opts.temperature <= 0 || opts.top_k == 1) {
    int32_t best = 0;
    for (int64_t v = 1; v < vocab; ++v)
      if (!std::isnan(logits[v]) &&
          (std::isnan(logits[best]) || logits[v] > logits[best]))
        best = static_cast<int32_t>(v);
    return best;
  }
  // Probabilities in double, sorted by descending probability (ties by id);
  // a NaN logit gets probability 0.
  std::vector<std::pair<double, int32_t>> probs(static_cast<size_t>(vocab));
  double max = -INFINITY;
  for (int64_t v = 0; v < vocab; ++v)
    if (!std::isnan(logits[v]))
      max = std::max<double>(max, logits[v]);
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v) {
    double p = std::isnan(logits[v]) || std::isinf(max)
                   ? 0.0
                   : std::exp((logits[v] - max) / opts.temperature);
    probs[v] = {p, static_cast<int32_t>(v)};
    sum += p;
  }
  if (!(sum > 0)) // every logit NaN or infinite: no distribution to draw from
    return sampleToken(logits, vocab, strata_sampling_options{}, state);
  std::sort(probs.begin(), probs.end(), [](const auto &a, const auto &b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  size_t keep = probs.size();
  if (opts.top_k > 0)
    keep = std::min(keep, static_cast<size_t>(opts.top_k));
  if (opts.top_p < 1) {
    double cumulative = 0;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs[i].first / sum;
      if (cumulative >= opts.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept = 0;
  for (size_t i = 0; i < keep; ++i)
    kept += probs[i].first;
  state = splitmix64(state);
  double u = static_cast<double>(state >> 11) * 0x1.0p-53 * kept;
  for (size_t i = 0; i < keep; ++i) {
    u -= probs[i].first;
    if (u < 0)
      return probs[i].second;
  }
  return probs[keep - 1].second;
}

} // namespace strata::runtime

extern "C" void
strata_sampling_options_initialize(strata_sampling_options *options) {
  if (!options)
    return;
  options->temperature = 0.0f;
  options->top_k = 0;
  options->top_p = 1.0f;
  options->seed = 0;
}

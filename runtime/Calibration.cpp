//===- Calibration.cpp - static w8a8's activation observers ---------------===//

#include "runtime/Calibration.h"
#include "runtime/EntryCall.h"
#include "runtime/Quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace strata::runtime {

void Observer::cover(double low, double high) {
  if (bins.empty()) {
    bins.assign(kBins, 0.0);
    lo = low;
    // A single point still gets bins: a width from its magnitude.
    double span = high - low;
    if (!(span > 0))
      span = std::max(std::fabs(low), 1e-6);
    width = span / kBins * (1 + 1e-9);
    return;
  }
  // Double the range towards the side that needs it; each new bin is two
  // old ones, so the counts stay exact.
  while (low < lo || high >= lo + width * kBins) {
    std::vector<double> grown(kBins, 0.0);
    bool left = low < lo;
    for (size_t j = 0; j < kBins; ++j)
      grown[left ? (kBins + j) / 2 : j / 2] += bins[j];
    if (left)
      lo -= width * kBins;
    width *= 2;
    bins.swap(grown);
  }
}

void Observer::addAt(double value, double weight) {
  auto j = static_cast<int64_t>((value - lo) / width);
  j = std::clamp<int64_t>(j, 0, kBins - 1);
  bins[j] += weight;
}

void Observer::add(const float *values, size_t n) {
  if (!n)
    return;
  auto [lowIt, highIt] = std::minmax_element(values, values + n);
  double low = *lowIt, high = *highIt;
  cover(low, high);
  min = count ? std::min(min, low) : low;
  max = count ? std::max(max, high) : high;
  count += n;
  for (size_t i = 0; i < n; ++i)
    addAt(values[i], 1.0);
}

void Observer::merge(const Observer &other) {
  if (other.empty())
    return;
  cover(other.min, other.max);
  min = count ? std::min(min, other.min) : other.min;
  max = count ? std::max(max, other.max) : other.max;
  count += other.count;
  for (size_t j = 0; j < kBins; ++j)
    if (other.bins[j])
      addAt(std::clamp(other.lo + (j + 0.5) * other.width, other.min,
                       other.max),
            other.bins[j]);
}

double Observer::quantile(double q) const {
  double target = q * count, seen = 0;
  for (size_t j = 0; j < kBins; ++j) {
    if (seen + bins[j] >= target && bins[j] > 0) {
      double inside = (target - seen) / bins[j];
      return std::clamp(lo + (j + inside) * width, min, max);
    }
    seen += bins[j];
  }
  return max;
}

void Observer::range(strata_observer kind, double percentile, double &low,
                     double &high) const {
  low = min;
  high = max;
  if (kind == STRATA_OBSERVER_PERCENTILE) {
    double tail = (1 - percentile / 100) / 2;
    low = quantile(tail);
    high = quantile(1 - tail);
    return;
  }
  if (kind != STRATA_OBSERVER_MSE || !(max > min))
    return;
  // The estimated error of quantizing to [l, h] with 256 levels: values
  // outside are clipped (their distance squared), values inside rounded
  // (step^2 / 12 each), each bin's values at its centre.
  auto error = [&](double l, double h) {
    double step = (std::max(h, 0.0) - std::min(l, 0.0)) / 255, e = 0;
    for (size_t j = 0; j < kBins; ++j) {
      if (!bins[j])
        continue;
      double c = lo + (j + 0.5) * width;
      double clipped = std::clamp(c, l, h);
      e += bins[j] * ((c - clipped) * (c - clipped) +
                      (c == clipped ? step * step / 12 : 0));
    }
    return e;
  };
  // Candidates: each end at a quantile whose tail share runs from 0 to
  // one half in 1-2-5 steps from 1e-7, so that one outlier or a long
  // tail can be clipped however far out it lies.
  std::vector<double> tails{0.0};
  for (double decade = 1e-7; decade < 0.5; decade *= 10)
    for (double m : {1.0, 2.0, 5.0})
      if (m * decade < 0.5)
        tails.push_back(m * decade);
  tails.insert(tails.end(), {0.3, 0.4, 0.5});
  std::vector<double> lows, highs;
  for (double t : tails) {
    lows.push_back(quantile(t));
    highs.push_back(quantile(1 - t));
  }
  double best = error(min, max);
  for (double l : lows)
    for (double h : highs) {
      if (!(h > l))
        continue;
      double e = error(l, h);
      if (e < best) {
        best = e;
        low = l;
        high = h;
      }
    }
}

void affineParams(double low, double high, float &scale, float &zeroPoint) {
  low = std::min(low, 0.0);
  high = std::max(high, 0.0);
  double s = (high - low) / 255;
  if (!(s > 0) || !std::isfinite(s) ||
      static_cast<float>(s) < std::numeric_limits<float>::min())
    s = 1;
  scale = static_cast<float>(s);
  zeroPoint = static_cast<float>(
      std::clamp(std::nearbyint(-low / scale), 0.0, 255.0));
}

namespace {

/// Result `r` of an entry point as a row-major host array of `T`.
template <typename T>
std::vector<T> rowMajor(const Results &results, size_t r, size_t rank) {
  const int64_t *d = results.descriptor(r);
  size_t n = 1;
  for (size_t i = 0; i < rank; ++i)
    n *= static_cast<size_t>(d[3 + i]);
  std::vector<T> out(n);
  const T *base = reinterpret_cast<const T *>(d[1]) + d[2];
  std::vector<int64_t> index(rank, 0);
  for (size_t k = 0; k < n; ++k) {
    int64_t at = 0;
    for (size_t i = 0; i < rank; ++i)
      at += index[i] * d[3 + rank + i];
    out[k] = base[at];
    for (size_t i = rank; i-- > 0;)
      if (++index[i] < d[3 + i])
        break;
      else
        index[i] = 0;
  }
  return out;
}

strata_status_code observe(strata_session &session, const int32_t *tokens,
                           size_t batch, size_t seq, strata_status *status) {
  const strata::fb::Executable *exe = session.exe->root;
  size_t cells = 0;
  if (strata_status_code code =
          checkBatch(exe->metadata(), tokens, batch, seq, cells, status))
    return code;
  const strata::fb::EntryPoint *ep = findEntry(session, "calibrate");
  if (!ep)
    return fail(status, STRATA_NOT_FOUND,
                "the executable has no calibrate entry point: only a model "
                "compiled with strata-compile --quantize=w8a8 is calibrated");
  Results results;
  if (strata_status_code code =
          callWithTokens(session, ep, tokens, batch, seq, results, status))
    return code;
  if (!session.calibration)
    session.calibration = std::make_unique<CalibrationState>();
  CalibrationState &state = *session.calibration;
  const auto *params = exe->parameters();
  const auto *kinds = ep->results();
  using strata::fb::ResultKind;
  // The parameters a calibration result calibrates.
  auto calibrates = [&](const strata::fb::Result *res) {
    std::vector<size_t> out;
    if (res->parameters())
      for (int p : *res->parameters())
        out.push_back(static_cast<size_t>(p));
    else
      out.push_back(static_cast<size_t>(res->parameter()));
    return out;
  };
  // The offsets result of expert rows calibrating `param`.
  auto offsetsOf = [&](size_t param) -> int {
    for (size_t r = 0; r < kinds->size(); ++r)
      if (kinds->Get(r)->kind() == ResultKind::ExpertOffsets)
        for (size_t p : calibrates(kinds->Get(r)))
          if (p == param)
            return static_cast<int>(r);
    return -1;
  };
  for (size_t r = 0; r < kinds->size(); ++r) {
    const strata::fb::Result *res = kinds->Get(r);
    if (res->kind() != ResultKind::Activations &&
        res->kind() != ResultKind::ExpertRows)
      continue;
    std::vector<float> values =
        rowMajor<float>(results, r, res->shape()->size());
    std::vector<size_t> calibrated = calibrates(res);
    for (float v : values)
      if (!std::isfinite(v))
        return fail(status, STRATA_INVALID_ARGUMENT,
                    "calibration: the activations quantized with '%s' hold "
                    "%g; the model is broken on this text (check the "
                    "weights)",
                    params->Get(calibrated.front())->name()->c_str(),
                    static_cast<double>(v));
    for (size_t param : calibrated) {
      const char *name = params->Get(param)->name()->c_str();
      CalibrationState::Site &site = state.sites[param];
      size_t experts =
          static_cast<size_t>(params->Get(param)->shape()->Get(0));
      site.perElement.resize(experts);
      if (res->kind() == ResultKind::Activations) {
        site.perElement[0].add(values.data(), values.size());
        continue;
      }
      // Every expert's rows: the fallback of an expert that has none.
      site.all.add(values.data(), values.size());
      int at = offsetsOf(param);
      if (at < 0)
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "calibrate returns the expert rows of '%s' without "
                    "their offsets",
                    name);
      std::vector<int32_t> offsets = rowMajor<int32_t>(results, at, 1);
      size_t cols = static_cast<size_t>(results.descriptor(r)[3 + 1]);
      size_t rows = cols ? values.size() / cols : 0;
      if (offsets.size() != experts + 1)
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "calibrate returns %zu offsets for the %zu experts of "
                    "'%s'",
                    offsets.size(), experts, name);
      for (size_t e = 0; e < experts; ++e) {
        int64_t begin = offsets[e], end = offsets[e + 1];
        if (begin < 0 || end < begin || static_cast<size_t>(end) > rows)
          return fail(status, STRATA_INTERNAL_ERROR,
                      "calibration: expert %zu of '%s' has rows [%lld, "
                      "%lld) of %zu",
                      e, name, (long long)begin, (long long)end, rows);
        site.perElement[e].add(values.data() + begin * cols,
                               static_cast<size_t>(end - begin) * cols);
      }
    }
  }
  state.sequences += batch;
  return ok(status);
}

strata_status_code finish(strata_session &session,
                          const strata_calibration_options &options,
                          const char **warnings, strata_status *status) {
  if (options.observer < STRATA_OBSERVER_MINMAX ||
      options.observer > STRATA_OBSERVER_MSE ||
      !(options.percentile > 50 && options.percentile <= 100))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "calibration: observer %d / percentile %g: the observer is "
                "minmax, percentile or mse and the percentile in (50, 100]",
                static_cast<int>(options.observer), options.percentile);
  const strata::fb::Executable *exe = session.exe->root;
  const auto *params = exe->parameters();
  if (!session.calibration || !session.calibration->sequences)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "calibration: no sequences observed; call "
                "strata_session_calibration_observe first");
  CalibrationState &state = *session.calibration;
  std::string notes;
  // Computed in full before any parameter changes: a failure leaves them.
  std::vector<std::pair<size_t, std::vector<float>>> updates;
  const auto *table = exe->quantization();
  if (!table)
    return fail(status, STRATA_NOT_FOUND,
                "calibration: the executable has no quantization table");
  for (const strata::fb::QuantizedTensor *q : *table) {
    if (q->input_scale() < 0)
      continue;
    size_t param = static_cast<size_t>(q->input_scale());
    const char *name = params->Get(param)->name()->c_str();
    auto it = state.sites.find(param);
    auto seen = [](const CalibrationState::Site &site) {
      return std::any_of(site.perElement.begin(), site.perElement.end(),
                         [](const Observer &o) { return !o.empty(); });
    };
    if (it == state.sites.end() || !seen(it->second))
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "calibration: no activation reached '%s' in %zu "
                  "sequences; calibrate with more text",
                  name, state.sequences);
    const CalibrationState::Site &site = it->second;
    size_t n = site.perElement.size();
    std::vector<float> scales(n), zeros(n);
    for (size_t e = 0; e < n; ++e) {
      const Observer *observed = &site.perElement[e];
      if (observed->empty()) {
        // No token was routed to this expert: the rows of all its layer's
        // experts stand in for its own.
        observed = &site.all;
        notes += "warning: expert " + std::to_string(e) + " of '" + name +
                 "' received no calibration tokens; it uses the range of "
                 "all of its layer's experts\n";
      }
      double low, high;
      observed->range(options.observer, options.percentile, low, high);
      affineParams(low, high, scales[e], zeros[e]);
    }
    updates.emplace_back(param, std::move(scales));
    updates.emplace_back(static_cast<size_t>(q->input_zero_point()),
                         std::move(zeros));
  }
  for (auto &[param, values] : updates) {
    HostTensor &t = session.weights[param];
    std::memcpy(t.data.get(), values.data(), values.size() * sizeof(float));
  }
  session.weights.floatsChanged();
  session.uncalibrated = false;
  state.warnings = std::move(notes);
  if (warnings)
    *warnings = state.warnings.c_str();
  // The observers go; the warnings stay readable.
  state.sites.clear();
  state.sequences = 0;
  return ok(status);
}

} // namespace
} // namespace strata::runtime

using namespace strata::runtime;

extern "C" {

void strata_calibration_options_initialize(
    strata_calibration_options *options) {
  if (!options)
    return;
  options->observer = STRATA_OBSERVER_MINMAX;
  options->percentile = 99.99;
}

strata_status_code strata_session_calibration_observe(strata_session *session,
                                                      const int32_t *tokens,
                                                      size_t batch, size_t seq,
                                                      strata_status *status) {
  if (!session || !tokens || batch == 0 || seq == 0)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_calibration_observe: null argument or empty "
                "input");
  return guardApi(__func__, status, [&] {
    return observe(*session, tokens, batch, seq, status);
  });
}

strata_status_code strata_session_calibration_finish(
    strata_session *session, const strata_calibration_options *options,
    const char **warnings, strata_status *status) {
  if (!session)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_calibration_finish: null session");
  strata_calibration_options defaults;
  strata_calibration_options_initialize(&defaults);
  return guardApi(__func__, status, [&] {
    return finish(*session, options ? *options : defaults, warnings, status);
  });
}

} // extern "C"

//===- Quantize.cpp - int8 weights and their per-channel scales -----------===//

#include "runtime/Quantize.h"

#include "runtime/schema/executable_generated.h"

#include <algorithm>
#include <cmath>

namespace strata::runtime {

std::vector<int> weightScales(const strata::fb::Executable *exe) {
  std::vector<int> scales(exe->parameters()->size(), -1);
  if (const auto *table = exe->quantization())
    for (const strata::fb::QuantizedTensor *q : *table)
      scales[q->parameter()] = q->scale();
  return scales;
}

std::vector<int> rowSumsSources(const strata::fb::Executable *exe) {
  std::vector<int> sources(exe->parameters()->size(), -1);
  if (const auto *table = exe->quantization())
    for (const strata::fb::QuantizedTensor *q : *table)
      if (q->row_sums() >= 0)
        sources[q->row_sums()] = q->parameter();
  return sources;
}

void computeRowSums(const HostTensor &weight, HostTensor &sums) {
  const auto *w = reinterpret_cast<const int8_t *>(weight.data.get());
  auto *out = reinterpret_cast<int32_t *>(sums.data.get());
  size_t cols = weight.shape.empty() ? 1 : weight.shape.back();
  for (size_t r = 0; r < sums.elements; ++r) {
    int32_t s = 0;
    for (size_t k = 0; k < cols; ++k)
      s += w[r * cols + k];
    out[r] = s;
  }
}

std::vector<bool> isWeightScale(const std::vector<int> &scales) {
  std::vector<bool> out(scales.size());
  for (int s : scales)
    if (s >= 0)
      out[s] = true;
  return out;
}

std::vector<ActivationRole>
activationParams(const strata::fb::Executable *exe) {
  std::vector<ActivationRole> roles(exe->parameters()->size(),
                                    kNotActivation);
  if (const auto *table = exe->quantization())
    for (const strata::fb::QuantizedTensor *q : *table) {
      if (q->input_scale() >= 0)
        roles[q->input_scale()] = kInputScale;
      if (q->input_zero_point() >= 0)
        roles[q->input_zero_point()] = kInputZeroPoint;
    }
  return roles;
}

strata_status_code checkLoadedActivations(const HostTensor &values,
                                          ActivationRole role,
                                          const std::string &what,
                                          strata_status *status) {
  const auto *v = reinterpret_cast<const float *>(values.data.get());
  for (size_t i = 0; i < values.elements; ++i) {
    bool good = role == kInputScale
                    ? std::isfinite(v[i]) && v[i] > 0.0f
                    : v[i] >= 0.0f && v[i] <= 255.0f && v[i] == std::nearbyint(v[i]);
    if (!good)
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: element %zu is %g; %s (re-create the file with "
                  "strata-run quantize --calibration-data)",
                  what.c_str(), i, static_cast<double>(v[i]),
                  role == kInputScale
                      ? "activation scales must be finite and > 0"
                      : "activation zero points must be integers in "
                        "[0, 255]");
  }
  return STRATA_OK;
}

bool quantizeRows(const float *src, size_t rows, size_t cols, int8_t *q,
                  float *scales, size_t &badRow) {
  for (size_t r = 0; r < rows; ++r) {
    const float *row = src + r * cols;
    float absMax = 0.0f;
    for (size_t c = 0; c < cols; ++c) {
      if (!std::isfinite(row[c])) {
        badRow = r;
        return false;
      }
      absMax = std::max(absMax, std::fabs(row[c]));
    }
    // The same f32 operations as the reference (test/e2e): s = max / 127,
    // q = round(x / s), so both give bit-identical weights.
    float scale = absMax > 0.0f ? absMax / 127.0f : 1.0f;
    scales[r] = scale;
    for (size_t c = 0; c < cols; ++c) {
      float v = std::nearbyint(row[c] / scale); // ties to even
      q[r * cols + c] = static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f));
    }
  }
  return true;
}

strata_status_code quantizeInto(const HostTensor &values, HostTensor &weight,
                                HostTensor &scales, const std::string &what,
                                strata_status *status) {
  size_t cols = weight.shape.empty() ? 1 : weight.shape.back();
  size_t rows = cols ? weight.elements / cols : 0;
  size_t bad = 0;
  if (!quantizeRows(reinterpret_cast<const float *>(values.data.get()), rows,
                    cols, reinterpret_cast<int8_t *>(weight.data.get()),
                    reinterpret_cast<float *>(scales.data.get()), bad))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%s: row %zu holds a NaN or infinite value; it cannot be "
                "quantized to int8",
                what.c_str(), bad);
  return STRATA_OK;
}

strata_status_code checkLoadedScales(const HostTensor &scales,
                                     const std::string &what,
                                     strata_status *status) {
  const auto *s = reinterpret_cast<const float *>(scales.data.get());
  for (size_t r = 0; r < scales.elements; ++r)
    if (!(std::isfinite(s[r]) && s[r] > 0.0f))
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: scale %zu is %g; int8 scales must be finite and > 0 "
                  "(re-create the file with strata-run quantize)",
                  what.c_str(), r, static_cast<double>(s[r]));
  return STRATA_OK;
}

} // namespace strata::runtime

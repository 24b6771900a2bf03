//===- Quantize.h - int8 weights and their per-channel scales ---*- C++ -*-===//
//
// The runtime half of post-training quantization (strata-compile
// --quantize): an int8 parameter stands for scale[row] * int8 values, and
// its scales are an f32 parameter of their own. The runtime quantizes the
// float values it draws (initialisation) or loads (a float checkpoint), so
// one executable runs from either a float or a quantized checkpoint.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_QUANTIZE_H
#define STRATA_RUNTIME_QUANTIZE_H

#include "runtime/Weights.h"

#include <cstdint>
#include <string>
#include <vector>

namespace strata::runtime {

/// Per parameter of `exe`: the index of the f32 scales of an int8 weight
/// (from the executable's quantization table, which the loader checked),
/// else -1.
std::vector<int> weightScales(const strata::fb::Executable *exe);
/// Per parameter: whether it holds some int8 weight's scales.
std::vector<bool> isWeightScale(const std::vector<int> &scales);

/// Per parameter of `exe`: the int8 weight whose row sums it holds (static
/// w8a8; the runtime computes them, no weights file holds them), else -1.
std::vector<int> rowSumsSources(const strata::fb::Executable *exe);

/// Each row's sum of int8 `weight` (every dim but the last) into i32 `sums`.
void computeRowSums(const HostTensor &weight, HostTensor &sums);

/// Per parameter of `exe`: whether it holds the calibrated activation
/// scales (kInputScale) or zero points (kInputZeroPoint) of static w8a8
/// products, else 0.
enum ActivationRole { kNotActivation = 0, kInputScale = 1, kInputZeroPoint };
std::vector<ActivationRole>
activationParams(const strata::fb::Executable *exe);

/// Activation parameters loaded from a file: scales finite and > 0, zero
/// points integers in [0, 255]; fails naming `what` and the first bad
/// element.
strata_status_code checkLoadedActivations(const HostTensor &values,
                                          ActivationRole role,
                                          const std::string &what,
                                          strata_status *status);

/// Symmetric per-row int8: scale = max|row| / 127 (1 for a zero row),
/// q = round-half-even(x / scale) clamped to [-127, 127]. `src` is
/// rows x cols f32. NaN or infinite values fail (returning false) with
/// the row in `badRow`.
bool quantizeRows(const float *src, size_t rows, size_t cols, int8_t *q,
                  float *scales, size_t &badRow);

/// Fills int8 tensor `weight` and f32 `scales` (one per row: every dim but
/// the last) from f32 `values` shaped like `weight`. Fails naming `what`.
strata_status_code quantizeInto(const HostTensor &values, HostTensor &weight,
                                HostTensor &scales, const std::string &what,
                                strata_status *status);

/// Scales loaded from a file must be finite and > 0 (a zero, negative or
/// NaN scale makes every value of its row wrong); fails naming `what`
/// (the file and tensor) and the first bad row.
strata_status_code checkLoadedScales(const HostTensor &scales,
                                     const std::string &what,
                                     strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_QUANTIZE_H

//===- DType.h - element types of parameters and checkpoints ----*- C++ -*-===//
//
// Sizes, safetensors names and conversions of the element types weights
// are stored in. Conversions to a narrower float round to nearest even;
// NaN stays NaN.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_DTYPE_H
#define STRATA_RUNTIME_DTYPE_H

#include "runtime/strata.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace strata::runtime {

/// Bytes per element (0 for an unknown dtype).
size_t dtypeSize(strata_dtype dtype);
/// "F32", "BF16", ... as safetensors spells them.
const char *safetensorsName(strata_dtype dtype);
/// The dtype safetensors calls `name`; false for one Strata has no use for.
bool dtypeFromSafetensors(const std::string &name, strata_dtype &dtype);
bool isFloat(strata_dtype dtype);

/// Converts `count` elements. Floats convert to floats (exactly when
/// widening); any other pair must be equal. False when not convertible.
bool convertElements(strata_dtype from, const void *src, strata_dtype to,
                     void *dst, size_t count);

float bf16ToFloat(uint16_t bits);
uint16_t floatToBf16(float value);
float f16ToFloat(uint16_t bits);
uint16_t floatToF16(float value);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_DTYPE_H

//===- DType.cpp - element types of parameters and checkpoints ------------===//

#include "runtime/DType.h"

#include <cmath>
#include <cstring>

namespace strata::runtime {

size_t dtypeSize(strata_dtype dtype) {
  switch (dtype) {
  case STRATA_F32:
  case STRATA_I32:
    return 4;
  case STRATA_BF16:
  case STRATA_F16:
    return 2;
  case STRATA_I64:
    return 8;
  case STRATA_I8:
  case STRATA_U8:
    return 1;
  }
  return 0;
}

const char *safetensorsName(strata_dtype dtype) {
  switch (dtype) {
  case STRATA_F32:
    return "F32";
  case STRATA_BF16:
    return "BF16";
  case STRATA_F16:
    return "F16";
  case STRATA_I32:
    return "I32";
  case STRATA_I64:
    return "I64";
  case STRATA_I8:
    return "I8";
  case STRATA_U8:
    return "U8";
  }
  return "?";
}

bool dtypeFromSafetensors(const std::string &name, strata_dtype &dtype) {
  for (strata_dtype d : {STRATA_F32, STRATA_BF16, STRATA_F16, STRATA_I32,
                         STRATA_I64, STRATA_I8, STRATA_U8})
    if (name == safetensorsName(d)) {
      dtype = d;
      return true;
    }
  return false;
}

bool isFloat(strata_dtype dtype) {
  return dtype == STRATA_F32 || dtype == STRATA_BF16 || dtype == STRATA_F16;
}

float bf16ToFloat(uint16_t bits) {
  uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, 4);
  return value;
}

uint16_t floatToBf16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, 4);
  if (std::isnan(value))
    return static_cast<uint16_t>((word >> 16) | 0x40); // stays a quiet NaN
  word += 0x7FFF + ((word >> 16) & 1);                 // round to nearest even
  return static_cast<uint16_t>(word >> 16);
}

float f16ToFloat(uint16_t bits) {
  uint32_t sign = (bits & 0x8000u) << 16, exponent = (bits >> 10) & 0x1F,
           mantissa = bits & 0x3FF;
  float magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  else if (exponent == 31)
    magnitude = mantissa ? NAN : INFINITY;
  else
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
  uint32_t word;
  std::memcpy(&word, &magnitude, 4);
  word |= sign;
  float value;
  std::memcpy(&value, &word, 4);
  return value;
}

uint16_t floatToF16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, 4);
  uint16_t sign = static_cast<uint16_t>((word >> 16) & 0x8000);
  float magnitude = std::fabs(value);
  if (std::isnan(value))
    return sign | 0x7E00;
  if (magnitude >= 65520.0f) // rounds past the largest half
    return sign | 0x7C00;
  if (magnitude < 0x1.0p-14f) {
    // Subnormal: a multiple of 2^-24, rounded to nearest even.
    float units = std::nearbyint(magnitude * 0x1.0p24f);
    return sign | static_cast<uint16_t>(units);
  }
  int exponent;
  float fraction = std::frexp(magnitude, &exponent); // [0.5, 1)
  // 11 significant bits; nearbyint rounds half to even.
  float mantissa = std::nearbyint(fraction * 2048.0f);
  if (mantissa == 2048.0f) {
    mantissa = 1024.0f;
    ++exponent;
  }
  uint32_t biased = static_cast<uint32_t>(exponent - 1 + 15);
  if (biased >= 31)
    return sign | 0x7C00;
  return sign | static_cast<uint16_t>((biased << 10) |
                                      (static_cast<uint32_t>(mantissa) & 0x3FF));
}

namespace {
float loadFloat(strata_dtype dtype, const void *src, size_t i) {
  switch (dtype) {
  case STRATA_BF16: {
    uint16_t bits;
    std::memcpy(&bits, static_cast<const uint16_t *>(src) + i, 2);
    return bf16ToFloat(bits);
  }
  case STRATA_F16: {
    uint16_t bits;
    std::memcpy(&bits, static_cast<const uint16_t *>(src) + i, 2);
    return f16ToFloat(bits);
  }
  default: {
    float value;
    std::memcpy(&value, static_cast<const float *>(src) + i, 4);
    return value;
  }
  }
}

void storeFloat(strata_dtype dtype, void *dst, size_t i, float value) {
  uint16_t bits;
  switch (dtype) {
  case STRATA_BF16:
    bits = floatToBf16(value);
    std::memcpy(static_cast<uint16_t *>(dst) + i, &bits, 2);
    return;
  case STRATA_F16:
    bits = floatToF16(value);
    std::memcpy(static_cast<uint16_t *>(dst) + i, &bits, 2);
    return;
  default:
    std::memcpy(static_cast<float *>(dst) + i, &value, 4);
    return;
  }
}
} // namespace

bool convertElements(strata_dtype from, const void *src, strata_dtype to,
                     void *dst, size_t count) {
  if (from == to) {
    if (count)
      std::memcpy(dst, src, count * dtypeSize(from));
    return true;
  }
  if (!isFloat(from) || !isFloat(to))
    return false;
  for (size_t i = 0; i < count; ++i)
    storeFloat(to, dst, i, loadFloat(from, src, i));
  return true;
}

} // namespace strata::runtime

//===- Checksum.h - CRC-32C and the executable's trailer --------*- C++ -*-===//
//
// Header-only so that the compiler (codegen/ExecutableWriter.cpp), which
// writes checksums, and the runtime, which checks them, share one
// definition without a library between them; it needs nothing beyond the
// C++ standard library.
//
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) detects every
// single-bit error and every burst of up to 32 bits, whatever the length;
// other corruptions escape with probability 2^-32. It is computed with the
// SSE4.2 instruction where the CPU has it and with slicing-by-8 tables
// otherwise; both give the same value.
//
// An executable is the flatbuffer (the payload) followed by a 32-byte
// trailer, all little-endian:
//   [0, 8)   payload size in bytes
//   [8, 12)  CRC-32C of the payload
//   [12, 16) format version (STRATA_EXECUTABLE_FORMAT_VERSION)
//   [16, 20) reserved, 0
//   [20, 24) CRC-32C of bytes [0, 20) of the trailer
//   [24, 32) kTrailerMagic
// The magic comes last so a reader finds it at the end of the file.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_CHECKSUM_H
#define STRATA_RUNTIME_CHECKSUM_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace strata::checksum {

namespace detail {

using Tables = std::array<std::array<uint32_t, 256>, 8>;

/// Table k maps a byte to its CRC after k further zero bytes.
constexpr Tables makeTables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    t[0][i] = crc;
  }
  for (int k = 1; k < 8; ++k)
    for (uint32_t i = 0; i < 256; ++i)
      t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  return t;
}

inline constexpr Tables kTables = makeTables();

inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8); // little-endian hosts only (x86-64, AArch64)
  return v;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STRATA_CRC32C_HARDWARE 1
__attribute__((target("sse4.2"))) inline uint32_t
updateHardware(uint32_t crc, const uint8_t *p, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8)
    c = __builtin_ia32_crc32di(c, load64(p));
  crc = static_cast<uint32_t>(c);
  for (; n; --n, ++p)
    crc = __builtin_ia32_crc32qi(crc, *p);
  return crc;
}

inline bool hasHardware() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

} // namespace detail

/// Continues a raw (not pre- or post-inverted) CRC-32C with slicing-by-8.
inline uint32_t updateSoftware(uint32_t crc, const uint8_t *p, size_t n) {
  const detail::Tables &t = detail::kTables;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v = detail::load64(p) ^ crc;
    crc = t[7][v & 0xFF] ^ t[6][(v >> 8) & 0xFF] ^ t[5][(v >> 16) & 0xFF] ^
          t[4][(v >> 24) & 0xFF] ^ t[3][(v >> 32) & 0xFF] ^
          t[2][(v >> 40) & 0xFF] ^ t[1][(v >> 48) & 0xFF] ^ t[0][v >> 56];
  }
  for (; n; --n, ++p)
    crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xFF];
  return crc;
}

/// The CRC-32C of `size` bytes, continuing `previous` (the CRC of the
/// bytes before them; 0 to start): crc32c("123456789") is 0xE3069283.
inline uint32_t crc32c(const void *data, size_t size, uint32_t previous = 0) {
  const auto *p = static_cast<const uint8_t *>(data);
  uint32_t crc = ~previous;
#ifdef STRATA_CRC32C_HARDWARE
  if (detail::hasHardware())
    return ~detail::updateHardware(crc, p, size);
#endif
  return ~updateSoftware(crc, p, size);
}

constexpr size_t kTrailerBytes = 32;
constexpr char kTrailerMagic[8] = {'S', 'T', 'R', 'X', 'C', 'R', 'C', '1'};

/// What a trailer states about the payload before it.
struct Trailer {
  uint64_t payloadBytes = 0;
  uint32_t payloadCrc = 0;
  uint32_t formatVersion = 0;
};

/// Writes the trailer of `payload` (`size` bytes) to `out`.
inline void encodeTrailer(const void *payload, uint64_t size,
                          uint32_t formatVersion, uint8_t out[kTrailerBytes]) {
  uint32_t crc = crc32c(payload, static_cast<size_t>(size));
  uint32_t reserved = 0;
  std::memcpy(out, &size, 8);
  std::memcpy(out + 8, &crc, 4);
  std::memcpy(out + 12, &formatVersion, 4);
  std::memcpy(out + 16, &reserved, 4);
  uint32_t self = crc32c(out, 20);
  std::memcpy(out + 20, &self, 4);
  std::memcpy(out + 24, kTrailerMagic, 8);
}

/// Whether `file` (`size` bytes) ends in the trailer magic.
inline bool hasTrailerMagic(const uint8_t *file, size_t size) {
  return size >= kTrailerBytes &&
         std::memcmp(file + size - 8, kTrailerMagic, 8) == 0;
}

/// Reads the trailer at the end of `file`, which hasTrailerMagic accepted;
/// false when the trailer's own checksum or reserved word is wrong.
inline bool decodeTrailer(const uint8_t *file, size_t size, Trailer &out) {
  const uint8_t *t = file + size - kTrailerBytes;
  uint32_t reserved, self;
  std::memcpy(&out.payloadBytes, t, 8);
  std::memcpy(&out.payloadCrc, t + 8, 4);
  std::memcpy(&out.formatVersion, t + 12, 4);
  std::memcpy(&reserved, t + 16, 4);
  std::memcpy(&self, t + 20, 4);
  return reserved == 0 && self == crc32c(t, 20);
}

} // namespace strata::checksum

#endif // STRATA_RUNTIME_CHECKSUM_H

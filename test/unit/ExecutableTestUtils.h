//===- ExecutableTestUtils.h - edit executables in tests --------*- C++ -*-===//
//
// Tests edit an executable's flatbuffer in place and checksum it again, as
// a writer would: the edit then reaches the loader's structural checks
// rather than its checksum.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_TEST_UNIT_EXECUTABLETESTUTILS_H
#define STRATA_TEST_UNIT_EXECUTABLETESTUTILS_H

#include "runtime/Checksum.h"
#include "runtime/abi.h"
#include "runtime/schema/executable_generated.h"

#include <string>

namespace strata::test {

/// The flatbuffer of an executable with a checksum trailer.
inline std::string payloadOf(const std::string &bytes) {
  return bytes.substr(0, bytes.size() - checksum::kTrailerBytes);
}

/// `payload` with a trailer for it, as the writer ends a file.
inline std::string seal(std::string payload,
                        uint32_t version = STRATA_EXECUTABLE_FORMAT_VERSION) {
  uint8_t trailer[checksum::kTrailerBytes];
  checksum::encodeTrailer(payload.data(), payload.size(), version, trailer);
  return payload.append(reinterpret_cast<const char *>(trailer),
                        sizeof(trailer));
}

/// Checksums an executable whose flatbuffer was edited in place again.
inline void reseal(std::string &bytes) { bytes = seal(payloadOf(bytes)); }

/// The mutable root of an executable's flatbuffer.
inline fb::Executable *mutableRoot(std::string &bytes) {
  return fb::GetMutableExecutable(bytes.data());
}

} // namespace strata::test

#endif // STRATA_TEST_UNIT_EXECUTABLETESTUTILS_H

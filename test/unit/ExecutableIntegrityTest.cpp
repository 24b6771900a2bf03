//===- ExecutableIntegrityTest.cpp - checksums and cross-checks -*- C++ -*-===//
//
// CRC-32C itself.
//
//===----------------------------------------------------------------------===//

#include "runtime/Checksum.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace {

/// Tests the standard check values and that the hardware and table paths,
/// and a CRC computed in pieces, agree at every length and alignment.
TEST(Crc32c, KnownValuesAndPathsAgree) {
  using namespace strata::checksum;
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  std::mt19937 rng(7);
  std::string data(1000, '\0');
  for (char &ch : data)
    ch = static_cast<char>(rng());
  const auto *bytes = reinterpret_cast<const uint8_t *>(data.data());
  for (size_t start = 0; start < 9; ++start)
    for (size_t n : {0, 1, 7, 8, 9, 63, 64, 65, 500, 990}) {
      uint32_t whole = crc32c(bytes + start, n);
      EXPECT_EQ(~updateSoftware(~0u, bytes + start, n), whole);
      size_t half = n / 3;
      EXPECT_EQ(
          crc32c(bytes + start + half, n - half, crc32c(bytes + start, half)),
          whole);
    }
}

} // namespace

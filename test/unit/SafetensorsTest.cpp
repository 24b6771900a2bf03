//===- SafetensorsTest.cpp - the safetensors header parser ------*- C++ -*-===//
//
// The header parser reads untrusted JSON: valid headers parse exactly;
// every truncation and thousands of random mutations are clean errors or
// valid parses, never a crash or a hang.
//
//===----------------------------------------------------------------------===//

#include "runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <random>

using strata::runtime::parseSafetensorsHeader;
using strata::runtime::SafetensorsEntry;

namespace {

const std::string kHeader =
    R"({"__metadata__": {"format": "pt"}, "a.weight": {"dtype": "F32", )"
    R"("shape": [2, 3], "data_offsets": [0, 24]}, "b\"q": {"dtype": "BF16",)"
    R"( "shape": [], "data_offsets": [24, 26]}})";

/// Tests that a header with metadata, escapes and a scalar parses exactly.
TEST(Safetensors, ParsesEntries) {
  std::vector<SafetensorsEntry> entries;
  std::string error;
  ASSERT_TRUE(parseSafetensorsHeader(kHeader, entries, error)) << error;
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "a.weight");
  EXPECT_EQ(entries[0].dtype, "F32");
  EXPECT_EQ(entries[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(entries[0].end, 24u);
  EXPECT_EQ(entries[1].name, "b\"q");
  EXPECT_TRUE(entries[1].shape.empty());
}

/// Tests that malformed headers are rejected with a located message.
TEST(Safetensors, RejectsMalformed) {
  std::vector<SafetensorsEntry> entries;
  std::string error;
  for (const char *bad :
       {"", "[]", "{", R"({"a": 1})", R"({"a": {"dtype": "F32"}})",
        R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
        R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})",
        R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}})",
        R"({"a": {"dtype": "F32", "shape": [99999999999999999999], "data_offsets": [0, 4]}})",
        R"({} trailing)",
        R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},})",
        R"({"__metadata__": {"k": "v"},})"}) {
    EXPECT_FALSE(parseSafetensorsHeader(bad, entries, error)) << bad;
    EXPECT_NE(error.find("at byte"), std::string::npos) << bad;
  }
}

/// Tests every truncation and random byte mutations for crashes.
TEST(Safetensors, MutationsNeverCrash) {
  std::vector<SafetensorsEntry> entries;
  std::string error;
  for (size_t n = 0; n < kHeader.size(); ++n)
    EXPECT_FALSE(parseSafetensorsHeader(kHeader.substr(0, n), entries, error));
  std::mt19937 rng(7);
  const std::string alphabet = "{}[]:,\"\\0123456789 aeu-";
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = kHeader;
    for (int e = 0, n = 1 + rng() % 3; e < n; ++e)
      text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
    accepted += parseSafetensorsHeader(text, entries, error);
  }
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 20000);
}

} // namespace

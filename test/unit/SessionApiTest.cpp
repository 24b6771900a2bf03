//===- SessionApiTest.cpp - session calls refuse sizes that overflow ------===//
//
// Sizes the caller passes are multiplied before they are checked: a product
// that wraps must be refused, not waved through every later check (it once
// let the kernels write past a 64-byte arena).
//
//===----------------------------------------------------------------------===//

#include "runtime/strata.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct Session {
  strata_executable *exe = nullptr;
  strata_session *session = nullptr;
  Session() {
    const char *dir = std::getenv("STRATA_FIXTURES_DIR");
    std::string path =
        std::string(dir ? dir : STRATA_FIXTURES_DIR) + "/micro.strata";
    strata_status status;
    EXPECT_EQ(strata_executable_load_file(path.c_str(), &exe, &status),
              STRATA_OK)
        << status.message;
    EXPECT_EQ(strata_session_create(exe, &session, &status), STRATA_OK);
    EXPECT_EQ(strata_session_init_parameters(session, 1, &status), STRATA_OK);
  }
  ~Session() {
    strata_session_release(session);
    strata_executable_release(exe);
  }
};

TEST(SessionApi, ForwardRefusesABatchWhoseSizeWraps) {
  Session s;
  ASSERT_TRUE(s.session);
  std::vector<int32_t> tokens(16, 1);
  std::vector<float> logits(16);
  strata_status status;
  // batch * seq wraps to 0 in 64 bits: 2^62 * 4.
  size_t batch = size_t(1) << 62;
  EXPECT_EQ(strata_session_forward(s.session, tokens.data(), batch, 4,
                                   logits.data(), logits.size(), &status),
            STRATA_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message).find("too large"), std::string::npos)
      << status.message;
  // batch * seq * vocab wraps.
  EXPECT_EQ(strata_session_forward(s.session, tokens.data(), size_t(1) << 40,
                                   size_t(1) << 22, logits.data(),
                                   logits.size(), &status),
            STRATA_INVALID_ARGUMENT);
  // And a small buffer for an honest size is refused, not overrun.
  EXPECT_EQ(strata_session_forward(s.session, tokens.data(), 2, 8,
                                   logits.data(), logits.size(), &status),
            STRATA_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message).find("logits buffer holds 16"),
            std::string::npos)
      << status.message;
}

TEST(SessionApi, GenerateBatchRefusesOutputsWhoseSizeWraps) {
  Session s;
  ASSERT_TRUE(s.session);
  const int32_t prompt[] = {1, 2};
  const int32_t *prompts[] = {prompt, prompt};
  size_t lengths[] = {2, 2}, counts[2];
  int32_t out[4];
  strata_status status;
  EXPECT_EQ(strata_session_generate_batch(s.session, prompts, lengths, 2,
                                          SIZE_MAX / 2 + 1, nullptr, out,
                                          counts, &status),
            STRATA_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message).find("too large"), std::string::npos)
      << status.message;
}

} // namespace

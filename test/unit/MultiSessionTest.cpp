//===- MultiSessionTest.cpp - sessions in one process are independent -----===//
//
// Two different executables (the build's fixtures), two sessions each, run
// from four threads at once: every session produces exactly what it
// produces alone. Also the case that once broke it: a session created
// after another was released must run its own kernels, not the released
// one's (the dynamic loader knows libraries by path). The sanitizer job
// runs this under TSan.
//
//===----------------------------------------------------------------------===//

#include "runtime/strata.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Executable {
  strata_executable *exe = nullptr;
  explicit Executable(const std::string &name) {
    // The sanitizer builds run on the normal build's fixtures.
    const char *dir = std::getenv("STRATA_FIXTURES_DIR");
    std::string path =
        std::string(dir ? dir : STRATA_FIXTURES_DIR) + "/" + name;
    strata_status status;
    EXPECT_EQ(strata_executable_load_file(path.c_str(), &exe, &status),
              STRATA_OK)
        << status.message;
  }
  ~Executable() { strata_executable_release(exe); }
};

/// What a session does in these tests: seeded weights, forward logits of a
/// short prompt, then greedy tokens with the KV cache.
struct Outcome {
  std::vector<float> logits;
  std::vector<int32_t> tokens;
  bool operator==(const Outcome &o) const {
    return logits == o.logits && tokens == o.tokens;
  }
};

strata_session *newSession(const strata_executable *exe, uint64_t seed,
                           unsigned threads) {
  strata_session *session = nullptr;
  strata_status status;
  EXPECT_EQ(strata_session_create(exe, &session, &status), STRATA_OK)
      << status.message;
  EXPECT_EQ(strata_session_set_num_threads(session, threads, &status),
            STRATA_OK);
  EXPECT_EQ(strata_session_init_parameters(session, seed, &status), STRATA_OK);
  return session;
}

Outcome run(strata_session *session, const strata_executable *exe) {
  strata_executable_info info;
  strata_executable_get_info(exe, &info, nullptr);
  const int32_t prompt[] = {3, 1, 4, 1, 5};
  Outcome out;
  out.logits.resize(5 * static_cast<size_t>(info.vocab_size));
  strata_status status;
  EXPECT_EQ(strata_session_forward(session, prompt, 1, 5, out.logits.data(),
                                   out.logits.size(), &status),
            STRATA_OK)
      << status.message;
  out.tokens.resize(8);
  size_t count = 0;
  EXPECT_EQ(strata_session_generate_greedy(session, prompt, 5, 8,
                                           out.tokens.data(), &count, &status),
            STRATA_OK)
      << status.message;
  out.tokens.resize(count);
  return out;
}

Outcome alone(const strata_executable *exe, uint64_t seed) {
  strata_session *session = newSession(exe, seed, 1);
  Outcome out = run(session, exe);
  strata_session_release(session);
  return out;
}

TEST(MultiSession, DifferentExecutablesRunConcurrentlyAsAlone) {
  Executable micro("micro.strata"), mixtral("mixtral-small.strata");
  ASSERT_TRUE(micro.exe && mixtral.exe);
  const Executable *models[] = {&micro, &mixtral};
  Outcome expected[2][2];
  for (int m = 0; m < 2; ++m)
    for (int s = 0; s < 2; ++s)
      expected[m][s] = alone(models[m]->exe, 100 + s);
  ASSERT_FALSE(expected[0][0] == expected[0][1]); // the seeds matter

  strata_session *sessions[2][2];
  for (int m = 0; m < 2; ++m)
    for (int s = 0; s < 2; ++s)
      sessions[m][s] = newSession(models[m]->exe, 100 + s, 1 + s);
  Outcome got[2][2][3];
  std::vector<std::thread> threads;
  for (int m = 0; m < 2; ++m)
    for (int s = 0; s < 2; ++s)
      threads.emplace_back([&, m, s] {
        for (int r = 0; r < 3; ++r)
          got[m][s][r] = run(sessions[m][s], models[m]->exe);
      });
  for (std::thread &t : threads)
    t.join();
  for (int m = 0; m < 2; ++m)
    for (int s = 0; s < 2; ++s) {
      for (int r = 0; r < 3; ++r)
        EXPECT_TRUE(got[m][s][r] == expected[m][s])
            << "model " << m << " session " << s << " run " << r;
      strata_session_release(sessions[m][s]);
    }
}

TEST(MultiSession, ASessionAfterAReleasedOneRunsItsOwnKernels) {
  Executable micro("micro.strata"), mixtral("mixtral-small.strata");
  ASSERT_TRUE(micro.exe && mixtral.exe);
  Outcome microAlone = alone(micro.exe, 7), mixtralAlone = alone(mixtral.exe, 7);
  for (int round = 0; round < 4; ++round) {
    // Keep one session alive while others come and go, so memory-file
    // descriptors are reused between different libraries.
    strata_session *keep = newSession(micro.exe, 7, 1);
    strata_session *other = newSession(mixtral.exe, 7, 1);
    strata_session_release(keep);
    strata_session *again = newSession(mixtral.exe, 7, 1);
    EXPECT_TRUE(run(other, mixtral.exe) == mixtralAlone);
    EXPECT_TRUE(run(again, mixtral.exe) == mixtralAlone);
    strata_session *micro2 = newSession(micro.exe, 7, 2);
    EXPECT_TRUE(run(micro2, micro.exe) == microAlone);
    strata_session_release(other);
    strata_session_release(again);
    strata_session_release(micro2);
  }
}

// One session's thread count and workspace are its own.
TEST(MultiSession, ThreadsAndWorkspaceArePerSession) {
  Executable micro("micro.strata");
  ASSERT_TRUE(micro.exe);
  strata_session *a = newSession(micro.exe, 1, 1);
  strata_session *b = newSession(micro.exe, 1, 3);
  EXPECT_EQ(strata_session_num_threads(a), 1u);
  EXPECT_EQ(strata_session_num_threads(b), 3u);
  run(b, micro.exe);
  EXPECT_EQ(strata_session_workspace_bytes(a), 0u);
  EXPECT_GT(strata_session_workspace_bytes(b), 0u);
  strata_session_release(b);
  // a still runs after b (and its arena and pool) are gone.
  EXPECT_TRUE(run(a, micro.exe) == alone(micro.exe, 1));
  strata_session_release(a);
}

} // namespace

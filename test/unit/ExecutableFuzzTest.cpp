//===- ExecutableFuzzTest.cpp - mutated executables never crash -*- C++ -*-===//
//
// Mutates the build's fixtures (micro.strata for the CPU, micro-cuda.strata)
// thousands of times, in process, through the C API: random bit flips,
// byte overwrites, truncations and extensions, which the checksums must
// refuse, and structural edits checksummed again (random bytes of the
// flatbuffer tables, and fields: vocabulary, shapes, dtypes, indices,
// symbols, target), which reach the structural checks. Every mutant is
// loaded and inspected; CPU mutants that load run a session (within a
// budget), whose forward and generate must fail with a status or give the
// original's results. A crash fails the test; a mutant that runs longer
// than a watchdog's limit aborts it, naming the mutant. The seed is fixed.
//
//===----------------------------------------------------------------------===//

#include "ExecutableTestUtils.h"
#include "runtime/strata.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using strata::test::mutableRoot;
using strata::test::reseal;
namespace fb = strata::fb;

constexpr int kCpuMutants = 9000;
constexpr int kCudaMutants = 3000;
/// CPU mutants that load run a session, up to this many (each loads the
/// kernel library and runs forward and generate, ~20 ms; about 600 of the
/// CPU mutants load, so today every one of them runs).
constexpr int kSessionBudget = 600;
constexpr size_t kNewTokens = 5;
constexpr int kWatchdogSeconds = 30;

std::string readFixture(const std::string &name) {
  std::ifstream file(std::string(STRATA_FIXTURES_DIR) + "/" + name,
                     std::ios::binary);
  std::stringstream bytes;
  bytes << file.rdbuf();
  return bytes.str();
}

/// What the unmutated CPU executable computes, with weights from a file.
struct Baseline {
  std::string weights; ///< safetensors path
  std::vector<int32_t> tokens;
  std::vector<float> logits;
  std::vector<int32_t> prompt;
  std::vector<int32_t> generated; ///< greedy, without the end token
};

/// The tokens a mutant must generate: the original's, limited by the
/// mutant's maximum length and ending at its end token (the runtime's
/// rules; the original's tokens hold no end token of its own).
std::vector<int32_t> expectedTokens(const Baseline &base,
                                    const strata_executable_info &info) {
  int64_t room = info.max_seq_len - static_cast<int64_t>(base.prompt.size());
  size_t n = static_cast<size_t>(
      std::clamp<int64_t>(room, 0, static_cast<int64_t>(kNewTokens)));
  std::vector<int32_t> out(base.generated.begin(), base.generated.begin() + n);
  auto eos = std::find(out.begin(), out.end(), info.eos_token_id);
  if (eos != out.end())
    out.erase(eos + 1, out.end());
  return out;
}

/// Runs forward and generate; false when a call failed (with a status).
bool runModel(strata_session *session, const Baseline &base,
              std::vector<float> &logits, std::vector<int32_t> &generated,
              strata_status &status) {
  logits.assign(base.tokens.size() * 64, 0.0f);
  if (strata_session_forward(session, base.tokens.data(), 1, base.tokens.size(),
                             logits.data(), logits.size(),
                             &status) != STRATA_OK)
    return false;
  generated.assign(kNewTokens, -1);
  size_t count = 0;
  if (strata_session_generate(session, base.prompt.data(), base.prompt.size(),
                              kNewTokens, nullptr, generated.data(), &count,
                              &status) != STRATA_OK)
    return false;
  generated.resize(count);
  return true;
}

/// Whether `generated` is a full greedy continuation without an end token.
bool fullContinuation(const std::vector<int32_t> &generated, int64_t eos) {
  return generated.size() == kNewTokens &&
         std::find(generated.begin(), generated.end(), eos) == generated.end();
}

/// The original's results, with weights initialised from a seed (saved for
/// the mutants' sessions to load) and a prompt whose greedy continuation
/// holds no end token.
Baseline makeBaseline(const strata_executable *exe, const std::string &dir) {
  Baseline base;
  base.weights = dir + "/fuzz-weights.safetensors";
  base.tokens = {1, 5, 9, 3};
  strata_session *session = nullptr;
  strata_status status;
  EXPECT_EQ(strata_session_create(exe, &session, &status), STRATA_OK)
      << status.message;
  strata_executable_info info;
  strata_executable_get_info(exe, &info, &status);
  bool found = false;
  for (uint64_t seed = 1; seed < 20 && !found; ++seed) {
    EXPECT_EQ(strata_session_init_parameters(session, seed, &status),
              STRATA_OK);
    for (int32_t first = 3; first < 12 && !found; ++first) {
      base.prompt = {first, 7, 4};
      EXPECT_TRUE(runModel(session, base, base.logits, base.generated, status))
          << status.message;
      found = fullContinuation(base.generated, info.eos_token_id);
    }
  }
  EXPECT_TRUE(found) << "no prompt generates " << kNewTokens
                     << " tokens without the end token";
  base.logits.resize(base.tokens.size() * info.vocab_size);
  EXPECT_EQ(
      strata_session_save_parameters(session, base.weights.c_str(), &status),
      STRATA_OK)
      << status.message;
  strata_session_release(session);
  return base;
}

/// A mutation of an executable's bytes; `resealed` ones are checksummed
/// again after the edit.
struct Mutant {
  std::string bytes;
  std::string what;
  bool resealed = false;
};

/// The payload offsets outside the kernel libraries' bytes: the tables.
std::vector<std::pair<size_t, size_t>> tableRanges(const std::string &bytes) {
  const auto *root = fb::GetExecutable(bytes.data());
  std::vector<std::pair<size_t, size_t>> libs;
  for (const auto *lib : *root->kernels()) {
    size_t begin =
        lib->data()->data() - reinterpret_cast<const uint8_t *>(bytes.data());
    libs.push_back({begin, begin + lib->data()->size()});
  }
  std::sort(libs.begin(), libs.end());
  std::vector<std::pair<size_t, size_t>> tables;
  size_t at = 0;
  for (auto [begin, end] : libs) {
    if (begin > at)
      tables.push_back({at, begin});
    at = end;
  }
  tables.push_back({at, bytes.size() - strata::checksum::kTrailerBytes});
  return tables;
}

class Mutator {
public:
  Mutator(const std::string &original, uint64_t seed)
      : original(original), tables(tableRanges(original)), rng(seed) {}

  Mutant next() {
    switch (pick(20)) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
      return bitFlips();
    case 5:
    case 6:
    case 7:
      return byteOverwrites();
    case 8:
    case 9:
      return truncation();
    case 10:
    case 11:
      return extension();
    case 12:
    case 13:
    case 14:
    case 15:
      return tableBytes();
    default:
      return field();
    }
  }

private:
  const std::string &original;
  std::vector<std::pair<size_t, size_t>> tables;
  std::mt19937_64 rng;

  size_t pick(size_t n) { return static_cast<size_t>(rng() % n); }
  template <typename T> T pickOf(std::initializer_list<T> values) {
    return *(values.begin() + pick(values.size()));
  }

  Mutant bitFlips() {
    Mutant m{original, "bit flips at"};
    for (size_t i = 0, n = 1 + pick(3); i < n; ++i) {
      size_t at = pick(m.bytes.size());
      m.bytes[at] = static_cast<char>(m.bytes[at] ^ (1 << pick(8)));
      m.what += " " + std::to_string(at);
    }
    return m;
  }

  Mutant byteOverwrites() {
    Mutant m{original, "bytes overwritten at"};
    size_t at = pick(m.bytes.size());
    for (size_t i = 0, n = 1 + pick(4); i < n && at + i < m.bytes.size(); ++i)
      m.bytes[at + i] = static_cast<char>(rng());
    m.what += " " + std::to_string(at);
    return m;
  }

  Mutant truncation() {
    size_t n = pick(original.size());
    return {original.substr(0, n), "truncated to " + std::to_string(n)};
  }

  Mutant extension() {
    Mutant m{original, ""};
    size_t n = 1 + pick(64);
    for (size_t i = 0; i < n; ++i)
      m.bytes += static_cast<char>(rng());
    m.what = "extended by " + std::to_string(n);
    return m;
  }

  /// 1 to 4 random bytes of the flatbuffer tables, checksummed again.
  Mutant tableBytes() {
    Mutant m{original, "table bytes at", true};
    for (size_t i = 0, n = 1 + pick(4); i < n; ++i) {
      auto [begin, end] = tables[pick(tables.size())];
      if (begin == end)
        continue;
      size_t at = begin + pick(end - begin);
      m.bytes[at] = static_cast<char>(pick(3) ? rng() : m.bytes[at] ^ 1);
      m.what += " " + std::to_string(at);
    }
    reseal(m.bytes);
    return m;
  }

  int64_t newDim(int64_t d) {
    return pickOf<int64_t>({0, -1, -2, d - 1, d + 1, 2 * d, int64_t(1) << 62,
                            int64_t(1) << 31, int64_t(1) << 46});
  }

  /// One field edited to a value a corruption or a careless edit might
  /// give, checksummed again; retried until an edit applies (fields at
  /// their default are absent from the file and cannot be edited).
  Mutant field() {
    for (;;) {
      Mutant m{original, "", true};
      if (editField(mutableRoot(m.bytes), m.what)) {
        reseal(m.bytes);
        return m;
      }
    }
  }

  bool editField(fb::Executable *root, std::string &what) {
    auto *meta = root->mutable_metadata();
    auto *params = root->mutable_parameters();
    auto *eps = root->mutable_entry_points();
    auto *ep = eps->GetMutableObject(pick(eps->size()));
    std::string entry = ep->name()->str();
    auto *args = ep->mutable_arguments();
    auto *arg = args->GetMutableObject(pick(args->size()));
    auto *results = ep->mutable_results();
    auto editDim = [&](flatbuffers::Vector<int64_t> *shape,
                       const std::string &name) {
      if (shape->size() == 0)
        return false;
      size_t i = pick(shape->size());
      int64_t d = newDim(shape->Get(i));
      what = name + " dim " + std::to_string(i) + " = " + std::to_string(d);
      shape->Mutate(i, d);
      return true;
    };
    switch (pick(16)) {
    case 0: {
      int64_t v = meta->vocab_size();
      int64_t to = pickOf<int64_t>(
          {v - 1, v + 1, 0, -1, 2 * v, int64_t(1) << 62, int64_t(1) << 31});
      what = "vocab_size = " + std::to_string(to);
      return meta->mutate_vocab_size(to);
    }
    case 1: {
      int64_t to =
          pickOf<int64_t>({-5, 0, 1, 3, 4, 5, 6, 7, 9, 100, int64_t(1) << 40});
      what = "max_seq_len = " + std::to_string(to);
      return meta->mutate_max_seq_len(to);
    }
    case 2: {
      int64_t to = static_cast<int64_t>(pick(40)) - 3;
      what = "eos_token_id = " + std::to_string(to);
      return meta->mutate_eos_token_id(to);
    }
    case 3: {
      auto *p = params->GetMutableObject(pick(params->size()));
      return editDim(p->mutable_shape(), "parameter " + p->name()->str());
    }
    case 4: {
      auto *p = params->GetMutableObject(pick(params->size()));
      auto to = static_cast<fb::DType>(1 + pick(8));
      what = "parameter " + p->name()->str() + " dtype";
      return p->mutate_dtype(to);
    }
    case 5:
      return editDim(arg->mutable_shape(), entry + " argument");
    case 6: {
      int to = static_cast<int>(pick(params->size() + 2)) - 1;
      what = entry + " argument parameter = " + std::to_string(to);
      return arg->mutate_parameter(to);
    }
    case 7: {
      auto to = static_cast<fb::ArgumentKind>(pick(9));
      what = entry + " argument kind = " + std::to_string(int(to));
      return arg->mutate_kind(to);
    }
    case 8: {
      int to = static_cast<int>(pick(5)) - 1;
      what = entry + " argument layer = " + std::to_string(to);
      return arg->mutate_layer(to);
    }
    case 9: {
      auto *res = results->GetMutableObject(pick(results->size()));
      return editDim(res->mutable_shape(), entry + " result");
    }
    case 10: {
      auto *res = results->GetMutableObject(pick(results->size()));
      what = entry + " result dtype";
      return res->mutate_dtype(static_cast<fb::DType>(1 + pick(8)));
    }
    case 11: {
      // Point the symbol elsewhere: another entry's when as long, else a
      // changed character.
      auto *symbol =
          ep->mutable_commands()->GetMutableObject(0)->mutable_symbol();
      const auto *other =
          eps->Get(pick(eps->size()))->commands()->Get(0)->symbol();
      char *text = const_cast<char *>(symbol->c_str());
      if (other->size() == symbol->size() && other != symbol) {
        std::memcpy(text, other->c_str(), symbol->size());
        what = entry + " symbol = " + other->str();
      } else {
        text[pick(symbol->size())] = static_cast<char>('a' + pick(26));
        what = entry + " symbol = " + symbol->str();
      }
      return true;
    }
    case 12: {
      auto to = static_cast<fb::Target>(pick(3));
      what = "target = " + std::to_string(int(to));
      return root->mutate_target(to);
    }
    case 13: {
      auto *lib = root->mutable_kernels()->GetMutableObject(
          pick(root->kernels()->size()));
      what = "kernel library format/sm";
      return pick(2)
                 ? lib->mutate_format(static_cast<fb::LibraryFormat>(pick(4)))
                 : lib->mutate_sm(static_cast<int>(pick(100)));
    }
    case 14: {
      what = "cuda_sm / gpu kernel block";
      if (pick(2))
        return meta->mutate_cuda_sm(static_cast<int>(pick(100)));
      auto *gpu = root->mutable_gpu_kernels();
      if (!gpu || gpu->size() == 0)
        return false;
      return editDim(gpu->GetMutableObject(pick(gpu->size()))->mutable_block(),
                     "gpu kernel block");
    }
    default: {
      auto *plan = ep->mutable_memory_plan();
      if (!plan)
        return false;
      what = entry + " memory plan";
      if (pick(2))
        return plan->mutate_buffers(static_cast<int64_t>(pick(8)) - 2);
      return editDim(plan->mutable_slot_bytes(), entry + " memory plan slot");
    }
    }
  }
};

/// Every inspect-style query of a loaded executable.
void inspect(const strata_executable *exe, strata_executable_info &info) {
  strata_status status;
  ASSERT_EQ(strata_executable_get_info(exe, &info, &status), STRATA_OK);
  strata_plan_info plan;
  ASSERT_EQ(strata_executable_get_plan(exe, &plan, &status), STRATA_OK);
  int64_t elements = 0;
  for (size_t i = 0; i < info.num_parameters; ++i) {
    strata_parameter_info p;
    ASSERT_EQ(strata_executable_get_parameter(exe, i, &p, &status), STRATA_OK);
    ASSERT_GE(p.num_elements, 1);
    elements += p.num_elements;
  }
  ASSERT_EQ(elements, info.total_parameter_elements);
  for (size_t e = 0; e < info.num_entry_points; ++e) {
    const char *name;
    size_t args, results;
    ASSERT_EQ(strata_executable_get_entry_point(exe, e, &name, &args, &results,
                                                &status),
              STRATA_OK);
    int64_t buffers, slots, fixed, dynamic;
    ASSERT_EQ(strata_executable_get_memory_plan(exe, e, &buffers, &slots,
                                                &fixed, &dynamic, &status),
              STRATA_OK);
    for (size_t r = 0; r < results; ++r) {
      const int64_t *shape;
      size_t rank;
      ASSERT_EQ(
          strata_executable_get_result_shape(exe, e, r, &shape, &rank, &status),
          STRATA_OK);
    }
  }
}

struct Stats {
  int mutants = 0, unchanged = 0, rejected = 0, loaded = 0;
  int sessions = 0, sessionRefused = 0, callRefused = 0, matched = 0;
};

/// A session of a loaded CPU mutant: every call fails with a status or
/// gives the original's results.
void runSession(const strata_executable *exe,
                const strata_executable_info &info, const Baseline &base,
                const std::string &what, Stats &stats) {
  ++stats.sessions;
  strata_session *session = nullptr;
  strata_status status;
  if (strata_session_create(exe, &session, &status) != STRATA_OK) {
    EXPECT_NE(status.code, STRATA_INTERNAL_ERROR) << what << status.message;
    ++stats.sessionRefused;
    return;
  }
  std::vector<float> logits;
  std::vector<int32_t> generated;
  if (strata_session_set_num_threads(session, 1, &status) != STRATA_OK ||
      strata_session_load_parameters(session, base.weights.c_str(), &status) !=
          STRATA_OK ||
      !runModel(session, base, logits, generated, status)) {
    EXPECT_NE(status.code, STRATA_INTERNAL_ERROR) << what << status.message;
    EXPECT_NE(status.message[0], '\0') << what;
    ++stats.callRefused;

  } else {
    logits.resize(base.logits.size());
    EXPECT_EQ(logits, base.logits) << what;
    EXPECT_EQ(generated, expectedTokens(base, info)) << what;
    ++stats.matched;
  }
  strata_session_release(session);
}

/// Aborts the process, naming the mutant, when one mutant runs too long.
class Watchdog {
public:
  Watchdog() : thread([this] { watch(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      done = true;
    }
    wake.notify_one();
    thread.join();
  }
  void started(const std::string &what) {
    std::lock_guard<std::mutex> lock(mutex);
    current = what;
    since = std::chrono::steady_clock::now();
  }

private:
  std::mutex mutex;
  std::condition_variable wake;
  bool done = false;
  std::string current = "(none)";
  std::chrono::steady_clock::time_point since =
      std::chrono::steady_clock::now();
  std::thread thread;

  void watch() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!wake.wait_for(lock, std::chrono::seconds(1), [&] { return done; }))
      if (std::chrono::steady_clock::now() - since >
          std::chrono::seconds(kWatchdogSeconds)) {
        std::fprintf(stderr, "mutant hangs: %s\n", current.c_str());
        std::abort();
      }
  }
};

/// Mutates `original` `count` times; sessions for CPU executables.
void fuzz(const std::string &original, const char *name, int count,
          uint64_t seed, const Baseline *base, Stats &stats) {
  Mutator mutator(original, seed);
  Watchdog watchdog;
  for (int i = 0; i < count; ++i) {
    Mutant m = mutator.next();
    std::string what =
        std::string(name) + " mutant " + std::to_string(i) + ": " + m.what;
    watchdog.started(what);
    ++stats.mutants;
    if (m.bytes == original) {
      ++stats.unchanged;
      continue;
    }
    strata_executable *exe = nullptr;
    strata_status status;
    strata_status_code code = strata_executable_load_memory(
        m.bytes.data(), m.bytes.size(), &exe, &status);
    if (code != STRATA_OK) {
      ++stats.rejected;
      ASSERT_EQ(exe, nullptr) << what;
      ASSERT_NE(code, STRATA_INTERNAL_ERROR) << what << ": " << status.message;
      ASSERT_NE(status.message[0], '\0') << what;
      continue;
    }
    // Only an edit checksummed again can pass the checksums.
    EXPECT_TRUE(m.resealed) << what << " was accepted";
    ++stats.loaded;

    strata_executable_info info;
    inspect(exe, info);
    if (base && stats.sessions < kSessionBudget)
      runSession(exe, info, *base, what, stats);
    strata_executable_release(exe);
  }
}

/// Tests >= 10,000 mutants of the fixtures: 0 crashes, 0 hangs, every
/// unchecksummed corruption refused, and every CPU mutant that loads
/// either refused by a call or computing what the original does.
TEST(ExecutableFuzz, MutantsFailCleanlyOrMatchTheOriginal) {
  auto start = std::chrono::steady_clock::now();
  // The fixture holds the kernels for three CPUs, whose results differ in
  // rounding: every session runs the same build, so that a mutant's
  // results compare exactly (one that renames it is refused instead).
  setenv("STRATA_CPU", "x86-64-v2", 1);
  std::string cpu = readFixture("micro.strata");
  std::string cuda = readFixture("micro-cuda.strata");
  ASSERT_FALSE(cpu.empty() || cuda.empty())
      << "fixtures missing from " STRATA_FIXTURES_DIR;
  strata_executable *exe = nullptr;
  strata_status status;
  ASSERT_EQ(
      strata_executable_load_memory(cpu.data(), cpu.size(), &exe, &status),
      STRATA_OK)
      << status.message;
  Baseline base = makeBaseline(exe, testing::TempDir());
  strata_executable_release(exe);
  ASSERT_FALSE(HasFailure());

  Stats stats;
  fuzz(cpu, "micro.strata", kCpuMutants, 20261206, &base, stats);
  fuzz(cuda, "micro-cuda.strata", kCudaMutants, 6122026, nullptr, stats);
  std::remove(base.weights.c_str());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("%d mutants (%d unchanged): %d refused at load, %d loaded; "
              "%d sessions: %d refused at creation, %d refused by a call, "
              "%d matched the original; %.1f s\n",
              stats.mutants, stats.unchanged, stats.rejected, stats.loaded,
              stats.sessions, stats.sessionRefused, stats.callRefused,
              stats.matched, seconds);
  EXPECT_GE(stats.mutants, 10000);
  EXPECT_GT(stats.sessions, 0);
  EXPECT_GT(stats.matched, 0);
}

} // namespace

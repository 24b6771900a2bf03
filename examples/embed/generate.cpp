//===- generate.cpp - embed the Strata runtime in a C++ program -----------===//
//
// The C API wrapped in RAII classes: handles are released by destructors,
// a failed call throws, and a session keeps its executable alive (the C API
// requires the executable to outlive its sessions). Loads an executable,
// prints what it holds to stderr, initialises the weights and generates
// for one or more prompts together, sampled or greedy, printing each
// prompt's new tokens on a line (as `strata-run infer` does):
//
//   generate-cpp MODEL.strata [--seed N | --weights FILE] [-n COUNT]
//                [--temperature T] [--top-k K] [--top-p P] [--sample-seed S]
//                PROMPT...          (a prompt is comma-separated ids: 3,1,4)
//
//===----------------------------------------------------------------------===//

#include <strata/strata.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace strata {

/// A failed call: the status code and the runtime's message.
class Error : public std::runtime_error {
public:
  explicit Error(const strata_status &status)
      : std::runtime_error(status.message), code_(status.code) {}
  strata_status_code code() const { return code_; }

private:
  strata_status_code code_;
};

inline void check(strata_status_code code, const strata_status &status) {
  if (code != STRATA_OK)
    throw Error(status);
}

/// A loaded, verified executable. Copies share one handle; the last copy
/// (or the last session using it) releases it.
class Executable {
public:
  static Executable load(const std::string &path) {
    strata_status status;
    strata_executable *raw = nullptr;
    check(strata_executable_load_file(path.c_str(), &raw, &status), status);
    return Executable(raw);
  }

  strata_executable_info info() const {
    strata_executable_info info;
    strata_status status;
    check(strata_executable_get_info(handle_.get(), &info, &status), status);
    return info;
  }

  strata_parameter_info parameter(size_t index) const {
    strata_parameter_info param;
    strata_status status;
    check(strata_executable_get_parameter(handle_.get(), index, &param,
                                          &status),
          status);
    return param;
  }

  const std::shared_ptr<strata_executable> &handle() const { return handle_; }

private:
  explicit Executable(strata_executable *raw)
      : handle_(raw, strata_executable_release) {}
  std::shared_ptr<strata_executable> handle_;
};

/// A session: the executable's kernels and weights on one device. Move-only;
/// one call at a time (the runtime's contract), so no locking here either.
class Session {
public:
  explicit Session(const Executable &exe) : exe_(exe.handle()) {
    strata_status status;
    strata_session *raw = nullptr;
    check(strata_session_create(exe_.get(), &raw, &status), status);
    session_.reset(raw);
  }

  void initParameters(uint64_t seed) {
    strata_status status;
    check(strata_session_init_parameters(session_.get(), seed, &status),
          status);
  }
  void loadParameters(const std::string &path) {
    strata_status status;
    check(strata_session_load_parameters(session_.get(), path.c_str(),
                                         &status),
          status);
  }

  std::string deviceName() const {
    return strata_session_device_name(session_.get());
  }
  unsigned numThreads() const {
    return strata_session_num_threads(session_.get());
  }

  /// New tokens for each prompt, generated together.
  std::vector<std::vector<int32_t>>
  generate(const std::vector<std::vector<int32_t>> &prompts, size_t maxNew,
           const strata_sampling_options &options) {
    std::vector<const int32_t *> starts;
    std::vector<size_t> lengths;
    for (const auto &p : prompts) {
      starts.push_back(p.data());
      lengths.push_back(p.size());
    }
    std::vector<int32_t> out(prompts.size() * maxNew);
    std::vector<size_t> counts(prompts.size());
    strata_status status;
    check(strata_session_generate_batch(
              session_.get(), starts.data(), lengths.data(), prompts.size(),
              maxNew, &options, out.data(), counts.data(), &status),
          status);
    std::vector<std::vector<int32_t>> rows;
    for (size_t b = 0; b < prompts.size(); ++b)
      rows.emplace_back(out.begin() + b * maxNew,
                        out.begin() + b * maxNew + counts[b]);
    return rows;
  }

private:
  struct Release {
    void operator()(strata_session *s) const { strata_session_release(s); }
  };
  // Declared first, destroyed last: the session goes before its executable.
  std::shared_ptr<strata_executable> exe_;
  std::unique_ptr<strata_session, Release> session_;
};

} // namespace strata

namespace {

std::vector<int32_t> parsePrompt(const std::string &text) {
  std::vector<int32_t> ids;
  std::stringstream in(text);
  for (std::string id; std::getline(in, id, ',');) {
    char *end = nullptr;
    long value = std::strtol(id.c_str(), &end, 10);
    if (id.empty() || *end)
      throw std::invalid_argument("not a token id: '" + id + "'");
    ids.push_back(static_cast<int32_t>(value));
  }
  return ids;
}

int run(int argc, char **argv) {
  std::string weights;
  uint64_t seed = 0;
  size_t maxNew = 16;
  strata_sampling_options sampling;
  strata_sampling_options_initialize(&sampling);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    bool hasValue = i + 1 < argc;
    if (arg == "--weights" && hasValue)
      weights = argv[++i];
    else if (arg == "--seed" && hasValue)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "-n" && hasValue)
      maxNew = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "--temperature" && hasValue)
      sampling.temperature = std::strtof(argv[++i], nullptr);
    else if (arg == "--top-k" && hasValue)
      sampling.top_k = static_cast<int32_t>(std::strtol(argv[++i], nullptr, 10));
    else if (arg == "--top-p" && hasValue)
      sampling.top_p = std::strtof(argv[++i], nullptr);
    else if (arg == "--sample-seed" && hasValue)
      sampling.seed = std::strtoull(argv[++i], nullptr, 10);
    else
      prompts.push_back(parsePrompt(arg));
  }
  if (prompts.empty())
    throw std::invalid_argument("no prompt");

  strata::Executable exe = strata::Executable::load(argv[1]);
  strata_executable_info info = exe.info();
  std::fprintf(stderr,
               "model %s: target %s, vocab %lld, hidden %lld, layers %lld, "
               "max sequence %lld\n",
               info.model_name, info.target,
               static_cast<long long>(info.vocab_size),
               static_cast<long long>(info.hidden_size),
               static_cast<long long>(info.num_layers),
               static_cast<long long>(info.max_seq_len));
  // The parameter table, summed to check it against the info's total.
  long long elements = 0;
  for (size_t p = 0; p < info.num_parameters; ++p)
    elements += exe.parameter(p).num_elements;
  std::fprintf(stderr, "parameters: %zu (%lld elements)\n",
               info.num_parameters, elements);

  strata::Session session(exe);
  std::fprintf(stderr, "running on %s (%u threads)\n",
               session.deviceName().c_str(), session.numThreads());
  if (weights.empty())
    session.initParameters(seed);
  else
    session.loadParameters(weights);
  for (const auto &row : session.generate(prompts, maxNew, sampling)) {
    for (size_t i = 0; i < row.size(); ++i)
      std::printf("%s%d", i ? "," : "", row[i]);
    std::printf("\n");
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s MODEL.strata [--seed N | --weights FILE] "
                 "[-n COUNT] [--temperature T] [--top-k K] [--top-p P] "
                 "[--sample-seed S] PROMPT...\n",
                 argv[0]);
    return 2;
  }
  try {
    return run(argc, argv);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

//===- Train.cpp - strata-run train ---------------------------------------===//
//
// The training loop of the command line, on the runtime's C API only:
// batches from a token file, one strata_session_train_step each, a
// progress bar or lines, one JSON line of metrics per step, checkpoints
// every `interval` steps keeping the last `keep_last`, and --resume from
// any of them with the same result as a run that never stopped.
//
//===----------------------------------------------------------------------===//

#include "tools/strata-run/Train.h"
#include "tools/strata-run/Ranks.h"
#include "tools/strata-run/TrainData.h"

#include "runtime/OutputFile.h"
#include "runtime/strata.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace strata::tools;

namespace {

using Clock = std::chrono::steady_clock;

struct Session {
  strata_executable *exe = nullptr;
  strata_session *session = nullptr;
  ~Session() {
    strata_session_release(session);
    strata_executable_release(exe);
  }
};

bool isDirectory(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

/// Checkpoints under `dir` (step-NNNNNNNN with a manifest), by step.
std::vector<std::pair<int64_t, std::string>>
listCheckpoints(const std::string &dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  DIR *d = opendir(dir.c_str());
  if (!d)
    return found;
  while (dirent *e = readdir(d)) {
    long long step;
    char tail;
    if (std::sscanf(e->d_name, "step-%lld%c", &step, &tail) != 1)
      continue;
    std::string path = dir + "/" + e->d_name;
    if (exists(path + "/manifest.json"))
      found.emplace_back(step, path);
  }
  closedir(d);
  std::sort(found.begin(), found.end());
  return found;
}

/// Removes a checkpoint directory written by the runtime (flat files).
void removeCheckpoint(const std::string &path) {
  if (DIR *d = opendir(path.c_str())) {
    while (dirent *e = readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
        unlink((path + "/" + e->d_name).c_str());
    closedir(d);
  }
  rmdir(path.c_str());
}

std::string checkpointPath(const std::string &dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "step-%08lld", (long long)step);
  return dir + "/" + name;
}

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "?";
  long long s = std::llround(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", s / 3600,
                  (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof(buf), "%lld:%02lld", s / 60, s % 60);
  return buf;
}

/// The progress display: a bar redrawn in place on a terminal, or a line
/// every tenth of the run otherwise.
class Progress {
public:
  Progress(const std::string &mode, int64_t first, int64_t last)
      : first(first), last(last) {
    bar = mode == "bar" || (mode == "auto" && isatty(STDERR_FILENO));
    quiet = mode == "none";
    every = std::max<int64_t>(1, (last - first) / 10);
  }
  void update(const strata_train_metrics &m, double tokensPerS,
              double elapsed) {
    if (quiet)
      return;
    double eta = elapsed / static_cast<double>(m.step - first) *
                 static_cast<double>(last - m.step);
    char line[256];
    std::snprintf(line, sizeof(line),
                  "step %lld/%lld loss %.4f lr %.3g %.0f tok/s ETA %s%s",
                  (long long)m.step, (long long)last, m.loss, m.lr,
                  tokensPerS, duration(eta).c_str(),
                  m.skipped ? " (skipped: non-finite gradients)" : "");
    if (bar) {
      constexpr int kWidth = 24;
      int filled = static_cast<int>(kWidth * m.step / std::max<int64_t>(last, 1));
      std::string drawn(filled, '=');
      if (filled < kWidth)
        drawn += '>' + std::string(kWidth - filled - 1, ' ');
      std::fprintf(stderr, "\r[%s] %s\033[K", drawn.c_str(), line);
      if (m.step == last)
        std::fprintf(stderr, "\n");
    } else if ((m.step - first) % every == 0 || m.step == last ||
               m.skipped) {
      std::fprintf(stderr, "%s\n", line);
    }
  }
  void message(const char *text) {
    if (quiet)
      return;
    std::fprintf(stderr, bar ? "\r%s\033[K\n" : "%s\n", text);
  }

private:
  int64_t first, last, every;
  bool bar = false, quiet = false;
};

bool report(const strata_status &status) {
  std::fprintf(stderr, "error: %s\n", status.message);
  return false;
}

/// Finds what --resume names: a checkpoint, or the latest in a directory.
bool resolveResume(const std::string &path, std::string &out) {
  if (exists(path + "/manifest.json")) {
    out = path;
    return true;
  }
  auto found = listCheckpoints(path);
  if (found.empty()) {
    std::fprintf(stderr,
                 "error: --resume %s: neither a checkpoint (no "
                 "manifest.json) nor a directory holding step-* "
                 "checkpoints\n",
                 path.c_str());
    return false;
  }
  out = found.back().second;
  return true;
}

strata_device_kind deviceKind(const std::string &name) {
  return name == "cpu"    ? STRATA_DEVICE_CPU
         : name == "cuda" ? STRATA_DEVICE_CUDA
                          : STRATA_DEVICE_AUTO;
}

/// Saves a checkpoint of the session's step, then keeps the last
/// `keepLast` (0: all).
bool checkpoint(Session &s, const std::string &dir, int64_t keepLast,
                const BatchSampler &sampler, Progress &progress) {
  int64_t step = strata_session_train_steps_done(s.session);
  std::string path = checkpointPath(dir, step);
  if (exists(path))
    return true; // this step is saved already (a resumed run's start)
  strata_status status;
  std::string cursor = "{\"data\": " + sampler.cursorJson() + "}";
  if (strata_session_save_training_checkpoint(s.session, path.c_str(),
                                              cursor.c_str(), &status))
    return report(status);
  std::string text = "saved checkpoint " + path;
  progress.message(text.c_str());
  if (keepLast > 0) {
    auto found = listCheckpoints(dir);
    for (size_t i = 0; i + keepLast < found.size(); ++i)
      removeCheckpoint(found[i].second);
  }
  return true;
}

} // namespace

namespace {
int train(Session &s, TrainOptions &o, bool leader);
} // namespace

CLI::App *strata::tools::addTrainCommand(CLI::App &app, TrainOptions &o) {
  CLI::App *cmd = app.add_subcommand(
      "train", "Train an executable compiled with strata-compile --train on "
               "a token file: optimizer steps, metrics, checkpoints");
  cmd->add_option("executable", o.executable, "A .strata file")->required();
  cmd->add_option("--data", o.data,
                  "Token ids: a .bin of little-endian uint32, or a 1-D .npy "
                  "of int32, uint16 or uint32")
      ->required();
  cmd->add_option("--steps", o.steps,
                  "Train until this many optimizer steps are done (a resumed "
                  "run counts the steps before it)")
      ->required()
      ->check(CLI::Range(int64_t(1), int64_t(INT32_MAX)));
  cmd->add_option("--batch", o.batch,
                  "Sequences per step (default: training.batch_size, else 8)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  cmd->add_option("--seq-len", o.seqLen,
                  "Tokens per sequence (default: training.seq_len, else "
                  "min(128, the model's maximum))")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  cmd->add_option("--seed", o.seed,
                  "Seeds the weights' initialisation and the data shuffle "
                  "(default: training.seed)");
  cmd->add_option("--weights", o.weights,
                  "Start from these weights instead of a seeded "
                  "initialisation");
  cmd->add_option("--checkpoint-dir", o.checkpointDir,
                  "Write checkpoints here (step-NNNNNNNN), every "
                  "--checkpoint-interval steps and at the end");
  cmd->add_option("--checkpoint-interval", o.checkpointInterval,
                  "Steps between checkpoints (default: "
                  "training.checkpoint.interval; 0: only at the end)")
      ->check(CLI::Range(int64_t(0), int64_t(INT32_MAX)));
  cmd->add_option("--keep-last", o.keepLast,
                  "Checkpoints kept (default: training.checkpoint.keep_last; "
                  "0: all)")
      ->check(CLI::Range(int64_t(0), int64_t(1000000)));
  cmd->add_option("--resume", o.resume,
                  "Continue from a checkpoint, or from the latest in a "
                  "checkpoint directory: weights, optimizer state, schedule "
                  "and data position");
  cmd->add_option("--metrics", o.metrics,
                  "Append one JSON line per step (step, loss, lr, grad_norm, "
                  "tokens_per_s, ...); a fresh run truncates it");
  cmd->add_option("--save-weights", o.saveWeights,
                  "Write the trained weights here at the end (safetensors, "
                  "loadable by strata-run infer --weights)");
  cmd->add_option("--device", o.device, "auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--threads", o.threads,
                  "CPU threads (0: one per available CPU; the results do "
                  "not depend on it)")
      ->check(CLI::Range(0u, 1024u));
  cmd->add_option("--progress", o.progress,
                  "auto (a bar on a terminal, else a line per tenth of the "
                  "run), bar, lines or none")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));
  addCollectiveTimeout(*cmd, o.collectiveTimeout);
  cmd->callback([cmd, &o] { o.seedGiven = cmd->count("--seed") > 0; });
  return cmd;
}

int strata::tools::runTrain(TrainOptions o) {
  Session s;
  strata_status status;
  Ranks &ranks = processRanks();
  if (strata_executable_load_file(o.executable.c_str(), &s.exe, &status) ||
      strata_session_create_on(s.exe, deviceKind(o.device), &s.session,
                               &status))
    ranks.fail(status); // the others would wait for this rank to join
  if (!ranks.join(s.session))
    return 1;
  int code = train(s, o, ranks.leader());
  // An error on some ranks would leave the others waiting in the next
  // collective.
  if (code && ranks.size() > 1)
    ranks.abort();
  return code;
}

namespace {

/// The loop of a session that joined the world; the leader (rank 0) alone
/// writes checkpoints, metrics, progress and weights: data parallelism
/// keeps every rank's parameters and optimizer state identical.
int train(Session &s, TrainOptions &o, bool leader) {
  strata_status status;
  if (strata_session_set_num_threads(s.session, o.threads, &status))
    return report(status), 1;
  strata_executable_info info;
  strata_plan_info plan;
  if (strata_executable_get_info(s.exe, &info, &status) ||
      strata_executable_get_plan(s.exe, &plan, &status))
    return report(status), 1;
  if (!plan.has_training) {
    std::fprintf(stderr, "error: %s has no training plan: compile it with "
                         "strata-compile --train\n",
                 o.executable.c_str());
    return 1;
  }
  if (!o.seedGiven)
    o.seed = static_cast<uint64_t>(plan.seed);
  if (!o.batch)
    o.batch = plan.batch_size > 0 ? plan.batch_size : 8;
  if (!o.seqLen)
    o.seqLen = plan.seq_len > 0 ? plan.seq_len
                                : std::min<int64_t>(128, info.max_seq_len);
  if (o.seqLen > info.max_seq_len) {
    std::fprintf(stderr,
                 "error: --seq-len %lld exceeds the model's maximum "
                 "sequence length %lld\n",
                 (long long)o.seqLen, (long long)info.max_seq_len);
    return 1;
  }
  if (o.batch % plan.accumulation_steps) {
    std::fprintf(stderr,
                 "error: --batch %lld is not a multiple of the executable's "
                 "%lld accumulation steps\n",
                 (long long)o.batch, (long long)plan.accumulation_steps);
    return 1;
  }
  int64_t interval = o.checkpointInterval >= 0 ? o.checkpointInterval
                                               : plan.checkpoint_interval;
  int64_t keepLast =
      o.keepLast >= 0 ? o.keepLast : plan.checkpoint_keep_last;

  std::vector<int32_t> data;
  std::string error;
  if (!readTokenFile(o.data, info.vocab_size, data, error)) {
    std::fprintf(stderr, "error: --data %s\n", error.c_str());
    return 1;
  }
  int32_t pad = info.pad_token_id >= 0 ? static_cast<int32_t>(info.pad_token_id)
                                       : 0;
  BatchSampler sampler(data, static_cast<size_t>(o.seqLen), o.seed, pad);

  if (!o.resume.empty()) {
    std::string from;
    if (!resolveResume(o.resume, from))
      return 1;
    if (strata_session_load_training_checkpoint(s.session, from.c_str(),
                                                &status))
      return report(status), 1;
    std::string user = strata_session_checkpoint_user_json(s.session);
    if (!sampler.restore(user, error)) {
      std::fprintf(stderr, "error: --resume %s: %s\n", from.c_str(),
                   error.c_str());
      return 1;
    }
    if (leader)
      std::fprintf(stderr, "resumed from %s at step %lld\n", from.c_str(),
                 (long long)strata_session_train_steps_done(s.session));
  } else if (o.weights.empty()
                 ? strata_session_init_parameters(s.session, o.seed, &status)
                 : strata_session_load_parameters(s.session, o.weights.c_str(),
                                                  &status)) {
    return report(status), 1;
  }

  int64_t first = strata_session_train_steps_done(s.session);
  if (first >= o.steps) {
    if (leader)
      std::fprintf(stderr, "nothing to do: %lld steps are done already "
                         "(--steps %lld)\n",
                 (long long)first, (long long)o.steps);
    return 0;
  }
  if (!o.checkpointDir.empty() && o.resume.empty() &&
      !listCheckpoints(o.checkpointDir).empty()) {
    std::fprintf(stderr,
                 "error: --checkpoint-dir %s holds checkpoints of an earlier "
                 "run: --resume it, or use another directory\n",
                 o.checkpointDir.c_str());
    return 1;
  }
  if (leader && !o.checkpointDir.empty() && !isDirectory(o.checkpointDir) &&
      mkdir(o.checkpointDir.c_str(), 0777) != 0) {
    std::fprintf(stderr, "error: --checkpoint-dir %s: cannot create it: %s\n",
                 o.checkpointDir.c_str(), std::strerror(errno));
    return 1;
  }

  FILE *metrics = nullptr;
  if (leader && !o.metrics.empty()) {
    metrics = std::fopen(o.metrics.c_str(), o.resume.empty() ? "w" : "a");
    if (!metrics) {
      std::fprintf(stderr, "error: --metrics %s: cannot open: %s\n",
                   o.metrics.c_str(), std::strerror(errno));
      return 1;
    }
  }
  Progress progress(leader ? o.progress : "none", first, o.steps);
  std::vector<int32_t> tokens, labels;
  auto start = Clock::now();
  float firstLoss = NAN, lastLoss = NAN;
  int exitCode = 0;
  for (int64_t step = first; step < o.steps; ++step) {
    sampler.next(static_cast<size_t>(o.batch), tokens, labels);
    auto t0 = Clock::now();
    strata_train_metrics m;
    if (strata_session_train_step(s.session, tokens.data(), labels.data(),
                                  static_cast<size_t>(o.batch),
                                  static_cast<size_t>(o.seqLen), &m,
                                  &status)) {
      report(status);
      exitCode = 1;
      break;
    }
    double seconds =
        std::chrono::duration<double>(Clock::now() - t0).count();
    double tokensPerS =
        static_cast<double>(o.batch * o.seqLen) / std::max(seconds, 1e-9);
    if (std::isnan(firstLoss))
      firstLoss = m.loss;
    lastLoss = m.loss;
    if (metrics) {
      std::fprintf(metrics,
                   "{\"step\": %lld, \"loss\": %.9g, \"lr\": %.9g, "
                   "\"grad_norm\": %.9g, \"tokens_per_s\": %.1f, "
                   "\"tokens\": %lld, \"skipped\": %s",
                   (long long)m.step, m.loss, m.lr,
                   std::isfinite(m.grad_norm) ? m.grad_norm : -1.0,
                   tokensPerS, (long long)m.tokens,
                   m.skipped ? "true" : "false");
      if (m.dropped_tokens >= 0)
        std::fprintf(metrics, ", \"dropped_tokens\": %lld",
                     (long long)m.dropped_tokens);
      if (std::strcmp(plan.precision, "F16") == 0)
        std::fprintf(metrics, ", \"loss_scale\": %.9g", m.loss_scale);
      std::fprintf(metrics,
                   ", \"optimizer_state_bytes\": %zu, \"updates\": %lld",
                   strata_session_training_state_bytes(s.session),
                   (long long)strata_session_train_updates_done(s.session));
      std::fprintf(metrics, "}\n");
      std::fflush(metrics);
    }
    progress.update(m, tokensPerS,
                    std::chrono::duration<double>(Clock::now() - start)
                        .count());
    bool last = m.step == o.steps;
    bool save = !o.checkpointDir.empty() &&
                ((interval > 0 && m.step % interval == 0) || last);
    // Every rank brings its share of a sharded optimizer state to rank 0.
    if (save && strata_session_gather_training_state(s.session, &status)) {
      report(status);
      exitCode = 1;
      break;
    }
    if (save && leader &&
        !checkpoint(s, o.checkpointDir, keepLast, sampler, progress)) {
      exitCode = 1;
      break;
    }
  }
  if (metrics && std::fclose(metrics) != 0) {
    std::fprintf(stderr, "error: --metrics %s: %s\n", o.metrics.c_str(),
                 std::strerror(errno));
    exitCode = 1;
  }
  if (exitCode)
    return exitCode;
  if (leader && !o.saveWeights.empty() &&
      strata_session_save_parameters(s.session, o.saveWeights.c_str(),
                                     &status))
    return report(status), 1;
  double total = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("trained steps %lld-%lld in %.1f s: loss %.4f -> %.4f\n",
              (long long)first + 1, (long long)o.steps, total, firstLoss,
              lastLoss);
  return 0;
}

} // namespace

//===- TrainingCheckpoint.cpp - checkpoints with exact resume -------------===//
//
// A training checkpoint is a directory: model.safetensors (the parameters,
// as strata_session_save_parameters writes them), optimizer.safetensors
// (the optimizer state under torch's names) and manifest.json (the step,
// the loss scale, the optimizer, the caller's JSON). It is written into a
// temporary sibling and renamed into place, so a checkpoint directory
// either does not exist or is complete. Everything is stored in its own
// dtype: loading it back gives the same bits.
//
//===----------------------------------------------------------------------===//

#include "runtime/Checkpoint.h"
#include "runtime/JsonReader.h"
#include "runtime/OutputFile.h"
#include "runtime/Session.h"
#include "runtime/Training.h"
#include "runtime/ZeroOptimizer.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace strata::runtime;

namespace {

constexpr const char *kFormat = "strata-training-checkpoint";
constexpr int kVersion = 1;
constexpr size_t kMaxManifestBytes = 1 << 20;

std::string optimizerName(const strata_executable *exe) {
  const auto *plan = exe->root->training();
  if (!plan)
    return "none";
  switch (plan->optimizer()) {
  case strata::fb::Optimizer::AdamW:
    return "adamw";
  case strata::fb::Optimizer::Lion:
    return "lion";
  case strata::fb::Optimizer::Sgd:
    return "sgd";
  }
  return "unknown";
}

std::vector<std::string> stateNames(const strata_executable *exe) {
  std::vector<std::string> names;
  if (const auto *state = exe->root->training_state())
    for (const auto *t : *state)
      names.push_back(t->name()->str());
  return names;
}

std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

bool syncDirectory(const std::string &path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    return false;
  bool synced = fsync(fd) == 0;
  close(fd);
  return synced;
}

std::string parentOf(const std::string &path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/')
    p.pop_back();
  size_t slash = p.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : p.substr(0, slash);
}

/// Removes the files a previous, interrupted save left in `dir`, then
/// `dir` itself.
void removeTemporary(const std::string &dir) {
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
        unlink((dir + "/" + e->d_name).c_str());
    closedir(d);
  }
  rmdir(dir.c_str());
}

strata_status_code saveCheckpoint(strata_session &s, const std::string &path,
                                  const char *userJson,
                                  strata_status *status) {
  std::string user = userJson ? userJson : "null";
  {
    std::string error;
    json::Reader r{user, 0, error, "user JSON"};
    if (!r.skipValue(64) || (r.skipSpace(), r.pos != user.size()))
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "the checkpoint's user JSON is not one JSON value: %s",
                  error.empty() ? "trailing characters" : error.c_str());
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%s exists already: a checkpoint is written to a new "
                "directory, never over another",
                path.c_str());
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/')
    trimmed.pop_back();
  std::string temporary = trimmed + ".tmp-" + std::to_string(getpid());
  removeTemporary(temporary);
  if (mkdir(temporary.c_str(), 0777) != 0)
    return fail(status, STRATA_IO_ERROR, "%s: cannot create the directory: %s",
                temporary.c_str(), std::strerror(errno));
  strata_save_options own;
  strata_save_options_initialize(&own);
  std::vector<const HostTensor *> state;
  for (const HostTensor &t : s.training.state)
    state.push_back(&t);
  std::vector<std::string> names = stateNames(s.exe);
  if (state.size() != names.size()) // no step yet: the state is zeros
    state.clear(), names.clear();
  char scale[32];
  std::snprintf(scale, sizeof(scale), "%.9g", s.training.lossScale);
  std::string manifest =
      std::string("{\n  \"format\": \"") + kFormat +
      "\",\n  \"version\": " + std::to_string(kVersion) + ",\n  \"model\": " +
      jsonString(s.exe->root->metadata()->model_name()
                     ? s.exe->root->metadata()->model_name()->str()
                     : "") +
      ",\n  \"step\": " + std::to_string(s.training.step) +
      ",\n  \"updates\": " + std::to_string(s.training.updates) +
      ",\n  \"optimizer\": \"" + optimizerName(s.exe) +
      "\",\n  \"loss_scale\": " + scale + ",\n  \"loss_scale_clean_steps\": " +
      std::to_string(s.training.cleanSteps) +
      ",\n  \"parameters\": \"model.safetensors\",\n  \"optimizer_state\": " +
      (names.empty() ? std::string("null") : "\"optimizer.safetensors\"") +
      ",\n  \"user\": " + user + "\n}\n";
  std::string error;
  strata_status_code code =
      writeCheckpoint(temporary + "/model.safetensors", s.exe->root, s.weights,
                      own, status);
  if (!code && !names.empty())
    code = writeTensors(temporary + "/optimizer.safetensors", names, state,
                        status);
  if (!code && !writeFile(temporary + "/manifest.json", manifest, error))
    code = fail(status, STRATA_IO_ERROR, "%s", error.c_str());
  if (!code && (!syncDirectory(temporary) ||
                rename(temporary.c_str(), trimmed.c_str()) != 0))
    code = fail(status, STRATA_IO_ERROR,
                "%s: cannot move the checkpoint into place: %s", path.c_str(),
                std::strerror(errno));
  if (code) {
    removeTemporary(temporary);
    return code;
  }
  syncDirectory(parentOf(trimmed));
  return ok(status);
}

struct Manifest {
  std::string format, optimizer, user = "null";
  uint64_t version = 0, step = 0, cleanSteps = 0;
  /// Absent from checkpoints written before skipped steps stopped counting
  /// as updates: those counted every step.
  std::optional<uint64_t> updates;
  double lossScale = 1.0;
  bool hasState = false;
};

strata_status_code readManifest(const std::string &path, Manifest &m,
                                strata_status *status) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(status, STRATA_IO_ERROR,
                "%s: cannot open: %s (is this a checkpoint directory "
                "written by strata-run train?)",
                path.c_str(), std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  std::string manifest = text.str();
  if (manifest.size() > kMaxManifestBytes)
    return fail(status, STRATA_INVALID_ARGUMENT, "%s: larger than 1 MiB",
                path.c_str());
  std::string error;
  json::Reader r{manifest, 0, error, "manifest"};
  bool good = r.expect('{');
  bool more = good && !r.peek('}');
  while (good && more) {
    std::string key;
    good = r.string(key) && r.expect(':');
    if (!good)
      break;
    if (key == "format" || key == "optimizer") {
      good = r.string(key == "format" ? m.format : m.optimizer);
    } else if (key == "version" || key == "step") {
      good = r.integer(key == "version" ? m.version : m.step);
    } else if (key == "loss_scale") {
      good = r.number(m.lossScale);
    } else if (key == "loss_scale_clean_steps") {
      good = r.integer(m.cleanSteps);
    } else if (key == "updates") {
      uint64_t updates = 0;
      good = r.integer(updates);
      m.updates = updates;
    } else if (key == "optimizer_state") {
      m.hasState = !r.peek('n');
      good = r.skipValue(2);
    } else if (key == "user") {
      size_t start = (r.skipSpace(), r.pos);
      good = r.skipValue(64);
      m.user = manifest.substr(start, r.pos - start);
    } else {
      good = r.skipValue(64);
    }
    more = good && r.peek(',') && r.expect(',');
  }
  good = good && r.expect('}');
  if (!good)
    return fail(status, STRATA_INVALID_ARGUMENT, "%s: %s", path.c_str(),
                error.c_str());
  if (m.format != kFormat || m.version != kVersion)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%s: not a version-%d %s manifest", path.c_str(), kVersion,
                kFormat);
  if (m.step > static_cast<uint64_t>(INT32_MAX) ||
      m.cleanSteps > static_cast<uint64_t>(INT32_MAX) || !(m.lossScale > 0) ||
      !std::isfinite(m.lossScale))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%s: step or loss_scale out of range", path.c_str());
  if (m.updates && *m.updates > m.step)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%s: %llu updates in %llu steps: a step applies at most one",
                path.c_str(), static_cast<unsigned long long>(*m.updates),
                static_cast<unsigned long long>(m.step));
  return STRATA_OK;
}

strata_status_code loadCheckpoint(strata_session &s, const std::string &path,
                                  strata_status *status) {
  std::string dir = path;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  Manifest m;
  if (strata_status_code code =
          readManifest(dir + "/manifest.json", m, status))
    return code;
  if (m.optimizer != optimizerName(s.exe))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%s: the checkpoint's optimizer is %s, the executable's %s: "
                "resume with the executable that wrote it",
                path.c_str(), m.optimizer.c_str(),
                optimizerName(s.exe).c_str());
  std::vector<HostTensor> weights;
  if (strata_status_code code =
          readCheckpoint(dir + "/model.safetensors", s.exe->root, s.weights,
                         weights, status))
    return code;
  std::vector<std::string> names = stateNames(s.exe);
  std::vector<HostTensor> state;
  if (m.hasState)
    if (strata_status_code code = allocateTrainingState(s.exe, state, status))
      return code;
  if (m.hasState)
    if (strata_status_code code = readTensors(
            dir + "/optimizer.safetensors", names, state, status))
      return code;
  s.weights.replace(std::move(weights));
  s.weights.changed();
  s.training.state = std::move(state);
  s.training.step = static_cast<int64_t>(m.step);
  s.training.updates = static_cast<int64_t>(m.updates.value_or(m.step));
  s.training.lossScale = static_cast<float>(m.lossScale);
  s.training.cleanSteps = static_cast<int64_t>(m.cleanSteps);
  s.training.userJson = m.user;
  return ok(status);
}

} // namespace

extern "C" {

strata_status_code strata_session_save_training_checkpoint(
    strata_session *session, const char *path, const char *user_json,
    strata_status *status) {
  if (!session || !path || !*path)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_save_training_checkpoint: null argument");
  return guardApi(__func__, status, [&] {
    // ZeRO-1 leaves each rank part of the state; a checkpoint holds it all.
    for (const HostTensor &t : session->training.state)
      if (!t.data)
        return fail(status, STRATA_INVALID_ARGUMENT,
                    "this rank holds only its share of the optimizer state "
                    "(ZeRO stage 1): call strata_session_gather_training_"
                    "state on every rank first, then save on rank 0");
    return saveCheckpoint(*session, path, user_json, status);
  });
}

strata_status_code
strata_session_gather_training_state(strata_session *session,
                                     strata_status *status) {
  if (!session)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_gather_training_state: null argument");
  return guardApi(__func__, status, [&] {
    return strata::runtime::gatherOptimizerState(*session, status);
  });
}

strata_status_code strata_session_load_training_checkpoint(
    strata_session *session, const char *path, strata_status *status) {
  if (!session || !path || !*path)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_load_training_checkpoint: null argument");
  return guardApi(__func__, status,
                  [&] { return loadCheckpoint(*session, path, status); });
}

const char *strata_session_checkpoint_user_json(const strata_session *session) {
  return session ? session->training.userJson.c_str() : "null";
}

} // extern "C"

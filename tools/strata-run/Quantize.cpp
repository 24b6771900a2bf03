//===- Quantize.cpp - strata-run quantize ---------------------------------===//
//
// Writes the int8 checkpoint of an executable compiled with strata-compile
// --quantize: the runtime quantizes a float checkpoint as it loads it
// (symmetric per output channel, runtime/Quantize.cpp), so quantizing is
// loading, then saving the session's weights (int8 with f32 scales). The
// static w8a8 scheme also needs its activations' scales and zero points:
// calibration observes the model on --calibration-data first.
//
//===----------------------------------------------------------------------===//

#include "tools/strata-run/Quantize.h"

#include "tools/strata-run/TrainData.h"

#include "runtime/strata.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace strata::tools {

CLI::App *addQuantizeCommand(CLI::App &app, QuantizeOptions &o) {
  CLI::App *cmd = app.add_subcommand(
      "quantize",
      "Quantize float weights for an executable compiled with strata-compile "
      "--quantize and write them as an int8 checkpoint (int8 weights, "
      "symmetric per output channel, with their f32 scales <name>_scale), "
      "loadable by infer, logits, bench and eval");
  cmd->add_option("executable", o.executable,
                  "A .strata file compiled with --quantize")
      ->required();
  cmd->add_option("--weights", o.weights,
                  "The float checkpoint (safetensors file, sharded index or "
                  "directory)")
      ->required();
  cmd->add_option("-o,--output", o.output,
                  "Where to write the quantized checkpoint (written "
                  "atomically; a directory or --shard-size: sharded)")
      ->required();
  cmd->add_option("--shard-size", o.shardBytes,
                  "Shards of at most this many bytes plus "
                  "model.safetensors.index.json");
  cmd->add_option("--calibration-data", o.calibrationData,
                  "Static w8a8: token file (.bin little-endian uint32, or "
                  ".npy of int32/uint16/uint32) the activations are "
                  "calibrated on (required for w8a8, refused otherwise)");
  cmd->add_option("--samples", o.samples,
                  "Sequences of --seq-len tokens to calibrate on, taken "
                  "from the start of the data (default 64)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seq-len", o.seqLen,
                  "Tokens per calibration sequence (default: the model's "
                  "maximum, at most 512)");
  cmd->add_option("--observer", o.observer,
                  "How an activation range is chosen: minmax (observed "
                  "extremes), percentile (the central --percentile %) or "
                  "mse (least rounding and clipping error)")
      ->check(CLI::IsMember({"minmax", "percentile", "mse"}));
  cmd->add_option("--percentile", o.percentile,
                  "The percentile observer's share of values kept, in "
                  "(50, 100] (default 99.99)");
  return cmd;
}

namespace {
/// Observes the first samples x seqLen tokens of the calibration data and
/// sets the session's activation scales; 0 or the exit code.
int calibrate(const QuantizeOptions &o, const strata_executable *exe,
              strata_session *session) {
  strata_executable_info info;
  strata_status status;
  strata_executable_get_info(exe, &info, &status);
  std::vector<int32_t> tokens;
  std::string error;
  if (!readTokenFile(o.calibrationData, info.vocab_size, tokens, error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  size_t seq = o.seqLen ? o.seqLen
                        : static_cast<size_t>(
                              std::min<int64_t>(info.max_seq_len, 512));
  if (seq > static_cast<size_t>(info.max_seq_len)) {
    std::fprintf(stderr,
                 "error: --seq-len %zu exceeds the model's maximum of %lld\n",
                 seq, (long long)info.max_seq_len);
    return 1;
  }
  size_t available = tokens.size() / seq;
  if (!available) {
    std::fprintf(stderr,
                 "error: %s: %zu tokens, fewer than one calibration sequence "
                 "of %zu (give more text or a smaller --seq-len)\n",
                 o.calibrationData.c_str(), tokens.size(), seq);
    return 1;
  }
  size_t samples = std::min(o.samples, available);
  if (samples < o.samples)
    std::fprintf(stderr,
                 "note: %s holds %zu sequences of %zu tokens; calibrating on "
                 "those, not %zu\n",
                 o.calibrationData.c_str(), available, seq, o.samples);
  for (size_t i = 0; i < samples; ++i)
    if (strata_session_calibration_observe(session, tokens.data() + i * seq,
                                           1, seq, &status)) {
      std::fprintf(stderr, "error: %s\n", status.message);
      return 1;
    }
  static const std::map<std::string, strata_observer> observers{
      {"minmax", STRATA_OBSERVER_MINMAX},
      {"percentile", STRATA_OBSERVER_PERCENTILE},
      {"mse", STRATA_OBSERVER_MSE}};
  strata_calibration_options options;
  strata_calibration_options_initialize(&options);
  options.observer = observers.at(o.observer);
  options.percentile = o.percentile;
  const char *warnings = nullptr;
  if (strata_session_calibration_finish(session, &options, &warnings,
                                        &status)) {
    std::fprintf(stderr, "error: %s\n", status.message);
    return 1;
  }
  std::fputs(warnings, stderr);
  std::printf("calibrated on %zu sequences of %zu tokens (%s observer)\n",
              samples, seq, o.observer.c_str());
  return 0;
}

/// Whether `exe` has static w8a8 activations to calibrate.
bool hasCalibration(const strata_executable *exe) {
  strata_executable_info info;
  strata_status status;
  strata_executable_get_info(exe, &info, &status);
  for (size_t i = 0; i < info.num_entry_points; ++i) {
    const char *name = nullptr;
    size_t args = 0, results = 0;
    if (!strata_executable_get_entry_point(exe, i, &name, &args, &results,
                                           &status) &&
        std::string(name) == "calibrate")
      return true;
  }
  return false;
}
} // namespace

int runQuantize(const QuantizeOptions &o) {
  strata_status status;
  strata_executable *exe = nullptr;
  strata_session *session = nullptr;
  auto failWith = [&](const char *message) {
    std::fprintf(stderr, "error: %s\n", message);
    strata_session_release(session);
    strata_executable_release(exe);
    return 1;
  };
  if (strata_executable_load_file(o.executable.c_str(), &exe, &status))
    return failWith(status.message);
  strata_executable_info info;
  strata_executable_get_info(exe, &info, &status);
  size_t int8 = 0, stored = 0;
  int64_t int8Elements = 0;
  for (size_t i = 0; i < info.num_parameters; ++i) {
    strata_parameter_info p;
    strata_executable_get_parameter(exe, i, &p, &status);
    if (p.dtype == STRATA_I8) {
      ++int8;
      int8Elements += p.num_elements;
    }
    // Row sums (i32) are computed at load, not stored.
    stored += p.dtype != STRATA_I32;
  }
  if (!int8) {
    std::string message = o.executable +
                          ": no int8 parameters to quantize; compile the "
                          "model with strata-compile --quantize";
    return failWith(message.c_str());
  }
  strata_save_options save;
  strata_save_options_initialize(&save);
  save.max_shard_bytes = o.shardBytes;
  bool isStatic = hasCalibration(exe);
  if (isStatic && o.calibrationData.empty())
    return failWith((o.executable +
                     ": a static w8a8 model calibrates its activations: "
                     "give --calibration-data FILE (or compile with "
                     "--quantize=w8a8-dynamic, which needs none)")
                        .c_str());
  if (!isStatic && !o.calibrationData.empty())
    return failWith((o.executable +
                     ": --calibration-data is for models compiled with "
                     "--quantize=w8a8; this one's activations need no "
                     "calibration")
                        .c_str());
  // The host's memory holds the weights: no device is needed.
  if (strata_session_create_on(exe, STRATA_DEVICE_CPU, &session, &status) ||
      strata_session_load_parameters(session, o.weights.c_str(), &status))
    return failWith(status.message);
  if (isStatic)
    if (int code = calibrate(o, exe, session)) {
      strata_session_release(session);
      strata_executable_release(exe);
      return code;
    }
  if (strata_session_save_parameters_with(session, o.output.c_str(), &save,
                                          &status))
    return failWith(status.message);
  std::printf("quantized %zu weights (%lld elements, %.1f MB in int8) of "
              "%zu parameters: %s\n",
              int8, (long long)int8Elements, int8Elements / 1e6, stored,
              o.output.c_str());
  strata_session_release(session);
  strata_executable_release(exe);
  return 0;
}

} // namespace strata::tools

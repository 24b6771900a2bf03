//===- Quantize.cpp - strata-run quantize ---------------------------------===//
//
// Writes the int8 checkpoint of an executable compiled with strata-compile
// --quantize: the runtime quantizes a float checkpoint as it loads it
// (symmetric per output channel, runtime/Quantize.cpp), so quantizing is
// loading, then saving the session's weights (int8 with f32 scales).
//
//===----------------------------------------------------------------------===//

#include "tools/strata-run/Quantize.h"

#include "runtime/strata.h"

#include <cstdio>

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
  return cmd;
}

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
  size_t int8 = 0;
  int64_t int8Elements = 0;
  for (size_t i = 0; i < info.num_parameters; ++i) {
    strata_parameter_info p;
    strata_executable_get_parameter(exe, i, &p, &status);
    if (p.dtype == STRATA_I8) {
      ++int8;
      int8Elements += p.num_elements;
    }
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
  // The host's memory holds the weights: no device is needed.
  if (strata_session_create_on(exe, STRATA_DEVICE_CPU, &session, &status) ||
      strata_session_load_parameters(session, o.weights.c_str(), &status) ||
      strata_session_save_parameters_with(session, o.output.c_str(), &save,
                                          &status))
    return failWith(status.message);
  std::printf("quantized %zu weights (%lld elements, %.1f MB in int8) of "
              "%zu parameters: %s\n",
              int8, (long long)int8Elements, int8Elements / 1e6,
              info.num_parameters, o.output.c_str());
  strata_session_release(session);
  strata_executable_release(exe);
  return 0;
}

} // namespace strata::tools

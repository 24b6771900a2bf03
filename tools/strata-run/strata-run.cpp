//===- strata-run.cpp - run Strata executables ------------------*- C++ -*-===//
//
// The runtime's command-line front end. It uses only the C API of
// runtime/strata.h, as an embedding program would.
//
//===----------------------------------------------------------------------===//

#include "runtime/strata.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

namespace {

const char *dtypeName(strata_dtype dtype) {
  switch (dtype) {
  case STRATA_F32: return "f32";
  case STRATA_BF16: return "bf16";
  case STRATA_F16: return "f16";
  case STRATA_I32: return "i32";
  case STRATA_I64: return "i64";
  case STRATA_I8: return "i8";
  case STRATA_U8: return "u8";
  }
  return "?";
}

/// Prints what an executable holds: model, entry points, parameter table.
int inspect(const std::string &path, bool listParameters) {
  strata_status status;
  strata_executable *exe = nullptr;
  if (strata_executable_load_file(path.c_str(), &exe, &status) != STRATA_OK) {
    std::fprintf(stderr, "error: %s\n", status.message);
    return 1;
  }
  strata_executable_info info;
  strata_executable_get_info(exe, &info, &status);
  std::printf("model %s: format %u, target %s (%s)\n", info.model_name,
              info.format_version, info.target, info.cpu);
  std::printf("vocab %lld, hidden %lld, layers %lld, max sequence %lld, "
              "bos %lld, eos %lld, pad %lld\n",
              (long long)info.vocab_size, (long long)info.hidden_size,
              (long long)info.num_layers, (long long)info.max_seq_len,
              (long long)info.bos_token_id, (long long)info.eos_token_id,
              (long long)info.pad_token_id);
  std::printf("kernel libraries: %zu\n", info.num_kernel_libraries);
  for (size_t i = 0; i < info.num_entry_points; ++i) {
    const char *name;
    size_t args, results;
    strata_executable_get_entry_point(exe, i, &name, &args, &results, &status);
    std::printf("entry point %s: %zu arguments, %zu results\n", name, args,
                results);
  }
  std::printf("parameters: %zu (%lld elements)\n", info.num_parameters,
              (long long)info.total_parameter_elements);
  for (size_t i = 0; listParameters && i < info.num_parameters; ++i) {
    strata_parameter_info p;
    strata_executable_get_parameter(exe, i, &p, &status);
    std::string shape;
    for (size_t d = 0; d < p.rank; ++d)
      shape += (d ? ", " : "") + std::to_string(p.shape[d]);
    std::printf("  %-56s [%s] %s\n", p.name, shape.c_str(),
                dtypeName(p.dtype));
  }
  strata_executable_release(exe);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"strata-run: load and run Strata executables"};
  app.require_subcommand(1);
  std::string path;
  bool listParameters = false;
  CLI::App *inspectCmd = app.add_subcommand(
      "inspect", "Verify an executable and print what it holds");
  inspectCmd->add_option("executable", path, "A .strata file")->required();
  inspectCmd->add_flag("--parameters", listParameters,
                       "List the parameter table");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e);
  }
  if (*inspectCmd)
    return inspect(path, listParameters);
  return 1;
}

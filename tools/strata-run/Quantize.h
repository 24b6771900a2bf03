//===- Quantize.h - strata-run quantize -------------------------*- C++ -*-===//

#ifndef STRATA_TOOLS_STRATA_RUN_QUANTIZE_H
#define STRATA_TOOLS_STRATA_RUN_QUANTIZE_H

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace strata::tools {

struct QuantizeOptions {
  std::string executable, weights, output;
  uint64_t shardBytes = 0;
  /// Static w8a8: the calibration tokens and how they are read.
  std::string calibrationData, observer = "minmax";
  size_t samples = 64, seqLen = 0;
  double percentile = 99.99;
};

/// Adds the `quantize` subcommand, filling `options`.
CLI::App *addQuantizeCommand(CLI::App &app, QuantizeOptions &options);

/// Runs it; the process exit code.
int runQuantize(const QuantizeOptions &options);

} // namespace strata::tools

#endif // STRATA_TOOLS_STRATA_RUN_QUANTIZE_H

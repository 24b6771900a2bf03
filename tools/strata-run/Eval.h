//===- Eval.h - strata-run eval ---------------------------------*- C++ -*-===//

#ifndef STRATA_TOOLS_STRATA_RUN_EVAL_H
#define STRATA_TOOLS_STRATA_RUN_EVAL_H

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace strata::tools {

struct EvalOptions {
  std::string executable, weights, data;
  std::string reference, referenceWeights;
  std::string json; ///< --json FILE: the figures as one JSON object
  int64_t seqLen = 0, maxWindows = 0;
  uint64_t seed = 0;
  unsigned threads = 0;
};

/// Adds the `eval` subcommand, filling `options`.
CLI::App *addEvalCommand(CLI::App &app, EvalOptions &options);

/// Runs it; the process exit code.
int runEval(const EvalOptions &options);

} // namespace strata::tools

#endif // STRATA_TOOLS_STRATA_RUN_EVAL_H

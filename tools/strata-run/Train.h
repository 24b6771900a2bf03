//===- Train.h - strata-run train -------------------------------*- C++ -*-===//

#ifndef STRATA_TOOLS_STRATA_RUN_TRAIN_H
#define STRATA_TOOLS_STRATA_RUN_TRAIN_H

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace strata::tools {

struct TrainOptions {
  std::string executable, data, weights, checkpointDir, resume, metrics;
  std::string saveWeights, device = "auto";
  int64_t steps = 0, batch = 0, seqLen = 0;
  int64_t checkpointInterval = -1, keepLast = -1; ///< -1: the plan's
  uint64_t seed = 0;
  bool seedGiven = false;
  unsigned threads = 0;
  std::string progress = "auto"; ///< auto, bar, lines, none
  double collectiveTimeout = 600; ///< seconds, under mpirun
};

/// Adds the `train` subcommand, filling `options`.
CLI::App *addTrainCommand(CLI::App &app, TrainOptions &options);

/// Runs it; the process exit code.
int runTrain(TrainOptions options);

} // namespace strata::tools

#endif // STRATA_TOOLS_STRATA_RUN_TRAIN_H

//===- Ranks.h - strata-run under mpirun ------------------------*- C++ -*-===//
//
// Every subcommand runs in a world: one process alone, or the ranks mpirun
// launched. Rank 0 prints results; any rank prints its own errors, and an
// error that would leave other ranks waiting ends the launch.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_TOOLS_STRATA_RUN_RANKS_H
#define STRATA_TOOLS_STRATA_RUN_RANKS_H

#include "runtime/strata.h"

namespace CLI {
class App;
}

namespace strata::tools {

/// Adds --collective-timeout SECONDS to a subcommand.
void addCollectiveTimeout(CLI::App &cmd, double &seconds);

class Ranks {
public:
  Ranks() = default;
  Ranks(const Ranks &) = delete;
  Ranks &operator=(const Ranks &) = delete;
  ~Ranks() { strata_world_release(world); }

  /// Joins the launched ranks (collectives time out after `timeout`
  /// seconds); on a rank other than 0, stdout goes to /dev/null.
  bool open(double timeout);
  /// strata_session_join_world. The checks' failures are the same on every
  /// rank: rank 0 alone reports them, and every rank returns false.
  bool join(strata_session *session);
  /// Reports `status`, naming this rank when there are several, and ends
  /// the launch (a single process just exits) with status 1.
  [[noreturn]] void fail(const strata_status &status);
  /// Ends the launch after an error already reported.
  [[noreturn]] void abort();

  int rank() const { return worldRank; }
  int size() const { return worldSize; }
  bool leader() const { return worldRank == 0; }

private:
  strata_world *world = nullptr;
  int worldRank = 0, worldSize = 1;
};

/// The world strata-run's subcommands share (one per process).
Ranks &processRanks();

} // namespace strata::tools

#endif // STRATA_TOOLS_STRATA_RUN_RANKS_H

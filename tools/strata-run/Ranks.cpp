//===- Ranks.cpp - strata-run under mpirun --------------------------------===//

#include "tools/strata-run/Ranks.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

using namespace strata::tools;

bool Ranks::open(double timeout) {
  strata_world_options options;
  strata_world_options_initialize(&options);
  options.timeout_s = timeout;
  strata_status status;
  if (strata_world_create(&options, &world, &status)) {
    std::fprintf(stderr, "error: %s\n", status.message);
    return false;
  }
  worldRank = strata_world_rank(world);
  worldSize = strata_world_size(world);
  if (worldRank != 0 && !std::freopen("/dev/null", "w", stdout)) {
    std::fprintf(stderr, "rank %d: error: cannot silence stdout\n",
                 worldRank);
    return false;
  }
  return true;
}

bool Ranks::join(strata_session *session) {
  strata_status status;
  strata_status_code code = strata_session_join_world(session, world, &status);
  if (code == STRATA_OK)
    return true;
  if (code == STRATA_COMMUNICATION_ERROR)
    fail(status);
  if (leader())
    std::fprintf(stderr, "error: %s\n", status.message);
  return false;
}

void Ranks::fail(const strata_status &status) {
  if (worldSize > 1)
    std::fprintf(stderr, "rank %d: error: %s\n", worldRank, status.message);
  else
    std::fprintf(stderr, "error: %s\n", status.message);
  abort();
}

void Ranks::abort() {
  std::fflush(stdout);
  std::fflush(stderr);
  if (worldSize > 1)
    strata_world_abort(world, 1);
  std::exit(1);
}

void strata::tools::addCollectiveTimeout(CLI::App &cmd, double &seconds) {
  cmd.add_option("--collective-timeout", seconds,
                 "Under mpirun: seconds a rank waits in a collective before "
                 "it names the ranks that never arrived and ends the launch")
      ->check(CLI::Range(0.001, 1e7))
      ->default_val(seconds);
}

Ranks &strata::tools::processRanks() {
  static Ranks ranks;
  return ranks;
}

//===- WorldApiTest.cpp - strata_world_* in a process started alone -------===//
//
// The multi-rank paths run under mpirun (test/e2e/data_parallel.test,
// collectives.test); here, what an embedder sees without a launcher: a
// world of one that runs any plan, and clear errors for a backend that is
// not there.
//
//===----------------------------------------------------------------------===//

#include "runtime/strata.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {

std::string fixture(const char *name) {
  const char *dir = std::getenv("STRATA_FIXTURES_DIR");
  return std::string(dir ? dir : STRATA_FIXTURES_DIR) + "/" + name;
}

TEST(WorldApi, AloneIsAWorldOfOneThatRunsTheWholePlan) {
  strata_world *world = nullptr;
  strata_status status;
  // NULL options: "auto", which is single without a launcher's variables.
  ASSERT_EQ(strata_world_create(nullptr, &world, &status), STRATA_OK)
      << status.message;
  EXPECT_EQ(strata_world_rank(world), 0);
  EXPECT_EQ(strata_world_size(world), 1);
  EXPECT_STREQ(strata_world_backend(world), "single");

  // examples/tiny.yaml's plan is tp 2 x pp 2 x dp 2: one process runs it
  // all, at mesh coordinates zero.
  strata_executable *exe = nullptr;
  strata_session *session = nullptr;
  ASSERT_EQ(strata_executable_load_file(fixture("tiny.strata").c_str(), &exe,
                                        &status),
            STRATA_OK)
      << status.message;
  ASSERT_EQ(strata_session_create(exe, &session, &status), STRATA_OK);
  ASSERT_EQ(strata_session_join_world(session, world, &status), STRATA_OK)
      << status.message;
  // The session keeps the world alive: released first, it still works.
  strata_world_release(world);
  strata_rank_info info;
  ASSERT_EQ(strata_session_get_rank_info(session, &info, &status), STRATA_OK);
  EXPECT_EQ(info.world_rank, 0);
  EXPECT_EQ(info.world_size, 1);
  EXPECT_EQ(info.mesh_rank, 4u);
  for (size_t i = 0; i < info.mesh_rank; ++i)
    EXPECT_EQ(info.coords[i], 0);
  EXPECT_EQ(info.dp_rank, 0);
  EXPECT_EQ(info.dp_size, 1);
  ASSERT_EQ(strata_session_init_parameters(session, 1, &status), STRATA_OK);
  int32_t prompt[] = {1, 2, 3};
  int32_t out[2];
  size_t count = 0;
  EXPECT_EQ(strata_session_generate_greedy(session, prompt, 3, 2, out, &count,
                                           &status),
            STRATA_OK)
      << status.message;
  EXPECT_EQ(count, 2u);
  strata_session_release(session);
  strata_executable_release(exe);
}

TEST(WorldApi, ASessionOutsideAWorldIsAMeshOfOne) {
  strata_executable *exe = nullptr;
  strata_session *session = nullptr;
  strata_status status;
  ASSERT_EQ(strata_executable_load_file(fixture("micro.strata").c_str(), &exe,
                                        &status),
            STRATA_OK);
  ASSERT_EQ(strata_session_create(exe, &session, &status), STRATA_OK);
  strata_rank_info info;
  ASSERT_EQ(strata_session_get_rank_info(session, &info, &status), STRATA_OK);
  EXPECT_EQ(info.world_size, 1);
  EXPECT_EQ(info.dp_size, 1);
  EXPECT_EQ(strata_session_get_rank_info(nullptr, &info, &status),
            STRATA_INVALID_ARGUMENT);
  // Nothing is sharded: gathering the optimizer state does nothing, and
  // there is none before a step.
  EXPECT_EQ(strata_session_gather_training_state(session, &status),
            STRATA_OK);
  EXPECT_EQ(strata_session_training_state_bytes(session), 0u);
  EXPECT_EQ(strata_session_gather_training_state(nullptr, &status),
            STRATA_INVALID_ARGUMENT);
  strata_session_release(session);
  strata_executable_release(exe);
}

TEST(WorldApi, BadBackendsAreNamed) {
  strata_world_options options;
  strata_world_options_initialize(&options);
  EXPECT_STREQ(options.backend, "auto");
  EXPECT_EQ(options.timeout_s, 600.0);
  strata_world *world = nullptr;
  strata_status status;
  options.backend = "carrier-pigeon";
  EXPECT_EQ(strata_world_create(&options, &world, &status),
            STRATA_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message).find("'carrier-pigeon'"),
            std::string::npos)
      << status.message;
  EXPECT_EQ(world, nullptr);
  options.backend = "auto";
  EXPECT_STREQ(options.gpu_backend, "auto");
  options.gpu_backend = "smoke-signals";
  EXPECT_EQ(strata_world_create(&options, &world, &status),
            STRATA_INVALID_ARGUMENT);
  EXPECT_NE(std::string(status.message).find("GPU communication backend "
                                             "'smoke-signals'"),
            std::string::npos)
      << status.message;
  options.gpu_backend = "auto";
  // MPI asked for where there is no plugin: which file, where it looked.
  options.backend = "mpi";
  options.plugin_dir = "/nonexistent";
  EXPECT_EQ(strata_world_create(&options, &world, &status), STRATA_NOT_FOUND);
  EXPECT_NE(std::string(status.message)
                .find("cannot load libstrata_comm_mpi.so (tried "
                      "/nonexistent/libstrata_comm_mpi.so"),
            std::string::npos)
      << status.message;
  EXPECT_EQ(strata_session_join_world(nullptr, nullptr, &status),
            STRATA_INVALID_ARGUMENT);
}

} // namespace

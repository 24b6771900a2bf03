//===- ExecutableLoaderTest.cpp - corrupted executables are errors -*- C++ -*-===//
//
// Builds executables with the compiler's writer and loads them through the
// runtime's C API: a valid one loads; every truncation, thousands of byte
// flips and targeted corruptions are clean errors (never a crash), with a
// message naming the problem.
//
//===----------------------------------------------------------------------===//

#include "ExecutableTestUtils.h"
#include "codegen/ExecutableWriter.h"
#include "runtime/schema/executable_generated.h"
#include "runtime/abi.h"
#include "runtime/strata.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

using mlir::strata::ExecutableContents;

namespace {

ExecutableContents sampleContents() {
  ExecutableContents c;
  c.parameters.push_back({"model.embed_tokens.weight", {16, 4}, 0, 0.02});
  c.parameters.push_back({"model.norm.weight", {4}, 2, 0.0});
  ExecutableContents::EntryPoint forward;
  forward.name = "forward";
  ExecutableContents::Argument tokens;
  tokens.shape = {-1, -1};
  tokens.isInteger = true;
  forward.arguments.push_back(tokens);
  for (int i = 0; i < 2; ++i) {
    ExecutableContents::Argument p;
    p.kind = ExecutableContents::Argument::Param;
    p.parameter = i;
    p.shape = c.parameters[i].shape;
    forward.arguments.push_back(p);
  }
  forward.results.push_back({-1, -1, 16});
  c.entryPoints.push_back(forward);
  c.kernelLibrary = std::string("\x7f" "ELF", 4) + std::string(124, '\0');
  c.modelName = "unit";
  c.cpu = "x86-64-v2";
  c.vocabSize = 16;
  c.hiddenSize = 4;
  c.numLayers = 1;
  c.maxSeqLen = 32;
  c.eosTokenId = 2;
  return c;
}

strata_status_code load(const std::string &bytes, strata_status &status) {
  strata_executable *exe = nullptr;
  strata_status_code code =
      strata_executable_load_memory(bytes.data(), bytes.size(), &exe, &status);
  EXPECT_EQ(code == STRATA_OK, exe != nullptr);
  if (code != STRATA_OK) {
    EXPECT_NE(status.message[0], '\0') << "an error without a message";
  }
  strata_executable_release(exe);
  return code;
}

/// Tests that `c` fails to load with `code` and a message holding
/// `fragment`.
void expectError(const ExecutableContents &c, strata_status_code code,
                 const char *fragment) {
  strata_status status;
  std::string bytes = mlir::strata::serializeExecutable(c);
  EXPECT_EQ(load(bytes, status), code);
  EXPECT_NE(std::string(status.message).find(fragment), std::string::npos)
      << status.message;
}

/// Tests that a well-formed executable loads and reports its contents.
TEST(ExecutableLoader, ValidExecutableLoads) {
  std::string bytes = mlir::strata::serializeExecutable(sampleContents());
  strata_executable *exe = nullptr;
  strata_status status;
  ASSERT_EQ(strata_executable_load_memory(bytes.data(), bytes.size(), &exe,
                                          &status),
            STRATA_OK)
      << status.message;
  strata_executable_info info;
  ASSERT_EQ(strata_executable_get_info(exe, &info, &status), STRATA_OK);
  EXPECT_STREQ(info.model_name, "unit");
  EXPECT_STREQ(info.target, "cpu");
  EXPECT_EQ(info.num_parameters, 2u);
  EXPECT_EQ(info.total_parameter_elements, 68);
  strata_parameter_info param;
  ASSERT_EQ(strata_executable_get_parameter(exe, 1, &param, &status),
            STRATA_OK);
  EXPECT_STREQ(param.name, "model.norm.weight");
  EXPECT_EQ(param.rank, 1u);
  EXPECT_EQ(strata_executable_get_parameter(exe, 2, &param, &status),
            STRATA_NOT_FOUND);
  const char *name;
  size_t args, results;
  ASSERT_EQ(strata_executable_get_entry_point(exe, 0, &name, &args, &results,
                                              &status),
            STRATA_OK);
  EXPECT_STREQ(name, "forward");
  EXPECT_EQ(args, 3u);
  strata_executable_release(exe);
}

/// Tests that every truncation of a valid executable is a clean error.
TEST(ExecutableLoader, EveryTruncationIsAnError) {
  std::string bytes = mlir::strata::serializeExecutable(sampleContents());
  strata_status status;
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_NE(load(bytes.substr(0, n), status), STRATA_OK) << "length " << n;
}

/// Tests that random byte corruption never crashes the loader; corrupted
/// files either fail to load or still pass every check.
TEST(ExecutableLoader, ByteFlipsNeverCrash) {
  std::string bytes = mlir::strata::serializeExecutable(sampleContents());
  std::mt19937 rng(42);
  strata_status status;
  int rejected = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string corrupted = bytes;
    for (int e = 0, n = 1 + rng() % 4; e < n; ++e)
      corrupted[rng() % corrupted.size()] = static_cast<char>(rng());
    rejected += load(corrupted, status) != STRATA_OK;
  }
  EXPECT_GT(rejected, 0);
}

/// Tests the checks beyond the flatbuffers verifier, one corruption each.
TEST(ExecutableLoader, SemanticCorruptionsAreNamed) {
  ExecutableContents c = sampleContents();
  c.entryPoints[0].arguments[1].parameter = 7;
  expectError(c, STRATA_CORRUPT_EXECUTABLE, "refers to parameter 7 of 2");
  c = sampleContents();
  c.kernelLibrary = std::string(128, 'x');
  expectError(c, STRATA_CORRUPT_EXECUTABLE, "not an ELF shared object");
  c = sampleContents();
  c.parameters[1].name = c.parameters[0].name;
  expectError(c, STRATA_CORRUPT_EXECUTABLE, "appears twice");
  c = sampleContents();
  c.parameters[0].shape = {-3, 4};
  expectError(c, STRATA_CORRUPT_EXECUTABLE, "invalid shape");
  c = sampleContents();
  c.parameters[0].shape = {int64_t(1) << 40, int64_t(1) << 40};
  expectError(c, STRATA_CORRUPT_EXECUTABLE, "invalid shape");
  c = sampleContents();
  c.eosTokenId = 99;
  expectError(c, STRATA_CORRUPT_EXECUTABLE, "special token");
  c = sampleContents();
  c.entryPoints.clear();
  expectError(c, STRATA_CORRUPT_EXECUTABLE, "no entry point");
  c = sampleContents();
  c.entryPoints[0].memoryPlan = {3, 2, 128, -5};
  expectError(c, STRATA_CORRUPT_EXECUTABLE, "invalid memory plan");
  c = sampleContents();
  c.entryPoints[0].memoryPlan = {1, 2, 128, 64};
  expectError(c, STRATA_CORRUPT_EXECUTABLE, "invalid memory plan");
}

/// A tp 2 plan whose stage 0 program takes the embedding's halves by rows.
/// `c` serialized and loaded (a test failure if it does not load), and
/// the plan it reports.
::testing::AssertionResult planOf(const ExecutableContents &c,
                                  strata_plan_info &plan) {
  strata_status status;
  std::string bytes = mlir::strata::serializeExecutable(c);
  strata_executable *exe = nullptr;
  if (strata_executable_load_memory(bytes.data(), bytes.size(), &exe,
                                    &status) != STRATA_OK)
    return ::testing::AssertionFailure() << status.message;
  strata_status_code code = strata_executable_get_plan(exe, &plan, &status);
  strata_executable_release(exe);
  if (code != STRATA_OK)
    return ::testing::AssertionFailure() << status.message;
  return ::testing::AssertionSuccess();
}

ExecutableContents tensorParallelContents() {
  ExecutableContents c = sampleContents();
  c.plan.hasParallel = true;
  c.plan.tp = 2;
  c.plan.meshShape = {1, 1, 1, 2};
  ExecutableContents::EntryPoint forward = c.entryPoints[0];
  forward.function = "stage0.forward";
  forward.arguments[1].shape = {8, 4};
  forward.arguments[1].shardDim = 0;
  forward.arguments[1].shardCount = 2;
  c.stages.emplace_back();
  c.stages.back().entryPoints.push_back(forward);
  return c;
}

/// Tests that a tensor-parallel program loads and is reported, and that
/// its corruptions are named: slices that do not tile the parameter, a
/// program symbol of the whole model, a slice outside a program, a
/// program without a tensor-parallel plan.
TEST(ExecutableLoader, TensorParallelProgramIsChecked) {
  strata_plan_info plan;
  ASSERT_TRUE(planOf(tensorParallelContents(), plan));
  EXPECT_EQ(plan.has_tensor_parallel_program, 1);

  ExecutableContents c = tensorParallelContents();
  c.stages[0].entryPoints[0].arguments[1].shape = {6, 4};
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "takes parameter 'model.embed_tokens.weight' as [6, 4], "
              "part of 2 along dimension 0 over axis tp, but the parameter "
              "is [16, 4] and the plan has tp 2, ep 1");
  c = tensorParallelContents();
  c.stages[0].entryPoints[0].arguments[1].shardCount = 4;
  expectError(c, STRATA_CORRUPT_EXECUTABLE, "part of 4 along dimension 0");
  c = tensorParallelContents();
  c.stages[0].entryPoints[0].function = "forward";
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "its symbol must be 'strata_entry_stage0.forward'");
  c = tensorParallelContents();
  c.entryPoints[0].arguments[2].shardDim = 0;
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "takes a slice of 'model.norm.weight' outside a "
              "partitioned program");
  c = tensorParallelContents();
  c.plan.tp = 1;
  c.plan.meshShape = {1, 1, 1, 1};
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "partitioned programs but its plan is not tensor or "
              "expert parallelism alone");
  c = tensorParallelContents();
  // A slice whose size times the ranks would wrap around to the
  // parameter's.
  auto &norm = c.stages[0].entryPoints[0].arguments[2];
  norm.shape = {(int64_t(1) << 62) + 1};
  norm.shardDim = 0;
  norm.shardCount = 4;
  c.stages[0].entryPoints[0].arguments[1] = c.entryPoints[0].arguments[1];
  c.plan.tp = 4;
  c.plan.meshShape = {1, 1, 1, 4};
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "as [4611686018427387905], part of 4 along dimension 0 over "
              "axis tp, but the parameter is [4]");
  c = tensorParallelContents();
  c.plan.meshShape = {1, 2, 1, 1};
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "mesh has no single tp axis of the plan's 2 ranks");
  c = tensorParallelContents();
  {
    // A second entry point slicing the embedding by columns.
    ExecutableContents::EntryPoint other = c.entryPoints[0];
    other.name = "score";
    c.entryPoints.push_back(other);
    ExecutableContents::EntryPoint otherSlice = c.stages[0].entryPoints[0];
    otherSlice.name = "score";
    otherSlice.function = "stage0.score";
    otherSlice.arguments[1].shape = {16, 2};
    otherSlice.arguments[1].shardDim = 1;
    c.stages[0].entryPoints.push_back(otherSlice);
  }
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "takes parameter 'model.embed_tokens.weight' sliced in two "
              "ways");
  c = tensorParallelContents();
  c.stages[0].entryPoints[0].name = "generate";
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "entry point 'generate' is repeated or not one of the "
              "executable's");
}

/// An expert-parallel program: the plan's ep ranks, slices picked by the
/// ep coordinate (the argument's shard axis).
ExecutableContents expertParallelContents() {
  ExecutableContents c = tensorParallelContents();
  c.plan.tp = 1;
  c.plan.dp = 2;
  c.plan.ep = 2;
  c.plan.meshShape = {1, 1, 2, 1};
  c.stages[0].entryPoints[0].arguments[1].shardAxis = "ep";
  return c;
}

/// Tests that an expert-parallel program loads and is reported, and that
/// a slice over the wrong axis or count, a mesh without the ep axis and a
/// plan with both tp and ep are named.
TEST(ExecutableLoader, ExpertParallelProgramIsChecked) {
  strata_plan_info plan;
  ASSERT_TRUE(planOf(expertParallelContents(), plan));
  EXPECT_EQ(plan.has_expert_parallel_program, 1);
  EXPECT_EQ(plan.has_tensor_parallel_program, 0);

  ExecutableContents c = expertParallelContents();
  c.stages[0].entryPoints[0].arguments[1].shardAxis = "tp";
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "part of 2 along dimension 0 over axis tp, but the parameter "
              "is [16, 4] and the plan has tp 1, ep 2");
  c = expertParallelContents();
  c.stages[0].entryPoints[0].arguments[1].shardAxis = "pp";
  expectError(c, STRATA_CORRUPT_EXECUTABLE, "over axis pp");
  c = expertParallelContents();
  c.plan.meshShape = {1, 2, 1, 1};
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "mesh has no single ep axis of the plan's 2 ranks");
  c = expertParallelContents();
  c.plan.tp = 2;
  c.plan.meshShape = {1, 1, 2, 2};
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "plan is not tensor or expert parallelism alone");
}

/// A pp 2 plan of two layers: stage 0 (layer 0) embeds the tokens and
/// passes the hidden state on, stage 1 (layer 1) takes it and returns the
/// logits.
ExecutableContents pipelineContents() {
  using Arg = ExecutableContents::Argument;
  using Res = ExecutableContents::Result;
  ExecutableContents c = sampleContents();
  c.numLayers = 2;
  c.plan.hasParallel = true;
  c.plan.pp = 2;
  c.plan.meshShape = {2, 1, 1, 1};
  ExecutableContents::EntryPoint first = c.entryPoints[0];
  first.function = "stage0.forward";
  first.arguments.pop_back(); // tokens and the embedding
  Res hidden({-1, -1, 4});
  hidden.kind = Res::Boundary;
  hidden.index = 0;
  first.results = {hidden};
  ExecutableContents::EntryPoint last = c.entryPoints[0];
  last.function = "stage1.forward";
  Arg in;
  in.kind = Arg::Boundary;
  in.index = 0;
  in.shape = {-1, -1, 4};
  last.arguments[0] = in; // the hidden state, the embedding (tied), the norm
  c.stages.resize(2);
  c.stages[0].firstLayer = 0;
  c.stages[0].numLayers = 1;
  c.stages[0].entryPoints.push_back(first);
  c.stages[1].firstLayer = 1;
  c.stages[1].numLayers = 1;
  c.stages[1].entryPoints.push_back(last);
  return c;
}

/// Tests that pipeline stages load and are reported, and that their
/// corruptions are named: layers out of order or miscounted, a boundary
/// the next stage does not take, a stage's symbol, stages the plan does
/// not have.
TEST(ExecutableLoader, PipelineStagesAreChecked) {
  strata_plan_info plan;
  ASSERT_TRUE(planOf(pipelineContents(), plan));
  EXPECT_EQ(plan.has_tensor_parallel_program, 0);
  EXPECT_EQ(plan.pipeline_stages, 2u);
  EXPECT_EQ(plan.stage_first_layer[1], 1);
  EXPECT_EQ(plan.stage_num_layers[1], 1);

  ExecutableContents c = pipelineContents();
  c.stages[1].firstLayer = 0;
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "pipeline stage 1 holds layers [0, 1); the stages must hold "
              "the layers in order");
  c = pipelineContents();
  c.stages[1].numLayers = 2;
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "the pipeline stages hold 3 layers of 2");
  c = pipelineContents();
  c.stages[1].entryPoints[0].arguments[0].index = 1;
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "pipeline stage 0's forward passes 1 boundary values that "
              "stage 1's forward does not take alike");
  c = pipelineContents();
  c.stages[1].entryPoints[0].function = "stage0.forward";
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "its symbol must be 'strata_entry_stage1.forward'");
  c = pipelineContents();
  c.stages.pop_back();
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "has 1 pipeline stage programs, but its plan has pp 2");
  c = pipelineContents();
  c.stages[0].entryPoints[0].results[0].index = -1;
  expectError(c, STRATA_CORRUPT_EXECUTABLE,
              "has a Boundary result that is not F32 or has no boundary "
              "index");
}

/// Tests that a memory plan is read back: buffers, slots, fixed bytes and
/// the slots the input shapes size.
TEST(ExecutableLoader, MemoryPlanIsReported) {
  ExecutableContents c = sampleContents();
  c.entryPoints[0].memoryPlan = {5, 3, 128, -1, 64};
  std::string bytes = mlir::strata::serializeExecutable(c);
  strata_executable *exe = nullptr;
  strata_status status;
  ASSERT_EQ(strata_executable_load_memory(bytes.data(), bytes.size(), &exe,
                                          &status),
            STRATA_OK)
      << status.message;
  int64_t buffers, slots, fixed, dynamic;
  ASSERT_EQ(strata_executable_get_memory_plan(exe, 0, &buffers, &slots,
                                              &fixed, &dynamic, &status),
            STRATA_OK);
  EXPECT_EQ(buffers, 5);
  EXPECT_EQ(slots, 3);
  EXPECT_EQ(fixed, 192);
  EXPECT_EQ(dynamic, 1);
  EXPECT_EQ(strata_executable_get_memory_plan(exe, 4, &buffers, &slots,
                                              &fixed, &dynamic, &status),
            STRATA_NOT_FOUND);
  strata_executable_release(exe);
}

/// A plan as collectPlan reads it from a module: TP 2 x PP 2 x DP 4 with
/// EP 2, AdamW in bf16, and inference limits.
ExecutableContents planContents() {
  ExecutableContents c = sampleContents();
  ExecutableContents::Plan &p = c.plan;
  p.hasParallel = p.hasTraining = p.hasInference = true;
  p.tp = 2;
  p.pp = 2;
  p.dp = 4;
  p.ep = 2;
  p.zeroStage = 1;
  p.microBatches = 4;
  p.meshShape = {2, 2, 2, 2};
  p.optimizer = static_cast<int>(strata::fb::Optimizer::AdamW);
  p.schedule = static_cast<int>(strata::fb::LrSchedule::LinearWarmupCosineDecay);
  p.precision = static_cast<int>(strata::fb::Precision::BF16);
  p.lr = 3e-5;
  p.eps = 1e-8;
  p.beta1 = 0.9;
  p.beta2 = 0.99;
  p.warmupSteps = 10;
  p.totalSteps = 100;
  p.accumulationSteps = 2;
  p.checkpointInterval = 50;
  p.maxBatchSize = 4;
  p.maxTokens = 512;
  return c;
}

/// Loads `bytes`, which must be a valid executable (null after a failure).
strata_executable *loadValid(const std::string &bytes) {
  strata_executable *exe = nullptr;
  strata_status status;
  EXPECT_EQ(strata_executable_load_memory(bytes.data(), bytes.size(), &exe,
                                          &status),
            STRATA_OK)
      << status.message;
  return exe;
}

/// Tests that the plan is read back through strata_executable_get_plan, and
/// that an executable without one reports a single rank.
TEST(ExecutableLoader, PlanIsReported) {
  strata_executable *exe =
      loadValid(mlir::strata::serializeExecutable(planContents()));
  ASSERT_NE(exe, nullptr);
  strata_status status;
  strata_plan_info plan;
  ASSERT_EQ(strata_executable_get_plan(exe, &plan, &status), STRATA_OK);
  EXPECT_TRUE(plan.has_parallel && plan.has_training && plan.has_inference);
  EXPECT_EQ(plan.tp * plan.pp * plan.dp, 16);
  EXPECT_EQ(plan.ep, 2);
  EXPECT_EQ(plan.zero_stage, 1);
  EXPECT_EQ(plan.micro_batches, 4);
  ASSERT_EQ(plan.mesh_rank, 4u);
  EXPECT_STREQ(plan.mesh_axes[0], "pp");
  EXPECT_STREQ(plan.mesh_axes[3], "tp");
  EXPECT_STREQ(plan.optimizer, "AdamW");
  EXPECT_STREQ(plan.schedule, "LinearWarmupCosineDecay");
  EXPECT_STREQ(plan.precision, "BF16");
  EXPECT_DOUBLE_EQ(plan.lr, 3e-5);
  EXPECT_EQ(plan.accumulation_steps, 2);
  EXPECT_EQ(plan.max_tokens, 512);
  EXPECT_EQ(strata_executable_get_plan(exe, nullptr, &status),
            STRATA_INVALID_ARGUMENT);
  strata_executable_release(exe);

  exe = loadValid(mlir::strata::serializeExecutable(sampleContents()));
  ASSERT_NE(exe, nullptr);
  ASSERT_EQ(strata_executable_get_plan(exe, &plan, &status), STRATA_OK);
  EXPECT_FALSE(plan.has_parallel || plan.has_training || plan.has_inference);
  EXPECT_EQ(plan.tp * plan.pp * plan.dp * plan.ep, 1);
  strata_executable_release(exe);
}

/// Tests that a plan that disagrees with itself is a named corruption.
TEST(ExecutableLoader, InconsistentPlansAreCorrupt) {
  strata_status status;
  auto expectCorrupt = [&](ExecutableContents c, const char *fragment) {
    EXPECT_EQ(load(mlir::strata::serializeExecutable(c), status),
              STRATA_CORRUPT_EXECUTABLE);
    EXPECT_NE(std::string(status.message).find(fragment), std::string::npos)
        << status.message;
  };
  ExecutableContents c = planContents();
  c.plan.meshShape = {2, 2, 2, 4};
  expectCorrupt(c, "mesh size is not tp * pp * dp");
  c = planContents();
  c.plan.ep = 3;
  expectCorrupt(c, "ep does not divide dp");
  c = planContents();
  c.plan.tp = 0;
  expectCorrupt(c, "degree outside");
  c = planContents();
  c.plan.meshShape = {2, 2, 2};
  expectCorrupt(c, "mesh axes and shape disagree");
  c = planContents();
  c.plan.zeroStage = 3;
  expectCorrupt(c, "ZeRO stage");
  c = planContents();
  c.plan.optimizer = 9;
  expectCorrupt(c, "unknown optimizer");
  c = planContents();
  c.plan.accumulationSteps = 0;
  expectCorrupt(c, "out-of-range setting");
  c = planContents();
  c.plan.maxTokens = 0;
  expectCorrupt(c, "inference plan");
}

ExecutableContents cudaContents() {
  ExecutableContents c = sampleContents();
  c.cuda = true;
  c.sm = 90;
  c.ptx = ".version 8.0\n.target sm_90\n.address_size 64\n";
  c.gpuKernels.push_back({"forward_kernel", {256, 1, 1}});
  return c;
}

/// Tests the CUDA-specific checks: a well-formed CUDA executable loads; one
/// whose kernel table is malformed or whose PTX holds a NUL is corrupt.
TEST(ExecutableLoader, CudaExecutableChecks) {
  strata_status status;
  EXPECT_EQ(load(mlir::strata::serializeExecutable(cudaContents()), status),
            STRATA_OK)
      << status.message;
  ExecutableContents c = cudaContents();
  c.gpuKernels[0].block = {256, 1};
  EXPECT_EQ(load(mlir::strata::serializeExecutable(c), status),
            STRATA_CORRUPT_EXECUTABLE);
  EXPECT_NE(std::string(status.message).find("kernel table"),
            std::string::npos)
      << status.message;
  c = cudaContents();
  c.gpuKernels.clear();
  EXPECT_EQ(load(mlir::strata::serializeExecutable(c), status),
            STRATA_CORRUPT_EXECUTABLE);
  c = cudaContents();
  c.ptx[3] = '\0';
  EXPECT_EQ(load(mlir::strata::serializeExecutable(c), status),
            STRATA_CORRUPT_EXECUTABLE);
  EXPECT_NE(std::string(status.message).find("NUL"), std::string::npos)
      << status.message;
}

/// Tests device selection: a CUDA executable on a CPU session and a CPU
/// executable on a CUDA session are refused by name; where libcuda.so.1 is
/// missing, a CUDA session reports 'no CUDA device'.
TEST(ExecutableLoader, SessionDeviceSelection) {
  strata_status status;
  std::string bytes = mlir::strata::serializeExecutable(cudaContents());
  strata_executable *exe = nullptr;
  ASSERT_EQ(strata_executable_load_memory(bytes.data(), bytes.size(), &exe,
                                          &status),
            STRATA_OK);
  strata_session *session = nullptr;
  EXPECT_EQ(strata_session_create_on(exe, STRATA_DEVICE_CPU, &session,
                                     &status),
            STRATA_UNSUPPORTED);
  EXPECT_NE(std::string(status.message).find("targets CUDA"),
            std::string::npos);
  EXPECT_EQ(session, nullptr);
  EXPECT_EQ(strata_session_create_on(exe, static_cast<strata_device_kind>(7),
                                     &session, &status),
            STRATA_INVALID_ARGUMENT);
  strata_executable_release(exe);
  exe = loadValid(mlir::strata::serializeExecutable(sampleContents()));
  ASSERT_NE(exe, nullptr);
  EXPECT_EQ(strata_session_create_on(exe, STRATA_DEVICE_CUDA, &session,
                                     &status),
            STRATA_UNSUPPORTED);
  EXPECT_NE(std::string(status.message).find("targets the CPU"),
            std::string::npos);
  strata_executable_release(exe);
}

/// Tests that another format version is refused with a clear message,
/// whether the flatbuffer or the trailer states it, and that a file from
/// before checksums (no trailer) is told to be recompiled.
TEST(ExecutableLoader, OtherVersionIsUnsupported) {
  std::string bytes = mlir::strata::serializeExecutable(sampleContents());
  // Version 1 executables call no arena release: frames would leak.
  for (uint32_t version : {uint32_t(STRATA_EXECUTABLE_FORMAT_VERSION + 1), 1u}) {
    std::string edited = bytes;
    ASSERT_TRUE(strata::test::mutableRoot(edited)->mutate_version(version));
    strata::test::reseal(edited);
    strata_status status;
    EXPECT_EQ(load(edited, status), STRATA_UNSUPPORTED);
    EXPECT_NE(std::string(status.message)
                  .find("format version " + std::to_string(version)),
              std::string::npos)
        << status.message;
    edited = strata::test::seal(strata::test::payloadOf(bytes), version);
    EXPECT_EQ(load(edited, status), STRATA_UNSUPPORTED);
    EXPECT_NE(std::string(status.message)
                  .find("format version " + std::to_string(version)),
              std::string::npos)
        << status.message;
  }
  std::string old = strata::test::payloadOf(bytes);
  ASSERT_TRUE(strata::test::mutableRoot(old)->mutate_version(2));
  strata_status status;
  EXPECT_EQ(load(old, status), STRATA_UNSUPPORTED);
  EXPECT_STREQ(status.message,
               "<memory>: executable format version 2, from before "
               "checksums; this runtime reads version 3: recompile it with "
               "strata-compile");
}

/// Tests file-level errors: missing file, directory, garbage, null args.
TEST(ExecutableLoader, FileErrors) {
  strata_executable *exe = nullptr;
  strata_status status;
  EXPECT_EQ(strata_executable_load_file("/nonexistent.strata", &exe, &status),
            STRATA_IO_ERROR);
  EXPECT_NE(std::string(status.message).find("/nonexistent.strata"),
            std::string::npos);
  EXPECT_NE(strata_executable_load_file("/", &exe, &status), STRATA_OK);
  EXPECT_EQ(strata_executable_load_file(nullptr, &exe, &status),
            STRATA_INVALID_ARGUMENT);
  EXPECT_EQ(load("not an executable at all", status),
            STRATA_CORRUPT_EXECUTABLE);
  EXPECT_EQ(exe, nullptr);
}

} // namespace

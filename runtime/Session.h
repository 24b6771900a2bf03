//===- Session.h - what a session holds -------------------------*- C++ -*-===//
//
// Private to the runtime's session files: EntryCall.cpp (calls of entry
// points, forward), Weights.cpp and Checkpoint.cpp (parameters),
// Gradients.cpp (training's gradients), KvCache.cpp,
// Sampling.cpp and Generate.cpp (generation), Session.cpp (the session's
// life).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_SESSION_H
#define STRATA_RUNTIME_SESSION_H

#include "runtime/Calibration.h"
#include "runtime/Device.h"
#include "runtime/KernelLibrary.h"
#include "runtime/Weights.h"
#include "runtime/comm/Communicator.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace strata::runtime {
/// What a training session carries between steps besides the parameters.
struct TrainingState {
  /// One f32 tensor per entry of the executable's training_state
  /// (optimizer moments), zeros until the first step or a load.
  std::vector<HostTensor> state;
  /// Sums the micro-batches' gradients under accumulation.
  Weights accumulated;
  bool haveAccumulator = false;
  /// The step's expert loads so far, per balanced selection bias (by
  /// parameter index), summed over its micro-batches: optimizer_step's
  /// ExpertLoad arguments.
  std::map<int, std::vector<int32_t>> expertLoads;
  int64_t step = 0; ///< steps made (the schedule's count)
  /// Updates the optimizer applied: steps less the skipped (overflowed
  /// float16) ones. AdamW's bias correction counts these.
  int64_t updates = 0;
  /// float16's dynamic loss scale (1 without): loss_grad's backward starts
  /// from it, the runtime divides it out of the gradients, halves it when
  /// they overflow and doubles it after the plan's growth interval of
  /// steps that did not (`cleanSteps` counts them).
  float lossScale = 1.0f;
  int64_t cleanSteps = 0;
  std::string userJson = "null"; ///< of the last loaded checkpoint
};

/// Where a session sits in the mesh of a launch (strata_session_join_world;
/// World.cpp). Outside a world: a mesh of one.
struct ParallelPlace {
  /// Keeps the world (and its backend) alive while the session is;
  /// declared first, so released after the groups made from it.
  std::shared_ptr<const void> keepWorld;
  Communicator *world = nullptr; ///< the world's group
  std::vector<int64_t> coords;   ///< per mesh axis
  /// The ranks that hold the same pipeline stage and tensor shard: they
  /// split the batch, so they average their gradients.
  std::unique_ptr<Communicator> dataParallel;
  /// This session's rank in its data-parallel group, and the group's size.
  int dpRank() const { return dataParallel ? dataParallel->rank() : 0; }
  int dpSize() const { return dataParallel ? dataParallel->size() : 1; }
  /// A tensor-parallel launch: the partitioned program this rank runs
  /// (the executable's stage 0) and the ranks holding the other slices of
  /// its parameters, over which its kernels sum; null outside one.
  const strata::fb::Stage *stage = nullptr;
  std::unique_ptr<Communicator> tensorParallel;
  /// A pipeline-parallel launch: the ranks running the plan's stages, in
  /// stage order (this rank runs stage pipeline->rank(): `stage`), which
  /// pass the stages' boundary values; null outside one.
  std::unique_ptr<Communicator> pipeline;
  bool pipelined() const { return pipeline && pipeline->size() > 1; }
  /// An expert-parallel launch: the ranks holding the other routed experts
  /// of every MoE layer, in ep-coordinate order (this rank holds the
  /// expertParallel->rank()-th part), with which the program's kernels
  /// exchange tokens; null outside one.
  std::unique_ptr<Communicator> expertParallel;
  bool expertsSplit() const {
    return expertParallel && expertParallel->size() > 1;
  }
  /// ZeRO-1 (ZeroOptimizer.cpp): the data-parallel rank that keeps each
  /// parameter's optimizer state (-1: not stepped by the optimizer);
  /// empty when the state is not sharded.
  std::vector<int> owner;
};
} // namespace strata::runtime

struct strata_session {
  const strata_executable *exe = nullptr;
  /// Declared first, so destroyed last: the library's hooks, the weights'
  /// device copies and every buffer point into it.
  std::unique_ptr<strata::runtime::Device> device;
  std::unique_ptr<strata::runtime::KernelLibrary> library;
  strata::runtime::Weights weights;
  /// The last strata_session_compute_gradients' results (f32), once made.
  strata::runtime::Weights gradients;
  bool haveGradients = false;
  strata::runtime::TrainingState training;
  strata::runtime::ParallelPlace parallel;
  std::string deviceName;
  bool useKvCache = true;
  /// Static w8a8: the activation scales are not calibrated yet (weights
  /// drawn, or loaded from a float checkpoint); only `calibrate` runs.
  bool uncalibrated = false;
  /// Observers of a calibration in progress.
  std::unique_ptr<strata::runtime::CalibrationState> calibration;

  ~strata_session() {
    if (device)
      weights.releaseDeviceCopies(*device);
    library.reset();
  }
};

#endif // STRATA_RUNTIME_SESSION_H

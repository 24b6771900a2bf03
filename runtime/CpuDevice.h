//===- CpuDevice.h - the runtime's CPU device -------------------*- C++ -*-===//
//
// Host memory, and the two services a CPU kernel library calls back for:
// parallel loops on the session's thread pool and the memory plans' frames.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_CPUDEVICE_H
#define STRATA_RUNTIME_CPUDEVICE_H

#include "runtime/Device.h"
#include "runtime/FrameArena.h"
#include "runtime/ThreadPool.h"

namespace strata::runtime {

class CpuDevice final : public Device {
public:
  static strata_status_code open(std::unique_ptr<Device> &out,
                                 strata_status *status);

  std::string name() const override { return "cpu"; }
  strata_status_code bind(KernelLibrary &library,
                          const strata::fb::Executable *exe,
                          strata_status *status) override;
  bool hostMemory() const override { return true; }
  void *allocate(size_t bytes, strata_status *status) override;
  void release(void *p) override;
  strata_status_code upload(void *dst, const void *src, size_t bytes,
                            strata_status *status) override;
  strata_status_code download(void *dst, const void *src, size_t bytes,
                              strata_status *status) override;
  strata_status_code copyOnDevice(void *dst, const void *src, size_t bytes,
                                  strata_status *status) override;
  void releaseResult(void *p) override;
  strata_status_code begin(strata_status *status) override;
  strata_status_code finish(strata_status *status) override;
  strata_status_code setThreads(unsigned threads,
                                strata_status *status) override;
  unsigned threads() const override;
  size_t workspaceBytes() const override { return arena.bytesHeld(); }
  double lastMilliseconds() const override { return -1; }
  strata_status_code useTensorParallelGroup(Communicator *group,
                                            strata_status *status) override;

  strata_status_code useExpertParallelGroup(Communicator *group,
                                            strata_status *status) override;

  /// strata_cpu_all_reduce: sums `data` over the tensor-parallel group; a
  /// failure is kept for finish() and skips the call's later sums.
  void allReduce(float *data, int64_t count);
  /// strata_cpu_expert_route / strata_cpu_expert_exchange over the
  /// expert-parallel group (ExpertExchange.h); failures as allReduce's.
  void expertRoute(int64_t topK, int64_t numExperts, const float *weights,
                   const int32_t *indices, int64_t pairs, float *rowWeights,
                   int32_t *rowIndices, int64_t rowPairs);
  void expertExchange(bool combine, int64_t width, int64_t topK,
                      int64_t numExperts, const float *input,
                      int64_t inputCount, const int32_t *rowIndices,
                      int64_t rowPairs, const int32_t *indices, int64_t pairs,
                      float *output, int64_t outputCount);

  /// What the library's hooks reach through their context argument.
  ThreadPool *pool() { return pool_.get(); }
  FrameArena &frames() { return arena; }

private:
  CpuDevice();
  std::unique_ptr<ThreadPool> pool_;
  FrameArena arena;
  /// The bound library's parallel-for slot: cleared while the pool is
  /// replaced, so loops run on the caller meanwhile.
  void **parallelSlot = nullptr;
  Communicator *tensorGroup = nullptr;
  Communicator *expertGroup = nullptr;
  /// The first failed sum of the running call (code STRATA_OK: none).
  strata_status collectiveError{};
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_CPUDEVICE_H

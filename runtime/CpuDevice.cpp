//===- CpuDevice.cpp - the runtime's CPU device ---------------------------===//
//
// The hooks receive the device as their context argument: each session's
// library instance holds its own device pointer (see KernelLibrary.h), so
// sessions share nothing.
//
//===----------------------------------------------------------------------===//

#include "runtime/CpuDevice.h"
#include "runtime/ExpertExchange.h"
#include "runtime/KernelLibrary.h"
#include "runtime/abi.h"
#include "runtime/comm/Communicator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace strata::runtime {

namespace {
void *alignedAlloc(size_t bytes) {
  // aligned_alloc wants a multiple of the alignment.
  size_t rounded = (std::max<size_t>(bytes, 1) + 63) & ~size_t(63);
  return rounded < bytes ? nullptr : std::aligned_alloc(64, rounded);
}

extern "C" void hookParallelFor(void *context, ParallelBody body,
                                void *captures, int64_t iterations,
                                int64_t cost) {
  static_cast<CpuDevice *>(context)->pool()->parallelFor(body, captures,
                                                         iterations, cost);
}

/// A frame of a compiled function's memory plan (see FrameArena): calls of
/// a session do not overlap, and a call's frames nest. Like the kernels'
/// own mallocs, running out of memory here is fatal: the generated code has
/// no error path.
extern "C" void *hookArena(void *context, int64_t bytes) {
  auto *cpu = static_cast<CpuDevice *>(context);
  void *frame =
      cpu->frames().push(static_cast<size_t>(std::max<int64_t>(bytes, 0)));
  if (!frame) {
    std::fprintf(stderr, "strata: out of memory for a %lld-byte arena frame\n",
                 static_cast<long long>(bytes));
    std::abort();
  }
  return frame;
}

extern "C" void hookArenaRelease(void *context, void *frame) {
  if (!static_cast<CpuDevice *>(context)->frames().pop(frame)) {
    std::fprintf(stderr, "strata: arena frames released out of order\n");
    std::abort();
  }
}
extern "C" void hookAllReduce(void *context, float *data, int64_t count) {
  static_cast<CpuDevice *>(context)->allReduce(data, count);
}
extern "C" void hookExpertRoute(void *context, int64_t topK, int64_t numExperts,
                                const float *weights, int64_t weightCount,
                                const int32_t *indices, int64_t indexCount,
                                float *rowWeights, int64_t rowWeightCount,
                                int32_t *rowIndices, int64_t rowIndexCount) {
  auto *cpu = static_cast<CpuDevice *>(context);
  // The weights and ids come in pairs, flat, of one length each side.
  if (weightCount != indexCount || rowWeightCount != rowIndexCount)
    rowIndexCount = -1;
  cpu->expertRoute(topK, numExperts, weights, indices, indexCount, rowWeights,
                   rowIndices, rowIndexCount);
}
extern "C" void
hookExpertExchange(void *context, int64_t combine, int64_t width, int64_t topK,
                   int64_t numExperts, const float *input, int64_t inputCount,
                   const int32_t *rowIndices, int64_t rowIndexCount,
                   const int32_t *indices, int64_t indexCount, float *output,
                   int64_t outputCount) {
  static_cast<CpuDevice *>(context)->expertExchange(
      combine != 0, width, topK, numExperts, input, inputCount, rowIndices,
      rowIndexCount, indices, indexCount, output, outputCount);
}
} // namespace

CpuDevice::CpuDevice()
    : arena([](void *, size_t bytes) { return alignedAlloc(bytes); },
            [](void *, void *p) { std::free(p); }, nullptr) {}

strata_status_code CpuDevice::open(std::unique_ptr<Device> &out,
                                   strata_status *status) {
  std::unique_ptr<CpuDevice> device(new CpuDevice);
  if (strata_status_code code = device->setThreads(0, status))
    return code;
  out = std::move(device);
  return ok(status);
}

strata_status_code CpuDevice::bind(KernelLibrary &library,
                                   const strata::fb::Executable *,
                                   strata_status *status) {
  void **context = library.slot(STRATA_HOOK_CPU_CONTEXT);
  void **parallel = library.slot(STRATA_HOOK_CPU_PARALLEL_FOR);
  void **acquire = library.slot(STRATA_HOOK_CPU_ARENA);
  void **release = library.slot(STRATA_HOOK_CPU_ARENA_RELEASE);
  void **allReduce = library.slot(STRATA_HOOK_CPU_ALL_REDUCE);
  void **route = library.slot(STRATA_HOOK_CPU_EXPERT_ROUTE);
  void **exchange = library.slot(STRATA_HOOK_CPU_EXPERT_EXCHANGE);
  // A library has the hooks its code needs, or none.
  if ((parallel || acquire || allReduce || route || exchange) && !context)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "the kernel library has CPU hooks but no strata_cpu_context");
  if (acquire && !release)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "the kernel library has strata_cpu_arena but not "
                "strata_cpu_arena_release");
  if (context)
    *context = this;
  if (parallel)
    KernelLibrary::setHook<strata_cpu_parallel_for_fn>(parallel,
                                                       &hookParallelFor);
  if (acquire) {
    KernelLibrary::setHook<strata_arena_fn>(acquire, &hookArena);
    KernelLibrary::setHook<strata_arena_release_fn>(release,
                                                    &hookArenaRelease);
  }
  if (allReduce)
    KernelLibrary::setHook<strata_all_reduce_fn>(allReduce, &hookAllReduce);
  if (route)
    KernelLibrary::setHook<strata_expert_route_fn>(route, &hookExpertRoute);
  if (exchange)
    KernelLibrary::setHook<strata_expert_exchange_fn>(exchange,
                                                      &hookExpertExchange);
  parallelSlot = parallel;
  return ok(status);
}

strata_status_code CpuDevice::useTensorParallelGroup(Communicator *group,
                                                     strata_status *status) {
  tensorGroup = group;
  return ok(status);
}

void CpuDevice::allReduce(float *data, int64_t count) {
  if (!tensorGroup || tensorGroup->size() == 1 ||
      collectiveError.code != STRATA_OK)
    return;
  tensorGroup->allReduceSum(data, static_cast<size_t>(count), STRATA_COMM_F32,
                            &collectiveError);
}

strata_status_code CpuDevice::useExpertParallelGroup(Communicator *group,
                                                     strata_status *status) {
  expertGroup = group;
  return ok(status);
}

namespace {
/// The group a session without an expert-parallel launch exchanges in:
/// itself alone (a whole program has no exchanges; this keeps a library
/// run outside a launch from reading unset output).
Communicator &aloneGroup() {
  static std::unique_ptr<Communicator> alone = makeSingleCommunicator();
  return *alone;
}
} // namespace

void CpuDevice::expertRoute(int64_t topK, int64_t numExperts,
                            const float *weights, const int32_t *indices,
                            int64_t pairs, float *rowWeights,
                            int32_t *rowIndices, int64_t rowPairs) {
  if (collectiveError.code != STRATA_OK)
    return;
  runtime::expertRoute(expertGroup ? *expertGroup : aloneGroup(), topK,
                       numExperts, weights, indices, pairs, rowWeights,
                       rowIndices, rowPairs, &collectiveError);
}

void CpuDevice::expertExchange(bool combine, int64_t width, int64_t topK,
                               int64_t numExperts, const float *input,
                               int64_t inputCount, const int32_t *rowIndices,
                               int64_t rowPairs, const int32_t *indices,
                               int64_t pairs, float *output,
                               int64_t outputCount) {
  if (collectiveError.code != STRATA_OK)
    return;
  runtime::expertExchange(expertGroup ? *expertGroup : aloneGroup(), combine,
                          width, topK, numExperts, input, inputCount,
                          rowIndices, rowPairs, indices, pairs, output,
                          outputCount, &collectiveError);
}

void *CpuDevice::allocate(size_t bytes, strata_status *status) {
  void *p = alignedAlloc(bytes);
  if (!p)
    fail(status, STRATA_OUT_OF_MEMORY, "out of memory allocating %zu bytes",
         bytes);
  return p;
}

void CpuDevice::release(void *p) { std::free(p); }
void CpuDevice::releaseResult(void *p) { std::free(p); }

strata_status_code CpuDevice::upload(void *dst, const void *src, size_t bytes,
                                     strata_status *status) {
  if (bytes)
    std::memcpy(dst, src, bytes);
  return ok(status);
}

strata_status_code CpuDevice::download(void *dst, const void *src,
                                       size_t bytes, strata_status *status) {
  return upload(dst, src, bytes, status);
}

strata_status_code CpuDevice::copyOnDevice(void *dst, const void *src,
                                           size_t bytes,
                                           strata_status *status) {
  if (bytes)
    std::memmove(dst, src, bytes);
  return ok(status);
}

strata_status_code CpuDevice::begin(strata_status *status) {
  collectiveError = strata_status{};
  return ok(status);
}
strata_status_code CpuDevice::finish(strata_status *status) {
  if (collectiveError.code == STRATA_OK)
    return ok(status);
  // The kernels ran on with unsummed values: the results are garbage.
  strata_status_code code = collectiveError.code;
  if (status)
    *status = collectiveError;
  collectiveError = strata_status{};
  return code;
}

strata_status_code CpuDevice::setThreads(unsigned threads,
                                         strata_status *status) {
  if (threads == 0)
    threads = ThreadPool::availableCpus();
  void *hook = parallelSlot ? *parallelSlot : nullptr;
  if (parallelSlot)
    *parallelSlot = nullptr;
  pool_.reset();
  try {
    pool_ = std::make_unique<ThreadPool>(threads);
  } catch (const std::system_error &e) {
    // Loops keep running on the caller: the session stays usable.
    return fail(status, STRATA_OUT_OF_MEMORY, "cannot start %u threads: %s",
                threads, e.what());
  }
  if (parallelSlot)
    *parallelSlot = hook;
  return ok(status);
}

unsigned CpuDevice::threads() const { return pool_ ? pool_->threads() : 1; }

} // namespace strata::runtime

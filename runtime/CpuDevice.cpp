//===- CpuDevice.cpp - the runtime's CPU device ---------------------------===//
//
// The hooks receive the device as their context argument: each session's
// library instance holds its own device pointer (see KernelLibrary.h), so
// sessions share nothing.
//
//===----------------------------------------------------------------------===//

#include "runtime/CpuDevice.h"
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
  // A library has the hooks its code needs, or none.
  if ((parallel || acquire || allReduce) && !context)
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

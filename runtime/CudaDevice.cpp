//===- CudaDevice.cpp - the runtime's CUDA device ---------------*- C++ -*-===//
//
// Driver API through dlopen: the few entry points the runtime uses are
// declared here with their ABI types, so neither cuda.h nor libcuda is
// needed to build or link. Host code of a CUDA executable calls back into
// this file through four hooks (see codegen/cuda/CudaHostCalls.cpp); the
// hooks cannot return errors, so the first failure is recorded and every
// later launch is skipped until finish() reports it.
//
//===----------------------------------------------------------------------===//

#include "runtime/CudaDevice.h"
#include "runtime/FrameArena.h"
#include "runtime/KernelLibrary.h"
#include "runtime/abi.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <memory>
#include <vector>

namespace strata::runtime {

namespace {
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;

constexpr CUresult kSuccess = 0;
// CUdevice_attribute values (cuda.h).
constexpr int kMaxThreadsPerBlock = 1, kMaxBlockDimX = 2, kMaxBlockDimY = 3,
              kMaxBlockDimZ = 4, kMaxSharedPerBlock = 8, kCcMajor = 75,
              kCcMinor = 76;
// CUfunction_attribute values.
constexpr int kFuncMaxThreads = 0, kFuncSharedBytes = 1;
// CUjit_option values.
constexpr int kJitErrorLogBuffer = 5, kJitErrorLogBufferSize = 6;
} // namespace

struct CudaDevice::Impl {
  void *driver = nullptr;
  CUresult (*cuInit)(unsigned) = nullptr;
  CUresult (*cuDeviceGetCount)(int *) = nullptr;
  CUresult (*cuDeviceGet)(CUdevice *, int) = nullptr;
  CUresult (*cuDeviceGetName)(char *, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice) = nullptr;
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice) = nullptr;
  CUresult (*cuCtxSetCurrent)(CUcontext) = nullptr;
  CUresult (*cuStreamCreate)(CUstream *, unsigned) = nullptr;
  CUresult (*cuStreamDestroy)(CUstream) = nullptr;
  CUresult (*cuStreamSynchronize)(CUstream) = nullptr;
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **) = nullptr;
  CUresult (*cuModuleUnload)(CUmodule) = nullptr;
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule,
                                  const char *) = nullptr;
  CUresult (*cuFuncGetAttribute)(int *, int, CUfunction) = nullptr;
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **) = nullptr;
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t) = nullptr;
  CUresult (*cuMemFree)(CUdeviceptr) = nullptr;
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream) = nullptr;
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream) = nullptr;
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t) = nullptr;
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t) = nullptr;
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t,
                                CUstream) = nullptr;
  CUresult (*cuGetErrorString)(CUresult, const char **) = nullptr;
  CUresult (*cuEventCreate)(CUevent *, unsigned) = nullptr;
  CUresult (*cuEventDestroy)(CUevent) = nullptr;
  CUresult (*cuEventRecord)(CUevent, CUstream) = nullptr;
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent) = nullptr;
  CUresult (*cuEventElapsedTimeV1)(float *, CUevent, CUevent) = nullptr;

  CUdevice device = 0;
  CUcontext context = nullptr;
  CUstream stream = nullptr;
  /// The memory plans' frames (strata_cuda_arena), made at the first.
  std::unique_ptr<FrameArena> arena;
  CUmodule module = nullptr;
  CUevent started = nullptr, stopped = nullptr;
  float lastMs = -1;
  std::vector<CUfunction> functions;
  std::vector<std::string> functionNames;
  int maxBlock[3] = {0, 0, 0};
  int maxThreads = 0, maxShared = 0, sm = 0;

  /// The first failure since begin(), as a message; empty when none.
  std::string error;

  const char *describe(CUresult r) const {
    const char *text = nullptr;
    if (cuGetErrorString && cuGetErrorString(r, &text) == kSuccess && text)
      return text;
    return "unknown CUDA error";
  }
  bool record(CUresult r, const char *what) {
    if (r == kSuccess)
      return true;
    if (error.empty())
      error = std::string(what) + " failed: " + describe(r) + " (" +
              std::to_string(r) + ")";
    return false;
  }

  ~Impl() {
    if (context && cuCtxSetCurrent)
      cuCtxSetCurrent(context);
    if (arena) {
      if (stream)
        cuStreamSynchronize(stream);
      arena.reset();
    }
    if (module)
      cuModuleUnload(module);
    for (CUevent e : {started, stopped})
      if (e)
        cuEventDestroy(e);
    if (stream)
      cuStreamDestroy(stream);
    if (context)
      cuDevicePrimaryCtxRelease(device);
    if (driver)
      dlclose(driver);
  }
};

namespace {

/// Loads each driver symbol (the versioned name where the API has one).
bool loadSymbols(CudaDevice::Impl &d, std::string &missing) {
  struct Entry {
    const char *name;
    void **slot;
    bool required;
  };
#define STRATA_CU(field, symbol, required)                                     \
  Entry{symbol, reinterpret_cast<void **>(&d.field), required}
  Entry table[] = {
      STRATA_CU(cuInit, "cuInit", true),
      STRATA_CU(cuDeviceGetCount, "cuDeviceGetCount", true),
      STRATA_CU(cuDeviceGet, "cuDeviceGet", true),
      STRATA_CU(cuDeviceGetName, "cuDeviceGetName", true),
      STRATA_CU(cuDeviceGetAttribute, "cuDeviceGetAttribute", true),
      STRATA_CU(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", true),
      STRATA_CU(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2",
                true),
      STRATA_CU(cuCtxSetCurrent, "cuCtxSetCurrent", true),
      STRATA_CU(cuStreamCreate, "cuStreamCreate", true),
      STRATA_CU(cuStreamDestroy, "cuStreamDestroy_v2", true),
      STRATA_CU(cuStreamSynchronize, "cuStreamSynchronize", true),
      STRATA_CU(cuModuleLoadDataEx, "cuModuleLoadDataEx", true),
      STRATA_CU(cuModuleUnload, "cuModuleUnload", true),
      STRATA_CU(cuModuleGetFunction, "cuModuleGetFunction", true),
      STRATA_CU(cuFuncGetAttribute, "cuFuncGetAttribute", true),
      STRATA_CU(cuLaunchKernel, "cuLaunchKernel", true),
      STRATA_CU(cuMemAlloc, "cuMemAlloc_v2", true),
      STRATA_CU(cuMemFree, "cuMemFree_v2", true),
      STRATA_CU(cuMemAllocAsync, "cuMemAllocAsync", false),
      STRATA_CU(cuMemFreeAsync, "cuMemFreeAsync", false),
      STRATA_CU(cuMemcpyHtoD, "cuMemcpyHtoD_v2", true),
      STRATA_CU(cuMemcpyDtoH, "cuMemcpyDtoH_v2", true),
      STRATA_CU(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", true),
      STRATA_CU(cuGetErrorString, "cuGetErrorString", true),
      STRATA_CU(cuEventCreate, "cuEventCreate", true),
      STRATA_CU(cuEventDestroy, "cuEventDestroy_v2", true),
      STRATA_CU(cuEventRecord, "cuEventRecord", true),
      STRATA_CU(cuEventElapsedTime, "cuEventElapsedTime_v2", false),
      STRATA_CU(cuEventElapsedTimeV1, "cuEventElapsedTime", false),
  };
#undef STRATA_CU
  for (Entry &e : table) {
    *e.slot = dlsym(d.driver, e.name);
    if (!*e.slot && e.required) {
      missing = e.name;
      return false;
    }
  }
  if (!d.cuEventElapsedTime)
    d.cuEventElapsedTime = d.cuEventElapsedTimeV1;
  if (!d.cuEventElapsedTime) {
    missing = "cuEventElapsedTime";
    return false;
  }
  // Stream-ordered allocation needs both halves.
  if (!d.cuMemAllocAsync || !d.cuMemFreeAsync)
    d.cuMemAllocAsync = nullptr, d.cuMemFreeAsync = nullptr;
  return true;
}

// The hooks the host library calls (signatures fixed by
// codegen/cuda/CudaHostCalls.cpp).
void hookLaunch(void *ctx, int32_t kernel, int64_t gx, int64_t gy, int64_t gz,
                int64_t bx, int64_t by, int64_t bz, int32_t shared,
                void **params, int64_t /*numParams*/) {
  auto &d = *static_cast<CudaDevice::Impl *>(ctx);
  if (!d.error.empty())
    return;
  if (kernel < 0 || static_cast<size_t>(kernel) >= d.functions.size()) {
    d.error = "launch of kernel " + std::to_string(kernel) +
              ", which the kernel table does not list";
    return;
  }
  auto fits = [](int64_t v, int64_t max) { return v >= 1 && v <= max; };
  if (!fits(bx, d.maxBlock[0]) || !fits(by, d.maxBlock[1]) ||
      !fits(bz, d.maxBlock[2]) || bx * by * bz > d.maxThreads ||
      !fits(gx, 0x7fffffff) || !fits(gy, 65535) || !fits(gz, 65535)) {
    d.error = "kernel '" + d.functionNames[kernel] +
              "' launched with a shape the device cannot run: grid " +
              std::to_string(gx) + "x" + std::to_string(gy) + "x" +
              std::to_string(gz) + ", block " + std::to_string(bx) + "x" +
              std::to_string(by) + "x" + std::to_string(bz);
    return;
  }
  CUresult r = d.cuLaunchKernel(
      d.functions[kernel], static_cast<unsigned>(gx), static_cast<unsigned>(gy),
      static_cast<unsigned>(gz), static_cast<unsigned>(bx),
      static_cast<unsigned>(by), static_cast<unsigned>(bz),
      static_cast<unsigned>(shared), d.stream, params, nullptr);
  if (r != kSuccess)
    d.record(r, ("launching kernel '" + d.functionNames[kernel] + "'").c_str());
}

void *deviceAlloc(CudaDevice::Impl &d, int64_t bytes) {
  CUdeviceptr p = 0;
  // Zero-size buffers still need a distinct, valid address.
  size_t size = bytes > 0 ? static_cast<size_t>(bytes) : 4;
  CUresult r = d.cuMemAllocAsync ? d.cuMemAllocAsync(&p, size, d.stream)
                                 : d.cuMemAlloc(&p, size);
  if (r != kSuccess) {
    d.record(r,
             ("allocating " + std::to_string(size) + " bytes of device memory")
                 .c_str());
    return nullptr;
  }
  return reinterpret_cast<void *>(p);
}

void deviceFree(CudaDevice::Impl &d, void *p) {
  if (!p)
    return;
  auto ptr = reinterpret_cast<CUdeviceptr>(p);
  // Stream-ordered: the buffer is reused only after the kernels queued
  // before this point, without synchronising the stream.
  CUresult r =
      d.cuMemFreeAsync ? d.cuMemFreeAsync(ptr, d.stream) : d.cuMemFree(ptr);
  d.record(r, "freeing device memory");
}

/// A frame of strata-plan-memory's plans (see FrameArena). Every kernel
/// runs on the session's stream, so a slot's reuse by a later kernel, or
/// by the next call, waits for the kernels before it, and so does a
/// stream-ordered free when the arena regrows.
void *hookArena(void *ctx, int64_t bytes) {
  auto &d = *static_cast<CudaDevice::Impl *>(ctx);
  if (!d.arena)
    d.arena = std::make_unique<FrameArena>(
        [](void *c, size_t n) {
          return deviceAlloc(*static_cast<CudaDevice::Impl *>(c),
                             static_cast<int64_t>(n));
        },
        [](void *c, void *p) {
          deviceFree(*static_cast<CudaDevice::Impl *>(c), p);
        },
        &d);
  return d.arena->push(static_cast<size_t>(std::max<int64_t>(bytes, 0)));
}

void hookArenaRelease(void *ctx, void *frame) {
  auto &d = *static_cast<CudaDevice::Impl *>(ctx);
  if (!d.arena || !d.arena->pop(frame))
    d.error = "device arena frames released out of order";
}

void *hookAlloc(void *ctx, int64_t bytes) {
  return deviceAlloc(*static_cast<CudaDevice::Impl *>(ctx), bytes);
}

void hookFree(void *ctx, void *p) {
  deviceFree(*static_cast<CudaDevice::Impl *>(ctx), p);
}

} // namespace

/// Which of `count` GPUs this process uses: $STRATA_CUDA_DEVICE, else,
/// for ranks mpirun launched, the rank on its node (one GPU per rank),
/// else 0; -1 for a $STRATA_CUDA_DEVICE out of range.
static int deviceOrdinal(int count) {
  if (const char *env = std::getenv("STRATA_CUDA_DEVICE"); env && *env) {
    char *end = nullptr;
    long n = std::strtol(env, &end, 10);
    return end && *end == 0 && n >= 0 && n < count ? static_cast<int>(n) : -1;
  }
  for (const char *name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"})
    if (const char *env = std::getenv(name); env && *env)
      return static_cast<int>(std::strtol(env, nullptr, 10) % count);
  return 0;
}

strata_status_code CudaDevice::open(std::unique_ptr<Device> &out,
                                    strata_status *status) {
  std::unique_ptr<CudaDevice> device(new CudaDevice);
  device->impl_ = std::make_unique<Impl>();
  Impl &d = *device->impl_;
  d.driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!d.driver)
    return fail(status, STRATA_UNSUPPORTED,
                "no CUDA device: the CUDA driver (libcuda.so.1) is not "
                "installed or not on the library path (%s)",
                dlerror());
  std::string missing;
  if (!loadSymbols(d, missing))
    return fail(status, STRATA_UNSUPPORTED,
                "no CUDA device: the CUDA driver lacks %s (too old a driver?)",
                missing.c_str());
  int count = 0;
  CUresult r = d.cuInit(0);
  if (r == kSuccess)
    r = d.cuDeviceGetCount(&count);
  if (r != kSuccess || count == 0)
    return fail(status, STRATA_UNSUPPORTED,
                "no CUDA device: the driver found no usable GPU (%s)",
                r == kSuccess ? "0 devices" : d.describe(r));
  int ordinal = deviceOrdinal(count);
  if (ordinal < 0)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "STRATA_CUDA_DEVICE names no GPU of the %d the driver found",
                count);
  if (!d.record(d.cuDeviceGet(&d.device, ordinal), "cuDeviceGet") ||
      !d.record(d.cuDevicePrimaryCtxRetain(&d.context, d.device),
                "creating the CUDA context") ||
      !d.record(d.cuCtxSetCurrent(d.context), "cuCtxSetCurrent") ||
      !d.record(d.cuStreamCreate(&d.stream, 0), "creating a CUDA stream") ||
      !d.record(d.cuEventCreate(&d.started, 0), "cuEventCreate") ||
      !d.record(d.cuEventCreate(&d.stopped, 0), "cuEventCreate"))
    return fail(status, STRATA_UNSUPPORTED, "CUDA device %d: %s", ordinal,
                d.error.c_str());
  int major = 0, minor = 0;
  int attrs[][2] = {{kMaxBlockDimX, 0}, {kMaxBlockDimY, 1}, {kMaxBlockDimZ, 2}};
  for (auto &a : attrs)
    d.cuDeviceGetAttribute(&d.maxBlock[a[1]], a[0], d.device);
  d.cuDeviceGetAttribute(&d.maxThreads, kMaxThreadsPerBlock, d.device);
  d.cuDeviceGetAttribute(&d.maxShared, kMaxSharedPerBlock, d.device);
  d.cuDeviceGetAttribute(&major, kCcMajor, d.device);
  d.cuDeviceGetAttribute(&minor, kCcMinor, d.device);
  d.sm = major * 10 + minor;
  char name[256] = {0};
  d.cuDeviceGetName(name, sizeof(name) - 1, d.device);
  device->name_ = std::string(name) + " (sm_" + std::to_string(d.sm) + ")";
  out = std::move(device);
  return ok(status);
}

CudaDevice::~CudaDevice() = default;

strata_status_code CudaDevice::loadKernels(const strata::fb::Executable *exe,
                                           strata_status *status) {
  Impl &d = *impl_;
  const auto *kernels = exe->kernels();
  const strata::fb::KernelLibrary *ptx = kernels->Get(1), *cubin = nullptr;
  for (const auto *lib : *kernels)
    if (lib->format() == strata::fb::LibraryFormat::Cubin && lib->sm() == d.sm)
      cubin = lib;
  if (!cubin && ptx->sm() > d.sm)
    return fail(status, STRATA_UNSUPPORTED,
                "the executable was compiled for sm_%d; %s cannot run it "
                "(recompile with --sm=%d)",
                ptx->sm(), name_.c_str(), d.sm);
  char log[4096] = {0};
  int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSize};
  void *values[] = {log, reinterpret_cast<void *>(sizeof(log) - 1)};
  // The PTX is NUL-free (the loader checked) but not NUL-terminated.
  std::string text;
  const void *image = nullptr;
  if (cubin) {
    image = cubin->data()->data();
  } else {
    text.assign(reinterpret_cast<const char *>(ptx->data()->data()),
                ptx->data()->size());
    image = text.c_str();
  }
  CUresult r = d.cuModuleLoadDataEx(&d.module, image, 2, options, values);
  if (r != kSuccess)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "loading the %s device module failed: %s. %s",
                cubin ? "cubin" : "PTX", d.describe(r), log);
  for (const auto *k : *exe->gpu_kernels()) {
    CUfunction fn = nullptr;
    if (d.cuModuleGetFunction(&fn, d.module, k->name()->c_str()) != kSuccess)
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "the device module lacks kernel '%s'", k->name()->c_str());
    int fnThreads = 0, fnShared = 0;
    d.cuFuncGetAttribute(&fnThreads, kFuncMaxThreads, fn);
    d.cuFuncGetAttribute(&fnShared, kFuncSharedBytes, fn);
    int64_t threads = 1;
    for (int i = 0; i < 3; ++i) {
      int64_t b = k->block()->Get(i);
      if (b == -1)
        continue; // checked at launch
      if (b < 1 || b > d.maxBlock[i])
        return fail(status, STRATA_UNSUPPORTED,
                    "kernel '%s': block dimension %d is %lld, the device "
                    "allows %d",
                    k->name()->c_str(), i, (long long)b, d.maxBlock[i]);
      threads *= b;
    }
    if (threads > fnThreads)
      return fail(status, STRATA_UNSUPPORTED,
                  "kernel '%s' needs %lld threads per block; with its "
                  "registers the device runs at most %d",
                  k->name()->c_str(), (long long)threads, fnThreads);
    if (static_cast<int64_t>(fnShared) + k->shared_bytes() > d.maxShared)
      return fail(status, STRATA_UNSUPPORTED,
                  "kernel '%s' needs %lld bytes of shared memory per block, "
                  "the device has %d",
                  k->name()->c_str(), (long long)fnShared + k->shared_bytes(),
                  d.maxShared);
    d.functions.push_back(fn);
    d.functionNames.push_back(k->name()->str());
  }
  return ok(status);
}

strata_status_code CudaDevice::bind(KernelLibrary &library,
                                    const strata::fb::Executable *exe,
                                    strata_status *status) {
  if (strata_status_code code = loadKernels(exe, status))
    return code;
  return bindHooks(library, status);
}

strata_status_code CudaDevice::bindHooks(KernelLibrary &library,
                                         strata_status *status) {
  const char *missing = nullptr;
  auto bindSlot = [&](const char *name) {
    void **slot = library.slot(name);
    if (!slot && !missing)
      missing = name;
    return slot;
  };
  void **context = bindSlot(STRATA_HOOK_CUDA_CONTEXT);
  void **launch = bindSlot(STRATA_HOOK_CUDA_LAUNCH);
  void **alloc = bindSlot(STRATA_HOOK_CUDA_ALLOC);
  void **free = bindSlot(STRATA_HOOK_CUDA_FREE);
  if (missing)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "the host library lacks the CUDA hook '%s'", missing);
  *context = impl_.get();
  KernelLibrary::setHook<strata_cuda_launch_fn>(launch, &hookLaunch);
  KernelLibrary::setHook<strata_cuda_alloc_fn>(alloc, &hookAlloc);
  KernelLibrary::setHook<strata_cuda_free_fn>(free, &hookFree);
  // Only libraries with memory plans have the arena hooks, and then both.
  void **acquire = library.slot(STRATA_HOOK_CUDA_ARENA);
  void **release = library.slot(STRATA_HOOK_CUDA_ARENA_RELEASE);
  if (acquire && !release)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "the host library has strata_cuda_arena but not "
                "strata_cuda_arena_release");
  if (acquire) {
    KernelLibrary::setHook<strata_arena_fn>(acquire, &hookArena);
    KernelLibrary::setHook<strata_arena_release_fn>(release, &hookArenaRelease);
  }
  return ok(status);
}

void *CudaDevice::allocate(size_t bytes, strata_status *status) {
  void *p = deviceAlloc(*impl_, static_cast<int64_t>(bytes));
  if (!p)
    fail(status, STRATA_OUT_OF_MEMORY, "%s", impl_->error.c_str());
  return p;
}

void CudaDevice::release(void *device) { deviceFree(*impl_, device); }

double CudaDevice::lastMilliseconds() const { return impl_->lastMs; }

size_t CudaDevice::workspaceBytes() const {
  return impl_->arena ? impl_->arena->bytesHeld() : 0;
}

strata_status_code CudaDevice::upload(void *device, const void *host,
                                      size_t bytes, strata_status *status) {
  Impl &d = *impl_;
  // The synchronous copy runs on the legacy default stream, which waits
  // for the session's (blocking) stream: stream-ordered allocations made
  // there are complete before it starts.
  if (!d.record(
          d.cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(device), host, bytes),
          "copying to the device"))
    return fail(status, STRATA_IO_ERROR, "%s", d.error.c_str());
  return ok(status);
}

strata_status_code CudaDevice::download(void *host, const void *device,
                                        size_t bytes, strata_status *status) {
  Impl &d = *impl_;
  if (!d.record(
          d.cuMemcpyDtoH(host, reinterpret_cast<CUdeviceptr>(device), bytes),
          "copying from the device"))
    return fail(status, STRATA_IO_ERROR, "%s", d.error.c_str());
  return ok(status);
}

strata_status_code CudaDevice::copyOnDevice(void *dst, const void *src,
                                            size_t bytes,
                                            strata_status *status) {
  Impl &d = *impl_;
  if (!d.record(d.cuMemcpyDtoDAsync(reinterpret_cast<CUdeviceptr>(dst),
                                    reinterpret_cast<CUdeviceptr>(src), bytes,
                                    d.stream),
                "copying on the device"))
    return fail(status, STRATA_IO_ERROR, "%s", d.error.c_str());
  return ok(status);
}

strata_status_code CudaDevice::begin(strata_status *status) {
  Impl &d = *impl_;
  d.error.clear();
  d.lastMs = -1;
  if (!d.record(d.cuCtxSetCurrent(d.context), "cuCtxSetCurrent") ||
      !d.record(d.cuEventRecord(d.started, d.stream), "cuEventRecord"))
    return fail(status, STRATA_UNSUPPORTED, "%s", d.error.c_str());
  return ok(status);
}

strata_status_code CudaDevice::finish(strata_status *status) {
  Impl &d = *impl_;
  d.record(d.cuEventRecord(d.stopped, d.stream), "cuEventRecord");
  d.record(d.cuStreamSynchronize(d.stream), "running the kernels");
  if (d.error.empty())
    d.record(d.cuEventElapsedTime(&d.lastMs, d.started, d.stopped),
             "cuEventElapsedTime");
  if (!d.error.empty())
    return fail(status, STRATA_UNSUPPORTED, "CUDA: %s", d.error.c_str());
  return ok(status);
}

} // namespace strata::runtime

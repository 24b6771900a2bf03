//===- NcclCommunicator.cpp - collectives between GPUs over NCCL ----------===//

#include "runtime/comm/NcclCommunicator.h"
#include "runtime/Internal.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <string>
#include <thread>

using namespace strata::runtime;

namespace {

// The slice of nccl.h and cuda.h this file uses; both ABIs are stable.
using ncclResult = int;
using ncclComm = void *;
struct ncclUniqueId {
  char internal[128];
};
constexpr ncclResult kNcclSuccess = 0, kNcclInProgress = 7;
constexpr int kNcclSum = 0;
constexpr int kCudaSuccess = 0, kCudaNotReady = 600;
void *const kLegacyStream = reinterpret_cast<void *>(0x1);

struct NcclApi {
  void *library = nullptr;
  void *driver = nullptr;
  std::string error;
  ncclResult (*getVersion)(int *) = nullptr;
  ncclResult (*getUniqueId)(ncclUniqueId *) = nullptr;
  ncclResult (*commInitRank)(ncclComm *, int, ncclUniqueId, int) = nullptr;
  ncclResult (*commDestroy)(ncclComm) = nullptr;
  ncclResult (*commAbort)(ncclComm) = nullptr;
  ncclResult (*commGetAsyncError)(ncclComm, ncclResult *) = nullptr;
  const char *(*getErrorString)(ncclResult) = nullptr;
  ncclResult (*allReduce)(const void *, void *, size_t, int, int, ncclComm,
                          void *) = nullptr;
  ncclResult (*reduce)(const void *, void *, size_t, int, int, int, ncclComm,
                       void *) = nullptr;
  ncclResult (*broadcast)(const void *, void *, size_t, int, int, ncclComm,
                          void *) = nullptr;
  ncclResult (*allGather)(const void *, void *, size_t, int, ncclComm,
                          void *) = nullptr;
  int (*streamQuery)(void *) = nullptr; ///< cuStreamQuery
};

/// Where libnccl.so.2 may be: $STRATA_NCCL_LIBRARY, the loader's path,
/// then the CUDA toolkit's usual places.
const char *const kNcclCandidates[] = {
    "libnccl.so.2", "/usr/local/cuda/lib64/libnccl.so.2",
    "/usr/local/cuda/lib/libnccl.so.2",
    "/usr/lib/x86_64-linux-gnu/libnccl.so.2"};

template <typename T> bool bind(void *library, const char *name, T &fn) {
  fn = reinterpret_cast<T>(dlsym(library, name));
  return fn != nullptr;
}

const NcclApi &api() {
  static NcclApi a;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string tried;
    if (const char *env = std::getenv("STRATA_NCCL_LIBRARY"); env && *env) {
      a.library = dlopen(env, RTLD_NOW | RTLD_LOCAL);
      tried = env;
    }
    for (const char *path : kNcclCandidates) {
      if (a.library)
        break;
      a.library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
      tried += (tried.empty() ? "" : ", ") + std::string(path);
    }
    if (!a.library) {
      a.error = "cannot load NCCL (tried " + tried +
                "; set STRATA_NCCL_LIBRARY to libnccl.so.2)";
      return;
    }
    bool all = bind(a.library, "ncclGetVersion", a.getVersion) &&
               bind(a.library, "ncclGetUniqueId", a.getUniqueId) &&
               bind(a.library, "ncclCommInitRank", a.commInitRank) &&
               bind(a.library, "ncclCommDestroy", a.commDestroy) &&
               bind(a.library, "ncclCommAbort", a.commAbort) &&
               bind(a.library, "ncclCommGetAsyncError",
                    a.commGetAsyncError) &&
               bind(a.library, "ncclGetErrorString", a.getErrorString) &&
               bind(a.library, "ncclAllReduce", a.allReduce) &&
               bind(a.library, "ncclReduce", a.reduce) &&
               bind(a.library, "ncclBroadcast", a.broadcast) &&
               bind(a.library, "ncclAllGather", a.allGather);
    if (!all) {
      a.error = "the NCCL library found lacks an entry point Strata uses "
                "(NCCL 2.12 or later is needed)";
      return;
    }
    // The driver the CUDA device opened already; its stream query times
    // the collectives.
    a.driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (a.driver)
      bind(a.driver, "cuStreamQuery", a.streamQuery);
  });
  return a;
}

int ncclType(strata_comm_dtype dtype) {
  switch (dtype) {
  case STRATA_COMM_F32:
    return 7;
  case STRATA_COMM_F64:
    return 8;
  case STRATA_COMM_I32:
    return 2;
  case STRATA_COMM_I64:
    return 4;
  case STRATA_COMM_U8:
    return 1;
  }
  return 7;
}

size_t elementBytes(strata_comm_dtype dtype) {
  return dtype == STRATA_COMM_F64 || dtype == STRATA_COMM_I64 ? 8
         : dtype == STRATA_COMM_U8                           ? 1
                                                             : 4;
}

class NcclCommunicator final : public Communicator {
public:
  NcclCommunicator(Communicator &bootstrap,
                   std::unique_ptr<Communicator> owned, Device &device,
                   double timeout, ncclComm comm)
      : bootstrap(bootstrap), owned(std::move(owned)), device(device),
        timeout(timeout), comm(comm) {}
  ~NcclCommunicator() override {
    if (staging)
      device.release(staging);
    if (comm) // not after an abort, which freed it
      api().commDestroy(comm);
  }
  int rank() const override { return bootstrap.rank(); }
  int size() const override { return bootstrap.size(); }
  int worldRank(int rank) const override { return bootstrap.worldRank(rank); }

  strata_status_code split(int color, int key,
                           std::unique_ptr<Communicator> &out,
                           strata_status *status) override {
    std::unique_ptr<Communicator> part;
    if (strata_status_code code = bootstrap.split(color, key, part, status))
      return code;
    Communicator &group = *part;
    return makeOver(group, std::move(part), device, timeout, out, status);
  }

  strata_status_code allReduceSum(void *data, size_t count,
                                  strata_comm_dtype dtype,
                                  strata_status *status) override {
    size_t bytes = count * elementBytes(dtype);
    return staged(data, bytes, bytes, status, "all_reduce", [&](void *d) {
      return api().allReduce(d, d, count, ncclType(dtype), kNcclSum, comm,
                             nullptr);
    });
  }
  strata_status_code reduceSum(void *data, size_t count,
                               strata_comm_dtype dtype, int root,
                               strata_status *status) override {
    size_t bytes = count * elementBytes(dtype);
    return staged(data, bytes, rank() == root ? bytes : 0, status, "reduce",
                  [&](void *d) {
                    return api().reduce(d, d, count, ncclType(dtype),
                                        kNcclSum, root, comm, nullptr);
                  });
  }
  strata_status_code allGather(const void *send, void *recv, size_t bytes,
                               strata_status *status) override {
    // The staging buffer holds every rank's part; this rank's goes in
    // its place, as NCCL's in-place all-gather wants.
    size_t total = bytes * static_cast<size_t>(size());
    std::memcpy(static_cast<char *>(recv) + bytes * rank(), send, bytes);
    return staged(recv, total, total, status, "all_gather", [&](void *d) {
      char *mine = static_cast<char *>(d) + bytes * rank();
      return api().allGather(mine, d, bytes, ncclType(STRATA_COMM_U8), comm,
                             nullptr);
    });
  }
  strata_status_code broadcast(void *data, size_t bytes, int root,
                               strata_status *status) override {
    return staged(data, bytes, bytes, status, "broadcast", [&](void *d) {
      return api().broadcast(d, d, bytes, ncclType(STRATA_COMM_U8), root,
                             comm, nullptr);
    });
  }
  strata_status_code barrier(strata_status *status) override {
    float zero = 0.0f;
    return allReduceSum(&zero, 1, STRATA_COMM_F32, status);
  }

  static strata_status_code makeOver(Communicator &bootstrap,
                                     std::unique_ptr<Communicator> owned,
                                     Device &device, double timeout,
                                     std::unique_ptr<Communicator> &out,
                                     strata_status *status);

private:
  /// Uploads `bytes` of `host`, runs `collective` on the device copy,
  /// waits for it (at most the timeout) and downloads `back` bytes.
  template <typename Collective>
  strata_status_code staged(void *host, size_t bytes, size_t back,
                            strata_status *status, const char *what,
                            Collective &&collective) {
    if (bytes == 0)
      return ok(status);
    if (!comm)
      return fail(status, STRATA_COMMUNICATION_ERROR,
                  "rank %d: NCCL %s: the group was aborted after an earlier "
                  "failure",
                  worldRank(rank()), what);
    if (strata_status_code code = device.begin(status))
      return code;
    if (bytes > stagingBytes) {
      if (staging)
        device.release(staging);
      staging = device.allocate(bytes, status);
      stagingBytes = staging ? bytes : 0;
      if (!staging)
        return status ? status->code : STRATA_OUT_OF_MEMORY;
    }
    if (strata_status_code code = device.upload(staging, host, bytes, status))
      return code;
    if (ncclResult r = collective(staging); r != kNcclSuccess)
      return fail(status, STRATA_COMMUNICATION_ERROR, "rank %d: NCCL %s: %s",
                  worldRank(rank()), what, api().getErrorString(r));
    if (strata_status_code code = await(what, status))
      return code;
    return back ? device.download(host, staging, back, status) : ok(status);
  }

  strata_status_code await(const char *what, strata_status *status) {
    const NcclApi &a = api();
    if (!a.streamQuery) // no way to poll: the download waits
      return ok(status);
    auto until = std::chrono::steady_clock::now() +
                 std::chrono::duration<double>(timeout);
    for (unsigned polls = 0;; ++polls) {
      int state = a.streamQuery(kLegacyStream);
      if (state == kCudaSuccess)
        return ok(status);
      if (state != kCudaNotReady)
        return fail(status, STRATA_COMMUNICATION_ERROR,
                    "rank %d: NCCL %s: the device reported error %d",
                    worldRank(rank()), what, state);
      ncclResult async = kNcclSuccess;
      a.commGetAsyncError(comm, &async);
      if (async != kNcclSuccess && async != kNcclInProgress)
        return fail(status, STRATA_COMMUNICATION_ERROR, "rank %d: NCCL %s: %s",
                    worldRank(rank()), what, a.getErrorString(async));
      if (polls > 2000)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      if ((polls & 63) == 0 && std::chrono::steady_clock::now() > until)
        break;
    }
    // NCCL cannot say which rank is missing; the MPI side names a rank
    // that died (mpirun does) and this one ends the launch.
    a.commAbort(comm);
    comm = nullptr;
    return fail(status, STRATA_COMMUNICATION_ERROR,
                "rank %d: NCCL %s (a group of %d ranks) did not complete "
                "within %.0f s: a rank died or hangs",
                worldRank(rank()), what, size(), timeout);
  }

  Communicator &bootstrap;
  std::unique_ptr<Communicator> owned; ///< a split's bootstrap group
  Device &device;
  double timeout;
  ncclComm comm;
  void *staging = nullptr;
  size_t stagingBytes = 0;
};

strata_status_code NcclCommunicator::makeOver(
    Communicator &bootstrap, std::unique_ptr<Communicator> owned,
    Device &device, double timeout, std::unique_ptr<Communicator> &out,
    strata_status *status) {
  const NcclApi &a = api();
  if (!a.library || !a.getVersion)
    return fail(status, STRATA_UNSUPPORTED, "%s", a.error.c_str());
  if (device.hostMemory())
    return fail(status, STRATA_UNSUPPORTED,
                "NCCL runs between GPUs: this session's device is the CPU "
                "(use the MPI backend)");
  if (strata_status_code code = device.begin(status))
    return code;
  ncclUniqueId id{};
  if (bootstrap.rank() == 0)
    if (ncclResult r = a.getUniqueId(&id); r != kNcclSuccess)
      return fail(status, STRATA_COMMUNICATION_ERROR,
                  "ncclGetUniqueId failed: %s", a.getErrorString(r));
  if (strata_status_code code =
          bootstrap.broadcast(&id, sizeof(id), 0, status))
    return code;
  ncclComm comm = nullptr;
  if (ncclResult r =
          a.commInitRank(&comm, bootstrap.size(), id, bootstrap.rank());
      r != kNcclSuccess)
    return fail(status, STRATA_COMMUNICATION_ERROR,
                "rank %d: ncclCommInitRank over %d ranks failed: %s",
                bootstrap.worldRank(bootstrap.rank()), bootstrap.size(),
                a.getErrorString(r));
  out = std::make_unique<NcclCommunicator>(bootstrap, std::move(owned),
                                           device, timeout, comm);
  return ok(status);
}

} // namespace

strata_status_code strata::runtime::ncclVersion(int &version,
                                                strata_status *status) {
  const NcclApi &a = api();
  if (!a.library || !a.getVersion)
    return fail(status, STRATA_UNSUPPORTED, "%s", a.error.c_str());
  if (ncclResult r = a.getVersion(&version); r != kNcclSuccess)
    return fail(status, STRATA_INTERNAL_ERROR, "ncclGetVersion failed: %s",
                a.getErrorString(r));
  return ok(status);
}

strata_status_code strata::runtime::makeNcclCommunicator(
    Communicator &bootstrap, std::unique_ptr<Communicator> keep,
    Device &device, double timeoutSeconds, std::unique_ptr<Communicator> &out,
    strata_status *status) {
  return NcclCommunicator::makeOver(bootstrap, std::move(keep), device,
                                    timeoutSeconds, out, status);
}

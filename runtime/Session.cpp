//===- Session.cpp - sessions: kernels, weights, calls ----------*- C++ -*-===//
//
// The kernel library (host code) is written to an anonymous memory file
// and dlopen'ed from there (nothing on disk, nothing left behind); entry
// points are called through their packed wrappers with memref descriptors
// built here. On the CPU, results are allocated by the kernels with malloc
// and freed here after they are copied out. On CUDA (CudaDevice.cpp) the
// host code launches kernels and allocates through the device's hooks;
// parameters live on the device, inputs are staged per call, and results
// are copied back to host memory before they are read.
//
//===----------------------------------------------------------------------===//

#include "runtime/CudaDevice.h"
#include "runtime/FrameArena.h"
#include "runtime/abi.h"
#include "runtime/Internal.h"
#include "runtime/Safetensors.h"
#include "runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <system_error>
#include <thread>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <memory>
#include <new>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

using strata::runtime::CudaDevice;
using strata::runtime::fail;
using strata::runtime::ok;
using strata::runtime::ThreadPool;

namespace {

using EntryFn = void (*)(void **);

/// A memref descriptor of rank `rank` as the C interface lays it out:
/// {allocated, aligned, offset, sizes[rank], strides[rank]}, all 8 bytes.
struct Descriptor {
  std::vector<int64_t> words;
  Descriptor(void *data, const std::vector<int64_t> &shape) {
    size_t rank = shape.size();
    words.assign(3 + 2 * rank, 0);
    words[0] = reinterpret_cast<int64_t>(data);
    words[1] = reinterpret_cast<int64_t>(data);
    int64_t stride = 1;
    for (size_t i = rank; i-- > 0;) {
      words[3 + i] = shape[i];
      words[3 + rank + i] = stride;
      stride *= shape[i];
    }
  }
  void *pointer() { return words.data(); }
};

/// The result descriptors an entry point filled, back to back.
struct Results {
  std::vector<int64_t> words;
  std::vector<size_t> offsets; ///< Where each result's descriptor starts.

  /// Element [0, s, j] of rank-3 result `r`, honouring its strides.
  float at3(size_t r, int64_t s, int64_t j) const {
    const int64_t *d = words.data() + offsets[r];
    return reinterpret_cast<const float *>(
        d[1])[d[2] + s * d[3 + 3 + 1] + j * d[3 + 3 + 2]];
  }
  /// Element [b, s, j] of rank-3 result `r`.
  float at3(size_t r, int64_t b, int64_t s, int64_t j) const {
    const int64_t *d = words.data() + offsets[r];
    return reinterpret_cast<const float *>(
        d[1])[d[2] + b * d[3 + 3] + s * d[3 + 4] + j * d[3 + 5]];
  }
  /// Frees the buffers the kernels allocated with malloc.
  ~Results() {
    for (size_t off : offsets)
      std::free(reinterpret_cast<void *>(words[off]));
  }
};

/// Calls a packed entry point: args[0] the results, then the arguments.
void launch(EntryFn entry, const strata::fb::EntryPoint *ep,
            std::vector<Descriptor> &arguments, Results &results) {
  size_t words = 0;
  for (const auto *res : *ep->results()) {
    results.offsets.push_back(words);
    words += 3 + 2 * res->shape()->size();
  }
  results.words.assign(words, 0);
  std::vector<void *> args{results.words.data()};
  for (Descriptor &d : arguments)
    args.push_back(d.pointer());
  entry(args.data());
}

/// Token ids inside the vocabulary and a sequence within the maximum.
strata_status_code checkTokens(const strata::fb::Metadata *meta,
                               const int32_t *tokens, size_t count, size_t seq,
                               strata_status *status) {
  if (static_cast<int64_t>(seq) > meta->max_seq_len())
    return fail(status, STRATA_INVALID_ARGUMENT,
                "sequence of %zu tokens exceeds the model's maximum of %lld",
                seq, (long long)meta->max_seq_len());
  for (size_t i = 0; i < count; ++i)
    if (tokens[i] < 0 || tokens[i] >= meta->vocab_size())
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "token id %d at position %zu is outside the vocabulary "
                  "[0, %lld)",
                  tokens[i], i, (long long)meta->vocab_size());
  return STRATA_OK;
}

const strata::fb::EntryPoint *findEntry(const strata_executable *exe,
                                        const char *name) {
  for (const auto *ep : *exe->root->entry_points())
    if (ep->name()->str() == name)
      return ep;
  return nullptr;
}

uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a64(const char *s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (; *s; ++s)
    h = (h ^ static_cast<uint8_t>(*s)) * 0x100000001B3ull;
  return h;
}

} // namespace

struct strata_session {
  const strata_executable *exe = nullptr;
  void *library = nullptr;
  bool useKvCache = true;
  std::vector<std::vector<float>> parameters;
  /// CUDA sessions: the device and the parameters' device copies, uploaded
  /// again before the next call whenever the host values changed.
  std::unique_ptr<CudaDevice> cuda;
  std::vector<void *> deviceParameters;
  bool deviceParametersStale = true;
  std::string deviceName = "cpu";
  /// CPU sessions: what the kernel library's `strata_cpu_context` points
  /// at — the threads parallel loops run on, and the arena of the entry
  /// points' memory plans.
  struct CpuContext {
    std::unique_ptr<ThreadPool> pool;
    strata::runtime::FrameArena arena{
        [](void *, size_t bytes) { return std::aligned_alloc(64, bytes); },
        [](void *, void *p) { std::free(p); }, nullptr};
  } cpu;
  ~strata_session() {
    if (cuda)
      for (void *p : deviceParameters)
        cuda->release(p);
    if (library)
      dlclose(library);
  }
};

namespace {

strata_status_code syncDeviceParameters(strata_session &s,
                                        strata_status *status) {
  if (!s.cuda || !s.deviceParametersStale)
    return STRATA_OK;
  s.deviceParameters.resize(s.parameters.size(), nullptr);
  for (size_t i = 0; i < s.parameters.size(); ++i) {
    size_t bytes = s.parameters[i].size() * sizeof(float);
    if (!s.deviceParameters[i] &&
        !(s.deviceParameters[i] = s.cuda->allocate(bytes, status)))
      return status ? status->code : STRATA_OUT_OF_MEMORY;
    if (strata_status_code code = s.cuda->upload(
            s.deviceParameters[i], s.parameters[i].data(), bytes, status))
      return code;
  }
  s.deviceParametersStale = false;
  return STRATA_OK;
}

/// The host function of entry point `ep`, with the device's copy of the
/// parameters brought up to date.
strata_status_code prepareEntry(strata_session &s,
                                const strata::fb::EntryPoint *ep,
                                EntryFn &entry, strata_status *status) {
  const char *symbol = ep->commands()->Get(0)->symbol()->c_str();
  entry = reinterpret_cast<EntryFn>(dlsym(s.library, symbol));
  if (!entry)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "kernel library lacks entry symbol '%s'", symbol);
  return syncDeviceParameters(s, status);
}

/// The arguments of one entry-point call. On CUDA, host inputs are staged
/// in device buffers that live as long as the frame, and results are
/// copied back to host memory after the call.
struct CallFrame {
  strata_session &session;
  std::vector<Descriptor> descriptors;
  std::vector<void *> staged;

  explicit CallFrame(strata_session &s) : session(s) {}
  ~CallFrame() {
    for (void *p : staged)
      session.cuda->release(p);
  }

  /// An input the kernels read: `bytes` of host data, logically `shape`.
  strata_status_code add(const void *data, size_t bytes,
                         std::vector<int64_t> shape, strata_status *status) {
    void *where = const_cast<void *>(data);
    if (session.cuda) {
      where = session.cuda->allocate(bytes, status);
      if (!where)
        return status ? status->code : STRATA_OUT_OF_MEMORY;
      staged.push_back(where);
      if (bytes)
        if (strata_status_code code =
                session.cuda->upload(where, data, bytes, status))
          return code;
    }
    descriptors.emplace_back(where, shape);
    return STRATA_OK;
  }

  /// Device memory the session owns (CUDA sessions), passed as is.
  void addDevice(void *device, std::vector<int64_t> shape) {
    descriptors.emplace_back(device, shape);
  }

  void addParameter(int index, std::vector<int64_t> shape) {
    void *data = session.cuda ? session.deviceParameters[index]
                              : session.parameters[index].data();
    descriptors.emplace_back(data, shape);
  }

  /// Runs the entry point. On CUDA, results are copied to host memory,
  /// except those `keep` marks: their descriptors keep pointing at device
  /// memory, which the caller must release (and then clear the pointers).
  strata_status_code call(EntryFn entry, const strata::fb::EntryPoint *ep,
                          Results &results, strata_status *status,
                          const std::vector<bool> &keep = {}) {
    if (!session.cuda) {
      launch(entry, ep, descriptors, results);
      return STRATA_OK;
    }
    if (strata_status_code code = session.cuda->begin(status))
      return code;
    launch(entry, ep, descriptors, results);
    strata_status_code code = session.cuda->finish(status);
    // Every result moves to host memory (or is dropped on failure), so
    // Results frees host buffers only.
    for (size_t r = 0; r < results.offsets.size(); ++r) {
      int64_t *d = results.words.data() + results.offsets[r];
      if (r < keep.size() && keep[r]) {
        if (code != STRATA_OK) {
          session.cuda->release(reinterpret_cast<void *>(d[0]));
          d[0] = d[1] = 0;
        }
        continue;
      }
      size_t rank = ep->results()->Get(r)->shape()->size();
      void *device = reinterpret_cast<void *>(d[0]);
      // Extent of the strided view: offset plus the last element reached.
      int64_t span = d[2] + 1;
      bool empty = false;
      for (size_t i = 0; i < rank; ++i) {
        empty |= d[3 + i] == 0;
        span += (d[3 + i] - 1) * d[3 + rank + i];
      }
      size_t bytes = empty ? 0 : static_cast<size_t>(span) * sizeof(float);
      void *host = code == STRATA_OK ? std::malloc(bytes ? bytes : 1) : nullptr;
      if (code == STRATA_OK && !host)
        code = fail(status, STRATA_OUT_OF_MEMORY,
                    "out of memory copying results back");
      if (code == STRATA_OK && bytes)
        code = session.cuda->download(host, reinterpret_cast<void *>(d[1]),
                                      bytes, status);
      session.cuda->release(device);
      d[0] = d[1] = reinterpret_cast<int64_t>(host);
    }
    return code;
  }
};

} // namespace

extern "C" {

strata_status_code strata_session_create(const strata_executable *exe,
                                         strata_session **out,
                                         strata_status *status) {
  return strata_session_create_on(exe, STRATA_DEVICE_AUTO, out, status);
}

namespace {
using CpuContext = strata_session::CpuContext;

extern "C" void hookParallelFor(void *context,
                                strata::runtime::ParallelBody body,
                                void *captures, int64_t iterations,
                                int64_t cost) {
  static_cast<CpuContext *>(context)->pool->parallelFor(body, captures,
                                                        iterations, cost);
}

/// A frame of a compiled function's memory plan (see FrameArena): calls of
/// a session do not overlap, and a call's frames nest. Like the kernels'
/// own mallocs, running out of memory here is fatal: the generated code has
/// no error path.
extern "C" void *hookArena(void *context, int64_t bytes) {
  auto *cpu = static_cast<CpuContext *>(context);
  void *frame = cpu->arena.push(static_cast<size_t>(std::max<int64_t>(bytes, 0)));
  if (!frame) {
    std::fprintf(stderr, "strata: out of memory for a %lld-byte arena frame\n",
                 static_cast<long long>(bytes));
    std::abort();
  }
  return frame;
}

extern "C" void hookArenaRelease(void *context, void *frame) {
  if (!static_cast<CpuContext *>(context)->arena.pop(frame)) {
    std::fprintf(stderr, "strata: arena frames released out of order\n");
    std::abort();
  }
}

/// Starts a pool of `threads` threads (0: one per available CPU) and points
/// the kernel library's hooks (parallel loops, arena) at the session's CPU
/// context. A library has the hooks its code needs, or none.
strata_status_code startThreads(strata_session &s, unsigned threads,
                                strata_status *status) {
  if (threads == 0)
    threads = ThreadPool::availableCpus();
  auto slot = [&](const char *name) {
    return static_cast<void **>(dlsym(s.library, name));
  };
  void **context = slot(STRATA_HOOK_CPU_CONTEXT);
  void **parallel = slot(STRATA_HOOK_CPU_PARALLEL_FOR);
  void **arena = slot(STRATA_HOOK_CPU_ARENA);
  void **arenaRelease = slot(STRATA_HOOK_CPU_ARENA_RELEASE);
  if ((parallel || arena) && !context)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "the kernel library has CPU hooks but no strata_cpu_context");
  if (arena && !arenaRelease)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "the kernel library has strata_cpu_arena but not "
                "strata_cpu_arena_release");
  // Loops run on the caller until the new pool is in.
  if (parallel)
    *parallel = nullptr;
  s.cpu.pool.reset();
  try {
    s.cpu.pool = std::make_unique<ThreadPool>(threads);
  } catch (const std::system_error &e) {
    return fail(status, STRATA_OUT_OF_MEMORY, "cannot start %u threads: %s",
                threads, e.what());
  }
  if (context)
    *context = &s.cpu;
  if (parallel)
    *parallel = reinterpret_cast<void *>(&hookParallelFor);
  if (arena)
    *arena = reinterpret_cast<void *>(&hookArena);
  if (arenaRelease)
    *arenaRelease = reinterpret_cast<void *>(&hookArenaRelease);
  return ok(status);
}
} // namespace

strata_status_code strata_session_create_on(const strata_executable *exe,
                                            strata_device_kind device,
                                            strata_session **out,
                                            strata_status *status) {
  if (!exe || !out)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_create: null argument");
  *out = nullptr;
  const auto *root = exe->root;
  bool cuda = root->target() == strata::fb::Target::Cuda;
  if (device == STRATA_DEVICE_CPU && cuda)
    return fail(status, STRATA_UNSUPPORTED,
                "this executable targets CUDA; a CPU session runs CPU "
                "executables (compile with --target=cpu)");
  if (device == STRATA_DEVICE_CUDA && !cuda)
    return fail(status, STRATA_UNSUPPORTED,
                "this executable targets the CPU; a CUDA session runs CUDA "
                "executables (compile with --target=cuda)");
  if (device != STRATA_DEVICE_AUTO && device != STRATA_DEVICE_CPU &&
      device != STRATA_DEVICE_CUDA)
    return fail(status, STRATA_INVALID_ARGUMENT, "unknown device kind %d",
                static_cast<int>(device));
  const auto *lib = root->kernels()->Get(0);
  try {
    auto session = std::make_unique<strata_session>();
    session->exe = exe;
    int fd = memfd_create("strata-kernels", MFD_CLOEXEC);
    if (fd < 0)
      return fail(status, STRATA_IO_ERROR, "memfd_create failed: %s",
                  std::strerror(errno));
    const uint8_t *data = lib->data()->data();
    size_t size = lib->data()->size();
    size_t written = 0;
    while (written < size) {
      ssize_t n = write(fd, data + written, size - written);
      if (n <= 0) {
        close(fd);
        return fail(status, STRATA_IO_ERROR,
                    "cannot stage the kernel library in memory");
      }
      written += static_cast<size_t>(n);
    }
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    session->library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    close(fd); // the mapping outlives the descriptor
    if (!session->library)
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "the kernel library does not load: %s", dlerror());
    if (cuda) {
      if (strata_status_code code = CudaDevice::open(session->cuda, status))
        return code;
      session->deviceName = "cuda: " + session->cuda->name();
      if (strata_status_code code = session->cuda->loadKernels(root, status))
        return code;
      if (strata_status_code code =
              session->cuda->bindHooks(session->library, status))
        return code;
    } else if (strata_status_code code = startThreads(*session, 0, status)) {
      return code;
    }
    for (const auto *p : *root->parameters())
      session->parameters.emplace_back(static_cast<size_t>(
          strata::runtime::checkedElements(p->shape(), false)));
    *out = session.release();
    return ok(status);
  } catch (const std::bad_alloc &) {
    return fail(status, STRATA_OUT_OF_MEMORY,
                "out of memory allocating the parameters");
  }
}

void strata_session_release(strata_session *session) { delete session; }

strata_status_code strata_session_set_num_threads(strata_session *session,
                                                  unsigned threads,
                                                  strata_status *status) {
  if (!session)
    return fail(status, STRATA_INVALID_ARGUMENT, "null session");
  if (threads > 1024)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%u threads requested; at most 1024 are supported", threads);
  if (session->cuda)
    return ok(status); // the host code of a CUDA executable has no loops
  return startThreads(*session, threads, status);
}

unsigned strata_session_num_threads(const strata_session *session) {
  return session && session->cpu.pool ? session->cpu.pool->threads() : 1;
}

size_t strata_session_workspace_bytes(const strata_session *session) {
  if (!session)
    return 0;
  return session->cuda ? session->cuda->arenaBytes()
                       : session->cpu.arena.bytesHeld();
}

const char *strata_session_device_name(const strata_session *session) {
  return session ? session->deviceName.c_str() : "";
}

double strata_session_last_device_ms(const strata_session *session) {
  return session && session->cuda ? session->cuda->lastMilliseconds() : -1;
}

namespace {
/// Fills parameter `p` from its initializer. Box-Muller on a splitmix64
/// stream keyed by the seed and the name, so a parameter's values do not
/// depend on the others (and a Python reference can reproduce them:
/// test/e2e/model_reference.py).
void initParameter(const strata::fb::Parameter *p, uint64_t seed,
                   std::vector<float> &values) {
  switch (p->init()) {
  case strata::fb::InitKind::Zeros:
    std::fill(values.begin(), values.end(), 0.0f);
    return;
  case strata::fb::InitKind::Ones:
    std::fill(values.begin(), values.end(), 1.0f);
    return;
  case strata::fb::InitKind::Normal:
    break;
  }
  uint64_t state = splitmix64(seed ^ fnv1a64(p->name()->c_str()));
  double stddev = p->init_std();
  for (size_t k = 0; k < values.size(); ++k) {
    state = splitmix64(state);
    double u1 = (static_cast<double>(state >> 11) + 1.0) * 0x1.0p-53;
    state = splitmix64(state);
    double u2 = static_cast<double>(state >> 11) * 0x1.0p-53;
    double normal = std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2);
    values[k] = static_cast<float>(normal * stddev);
  }
}
} // namespace

strata_status_code strata_session_init_parameters(strata_session *session,
                                                  uint64_t seed,
                                                  strata_status *status) {
  if (!session)
    return fail(status, STRATA_INVALID_ARGUMENT, "null session");
  const auto *params = session->exe->root->parameters();
  session->deviceParametersStale = true;
  // Each parameter's stream is sequential but independent of the others:
  // parameters are spread over the cores, largest first, with identical
  // results whatever the thread count.
  std::vector<flatbuffers::uoffset_t> order(params->size());
  for (flatbuffers::uoffset_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) {
    return session->parameters[a].size() > session->parameters[b].size();
  });
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k; (k = next.fetch_add(1)) < order.size();)
      initParameter(params->Get(order[k]), seed, session->parameters[order[k]]);
  };
  std::vector<std::thread> threads;
  unsigned extra = std::min(16u, std::thread::hardware_concurrency());
  try {
    for (unsigned t = 1; t < extra; ++t)
      threads.emplace_back(work);
  } catch (const std::system_error &) {
    // Fewer threads than asked: the ones running and this one finish.
  }
  work();
  for (std::thread &t : threads)
    t.join();
  return ok(status);
}

strata_status_code strata_session_load_parameters(strata_session *session,
                                                  const char *path,
                                                  strata_status *status) {
  if (!session || !path)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_load_parameters: null argument");
  constexpr uint64_t kMaxHeader = 100u << 20;
  try {
    std::unique_ptr<FILE, int (*)(FILE *)> f(std::fopen(path, "rb"),
                                             &std::fclose);
    if (!f)
      return fail(status, STRATA_IO_ERROR, "%s: cannot open: %s", path,
                  std::strerror(errno));
    if (std::fseek(f.get(), 0, SEEK_END) != 0)
      return fail(status, STRATA_IO_ERROR, "%s: not a regular file", path);
    long sizeLong = std::ftell(f.get());
    if (sizeLong < 0)
      return fail(status, STRATA_IO_ERROR, "%s: not a regular file", path);
    uint64_t fileSize = static_cast<uint64_t>(sizeLong);
    std::rewind(f.get());
    uint64_t headerSize = 0;
    if (fileSize < 8 || std::fread(&headerSize, 8, 1, f.get()) != 1)
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "%s: truncated: no safetensors header length", path);
    if (headerSize > kMaxHeader || headerSize > fileSize - 8)
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: header of %llu bytes does not fit in the file (%llu "
                  "bytes) or exceeds the %llu-byte limit",
                  path, (unsigned long long)headerSize,
                  (unsigned long long)fileSize, (unsigned long long)kMaxHeader);
    std::string header(headerSize, '\0');
    if (std::fread(header.data(), 1, headerSize, f.get()) != headerSize)
      return fail(status, STRATA_IO_ERROR, "%s: cannot read the header", path);
    std::vector<strata::runtime::SafetensorsEntry> entries;
    std::string error;
    if (!strata::runtime::parseSafetensorsHeader(header, entries, error))
      return fail(status, STRATA_INVALID_ARGUMENT, "%s: invalid header: %s",
                  path, error.c_str());
    uint64_t dataSize = fileSize - 8 - headerSize;
    // Offsets: inside the data, sized for dtype and shape, contiguous.
    std::vector<const strata::runtime::SafetensorsEntry *> byOffset;
    for (const auto &e : entries) {
      uint64_t elementSize =
          e.dtype == "F32" || e.dtype == "I32"                      ? 4
          : e.dtype == "F16" || e.dtype == "BF16"                   ? 2
          : e.dtype == "F64" || e.dtype == "I64"                    ? 8
          : e.dtype == "I8" || e.dtype == "U8" || e.dtype == "BOOL" ? 1
                                                                    : 0;
      if (!elementSize)
        return fail(status, STRATA_INVALID_ARGUMENT,
                    "%s: tensor '%s' has unknown dtype '%s'", path,
                    e.name.c_str(), e.dtype.c_str());
      uint64_t n = 1;
      for (int64_t d : e.shape) {
        if (d && n > UINT64_MAX / static_cast<uint64_t>(d) / elementSize)
          return fail(status, STRATA_INVALID_ARGUMENT,
                      "%s: tensor '%s' is too large", path, e.name.c_str());
        n *= static_cast<uint64_t>(d);
      }
      if (e.begin > e.end || e.end > dataSize)
        return fail(status, STRATA_INVALID_ARGUMENT,
                    "%s: tensor '%s' has data_offsets [%llu, %llu] outside "
                    "the %llu data bytes (truncated file?)",
                    path, e.name.c_str(), (unsigned long long)e.begin,
                    (unsigned long long)e.end, (unsigned long long)dataSize);
      if (e.end - e.begin != n * elementSize)
        return fail(status, STRATA_INVALID_ARGUMENT,
                    "%s: tensor '%s' holds %llu bytes but its shape and "
                    "dtype need %llu",
                    path, e.name.c_str(), (unsigned long long)(e.end - e.begin),
                    (unsigned long long)(n * elementSize));
      byOffset.push_back(&e);
    }
    std::sort(byOffset.begin(), byOffset.end(),
              [](auto *a, auto *b) { return a->begin < b->begin; });
    uint64_t expected = 0;
    for (const auto *e : byOffset) {
      if (e->begin != expected)
        return fail(status, STRATA_INVALID_ARGUMENT,
                    "%s: tensor '%s' starts at byte %llu; tensors must be "
                    "contiguous and not overlap (expected %llu)",
                    path, e->name.c_str(), (unsigned long long)e->begin,
                    (unsigned long long)expected);
      expected = e->end;
    }
    if (expected != dataSize)
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: %llu data bytes but the tensors cover %llu", path,
                  (unsigned long long)dataSize, (unsigned long long)expected);
    // Every parameter present with its shape; read into new buffers so a
    // failure leaves the session's weights as they were.
    const auto *params = session->exe->root->parameters();
    std::vector<std::vector<float>> loaded(params->size());
    std::map<std::string, const strata::runtime::SafetensorsEntry *> byName;
    for (const auto &e : entries)
      byName[e.name] = &e;
    // Reads one tensor of `shape` (F32) into `dst`.
    auto readTensor = [&](const std::string &name,
                          const std::vector<int64_t> &want,
                          float *dst) -> strata_status_code {
      const auto *found = byName.at(name);
      if (found->shape != want) {
        std::string got, exp;
        for (int64_t d : found->shape)
          got += (got.empty() ? "" : ", ") + std::to_string(d);
        for (int64_t d : want)
          exp += (exp.empty() ? "" : ", ") + std::to_string(d);
        return fail(status, STRATA_INVALID_ARGUMENT,
                    "%s: tensor '%s' has shape [%s], the model needs [%s]",
                    path, name.c_str(), got.c_str(), exp.c_str());
      }
      if (found->dtype != "F32")
        return fail(status, STRATA_UNSUPPORTED,
                    "%s: tensor '%s' is %s; this runtime loads F32 weights",
                    path, name.c_str(), found->dtype.c_str());
      size_t count = (found->end - found->begin) / sizeof(float);
      if (std::fseek(f.get(), static_cast<long>(8 + headerSize + found->begin),
                     SEEK_SET) != 0 ||
          std::fread(dst, sizeof(float), count, f.get()) != count)
        return fail(status, STRATA_IO_ERROR, "%s: cannot read tensor '%s'",
                    path, name.c_str());
      return STRATA_OK;
    };
    for (flatbuffers::uoffset_t i = 0; i < params->size(); ++i) {
      const auto *p = params->Get(i);
      std::string name = p->name()->str();
      std::vector<int64_t> want(p->shape()->begin(), p->shape()->end());
      loaded[i].resize(session->parameters[i].size());
      if (byName.count(name)) {
        if (strata_status_code code = readTensor(name, want, loaded[i].data()))
          return code;
        continue;
      }
      // Routed experts are stacked [E, ...] here; HF checkpoints store one
      // tensor per expert: <prefix>.experts.<e>.<proj>.weight (proj is
      // gate/up/down_proj, or Mixtral's w1/w3/w2).
      size_t cut = name.rfind(".experts.");
      std::string proj = cut == std::string::npos ? "" : name.substr(cut + 9);
      if (want.size() == 3 &&
          (proj == "gate_proj" || proj == "up_proj" || proj == "down_proj" ||
           proj == "w1" || proj == "w2" || proj == "w3")) {
        std::string prefix = name.substr(0, cut) + ".experts.";
        std::vector<int64_t> slice(want.begin() + 1, want.end());
        size_t sliceElements = static_cast<size_t>(slice[0] * slice[1]);
        bool all = true;
        for (int64_t e = 0; e < want[0] && all; ++e)
          all = byName.count(prefix + std::to_string(e) + "." + proj +
                             ".weight") != 0;
        if (all) {
          for (int64_t e = 0; e < want[0]; ++e)
            if (strata_status_code code = readTensor(
                    prefix + std::to_string(e) + "." + proj + ".weight", slice,
                    loaded[i].data() + e * sliceElements))
              return code;
          continue;
        }
        return fail(status, STRATA_INVALID_ARGUMENT,
                    "%s: missing tensor '%s' (or one tensor per expert, "
                    "'%s0.%s.weight' ... '%s%lld.%s.weight')",
                    path, name.c_str(), prefix.c_str(), proj.c_str(),
                    prefix.c_str(), (long long)(want[0] - 1), proj.c_str());
      }
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: missing tensor '%s' (the model needs all %u "
                  "parameters)",
                  path, name.c_str(), params->size());
    }
    session->parameters.swap(loaded);
    session->deviceParametersStale = true;
    return ok(status);
  } catch (const std::bad_alloc &) {
    return fail(status, STRATA_OUT_OF_MEMORY, "%s: out of memory", path);
  }
}

strata_status_code strata_session_save_parameters(strata_session *session,
                                                  const char *path,
                                                  strata_status *status) {
  if (!session || !path)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_save_parameters: null argument");
  const auto *params = session->exe->root->parameters();
  // Header: {"name": {"dtype": "F32", "shape": [...], "data_offsets": [a, b]}}
  // with names escaped for JSON; data follows in table order.
  std::string header = "{";
  uint64_t offset = 0;
  for (flatbuffers::uoffset_t i = 0; i < params->size(); ++i) {
    const auto *p = params->Get(i);
    std::string name;
    for (char c : p->name()->str()) {
      if (c == '"' || c == '\\')
        name += '\\';
      name += c;
    }
    uint64_t bytes = session->parameters[i].size() * sizeof(float);
    header += (i ? "," : "") + std::string("\"") + name +
              "\":{\"dtype\":\"F32\",\"shape\":[";
    for (flatbuffers::uoffset_t d = 0; d < p->shape()->size(); ++d)
      header += (d ? "," : "") + std::to_string(p->shape()->Get(d));
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  while (header.size() % 8)
    header += ' '; // safetensors pads the header to 8 bytes with spaces
  std::string tmp = std::string(path) + ".tmp." + std::to_string(getpid());
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    return fail(status, STRATA_IO_ERROR, "%s: cannot write: %s", tmp.c_str(),
                std::strerror(errno));
  uint64_t headerSize = header.size();
  bool okWrite =
      std::fwrite(&headerSize, 8, 1, f) == 1 &&
      std::fwrite(header.data(), 1, header.size(), f) == header.size();
  for (const std::vector<float> &values : session->parameters)
    okWrite = okWrite && std::fwrite(values.data(), sizeof(float),
                                     values.size(), f) == values.size();
  okWrite = (std::fflush(f) == 0) && okWrite;
  okWrite = (fsync(fileno(f)) == 0) && okWrite;
  okWrite = (std::fclose(f) == 0) && okWrite;
  if (!okWrite || std::rename(tmp.c_str(), path) != 0) {
    std::remove(tmp.c_str());
    return fail(status, STRATA_IO_ERROR, "%s: writing the weights failed: %s",
                path, std::strerror(errno));
  }
  return ok(status);
}

namespace {
/// Copies a strided f32 result (a memref descriptor) out row-major.
void copyRowMajor(const int64_t *d, size_t rank, float *out) {
  const float *base = reinterpret_cast<const float *>(d[1]) + d[2];
  std::vector<int64_t> index(rank, 0);
  int64_t total = 1;
  for (size_t i = 0; i < rank; ++i)
    total *= d[3 + i];
  for (int64_t k = 0; k < total; ++k) {
    int64_t offset = 0;
    for (size_t i = 0; i < rank; ++i)
      offset += index[i] * d[3 + rank + i];
    out[k] = base[offset];
    for (size_t i = rank; i-- > 0;) {
      if (++index[i] < d[3 + i])
        break;
      index[i] = 0;
    }
  }
}
} // namespace

strata_status_code strata_session_call(strata_session *session,
                                       const char *name, float *const *outputs,
                                       const size_t *capacities,
                                       size_t num_outputs,
                                       strata_status *status) {
  if (!session || !name || (num_outputs && (!outputs || !capacities)))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_call: null argument");
  const strata::fb::EntryPoint *ep = findEntry(session->exe, name);
  if (!ep)
    return fail(status, STRATA_NOT_FOUND, "no entry point '%s'", name);
  for (const auto *arg : *ep->arguments())
    if (arg->kind() != strata::fb::ArgumentKind::Parameter)
      return fail(status, STRATA_UNSUPPORTED,
                  "entry point '%s' takes inputs other than parameters; "
                  "call it through forward or generate",
                  name);
  const auto *results = ep->results();
  if (num_outputs != results->size())
    return fail(status, STRATA_INVALID_ARGUMENT,
                "entry point '%s' has %u results, %zu outputs given", name,
                results->size(), num_outputs);
  for (size_t r = 0; r < num_outputs; ++r) {
    int64_t elements =
        strata::runtime::checkedElements(results->Get(r)->shape(), false);
    if (elements < 0)
      return fail(status, STRATA_UNSUPPORTED,
                  "result %zu of '%s' has a dynamic shape; "
                  "strata_session_call needs static results",
                  r, name);
    if (capacities[r] < static_cast<size_t>(elements))
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "output %zu holds %zu floats, %lld needed", r, capacities[r],
                  (long long)elements);
  }
  EntryFn entry;
  if (strata_status_code code = prepareEntry(*session, ep, entry, status))
    return code;
  CallFrame frame(*session);
  for (const auto *arg : *ep->arguments()) {
    frame.addParameter(
        arg->parameter(),
        std::vector<int64_t>(arg->shape()->begin(), arg->shape()->end()));
  }
  Results out;
  if (strata_status_code code = frame.call(entry, ep, out, status))
    return code;
  for (size_t r = 0; r < num_outputs; ++r)
    copyRowMajor(out.words.data() + out.offsets[r],
                 results->Get(r)->shape()->size(), outputs[r]);
  return ok(status);
}

strata_status_code strata_session_forward(strata_session *session,
                                          const int32_t *tokens, size_t batch,
                                          size_t seq, float *logits,
                                          size_t capacity,
                                          strata_status *status) {
  if (!session || !tokens || !logits || batch == 0 || seq == 0)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_forward: null argument or empty input");
  const auto *root = session->exe->root;
  const auto *meta = root->metadata();
  int64_t vocab = meta->vocab_size();
  if (strata_status_code code =
          checkTokens(meta, tokens, batch * seq, seq, status))
    return code;
  size_t needed = batch * seq * static_cast<size_t>(vocab);
  if (capacity < needed)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "logits buffer holds %zu floats, %zu needed", capacity, needed);
  const strata::fb::EntryPoint *forward = findEntry(session->exe, "forward");
  if (!forward)
    return fail(status, STRATA_NOT_FOUND, "the executable has no forward");
  const auto *first = forward->results()->size()
                          ? forward->results()->Get(0)->shape()
                          : nullptr;
  if (!first || first->size() != 3 || first->Get(2) != vocab)
    return fail(status, STRATA_UNSUPPORTED,
                "forward's first result is not the LM logits [batch, seq, "
                "vocab]; this model has no language-model head");
  EntryFn entry;
  if (strata_status_code code = prepareEntry(*session, forward, entry, status))
    return code;
  // Arguments: token ids, then parameters by index.
  CallFrame frame(*session);
  frame.descriptors.reserve(forward->arguments()->size());
  for (const auto *arg : *forward->arguments()) {
    if (arg->kind() == strata::fb::ArgumentKind::Tokens) {
      if (strata_status_code code =
              frame.add(tokens, batch * seq * sizeof(int32_t),
                        {(int64_t)batch, (int64_t)seq}, status))
        return code;
    } else if (arg->kind() == strata::fb::ArgumentKind::Parameter) {
      frame.addParameter(
          arg->parameter(),
          std::vector<int64_t>(arg->shape()->begin(), arg->shape()->end()));
    } else {
      return fail(status, STRATA_UNSUPPORTED,
                  "forward takes labels; this runtime calls it with tokens "
                  "only");
    }
  }
  Results results;
  if (strata_status_code code = frame.call(entry, forward, results, status))
    return code;
  // Copy the LM logits (result 0) out; Results frees the kernel's buffers.
  size_t k = 0;
  for (size_t b = 0; b < batch; ++b)
    for (size_t s = 0; s < seq; ++s)
      for (int64_t v = 0; v < vocab; ++v)
        logits[k++] = results.at3(0, b, s, v);
  return ok(status);
}

void strata_sampling_options_initialize(strata_sampling_options *options) {
  if (!options)
    return;
  options->temperature = 0.0f;
  options->top_k = 0;
  options->top_p = 1.0f;
  options->seed = 0;
}

namespace {

/// Picks the next token from one row of logits.
int32_t sampleToken(const float *logits, int64_t vocab,
                    const strata_sampling_options &opts, uint64_t &state) {
  if (opts.temperature <= 0 || opts.top_k == 1) {
    int32_t best = 0;
    for (int64_t v = 1; v < vocab; ++v)
      if (logits[v] > logits[best])
        best = static_cast<int32_t>(v);
    return best;
  }
  // Probabilities in double, sorted by descending probability (ties by id).
  std::vector<std::pair<double, int32_t>> probs(static_cast<size_t>(vocab));
  double max = logits[0];
  for (int64_t v = 1; v < vocab; ++v)
    max = std::max<double>(max, logits[v]);
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v) {
    double p = std::exp((logits[v] - max) / opts.temperature);
    probs[v] = {p, static_cast<int32_t>(v)};
    sum += p;
  }
  std::sort(probs.begin(), probs.end(), [](const auto &a, const auto &b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  size_t keep = probs.size();
  if (opts.top_k > 0)
    keep = std::min(keep, static_cast<size_t>(opts.top_k));
  if (opts.top_p < 1) {
    double cumulative = 0;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs[i].first / sum;
      if (cumulative >= opts.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept = 0;
  for (size_t i = 0; i < keep; ++i)
    kept += probs[i].first;
  state = splitmix64(state);
  double u = static_cast<double>(state >> 11) * 0x1.0p-53 * kept;
  for (size_t i = 0; i < keep; ++i) {
    u -= probs[i].first;
    if (u < 0)
      return probs[i].second;
  }
  return probs[keep - 1].second;
}

} // namespace

strata_status_code strata_session_use_kv_cache(strata_session *session,
                                               int enabled,
                                               strata_status *status) {
  if (!session)
    return fail(status, STRATA_INVALID_ARGUMENT, "null session");
  session->useKvCache = enabled != 0;
  return ok(status);
}

namespace {

/// Per-layer key/value caches of a batch, [batch, T, width] row-major.
struct KvCache {
  std::vector<std::vector<float>> keys, values;
  int64_t batch = 1;
  int64_t length = 0;

  /// CUDA sessions keep the caches on the device: one buffer per layer and
  /// kind holding `capacity` rows of `width` floats, grown by doubling.
  /// Only the next token's logits cross PCIe per step.
  struct DeviceRows {
    void *data = nullptr;
    int64_t width = 0;
  };
  std::vector<DeviceRows> deviceKeys, deviceValues;
  int64_t capacity = 0;
  CudaDevice *device = nullptr;

  ~KvCache() {
    for (auto *rows : {&deviceKeys, &deviceValues})
      for (DeviceRows &r : *rows)
        if (r.data)
          device->release(r.data);
  }

  /// Room for `rows` positions in every device buffer that exists.
  strata_status_code reserve(int64_t rows, int64_t maxRows,
                             strata_status *status) {
    if (rows <= capacity)
      return STRATA_OK;
    int64_t grown = std::min(std::max({2 * capacity, rows, int64_t(16)}),
                             std::max(maxRows, rows));
    for (auto *all : {&deviceKeys, &deviceValues})
      for (DeviceRows &r : *all) {
        if (!r.data)
          continue;
        size_t rowBytes = static_cast<size_t>(r.width) * sizeof(float);
        void *bigger = device->allocate(grown * rowBytes, status);
        if (!bigger)
          return status ? status->code : STRATA_OUT_OF_MEMORY;
        if (length)
          if (strata_status_code code = device->copyOnDevice(
                  bigger, r.data, length * rowBytes, status)) {
            device->release(bigger);
            return code;
          }
        device->release(r.data);
        r.data = bigger;
      }
    capacity = grown;
    return STRATA_OK;
  }

  /// The device buffer of `layer`'s keys or values, created on first use.
  strata_status_code deviceBuffer(bool keys, size_t layer, int64_t width,
                                  DeviceRows *&out, strata_status *status) {
    auto &all = keys ? deviceKeys : deviceValues;
    if (all.size() <= layer)
      all.resize(layer + 1);
    out = &all[layer];
    if (!out->data) {
      out->width = width;
      out->data = device->allocate(
          static_cast<size_t>(std::max<int64_t>(capacity, 1) * width) *
              sizeof(float),
          status);
      if (!out->data)
        return status ? status->code : STRATA_OUT_OF_MEMORY;
    }
    return STRATA_OK;
  }
};

/// Appends decode's new rows (device results 1.., keys and values by
/// layer) to the device caches and releases them; clears their pointers.
strata_status_code appendDeviceRows(CudaDevice &device, Results &results,
                                    int64_t n, KvCache &cache,
                                    strata_status *status) {
  strata_status_code code = STRATA_OK;
  for (size_t r = 1; r < results.offsets.size(); ++r) {
    int64_t *d = results.words.data() + results.offsets[r];
    size_t layer = (r - 1) / 2;
    auto &rows = r % 2 ? cache.deviceKeys : cache.deviceValues;
    int64_t width = d[3 + 2];
    // The rows must be one contiguous [1, n, width] block.
    bool contiguous = d[3 + 3 + 2] == 1 && (n == 1 || d[3 + 3 + 1] == width);
    if (code == STRATA_OK &&
        (layer >= rows.size() || rows[layer].width != width || !contiguous))
      code = fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "decode result %zu does not match its cache", r);
    if (code == STRATA_OK && n)
      code = device.copyOnDevice(
          static_cast<float *>(rows[layer].data) + cache.length * width,
          reinterpret_cast<float *>(d[1]) + d[2],
          static_cast<size_t>(n * width) * sizeof(float), status);
    device.release(reinterpret_cast<void *>(d[0]));
    d[0] = d[1] = 0;
  }
  if (code == STRATA_OK)
    cache.length += n;
  return code;
}

/// One decode call: `count` new tokens per row of the cache's batch
/// ([batch, count] row-major) at `positions`, with `padding` leading
/// padding positions per row.
struct DecodeInput {
  const int32_t *tokens;
  size_t count;
  const int32_t *positions;
  const int32_t *padding;
};

/// Appends the batch's new rows (results 1.., keys and values by layer)
/// to the host caches: [B, T, W] + [B, n, W] -> [B, T + n, W].
void appendHostRows(const Results &results, int64_t n, KvCache &cache) {
  const int64_t batch = cache.batch, length = cache.length;
  for (size_t r = 1; r < results.offsets.size(); ++r) {
    size_t layer = (r - 1) / 2;
    auto &all = r % 2 ? cache.keys : cache.values;
    if (all.size() <= layer)
      all.resize(layer + 1);
    std::vector<float> &rows = all[layer];
    int64_t width = results.words[results.offsets[r] + 3 + 2];
    auto appendRow = [&](std::vector<float> &to, int64_t b) {
      for (int64_t s = 0; s < n; ++s)
        for (int64_t j = 0; j < width; ++j)
          to.push_back(results.at3(r, b, s, j));
    };
    if (batch == 1) {
      appendRow(rows, 0);
      continue;
    }
    std::vector<float> grown;
    grown.reserve(static_cast<size_t>(batch * (length + n) * width));
    for (int64_t b = 0; b < batch; ++b) {
      auto from = rows.begin() + b * length * width;
      grown.insert(grown.end(), from, from + length * width);
      appendRow(grown, b);
    }
    rows.swap(grown);
  }
  cache.length += n;
}

/// Runs `decode` on the input's tokens: writes each row's last logits to
/// `last` ([batch, vocab]) and appends the new rows to the cache.
strata_status_code decodeStep(strata_session *session,
                              const strata::fb::EntryPoint *decode,
                              const DecodeInput &in, KvCache &cache,
                              std::vector<float> &last, strata_status *status) {
  EntryFn entry;
  if (strata_status_code code = prepareEntry(*session, decode, entry, status))
    return code;
  const int64_t n = static_cast<int64_t>(in.count), batch = cache.batch;
  if (session->cuda) {
    if (batch != 1)
      return fail(status, STRATA_UNSUPPORTED,
                  "batched decode is not implemented on CUDA yet");
    cache.device = session->cuda.get();
    if (strata_status_code code = cache.reserve(
            cache.length + n, session->exe->root->metadata()->max_seq_len(),
            status))
      return code;
  }
  static float empty[1];
  CallFrame frame(*session);
  frame.descriptors.reserve(decode->arguments()->size());
  const size_t cells = static_cast<size_t>(batch * n) * sizeof(int32_t);
  for (const auto *arg : *decode->arguments()) {
    using strata::fb::ArgumentKind;
    strata_status_code code = STRATA_OK;
    switch (arg->kind()) {
    case ArgumentKind::Tokens:
      code = frame.add(in.tokens, cells, {batch, n}, status);
      break;
    case ArgumentKind::Positions:
      code = frame.add(in.positions, cells, {batch, n}, status);
      break;
    case ArgumentKind::KeyPadding:
      code = frame.add(in.padding, batch * sizeof(int32_t), {batch}, status);
      break;
    case ArgumentKind::KeyCache:
    case ArgumentKind::ValueCache: {
      size_t layer = static_cast<size_t>(arg->layer());
      if (session->cuda) {
        KvCache::DeviceRows *rows = nullptr;
        code = cache.deviceBuffer(arg->kind() == ArgumentKind::KeyCache, layer,
                                  arg->shape()->Get(2), rows, status);
        if (!code)
          frame.addDevice(rows->data, {1, cache.length, arg->shape()->Get(2)});
        break;
      }
      auto &rows =
          arg->kind() == ArgumentKind::KeyCache ? cache.keys : cache.values;
      if (rows.size() <= layer)
        rows.resize(layer + 1);
      float *data = rows[layer].empty() ? empty : rows[layer].data();
      code = frame.add(data, rows[layer].size() * sizeof(float),
                       {batch, cache.length, arg->shape()->Get(2)}, status);
      break;
    }
    case ArgumentKind::Parameter:
      frame.addParameter(
          arg->parameter(),
          std::vector<int64_t>(arg->shape()->begin(), arg->shape()->end()));
      break;
    default:
      return fail(status, STRATA_UNSUPPORTED,
                  "decode takes an argument this runtime cannot supply");
    }
    if (code)
      return code;
  }
  Results results;
  // On CUDA the new cache rows stay on the device.
  std::vector<bool> keep(decode->results()->size(), session->cuda != nullptr);
  if (!keep.empty())
    keep[0] = false;
  if (strata_status_code code =
          frame.call(entry, decode, results, status, keep))
    return code;
  int64_t vocab = session->exe->root->metadata()->vocab_size();
  last.resize(static_cast<size_t>(batch * vocab));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t v = 0; v < vocab; ++v)
      last[b * vocab + v] = results.at3(0, b, n - 1, v);
  if (session->cuda)
    return appendDeviceRows(*session->cuda, results, n, cache, status);
  appendHostRows(results, n, cache);
  return STRATA_OK;
}

/// `options`, or the greedy defaults when null, checked.
strata_status_code resolveSampling(const strata_sampling_options *options,
                                   strata_sampling_options &opts,
                                   strata_status *status) {
  strata_sampling_options_initialize(&opts);
  if (options)
    opts = *options;
  if (!(opts.temperature >= 0) || opts.top_k < 0 ||
      !(opts.top_p > 0 && opts.top_p <= 1))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "sampling options out of range: temperature %g (>= 0), "
                "top_k %d (>= 0), top_p %g (in (0, 1])",
                opts.temperature, opts.top_k, opts.top_p);
  return STRATA_OK;
}

/// Whether `decode` can run a left-padded batch (executables compiled
/// before key padding existed cannot).
bool takesKeyPadding(const strata::fb::EntryPoint *decode) {
  for (const auto *arg : *decode->arguments())
    if (arg->kind() == strata::fb::ArgumentKind::KeyPadding)
      return true;
  return false;
}

} // namespace

strata_status_code
strata_session_generate(strata_session *session, const int32_t *prompt,
                        size_t prompt_length, size_t max_new_tokens,
                        const strata_sampling_options *options, int32_t *out,
                        size_t *out_count, strata_status *status) {
  if (!session || !prompt || !out_count || (max_new_tokens && !out) ||
      prompt_length == 0)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_generate: null argument or empty prompt");
  strata_sampling_options opts;
  if (strata_status_code code = resolveSampling(options, opts, status))
    return code;
  *out_count = 0;
  const auto *meta = session->exe->root->metadata();
  int64_t vocab = meta->vocab_size();
  uint64_t state = splitmix64(opts.seed);
  if (strata_status_code code =
          checkTokens(meta, prompt, prompt_length, prompt_length, status))
    return code;
  try {
    const strata::fb::EntryPoint *decode = findEntry(session->exe, "decode");
    if (decode && session->useKvCache) {
      // Prefill the cache with the prompt, then one token per step.
      KvCache cache;
      std::vector<float> last;
      const int32_t *step = prompt;
      size_t count = prompt_length;
      int32_t next = 0, noPadding = 0;
      std::vector<int32_t> positions;
      for (size_t i = 0; i < max_new_tokens; ++i) {
        // As without a cache: stop once the sequence fills the model.
        if (cache.length + static_cast<int64_t>(count) >= meta->max_seq_len())
          break;
        positions.resize(count);
        for (size_t p = 0; p < count; ++p)
          positions[p] = static_cast<int32_t>(cache.length + p);
        DecodeInput in{step, count, positions.data(), &noPadding};
        if (strata_status_code code =
                decodeStep(session, decode, in, cache, last, status))
          return code;
        next = sampleToken(last.data(), vocab, opts, state);
        out[(*out_count)++] = next;
        if (next == meta->eos_token_id())
          break;
        step = &next;
        count = 1;
      }
      return ok(status);
    }
    std::vector<int32_t> sequence(prompt, prompt + prompt_length);
    std::vector<float> logits;
    // Without a cache each step recomputes the whole sequence.
    for (size_t step = 0; step < max_new_tokens; ++step) {
      if (static_cast<int64_t>(sequence.size()) >= meta->max_seq_len())
        break;
      logits.resize(sequence.size() * static_cast<size_t>(vocab));
      if (strata_status_code code = strata_session_forward(
              session, sequence.data(), 1, sequence.size(), logits.data(),
              logits.size(), status))
        return code;
      int32_t next = sampleToken(logits.data() + (sequence.size() - 1) * vocab,
                                 vocab, opts, state);
      out[(*out_count)++] = next;
      sequence.push_back(next);
      if (next == meta->eos_token_id())
        break;
    }
    return ok(status);
  } catch (const std::bad_alloc &) {
    return fail(status, STRATA_OUT_OF_MEMORY, "out of memory generating");
  }
}

namespace {
/// The batch one sequence at a time: each row as strata_session_generate
/// with seed + row.
strata_status_code
generateEachAlone(strata_session *session, const int32_t *const *prompts,
                  const size_t *lengths, size_t batch, size_t maxNew,
                  const strata_sampling_options &opts, int32_t *out,
                  size_t *outCounts, strata_status *status) {
  for (size_t b = 0; b < batch; ++b) {
    strata_sampling_options row = opts;
    row.seed = opts.seed + b;
    if (strata_status_code code = strata_session_generate(
            session, prompts[b], lengths[b], maxNew, &row, out + b * maxNew,
            &outCounts[b], status))
      return code;
  }
  return STRATA_OK;
}
} // namespace

strata_status_code strata_session_generate_batch(
    strata_session *session, const int32_t *const *prompts,
    const size_t *prompt_lengths, size_t batch, size_t max_new_tokens,
    const strata_sampling_options *options, int32_t *out, size_t *out_counts,
    strata_status *status) {
  if (!session || !prompts || !prompt_lengths || !out_counts || batch == 0 ||
      (max_new_tokens && !out))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_generate_batch: null argument or empty batch");
  strata_sampling_options opts;
  if (strata_status_code code = resolveSampling(options, opts, status))
    return code;
  const auto *meta = session->exe->root->metadata();
  size_t longest = 0;
  for (size_t b = 0; b < batch; ++b) {
    out_counts[b] = 0;
    if (!prompts[b] || prompt_lengths[b] == 0)
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "sequence %zu of the batch is null or empty", b);
    if (strata_status_code code = checkTokens(
            meta, prompts[b], prompt_lengths[b], prompt_lengths[b], status)) {
      std::string message = status ? status->message : "";
      return fail(status, code, "sequence %zu of the batch: %s", b,
                  message.c_str());
    }
    longest = std::max(longest, prompt_lengths[b]);
  }
  const strata::fb::EntryPoint *decode = findEntry(session->exe, "decode");
  // Without a batched cache (recomputing models, CUDA, older
  // executables), the rows run one after another: same tokens.
  if (!decode || !session->useKvCache || session->cuda ||
      !takesKeyPadding(decode) || batch == 1) {
    if (strata_status_code code =
            generateEachAlone(session, prompts, prompt_lengths, batch,
                              max_new_tokens, opts, out, out_counts, status))
      return code;
    return ok(status);
  }
  try {
    const int64_t vocab = meta->vocab_size(), maxSeq = meta->max_seq_len();
    const size_t B = batch;
    // Prefill: prompts left-padded to the longest (padding id 0, hidden by
    // the key-padding mask), positions counted from each prompt's start.
    std::vector<int32_t> tokens(B * longest, 0), positions(B * longest, 0),
        padding(B);
    for (size_t b = 0; b < B; ++b) {
      size_t pad = longest - prompt_lengths[b];
      padding[b] = static_cast<int32_t>(pad);
      for (size_t t = 0; t < prompt_lengths[b]; ++t) {
        tokens[b * longest + pad + t] = prompts[b][t];
        positions[b * longest + pad + t] = static_cast<int32_t>(t);
      }
    }
    std::vector<uint64_t> rng(B);
    std::vector<bool> done(B, false);
    for (size_t b = 0; b < B; ++b)
      rng[b] = splitmix64(opts.seed + b);
    KvCache cache;
    cache.batch = static_cast<int64_t>(B);
    std::vector<float> last;
    size_t count = longest;
    for (size_t i = 0; i < max_new_tokens; ++i) {
      // Each row stops, as alone, once its sequence fills the model.
      bool active = false;
      for (size_t b = 0; b < B; ++b) {
        if (static_cast<int64_t>(prompt_lengths[b] + i) >= maxSeq)
          done[b] = true;
        active |= !done[b];
      }
      if (!active)
        break;
      DecodeInput in{tokens.data(), count, positions.data(), padding.data()};
      if (strata_status_code code =
              decodeStep(session, decode, in, cache, last, status))
        return code;
      tokens.assign(B, 0);
      positions.assign(B, 0);
      for (size_t b = 0; b < B; ++b) {
        positions[b] = static_cast<int32_t>(prompt_lengths[b] + i);
        if (done[b])
          continue; // finished rows keep step with the batch
        int32_t next =
            sampleToken(last.data() + b * vocab, vocab, opts, rng[b]);
        out[b * max_new_tokens + out_counts[b]++] = next;
        tokens[b] = next;
        if (next == meta->eos_token_id())
          done[b] = true;
      }
      count = 1;
    }
    return ok(status);
  } catch (const std::bad_alloc &) {
    return fail(status, STRATA_OUT_OF_MEMORY, "out of memory generating");
  }
}

strata_status_code
strata_session_generate_greedy(strata_session *session, const int32_t *prompt,
                               size_t prompt_length, size_t max_new_tokens,
                               int32_t *out, size_t *out_count,
                               strata_status *status) {
  return strata_session_generate(session, prompt, prompt_length, max_new_tokens,
                                 nullptr, out, out_count, status);
}

} // extern "C"

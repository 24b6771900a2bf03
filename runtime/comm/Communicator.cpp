//===- Communicator.cpp - single-process groups and plugin backends -------===//

#include "runtime/comm/Communicator.h"
#include "runtime/Internal.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <vector>

using namespace strata::runtime;

Communicator::~Communicator() = default;

strata_status_code Communicator::send(const void *, size_t, int, int,
                                      strata_status *status) {
  return fail(status, STRATA_UNSUPPORTED,
              "this group of %d ranks does not send point to point", size());
}

strata_status_code Communicator::recv(void *, size_t, int, int,
                                      strata_status *status) {
  return fail(status, STRATA_UNSUPPORTED,
              "this group of %d ranks does not receive point to point", size());
}

strata_status_code Communicator::waitSends(strata_status *status) {
  return ok(status);
}

namespace {
/// The tag of allToAllV's messages, apart from the pipeline's.
constexpr int kAllToAllTag = 0x4550;
} // namespace

strata_status_code Communicator::allToAllV(const void *send,
                                           const size_t *sendBytes, void *recv,
                                           const size_t *recvBytes,
                                           strata_status *status) {
  int n = size(), me = rank();
  std::vector<size_t> sendAt(n + 1, 0), recvAt(n + 1, 0);
  for (int p = 0; p < n; ++p) {
    sendAt[p + 1] = sendAt[p] + sendBytes[p];
    recvAt[p + 1] = recvAt[p] + recvBytes[p];
  }
  if (sendBytes[me] != recvBytes[me])
    return fail(status, STRATA_INTERNAL_ERROR,
                "all-to-all: rank %d sends itself %zu bytes but expects %zu",
                worldRank(me), sendBytes[me], recvBytes[me]);
  const auto *in = static_cast<const char *>(send);
  auto *out = static_cast<char *>(recv);
  // Sends start first and complete in the background (the plugin keeps
  // them until waitSends), so no pair of ranks waits on each other.
  for (int p = 0; p < n; ++p)
    if (p != me && sendBytes[p] > 0)
      if (strata_status_code code =
              this->send(in + sendAt[p], sendBytes[p], p, kAllToAllTag, status))
        return code;
  if (sendBytes[me] > 0)
    std::memcpy(out + recvAt[me], in + sendAt[me], sendBytes[me]);
  for (int p = 0; p < n; ++p)
    if (p != me && recvBytes[p] > 0)
      if (strata_status_code code = this->recv(out + recvAt[p], recvBytes[p], p,
                                               kAllToAllTag, status))
        return code;
  return waitSends(status);
}

namespace {

class SingleCommunicator final : public Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int worldRank(int) const override { return 0; }
  strata_status_code split(int, int, std::unique_ptr<Communicator> &out,
                           strata_status *status) override {
    out = std::make_unique<SingleCommunicator>();
    return ok(status);
  }
  strata_status_code allReduceSum(void *, size_t, strata_comm_dtype,
                                  strata_status *status) override {
    return ok(status);
  }
  strata_status_code reduceSum(void *, size_t, strata_comm_dtype, int,
                               strata_status *status) override {
    return ok(status);
  }
  strata_status_code allGather(const void *send, void *recv, size_t bytes,
                               strata_status *status) override {
    if (bytes)
      std::memmove(recv, send, bytes);
    return ok(status);
  }
  strata_status_code broadcast(void *, size_t, int,
                               strata_status *status) override {
    return ok(status);
  }
  strata_status_code barrier(strata_status *status) override {
    return ok(status);
  }
};

/// A group of the plugin's; frees its handle unless it is the world's.
class PluginCommunicator final : public Communicator {
public:
  PluginCommunicator(const strata_comm_plugin *plugin, strata_comm *handle,
                     double timeout, bool owned)
      : plugin(plugin), handle(handle), timeout(timeout), owned(owned) {}
  ~PluginCommunicator() override {
    if (owned)
      plugin->free_comm(handle);
  }
  int rank() const override { return plugin->rank(handle); }
  int size() const override { return plugin->size(handle); }
  int worldRank(int rank) const override {
    return plugin->world_rank(handle, rank);
  }
  strata_status_code split(int color, int key,
                           std::unique_ptr<Communicator> &out,
                           strata_status *status) override {
    strata_comm *part = nullptr;
    if (plugin->split(handle, color, key, &part, error, sizeof(error)))
      return failed("split", status);
    out = std::make_unique<PluginCommunicator>(plugin, part, timeout, true);
    return ok(status);
  }
  strata_status_code allReduceSum(void *data, size_t count,
                                  strata_comm_dtype dtype,
                                  strata_status *status) override {
    if (plugin->all_reduce_sum(handle, data, count, dtype, timeout, error,
                               sizeof(error)))
      return failed("all_reduce", status);
    return ok(status);
  }
  strata_status_code reduceSum(void *data, size_t count,
                               strata_comm_dtype dtype, int root,
                               strata_status *status) override {
    if (plugin->reduce_sum(handle, data, count, dtype, root, timeout, error,
                           sizeof(error)))
      return failed("reduce", status);
    return ok(status);
  }
  strata_status_code allGather(const void *send, void *recv, size_t bytes,
                               strata_status *status) override {
    if (plugin->all_gather(handle, send, recv, bytes, timeout, error,
                           sizeof(error)))
      return failed("all_gather", status);
    return ok(status);
  }
  strata_status_code broadcast(void *data, size_t bytes, int root,
                               strata_status *status) override {
    if (plugin->broadcast(handle, data, bytes, root, timeout, error,
                          sizeof(error)))
      return failed("broadcast", status);
    return ok(status);
  }
  strata_status_code barrier(strata_status *status) override {
    if (plugin->barrier(handle, timeout, error, sizeof(error)))
      return failed("barrier", status);
    return ok(status);
  }
  strata_status_code send(const void *data, size_t bytes, int peer, int tag,
                          strata_status *status) override {
    if (plugin->send(handle, data, bytes, peer, tag, error, sizeof(error)))
      return failed("send", status);
    return ok(status);
  }
  strata_status_code recv(void *data, size_t bytes, int peer, int tag,
                          strata_status *status) override {
    if (plugin->recv(handle, data, bytes, peer, tag, timeout, error,
                     sizeof(error)))
      return failed("recv", status);
    return ok(status);
  }
  strata_status_code waitSends(strata_status *status) override {
    if (plugin->wait_sends(handle, timeout, error, sizeof(error)))
      return failed("wait_sends", status);
    return ok(status);
  }

private:
  strata_status_code failed(const char *what, strata_status *status) {
    error[sizeof(error) - 1] = 0;
    return fail(status, STRATA_COMMUNICATION_ERROR, "rank %d: %s%s",
                plugin->world_rank(handle, plugin->rank(handle)),
                error[0] ? "" : what, error);
  }

  const strata_comm_plugin *plugin;
  strata_comm *handle;
  double timeout;
  bool owned;
  char error[400] = {};
};

/// Directories a plugin may be in: the given one, else $STRATA_PLUGIN_DIR,
/// else the runtime's own directory and ../lib beside it (strata-run in
/// bin/, the plugins in lib/, in the build tree as when installed).
std::vector<std::string> pluginDirectories(const std::string &given) {
  if (!given.empty())
    return {given};
  if (const char *env = std::getenv("STRATA_PLUGIN_DIR"); env && *env)
    return {env};
  std::vector<std::string> dirs;
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&launchedWorldSize), &info) &&
      info.dli_fname) {
    std::string self = info.dli_fname;
    std::string dir = self.substr(0, self.find_last_of('/') + 1);
    if (dir.empty())
      dir = "./";
    dirs.push_back(dir);
    dirs.push_back(dir + "../lib/");
  }
  return dirs;
}

} // namespace

std::unique_ptr<Communicator> strata::runtime::makeSingleCommunicator() {
  return std::make_unique<SingleCommunicator>();
}

CommBackend::~CommBackend() {
  worldGroup.reset();
  if (plugin) {
    plugin->free_comm(worldHandle);
    plugin->finalize();
  }
  // The library stays loaded: MPI implementations do not survive being
  // unloaded and loaded again in one process.
}

strata_status_code CommBackend::open(const std::string &name,
                                     const std::string &pluginDir,
                                     double timeoutSeconds,
                                     std::unique_ptr<CommBackend> &out,
                                     strata_status *status) {
  std::string file = "libstrata_comm_" + name + ".so";
  std::string tried, dlError;
  void *library = nullptr;
  for (const std::string &dir : pluginDirectories(pluginDir)) {
    std::string path = dir + (dir.back() == '/' ? "" : "/") + file;
    tried += (tried.empty() ? "" : ", ") + path;
    // RTLD_GLOBAL: MPI's own components are plugins that resolve MPI's
    // symbols through the global scope.
    library = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (library)
      break;
    dlError = dlerror();
  }
  if (!library)
    return fail(status, STRATA_NOT_FOUND,
                "the '%s' communication backend is not available: cannot "
                "load %s (tried %s; last error: %s). Build it (the %s "
                "development files must be installed when Strata is built) "
                "or point STRATA_PLUGIN_DIR at it",
                name.c_str(), file.c_str(), tried.c_str(), dlError.c_str(),
                name == "mpi" ? "Open MPI" : name.c_str());
  auto entry = reinterpret_cast<strata_comm_plugin_entry>(
      dlsym(library, STRATA_COMM_PLUGIN_ENTRY));
  const strata_comm_plugin *plugin = entry ? entry() : nullptr;
  if (!plugin || plugin->abi_version != STRATA_COMM_ABI_VERSION)
    return fail(status, STRATA_UNSUPPORTED,
                "%s is not a Strata communication backend of this runtime's "
                "version (plugin ABI %u, want %u): rebuild it with this "
                "runtime",
                file.c_str(), plugin ? plugin->abi_version : 0u,
                STRATA_COMM_ABI_VERSION);
  char error[400] = {};
  strata_comm *world = nullptr;
  if (plugin->init_world(&world, error, sizeof(error)))
    return fail(status, STRATA_COMMUNICATION_ERROR,
                "the '%s' backend could not join the launched ranks: %s",
                name.c_str(), error);
  std::unique_ptr<CommBackend> backend(new CommBackend);
  backend->library = library;
  backend->plugin = plugin;
  backend->worldHandle = world;
  backend->worldGroup = std::make_unique<PluginCommunicator>(
      plugin, world, timeoutSeconds, /*owned=*/false);
  backend->backendName = name;
  out = std::move(backend);
  return ok(status);
}

void CommBackend::abortAll(int exitCode) {
  plugin->abort_all(worldHandle, exitCode);
  std::_Exit(exitCode); // a backend whose abort returned
}

int strata::runtime::launchedWorldSize() {
  // Open MPI, then PMI (MPICH's hydra, srun). Not SLURM_NTASKS: a batch
  // script's process started without srun has it too.
  for (const char *name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char *v = std::getenv(name); v && *v) {
      char *end = nullptr;
      long n = std::strtol(v, &end, 10);
      if (end && *end == 0 && n >= 1 && n <= (1 << 20))
        return static_cast<int>(n);
    }
  }
  return 1;
}

//===- Communicator.h - a group of ranks and its collectives ----*- C++ -*-===//
//
// What the runtime's parallel steps call: a group of ranks (the world, or
// one axis of the mesh) and the collectives over it. A single process is a
// group of one whose collectives are no-ops; launched ranks talk through a
// backend plugin (CommPlugin.h) opened with dlopen, so the runtime links no
// MPI or NCCL.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_COMM_COMMUNICATOR_H
#define STRATA_RUNTIME_COMM_COMMUNICATOR_H

#include "runtime/comm/CommPlugin.h"
#include "runtime/strata.h"

#include <memory>
#include <string>

namespace strata::runtime {

class Communicator {
public:
  virtual ~Communicator();
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// The world rank of this group's rank `rank` (for messages).
  virtual int worldRank(int rank) const = 0;
  /// Collective: the ranks passing the same color, ordered by key.
  virtual strata_status_code split(int color, int key,
                                   std::unique_ptr<Communicator> &out,
                                   strata_status *status) = 0;
  /// In place, element-wise sum over the group.
  virtual strata_status_code allReduceSum(void *data, size_t count,
                                          strata_comm_dtype dtype,
                                          strata_status *status) = 0;
  /// In place at `root`: the element-wise sum over the group.
  virtual strata_status_code reduceSum(void *data, size_t count,
                                       strata_comm_dtype dtype, int root,
                                       strata_status *status) = 0;
  /// Each rank's `bytes` of `send` into `recv`, in rank order.
  virtual strata_status_code allGather(const void *send, void *recv,
                                       size_t bytes,
                                       strata_status *status) = 0;
  virtual strata_status_code broadcast(void *data, size_t bytes, int root,
                                       strata_status *status) = 0;
  virtual strata_status_code barrier(strata_status *status) = 0;
  /// Point to point (pipeline stages): starts sending `bytes` at `data` to
  /// rank `peer`; `data` must stay unchanged until waitSends. Messages of
  /// one tag between two ranks arrive in order. Groups without a peer to
  /// send to (a group of one, NCCL's data-parallel groups) refuse.
  virtual strata_status_code send(const void *data, size_t bytes, int peer,
                                  int tag, strata_status *status);
  /// Receives exactly `bytes` from `peer` with `tag`.
  virtual strata_status_code recv(void *data, size_t bytes, int peer, int tag,
                                  strata_status *status);
  /// Until every send started has completed.
  virtual strata_status_code waitSends(strata_status *status);
  /// Collective: rank r's `sendBytes[p]` bytes (packed in rank order in
  /// `send`) go to rank p, which receives `recvBytes[r]` of them (packed
  /// in rank order in `recv`). Both sides must agree on every count; empty
  /// messages are not sent. Built on send/recv (the rank's own part is
  /// copied), so groups that refuse those refuse it unless they are alone.
  strata_status_code allToAllV(const void *send, const size_t *sendBytes,
                               void *recv, const size_t *recvBytes,
                               strata_status *status);
};

/// The group of one process.
std::unique_ptr<Communicator> makeSingleCommunicator();

/// A loaded backend: the plugin's library and the world it initialised.
/// Groups made from it (split) must be destroyed before it.
class CommBackend {
public:
  ~CommBackend();
  /// Opens libstrata_comm_<name>.so from `pluginDir` (else
  /// $STRATA_PLUGIN_DIR, else beside the runtime) and joins the world.
  static strata_status_code open(const std::string &name,
                                 const std::string &pluginDir,
                                 double timeoutSeconds,
                                 std::unique_ptr<CommBackend> &out,
                                 strata_status *status);
  Communicator &world() { return *worldGroup; }
  const std::string &name() const { return backendName; }
  /// Ends every launched rank; does not return.
  [[noreturn]] void abortAll(int exitCode);

private:
  CommBackend() = default;
  void *library = nullptr;
  const strata_comm_plugin *plugin = nullptr;
  strata_comm *worldHandle = nullptr;
  std::unique_ptr<Communicator> worldGroup;
  std::string backendName;
};

/// How this process was started: the world size a launcher (mpirun,
/// srun with PMI) announces in the environment, or 1.
int launchedWorldSize();

} // namespace strata::runtime

#endif // STRATA_RUNTIME_COMM_COMMUNICATOR_H

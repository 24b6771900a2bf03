//===- MpiPlugin.cpp - collectives over MPI (libstrata_comm_mpi.so) -------===//
//
// The CPU ranks' backend: every collective is MPI's non-blocking form,
// polled until it completes or its timeout passes. A rank that gives up
// tells the others where it waits and listens for a moment for the same
// from them; whoever stays silent is named as the rank that died or hangs.
// The runtime then ends the launch (abort_all), so nobody waits forever.
//
//===----------------------------------------------------------------------===//

#include "runtime/comm/CommPlugin.h"

// The C API only: MPI's C++ bindings would pull in libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

struct strata_comm {
  MPI_Comm comm = MPI_COMM_NULL;
  /// A duplicate for the notices of a timed-out rank, apart from the
  /// collectives' traffic.
  MPI_Comm control = MPI_COMM_NULL;
  int rank = 0, size = 1;
  std::vector<int> worldRanks; ///< by group rank
  uint64_t calls = 0;          ///< collectives started, for messages
  uint64_t notice = 0; ///< what a timed-out rank sends (outlives the sends)
  std::vector<MPI_Request> sends; ///< started by send, until wait_sends
};

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kNoticeTag = 0x5157;

int report(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int report(char *err, size_t size, const char *fmt, ...) {
  if (err && size) {
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(err, size, fmt, args);
    va_end(args);
  }
  return 1;
}

int mpiError(int code, const char *what, char *err, size_t size) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return report(err, size, "%s failed: %.*s", what, length, text);
}

MPI_Datatype mpiType(strata_comm_dtype dtype) {
  switch (dtype) {
  case STRATA_COMM_F32:
    return MPI_FLOAT;
  case STRATA_COMM_F64:
    return MPI_DOUBLE;
  case STRATA_COMM_I32:
    return MPI_INT32_T;
  case STRATA_COMM_I64:
    return MPI_INT64_T;
  case STRATA_COMM_U8:
    return MPI_UINT8_T;
  }
  return MPI_DATATYPE_NULL;
}

size_t elementBytes(strata_comm_dtype dtype) {
  return dtype == STRATA_COMM_F64 || dtype == STRATA_COMM_I64 ? 8
         : dtype == STRATA_COMM_U8                           ? 1
                                                             : 4;
}

int makeComm(MPI_Comm comm, strata_comm **out, char *err, size_t size) {
  auto *c = new strata_comm;
  c->comm = comm;
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  if (int code = MPI_Comm_dup(comm, &c->control)) {
    delete c;
    return mpiError(code, "MPI_Comm_dup", err, size);
  }
  MPI_Comm_rank(comm, &c->rank);
  MPI_Comm_size(comm, &c->size);
  MPI_Group group, world;
  MPI_Comm_group(comm, &group);
  MPI_Comm_group(MPI_COMM_WORLD, &world);
  std::vector<int> ranks(c->size);
  for (int i = 0; i < c->size; ++i)
    ranks[i] = i;
  c->worldRanks.resize(c->size);
  MPI_Group_translate_ranks(group, c->size, ranks.data(), world,
                            c->worldRanks.data());
  MPI_Group_free(&group);
  MPI_Group_free(&world);
  *out = c;
  return 0;
}

/// After a timeout: every rank of the group still in this collective
/// hears where this one waits; the ranks not heard from within `grace`
/// seconds are the ones that never came.
std::string silentRanks(strata_comm *c, double grace) {
  // The sends to silent ranks never complete (the launch ends next), so
  // their buffer lives in the group.
  c->notice = c->calls;
  for (int r = 0; r < c->size; ++r) {
    if (r == c->rank)
      continue;
    MPI_Request request;
    MPI_Isend(&c->notice, 1, MPI_UINT64_T, r, kNoticeTag, c->control,
              &request);
    MPI_Request_free(&request);
  }
  std::vector<char> heard(c->size, 0);
  heard[c->rank] = 1;
  int missing = c->size - 1;
  auto until = Clock::now() + std::chrono::duration<double>(grace);
  while (missing > 0 && Clock::now() < until) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, kNoticeTag, c->control, &flag, &st);
    if (!flag) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    uint64_t theirs;
    MPI_Recv(&theirs, 1, MPI_UINT64_T, st.MPI_SOURCE, kNoticeTag, c->control,
             MPI_STATUS_IGNORE);
    if (!heard[st.MPI_SOURCE]) {
      heard[st.MPI_SOURCE] = 1;
      --missing;
    }
  }
  std::string names;
  for (int r = 0; r < c->size; ++r)
    if (!heard[r])
      names += (names.empty() ? "" : ", ") + std::to_string(c->worldRanks[r]);
  return names;
}

/// Polls `request` until it completes or `timeout` seconds pass.
int await(strata_comm *c, MPI_Request &request, const char *what,
          double timeout, char *err, size_t size) {
  auto start = Clock::now();
  auto until = start + std::chrono::duration<double>(timeout);
  for (unsigned polls = 0;; ++polls) {
    int done = 0;
    // Each test also progresses the collective's rounds (a large reduce
    // takes many): polling must not pause between them, so it yields
    // instead of sleeping — with more ranks than cores the rank we wait
    // for gets the core, otherwise the poll goes on at once (as MPI's own
    // blocking calls busy-poll).
    if (int code = MPI_Test(&request, &done, MPI_STATUS_IGNORE))
      return mpiError(code, what, err, size);
    if (done)
      return 0;
    std::this_thread::yield();
    if ((polls & 63) == 0 && Clock::now() > until)
      break;
  }
  std::string silent = silentRanks(c, timeout < 2.0 ? timeout : 2.0);
  if (silent.empty())
    return report(err, size,
                  "%s (collective #%llu of a group of %d ranks) did not "
                  "complete within %.0f s, though every rank reached it",
                  what, (unsigned long long)c->calls, c->size, timeout);
  return report(err, size,
                "%s (collective #%llu of a group of %d ranks) waited %.0f s "
                "for rank%s %s, which did not answer: it died or hangs",
                what, (unsigned long long)c->calls, c->size, timeout,
                silent.find(',') == std::string::npos ? "" : "s",
                silent.c_str());
}

/// Worlds open in this process, and whether this plugin initialised MPI
/// (an embedding program may have done it, and then finalises it itself).
int openWorlds = 0;
bool initialisedHere = false;

int initWorld(strata_comm **world, char *err, size_t size) {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (finalised)
    return report(err, size,
                  "MPI was finalised already in this process, and cannot "
                  "be initialised again: keep one world for the process's "
                  "life");
  if (!initialised) {
    int provided;
    // Collectives run on the thread that called init (the session's).
    if (int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED,
                                   &provided))
      return mpiError(code, "MPI_Init_thread", err, size);
    initialisedHere = true;
  }
  if (int code = makeComm(MPI_COMM_WORLD, world, err, size))
    return code;
  ++openWorlds;
  return 0;
}

int rankOf(const strata_comm *c) { return c->rank; }
int sizeOf(const strata_comm *c) { return c->size; }
int worldRankOf(const strata_comm *c, int rank) {
  return rank >= 0 && rank < c->size ? c->worldRanks[rank] : -1;
}

int split(strata_comm *c, int color, int key, strata_comm **out, char *err,
          size_t size) {
  MPI_Comm part;
  if (int code = MPI_Comm_split(c->comm, color, key, &part))
    return mpiError(code, "MPI_Comm_split", err, size);
  return makeComm(part, out, err, size);
}

/// Runs a collective over `count` elements of `element` bytes at `data` in
/// pieces MPI's int counts can hold, each started by `start(piece,
/// elements, request)` and awaited before the next.
template <typename Start>
int inPieces(strata_comm *c, void *data, size_t count, size_t element,
             const char *what, const char *call, double timeout, char *err,
             size_t size, Start start) {
  ++c->calls;
  constexpr size_t kPiece = size_t(1) << 30;
  for (size_t at = 0; at < count; at += kPiece) {
    size_t n = count - at < kPiece ? count - at : kPiece;
    MPI_Request request;
    if (int code = start(static_cast<char *>(data) + at * element,
                         static_cast<int>(n), request))
      return mpiError(code, call, err, size);
    if (int code = await(c, request, what, timeout, err, size))
      return code;
  }
  return 0;
}

int allReduceSum(strata_comm *c, void *data, size_t count,
                 strata_comm_dtype dtype, double timeout, char *err,
                 size_t size) {
  return inPieces(c, data, count, elementBytes(dtype), "all_reduce",
                  "MPI_Iallreduce", timeout, err, size,
                  [&](char *piece, int n, MPI_Request &request) {
                    return MPI_Iallreduce(MPI_IN_PLACE, piece, n,
                                          mpiType(dtype), MPI_SUM, c->comm,
                                          &request);
                  });
}

int reduceSum(strata_comm *c, void *data, size_t count,
              strata_comm_dtype dtype, int root, double timeout, char *err,
              size_t size) {
  // The root sums in place; the others send theirs.
  return inPieces(c, data, count, elementBytes(dtype), "reduce",
                  "MPI_Ireduce", timeout, err, size,
                  [&](char *piece, int n, MPI_Request &request) {
                    bool atRoot = c->rank == root;
                    return MPI_Ireduce(atRoot ? MPI_IN_PLACE : piece,
                                       atRoot ? piece : nullptr, n,
                                       mpiType(dtype), MPI_SUM, root, c->comm,
                                       &request);
                  });
}

int allGather(strata_comm *c, const void *send, void *recv, size_t bytes,
              double timeout, char *err, size_t size) {
  ++c->calls;
  if (bytes > static_cast<size_t>(INT32_MAX))
    return report(err, size, "all_gather of %zu bytes per rank: at most 2 GiB",
                  bytes);
  MPI_Request request;
  if (int code = MPI_Iallgather(send, static_cast<int>(bytes), MPI_BYTE, recv,
                                static_cast<int>(bytes), MPI_BYTE, c->comm,
                                &request))
    return mpiError(code, "MPI_Iallgather", err, size);
  return await(c, request, "all_gather", timeout, err, size);
}

int broadcast(strata_comm *c, void *data, size_t bytes, int root,
              double timeout, char *err, size_t size) {
  return inPieces(c, data, bytes, 1, "broadcast", "MPI_Ibcast", timeout, err,
                  size, [&](char *piece, int n, MPI_Request &request) {
                    return MPI_Ibcast(piece, n, MPI_BYTE, root, c->comm,
                                      &request);
                  });
}

int barrier(strata_comm *c, double timeout, char *err, size_t size) {
  ++c->calls;
  MPI_Request request;
  if (int code = MPI_Ibarrier(c->comm, &request))
    return mpiError(code, "MPI_Ibarrier", err, size);
  return await(c, request, "barrier", timeout, err, size);
}

/// Pipeline messages: point to point, each at most 2 GiB (an activation
/// of a micro-batch).
int checkMessage(size_t bytes, char *err, size_t size) {
  if (bytes > static_cast<size_t>(INT32_MAX))
    return report(err, size, "a message of %zu bytes: at most 2 GiB", bytes);
  return 0;
}

int sendTo(strata_comm *c, const void *data, size_t bytes, int peer, int tag,
           char *err, size_t size) {
  if (int code = checkMessage(bytes, err, size))
    return code;
  MPI_Request request;
  if (int code = MPI_Isend(data, static_cast<int>(bytes), MPI_BYTE, peer, tag,
                           c->comm, &request))
    return mpiError(code, "MPI_Isend", err, size);
  c->sends.push_back(request);
  return 0;
}

/// Polls a receive from `peer`; the rank that never sends is named.
int recvFrom(strata_comm *c, void *data, size_t bytes, int peer, int tag,
             double timeout, char *err, size_t size) {
  if (int code = checkMessage(bytes, err, size))
    return code;
  MPI_Request request;
  if (int code = MPI_Irecv(data, static_cast<int>(bytes), MPI_BYTE, peer, tag,
                           c->comm, &request))
    return mpiError(code, "MPI_Irecv", err, size);
  auto until = Clock::now() + std::chrono::duration<double>(timeout);
  for (unsigned polls = 0;; ++polls) {
    int done = 0;
    if (int code = MPI_Test(&request, &done, MPI_STATUS_IGNORE))
      return mpiError(code, "MPI_Irecv", err, size);
    if (done)
      return 0;
    std::this_thread::yield();
    if ((polls & 63) == 0 && Clock::now() > until)
      break;
  }
  MPI_Cancel(&request);
  MPI_Request_free(&request);
  return report(err, size,
                "receive (tag %d) waited %.0f s for rank %d, which did not "
                "send: it died or hangs",
                tag, timeout, c->worldRanks[peer]);
}

int waitSends(strata_comm *c, double timeout, char *err, size_t size) {
  auto until = Clock::now() + std::chrono::duration<double>(timeout);
  for (unsigned polls = 0; !c->sends.empty(); ++polls) {
    int done = 0;
    if (int code = MPI_Testall(static_cast<int>(c->sends.size()),
                               c->sends.data(), &done, MPI_STATUSES_IGNORE))
      return mpiError(code, "MPI_Isend", err, size);
    if (done) {
      c->sends.clear();
      return 0;
    }
    std::this_thread::yield();
    if ((polls & 63) == 0 && Clock::now() > until)
      return report(err, size,
                    "%zu sends did not complete within %.0f s: a receiving "
                    "rank died or hangs",
                    c->sends.size(), timeout);
  }
  return 0;
}

void freeComm(strata_comm *c) {
  if (!c)
    return;
  MPI_Comm_free(&c->control);
  if (c->comm != MPI_COMM_WORLD)
    MPI_Comm_free(&c->comm);
  delete c;
}

void abortAll(strata_comm *world, int exitCode) {
  MPI_Abort(world ? world->comm : MPI_COMM_WORLD, exitCode);
}

/// When the last world closes, and only if this plugin initialised MPI.
void finalize() {
  if (--openWorlds > 0 || !initialisedHere)
    return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized)
    MPI_Finalize();
}

const strata_comm_plugin kPlugin = {
    STRATA_COMM_ABI_VERSION,
    "mpi",
    initWorld,
    rankOf,
    sizeOf,
    worldRankOf,
    split,
    allReduceSum,
    reduceSum,
    allGather,
    broadcast,
    barrier,
    sendTo,
    recvFrom,
    waitSends,
    freeComm,
    abortAll,
    finalize,
};

} // namespace

extern "C" __attribute__((visibility("default"))) const strata_comm_plugin *
strata_comm_plugin_v1(void) {
  return &kPlugin;
}

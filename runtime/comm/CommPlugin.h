/*===- CommPlugin.h - the ABI between the runtime and its collectives -*- C -*-===*
 *
 * A communication backend is a shared library, libstrata_comm_<name>.so,
 * that the runtime opens with dlopen only when ranks are launched: the
 * runtime itself links neither MPI nor NCCL, so strata-run still runs on a
 * machine that has neither. The library exports one function,
 * strata_comm_plugin_v1, returning a table of the calls below.
 *
 * Every call that can fail returns 0 on success, or non-zero after writing
 * a message (NUL-terminated, at most err_size bytes) to `err`. Collectives
 * wait at most `timeout_s` seconds; a backend that gives up says which
 * ranks of the group never arrived, in the world's numbering, so that a
 * rank that died or hangs is named instead of waited for.
 *
 *===----------------------------------------------------------------------===*/

#ifndef STRATA_RUNTIME_COMM_COMMPLUGIN_H
#define STRATA_RUNTIME_COMM_COMMPLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Changes whenever the table below does; the runtime refuses a plugin
 * whose version differs from its own. */
#define STRATA_COMM_ABI_VERSION 2

typedef enum strata_comm_dtype {
  STRATA_COMM_F32 = 0,
  STRATA_COMM_F64 = 1,
  STRATA_COMM_I32 = 2,
  STRATA_COMM_I64 = 3,
  STRATA_COMM_U8 = 4
} strata_comm_dtype;

/* A group of ranks, defined by the plugin. */
typedef struct strata_comm strata_comm;

typedef struct strata_comm_plugin {
  uint32_t abi_version; /* STRATA_COMM_ABI_VERSION */
  const char *name;     /* "mpi", ... */
  /* The group of every launched rank, initialising the backend. */
  int (*init_world)(strata_comm **world, char *err, size_t err_size);
  int (*rank)(const strata_comm *comm);
  int (*size)(const strata_comm *comm);
  /* The world rank of the group's rank `rank`. */
  int (*world_rank)(const strata_comm *comm, int rank);
  /* Collective over `comm`: the ranks passing the same color form a new
   * group, ordered by key. */
  int (*split)(strata_comm *comm, int color, int key, strata_comm **out,
               char *err, size_t err_size);
  /* In place: every rank ends with the element-wise sum over the group. */
  int (*all_reduce_sum)(strata_comm *comm, void *data, size_t count,
                        strata_comm_dtype dtype, double timeout_s, char *err,
                        size_t err_size);
  /* In place at `root`: the element-wise sum over the group (the other
   * ranks' `data` is only read). */
  int (*reduce_sum)(strata_comm *comm, void *data, size_t count,
                    strata_comm_dtype dtype, int root, double timeout_s,
                    char *err, size_t err_size);
  /* `recv` receives each rank's `bytes` in rank order. */
  int (*all_gather)(strata_comm *comm, const void *send, void *recv,
                    size_t bytes, double timeout_s, char *err,
                    size_t err_size);
  int (*broadcast)(strata_comm *comm, void *data, size_t bytes, int root,
                   double timeout_s, char *err, size_t err_size);
  int (*barrier)(strata_comm *comm, double timeout_s, char *err,
                 size_t err_size);
  /* Point to point (pipeline stages): starts sending `bytes` at `data` to
   * the group's rank `peer` with `tag` and returns; `data` must stay
   * unchanged until wait_sends returns. Messages of one tag between two
   * ranks arrive in the order they were sent. */
  int (*send)(strata_comm *comm, const void *data, size_t bytes, int peer,
              int tag, char *err, size_t err_size);
  /* Receives exactly `bytes` from `peer` with `tag` into `data`. */
  int (*recv)(strata_comm *comm, void *data, size_t bytes, int peer, int tag,
              double timeout_s, char *err, size_t err_size);
  /* Waits until every send this group started has completed. */
  int (*wait_sends)(strata_comm *comm, double timeout_s, char *err,
                    size_t err_size);
  void (*free_comm)(strata_comm *comm);
  /* Ends every rank of the launch (after an error that left some of them
   * waiting); does not return. */
  void (*abort_all)(strata_comm *world, int exit_code);
  /* After the last group is freed. */
  void (*finalize)(void);
} strata_comm_plugin;

typedef const strata_comm_plugin *(*strata_comm_plugin_entry)(void);
#define STRATA_COMM_PLUGIN_ENTRY "strata_comm_plugin_v1"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* STRATA_RUNTIME_COMM_COMMPLUGIN_H */

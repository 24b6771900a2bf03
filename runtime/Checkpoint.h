//===- Checkpoint.h - weights in and out of safetensors ---------*- C++ -*-===//
//
// The forms a checkpoint takes: one safetensors file, or a sharded
// HuggingFace checkpoint (model.safetensors.index.json naming the shard
// holding each tensor), or a directory holding either. Files are mapped,
// not read: a tensor is converted straight from the mapping into the
// parameter's own buffer, so no weight is held twice.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_CHECKPOINT_H
#define STRATA_RUNTIME_CHECKPOINT_H

#include "runtime/Weights.h"

#include <string>
#include <vector>

namespace strata::runtime {

/// Reads every parameter of `exe` from the checkpoint at `path` into new
/// tensors shaped and typed like `like` (converting float dtypes). Static
/// w8a8's activation parameters may be missing (a float checkpoint, to be
/// calibrated): they get scale 1 and zero point 0, and `*uncalibrated`
/// (when given; else it is an error) says so.
strata_status_code readCheckpoint(const std::string &path,
                                  const strata::fb::Executable *exe,
                                  const Weights &like,
                                  std::vector<HostTensor> &out,
                                  strata_status *status,
                                  bool *uncalibrated = nullptr);

/// Writes `weights` to `path` as `options` say: one file, or shards of at
/// most options.max_shard_bytes plus an index in the directory `path`.
/// Every file is replaced atomically; the index is written last.
strata_status_code writeCheckpoint(const std::string &path,
                                   const strata::fb::Executable *exe,
                                   const Weights &weights,
                                   const strata_save_options &options,
                                   strata_status *status);

/// Writes `tensors` under `names` as one safetensors file, in their own
/// dtypes, atomically (OutputFile).
strata_status_code writeTensors(const std::string &path,
                                const std::vector<std::string> &names,
                                const std::vector<const HostTensor *> &tensors,
                                strata_status *status);

/// Reads tensors `names` of safetensors file `path` into `out` (allocated,
/// with the shapes and dtypes wanted), converting float dtypes.
strata_status_code readTensors(const std::string &path,
                               const std::vector<std::string> &names,
                               std::vector<HostTensor> &out,
                               strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_CHECKPOINT_H

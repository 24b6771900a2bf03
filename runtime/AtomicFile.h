//===- AtomicFile.h - replace a file whole or not at all --------*- C++ -*-===//
//
// What the runtime writes (checkpoints) goes to a temporary file next to
// the target, is flushed and synced with every error checked, and only
// then renamed over it: a failure (full disk, quota, I/O error) leaves the
// old file as it was. A symlink is written through (its target is
// replaced, the link stays); a device node or FIFO is written in place,
// never replaced; a directory is refused.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_ATOMICFILE_H
#define STRATA_RUNTIME_ATOMICFILE_H

#include "runtime/strata.h"

#include <cstdio>
#include <string>

namespace strata::runtime {

class AtomicFile {
public:
  AtomicFile() = default;
  AtomicFile(const AtomicFile &) = delete;
  AtomicFile &operator=(const AtomicFile &) = delete;
  /// Removes the temporary file unless commit() succeeded.
  ~AtomicFile();

  strata_status_code open(const std::string &path, strata_status *status);
  /// Appends bytes; errors are remembered and reported by commit().
  void write(const void *data, size_t bytes);
  /// Flushes, syncs and renames into place.
  strata_status_code commit(strata_status *status);

private:
  std::string target, temporary;
  FILE *file = nullptr;
  bool inPlace = false, failed = false;
  int error = 0;
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_ATOMICFILE_H

//===- AtomicFile.cpp - replace a file whole or not at all ----------------===//

#include "runtime/AtomicFile.h"
#include "runtime/Internal.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace strata::runtime {

AtomicFile::~AtomicFile() {
  if (file)
    std::fclose(file);
  if (!temporary.empty())
    unlink(temporary.c_str());
}

strata_status_code AtomicFile::open(const std::string &path,
                                    strata_status *status) {
  target = path;
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return fail(status, STRATA_IO_ERROR,
                  "%s: is a directory; give a file name", path.c_str());
    if (!S_ISREG(st.st_mode)) {
      // /dev/null, a FIFO, a terminal: write to it, never replace it.
      inPlace = true;
      file = std::fopen(path.c_str(), "wb");
      if (!file)
        return fail(status, STRATA_IO_ERROR, "%s: cannot write: %s",
                    path.c_str(), std::strerror(errno));
      return ok(status);
    }
    // A symlink to a regular file: replace the file it points at.
    char resolved[PATH_MAX];
    if (realpath(path.c_str(), resolved))
      target = resolved;
  }
  temporary = target + ".tmp-XXXXXX";
  int fd = mkstemp(temporary.data());
  if (fd < 0) {
    int e = errno;
    temporary.clear();
    return fail(status, STRATA_IO_ERROR, "%s: cannot create a file there: %s",
                path.c_str(), std::strerror(e));
  }
  // mkstemp makes 0600 files; give the new file what a plain create would.
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  file = fdopen(fd, "wb");
  if (!file) {
    close(fd);
    return fail(status, STRATA_IO_ERROR, "%s: cannot write: %s", path.c_str(),
                std::strerror(errno));
  }
  return ok(status);
}

void AtomicFile::write(const void *data, size_t bytes) {
  if (failed || !bytes)
    return;
  if (std::fwrite(data, 1, bytes, file) != bytes) {
    failed = true;
    error = errno;
  }
}

strata_status_code AtomicFile::commit(strata_status *status) {
  if (!failed && std::fflush(file) != 0) {
    failed = true;
    error = errno;
  }
  // Devices need not support fsync (/dev/null does not care).
  if (!failed && !inPlace && fsync(fileno(file)) != 0) {
    failed = true;
    error = errno;
  }
  int closed = std::fclose(file);
  file = nullptr;
  if (!failed && closed != 0) {
    failed = true;
    error = errno;
  }
  if (failed)
    return fail(status, STRATA_IO_ERROR,
                "%s: writing failed (%s); the file was not changed",
                target.c_str(), std::strerror(error ? error : EIO));
  if (inPlace)
    return ok(status);
  if (std::rename(temporary.c_str(), target.c_str()) != 0)
    return fail(status, STRATA_IO_ERROR,
                "%s: cannot replace it: %s; the file was not changed",
                target.c_str(), std::strerror(errno));
  temporary.clear();
  return ok(status);
}

} // namespace strata::runtime

//===- KernelLibrary.cpp - a session's own copy of its kernel library -----===//

#include "runtime/KernelLibrary.h"
#include "runtime/Internal.h"

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace strata::runtime {

namespace {
bool writeAll(int fd, const uint8_t *data, size_t size) {
  for (size_t written = 0; written < size;) {
    ssize_t n = write(fd, data + written, size - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

/// A path of memory file `fd` no loaded library is known by. The loader
/// returns an already loaded library whose name matches, without looking
/// at the file: a library another session still holds under the same fd
/// number (closed and reused since) must not be taken for this one. The
/// same file has many spellings ("/proc/self/fd/./N", ...).
std::string freshPath(int fd) {
  std::string dir = "/proc/self/fd/";
  for (;;) {
    std::string path = dir + std::to_string(fd);
    void *loaded = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (!loaded)
      return path;
    dlclose(loaded);
    dir += "./";
  }
}
} // namespace

strata_status_code KernelLibrary::load(const uint8_t *data, size_t size,
                                       std::unique_ptr<KernelLibrary> &out,
                                       strata_status *status) {
  int fd = memfd_create("strata-kernels", MFD_CLOEXEC);
  if (fd < 0)
    return fail(status, STRATA_IO_ERROR, "memfd_create failed: %s",
                std::strerror(errno));
  if (!writeAll(fd, data, size)) {
    close(fd);
    return fail(status, STRATA_IO_ERROR,
                "cannot stage the kernel library in memory: %s",
                std::strerror(errno));
  }
  void *handle = dlopen(freshPath(fd).c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    close(fd);
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "the kernel library does not load: %s", dlerror());
  }
  out.reset(new KernelLibrary(handle, fd));
  return ok(status);
}

KernelLibrary::~KernelLibrary() {
  dlclose(handle);
  close(fd);
}

void *KernelLibrary::symbol(const char *name) const {
  return dlsym(handle, name);
}

} // namespace strata::runtime

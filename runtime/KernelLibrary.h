//===- KernelLibrary.h - a session's own copy of its kernel library -*- C++ -*-===//
//
// The host code of an executable is an ELF shared object inside it. Each
// session loads its own instance, so the hook slots the library exports
// (see abi.h) belong to that session alone: sessions of the same or of
// different executables never share a slot.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_KERNELLIBRARY_H
#define STRATA_RUNTIME_KERNELLIBRARY_H

#include "runtime/strata.h"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace strata::runtime {

class KernelLibrary {
public:
  /// Loads the shared object `data` from an anonymous memory file (nothing
  /// touches the disk).
  static strata_status_code load(const uint8_t *data, size_t size,
                                 std::unique_ptr<KernelLibrary> &out,
                                 strata_status *status);
  ~KernelLibrary();
  KernelLibrary(const KernelLibrary &) = delete;
  KernelLibrary &operator=(const KernelLibrary &) = delete;

  /// An exported symbol of this instance, or null.
  void *symbol(const char *name) const;
  /// A hook slot (an exported pointer-sized global), or null when the
  /// library's code needs no such hook.
  void **slot(const char *name) const {
    return static_cast<void **>(symbol(name));
  }
  /// Points hook slot `slot` at `hook`, whose type must be the hook's C
  /// signature in abi.h (the compiler checks it here).
  template <typename HookFn>
  static void setHook(void **slot, HookFn hook) {
    *slot = reinterpret_cast<void *>(hook);
  }

private:
  KernelLibrary(void *handle, int fd) : handle(handle), fd(fd) {}
  void *handle;
  /// The memory file stays open while the library is loaded: the dynamic
  /// loader knows libraries by path, and /proc/self/fd/N must not name two
  /// different files while one of them is loaded.
  int fd;
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_KERNELLIBRARY_H

//===- Internal.h - runtime internals shared by the C API files -*- C++ -*-===//

#ifndef STRATA_RUNTIME_INTERNAL_H
#define STRATA_RUNTIME_INTERNAL_H

#include "runtime/schema/executable_generated.h"
#include "runtime/strata.h"

#include <cstdint>
#include <exception>
#include <new>
#include <vector>

struct strata_executable {
  std::vector<uint8_t> bytes;
  const strata::fb::Executable *root = nullptr;
};

namespace strata::runtime {

/// Fills `status` (when given) and returns `code`.
strata_status_code fail(strata_status *status, strata_status_code code,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
strata_status_code ok(strata_status *status);

/// Elements of a shape, or -1 when invalid or overflowing.
int64_t checkedElements(const flatbuffers::Vector<int64_t> *shape,
                        bool allowDynamic);

/// Runs `body`, an API function's implementation returning its status
/// code, so that no exception crosses the C API: std::bad_alloc becomes
/// STRATA_OUT_OF_MEMORY and anything else STRATA_INTERNAL_ERROR, with a
/// message naming `function`. Every extern "C" function that can throw
/// returns guardApi(__func__, status, [&] { ... }).
template <typename Body>
strata_status_code guardApi(const char *function, strata_status *status,
                            Body &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return fail(status, STRATA_OUT_OF_MEMORY, "%s: out of memory", function);
  } catch (const std::exception &e) {
    return fail(status, STRATA_INTERNAL_ERROR, "%s: internal error: %s",
                function, e.what());
  } catch (...) {
    return fail(status, STRATA_INTERNAL_ERROR,
                "%s: internal error (an unknown exception)", function);
  }
}

} // namespace strata::runtime

#endif // STRATA_RUNTIME_INTERNAL_H

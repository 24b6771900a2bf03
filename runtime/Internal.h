//===- Internal.h - runtime internals shared by the C API files -*- C++ -*-===//

#ifndef STRATA_RUNTIME_INTERNAL_H
#define STRATA_RUNTIME_INTERNAL_H

#include "runtime/schema/executable_generated.h"
#include "runtime/strata.h"

#include <cstdint>
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

} // namespace strata::runtime

#endif // STRATA_RUNTIME_INTERNAL_H

//===- HostCpu.h - which kernel library this CPU runs -----------*- C++ -*-===//
//
// A portable CPU executable holds its kernel library for x86-64-v2 and
// variants for -v3 (AVX2, FMA) and -v4 (AVX-512); a session runs the best
// one the CPU it is on supports. STRATA_CPU=<name> in the environment picks
// a given one instead (tests compare the variants; benchmarks pin one).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_HOSTCPU_H
#define STRATA_RUNTIME_HOSTCPU_H

#include "runtime/Internal.h"

namespace strata::runtime {

/// The host-code library a session of `exe` loads on this machine.
strata_status_code selectHostLibrary(const strata::fb::Executable *exe,
                                     const strata::fb::KernelLibrary *&out,
                                     strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_HOSTCPU_H

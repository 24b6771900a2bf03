//===- Passes.h - Strata CPU passes ----------------------------------*- C++ -*-===//
//
// The CPU pipeline's own passes (codegen/cpu/Passes.td).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_CPU_PASSES_H
#define STRATA_CODEGEN_CPU_PASSES_H

#include "codegen/Passes.h"

namespace mlir::strata {

#define GEN_PASS_DECL
#include "codegen/cpu/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/cpu/Passes.h.inc"

} // namespace mlir::strata

#endif // STRATA_CODEGEN_CPU_PASSES_H

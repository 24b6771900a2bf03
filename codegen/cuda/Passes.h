//===- Passes.h - Strata CUDA passes --------------------------------*- C++ -*-===//
//
// The CUDA pipeline's own passes (codegen/cuda/Passes.td).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_CUDA_PASSES_H
#define STRATA_CODEGEN_CUDA_PASSES_H

#include "codegen/Passes.h"

namespace mlir::strata {

#define GEN_PASS_DECL
#include "codegen/cuda/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/cuda/Passes.h.inc"

} // namespace mlir::strata

#endif // STRATA_CODEGEN_CUDA_PASSES_H

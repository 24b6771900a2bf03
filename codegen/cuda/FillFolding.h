//===- FillFolding.h - initial values folded into kernels -------*- C++ -*-===//
//
// Reductions write into buffers that a linalg.fill initialised just before
// (zeros for sums, -inf for maxima). On the GPU that fill is a launch of
// its own; the reduction kernels fold its value in instead.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_CUDA_FILLFOLDING_H
#define STRATA_CODEGEN_CUDA_FILLFOLDING_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::strata {

/// The linalg.fill that initialises `op`'s output (a fresh allocation)
/// with no other use of the buffer before `op`; null otherwise. `op` may
/// then start from the fill's value and the fill be erased.
inline linalg::FillOp fillFeeding(linalg::LinalgOp op) {
  Value out = op.getDpsInitOperand(0)->get();
  if (!out.getDefiningOp<memref::AllocOp>())
    return {};
  linalg::FillOp fill;
  for (Operation *user : out.getUsers()) {
    if (user == op.getOperation())
      continue;
    if (user->getBlock() != op->getBlock())
      return {};
    if (!user->isBeforeInBlock(op))
      continue;
    auto f = dyn_cast<linalg::FillOp>(user);
    if (!f || fill)
      return {};
    fill = f;
  }
  return fill;
}

} // namespace mlir::strata

#endif // STRATA_CODEGEN_CUDA_FILLFOLDING_H

//===- KernelBuilder.h - what the CUDA kernel builders share ---*- C++ -*-===//
//
// strata-map-loops-to-gpu, strata-warp-reductions and strata-tiled-matmuls
// each turn a loop nest or a linalg op into a gpu.launch; these are the
// pieces they build it from.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_CUDA_KERNELBUILDER_H
#define STRATA_CODEGEN_CUDA_KERNELBUILDER_H

#include "codegen/LoweringUtils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::strata {

/// max(1, min(ceil(work / perBlock), maxBlocks)): a launchable grid size
/// whose kernel strides over any remaining work.
Value clampedGridSize(OpBuilder &b, Location loc, Value work, Value perBlock,
                      int64_t maxBlocks);

/// A gpu.launch of `threadsX`-thread blocks on a `gridX` x `gridY` x
/// `gridZ` grid, with `workgroup` memory attributions; `b` is left before
/// the body's terminator.
gpu::LaunchOp createLaunch(OpBuilder &b, Location loc, Value gridX, Value gridY,
                           Value gridZ, Value threadsX,
                           TypeRange workgroup = {});

/// The linalg.fill that initialises `op`'s output (a fresh allocation)
/// with no other use of the buffer before `op`; null otherwise. A kernel
/// computing `op` may start from the fill's value, and the fill (a launch
/// of its own on the GPU) be erased.
linalg::FillOp fillFeeding(linalg::LinalgOp op);

} // namespace mlir::strata

#endif // STRATA_CODEGEN_CUDA_KERNELBUILDER_H

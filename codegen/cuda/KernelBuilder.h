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

/// Lanes per warp.
constexpr int64_t kWarpSize = 32;

/// A launch of `warpsPerBlock`-warp blocks in which each warp takes the
/// items [0, total) in turn (grid-stride, at most `maxBlocks` blocks); `b`
/// is left inside the loop over items.
struct WarpPerItem {
  gpu::LaunchOp launch;
  Value item;     ///< this warp's current item
  Value lane;     ///< the thread's lane in [0, 32)
  Value warpSize; ///< 32, as an index constant inside the launch
};
WarpPerItem createWarpPerItemLaunch(OpBuilder &b, Location loc, Value total,
                                    int64_t warpsPerBlock, int64_t maxBlocks);

/// `x` combined with the lanes whose index differs by each of
/// `xorOffsets` in turn (xor shuffles): over the lanes those offsets span,
/// every lane gets the result. `combine` is associative and commutative.
Value xorAllReduce(OpBuilder &b, Location loc, Value x,
                   function_ref<Value(Value, Value)> combine,
                   ArrayRef<int32_t> xorOffsets);

/// `x` combined across the warp's 32 lanes with five xor shuffles; every
/// lane gets the result.
Value warpAllReduce(OpBuilder &b, Location loc, Value x,
                    function_ref<Value(Value, Value)> combine);

/// Whether strata-warp-reductions takes `op`: one reduction, read along
/// the contiguous innermost dimension of every input that has it, at least
/// `minReduction` long when static, with an associative combiner.
bool isWarpReducible(linalg::LinalgOp op, int64_t minReduction);

/// Lowers `op` (isWarpReducible) to a launch with one warp per output,
/// folding in (and erasing) the fill that initialises its output, if any.
LogicalResult lowerToWarps(linalg::LinalgOp op, int64_t warpsPerBlock,
                           int64_t maxBlocks);

/// The same with every output starting from `fill`'s value (its current
/// contents when `fill` is null); `fill` is left to the caller, as when
/// two kernels behind a host-side branch share it. A non-null `epilogue`
/// (rowEpilogue(op)) is computed by the same warps and erased.
LogicalResult lowerToWarps(linalg::LinalgOp op, int64_t warpsPerBlock,
                           int64_t maxBlocks, linalg::FillOp fill,
                           linalg::GenericOp epilogue = {});

/// The row epilogue of reduction `op` (isWarpReducible), if any: the next
/// op after `op` with memory effects (only side-effect-free ops and
/// allocations in between), an all-parallel linalg.generic with one more
/// loop than `op`'s output has dimensions, that reads `op`'s output
/// (indexed by `op`'s parallel loops in order) at its leading loops and
/// writes only fresh allocations. The warp owning a reduced value can then
/// compute the epilogue's outputs for that row right after it.
linalg::GenericOp rowEpilogue(linalg::LinalgOp op);

/// The linalg.fill that initialises `op`'s output `out` (a fresh
/// allocation) with no other use of the buffer before `op`; null
/// otherwise. A kernel computing `op` may start from the fill's value, and
/// the fill (a launch of its own on the GPU) be erased.
linalg::FillOp fillFeeding(Operation *op, Value out);
inline linalg::FillOp fillFeeding(linalg::LinalgOp op) {
  return fillFeeding(op, op.getDpsInitOperand(0)->get());
}

} // namespace mlir::strata

#endif // STRATA_CODEGEN_CUDA_KERNELBUILDER_H

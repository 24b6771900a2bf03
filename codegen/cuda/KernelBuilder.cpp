//===- KernelBuilder.cpp - what the CUDA kernel builders share -*- C++ -*-===//

#include "codegen/cuda/KernelBuilder.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

Value mlir::strata::clampedGridSize(OpBuilder &b, Location loc, Value work,
                                    Value perBlock, int64_t maxBlocks) {
  Value blocks = arith::CeilDivUIOp::create(b, loc, work, perBlock);
  blocks =
      arith::MinUIOp::create(b, loc, blocks, indexConstant(b, loc, maxBlocks));
  return arith::MaxUIOp::create(b, loc, blocks, indexConstant(b, loc, 1));
}

gpu::LaunchOp mlir::strata::createLaunch(OpBuilder &b, Location loc,
                                         Value gridX, Value gridY, Value gridZ,
                                         Value threadsX, TypeRange workgroup) {
  Value one = indexConstant(b, loc, 1);
  auto launch = gpu::LaunchOp::create(
      b, loc, gridX, gridY, gridZ, threadsX, one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, workgroup);
  b.setInsertionPointToEnd(&launch.getBody().front());
  b.setInsertionPoint(gpu::TerminatorOp::create(b, loc));
  return launch;
}

mlir::strata::WarpPerItem
mlir::strata::createWarpPerItemLaunch(OpBuilder &b, Location loc, Value total,
                                      int64_t warpsPerBlock,
                                      int64_t maxBlocks) {
  Value warps = indexConstant(b, loc, warpsPerBlock);
  Value blocks = clampedGridSize(b, loc, total, warps, maxBlocks);
  Value one = indexConstant(b, loc, 1);
  gpu::LaunchOp launch =
      createLaunch(b, loc, blocks, one, one,
                   indexConstant(b, loc, warpsPerBlock * kWarpSize));
  Value warpSize = indexConstant(b, loc, kWarpSize);
  Value tid = launch.getThreadIds().x;
  Value lane = arith::RemUIOp::create(b, loc, tid, warpSize);
  Value warp = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, launch.getBlockIds().x, warps),
      arith::DivUIOp::create(b, loc, tid, warpSize));
  Value warpStride =
      arith::MulIOp::create(b, loc, launch.getGridSize().x, warps);
  auto items = scf::ForOp::create(b, loc, warp, total, warpStride);
  b.setInsertionPoint(items.getBody()->getTerminator());
  return {launch, items.getInductionVar(), lane, warpSize};
}

Value mlir::strata::xorAllReduce(OpBuilder &b, Location loc, Value x,
                                 function_ref<Value(Value, Value)> combine,
                                 ArrayRef<int32_t> xorOffsets) {
  for (int32_t offset : xorOffsets) {
    auto shuffle = gpu::ShuffleOp::create(b, loc, x, offset,
                                          static_cast<int32_t>(kWarpSize),
                                          gpu::ShuffleMode::XOR);
    x = combine(x, shuffle.getShuffleResult());
  }
  return x;
}

Value mlir::strata::warpAllReduce(OpBuilder &b, Location loc, Value x,
                                  function_ref<Value(Value, Value)> combine) {
  static_assert(kWarpSize == 32, "five butterfly steps");
  return xorAllReduce(b, loc, x, combine, {16, 8, 4, 2, 1});
}

linalg::FillOp mlir::strata::fillFeeding(Operation *op, Value out) {
  if (!out.getDefiningOp<memref::AllocOp>())
    return {};
  linalg::FillOp fill;
  for (Operation *user : out.getUsers()) {
    // Uses nested in ops after `op` (kernels lowered earlier) come later.
    Operation *top = op->getBlock()->findAncestorOpInBlock(*user);
    if (!top)
      return {};
    if (top == op || !top->isBeforeInBlock(op))
      continue;
    auto f = dyn_cast<linalg::FillOp>(user);
    if (!f || fill)
      return {};
    fill = f;
  }
  return fill;
}

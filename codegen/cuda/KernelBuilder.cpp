//===- KernelBuilder.cpp - what the CUDA kernel builders share -*- C++ -*-===//

#include "codegen/cuda/KernelBuilder.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

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

linalg::FillOp mlir::strata::fillFeeding(linalg::LinalgOp op) {
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

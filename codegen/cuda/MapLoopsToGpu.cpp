//===- MapLoopsToGpu.cpp - top-level loop nests to gpu.launch --*- C++ -*-===//
//
// Every top-level scf.parallel of an entry function becomes one gpu.launch
// over a 1-D grid: the parallel iteration space is linearised with the
// innermost dimension fastest (so neighbouring threads touch neighbouring
// elements: coalesced), and a grid-stride loop covers any size with a grid
// that fits the hardware. Shapes may be dynamic: sizes are computed on the
// host at run time. Top-level ops that touch buffer contents but are not
// parallel (a sequential scf.for, a scalar store) run as one-thread
// kernels, so the host never dereferences device memory. Constants read
// from module globals are re-materialised inside the kernels, so outlining
// copies the globals into the device module.
//
//===----------------------------------------------------------------------===//

#include "codegen/cuda/Passes.h"
#include "codegen/cuda/KernelBuilder.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAMAPLOOPSTOGPU
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// Ops that only shape buffers on the host, or call another host function
/// (a layer body, which launches its own kernels): they end a serial run.
bool isHostStructure(Operation *op) {
  return isa<memref::AllocOp, memref::DeallocOp, memref::DimOp,
             memref::SubViewOp, memref::ExpandShapeOp, memref::CollapseShapeOp,
             memref::ReinterpretCastOp, memref::CastOp, memref::GetGlobalOp,
             memref::ExtractStridedMetadataOp, memref::ViewOp, func::CallOp,
             func::ReturnOp>(
      op);
}

bool isScalarPure(Operation *op) {
  return op->getNumRegions() == 0 && isPure(op);
}

/// A host-side branch: a choice between launches (strata-tiled-matmuls'
/// tensor-core or warp kernel by row count) or buffer deallocation's
/// conditional frees (an entry returning several buffers frees those it
/// does not return): an scf.if holding only launches, host structure and
/// the scalar arithmetic that sizes them.
bool isHostBranch(Operation *op) {
  auto ifOp = dyn_cast<scf::IfOp>(op);
  if (!ifOp || ifOp.getNumResults() != 0)
    return false;
  for (Region &region : ifOp->getRegions())
    for (Operation &inner : region.getOps())
      if (!isa<gpu::LaunchOp, scf::YieldOp>(inner) &&
          !isHostStructure(&inner) && !isScalarPure(&inner))
        return false;
  return true;
}

/// scf.parallel -> gpu.launch with a grid-stride loop over the linearised
/// iteration space.
LogicalResult mapParallel(scf::ParallelOp loop, int64_t blockSize,
                          int64_t maxBlocks) {
  if (loop.getNumResults() != 0)
    return loop.emitOpError("parallel loops with reductions are not mapped "
                            "to the GPU yet");
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  // Trip counts per dimension and their product, on the host.
  SmallVector<Value> trips = parallelTripCounts(b, loop);
  Value total = indexConstant(b, loc, 1);
  for (Value trip : trips)
    total = arith::MulIOp::create(b, loc, total, trip);
  Value threads = indexConstant(b, loc, blockSize);
  Value blocks = clampedGridSize(b, loc, total, threads, maxBlocks);
  Value one = indexConstant(b, loc, 1);
  gpu::LaunchOp launch = createLaunch(b, loc, blocks, one, one, threads);
  Value first = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                            launch.getBlockSize().x),
      launch.getThreadIds().x);
  Value stride = arith::MulIOp::create(b, loc, launch.getGridSize().x,
                                       launch.getBlockSize().x);
  auto strideLoop = scf::ForOp::create(b, loc, first, total, stride);
  b.setInsertionPoint(strideLoop.getBody()->getTerminator());
  IRMapping map;
  mapDelinearizedIvs(b, loc, strideLoop.getInductionVar(), trips, loop,
                     loop.getInductionVars(), map);
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, map);
  loop.erase();
  return success();
}

/// A run of top-level ops that touch memory, moved into a one-thread
/// kernel. Pure scalar ops of the run that depend only on host values stay
/// on the host (hoisted before the launch); the rest go into the kernel.
LogicalResult wrapSerial(ArrayRef<Operation *> run) {
  llvm::SmallPtrSet<Operation *, 16> device;
  SmallVector<Operation *> host;
  for (Operation *op : run) {
    bool needsDevice =
        !isScalarPure(op) || llvm::any_of(op->getOperands(), [&](Value v) {
          return device.contains(v.getDefiningOp());
        });
    if (needsDevice)
      device.insert(op);
    else
      host.push_back(op);
  }
  auto onDevice = [&](Operation *user) {
    return llvm::any_of(device,
                        [&](Operation *o) { return o->isAncestor(user); });
  };
  for (Operation *op : device)
    for (Value result : op->getResults())
      for (Operation *user : result.getUsers())
        if (!onDevice(user))
          return op->emitOpError("computes a value on the GPU that the host "
                                 "needs; this is not supported yet");
  Operation *first = run.front();
  for (Operation *op : host)
    op->moveBefore(first);
  OpBuilder b(first);
  Location loc = first->getLoc();
  Value one = indexConstant(b, loc, 1);
  gpu::LaunchOp launch = createLaunch(b, loc, one, one, one, one);
  Operation *terminator = launch.getBody().front().getTerminator();
  for (Operation *op : run)
    if (device.contains(op))
      op->moveBefore(terminator);
  return success();
}

/// Clones global-constant reads and scalar constants used inside `launch`
/// into its body, so the kernel reads the device copy of the global.
void sinkGlobals(gpu::LaunchOp launch) {
  Block &body = launch.getBody().front();
  OpBuilder b(&body, body.begin());
  llvm::DenseMap<Value, Value> cloned;
  launch.getBody().walk([&](Operation *op) {
    for (OpOperand &operand : op->getOpOperands()) {
      Value v = operand.get();
      auto global = v.getDefiningOp<memref::GetGlobalOp>();
      if (!global || launch->isAncestor(global))
        continue;
      Value &copy = cloned[v];
      if (!copy)
        copy = b.clone(*global)->getResult(0);
      operand.set(copy);
    }
  });
}

struct MapLoopsToGpuPass
    : public mlir::strata::impl::StrataMapLoopsToGpuBase<MapLoopsToGpuPass> {
  using Base::Base;

  LogicalResult mapFunction(func::FuncOp func) {
    SmallVector<Operation *> top;
    for (Operation &op : func.getBody().front())
      top.push_back(&op);
    SmallVector<Operation *> serial;
    auto flush = [&]() -> LogicalResult {
      if (serial.empty())
        return success();
      LogicalResult result = wrapSerial(serial);
      serial.clear();
      return result;
    };
    for (Operation *op : top) {
      if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
        if (failed(flush()) || failed(mapParallel(loop, blockSize, maxBlocks)))
          return failure();
      } else if (isHostStructure(op) || isa<gpu::LaunchOp>(op) ||
                 isHostBranch(op)) {
        // Launches made by earlier passes (strata-warp-reductions) are
        // already mapped.
        if (failed(flush()))
          return failure();
      } else if (!isScalarPure(op) || !serial.empty()) {
        serial.push_back(op);
      }
    }
    if (failed(flush()))
      return failure();
    func.walk([](gpu::LaunchOp launch) { sinkGlobals(launch); });
    return success();
  }

  void runOnOperation() override {
    if (blockSize < 1 || blockSize > 1024) {
      getOperation().emitError("block-size must be in [1, 1024]");
      return signalPassFailure();
    }
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (!func.isExternal() && failed(mapFunction(func)))
        return signalPassFailure();
  }
};

} // namespace

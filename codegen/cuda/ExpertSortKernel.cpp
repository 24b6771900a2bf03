//===- ExpertSortKernel.cpp - the expert counting sort on a GPU -*- C++ -*-===//
//
// strata_kernel.expert_sort on buffers -> one launch of one block in which each
// thread owns experts e = tid, tid + T, ...: it counts its experts' pairs
// (every thread walks all pairs; a warp's lanes read the same index at the
// same time, one broadcast load), thread 0 prefix-sums the counts, and each
// thread scatters its experts' pairs in pair order with the cursor in a
// register. Three phases separated by barriers, so the whole routing step
// is one launch, and no step carries a dependence through memory (as the
// sequential one-thread loop did, one pair at a time).
//
//===----------------------------------------------------------------------===//

#include "codegen/LoweringUtils.h"
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAEXPERTSORTKERNEL
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// Threads of the block: one per expert, whole warps, at most 1024.
int64_t blockThreads(int64_t experts) {
  return std::min<int64_t>(1024, llvm::alignTo(experts, kWarpSize));
}

/// `body(b, l, e)` for this thread's experts e = tid, tid + T, ... < E.
void forMyExperts(OpBuilder &b, Location loc, Value tid, int64_t threads,
                  int64_t experts,
                  function_ref<void(OpBuilder &, Location, Value)> body) {
  forRange(b, loc, tid, indexConstant(b, loc, experts),
           indexConstant(b, loc, threads), body);
}

/// Whether pair p is routed to expert `e` (an index). Ids are clamped into
/// [0, E) so that every pair is counted and scattered once: order and
/// position are a permutation whatever the ids hold.
Value routedTo(OpBuilder &b, Location loc, Value idx, Value p, Value e,
               int64_t experts) {
  Value id = clampedIndex(b, loc, memref::LoadOp::create(b, loc, idx, p),
                          experts);
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, id, e);
}

/// Runs `then` on thread 0 only.
void onFirstThread(OpBuilder &b, Location loc, Value tid,
                   function_ref<void(OpBuilder &, Location)> then) {
  Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid,
                                      indexConstant(b, loc, 0));
  auto ifOp = scf::IfOp::create(b, loc, first, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  then(b, loc);
}

LogicalResult lowerToKernel(kernel::ExpertSortOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value idx = op.getIndices(), offsets = op.getOffsetsInit(),
        order = op.getOrderInit(), position = op.getPositionInit();
  int64_t experts = op.getNumExperts();
  int64_t threads = blockThreads(experts);
  Value pairs = memref::DimOp::create(b, loc, idx, 0);
  Value one = indexConstant(b, loc, 1);
  gpu::LaunchOp launch =
      createLaunch(b, loc, one, one, one, indexConstant(b, loc, threads));
  Value tid = launch.getThreadIds().x;
  Type i32 = b.getI32Type();
  auto i32Value = [&](OpBuilder &b, Location l, Value index) -> Value {
    return arith::IndexCastOp::create(b, l, i32, index);
  };
  auto zeroIndex = [](OpBuilder &b, Location l) {
    return indexConstant(b, l, 0);
  };

  // 1. offsets[e + 1] = pairs routed to e.
  forMyExperts(
      b, loc, tid, threads, experts, [&](OpBuilder &b, Location l, Value e) {
        auto count = scf::ForOp::create(
            b, l, zeroIndex(b, l), pairs, indexConstant(b, l, 1),
            ValueRange{zeroIndex(b, l)},
            [&](OpBuilder &b, Location l, Value p, ValueRange n) {
              Value hit = arith::IndexCastUIOp::create(
                  b, l, b.getIndexType(), routedTo(b, l, idx, p, e, experts));
              scf::YieldOp::create(
                  b, l, ValueRange{arith::AddIOp::create(b, l, n[0], hit)});
            });
        memref::StoreOp::create(
            b, l, i32Value(b, l, count.getResult(0)), offsets,
            ValueRange{arith::AddIOp::create(b, l, e, indexConstant(b, l, 1))});
      });
  gpu::BarrierOp::create(b, loc);
  // 2. Thread 0: the exclusive prefix sum, offsets[0] = 0.
  onFirstThread(b, loc, tid, [&](OpBuilder &b, Location l) {
    Value zeroI = arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0));
    memref::StoreOp::create(b, l, zeroI, offsets, zeroIndex(b, l));
    scf::ForOp::create(
        b, l, indexConstant(b, l, 1), indexConstant(b, l, experts + 1),
        indexConstant(b, l, 1), ValueRange{zeroI},
        [&](OpBuilder &b, Location l, Value e, ValueRange sum) {
          Value next = arith::AddIOp::create(
              b, l, sum[0], memref::LoadOp::create(b, l, offsets, e));
          memref::StoreOp::create(b, l, next, offsets, e);
          scf::YieldOp::create(b, l, ValueRange{next});
        });
  });
  gpu::BarrierOp::create(b, loc);
  // 3. Scatter each expert's pairs in pair order from its first row.
  forMyExperts(
      b, loc, tid, threads, experts, [&](OpBuilder &b, Location l, Value e) {
        Value start = loadIndex(b, l, offsets, e);
        scf::ForOp::create(
            b, l, zeroIndex(b, l), pairs, indexConstant(b, l, 1),
            ValueRange{start},
            [&](OpBuilder &b, Location l, Value p, ValueRange row) {
              Value hit = routedTo(b, l, idx, p, e, experts);
              auto ifOp = scf::IfOp::create(b, l, hit, false);
              {
                OpBuilder::InsertionGuard guard(b);
                b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
                memref::StoreOp::create(b, l, i32Value(b, l, p), order, row[0]);
                memref::StoreOp::create(b, l, i32Value(b, l, row[0]), position,
                                        p);
              }
              Value step =
                  arith::IndexCastUIOp::create(b, l, b.getIndexType(), hit);
              scf::YieldOp::create(
                  b, l, ValueRange{arith::AddIOp::create(b, l, row[0], step)});
            });
      });
  op.erase();
  return success();
}

struct ExpertSortKernelPass
    : public mlir::strata::impl::StrataExpertSortKernelBase<
          ExpertSortKernelPass> {
  void runOnOperation() override {
    if (failed(lowerBufferized<kernel::ExpertSortOp>(
            getOperation(), getArgument(), lowerToKernel)))
      signalPassFailure();
  }
};

} // namespace

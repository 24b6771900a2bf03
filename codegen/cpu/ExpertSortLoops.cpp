//===- ExpertSortLoops.cpp - the expert counting sort as loops -*- C++ -*-===//
//
// strata_kernel.expert_sort on buffers -> four sequential loops: count each
// expert's pairs into offsets[e + 1], prefix-sum them, scatter each pair
// to its expert's cursor (offsets[e], which ends at its segment's end; a
// pair of no expert to offsets[E], after them all), and shift the offsets
// back by one. O(P + E) work and no temporary; on the
// CPU the pairs are few next to the expert GEMMs that follow.
//
//===----------------------------------------------------------------------===//

#include "codegen/LoweringUtils.h"
#include "codegen/cpu/Passes.h"
#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAEXPERTSORTLOOPS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

LogicalResult lowerToLoops(kernel::ExpertSortOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value idx = op.getIndices(), offsets = op.getOffsetsInit(),
        order = op.getOrderInit(), position = op.getPositionInit();
  int64_t experts = op.getNumExperts();
  Value zero = indexConstant(b, loc, 0), one = indexConstant(b, loc, 1);
  Value pairs = memref::DimOp::create(b, loc, idx, 0);
  Value zeroI = arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0));
  auto load = [](OpBuilder &b, Location l, Value m, Value i) -> Value {
    return memref::LoadOp::create(b, l, m, i);
  };
  // Pair p's expert, or E for an id outside [0, E): such a pair is no
  // expert's (an expert-parallel rank's rows carry -1 for experts held
  // elsewhere) and sorts after every expert's, with offsets[E] as its
  // cursor in step 3 (step 4 then restores offsets[E]).
  Value numExperts =
      arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(experts));
  auto expertOf = [&](OpBuilder &b, Location l, Value p) -> Value {
    Value id = memref::LoadOp::create(b, l, idx, p);
    Value inRange = arith::AndIOp::create(
        b, l, arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, id, zeroI),
        arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, id, numExperts));
    return arith::IndexCastOp::create(
        b, l, b.getIndexType(),
        arith::SelectOp::create(b, l, inRange, id, numExperts));
  };
  // 1. offsets[e + 1] = pairs of expert e.
  forRange(b, loc, zero, indexConstant(b, loc, experts + 1), one,
           [&](OpBuilder &b, Location l, Value e) {
             memref::StoreOp::create(b, l, zeroI, offsets, e);
           });
  forRange(b, loc, zero, pairs, one, [&](OpBuilder &b, Location l, Value p) {
    Value e = expertOf(b, l, p);
    Value routed = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, e,
                                         indexConstant(b, l, experts));
    scf::IfOp::create(b, l, routed, [&](OpBuilder &b, Location l) {
      Value slot = addConstant(b, l, e, 1);
      memref::StoreOp::create(
          b, l, addConstant(b, l, load(b, l, offsets, slot), 1), offsets, slot);
      scf::YieldOp::create(b, l);
    });
  });
  // 2. Inclusive prefix sum: offsets[e + 1] = pairs of experts <= e.
  forRange(b, loc, indexConstant(b, loc, 1), indexConstant(b, loc, experts + 1),
           one, [&](OpBuilder &b, Location l, Value e) {
             Value before = load(b, l, offsets, addConstant(b, l, e, -1));
             memref::StoreOp::create(
                 b, l,
                 arith::AddIOp::create(b, l, load(b, l, offsets, e), before),
                 offsets, e);
           });
  // 3. Scatter in pair order with offsets[e] as expert e's cursor: it ends
  // at offsets[e + 1]'s value.
  forRange(b, loc, zero, pairs, one, [&](OpBuilder &b, Location l, Value p) {
    Value e = expertOf(b, l, p);
    Value row = load(b, l, offsets, e);
    memref::StoreOp::create(
        b, l, arith::IndexCastOp::create(b, l, b.getI32Type(), p), order,
        arith::IndexCastOp::create(b, l, b.getIndexType(), row).getResult());
    memref::StoreOp::create(b, l, row, position, p);
    memref::StoreOp::create(b, l, addConstant(b, l, row, 1), offsets, e);
  });
  // 4. Each cursor now holds the next expert's start: shift back.
  forRange(
      b, loc, zero, indexConstant(b, loc, experts), one,
      [&](OpBuilder &b, Location l, Value i) {
        Value e = arith::SubIOp::create(b, l, indexConstant(b, l, experts), i);
        memref::StoreOp::create(
            b, l, load(b, l, offsets, addConstant(b, l, e, -1)), offsets, e);
      });
  memref::StoreOp::create(b, loc, zeroI, offsets, zero);
  op.erase();
  return success();
}

struct ExpertSortLoopsPass
    : public mlir::strata::impl::StrataExpertSortLoopsBase<
          ExpertSortLoopsPass> {
  void runOnOperation() override {
    if (failed(lowerBufferized<kernel::ExpertSortOp>(
            getOperation(), getArgument(), lowerToLoops)))
      signalPassFailure();
  }
};

} // namespace

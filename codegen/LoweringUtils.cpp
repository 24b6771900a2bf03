//===- LoweringUtils.cpp - helpers both targets' lowerings share -*- C++
//-*-===//

#include "codegen/LoweringUtils.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

Value mlir::strata::indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value mlir::strata::addConstant(OpBuilder &b, Location loc, Value x,
                                int64_t c) {
  Value cst =
      x.getType().isIndex()
          ? indexConstant(b, loc, c)
          : arith::ConstantOp::create(b, loc, b.getIntegerAttr(x.getType(), c))
                .getResult();
  return arith::AddIOp::create(b, loc, x, cst);
}

void mlir::strata::forRange(
    OpBuilder &b, Location loc, Value lb, Value ub, Value step,
    function_ref<void(OpBuilder &, Location, Value)> body) {
  scf::ForOp::create(b, loc, lb, ub, step, ValueRange{},
                     [&](OpBuilder &b, Location l, Value i, ValueRange) {
                       body(b, l, i);
                       scf::YieldOp::create(b, l);
                     });
}

Value mlir::strata::loadIndex(OpBuilder &b, Location loc, Value memref,
                              ValueRange indices) {
  Value v = memref::LoadOp::create(b, loc, memref, indices);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

Value mlir::strata::clampedIndex(OpBuilder &b, Location loc, Value value,
                                 int64_t size) {
  if (!value.getType().isIndex())
    value = arith::IndexCastOp::create(b, loc, b.getIndexType(), value);
  return arith::MinUIOp::create(b, loc, value, indexConstant(b, loc, size - 1));
}

Value mlir::strata::f32Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(
      b, loc, b.getF32Type(), b.getF32FloatAttr(static_cast<float>(value)));
}

SmallVector<Value> mlir::strata::parallelTripCounts(OpBuilder &b,
                                                    scf::ParallelOp loop) {
  SmallVector<Value> trips;
  Location loc = loop.getLoc();
  for (auto [lb, ub, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    Value span = arith::SubIOp::create(b, loc, ub, lb);
    trips.push_back(arith::CeilDivUIOp::create(b, loc, span, step));
  }
  return trips;
}

SmallVector<Value> mlir::strata::delinearize(OpBuilder &b, Location loc,
                                             Value linear,
                                             ArrayRef<Value> sizes) {
  SmallVector<Value> indices(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    if (d == 0) {
      indices[d] = linear;
      break;
    }
    indices[d] = arith::RemUIOp::create(b, loc, linear, sizes[d]);
    linear = arith::DivUIOp::create(b, loc, linear, sizes[d]);
  }
  return indices;
}

void mlir::strata::mapDelinearizedIvs(OpBuilder &b, Location loc, Value linear,
                                      ArrayRef<Value> trips,
                                      scf::ParallelOp bounds, ValueRange ivs,
                                      IRMapping &map) {
  for (auto [d, i] : llvm::enumerate(delinearize(b, loc, linear, trips))) {
    Value iv = arith::AddIOp::create(
        b, loc, bounds.getLowerBound()[d],
        arith::MulIOp::create(b, loc, i, bounds.getStep()[d]));
    map.map(ivs[d], iv);
  }
}

SmallVector<Value> mlir::strata::applyIndexingMap(OpBuilder &b, Location loc,
                                                  AffineMap map,
                                                  ValueRange ivs) {
  SmallVector<Value> indices;
  for (unsigned i = 0; i < map.getNumResults(); ++i) {
    if (auto dim = dyn_cast<AffineDimExpr>(map.getResult(i)))
      indices.push_back(ivs[dim.getPosition()]);
    else
      indices.push_back(
          affine::AffineApplyOp::create(b, loc, map.getSubMap({i}), ivs));
  }
  return indices;
}

void mlir::strata::createHookGlobal(OpBuilder &b, Location loc,
                                    StringRef name) {
  if (SymbolTable::lookupSymbolIn(b.getInsertionBlock()->getParentOp(), name))
    return;
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  auto global =
      LLVM::GlobalOp::create(b, loc, ptr, /*isConstant=*/false,
                             LLVM::Linkage::External, name, Attribute());
  OpBuilder::InsertionGuard guard(b);
  Block *init = b.createBlock(&global.getInitializerRegion());
  b.setInsertionPointToStart(init);
  Value zero = LLVM::ZeroOp::create(b, loc, ptr);
  LLVM::ReturnOp::create(b, loc, zero);
}

Value mlir::strata::loadHookGlobal(OpBuilder &b, Location loc, StringRef name) {
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  Value address = LLVM::AddressOfOp::create(b, loc, ptr, name);
  return LLVM::LoadOp::create(b, loc, ptr, address);
}

Value mlir::strata::arenaDescriptor(OpBuilder &b, Location loc, Type type,
                                    Value base, Value bytes) {
  constexpr int64_t alignment = kArenaAlignment;
  // {allocated, aligned, 0, [bytes], [1]}
  auto i64 = b.getI64Type();
  auto ptr = LLVM::LLVMPointerType::get(b.getContext());
  Value address = LLVM::PtrToIntOp::create(b, loc, i64, base);
  Value rounded = LLVM::AndOp::create(
      b, loc,
      LLVM::AddOp::create(b, loc, address,
                          LLVM::ConstantOp::create(b, loc, i64, alignment - 1)),
      LLVM::ConstantOp::create(b, loc, i64, ~(alignment - 1)));
  Value aligned = LLVM::IntToPtrOp::create(b, loc, ptr, rounded);
  Value d = LLVM::UndefOp::create(b, loc, type);
  d = LLVM::InsertValueOp::create(b, loc, d, base, ArrayRef<int64_t>{0});
  d = LLVM::InsertValueOp::create(b, loc, d, aligned, ArrayRef<int64_t>{1});
  d = LLVM::InsertValueOp::create(b, loc, d,
                                  LLVM::ConstantOp::create(b, loc, i64, 0),
                                  ArrayRef<int64_t>{2});
  d = LLVM::InsertValueOp::create(b, loc, d, bytes, ArrayRef<int64_t>{3, 0});
  return LLVM::InsertValueOp::create(b, loc, d,
                                     LLVM::ConstantOp::create(b, loc, i64, 1),
                                     ArrayRef<int64_t>{4, 0});
}

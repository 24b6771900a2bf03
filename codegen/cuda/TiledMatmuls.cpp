//===- TiledMatmuls.cpp - shared-memory tiled contractions -----*- C++ -*-===//
//
// C[.., m, n] += A[.., m, k] * B[.., k, n] with B read along n (A·B with B
// row-major, attention's P·V): one thread per output reads a row of A and
// a column of B for every output, twice the loads per multiply-add and no
// reuse. Here each block computes a 64x64 tile of C: per step along k it
// stages a 64x16 tile of A and a 16x64 tile of B in shared memory
// (coalesced loads, bounds-checked), and each of its 256 threads keeps a
// 4x4 block of C in registers, so a shared-memory value feeds four
// multiply-adds. Batch dimensions become the grid's z. Contractions that
// read both operands along k (x·Wᵀ) are left to strata-warp-reductions.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "codegen/cuda/KernelBuilder.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATATILEDMATMULS
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

constexpr int64_t kTile = 64, kDepth = 16, kThreads = 256, kPer = 4;

/// The loop dimensions of a matmul-like op.
struct Dims {
  unsigned m, n, k;
  SmallVector<unsigned> batch;
};

/// `out + a * b` over the two inputs, in either operand order.
bool isMulAdd(linalg::LinalgOp op) {
  Block *body = op.getBlock();
  if (body->getOperations().size() != 3)
    return false;
  auto mul = dyn_cast<arith::MulFOp>(&body->front());
  auto add = dyn_cast<arith::AddFOp>(mul ? mul->getNextNode() : nullptr);
  if (!mul || !add || !add.getType().isF32())
    return false;
  Value a = body->getArgument(0), b = body->getArgument(1),
        out = body->getArgument(2);
  bool mulOk = (mul.getLhs() == a && mul.getRhs() == b) ||
               (mul.getLhs() == b && mul.getRhs() == a);
  bool addOk = (add.getLhs() == out && add.getRhs() == mul) ||
               (add.getRhs() == out && add.getLhs() == mul);
  return mulOk && addOk &&
         cast<linalg::YieldOp>(body->getTerminator()).getOperand(0) == add;
}

std::optional<Dims> matchMatmul(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 1 ||
      !isMulAdd(op))
    return std::nullopt;
  for (OpOperand &operand : op->getOpOperands())
    if (!isa<MemRefType>(operand.get().getType()) ||
        !op.getMatchingIndexingMap(&operand).isProjectedPermutation())
      return std::nullopt;
  AffineMap a = op.getMatchingIndexingMap(op.getDpsInputOperand(0));
  AffineMap b = op.getMatchingIndexingMap(op.getDpsInputOperand(1));
  AffineMap c = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (c.getNumResults() < 2)
    return std::nullopt;
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  Dims d;
  d.k = reductions.front();
  d.n = cast<AffineDimExpr>(c.getResults().back()).getPosition();
  // m: the innermost other output dimension that only A reads (attention's
  // P·V writes [b, s, h, e] and reads V by h: m is s, not h).
  std::optional<unsigned> m;
  for (AffineExpr e : llvm::reverse(c.getResults().drop_back())) {
    unsigned dim = cast<AffineDimExpr>(e).getPosition();
    if (a.isFunctionOfDim(dim) && !b.isFunctionOfDim(dim)) {
      m = dim;
      break;
    }
  }
  if (!m)
    return std::nullopt;
  d.m = *m;
  // A reads m and k but not n; B reads k and n; B walks n fastest (else
  // the reduction is contiguous: strata-warp-reductions).
  if (!a.isFunctionOfDim(d.k) || a.isFunctionOfDim(d.n) ||
      !b.isFunctionOfDim(d.k) ||
      b.getResults().back() != getAffineDimExpr(d.n, op.getContext()))
    return std::nullopt;
  for (AffineExpr e : c.getResults().drop_back()) {
    unsigned dim = cast<AffineDimExpr>(e).getPosition();
    if (dim != d.m)
      d.batch.push_back(dim);
  }
  return d;
}

/// Loads operand `memref` at `indices` when `inBounds`, else 0.
Value guardedLoad(OpBuilder &b, Location loc, Value inBounds, Value memref,
                  ValueRange indices) {
  auto type = b.getF32Type();
  auto ifOp = scf::IfOp::create(b, loc, TypeRange{type}, inBounds,
                                /*withElse=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    scf::YieldOp::create(
        b, loc, ValueRange{memref::LoadOp::create(b, loc, memref, indices)});
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(
        b, loc,
        ValueRange{arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0))});
  }
  return ifOp.getResult(0);
}

Value lessThan(OpBuilder &b, Location loc, Value x, Value bound) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, bound);
}

void lowerTiled(linalg::LinalgOp op, const Dims &d) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  linalg::FillOp fill = fillFeeding(op);
  MLIRContext *ctx = op.getContext();
  SmallVector<Value> sizes;
  for (Range &r : op.createLoopRanges(b, loc))
    sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, r.size));
  Value tile = indexConstant(b, loc, kTile), one = indexConstant(b, loc, 1);
  Value gridX = arith::CeilDivUIOp::create(b, loc, sizes[d.n], tile);
  Value gridY = arith::CeilDivUIOp::create(b, loc, sizes[d.m], tile);
  Value gridZ = one;
  for (unsigned dim : d.batch)
    gridZ = arith::MulIOp::create(b, loc, gridZ, sizes[dim]);
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto tileType = MemRefType::get({kDepth, kTile}, b.getF32Type(),
                                  MemRefLayoutAttrInterface(), workgroup);
  // Grids of zero blocks are invalid launches; empty ranges then do
  // nothing inside.
  auto atLeastOne = [&](Value v) {
    return arith::MaxUIOp::create(b, loc, v, one);
  };
  Value batches = gridZ;
  gridZ = arith::MinUIOp::create(b, loc, gridZ, indexConstant(b, loc, 65535));
  gpu::LaunchOp launch = createLaunch(
      b, loc, atLeastOne(gridX), atLeastOne(gridY), atLeastOne(gridZ),
      indexConstant(b, loc, kThreads), TypeRange{tileType, tileType});
  Value aTile = launch.getWorkgroupAttributions()[0]; // [k][m]
  Value bTile = launch.getWorkgroupAttributions()[1]; // [k][n]

  Value tid = launch.getThreadIds().x;
  Value row0 = arith::MulIOp::create(b, loc, launch.getBlockIds().y, tile);
  Value col0 = arith::MulIOp::create(b, loc, launch.getBlockIds().x, tile);
  Value per = indexConstant(b, loc, kPer),
        sixteen = indexConstant(b, loc, kTile / kPer);
  Value ty = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, tid, sixteen), per);
  Value tx = arith::MulIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, tid, sixteen), per);
  // Batch indices from the grid's z (striding past 65535 batches),
  // innermost fastest.
  auto batchLoop = scf::ForOp::create(b, loc, launch.getBlockIds().z, batches,
                                      launch.getGridSize().z);
  b.setInsertionPoint(batchLoop.getBody()->getTerminator());
  SmallVector<Value> ivs(op.getNumLoops(), indexConstant(b, loc, 0));
  SmallVector<Value> batchSizes;
  for (unsigned dim : d.batch)
    batchSizes.push_back(sizes[dim]);
  for (auto [dim, iv] :
       llvm::zip(d.batch,
                 delinearize(b, loc, batchLoop.getInductionVar(), batchSizes)))
    ivs[dim] = iv;
  Value aMem = op.getDpsInputOperand(0)->get();
  Value bMem = op.getDpsInputOperand(1)->get();
  Value cMem = op.getDpsInitOperand(0)->get();
  AffineMap aMap = op.getMatchingIndexingMap(op.getDpsInputOperand(0));
  AffineMap bMap = op.getMatchingIndexingMap(op.getDpsInputOperand(1));
  AffineMap cMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));

  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  SmallVector<Value> init(kPer * kPer, zero);
  Value depth = indexConstant(b, loc, kDepth);
  auto kLoop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), sizes[d.k], depth, init,
      [&](OpBuilder &b, Location loc, Value k0, ValueRange acc) {
        // Stage the tiles: 1024 elements each, 4 per thread.
        for (int64_t q = 0; q < kTile * kDepth / kThreads; ++q) {
          Value e = arith::AddIOp::create(b, loc, tid,
                                          indexConstant(b, loc, q * kThreads));
          // A: k fastest (A is usually k-contiguous).
          Value am = arith::DivUIOp::create(b, loc, e, depth);
          Value ak = arith::RemUIOp::create(b, loc, e, depth);
          SmallVector<Value> at = ivs;
          at[d.m] = arith::AddIOp::create(b, loc, row0, am);
          at[d.k] = arith::AddIOp::create(b, loc, k0, ak);
          Value ok = arith::AndIOp::create(
              b, loc, lessThan(b, loc, at[d.m], sizes[d.m]),
              lessThan(b, loc, at[d.k], sizes[d.k]));
          memref::StoreOp::create(
              b, loc,
              guardedLoad(b, loc, ok, aMem, applyIndexingMap(b, loc, aMap, at)),
              aTile, ValueRange{ak, am});
          // B: n fastest (coalesced).
          Value bk = arith::DivUIOp::create(b, loc, e, tile);
          Value bn = arith::RemUIOp::create(b, loc, e, tile);
          SmallVector<Value> bt = ivs;
          bt[d.k] = arith::AddIOp::create(b, loc, k0, bk);
          bt[d.n] = arith::AddIOp::create(b, loc, col0, bn);
          ok = arith::AndIOp::create(b, loc,
                                     lessThan(b, loc, bt[d.k], sizes[d.k]),
                                     lessThan(b, loc, bt[d.n], sizes[d.n]));
          memref::StoreOp::create(
              b, loc,
              guardedLoad(b, loc, ok, bMem, applyIndexingMap(b, loc, bMap, bt)),
              bTile, ValueRange{bk, bn});
        }
        gpu::BarrierOp::create(b, loc);
        auto inner = scf::ForOp::create(
            b, loc, indexConstant(b, loc, 0), depth, indexConstant(b, loc, 1),
            acc, [&](OpBuilder &b, Location loc, Value kk, ValueRange acc) {
              SmallVector<Value> av, bv, next;
              for (int64_t i = 0; i < kPer; ++i) {
                av.push_back(memref::LoadOp::create(
                    b, loc, aTile,
                    ValueRange{kk, arith::AddIOp::create(
                                       b, loc, ty, indexConstant(b, loc, i))}));
                bv.push_back(memref::LoadOp::create(
                    b, loc, bTile,
                    ValueRange{kk, arith::AddIOp::create(
                                       b, loc, tx, indexConstant(b, loc, i))}));
              }
              for (int64_t i = 0; i < kPer; ++i)
                for (int64_t j = 0; j < kPer; ++j)
                  next.push_back(math::FmaOp::create(b, loc, av[i], bv[j],
                                                     acc[i * kPer + j]));
              scf::YieldOp::create(b, loc, next);
            });
        gpu::BarrierOp::create(b, loc);
        scf::YieldOp::create(b, loc, inner.getResults());
      });
  // C = C_init + acc, inside the bounds.
  for (int64_t i = 0; i < kPer; ++i)
    for (int64_t j = 0; j < kPer; ++j) {
      SmallVector<Value> at = ivs;
      at[d.m] = arith::AddIOp::create(
          b, loc, row0,
          arith::AddIOp::create(b, loc, ty, indexConstant(b, loc, i)));
      at[d.n] = arith::AddIOp::create(
          b, loc, col0,
          arith::AddIOp::create(b, loc, tx, indexConstant(b, loc, j)));
      Value ok =
          arith::AndIOp::create(b, loc, lessThan(b, loc, at[d.m], sizes[d.m]),
                                lessThan(b, loc, at[d.n], sizes[d.n]));
      auto ifOp = scf::IfOp::create(b, loc, ok, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      SmallVector<Value> cIdx = applyIndexingMap(b, loc, cMap, at);
      Value old = fill ? fill.getInputs()[0]
                       : memref::LoadOp::create(b, loc, cMem, cIdx).getResult();
      Value sum =
          arith::AddFOp::create(b, loc, old, kLoop.getResult(i * kPer + j));
      memref::StoreOp::create(b, loc, sum, cMem, cIdx);
    }
  op->erase();
  if (fill)
    fill->erase();
}

struct TiledMatmulsPass
    : public mlir::strata::impl::StrataTiledMatmulsBase<TiledMatmulsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<std::pair<linalg::LinalgOp, Dims>> work;
    for (auto func : getOperation().getOps<func::FuncOp>())
      for (Operation &op : func.getBody().getOps())
        if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
          if (std::optional<Dims> d = matchMatmul(linalgOp))
            work.push_back({linalgOp, *d});
    for (auto &[op, dims] : work)
      lowerTiled(op, dims);
  }
};

} // namespace

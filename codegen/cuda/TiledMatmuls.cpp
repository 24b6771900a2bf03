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
// read both operands along k (x·Wᵀ) are left to strata-warp-reductions,
// except with tensor cores (lowerTensorCore below), which take x·Wᵀ with
// enough rows.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "codegen/cuda/KernelBuilder.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
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
  bool bAlongK = false; ///< B read along k (x·Wᵀ), not along n (A·B)
};

/// Rows (m) from which x·Wᵀ runs on tensor cores; fewer rows (decode's
/// matrix-vector products) stay one warp per output.
constexpr int64_t kTensorCoreMinRows = 16;

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

std::optional<Dims> matchMatmul(linalg::LinalgOp op, bool allowAlongK) {
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
  // the reduction is contiguous: strata-warp-reductions), or k when
  // allowed (x·Wᵀ on tensor cores).
  if (!a.isFunctionOfDim(d.k) || a.isFunctionOfDim(d.n) ||
      !b.isFunctionOfDim(d.k) || !b.isFunctionOfDim(d.n))
    return std::nullopt;
  AffineExpr bLast = b.getResults().back();
  d.bAlongK = bLast == getAffineDimExpr(d.k, op.getContext());
  if (bLast != getAffineDimExpr(d.n, op.getContext()) &&
      !(allowAlongK && d.bAlongK))
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

/// What both tile kernels share: a launch of 64x64 output tiles (grid x
/// over n, y over m, z striding over the batch), `b` left inside the
/// batch loop with the batch indices in `ivs`.
struct TileLaunch {
  linalg::LinalgOp op;
  Dims d;
  linalg::FillOp fill;
  SmallVector<Value> sizes, ivs;
  gpu::LaunchOp launch;
  Value row0, col0, tid;

  Value aMem() { return op.getDpsInputOperand(0)->get(); }
  Value bMem() { return op.getDpsInputOperand(1)->get(); }
  Value cMem() { return op.getDpsInitOperand(0)->get(); }
  AffineMap map(OpOperand *operand) {
    return op.getMatchingIndexingMap(operand);
  }

  /// Loads A (operand 0) or B (1) at output row `m` / column `n` and depth
  /// `k` (absolute), 0 outside the operand.
  Value load(OpBuilder &b, Location loc, unsigned operand, Value mn, Value k) {
    SmallVector<Value> at = ivs;
    unsigned dim = operand == 0 ? d.m : d.n;
    at[dim] = mn;
    at[d.k] = k;
    Value ok = arith::AndIOp::create(b, loc, lessThan(b, loc, mn, sizes[dim]),
                                     lessThan(b, loc, k, sizes[d.k]));
    OpOperand *o = op.getDpsInputOperand(operand);
    return guardedLoad(b, loc, ok, o->get(),
                       applyIndexingMap(b, loc, map(o), at));
  }

  /// C[m, n] = C_init + `acc` when (m, n) is inside C.
  void store(OpBuilder &b, Location loc, Value m, Value n, Value acc) {
    SmallVector<Value> at = ivs;
    at[d.m] = m;
    at[d.n] = n;
    Value ok = arith::AndIOp::create(b, loc, lessThan(b, loc, m, sizes[d.m]),
                                     lessThan(b, loc, n, sizes[d.n]));
    auto ifOp = scf::IfOp::create(b, loc, ok, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    SmallVector<Value> cIdx =
        applyIndexingMap(b, loc, map(op.getDpsInitOperand(0)), at);
    Value old = fill ? fill.getInputs()[0]
                     : memref::LoadOp::create(b, loc, cMem(), cIdx).getResult();
    memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, acc),
                            cMem(), cIdx);
  }

  void finish() {
    op->erase();
    if (fill)
      fill->erase();
  }
};

TileLaunch createTileLaunch(OpBuilder &b, linalg::LinalgOp op, const Dims &d,
                            int64_t threads, TypeRange workgroup) {
  TileLaunch t{op, d, fillFeeding(op)};
  Location loc = op.getLoc();
  for (Range &r : op.createLoopRanges(b, loc))
    t.sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, r.size));
  Value tile = indexConstant(b, loc, kTile), one = indexConstant(b, loc, 1);
  Value gridX = arith::CeilDivUIOp::create(b, loc, t.sizes[d.n], tile);
  Value gridY = arith::CeilDivUIOp::create(b, loc, t.sizes[d.m], tile);
  Value batches = one;
  for (unsigned dim : d.batch)
    batches = arith::MulIOp::create(b, loc, batches, t.sizes[dim]);
  // Grids of zero blocks are invalid launches; empty ranges then do
  // nothing inside.
  auto atLeastOne = [&](Value v) {
    return arith::MaxUIOp::create(b, loc, v, one);
  };
  Value gridZ =
      arith::MinUIOp::create(b, loc, batches, indexConstant(b, loc, 65535));
  t.launch = createLaunch(b, loc, atLeastOne(gridX), atLeastOne(gridY),
                          atLeastOne(gridZ), indexConstant(b, loc, threads),
                          workgroup);
  t.tid = t.launch.getThreadIds().x;
  t.row0 = arith::MulIOp::create(b, loc, t.launch.getBlockIds().y, tile);
  t.col0 = arith::MulIOp::create(b, loc, t.launch.getBlockIds().x, tile);
  // Batch indices from the grid's z (striding past 65535 batches),
  // innermost fastest.
  auto batchLoop = scf::ForOp::create(b, loc, t.launch.getBlockIds().z, batches,
                                      t.launch.getGridSize().z);
  b.setInsertionPoint(batchLoop.getBody()->getTerminator());
  t.ivs.assign(op.getNumLoops(), indexConstant(b, loc, 0));
  SmallVector<Value> batchSizes;
  for (unsigned dim : d.batch)
    batchSizes.push_back(t.sizes[dim]);
  for (auto [dim, iv] :
       llvm::zip(d.batch,
                 delinearize(b, loc, batchLoop.getInductionVar(), batchSizes)))
    t.ivs[dim] = iv;
  return t;
}

Value add(OpBuilder &b, Location loc, Value x, int64_t c) {
  return arith::AddIOp::create(b, loc, x, indexConstant(b, loc, c));
}

/// f32 FMA kernel: 256 threads, each a 4x4 register block.
void lowerTiled(linalg::LinalgOp op, const Dims &d) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto workgroup =
      gpu::AddressSpaceAttr::get(op.getContext(), gpu::AddressSpace::Workgroup);
  auto tileType = MemRefType::get({kDepth, kTile}, b.getF32Type(),
                                  MemRefLayoutAttrInterface(), workgroup);
  TileLaunch t =
      createTileLaunch(b, op, d, kThreads, TypeRange{tileType, tileType});
  Value aTile = t.launch.getWorkgroupAttributions()[0]; // [k][m]
  Value bTile = t.launch.getWorkgroupAttributions()[1]; // [k][n]
  Value tid = t.tid, tile = indexConstant(b, loc, kTile);
  Value per = indexConstant(b, loc, kPer),
        sixteen = indexConstant(b, loc, kTile / kPer);
  Value ty = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, tid, sixteen), per);
  Value tx = arith::MulIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, tid, sixteen), per);

  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  SmallVector<Value> init(kPer * kPer, zero);
  Value depth = indexConstant(b, loc, kDepth);
  auto kLoop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), t.sizes[d.k], depth, init,
      [&](OpBuilder &b, Location loc, Value k0, ValueRange acc) {
        // Stage the tiles: 1024 elements each, 4 per thread.
        for (int64_t q = 0; q < kTile * kDepth / kThreads; ++q) {
          Value e = add(b, loc, tid, q * kThreads);
          // A: k fastest (A is usually k-contiguous).
          Value am = arith::DivUIOp::create(b, loc, e, depth);
          Value ak = arith::RemUIOp::create(b, loc, e, depth);
          memref::StoreOp::create(
              b, loc,
              t.load(b, loc, 0, arith::AddIOp::create(b, loc, t.row0, am),
                     arith::AddIOp::create(b, loc, k0, ak)),
              aTile, ValueRange{ak, am});
          // B: n fastest (coalesced).
          Value bk = arith::DivUIOp::create(b, loc, e, tile);
          Value bn = arith::RemUIOp::create(b, loc, e, tile);
          memref::StoreOp::create(
              b, loc,
              t.load(b, loc, 1, arith::AddIOp::create(b, loc, t.col0, bn),
                     arith::AddIOp::create(b, loc, k0, bk)),
              bTile, ValueRange{bk, bn});
        }
        gpu::BarrierOp::create(b, loc);
        auto inner = scf::ForOp::create(
            b, loc, indexConstant(b, loc, 0), depth, indexConstant(b, loc, 1),
            acc, [&](OpBuilder &b, Location loc, Value kk, ValueRange acc) {
              SmallVector<Value> av, bv, next;
              for (int64_t i = 0; i < kPer; ++i) {
                av.push_back(memref::LoadOp::create(
                    b, loc, aTile, ValueRange{kk, add(b, loc, ty, i)}));
                bv.push_back(memref::LoadOp::create(
                    b, loc, bTile, ValueRange{kk, add(b, loc, tx, i)}));
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
  for (int64_t i = 0; i < kPer; ++i)
    for (int64_t j = 0; j < kPer; ++j)
      t.store(b, loc, arith::AddIOp::create(b, loc, t.row0, add(b, loc, ty, i)),
              arith::AddIOp::create(b, loc, t.col0, add(b, loc, tx, j)),
              kLoop.getResult(i * kPer + j));
  t.finish();
}

/// Tensor-core kernel (sm_80+): 4 warps, each a 32x32 quarter of the tile
/// as 2x4 mma.sync m16n8k16 tiles (nvvm.mma.sync: nvgpu's mma.sync has no
/// bf16 lowering in MLIR 22) with bf16 operands and f32
/// accumulators. Per step of 16 along k, A's 64x16 and B's 16x64 tiles
/// are rounded to bf16 and staged k-contiguous ([m][k] and [n][k]), so a
/// lane's fragment pairs are adjacent. Fragment ownership follows the PTX
/// ISA (g = lane / 4, c = lane % 4): A registers hold rows g and g + 8 at
/// k = 2c, 2c + 8 (+1); B registers k = 2c, 2c + 8 (+1) at column g; C
/// rows g and g + 8 at columns 2c (+1).
void lowerTensorCore(linalg::LinalgOp op, const Dims &d) {
  constexpr int64_t kWarps = 4, kMmaM = 16, kMmaN = 8, kMmaK = 16;
  constexpr int64_t kWarpTile = 32, kTilesM = kWarpTile / kMmaM,
                    kTilesN = kWarpTile / kMmaN;
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type bf16 = b.getBF16Type(), f32 = b.getF32Type();
  auto workgroup =
      gpu::AddressSpaceAttr::get(op.getContext(), gpu::AddressSpace::Workgroup);
  auto tileType = MemRefType::get({kTile, kMmaK}, bf16,
                                  MemRefLayoutAttrInterface(), workgroup);
  TileLaunch t = createTileLaunch(b, op, d, kWarps * strata::kWarpSize,
                                  TypeRange{tileType, tileType});
  Value aTile = t.launch.getWorkgroupAttributions()[0]; // [m][k]
  Value bTile = t.launch.getWorkgroupAttributions()[1]; // [n][k]
  Value warpSize = indexConstant(b, loc, strata::kWarpSize);
  Value lane = arith::RemUIOp::create(b, loc, t.tid, warpSize);
  Value warp = arith::DivUIOp::create(b, loc, t.tid, warpSize);
  Value two = indexConstant(b, loc, 2), four = indexConstant(b, loc, 4);
  Value g = arith::DivUIOp::create(b, loc, lane, four);
  Value c2 = arith::MulIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, lane, four), two);
  Value warpTile = indexConstant(b, loc, kWarpTile);
  Value wm = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, warp, two), warpTile);
  Value wn = arith::MulIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, warp, two), warpTile);

  // Four f32 accumulators per mma tile and lane: c0..c3.
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  SmallVector<Value> init(kTilesM * kTilesN * 4, zero);
  Value depth = indexConstant(b, loc, kMmaK);
  Type i32 = b.getI32Type(), i16 = b.getI16Type();
  auto kLoop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), t.sizes[d.k], depth, init,
      [&](OpBuilder &b, Location loc, Value k0, ValueRange acc) {
        // Stage: 1024 elements per operand, 8 per thread.
        int64_t threads = kWarps * strata::kWarpSize;
        for (int64_t q = 0; q < kTile * kMmaK / threads; ++q) {
          Value e = add(b, loc, t.tid, q * threads);
          auto stage = [&](unsigned operand, Value mn, Value k, Value tile) {
            Value v = t.load(b, loc, operand,
                             arith::AddIOp::create(
                                 b, loc, operand == 0 ? t.row0 : t.col0, mn),
                             arith::AddIOp::create(b, loc, k0, k));
            memref::StoreOp::create(b, loc,
                                    arith::TruncFOp::create(b, loc, bf16, v),
                                    tile, ValueRange{mn, k});
          };
          // A k-fastest, B n-fastest (k-fastest for x·Wᵀ): coalesced
          // global reads for the usual row-major operands.
          stage(0, arith::DivUIOp::create(b, loc, e, depth),
                arith::RemUIOp::create(b, loc, e, depth), aTile);
          Value tile = indexConstant(b, loc, kTile);
          if (d.bAlongK)
            stage(1, arith::DivUIOp::create(b, loc, e, depth),
                  arith::RemUIOp::create(b, loc, e, depth), bTile);
          else
            stage(1, arith::RemUIOp::create(b, loc, e, tile),
                  arith::DivUIOp::create(b, loc, e, tile), bTile);
        }
        gpu::BarrierOp::create(b, loc);
        // One 32-bit fragment register: tile[row][col] in the low half,
        // tile[row][col + 1] in the high half.
        auto reg = [&](Value tile, Value row, Value col) -> Value {
          auto half = [&](Value c) -> Value {
            Value v = memref::LoadOp::create(b, loc, tile, ValueRange{row, c});
            return arith::ExtUIOp::create(
                b, loc, i32, arith::BitcastOp::create(b, loc, i16, v));
          };
          Value hi = arith::ShLIOp::create(
              b, loc, half(add(b, loc, col, 1)),
              arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(16)));
          return arith::OrIOp::create(b, loc, half(col), hi);
        };
        SmallVector<SmallVector<Value>> aFrags, bFrags;
        Value k8 = add(b, loc, c2, 8);
        for (int64_t i = 0; i < kTilesM; ++i) {
          Value r =
              arith::AddIOp::create(b, loc, wm, add(b, loc, g, i * kMmaM));
          Value r8 = add(b, loc, r, 8);
          aFrags.push_back({reg(aTile, r, c2), reg(aTile, r8, c2),
                            reg(aTile, r, k8), reg(aTile, r8, k8)});
        }
        for (int64_t j = 0; j < kTilesN; ++j) {
          Value n =
              arith::AddIOp::create(b, loc, wn, add(b, loc, g, j * kMmaN));
          bFrags.push_back({reg(bTile, n, c2), reg(bTile, n, k8)});
        }
        auto resultType = LLVM::LLVMStructType::getLiteral(
            b.getContext(), SmallVector<Type>(4, f32));
        SmallVector<Value> next;
        for (int64_t i = 0; i < kTilesM; ++i)
          for (int64_t j = 0; j < kTilesN; ++j) {
            ValueRange c = acc.slice((i * kTilesN + j) * 4, 4);
            Value mma = NVVM::MmaOp::create(
                b, loc, resultType, aFrags[i], bFrags[j], c,
                ArrayRef<int64_t>{kMmaM, kMmaN, kMmaK}, std::nullopt,
                std::nullopt,
                std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16,
                                              NVVM::MMATypes::bf16},
                std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                               NVVM::MMALayout::col});
            for (int64_t r = 0; r < 4; ++r)
              next.push_back(LLVM::ExtractValueOp::create(b, loc, mma, r));
          }
        gpu::BarrierOp::create(b, loc);
        scf::YieldOp::create(b, loc, next);
      });
  for (int64_t i = 0; i < kTilesM; ++i)
    for (int64_t j = 0; j < kTilesN; ++j)
      for (int64_t r = 0; r < 4; ++r) {
        // c0, c1: row g; c2, c3: row g + 8; columns 2c, 2c + 1.
        Value m = arith::AddIOp::create(
            b, loc, t.row0,
            arith::AddIOp::create(b, loc, wm,
                                  add(b, loc, g, i * kMmaM + 8 * (r / 2))));
        Value n = arith::AddIOp::create(
            b, loc, t.col0,
            arith::AddIOp::create(b, loc, wn,
                                  add(b, loc, c2, j * kMmaN + r % 2)));
        t.store(b, loc, m, n, kLoop.getResult((i * kTilesN + j) * 4 + r));
      }
  t.finish();
}

/// x·Wᵀ: tensor-core tiles when it has at least kTensorCoreMinRows rows,
/// else one warp per output (strata-warp-reductions' kernel); with a
/// dynamic row count, both kernels behind a host-side branch.
void lowerLinearOnTensorCores(linalg::LinalgOp op, const Dims &d) {
  int64_t rows = op.getStaticLoopRanges()[d.m];
  if (!ShapedType::isDynamic(rows)) {
    if (rows >= kTensorCoreMinRows)
      lowerTensorCore(op, d);
    return; // strata-warp-reductions takes it
  }
  if (!isWarpReducible(op, /*minReduction=*/0))
    return lowerTensorCore(op, d);
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value m = getValueOrCreateConstantIndexOp(
      b, loc, op.createLoopRanges(b, loc)[d.m].size);
  Value many = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, m,
                                     indexConstant(b, loc, kTensorCoreMinRows));
  auto ifOp = scf::IfOp::create(b, loc, many, /*withElse=*/true);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  auto tiles = cast<linalg::LinalgOp>(b.clone(*op));
  b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
  auto warps = cast<linalg::LinalgOp>(b.clone(*op));
  op->erase();
  lowerTensorCore(tiles, d);
  // strata-warp-reductions' defaults: 8 warps per block, 65535 blocks.
  (void)lowerToWarps(warps, /*warpsPerBlock=*/8, /*maxBlocks=*/65535);
}

struct TiledMatmulsPass
    : public mlir::strata::impl::StrataTiledMatmulsBase<TiledMatmulsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<std::pair<linalg::LinalgOp, Dims>> work;
    for (auto func : getOperation().getOps<func::FuncOp>())
      for (Operation &op : func.getBody().getOps())
        if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
          if (std::optional<Dims> d = matchMatmul(linalgOp, tensorCores))
            work.push_back({linalgOp, *d});
    for (auto &[op, dims] : work) {
      if (!tensorCores)
        lowerTiled(op, dims);
      else if (!dims.bAlongK)
        lowerTensorCore(op, dims);
      else
        lowerLinearOnTensorCores(op, dims);
    }
  }
};

} // namespace

//===- TiledMatmuls.cpp - shared-memory tiled contractions -----*- C++ -*-===//
//
// C[.., m, n] += A[.., m, k] * B[.., k, n] (A·B with B row-major,
// attention's P·V) or B[.., n, k] (x·Wᵀ: every linear layer): one thread
// or warp per output reads a row of A and a column of B for every output,
// with no reuse. Here each block computes a 64x64 tile of C: per step
// along k it stages 64x16 tiles of A and B in shared memory (coalesced
// loads, bounds-checked), and each of its 256 threads keeps a 4x4 block of
// C in registers, so a shared-memory value feeds four multiply-adds (or 4
// warps run bf16 mma.sync with tensor-cores). Batch dimensions become the
// grid's z. x·Wᵀ with fewer than 16 rows (decode's matrix-vector
// products) is left to strata-warp-reductions; with a dynamic row count a
// host-side branch chooses. Quantized products match too: inputs widened
// in the body (int8 weights for f32 activations) are widened as staged,
// and int8 x int8 sums into i32 take the integer tiles. The tile bodies
// are in TileKernels.cpp; this pass matches contractions and maps blocks
// to their tiles.
//
//===----------------------------------------------------------------------===//

#include "codegen/cuda/Passes.h"
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/TileKernels.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATATILEDMATMULS
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// The loop dimensions of a matmul-like op.
struct Dims {
  unsigned m, n, k;
  SmallVector<unsigned> batch;
  bool bAlongK = false; ///< B read along k (x·Wᵀ), not along n (A·B)
  Type accumulator;     ///< f32, or i32 (int8 operands)
};

/// Rows (m) from which x·Wᵀ runs on tiles; fewer rows (decode's
/// matrix-vector products) stay one warp per output.
constexpr int64_t kTileMinRows = 16;

/// `v` read as a block argument of `body`, directly or through the
/// widening that a quantized or narrow-weight contraction applies (int8
/// sitofp, bf16/f16 extf into f32; int8 extsi into i32).
BlockArgument widenedArgument(Value v, Type accumulator) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return dyn_cast<BlockArgument>(v);
  Value in;
  if (auto cast = dyn_cast<arith::SIToFPOp>(def);
      cast && accumulator.isF32() && cast.getIn().getType().isInteger(8))
    in = cast.getIn();
  else if (auto ext = dyn_cast<arith::ExtFOp>(def);
           ext && accumulator.isF32() &&
           isa<BFloat16Type, Float16Type>(ext.getIn().getType()))
    in = ext.getIn();
  else if (auto ext = dyn_cast<arith::ExtSIOp>(def);
           ext && accumulator.isInteger(32) &&
           ext.getIn().getType().isInteger(8))
    in = ext.getIn();
  return dyn_cast_or_null<BlockArgument>(in);
}

/// `out + a * b` over the two inputs, in either operand order: f32, with
/// int8, bf16 or f16 inputs widened to f32, or int8 inputs summed exactly
/// into i32 (a quantized model's products). The accumulator type when it
/// is one.
std::optional<Type> mulAddAccumulator(linalg::LinalgOp op) {
  Block *body = op.getBlock();
  Value result = cast<linalg::YieldOp>(body->getTerminator()).getOperand(0);
  Type acc = result.getType();
  bool integer = acc.isInteger(32);
  if (!acc.isF32() && !integer)
    return std::nullopt;
  Operation *add = result.getDefiningOp();
  if (!add || !(integer ? isa<arith::AddIOp>(add) : isa<arith::AddFOp>(add)))
    return std::nullopt;
  Value out = body->getArgument(2);
  Value product = add->getOperand(0) == out ? add->getOperand(1)
                                            : add->getOperand(0);
  Operation *mul = product.getDefiningOp();
  if ((add->getOperand(0) != out && add->getOperand(1) != out) || !mul ||
      !(integer ? isa<arith::MulIOp>(mul) : isa<arith::MulFOp>(mul)))
    return std::nullopt;
  BlockArgument x = widenedArgument(mul->getOperand(0), acc),
                y = widenedArgument(mul->getOperand(1), acc);
  if (!x || !y || x == y || x == out || y == out)
    return std::nullopt;
  // Integer sums take int8 on both sides (the int8 tiles stage i8).
  if (integer && (x.getType() != y.getType() || !x.getType().isInteger(8)))
    return std::nullopt;
  // Nothing else in the body: the add, the product and the widenings.
  size_t widenings = (x != mul->getOperand(0)) + (y != mul->getOperand(1));
  if (body->getOperations().size() != 3 + widenings)
    return std::nullopt;
  return acc;
}

std::optional<Dims> matchMatmul(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 1)
    return std::nullopt;
  std::optional<Type> accumulator = mulAddAccumulator(op);
  if (!accumulator)
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
  d.accumulator = *accumulator;
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
  // A reads m and k but not n; B reads k and n, walking n fastest (A·B)
  // or k (x·Wᵀ).
  if (!a.isFunctionOfDim(d.k) || a.isFunctionOfDim(d.n) ||
      !b.isFunctionOfDim(d.k) || !b.isFunctionOfDim(d.n))
    return std::nullopt;
  AffineExpr bLast = b.getResults().back();
  d.bAlongK = bLast == getAffineDimExpr(d.k, op.getContext());
  if (bLast != getAffineDimExpr(d.n, op.getContext()) && !d.bAlongK)
    return std::nullopt;
  for (AffineExpr e : c.getResults().drop_back()) {
    unsigned dim = cast<AffineDimExpr>(e).getPosition();
    if (dim != d.m)
      d.batch.push_back(dim);
  }
  return d;
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
    memref::StoreOp::create(b, loc, addSum(b, loc, old, acc), cMem(), cIdx);
  }
};

/// The launch for `op`, whose outputs start from `fill`'s value (their
/// current contents when null).
TileLaunch createTileLaunch(OpBuilder &b, linalg::LinalgOp op, const Dims &d,
                            int64_t threads, TypeRange workgroup,
                            linalg::FillOp fill) {
  TileLaunch t{op, d, fill};
  Location loc = op.getLoc();
  for (Range &r : op.createLoopRanges(b, loc))
    t.sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, r.size));
  Value tile = indexConstant(b, loc, kTileSize), one = indexConstant(b, loc, 1);
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
  // Grid y and z are at most 65535: blocks stride over further row tiles
  // and batches.
  Value maxYZ = indexConstant(b, loc, 65535);
  Value gridZ = arith::MinUIOp::create(b, loc, batches, maxYZ);
  t.launch = createLaunch(
      b, loc, atLeastOne(gridX),
      atLeastOne(arith::MinUIOp::create(b, loc, gridY, maxYZ)),
      atLeastOne(gridZ), indexConstant(b, loc, threads), workgroup);
  t.tid = t.launch.getThreadIds().x;
  t.col0 = arith::MulIOp::create(b, loc, t.launch.getBlockIds().x, tile);
  auto rowLoop = scf::ForOp::create(b, loc, t.launch.getBlockIds().y, gridY,
                                    t.launch.getGridSize().y);
  b.setInsertionPoint(rowLoop.getBody()->getTerminator());
  t.row0 = arith::MulIOp::create(b, loc, rowLoop.getInductionVar(), tile);
  // Batch indices, innermost fastest.
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

/// The tile kernel of `kind` for a matched contraction, starting from
/// `fill`'s value (which the caller erases) when given.
void lowerTiles(linalg::LinalgOp op, const Dims &d, TileKind kind,
                linalg::FillOp fill) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  TileLaunch t = createTileLaunch(b, op, d, tileThreads(kind),
                                  tileBuffers(op.getContext(), kind), fill);
  auto load = [&](OpBuilder &b, Location loc, unsigned operand, Value mn,
                  Value k) { return t.load(b, loc, operand, mn, k); };
  auto store = [&](OpBuilder &b, Location loc, Value m, Value n, Value acc) {
    t.store(b, loc, m, n, acc);
  };
  buildTile(
      b, loc, kind, t.launch.getWorkgroupAttributions(),
      TileAccess{t.tid, t.row0, t.col0, t.sizes[d.k], d.bAlongK, load, store});
  op->erase();
}

/// The same, folding in (and erasing) the fill of op's output, if any.
void lowerTiles(linalg::LinalgOp op, const Dims &d, TileKind kind) {
  linalg::FillOp fill = fillFeeding(op);
  lowerTiles(op, d, kind, fill);
  if (fill)
    fill->erase();
}

/// x·Wᵀ: tiles of `kind` when it has at least kTileMinRows rows, else one
/// warp per output (strata-warp-reductions' kernel); with a dynamic row
/// count, both kernels behind a host-side branch, both starting from the
/// output's fill (erased: one launch fewer per layer).
void lowerLinearOnTiles(linalg::LinalgOp op, const Dims &d, TileKind kind) {
  int64_t rows = op.getStaticLoopRanges()[d.m];
  if (!ShapedType::isDynamic(rows)) {
    if (rows >= kTileMinRows)
      lowerTiles(op, d, kind);
    return; // strata-warp-reductions takes it
  }
  if (!isWarpReducible(op, /*minReduction=*/0))
    return lowerTiles(op, d, kind);
  linalg::FillOp fill = fillFeeding(op);
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value m = getValueOrCreateConstantIndexOp(
      b, loc, op.createLoopRanges(b, loc)[d.m].size);
  Value many = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, m,
                                     indexConstant(b, loc, kTileMinRows));
  auto ifOp = scf::IfOp::create(b, loc, many, /*withElse=*/true);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  auto tiles = cast<linalg::LinalgOp>(b.clone(*op));
  b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
  auto warps = cast<linalg::LinalgOp>(b.clone(*op));
  op->erase();
  lowerTiles(tiles, d, kind, fill);
  // strata-warp-reductions' defaults: 8 warps per block, 65535 blocks.
  (void)lowerToWarps(warps, /*warpsPerBlock=*/8, /*maxBlocks=*/65535, fill);
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
    for (auto &[op, dims] : work) {
      TileKind kind = tileKindFor(dims.accumulator, tensorCores);
      if (dims.bAlongK)
        lowerLinearOnTiles(op, dims, kind);
      else
        lowerTiles(op, dims, kind);
    }
  }
};

} // namespace

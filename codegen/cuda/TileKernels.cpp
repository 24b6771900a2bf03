//===- TileKernels.cpp - a block's 64x64 tile of a contraction -*- C++ -*-===//
//
// Shared-memory tiles are padded against bank conflicts: f32 tiles are
// [16][66] (a warp staging 16 k by 2 rows writes word 66·k + r, bank
// 2k + r: 32 banks; staged row-fastest, 32 consecutive words), bf16 tiles
// [64][24] (a fragment load by lanes g = 0..7, c = 0..3 reads word
// 12g + c: 32 banks; k-fastest staging writes 16 consecutive words).
// int8 tiles are [64][48] bytes (12 words a row: a fragment register at
// row g, k = 4c reads word 12g + c, 32 banks). Left: bf16 B staged
// row-fastest (A·B on tensor cores) writes word 12n + k/2, 4-way
// conflicts (8-way unpadded), the f32 body's B reads by columns 4j and
// 4j + 32 are 2-way, and int8 fragment registers are packed from four
// byte loads (the rows are word-aligned: one 32-bit load would do).
//
//===----------------------------------------------------------------------===//

#include "codegen/cuda/TileKernels.h"

#include "codegen/LoweringUtils.h"
#include "codegen/cuda/KernelBuilder.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::strata;

namespace {

constexpr int64_t kDepth = 16; // k per staged step (int8 mma: kInt8MmaK)
constexpr int64_t kFmaThreads = 256, kPer = 4;
constexpr int64_t kFmaPadded = kTileSize + 2;
constexpr int64_t kMmaWarps = 4;
constexpr int64_t kMmaPadded = kMmaK + 8;
// int8 rows of 32 k padded to 48 bytes (12 words): a fragment load by
// lanes g = 0..7, c = 0..3 reads word 12g + c, 32 banks, as for bf16.
constexpr int64_t kInt8MmaPadded = kInt8MmaK + 16;
static_assert(kMmaK == kDepth, "one staged step is one mma.sync k step");

/// Row and k of element `e` of a 64 x `depth` operand tile staged
/// k-fastest (`depth` consecutive k per row: coalesced for operands
/// contiguous along k), or row-fastest.
std::pair<Value, Value> stagedElement(OpBuilder &b, Location loc, Value e,
                                      bool kFastest, int64_t depth) {
  if (kFastest) {
    Value d = indexConstant(b, loc, depth);
    return {arith::DivUIOp::create(b, loc, e, d),
            arith::RemUIOp::create(b, loc, e, d)};
  }
  Value tile = indexConstant(b, loc, kTileSize);
  return {arith::RemUIOp::create(b, loc, e, tile),
          arith::DivUIOp::create(b, loc, e, tile)};
}

/// Stages A's and B's 64 x `depth` tiles at depth `k0` with `threads`
/// threads (A k-fastest, as A is usually k-contiguous; B n-fastest, or
/// k-fastest for x·Wᵀ: coalesced global reads), each element going
/// through `put(b, tile, mn, k, value)`.
void stageTiles(
    OpBuilder &b, Location loc, const TileAccess &t, Value k0, int64_t depth,
    int64_t threads, Value aTile, Value bTile,
    function_ref<void(OpBuilder &, Value, Value, Value, Value)> put) {
  for (int64_t q = 0; q < kTileSize * depth / threads; ++q) {
    Value e = addConstant(b, loc, t.tid, q * threads);
    auto stage = [&](unsigned operand, bool kFastest, Value tile,
                     Value origin) {
      auto [mn, k] = stagedElement(b, loc, e, kFastest, depth);
      Value v =
          t.load(b, loc, operand, arith::AddIOp::create(b, loc, origin, mn),
                 arith::AddIOp::create(b, loc, k0, k));
      put(b, tile, mn, k, v);
    };
    stage(0, /*kFastest=*/true, aTile, t.row0);
    stage(1, t.bAlongK, bTile, t.col0);
  }
}

/// The FMA body: 256 threads, each a 4x4 register block; A and B staged
/// as [k][m] and [k][n]. f32 FMAs, or (`integer`) int8 operands staged as
/// i32 and summed exactly with i32 multiply-adds.
void buildFmaTile(OpBuilder &b, Location loc, ValueRange buffers,
                  const TileAccess &t, bool integer) {
  Value aTile = buffers[0], bTile = buffers[1];
  Value tid = t.tid;
  Value per = indexConstant(b, loc, kPer),
        sixteen = indexConstant(b, loc, kTileSize / kPer);
  Value ty = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, tid, sixteen), per);
  Value tx = arith::MulIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, tid, sixteen), per);

  Value zero =
      zeroOf(b, loc, integer ? Type(b.getI32Type()) : Type(b.getF32Type()));
  SmallVector<Value> init(kPer * kPer, zero);
  Value depth = indexConstant(b, loc, kDepth);
  auto kLoop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), t.depth, depth, init,
      [&](OpBuilder &b, Location loc, Value k0, ValueRange acc) {
        // Tiles as [k][m] and [k][n]: 4 elements per thread each.
        stageTiles(
            b, loc, t, k0, kDepth, kFmaThreads, aTile, bTile,
            [&](OpBuilder &b, Value tile, Value mn, Value k, Value v) {
              v = integer ? arith::ExtSIOp::create(b, loc, b.getI32Type(), v)
                                .getResult()
                          : widenToF32(b, loc, v);
              memref::StoreOp::create(b, loc, v, tile, ValueRange{k, mn});
            });
        gpu::BarrierOp::create(b, loc);
        auto inner = scf::ForOp::create(
            b, loc, indexConstant(b, loc, 0), depth, indexConstant(b, loc, 1),
            acc, [&](OpBuilder &b, Location loc, Value kk, ValueRange acc) {
              SmallVector<Value> av, bv, next;
              for (int64_t i = 0; i < kPer; ++i) {
                av.push_back(memref::LoadOp::create(
                    b, loc, aTile, ValueRange{kk, addConstant(b, loc, ty, i)}));
                bv.push_back(memref::LoadOp::create(
                    b, loc, bTile, ValueRange{kk, addConstant(b, loc, tx, i)}));
              }
              for (int64_t i = 0; i < kPer; ++i)
                for (int64_t j = 0; j < kPer; ++j)
                  next.push_back(
                      multiplyAdd(b, loc, av[i], bv[j], acc[i * kPer + j]));
              scf::YieldOp::create(b, loc, next);
            });
        gpu::BarrierOp::create(b, loc);
        scf::YieldOp::create(b, loc, inner.getResults());
      });
  for (int64_t i = 0; i < kPer; ++i)
    for (int64_t j = 0; j < kPer; ++j)
      t.store(b, loc,
              arith::AddIOp::create(b, loc, t.row0, addConstant(b, loc, ty, i)),
              arith::AddIOp::create(b, loc, t.col0, addConstant(b, loc, tx, j)),
              kLoop.getResult(i * kPer + j));
}

/// Four int8 `tile[row][col..col + 3]` packed into one fragment register,
/// the first in the low byte.
Value loadS8Quad(OpBuilder &b, Location loc, Value tile, Value row,
                 Value col) {
  Type i32 = b.getI32Type();
  Value packed;
  for (int64_t i = 0; i < 4; ++i) {
    Value byte = arith::ExtUIOp::create(
        b, loc, i32,
        memref::LoadOp::create(b, loc, tile,
                               ValueRange{row, addConstant(b, loc, col, i)}));
    if (i)
      byte = arith::ShLIOp::create(
          b, loc, byte,
          arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(8 * i)));
    packed = packed ? arith::OrIOp::create(b, loc, packed, byte).getResult()
                    : byte;
  }
  return packed;
}

/// One warp's nvvm.mma.sync m16n8k`k` of `type` multiplicands (row-major
/// A, column-major B) into four `accumulator` registers: D's four values.
SmallVector<Value, 4> mmaSync(OpBuilder &b, Location loc, ValueRange a,
                              ValueRange bFrag, ValueRange c, int64_t k,
                              NVVM::MMATypes type, Type accumulator,
                              std::optional<NVVM::MMAIntOverflow> overflow) {
  auto resultType = LLVM::LLVMStructType::getLiteral(
      b.getContext(), SmallVector<Type>(4, accumulator));
  Value mma = NVVM::MmaOp::create(
      b, loc, resultType, a, bFrag, c, ArrayRef<int64_t>{kMmaM, kMmaN, k},
      std::nullopt, overflow, std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value, 4> d;
  for (int64_t r = 0; r < 4; ++r)
    d.push_back(LLVM::ExtractValueOp::create(b, loc, mma, r));
  return d;
}

/// D = A·B + C for one warp's s8 m16n8k32 tile (i32 accumulators, wrapping
/// like the CPU's i32 sums; at most 2^31 / 128^2 = 131072 products per
/// sum before it could): four A registers, two B, four C; as
/// mmaSyncBf16, each register holding four k-consecutive int8.
SmallVector<Value, 4> mmaSyncS8(OpBuilder &b, Location loc, ValueRange a,
                                ValueRange bFrag, ValueRange c) {
  return mmaSync(b, loc, a, bFrag, c, kInt8MmaK, NVVM::MMATypes::s8,
                 b.getI32Type(), NVVM::MMAIntOverflow::wrapped);
}

/// Tensor-core body (sm_80+): 4 warps, each a 32x32 quarter of the tile as
/// 2x4 mma.sync tiles (nvvm.mma.sync: nvgpu's mma.sync has no bf16
/// lowering in MLIR 22): m16n8k16 with bf16 operands and f32 accumulators,
/// or (`int8`) m16n8k32 with s8 operands and i32 accumulators. Per step
/// of one mma depth along k, A's and B's 64-row tiles (rounded to bf16)
/// are staged k-contiguous ([m][k] and [n][k]), so the elements of a
/// lane's fragment register are adjacent. Fragment ownership follows the
/// PTX ISA (g = lane / 4, c = lane % 4, p elements per register: 2 bf16
/// or 4 s8, depth 8p): A registers hold rows g and g + 8 at k = pc and
/// pc + 4p (+1 .. p-1); B registers the same k at column g; C rows g and
/// g + 8 at columns 2c (+1).
void buildMmaTile(OpBuilder &b, Location loc, ValueRange buffers,
                  const TileAccess &t, bool int8) {
  constexpr int64_t kWarpTile = 32, kTilesM = kWarpTile / kMmaM,
                    kTilesN = kWarpTile / kMmaN;
  const int64_t depth = int8 ? kInt8MmaK : kMmaK;
  Value aTile = buffers[0], bTile = buffers[1];
  Value warpSize = indexConstant(b, loc, strata::kWarpSize);
  Value lane = arith::RemUIOp::create(b, loc, t.tid, warpSize);
  Value warp = arith::DivUIOp::create(b, loc, t.tid, warpSize);
  Value two = indexConstant(b, loc, 2);
  auto [g, c2] = mmaLane(b, loc, lane);
  // The lane's first k in a register: p·c.
  Value kc = int8 ? arith::MulIOp::create(b, loc, c2, two).getResult() : c2;
  Value warpTile = indexConstant(b, loc, kWarpTile);
  Value wm = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, warp, two), warpTile);
  Value wn = arith::MulIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, warp, two), warpTile);

  // Four accumulators per mma tile and lane: c0..c3.
  Value zero =
      zeroOf(b, loc, int8 ? Type(b.getI32Type()) : Type(b.getF32Type()));
  SmallVector<Value> init(kTilesM * kTilesN * 4, zero);
  auto kLoop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), t.depth, indexConstant(b, loc, depth),
      init, [&](OpBuilder &b, Location loc, Value k0, ValueRange acc) {
        // Tiles as [m][k] and [n][k].
        stageTiles(b, loc, t, k0, depth, kMmaWarps * strata::kWarpSize, aTile,
                   bTile,
                   [&](OpBuilder &b, Value tile, Value mn, Value k, Value v) {
                     if (!int8)
                       v = arith::TruncFOp::create(b, loc, b.getBF16Type(),
                                                   widenToF32(b, loc, v));
                     memref::StoreOp::create(b, loc, v, tile,
                                             ValueRange{mn, k});
                   });
        gpu::BarrierOp::create(b, loc);
        auto reg = [&](Value tile, Value row, Value col) {
          return int8 ? loadS8Quad(b, loc, tile, row, col)
                      : loadBf16Pair(b, loc, tile, row, col);
        };
        SmallVector<SmallVector<Value>> aFrags, bFrags;
        Value kHigh = addConstant(b, loc, kc, depth / 2);
        for (int64_t i = 0; i < kTilesM; ++i) {
          Value r = arith::AddIOp::create(b, loc, wm,
                                          addConstant(b, loc, g, i * kMmaM));
          Value r8 = addConstant(b, loc, r, 8);
          aFrags.push_back({reg(aTile, r, kc), reg(aTile, r8, kc),
                            reg(aTile, r, kHigh), reg(aTile, r8, kHigh)});
        }
        for (int64_t j = 0; j < kTilesN; ++j) {
          Value n = arith::AddIOp::create(b, loc, wn,
                                          addConstant(b, loc, g, j * kMmaN));
          bFrags.push_back({reg(bTile, n, kc), reg(bTile, n, kHigh)});
        }
        SmallVector<Value> next;
        for (int64_t i = 0; i < kTilesM; ++i)
          for (int64_t j = 0; j < kTilesN; ++j) {
            ValueRange c = acc.slice((i * kTilesN + j) * 4, 4);
            llvm::append_range(
                next, int8 ? mmaSyncS8(b, loc, aFrags[i], bFrags[j], c)
                           : mmaSyncBf16(b, loc, aFrags[i], bFrags[j], c));
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
            arith::AddIOp::create(
                b, loc, wm, addConstant(b, loc, g, i * kMmaM + 8 * (r / 2))));
        Value n = arith::AddIOp::create(
            b, loc, t.col0,
            arith::AddIOp::create(b, loc, wn,
                                  addConstant(b, loc, c2, j * kMmaN + r % 2)));
        t.store(b, loc, m, n, kLoop.getResult((i * kTilesN + j) * 4 + r));
      }
}

} // namespace

int64_t mlir::strata::tileThreads(TileKind kind) {
  return kind == TileKind::Fma || kind == TileKind::IntFma
             ? kFmaThreads
             : kMmaWarps * kWarpSize;
}

SmallVector<Type> mlir::strata::tileBuffers(MLIRContext *ctx, TileKind kind) {
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto shared = [&](ArrayRef<int64_t> shape, Type element) -> Type {
    return MemRefType::get(shape, element, MemRefLayoutAttrInterface(),
                           workgroup);
  };
  Type type;
  switch (kind) {
  case TileKind::Fma:
    type = shared({kDepth, kFmaPadded}, Float32Type::get(ctx));
    break;
  case TileKind::IntFma:
    type = shared({kDepth, kFmaPadded}, IntegerType::get(ctx, 32));
    break;
  case TileKind::TensorCore:
    type = shared({kTileSize, kMmaPadded}, BFloat16Type::get(ctx));
    break;
  case TileKind::Int8TensorCore:
    type = shared({kTileSize, kInt8MmaPadded}, IntegerType::get(ctx, 8));
    break;
  }
  return {type, type};
}

void mlir::strata::buildTile(OpBuilder &b, Location loc, TileKind kind,
                             ValueRange buffers, const TileAccess &t) {
  switch (kind) {
  case TileKind::Fma:
  case TileKind::IntFma:
    return buildFmaTile(b, loc, buffers, t, kind == TileKind::IntFma);
  case TileKind::TensorCore:
  case TileKind::Int8TensorCore:
    return buildMmaTile(b, loc, buffers, t, kind == TileKind::Int8TensorCore);
  }
}

MmaLane mlir::strata::mmaLane(OpBuilder &b, Location loc, Value lane) {
  Value four = indexConstant(b, loc, 4);
  return {arith::DivUIOp::create(b, loc, lane, four),
          arith::MulIOp::create(b, loc,
                                arith::RemUIOp::create(b, loc, lane, four),
                                indexConstant(b, loc, 2))};
}

Value mlir::strata::packBf16Pair(OpBuilder &b, Location loc, Value low,
                                 Value high) {
  Type i32 = b.getI32Type(), i16 = b.getI16Type();
  auto bits = [&](Value v) -> Value {
    if (v.getType().isF32())
      v = arith::TruncFOp::create(b, loc, b.getBF16Type(), v);
    return arith::ExtUIOp::create(b, loc, i32,
                                  arith::BitcastOp::create(b, loc, i16, v));
  };
  Value shifted = arith::ShLIOp::create(
      b, loc, bits(high),
      arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(16)));
  return arith::OrIOp::create(b, loc, bits(low), shifted);
}

Value mlir::strata::loadBf16Pair(OpBuilder &b, Location loc, Value tile,
                                 Value row, Value col) {
  auto at = [&](Value c) -> Value {
    return memref::LoadOp::create(b, loc, tile, ValueRange{row, c});
  };
  return packBf16Pair(b, loc, at(col), at(addConstant(b, loc, col, 1)));
}

SmallVector<Value, 2> mlir::strata::loadBFragment(OpBuilder &b, Location loc,
                                                  Value tile, Value column,
                                                  Value k) {
  return {loadBf16Pair(b, loc, tile, column, k),
          loadBf16Pair(b, loc, tile, column, addConstant(b, loc, k, 8))};
}

SmallVector<Value, 4> mlir::strata::mmaSyncBf16(OpBuilder &b, Location loc,
                                                ValueRange a, ValueRange bFrag,
                                                ValueRange c) {
  return mmaSync(b, loc, a, bFrag, c, kMmaK, NVVM::MMATypes::bf16,
                 b.getF32Type(), std::nullopt);
}

Value mlir::strata::guardedLoad(OpBuilder &b, Location loc, Value inBounds,
                                Value memref, ValueRange indices) {
  Type element = cast<MemRefType>(memref.getType()).getElementType();
  auto ifOp = scf::IfOp::create(b, loc, TypeRange{element}, inBounds,
                                /*withElse=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  scf::YieldOp::create(
      b, loc, ValueRange{memref::LoadOp::create(b, loc, memref, indices)});
  b.setInsertionPointToStart(ifOp.elseBlock());
  scf::YieldOp::create(b, loc, ValueRange{zeroOf(b, loc, element)});
  return ifOp.getResult(0);
}

Value mlir::strata::widenToF32(OpBuilder &b, Location loc, Value v) {
  Type f32 = b.getF32Type();
  if (v.getType() == f32)
    return v;
  if (isa<IntegerType>(v.getType()))
    return arith::SIToFPOp::create(b, loc, f32, v);
  return arith::ExtFOp::create(b, loc, f32, v);
}

Value mlir::strata::multiplyAdd(OpBuilder &b, Location loc, Value x, Value w,
                                Value acc) {
  if (auto integer = dyn_cast<IntegerType>(acc.getType())) {
    auto extend = [&](Value v) -> Value {
      return v.getType() == integer
                 ? v
                 : arith::ExtSIOp::create(b, loc, integer, v).getResult();
    };
    return arith::AddIOp::create(
        b, loc, acc, arith::MulIOp::create(b, loc, extend(x), extend(w)));
  }
  return math::FmaOp::create(b, loc, widenToF32(b, loc, x),
                             widenToF32(b, loc, w), acc);
}

Value mlir::strata::zeroOf(OpBuilder &b, Location loc, Type type) {
  return arith::ConstantOp::create(b, loc,
                                   cast<TypedAttr>(b.getZeroAttr(type)));
}

Value mlir::strata::addSum(OpBuilder &b, Location loc, Value old, Value acc) {
  if (isa<IntegerType>(acc.getType()))
    return arith::AddIOp::create(b, loc, old, acc);
  return arith::AddFOp::create(b, loc, old, acc);
}

Value mlir::strata::lessThan(OpBuilder &b, Location loc, Value x, Value bound) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, bound);
}

//===- GroupedMatmulKernels.cpp - grouped matmul kernels ----*- C++ -*-===//
//
// strata_kernel.grouped_matmul on buffers (the routed experts' gate, up and down
// projections over rows sorted by expert) -> one of two kernels, chosen on
// the host by the row count P against the expert count E:
//
// - Tiles (P >= kTileRowsPerGroup * E: prefill, training): the 64x64 tile
//   bodies of strata-tiled-matmuls (f32 FMAs, or bf16 mma.sync with
//   tensor-cores; int8 rows and weights: i32 multiply-adds, or s8
//   mma.sync) over each expert's segment of rows. Expert e's segment
//   takes ceil(count_e / 64) row tiles; grid y enumerates
//   ceil(P / 64) + E tile slots, which bounds the sum over experts, and a
//   block finds its expert by scanning the offsets (uniform across the
//   block; slots past the last tile do nothing). Each tile of weights is
//   read once per 64 rows of its expert.
// - Warps (fewer rows: decode, where each expert has a row or two): one
//   warp per output (r, n), as strata-warp-reductions does for x·Wᵀ; the
//   row's expert comes from a binary search of the offsets.
//
//===----------------------------------------------------------------------===//

#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "codegen/cuda/TileKernels.h"
#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAGROUPEDMATMULKERNELS
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// Average rows per expert from which the tile kernel is used.
constexpr int64_t kTileRowsPerGroup = 8;

/// What both kernels need of a grouped matmul, computed on the host.
struct Grouped {
  linalg::FillOp fill; ///< init's zero fill, folded into the kernels
  Value rows, weights, offsets, init;
  Value p, groups; ///< P and E (index)
  int64_t n, d;

  /// The sums' type: i32 for int8 rows and weights, else f32 (narrower
  /// weights widened as they are read).
  Type accumulator() const {
    return cast<MemRefType>(init.getType()).getElementType();
  }

  /// init[m, n] = its initial value + `acc`.
  void store(OpBuilder &b, Location loc, Value m, Value col, Value acc) {
    Value old = fill ? fill.getInputs()[0]
                     : memref::LoadOp::create(b, loc, init, ValueRange{m, col})
                           .getResult();
    memref::StoreOp::create(b, loc, addSum(b, loc, old, acc), init,
                            ValueRange{m, col});
  }
};

/// The tile kernel. Inside, a block strides over tile slots
/// (blockIdx.y, + gridDim.y, ...), finds the slot's expert and row tile,
/// and computes that tile with the `kind` body.
void buildTileKernel(OpBuilder &b, Location loc, Grouped &g, TileKind kind) {
  MLIRContext *ctx = b.getContext();
  Value tile = indexConstant(b, loc, kTileSize), one = indexConstant(b, loc, 1);
  Value slots = arith::AddIOp::create(
      b, loc, arith::CeilDivUIOp::create(b, loc, g.p, tile), g.groups);
  Value gridX = indexConstant(
      b, loc, std::max<int64_t>(1, llvm::divideCeil(g.n, kTileSize)));
  Value gridY = clampedGridSize(b, loc, slots, one, /*maxBlocks=*/65535);
  gpu::LaunchOp launch = createLaunch(b, loc, gridX, gridY, one,
                                      indexConstant(b, loc, tileThreads(kind)),
                                      tileBuffers(ctx, kind));
  auto slotLoop = scf::ForOp::create(b, loc, launch.getBlockIds().y, slots,
                                     launch.getGridSize().y);
  b.setInsertionPoint(slotLoop.getBody()->getTerminator());
  Value slot = slotLoop.getInductionVar();

  // (expert, its row tile) of this slot: slots are the experts' row tiles
  // in expert order. E marks "past the last tile".
  auto scan = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), g.groups, one,
      ValueRange{indexConstant(b, loc, 0), g.groups, indexConstant(b, loc, 0)},
      [&](OpBuilder &b, Location loc, Value e, ValueRange state) {
        Value first = state[0];
        Value count = arith::SubIOp::create(
            b, loc, loadIndex(b, loc, g.offsets, addConstant(b, loc, e, 1)),
            loadIndex(b, loc, g.offsets, e));
        Value next = arith::AddIOp::create(
            b, loc, first, arith::CeilDivUIOp::create(b, loc, count, tile));
        Value hit = arith::AndIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, slot,
                                  first),
            lessThan(b, loc, slot, next));
        Value local = arith::SubIOp::create(b, loc, slot, first);
        scf::YieldOp::create(
            b, loc,
            ValueRange{next, arith::SelectOp::create(b, loc, hit, e, state[1]),
                       arith::SelectOp::create(b, loc, hit, local, state[2])});
      });
  Value expert = scan.getResult(1), localTile = scan.getResult(2);
  auto found = scf::IfOp::create(b, loc, lessThan(b, loc, expert, g.groups),
                                 /*withElse=*/false);
  b.setInsertionPoint(found.thenBlock()->getTerminator());
  Value row0 =
      arith::AddIOp::create(b, loc, loadIndex(b, loc, g.offsets, expert),
                            arith::MulIOp::create(b, loc, localTile, tile));
  Value rowEnd = loadIndex(b, loc, g.offsets, addConstant(b, loc, expert, 1));
  Value nSize = indexConstant(b, loc, g.n), dSize = indexConstant(b, loc, g.d);
  auto load = [&](OpBuilder &b, Location loc, unsigned operand, Value mn,
                  Value k) -> Value {
    Value kOk = lessThan(b, loc, k, dSize);
    if (operand == 0)
      return guardedLoad(
          b, loc,
          arith::AndIOp::create(b, loc, lessThan(b, loc, mn, rowEnd), kOk),
          g.rows, ValueRange{mn, k});
    return guardedLoad(
        b, loc, arith::AndIOp::create(b, loc, lessThan(b, loc, mn, nSize), kOk),
        g.weights, ValueRange{expert, mn, k});
  };
  auto store = [&](OpBuilder &b, Location loc, Value m, Value col, Value acc) {
    Value ok = arith::AndIOp::create(b, loc, lessThan(b, loc, m, rowEnd),
                                     lessThan(b, loc, col, nSize));
    auto ifOp = scf::IfOp::create(b, loc, ok, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    g.store(b, loc, m, col, acc);
  };
  Value col0 = arith::MulIOp::create(b, loc, launch.getBlockIds().x, tile);
  buildTile(b, loc, kind, launch.getWorkgroupAttributions(),
            TileAccess{launch.getThreadIds().x, row0, col0, dSize,
                       /*bAlongK=*/true, load, store});
}

/// The group of row `r`: the e with offsets[e] <= r < offsets[e + 1], by
/// a branch-free binary search over [0, E) in ceil(log2(E)) + 1 steps
/// (`maxGroups` bounds E when it is dynamic).
Value groupOfRow(OpBuilder &b, Location loc, Grouped &g, Value r,
                 int64_t maxGroups) {
  int64_t steps = llvm::Log2_64_Ceil(std::max<int64_t>(maxGroups, 1)) + 1;
  Value last =
      arith::SubIOp::create(b, loc, g.groups, indexConstant(b, loc, 1));
  auto search = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, steps),
      indexConstant(b, loc, 1), ValueRange{indexConstant(b, loc, 0), last},
      [&](OpBuilder &b, Location loc, Value, ValueRange range) {
        Value lo = range[0], hi = range[1];
        Value mid = arith::DivUIOp::create(
            b, loc, arith::AddIOp::create(b, loc, lo, hi),
            indexConstant(b, loc, 2));
        // Is r past mid's segment? Then e > mid.
        Value past = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::ule,
            loadIndex(b, loc, g.offsets, addConstant(b, loc, mid, 1)), r);
        Value open = lessThan(b, loc, lo, hi);
        Value right = arith::AndIOp::create(b, loc, open, past);
        Value left = arith::AndIOp::create(
            b, loc, open,
            arith::XOrIOp::create(
                b, loc, past,
                arith::ConstantOp::create(b, loc, b.getBoolAttr(true))));
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::SelectOp::create(b, loc, right,
                                               addConstant(b, loc, mid, 1), lo),
                       arith::SelectOp::create(b, loc, left, mid, hi)});
      });
  return search.getResult(0);
}

/// The warp kernel: a warp per output (r, n), lanes striding over D.
void buildWarpKernel(OpBuilder &b, Location loc, Grouped &g,
                     int64_t maxGroups) {
  Value nSize = indexConstant(b, loc, g.n);
  Value total = arith::MulIOp::create(b, loc, g.p, nSize);
  WarpPerItem warps = createWarpPerItemLaunch(b, loc, total,
                                              /*warpsPerBlock=*/8,
                                              /*maxBlocks=*/65535);
  Value r = arith::DivUIOp::create(b, loc, warps.item, nSize);
  Value col = arith::RemUIOp::create(b, loc, warps.item, nSize);
  Value expert = groupOfRow(b, loc, g, r, maxGroups);
  auto lanes = scf::ForOp::create(
      b, loc, warps.lane, indexConstant(b, loc, g.d), warps.warpSize,
      ValueRange{zeroOf(b, loc, g.accumulator())},
      [&](OpBuilder &b, Location loc, Value k, ValueRange acc) {
        Value x = memref::LoadOp::create(b, loc, g.rows, ValueRange{r, k});
        Value w = memref::LoadOp::create(b, loc, g.weights,
                                         ValueRange{expert, col, k});
        scf::YieldOp::create(b, loc,
                             ValueRange{multiplyAdd(b, loc, x, w, acc[0])});
      });
  Value sum = warpAllReduce(b, loc, lanes.getResult(0), [&](Value x, Value y) {
    return addSum(b, loc, x, y);
  });
  auto first = scf::IfOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, warps.lane,
                            indexConstant(b, loc, 0)),
      /*withElse=*/false);
  b.setInsertionPoint(first.thenBlock()->getTerminator());
  g.store(b, loc, r, col, sum);
}

LogicalResult lowerToKernels(kernel::GroupedMatmulOp op, bool tensorCores) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Grouped g{fillFeeding(op, op.getInit())};
  g.rows = op.getRows();
  g.weights = op.getWeights();
  g.offsets = op.getOffsets();
  g.init = op.getInit();
  auto wType = cast<MemRefType>(g.weights.getType());
  g.n = wType.getDimSize(1);
  g.d = wType.getDimSize(2);
  g.p = memref::DimOp::create(b, loc, g.rows, 0);
  g.groups = memref::DimOp::create(b, loc, g.weights, 0);
  int64_t maxGroups =
      wType.isDynamicDim(0) ? int64_t(1) << 31 : wType.getDimSize(0);
  TileKind kind = tileKindFor(g.accumulator(), tensorCores);
  Value many = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::uge, g.p,
      arith::MulIOp::create(b, loc, g.groups,
                            indexConstant(b, loc, kTileRowsPerGroup)));
  auto ifOp = scf::IfOp::create(b, loc, many, /*withElse=*/true);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  buildTileKernel(b, loc, g, kind);
  b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
  buildWarpKernel(b, loc, g, maxGroups);
  op.erase();
  if (g.fill)
    g.fill.erase();
  return success();
}

struct GroupedMatmulKernelsPass
    : public mlir::strata::impl::StrataGroupedMatmulKernelsBase<
          GroupedMatmulKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(lowerBufferized<kernel::GroupedMatmulOp>(
            getOperation(), getArgument(), [&](kernel::GroupedMatmulOp op) {
              return lowerToKernels(op, tensorCores);
            })))
      signalPassFailure();
  }
};

} // namespace

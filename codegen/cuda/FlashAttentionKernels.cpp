//===- FlashAttentionKernels.cpp - flash attention on CUDA -----*- C++ -*-===//
//
// strata_kernel.flash_attention on buffers -> one kernel, a warp per (batch,
// head, query) row. Lane i holds query elements and value accumulators
// i, i + 32, ... in registers (head dims are static, so these are
// unrolled), every key's score is the lanes' partial products summed by an
// xor butterfly, and the online softmax's running maximum and sum, the
// same in every lane, rescale the accumulators as keys arrive. Consecutive
// warps take consecutive queries of one head, so a block's warps read the
// same key and value rows while they are in L1; no score is written to
// memory and the three kernels of the materialised form (scores, softmax,
// P·V) become one.
//
// With tensor cores (sm_80+), a 4-warp block owns 64 queries of one (batch,
// head), FlashAttention-2 style: per tile of 64 keys, K and V are staged in
// shared memory as bf16, each warp computes its 16 queries' scores as
// m16n8k16 mma.sync tiles, masks them and runs the online softmax in
// registers (a row's 64 scores are spread over the 4 lanes of a quad, so
// row maxima and sums take two xor shuffles), and its probabilities, rounded
// to bf16, are already laid out as the A fragments of P·V: the accumulator
// fragment of score tile j holds keys 8j + 2c (+1) of rows g and g + 8,
// which is what an A fragment holds at k = 2c (+1) and 2c + 8 (+1) for the
// pair of tiles (2i, 2i + 1). Nothing but K and V goes through shared
// memory.
//
//===----------------------------------------------------------------------===//

#include "codegen/AttentionUtils.h"
#include "codegen/cuda/KernelBuilder.h"
#include "codegen/cuda/Passes.h"
#include "codegen/cuda/TileKernels.h"
#include "dialect/KernelDialect.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAFLASHATTENTIONKERNELS
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// One warp's row: the lane's slice of a head dim of static size `dim`
/// is elements lane + 32 j, j < ceil(dim / 32).
struct LaneSlice {
  int64_t dim;
  Value lane;

  int64_t count() const { return llvm::divideCeil(dim, kWarpSize); }

  Value index(OpBuilder &b, Location l, int64_t j) const {
    return arith::AddIOp::create(b, l, lane,
                                 indexConstant(b, l, j * kWarpSize));
  }
  /// Whether element j exists (always, when dim is a multiple of 32).
  Value inRange(OpBuilder &b, Location l, int64_t j) const {
    if (dim % kWarpSize == 0)
      return {};
    return arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                 index(b, l, j), indexConstant(b, l, dim));
  }
  /// memref[prefix..., element j], 0 past the end: the index is clamped
  /// so that every lane loads (no divergence before the shuffles).
  Value load(OpBuilder &b, Location l, Value memref, ValueRange prefix,
             int64_t j) const {
    Value at = index(b, l, j);
    Value ok = inRange(b, l, j);
    if (ok)
      at = arith::MinUIOp::create(b, l, at, indexConstant(b, l, dim - 1));
    SmallVector<Value> indices(prefix);
    indices.push_back(at);
    Value v = memref::LoadOp::create(b, l, memref, indices);
    return ok ? arith::SelectOp::create(b, l, ok, v, f32Constant(b, l, 0)) : v;
  }
};

void buildWarpKernel(OpBuilder &b, kernel::FlashAttentionOp op,
                     int64_t warpsPerBlock, int64_t maxBlocks) {
  OpBuilder::InsertionGuard guard(b);
  Location l = op.getLoc();
  FlashShapes shapes = readFlashShapes(b, op);
  AttentionMask mask = flashMask(op);
  Value rows = arith::MulIOp::create(
      b, l, arith::MulIOp::create(b, l, shapes.batch, shapes.heads),
      shapes.queries);
  WarpPerItem warps =
      createWarpPerItemLaunch(b, l, rows, warpsPerBlock, maxBlocks);
  // Consecutive rows: consecutive queries of one head.
  SmallVector<Value> idx = delinearize(
      b, l, warps.item, {shapes.batch, shapes.heads, shapes.queries});
  Value bi = idx[0], hi = idx[1], si = idx[2];
  Value hk = arith::DivUIOp::create(b, l, hi, shapes.group);
  Value aligned = arith::AddIOp::create(b, l, si, shapes.offset);
  Value first = flashFirstKey(b, l, op, bi);
  LaneSlice qk{shapes.headDim, warps.lane}, ve{shapes.valueDim, warps.lane};

  SmallVector<Value> q;
  for (int64_t j = 0; j < qk.count(); ++j)
    q.push_back(qk.load(b, l, op.getQ(), {bi, si, hi}, j));
  Value scale = f32Constant(b, l, op.getScale().convertToDouble());
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddFOp::create(b, l, x, y);
  };

  // State: max, sum, then the lane's accumulators.
  auto addKey = [&](OpBuilder &b, Location l, Value t,
                    ValueRange state) -> SmallVector<Value> {
    Value partial = f32Constant(b, l, 0);
    for (int64_t j = 0; j < qk.count(); ++j)
      partial = math::FmaOp::create(
          b, l, q[j], qk.load(b, l, op.getK(), {bi, t, hk}, j), partial);
    Value x =
        arith::MulFOp::create(b, l, warpAllReduce(b, l, partial, add), scale);
    OnlineSoftmaxStep step = onlineSoftmaxStep(b, l, state[0], state[1], x);
    SmallVector<Value> next{step.max, step.sum};
    for (int64_t j = 0; j < ve.count(); ++j)
      next.push_back(math::FmaOp::create(
          b, l, step.weight, ve.load(b, l, op.getV(), {bi, t, hk}, j),
          arith::MulFOp::create(b, l, state[2 + j], step.rescale)));
    return next;
  };

  SmallVector<Value> init{
      f32Constant(b, l, -std::numeric_limits<float>::infinity()),
      f32Constant(b, l, 0)};
  init.append(ve.count(), f32Constant(b, l, 0));
  auto [lo, hiKey] = flashKeyRange(b, l, mask, aligned, shapes.keys);
  bool testEach = first || mask.layout;
  auto keys = scf::ForOp::create(
      b, l, lo, hiKey, indexConstant(b, l, 1), init,
      [&](OpBuilder &b, Location l, Value t, ValueRange state) {
        if (!testEach) {
          scf::YieldOp::create(b, l, addKey(b, l, t, state));
          return;
        }
        // The same for every lane of the warp: no divergence.
        Value visible =
            attentionKeyVisible(b, l, mask, aligned, t, first, shapes.keys);
        auto ifOp = scf::IfOp::create(
            b, l, visible,
            [&](OpBuilder &b, Location l) {
              scf::YieldOp::create(b, l, addKey(b, l, t, state));
            },
            [&](OpBuilder &b, Location l) {
              scf::YieldOp::create(b, l, state);
            });
        scf::YieldOp::create(b, l, ifOp.getResults());
      });
  Value sum = keys.getResult(1);
  for (int64_t j = 0; j < ve.count(); ++j) {
    Value result = arith::DivFOp::create(b, l, keys.getResult(2 + j), sum);
    SmallVector<Value> at{bi, si, hi, ve.index(b, l, j)};
    if (Value ok = ve.inRange(b, l, j)) {
      auto ifOp = scf::IfOp::create(b, l, ok, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      memref::StoreOp::create(b, l, result, op.getInit(), at);
    } else {
      memref::StoreOp::create(b, l, result, op.getInit(), at);
    }
  }
}

/// Queries per block and keys per staged tile of the tensor-core kernel.
constexpr int64_t kQueryTile = 64, kKeyTile = 64;
constexpr int64_t kFlashWarps = kQueryTile / kMmaM;
/// bf16 elements of padding per shared row: consecutive rows start 4 banks
/// apart, so the 8 rows x 4 words of a fragment load hit 32 banks.
constexpr int64_t kRowPad = 8;
/// Static shared memory a kernel may use without opting in.
constexpr int64_t kSharedLimit = 48 * 1024;

/// Shared tiles of the tensor-core kernel: K as [key][d], V transposed as
/// [d][key] (B fragments of P·V pair consecutive keys).
std::pair<MemRefType, MemRefType> flashTiles(MLIRContext *ctx, int64_t d,
                                             int64_t dv) {
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Type bf16 = BFloat16Type::get(ctx);
  return {MemRefType::get({kKeyTile, d + kRowPad}, bf16,
                          MemRefLayoutAttrInterface(), workgroup),
          MemRefType::get({dv, kKeyTile + kRowPad}, bf16,
                          MemRefLayoutAttrInterface(), workgroup)};
}

/// Whether the tensor-core kernel takes `op`: head dims that are whole
/// mma steps (16 along q·kᵀ's k, 8 along P·V's n) and tiles that fit.
bool fitsTensorCores(kernel::FlashAttentionOp op) {
  int64_t d = cast<MemRefType>(op.getQ().getType()).getDimSize(3);
  int64_t dv = cast<MemRefType>(op.getV().getType()).getDimSize(3);
  if (ShapedType::isDynamic(d) || ShapedType::isDynamic(dv) || d <= 0 ||
      dv <= 0 || d % kMmaK || dv % kMmaN)
    return false;
  int64_t bytes = 2 * (kKeyTile * (d + kRowPad) + dv * (kKeyTile + kRowPad));
  return bytes <= kSharedLimit;
}

/// The xor offsets spanning a quad: the four lanes holding one
/// accumulator row.
constexpr int32_t kQuad[] = {1, 2};

/// Stages keys [t0, t0 + 64) of K into `kTile` ([key][d]) and of V into
/// `vTile` ([d][key]) as bf16, 0 from `end` on (the end of the keys the
/// block's queries see, at most the key count: a non-finite value there
/// cannot reach P·V as 0 x inf); consecutive threads read consecutive
/// elements of a key's row.
void stageKeyTile(OpBuilder &b, Location l, kernel::FlashAttentionOp op,
                  const FlashShapes &shapes, Value tid, Value t0, Value end,
                  Value bi, Value hk, Value kTile, Value vTile) {
  Value threads = indexConstant(b, l, kFlashWarps * kWarpSize);
  auto stage = [&](Value source, int64_t dim, bool transposed, Value tile) {
    forRange(b, l, tid, indexConstant(b, l, kKeyTile * dim), threads,
             [&](OpBuilder &b, Location l, Value e) {
               Value width = indexConstant(b, l, dim);
               Value key = arith::DivUIOp::create(b, l, e, width);
               Value col = arith::RemUIOp::create(b, l, e, width);
               Value t = arith::AddIOp::create(b, l, t0, key);
               Value v = guardedLoad(b, l, lessThan(b, l, t, end), source,
                                     {bi, t, hk, col});
               Value h = arith::TruncFOp::create(b, l, b.getBF16Type(), v);
               memref::StoreOp::create(b, l, h, tile,
                                       transposed ? ValueRange{col, key}
                                                  : ValueRange{key, col});
             });
  };
  stage(op.getK(), shapes.headDim, /*transposed=*/false, kTile);
  stage(op.getV(), shapes.valueDim, /*transposed=*/true, vTile);
}

void buildTensorCoreKernel(OpBuilder &b, kernel::FlashAttentionOp op,
                           int64_t maxBlocks) {
  OpBuilder::InsertionGuard guard(b);
  Location l = op.getLoc();
  FlashShapes shapes = readFlashShapes(b, op);
  AttentionMask mask = flashMask(op);
  const int64_t d = shapes.headDim, dv = shapes.valueDim;
  const int64_t qSteps = d / kMmaK, keySteps = kKeyTile / kMmaK,
                scoreTiles = kKeyTile / kMmaN, valueTiles = dv / kMmaN;
  auto [kType, vType] = flashTiles(b.getContext(), d, dv);

  Value queryTiles = arith::CeilDivUIOp::create(
      b, l, shapes.queries, indexConstant(b, l, kQueryTile));
  Value items = arith::MulIOp::create(
      b, l, arith::MulIOp::create(b, l, shapes.batch, shapes.heads),
      queryTiles);
  Value one = indexConstant(b, l, 1);
  Value blocks = clampedGridSize(b, l, items, one, maxBlocks);
  gpu::LaunchOp launch = createLaunch(
      b, l, blocks, one, one, indexConstant(b, l, kFlashWarps * kWarpSize),
      TypeRange{kType, vType});
  Value kTile = launch.getWorkgroupAttributions()[0];
  Value vTile = launch.getWorkgroupAttributions()[1];
  Value tid = launch.getThreadIds().x;
  Value warpSize = indexConstant(b, l, kWarpSize);
  Value lane = arith::RemUIOp::create(b, l, tid, warpSize);
  Value warp = arith::DivUIOp::create(b, l, tid, warpSize);
  MmaLane fl = mmaLane(b, l, lane);

  // Blocks stride over (batch, head, query tile) items.
  auto itemLoop = scf::ForOp::create(b, l, launch.getBlockIds().x, items,
                                     launch.getGridSize().x);
  b.setInsertionPoint(itemLoop.getBody()->getTerminator());
  SmallVector<Value> idx =
      delinearize(b, l, itemLoop.getInductionVar(),
                  {shapes.batch, shapes.heads, queryTiles});
  Value bi = idx[0], hi = idx[1];
  Value hk = arith::DivUIOp::create(b, l, hi, shapes.group);
  Value q0 =
      arith::MulIOp::create(b, l, idx[2], indexConstant(b, l, kQueryTile));
  // The lane's two query rows: g and g + 8 of its warp's 16.
  Value rowG = arith::AddIOp::create(
      b, l, q0,
      arith::AddIOp::create(
          b, l, arith::MulIOp::create(b, l, warp, indexConstant(b, l, kMmaM)),
          fl.g));
  std::array<Value, 2> rows{rowG, addConstant(b, l, rowG, 8)};
  Value lastQuery = arith::SubIOp::create(b, l, shapes.queries, one);

  // Q's A fragments, once per item: rows past the last query read the last
  // one (finite, never stored).
  std::array<Value, 2> clamped{
      arith::MinUIOp::create(b, l, rows[0], lastQuery),
      arith::MinUIOp::create(b, l, rows[1], lastQuery)};
  auto q = [&](unsigned r, int64_t col) -> Value {
    Value at = addConstant(b, l, fl.c2, col);
    return memref::LoadOp::create(b, l, op.getQ(),
                                  ValueRange{bi, clamped[r], hi, at});
  };
  SmallVector<SmallVector<Value>> qFrags;
  for (int64_t kk = 0; kk < qSteps; ++kk) {
    int64_t k = kk * kMmaK;
    qFrags.push_back({packBf16Pair(b, l, q(0, k), q(0, k + 1)),
                      packBf16Pair(b, l, q(1, k), q(1, k + 1)),
                      packBf16Pair(b, l, q(0, k + 8), q(0, k + 9)),
                      packBf16Pair(b, l, q(1, k + 8), q(1, k + 9))});
  }

  // The keys any of the block's queries sees under causal and window
  // masks; the rest of the mask is applied per score.
  Value aligned0 = arith::AddIOp::create(b, l, q0, shapes.offset);
  Value alignedLast = arith::AddIOp::create(
      b, l,
      arith::MinUIOp::create(b, l, addConstant(b, l, q0, kQueryTile - 1),
                             lastQuery),
      shapes.offset);
  Value lo = flashKeyRange(b, l, mask, aligned0, shapes.keys).first;
  Value hiKey = flashKeyRange(b, l, mask, alignedLast, shapes.keys).second;
  Value first = flashFirstKey(b, l, op, bi);
  std::array<Value, 2> aligned{
      arith::AddIOp::create(b, l, rows[0], shapes.offset),
      arith::AddIOp::create(b, l, rows[1], shapes.offset)};
  Value scale = f32Constant(b, l, op.getScale().convertToDouble());
  Value negInf = f32Constant(b, l, -std::numeric_limits<double>::infinity());
  Value zero = f32Constant(b, l, 0);
  auto maxF = [&](Value x, Value y) -> Value {
    return arith::MaximumFOp::create(b, l, x, y);
  };
  auto addF = [&](Value x, Value y) -> Value {
    return arith::AddFOp::create(b, l, x, y);
  };

  // State: running max of rows g and g + 8 (the same in a quad), the lane's
  // partial sums of the two rows, then its P·V accumulators (value tile n:
  // rows g, g at columns 8n + 2c (+1), then rows g + 8).
  SmallVector<Value> init{negInf, negInf, zero, zero};
  init.append(valueTiles * 4, zero);
  auto keyLoop = scf::ForOp::create(
      b, l, lo, hiKey, indexConstant(b, l, kKeyTile), init,
      [&](OpBuilder &b, Location l, Value t0, ValueRange state) {
        stageKeyTile(b, l, op, shapes, tid, t0, hiKey, bi, hk, kTile, vTile);
        gpu::BarrierOp::create(b, l);

        // Scores of tile j: keys t0 + 8j + 2c (+1) of rows g (0, 1) and
        // g + 8 (2, 3), scaled and masked.
        SmallVector<Value> x;
        for (int64_t j = 0; j < scoreTiles; ++j) {
          SmallVector<Value> acc(4, zero);
          Value key = addConstant(b, l, fl.g, j * kMmaN);
          for (int64_t kk = 0; kk < qSteps; ++kk) {
            Value k = addConstant(b, l, fl.c2, kk * kMmaK);
            acc = llvm::to_vector(mmaSyncBf16(
                b, l, qFrags[kk], loadBFragment(b, l, kTile, key, k), acc));
          }
          for (int64_t r = 0; r < 4; ++r) {
            Value t = arith::AddIOp::create(
                b, l, t0, addConstant(b, l, fl.c2, j * kMmaN + r % 2));
            Value visible = arith::AndIOp::create(
                b, l, lessThan(b, l, t, hiKey),
                attentionKeyVisible(b, l, mask, aligned[r / 2], t, first,
                                    shapes.keys));
            x.push_back(arith::SelectOp::create(
                b, l, visible, arith::MulFOp::create(b, l, acc[r], scale),
                negInf));
          }
        }

        // Online softmax per row: a row's maximum over the quad, the
        // factor rescaling what came before, the probabilities.
        SmallVector<Value> next, rescale;
        for (unsigned r = 0; r < 2; ++r) {
          Value m = state[r];
          for (int64_t j = 0; j < scoreTiles; ++j)
            m = maxF(m, maxF(x[j * 4 + 2 * r], x[j * 4 + 2 * r + 1]));
          m = xorAllReduce(b, l, m, maxF, kQuad);
          // While a row has seen no key its maximum is -inf: subtract 0
          // instead, so its (all -inf) scores weigh 0, not NaN.
          Value unset =
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, m, negInf);
          Value shift = arith::SelectOp::create(b, l, unset, zero, m);
          rescale.push_back(math::ExpOp::create(
              b, l, arith::SubFOp::create(b, l, state[r], shift)));
          next.push_back(m);
          for (int64_t j = 0; j < scoreTiles; ++j)
            for (int64_t c = 0; c < 2; ++c) {
              Value &v = x[j * 4 + 2 * r + c];
              v = math::ExpOp::create(b, l,
                                      arith::SubFOp::create(b, l, v, shift));
            }
        }
        for (unsigned r = 0; r < 2; ++r) {
          Value sum = arith::MulFOp::create(b, l, state[2 + r], rescale[r]);
          for (int64_t j = 0; j < scoreTiles; ++j)
            sum = addF(sum, addF(x[j * 4 + 2 * r], x[j * 4 + 2 * r + 1]));
          next.push_back(sum);
        }

        // P·V: probabilities of score tiles 2i and 2i + 1 are the A
        // fragment of key step i; V's B fragments pair consecutive keys.
        SmallVector<SmallVector<Value>> pFrags;
        for (int64_t i = 0; i < keySteps; ++i) {
          ArrayRef<Value> lo4 = ArrayRef<Value>(x).slice(i * 8, 4),
                          hi4 = ArrayRef<Value>(x).slice(i * 8 + 4, 4);
          pFrags.push_back({packBf16Pair(b, l, lo4[0], lo4[1]),
                            packBf16Pair(b, l, lo4[2], lo4[3]),
                            packBf16Pair(b, l, hi4[0], hi4[1]),
                            packBf16Pair(b, l, hi4[2], hi4[3])});
        }
        for (int64_t n = 0; n < valueTiles; ++n) {
          SmallVector<Value> acc;
          for (int64_t r = 0; r < 4; ++r)
            acc.push_back(arith::MulFOp::create(b, l, state[4 + n * 4 + r],
                                                rescale[r / 2]));
          Value col = addConstant(b, l, fl.g, n * kMmaN);
          for (int64_t i = 0; i < keySteps; ++i) {
            Value k = addConstant(b, l, fl.c2, i * kMmaK);
            acc = llvm::to_vector(mmaSyncBf16(
                b, l, pFrags[i], loadBFragment(b, l, vTile, col, k), acc));
          }
          llvm::append_range(next, acc);
        }
        // Every warp is done with the tiles before they are restaged.
        gpu::BarrierOp::create(b, l);
        scf::YieldOp::create(b, l, next);
      });

  // Each row's sum over its quad, then out = accumulators / sum for the
  // rows that exist.
  for (unsigned r = 0; r < 2; ++r) {
    Value sum = xorAllReduce(b, l, keyLoop.getResult(2 + r), addF, kQuad);
    auto ifOp = scf::IfOp::create(b, l, lessThan(b, l, rows[r], shapes.queries),
                                  /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    for (int64_t n = 0; n < valueTiles; ++n)
      for (int64_t c = 0; c < 2; ++c) {
        Value acc = keyLoop.getResult(4 + n * 4 + 2 * r + c);
        Value col = addConstant(b, l, fl.c2, n * kMmaN + c);
        memref::StoreOp::create(b, l, arith::DivFOp::create(b, l, acc, sum),
                                op.getInit(), ValueRange{bi, rows[r], hi, col});
      }
  }
}

/// Queries from which the tensor-core kernel runs: a warp's 16 rows. Fewer
/// (decode) leave most of its tiles empty; the warp kernel takes them.
constexpr int64_t kTensorCoreMinQueries = kMmaM;

/// Lowers `op` to the warp kernel, or with `tensorCores` to the tile
/// kernel when it fits and has enough queries; a dynamic query count
/// chooses at run time.
void lowerToKernels(kernel::FlashAttentionOp op, bool tensorCores,
                    int64_t warpsPerBlock, int64_t maxBlocks) {
  OpBuilder b(op);
  Location l = op.getLoc();
  int64_t queries = cast<MemRefType>(op.getQ().getType()).getDimSize(1);
  auto warps = [&](OpBuilder &b) {
    buildWarpKernel(b, op, warpsPerBlock, maxBlocks);
  };
  auto tiles = [&](OpBuilder &b) { buildTensorCoreKernel(b, op, maxBlocks); };
  if (!tensorCores || !fitsTensorCores(op) ||
      (!ShapedType::isDynamic(queries) && queries < kTensorCoreMinQueries))
    warps(b);
  else if (!ShapedType::isDynamic(queries))
    tiles(b);
  else {
    Value many =
        arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge,
                              memref::DimOp::create(b, l, op.getQ(), 1),
                              indexConstant(b, l, kTensorCoreMinQueries));
    scf::IfOp::create(
        b, l, many,
        [&](OpBuilder &b, Location l) {
          tiles(b);
          scf::YieldOp::create(b, l);
        },
        [&](OpBuilder &b, Location l) {
          warps(b);
          scf::YieldOp::create(b, l);
        });
  }
  op.erase();
}

struct FlashAttentionKernelsPass
    : public mlir::strata::impl::StrataFlashAttentionKernelsBase<
          FlashAttentionKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(lowerBufferized<kernel::FlashAttentionOp>(
            getOperation(), getArgument(), [&](kernel::FlashAttentionOp op) {
              lowerToKernels(op, tensorCores, warpsPerBlock, maxBlocks);
              return success();
            })))
      signalPassFailure();
  }
};

} // namespace

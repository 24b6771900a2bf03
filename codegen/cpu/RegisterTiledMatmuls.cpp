//===- RegisterTiledMatmuls.cpp - x·Wᵀ with register tiles -----*- C++ -*-===//
//
// x·Wᵀ (every linear layer, the LM head, each expert's GEMMs) reads both
// operands along the reduction. Vectorised one output at a time, it loads
// two vectors per fused multiply-add; here each step of the reduction loop
// loads MR rows of x and NR rows of W once and issues MR·NR FMAs into
// vector accumulators that stay in registers (SSA loop-carried values), so
// loads per FMA fall from 2 to (MR + NR) / (MR · NR). At the end each row's
// four accumulators are reduced across lanes together (a tree of pairwise
// adds, as haddps does, yielding the four sums in one vector) and added to
// the outputs' initial values with one vector load and store. Rows past the
// last full tile of MR use a 1 x NR tile.
//
// A·B-shaped contractions (n innermost in B and C: attention's P·V, a
// plain A·B) get outer-product tiles instead: per step of k, MR scalars of
// A are broadcast against NV vectors of B's row, and the tile of C itself
// is the accumulator, loaded before the reduction and stored after it.
//
// The op's loops are replaced by one scf.parallel over the tiles, which
// strata-outline-parallel-loops hands to the thread pool.
//
//===----------------------------------------------------------------------===//

#include "codegen/LoweringUtils.h"
#include "codegen/cpu/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/Utils/Utils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAREGISTERTILEDMATMULS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// What a matched `C[p.., n] += A[p.., k] * W[n, k]` op reads and writes.
struct Contraction {
  Value a, w, c;
  int64_t n, k;
  /// A and W int8, C int32: sums of int8 products (w8a8-dynamic).
  bool int8 = false;
  /// int8 on AVX-512 VNNI: vpdpbusd's four products per lane.
  bool vnni = false;
  /// bf16 W on AVX-512 BF16: A rounded to bf16, vdpbf16ps's pairs.
  bool bf16Dot = false;
  /// Elements of k per step of a tile's reduction.
  int64_t step = 0;
};

/// Whether `op` widens a stored weight to f32: arith.extf of bf16 or f16,
/// arith.sitofp of int8.
bool isWidening(Operation *op) { return isa<arith::ExtFOp, arith::SIToFPOp>(op); }

/// Whether `v` is block argument `index` of `block`, possibly widened (a
/// bf16, f16 or int8 weight).
bool isArg(Value v, Block &block, unsigned index) {
  if (Operation *def = v.getDefiningOp(); def && isWidening(def))
    v = def->getOperand(0);
  return v == block.getArgument(index);
}

/// A two-input op on buffers with one reduction loop whose payload is
/// acc + a * w (either operand order; either operand may be widened).
bool isMulAddContraction(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 1)
    return false;
  Block &body = op->getRegion(0).front();
  auto ops = body.without_terminator();
  auto first = ops.begin();
  while (first != ops.end() && isWidening(&*first))
    ++first;
  if (std::distance(first, ops.end()) != 2)
    return false;
  auto mul = dyn_cast<arith::MulFOp>(*first);
  auto add = dyn_cast<arith::AddFOp>(*std::next(first));
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  if (!mul || !add || !yield || yield.getValues().front() != add.getResult())
    return false;
  bool mulOk = (isArg(mul.getLhs(), body, 0) && isArg(mul.getRhs(), body, 1)) ||
               (isArg(mul.getLhs(), body, 1) && isArg(mul.getRhs(), body, 0));
  bool addOk =
      (add.getLhs() == mul.getResult() && isArg(add.getRhs(), body, 2)) ||
      (add.getRhs() == mul.getResult() && isArg(add.getLhs(), body, 2));
  return mulOk && addOk;
}

/// A two-input op on buffers with one reduction loop whose payload is
/// acc + extsi(a) * extsi(w) on int8 inputs into an i32 accumulator.
bool isInt8MulAddContraction(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 1)
    return false;
  Block &body = op->getRegion(0).front();
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield ? yield.getValues().front().getDefiningOp<arith::AddIOp>()
                   : arith::AddIOp();
  if (!add || std::distance(body.begin(), body.end()) != 5)
    return false;
  Value acc = body.getArgument(2);
  Value product = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  auto mul = product.getDefiningOp<arith::MulIOp>();
  if (!mul || (add.getLhs() != acc && add.getRhs() != acc))
    return false;
  auto extended = [&](Value v, unsigned index) {
    auto ext = v.getDefiningOp<arith::ExtSIOp>();
    return ext && ext.getIn() == body.getArgument(index) &&
           ext.getIn().getType().isInteger(8);
  };
  return (extended(mul.getLhs(), 0) && extended(mul.getRhs(), 1)) ||
         (extended(mul.getLhs(), 1) && extended(mul.getRhs(), 0));
}

/// A memref whose innermost stride is 1 (rows can be loaded as vectors).
bool hasUnitInnerStride(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  return succeeded(type.getStridesAndOffset(strides, offset)) &&
         !strides.empty() && strides.back() == 1;
}

FailureOr<Contraction> match(linalg::LinalgOp op, int64_t lanes,
                             int64_t nr, bool vnni, bool bf16Dot) {
  bool int8 = isInt8MulAddContraction(op);
  if (!int8 && !isMulAddContraction(op))
    return failure();
  unsigned loops = op.getNumLoops();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto iterators = op.getIteratorTypesArray();
  unsigned k = 0;
  while (iterators[k] != utils::IteratorType::reduction)
    ++k;
  // W[n, k], A[p.., k], C[p.., n] with p.. the other parallel loops in order.
  auto dims = [](AffineMap map) -> std::optional<SmallVector<unsigned>> {
    SmallVector<unsigned> out;
    for (AffineExpr e : map.getResults()) {
      auto d = dyn_cast<AffineDimExpr>(e);
      if (!d)
        return std::nullopt;
      out.push_back(d.getPosition());
    }
    return out;
  };
  auto a = dims(maps[0]), w = dims(maps[1]), c = dims(maps[2]);
  if (!a || !w || !c || w->size() != 2 || (*w)[1] != k || a->back() != k)
    return failure();
  unsigned n = (*w)[0];
  SmallVector<unsigned> rows;
  for (unsigned d = 0; d < loops; ++d)
    if (d != n && d != k)
      rows.push_back(d);
  SmallVector<unsigned> aExpected(rows), cExpected(rows);
  aExpected.push_back(k);
  cExpected.push_back(n);
  if (*a != aExpected || *c != cExpected)
    return failure();
  Value av = op.getDpsInputOperand(0)->get();
  Value wv = op.getDpsInputOperand(1)->get();
  Value cv = op.getDpsInitOperand(0)->get();
  auto at = cast<MemRefType>(av.getType()), wt = cast<MemRefType>(wv.getType());
  auto ct = cast<MemRefType>(cv.getType());
  // W may be stored narrow (bf16, f16, int8): its rows are widened as
  // loaded. An int8 contraction's steps take two int8 pairs per lane.
  Type we = wt.getElementType();
  bool floatTypes = at.getElementType().isF32() &&
                    (we.isF32() || we.isBF16() || we.isF16() ||
                     we.isInteger(8)) &&
                    ct.getElementType().isF32();
  bool intTypes = at.getElementType().isInteger(8) && we.isInteger(8) &&
                  ct.getElementType().isInteger(32);
  if (!(int8 ? intTypes : floatTypes) || !wt.hasStaticShape())
    return failure();
  int64_t nSize = wt.getDimSize(0), kSize = wt.getDimSize(1);
  // VNNI's steps are 4 bytes per 32-bit lane (512-bit vectors only).
  vnni = vnni && int8 && lanes == 16 && kSize % (4 * lanes) == 0;
  // vdpbf16ps: bf16 pairs per 32-bit lane (512-bit vectors only).
  bf16Dot = bf16Dot && we.isBF16() && lanes == 16 && kSize % (2 * lanes) == 0;
  int64_t step = vnni ? 4 * lanes : int8 || bf16Dot ? 2 * lanes : lanes;
  if (kSize % step || nSize % nr || !hasUnitInnerStride(wt) ||
      !hasUnitInnerStride(at) || !hasUnitInnerStride(ct))
    return failure();
  // More than one row dim: A and C are viewed as 2-D, which needs them
  // contiguous.
  if (rows.size() != 1 &&
      (!at.getLayout().isIdentity() || !ct.getLayout().isIdentity()))
    return failure();
  return Contraction{av, wv, cv, nSize, kSize, int8, vnni, bf16Dot, step};
}

/// `memref` as [rows, last]: collapsed when it has more than two dims.
Value asMatrix(OpBuilder &b, Location loc, Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  if (type.getRank() == 2)
    return memref;
  ReassociationIndices rows;
  for (int64_t d = 0; d + 1 < type.getRank(); ++d)
    rows.push_back(d);
  return memref::CollapseShapeOp::create(
      b, loc, memref,
      ArrayRef<ReassociationIndices>{rows, {type.getRank() - 1}});
}

/// [x pairs, y pairs]: lanes 2i and 2i + 1 of x summed into lane i, then
/// those of y (an `haddps` on any width).
Value pairwiseAdd(OpBuilder &b, Location loc, Value x, Value y) {
  int64_t lanes = cast<VectorType>(x.getType()).getNumElements();
  SmallVector<int64_t> even, odd;
  for (int64_t i = 0; i < lanes; ++i) {
    even.push_back(2 * i);
    odd.push_back(2 * i + 1);
  }
  Value lo = vector::ShuffleOp::create(b, loc, x, y, even);
  Value hi = vector::ShuffleOp::create(b, loc, x, y, odd);
  if (isa<FloatType>(cast<VectorType>(x.getType()).getElementType()))
    return arith::AddFOp::create(b, loc, lo, hi);
  return arith::AddIOp::create(b, loc, lo, hi);
}

/// The lane sums of four accumulators as one vector of 4: two levels of
/// pairwise adds give [a, b, c, d] in groups of lanes/4, and each further
/// level halves the groups, until lane j holds the sum of accumulator j.
Value sumFour(OpBuilder &b, Location loc, ValueRange acc) {
  int64_t lanes = cast<VectorType>(acc[0].getType()).getNumElements();
  Value v = pairwiseAdd(b, loc, pairwiseAdd(b, loc, acc[0], acc[1]),
                        pairwiseAdd(b, loc, acc[2], acc[3]));
  for (int64_t group = lanes / 4; group > 1; group /= 2)
    v = pairwiseAdd(b, loc, v, v);
  if (lanes == 4)
    return v;
  return vector::ExtractStridedSliceOp::create(b, loc, v, /*offsets=*/{0},
                                               /*sizes=*/{4}, /*strides=*/{1});
}

/// A row of W loaded in its own type, as f32 lanes. bf16 is the top half
/// of an f32, so widening it is a shift of its bits (x86 without AVX-512
/// BF16 has no instruction for it, and LLVM's generic extension is slower);
/// f16 uses the target's conversion (F16C's vcvtph2ps), int8 a sign
/// extension and an integer conversion (vpmovsxbd, vcvtdq2ps).
Value widenRow(OpBuilder &b, Location loc, Value row, VectorType f32Vec) {
  auto type = cast<VectorType>(row.getType());
  if (type.getElementType().isF32())
    return row;
  if (type.getElementType().isInteger(8))
    return arith::SIToFPOp::create(b, loc, f32Vec, row);
  if (!type.getElementType().isBF16())
    return arith::ExtFOp::create(b, loc, f32Vec, row);
  auto i16Vec = VectorType::get(type.getShape(), b.getI16Type());
  auto i32Vec = VectorType::get(type.getShape(), b.getI32Type());
  Value bits = arith::ExtUIOp::create(
      b, loc, i32Vec, arith::BitcastOp::create(b, loc, i16Vec, row));
  Value sixteen = arith::ConstantOp::create(
      b, loc, i32Vec, DenseElementsAttr::get(i32Vec, int32_t(16)));
  return arith::BitcastOp::create(b, loc, f32Vec,
                                  arith::ShLIOp::create(b, loc, bits, sixteen));
}

/// base, base + 1, ..., base + count - 1.
SmallVector<Value> consecutive(OpBuilder &b, Location loc, Value base,
                               int64_t count) {
  SmallVector<Value> out{base};
  for (int64_t i = 1; i < count; ++i)
    out.push_back(
        arith::AddIOp::create(b, loc, base, indexConstant(b, loc, i)));
  return out;
}

/// The next tile's row of W at this k: W streams from memory once per row
/// tile, and a row is too short for the hardware prefetcher to run far
/// enough ahead on its own.
void prefetchNextTile(OpBuilder &b, Location loc, Value w, Value col,
                      int64_t nr, Value k) {
  Value ahead = arith::AddIOp::create(b, loc, col, indexConstant(b, loc, nr));
  memref::PrefetchOp::create(b, loc, w, ValueRange{ahead, k},
                             /*isWrite=*/false, /*localityHint=*/3,
                             /*isDataCache=*/true);
}

/// A single row's tile reads W's nr rows interleaved, one short piece of
/// each per step; for narrow weights those rows are too short for the
/// hardware prefetcher to stream them at full bandwidth (measured on this
/// AMD host: 8 interleaved int8 rows of 768 read at 12 GB/s, one row at a
/// time at 20). The next tile's rows are one contiguous block of W: each
/// step prefetches its share of that block in address order (the bytes
/// this step reads, nr * `step` elements, at the same relative offset), so
/// the memory sees one sequential stream. Needs W's rows contiguous.
void prefetchNextBlock(OpBuilder &b, Location loc, Value w, Value n0,
                       int64_t nr, Value k, int64_t step) {
  auto type = cast<MemRefType>(w.getType());
  int64_t kSize = type.getDimSize(1);
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  int64_t elementsPerLine = std::max<int64_t>(1, 64 / bytes);
  Value base = arith::MulIOp::create(b, loc, k, indexConstant(b, loc, nr));
  for (int64_t e = 0; e < nr * step; e += elementsPerLine) {
    Value at = arith::AddIOp::create(b, loc, base, indexConstant(b, loc, e));
    Value row = arith::AddIOp::create(
        b, loc, n0,
        arith::AddIOp::create(
            b, loc, indexConstant(b, loc, nr),
            arith::DivUIOp::create(b, loc, at, indexConstant(b, loc, kSize))));
    Value col =
        arith::RemUIOp::create(b, loc, at, indexConstant(b, loc, kSize));
    memref::PrefetchOp::create(b, loc, w, ValueRange{row, col},
                               /*isWrite=*/false, /*localityHint=*/3,
                               /*isDataCache=*/true);
  }
}

/// Whether W's rows are contiguous (row stride = its row length).
bool hasContiguousRows(Value w) {
  auto type = cast<MemRefType>(w.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  return succeeded(type.getStridesAndOffset(strides, offset)) &&
         strides.size() == 2 && strides[1] == 1 &&
         strides[0] == type.getDimSize(1);
}

/// A tile's reduction loop: k0 .. k0 + kc in `step`s, carrying `count`
/// accumulators that start at `zero`.
scf::ForOp reductionLoop(
    OpBuilder &b, Location loc, Value k0, int64_t kc, int64_t step, Value zero,
    int64_t count,
    function_ref<void(OpBuilder &, Location, Value, ValueRange)> body) {
  SmallVector<Value> init(count, zero);
  return scf::ForOp::create(
      b, loc, k0, arith::AddIOp::create(b, loc, k0, indexConstant(b, loc, kc)),
      indexConstant(b, loc, step), init, body);
}

/// How a tile prefetches W. Whole tiles do not: their W rows are reused
/// from L1 by every row tile of the block, and prefetching the next tile's
/// rows at each step only adds L1 pressure (W's and A's rows alias in L1
/// when K's bytes are a multiple of 4 KiB: f32 x·Wᵀ with K = 1024 or 2048
/// ran at 41 GFLOP/s with it, 56-58 without; int8 weights gained 0-8%). A
/// single row prefetches as prefetchNextTile and prefetchNextBlock say.
enum class Prefetch { None, NextTileRows, NextBlock };
Prefetch prefetchFor(int64_t mr, Value w) {
  if (mr > 1)
    return Prefetch::None;
  Type we = cast<MemRefType>(w.getType()).getElementType();
  return !we.isF32() && hasContiguousRows(w) ? Prefetch::NextBlock
                                              : Prefetch::NextTileRows;
}

/// One mr x nr tile at rows p0.., columns n0.., over k0 .. k0 + kc (nr a
/// multiple of 4): the reduction loop with mr·nr vector accumulators, then
/// C[p, n0 .. n0 + nr) += their lane sums, four at a time.
void emitTile(OpBuilder &b, Location loc, Value a, Value w, Value c, Value p0,
              Value n0, int64_t mr, int64_t nr, Value k0, int64_t kc,
              int64_t lanes) {
  auto vec = VectorType::get({lanes}, b.getF32Type());
  Value zero = arith::ConstantOp::create(b, loc, vec,
                                         DenseElementsAttr::get(vec, 0.0f));
  SmallVector<Value> rowsAt = consecutive(b, loc, p0, mr),
                     colsAt = consecutive(b, loc, n0, nr);
  scf::ForOp loop = reductionLoop(
      b, loc, k0, kc, lanes, zero, mr * nr,
      [&](OpBuilder &nb, Location l, Value kk, ValueRange acc) {
        SmallVector<Value> xs, ws, next;
        for (Value r : rowsAt)
          xs.push_back(vector::LoadOp::create(nb, l, vec, a, ValueRange{r, kk}));
        Type we = cast<MemRefType>(w.getType()).getElementType();
        auto wVec = VectorType::get({lanes}, we);
        Prefetch prefetch = prefetchFor(mr, w);
        for (Value col : colsAt) {
          Value row =
              vector::LoadOp::create(nb, l, wVec, w, ValueRange{col, kk});
          ws.push_back(widenRow(nb, l, row, vec));
          if (prefetch == Prefetch::NextTileRows)
            prefetchNextTile(nb, l, w, col, nr, kk);
        }
        if (prefetch == Prefetch::NextBlock)
          prefetchNextBlock(nb, l, w, n0, nr, kk, lanes);
        for (int64_t i = 0; i < mr; ++i)
          for (int64_t j = 0; j < nr; ++j)
            next.push_back(
                vector::FMAOp::create(nb, l, xs[i], ws[j], acc[i * nr + j]));
        scf::YieldOp::create(nb, l, next);
      });
  auto quad = VectorType::get({4}, b.getF32Type());
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; j += 4) {
      Value sums = sumFour(b, loc, loop.getResults().slice(i * nr + j, 4));
      ValueRange at{rowsAt[i], colsAt[j]};
      Value old = vector::LoadOp::create(b, loc, quad, c, at);
      vector::StoreOp::create(
          b, loc, arith::AddFOp::create(b, loc, old, sums), c, at);
    }
}

/// The sum of `v`'s lanes by the tree sumFour builds for each of its
/// accumulators (adjacent pairs, then adjacent pairs of those, ...), so a
/// sum reduced alone equals the same sum reduced four at a time.
Value laneTotal(OpBuilder &b, Location loc, Value v) {
  int64_t lanes = cast<VectorType>(v.getType()).getNumElements();
  for (int64_t width = lanes; width > 1; width /= 2)
    v = pairwiseAdd(b, loc, v, v);
  return vector::ExtractOp::create(b, loc, v, ArrayRef<int64_t>{0});
}

/// C[p, n] += sum_k A[p, k] W[n, k] for one row p and one column n, chunk
/// by chunk: each chunk's products summed in one vector accumulator (as a
/// whole tile sums them), its lanes by laneTotal, then added into C.
/// Single rows (decode) call this for consecutive n, so W is read in
/// address order, one row after the other: one sequential stream, which
/// the hardware prefetcher follows at full bandwidth (reading a tile's
/// rows interleaved, 8 or 16 of them, reached 60-80% of it in a C
/// experiment on the AMD host measured). Same sums in the same order as
/// emitTile: a row's result does not depend on the path.
void emitSequentialOutput(OpBuilder &b, Location loc, Value a, Value w,
                          Value c, Value p, Value n, int64_t k, int64_t kc,
                          int64_t lanes) {
  auto vec = VectorType::get({lanes}, b.getF32Type());
  Value zero = arith::ConstantOp::create(b, loc, vec,
                                         DenseElementsAttr::get(vec, 0.0f));
  auto wVec =
      VectorType::get({lanes}, cast<MemRefType>(w.getType()).getElementType());
  scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, k),
      indexConstant(b, loc, kc), ValueRange{},
      [&](OpBuilder &cb, Location l, Value k0, ValueRange) {
        scf::ForOp loop = reductionLoop(
            cb, l, k0, kc, lanes, zero, 1,
            [&](OpBuilder &nb, Location l, Value kk, ValueRange acc) {
              Value x = vector::LoadOp::create(nb, l, vec, a, ValueRange{p, kk});
              Value row = widenRow(
                  nb, l, vector::LoadOp::create(nb, l, wVec, w, ValueRange{n, kk}),
                  vec);
              scf::YieldOp::create(
                  nb, l,
                  ValueRange{vector::FMAOp::create(nb, l, x, row, acc[0])});
            });
        Value sum = laneTotal(cb, l, loop.getResult(0));
        Value old = memref::LoadOp::create(cb, l, c, ValueRange{p, n});
        memref::StoreOp::create(cb, l, arith::AddFOp::create(cb, l, old, sum),
                                c, ValueRange{p, n});
        scf::YieldOp::create(cb, l);
      });
}

/// `pmaddwd`: lanes of i32, each the sum of two adjacent i16 products of
/// `x` and `y` (exact: |int8 · int8| * 2 < 2^15 * 2^15). The x86 intrinsic
/// of the target's vector width; LLVM has no generic form of it.
Value multiplyAddPairs(OpBuilder &b, Location loc, Value x, Value y,
                       VectorType i32Vec) {
  StringRef name;
  switch (i32Vec.getNumElements()) {
  case 4:
    name = "llvm.x86.sse2.pmadd.wd";
    break;
  case 8:
    name = "llvm.x86.avx2.pmadd.wd";
    break;
  default:
    name = "llvm.x86.avx512.pmaddw.d.512";
    break;
  }
  return LLVM::CallIntrinsicOp::create(b, loc, i32Vec, b.getStringAttr(name),
                                       ValueRange{x, y})
      .getResult(0);
}

/// How a dot-product tile (int8, VNNI, bf16) reads and combines a step.
struct DotStep {
  int64_t step;       ///< elements of k per step
  Value zero;         ///< an accumulator's start
  int64_t extra = 0;  ///< accumulators after the mr x nr outputs'
  function_ref<Value(OpBuilder &, Location, Value row, Value kk)> loadA;
  function_ref<Value(OpBuilder &, Location, Value col, Value kk)> loadW;
  /// The next accumulators from this step's rows of A and W.
  function_ref<SmallVector<Value>(OpBuilder &, Location, ArrayRef<Value> xs,
                                  ArrayRef<Value> ws, ValueRange acc)>
      update;
};

/// The reduction loop of an mr x nr dot-product tile over k0 .. k0 + kc:
/// per step, mr rows of A and nr of W loaded as `dot` says (W prefetched
/// as prefetchFor says) and combined into the accumulators.
scf::ForOp dotLoop(OpBuilder &b, Location loc, Value w, ValueRange rowsAt,
                   ValueRange colsAt, Value n0, Value k0, int64_t kc,
                   const DotStep &dot) {
  int64_t mr = rowsAt.size(), nr = colsAt.size();
  return reductionLoop(
      b, loc, k0, kc, dot.step, dot.zero, mr * nr + dot.extra,
      [&](OpBuilder &nb, Location l, Value kk, ValueRange acc) {
        SmallVector<Value> xs, ws;
        for (Value r : rowsAt)
          xs.push_back(dot.loadA(nb, l, r, kk));
        Prefetch prefetch = prefetchFor(mr, w);
        for (Value col : colsAt) {
          ws.push_back(dot.loadW(nb, l, col, kk));
          if (prefetch == Prefetch::NextTileRows)
            prefetchNextTile(nb, l, w, col, nr, kk);
        }
        if (prefetch == Prefetch::NextBlock)
          prefetchNextBlock(nb, l, w, n0, nr, kk, dot.step);
        scf::YieldOp::create(nb, l, dot.update(nb, l, xs, ws, acc));
      });
}

/// C[i, j .. j + 3] += the lane sums of output accumulators (i, j .. j + 3)
/// of `loop`, four at a time (sumFour), minus `correction(j)` (four
/// values, integer C) when given.
void addLaneSums(OpBuilder &b, Location loc, scf::ForOp loop, Value c,
                 ArrayRef<Value> rowsAt, ArrayRef<Value> colsAt,
                 function_ref<Value(int64_t j)> correction = nullptr) {
  int64_t nr = colsAt.size();
  Type element =
      cast<VectorType>(loop.getResult(0).getType()).getElementType();
  auto quad = VectorType::get({4}, element);
  bool isFloat = isa<FloatType>(element);
  for (int64_t j = 0; j < nr; j += 4) {
    Value minus = correction ? correction(j) : Value();
    for (auto [i, row] : llvm::enumerate(rowsAt)) {
      Value sums = sumFour(b, loc, loop.getResults().slice(i * nr + j, 4));
      if (minus)
        sums = arith::SubIOp::create(b, loc, sums, minus);
      ValueRange at{row, colsAt[j]};
      Value old = vector::LoadOp::create(b, loc, quad, c, at);
      Value updated = isFloat
                          ? arith::AddFOp::create(b, loc, old, sums).getResult()
                          : arith::AddIOp::create(b, loc, old, sums).getResult();
      vector::StoreOp::create(b, loc, updated, c, at);
    }
  }
}

/// Accumulators (i, j) = combine(acc, xs[i], ws[j]) for every output.
SmallVector<Value>
eachOutput(ArrayRef<Value> xs, ArrayRef<Value> ws, ValueRange acc,
           function_ref<Value(Value acc, Value x, Value w)> combine) {
  SmallVector<Value> next;
  for (auto [i, x] : llvm::enumerate(xs))
    for (auto [j, w] : llvm::enumerate(ws))
      next.push_back(combine(acc[i * ws.size() + j], x, w));
  return next;
}

/// An mr x nr tile of an int8 contraction (C int32): per step of 2·lanes
/// along k, MR rows of A and nr of W loaded as int8, sign-extended to i16
/// and multiplied pairwise into i32 lanes (`pmaddwd`) added to the
/// accumulators; each output then gets its accumulator's lane sum. Integer
/// sums are exact, so their order does not matter.
void emitInt8Tile(OpBuilder &b, Location loc, Value a, Value w, Value c,
                  Value p0, Value n0, int64_t mr, int64_t nr, Value k0,
                  int64_t kc, int64_t lanes) {
  auto i32Vec = VectorType::get({lanes}, b.getI32Type());
  auto i16Vec = VectorType::get({2 * lanes}, b.getI16Type());
  auto i8Vec = VectorType::get({2 * lanes}, b.getI8Type());
  auto widened = [&](Value m) {
    return [&, m](OpBuilder &nb, Location l, Value row, Value kk) -> Value {
      Value v = vector::LoadOp::create(nb, l, i8Vec, m, ValueRange{row, kk});
      return arith::ExtSIOp::create(nb, l, i16Vec, v);
    };
  };
  auto loadA = widened(a), loadW = widened(w);
  auto update = [&](OpBuilder &nb, Location l, ArrayRef<Value> xs,
                    ArrayRef<Value> ws, ValueRange acc) {
    return eachOutput(xs, ws, acc, [&](Value s, Value x, Value y) -> Value {
      return arith::AddIOp::create(nb, l, s,
                                   multiplyAddPairs(nb, l, x, y, i32Vec));
    });
  };
  DotStep dot{2 * lanes,
              arith::ConstantOp::create(b, loc, i32Vec,
                                        DenseElementsAttr::get(i32Vec, 0)),
              0, loadA, loadW, update};
  SmallVector<Value> rowsAt = consecutive(b, loc, p0, mr),
                     colsAt = consecutive(b, loc, n0, nr);
  addLaneSums(b, loc, dotLoop(b, loc, w, rowsAt, colsAt, n0, k0, kc, dot), c,
              rowsAt, colsAt);
}

/// `vpdpbusd`: each i32 lane of `acc` plus the four products of its
/// unsigned bytes of `x` and signed bytes of `y` (exact, no saturation).
Value dotBytes(OpBuilder &b, Location loc, Value acc, Value x, Value y) {
  return LLVM::CallIntrinsicOp::create(
             b, loc, acc.getType(),
             b.getStringAttr("llvm.x86.avx512.vpdpbusd.512"),
             ValueRange{acc, x, y})
      .getResult(0);
}

/// The int8 tile on AVX-512 VNNI: per step of 4·lanes along k, A's int8
/// rows with the top bit flipped (x + 128, unsigned) times W's int8 rows,
/// four products per i32 lane (`vpdpbusd`); one more accumulator per W row
/// sums that row against ones, so that each output takes the 128 back:
/// sum (x + 128) w - 128 sum w = sum x w, exactly.
void emitVnniTile(OpBuilder &b, Location loc, Value a, Value w, Value c,
                  Value p0, Value n0, int64_t mr, int64_t nr, Value k0,
                  int64_t kc, int64_t lanes) {
  auto i32Vec = VectorType::get({lanes}, b.getI32Type());
  auto i8Vec = VectorType::get({4 * lanes}, b.getI8Type());
  auto splat = [&](int8_t v) -> Value {
    return arith::ConstantOp::create(
        b, loc, i8Vec, DenseElementsAttr::get(i8Vec, b.getI8IntegerAttr(v)));
  };
  Value flip = splat(-128), ones = splat(1);
  auto loadA = [&](OpBuilder &nb, Location l, Value row, Value kk) -> Value {
    Value v = vector::LoadOp::create(nb, l, i8Vec, a, ValueRange{row, kk});
    return arith::XOrIOp::create(nb, l, v, flip);
  };
  auto loadW = [&](OpBuilder &nb, Location l, Value col, Value kk) -> Value {
    return vector::LoadOp::create(nb, l, i8Vec, w, ValueRange{col, kk});
  };
  auto update = [&](OpBuilder &nb, Location l, ArrayRef<Value> xs,
                    ArrayRef<Value> ws, ValueRange acc) {
    SmallVector<Value> next =
        eachOutput(xs, ws, acc, [&](Value s, Value x, Value y) {
          return dotBytes(nb, l, s, x, y);
        });
    for (auto [j, y] : llvm::enumerate(ws))
      next.push_back(dotBytes(nb, l, acc[xs.size() * ws.size() + j], ones, y));
    return next;
  };
  DotStep dot{4 * lanes,
              arith::ConstantOp::create(b, loc, i32Vec,
                                        DenseElementsAttr::get(i32Vec, 0)),
              nr, loadA, loadW, update};
  SmallVector<Value> rowsAt = consecutive(b, loc, p0, mr),
                     colsAt = consecutive(b, loc, n0, nr);
  scf::ForOp loop = dotLoop(b, loc, w, rowsAt, colsAt, n0, k0, kc, dot);
  auto quad = VectorType::get({4}, b.getI32Type());
  Value offset = arith::ConstantOp::create(
      b, loc, quad, DenseElementsAttr::get(quad, b.getI32IntegerAttr(128)));
  addLaneSums(b, loc, loop, c, rowsAt, colsAt, [&](int64_t j) -> Value {
    Value rowSums =
        sumFour(b, loc, loop.getResults().slice(mr * nr + j, 4));
    return arith::MulIOp::create(b, loc, offset, rowSums);
  });
}

/// A tile of x·Wᵀ with bf16 W on AVX-512 BF16: per step of 2·lanes along
/// k, A's rows (rounded to bf16 beforehand, roundedToBf16) and W's bf16
/// rows multiplied in pairs into f32 lanes by `vdpbf16ps` (the products
/// of two bf16 are exact in f32); each output gets its lanes' sum. Only
/// A's rounding differs from the widening tile: within bf16 tolerance.
void emitBf16DotTile(OpBuilder &b, Location loc, Value a, Value w, Value c,
                     Value p0, Value n0, int64_t mr, int64_t nr, Value k0,
                     int64_t kc, int64_t lanes) {
  auto f32Vec = VectorType::get({lanes}, b.getF32Type());
  auto bf16Vec = VectorType::get({2 * lanes}, b.getBF16Type());
  auto load = [&](Value m) {
    return [&, m](OpBuilder &nb, Location l, Value row, Value kk) -> Value {
      return vector::LoadOp::create(nb, l, bf16Vec, m, ValueRange{row, kk});
    };
  };
  auto loadA = load(a), loadW = load(w);
  auto update = [&](OpBuilder &nb, Location l, ArrayRef<Value> xs,
                    ArrayRef<Value> ws, ValueRange acc) {
    return eachOutput(xs, ws, acc, [&](Value s, Value x, Value y) -> Value {
      return LLVM::CallIntrinsicOp::create(
                 nb, l, f32Vec,
                 nb.getStringAttr("llvm.x86.avx512bf16.dpbf16ps.512"),
                 ValueRange{s, x, y})
          .getResult(0);
    });
  };
  DotStep dot{2 * lanes,
              arith::ConstantOp::create(
                  b, loc, f32Vec,
                  DenseElementsAttr::get(f32Vec, b.getF32FloatAttr(0))),
              0, loadA, loadW, update};
  SmallVector<Value> rowsAt = consecutive(b, loc, p0, mr),
                     colsAt = consecutive(b, loc, n0, nr);
  addLaneSums(b, loc, dotLoop(b, loc, w, rowsAt, colsAt, n0, k0, kc, dot), c,
              rowsAt, colsAt);
}

/// A [rows, k] f32 rounded to bf16 (to nearest even) into a new buffer,
/// once per contraction: the bf16 tiles then read it as they read W,
/// instead of rounding A again for every column tile.
Value roundedToBf16(OpBuilder &b, Location loc, Value a, Value rows,
                    int64_t k, int64_t lanes) {
  auto wide = VectorType::get({2 * lanes}, b.getF32Type());
  auto narrow = VectorType::get({2 * lanes}, b.getBF16Type());
  Value out = memref::AllocOp::create(
      b, loc, MemRefType::get({ShapedType::kDynamic, k}, b.getBF16Type()),
      ValueRange{rows});
  Value zero = indexConstant(b, loc, 0);
  scf::ForOp::create(
      b, loc, zero, rows, indexConstant(b, loc, 1), ValueRange{},
      [&](OpBuilder &rb, Location l, Value r, ValueRange) {
        scf::ForOp::create(
            rb, l, zero, indexConstant(rb, l, k), indexConstant(rb, l, 2 * lanes),
            ValueRange{}, [&](OpBuilder &kb, Location kl, Value kk, ValueRange) {
              Value v = vector::LoadOp::create(kb, kl, wide, a, ValueRange{r, kk});
              vector::StoreOp::create(kb, kl,
                                      arith::TruncFOp::create(kb, kl, narrow, v),
                                      out, ValueRange{r, kk});
              scf::YieldOp::create(kb, kl);
            });
        scf::YieldOp::create(rb, l);
      });
  return out;
}

/// The blocking of C = A·Wᵀ (see rewrite).
struct Blocking {
  int64_t tilesPerBlock; ///< column tiles of nr rows of W per parallel block
  int64_t kc;            ///< reduction chunk: a divisor of k, lanes apart
  int64_t mc;            ///< rows of A per L2 block
};

Blocking chooseBlocking(const Contraction &m, int64_t lanes, int64_t mr,
                        int64_t nr) {
  // Half of a core's L2 (512 KiB on the machines measured) holds a block
  // of mc rows of A over kc; an nr x kc tile of W (4-8 KiB) stays in L1.
  constexpr int64_t kChunk = 512, kRowBlockBytes = 256 * 1024;
  constexpr int64_t kColumnsPerBlock = 64;
  Blocking out;
  int64_t step = m.step;
  out.kc = std::min(m.k, kChunk - kChunk % step);
  while (m.k % out.kc)
    out.kc -= step;
  out.mc = std::max<int64_t>(mr, kRowBlockBytes / (4 * out.kc) / mr * mr);
  int64_t tiles = m.n / nr;
  out.tilesPerBlock = std::clamp<int64_t>(kColumnsPerBlock / nr, 1, tiles);
  while (tiles % out.tilesPerBlock)
    --out.tilesPerBlock;
  return out;
}

/// C = A·Wᵀ as one scf.parallel over (block of W's rows, i.e. of C's
/// columns; block of mc rows of A), each iteration running, per chunk kc of
/// the reduction, every column tile of its block over every row tile of its
/// row block. A tile of W (nr rows, kc long) is then reused from L1 by all
/// mc / mr row tiles, and the row block of A from L2 by all column tiles,
/// so W is read from memory once per row block and A's traffic stays in
/// the caches; the partial sums of each chunk add into C. The row blocks of
/// a column block are consecutive iterations (one thread, W's block warm).
/// Decode's single row still splits W over the threads block by block. The
/// chunks depend only on k, so a row's result does not depend on how many
/// rows there are.
void rewrite(linalg::LinalgOp op, const Contraction &m, int64_t lanes,
             int64_t mr, int64_t nr) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value a = asMatrix(b, loc, m.a), c = asMatrix(b, loc, m.c);
  Value rows = memref::DimOp::create(b, loc, a, 0);
  Value rounded;
  if (m.bf16Dot)
    a = rounded = roundedToBf16(b, loc, a, rows, m.k, lanes);
  Blocking blocking = chooseBlocking(m, lanes, mr, nr);
  auto constant = [&](OpBuilder &nb, int64_t v) {
    return indexConstant(nb, loc, v);
  };
  Value zero = constant(b, 0), one = constant(b, 1);
  Value mcV = constant(b, blocking.mc);
  auto blocks = scf::ParallelOp::create(
      b, loc, ValueRange{zero, zero},
      ValueRange{constant(b, m.n / (nr * blocking.tilesPerBlock)),
                 arith::CeilDivUIOp::create(b, loc, rows, mcV)},
      ValueRange{one, one});
  b.setInsertionPointToStart(blocks.getBody());
  Value blockN0 = arith::MulIOp::create(
      b, loc, blocks.getInductionVars()[0],
      constant(b, nr * blocking.tilesPerBlock));
  Value r0 = arith::MulIOp::create(b, loc, blocks.getInductionVars()[1], mcV);
  Value end = arith::MinUIOp::create(
      b, loc, rows, arith::AddIOp::create(b, loc, r0, mcV));
  // Rows r0 .. fullEnd make whole tiles of mr; the rest (all of them when
  // there are fewer than mr, as in decode) run one by one.
  Value fullEnd = arith::AddIOp::create(
      b, loc, r0,
      arith::MulIOp::create(
          b, loc,
          arith::DivUIOp::create(b, loc, arith::SubIOp::create(b, loc, end, r0),
                                 constant(b, mr)),
          constant(b, mr)));
  // The column tiles of the block, `width` of C's columns from each n0.
  auto columnTiles = [&](OpBuilder &nb, int64_t width,
                         llvm::function_ref<void(OpBuilder &, Value n0)>
                             body) {
    scf::ForOp::create(
        nb, loc, zero, constant(nb, blocking.tilesPerBlock * nr / width),
        one, ValueRange{}, [&](OpBuilder &tb, Location, Value t, ValueRange) {
          body(tb, arith::AddIOp::create(
                       tb, loc, blockN0,
                       arith::MulIOp::create(tb, loc, t,
                                             constant(tb, width))));
          scf::YieldOp::create(tb, loc);
        });
  };
  auto chunks = [&](OpBuilder &nb,
                    llvm::function_ref<void(OpBuilder &, Value k0)> body) {
    scf::ForOp::create(nb, loc, zero, constant(nb, m.k),
                       constant(nb, blocking.kc), ValueRange{},
                       [&](OpBuilder &kb, Location, Value k0, ValueRange) {
                         body(kb, k0);
                         scf::YieldOp::create(kb, loc);
                       });
  };
  auto rowLoop = [&](OpBuilder &nb, Value from, Value to, int64_t tall,
                     int64_t width, Value n0, Value k0) {
    scf::ForOp::create(nb, loc, from, to, constant(nb, tall), ValueRange{},
                       [&](OpBuilder &tb, Location l, Value p, ValueRange) {
                         (m.vnni      ? emitVnniTile
                          : m.bf16Dot ? emitBf16DotTile
                          : m.int8    ? emitInt8Tile
                                      : emitTile)(tb, l, a, m.w, c, p, n0,
                                                  tall, width, k0, blocking.kc,
                                                  lanes);
                         scf::YieldOp::create(tb, l);
                       });
  };
  // Whole tiles: per chunk, each column tile over every row tile.
  chunks(b, [&](OpBuilder &kb, Value k0) {
    columnTiles(kb, nr, [&](OpBuilder &tb, Value n0) {
      rowLoop(tb, r0, fullEnd, mr, nr, n0, k0);
    });
  });
  // Single rows (decode): each column tile's chunks back to back, so W
  // streams row by row as the prefetcher expects, in tiles twice as wide
  // where the block allows: a single row's tile has only nr accumulators,
  // each one chained FMA per step, and narrow weights' steps are too short
  // to hide that latency. Neither changes what is summed in which order
  // for an output, so a row's result is the same as in a whole tile.
  if (cast<MemRefType>(m.w.getType()).getElementType().isF32() &&
      !m.int8) {
    // f32 weights: each output alone, W in address order
    // (emitSequentialOutput). Narrow weights keep the wide tiles with
    // prefetchNextBlock: one chain per output is too slow for their short
    // rows (an int8 32000 x 768 head: 1.0 -> 1.25 ms), while f32's
    // 98 MB head went from 5.1 to 4.0 ms (17.5 -> 24.6 GB/s, this host's
    // read bandwidth 28).
    scf::ForOp::create(
        b, loc, fullEnd, end, one, ValueRange{},
        [&](OpBuilder &rb, Location, Value p, ValueRange) {
          columnTiles(rb, 1, [&](OpBuilder &tb, Value n) {
            emitSequentialOutput(tb, loc, a, m.w, c, p, n, m.k, blocking.kc,
                                 lanes);
          });
          scf::YieldOp::create(rb, loc);
        });
  } else {
    int64_t singleWidth = blocking.tilesPerBlock % 2 ? nr : 2 * nr;
    columnTiles(b, singleWidth, [&](OpBuilder &tb, Value n0) {
      chunks(tb, [&](OpBuilder &kb, Value k0) {
        rowLoop(kb, fullEnd, end, 1, singleWidth, n0, k0);
      });
    });
  }
  if (rounded) {
    b.setInsertionPointAfter(blocks);
    memref::DeallocOp::create(b, loc, rounded);
  }
  op->erase();
}

struct OuterProduct {
  unsigned m, n, k;
  SmallVector<unsigned> batch; ///< the other parallel loops
  int64_t nSize;
};

FailureOr<OuterProduct> matchOuterProduct(linalg::LinalgOp op,
                                          int64_t lanes) {
  if (!isMulAddContraction(op))
    return failure();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto innermost = [](AffineMap map) -> std::optional<unsigned> {
    if (map.getNumResults() == 0)
      return std::nullopt;
    auto d = dyn_cast<AffineDimExpr>(map.getResults().back());
    return d ? std::optional<unsigned>(d.getPosition()) : std::nullopt;
  };
  auto iterators = op.getIteratorTypesArray();
  std::optional<unsigned> n = innermost(maps[2]);
  if (!n || innermost(maps[1]) != n || maps[0].isFunctionOfDim(*n))
    return failure();
  OuterProduct m;
  m.n = *n;
  m.k = 0;
  while (iterators[m.k] != utils::IteratorType::reduction)
    ++m.k;
  // C must be indexed by plain loop dims; its rows by a dim B does not use.
  std::optional<unsigned> row;
  for (AffineExpr e : maps[2].getResults()) {
    auto d = dyn_cast<AffineDimExpr>(e);
    if (!d)
      return failure();
    unsigned dim = d.getPosition();
    if (dim != m.n && !maps[1].isFunctionOfDim(dim) &&
        maps[0].isFunctionOfDim(dim))
      row = dim;
  }
  if (!row || maps[2].getNumResults() != op.getNumParallelLoops())
    return failure();
  m.m = *row;
  for (unsigned d = 0; d < op.getNumLoops(); ++d)
    if (d != m.m && d != m.n && d != m.k)
      m.batch.push_back(d);
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  m.nSize = ranges[m.n];
  auto memref = [&](unsigned i) {
    return cast<MemRefType>(op->getOperand(i).getType());
  };
  if (ShapedType::isDynamic(m.nSize) || m.nSize % lanes ||
      !memref(0).getElementType().isF32() ||
      !memref(1).getElementType().isF32() ||
      !memref(2).getElementType().isF32() || !hasUnitInnerStride(memref(1)) ||
      !hasUnitInnerStride(memref(2)))
    return failure();
  return m;
}

/// One tile: rows m0 .. m0 + mr - 1, vectors nv of columns from n0, over
/// all k; the accumulators start from C and are stored back.
void emitOuterTile(OpBuilder &b, Location loc, linalg::LinalgOp op,
                   const OuterProduct &m, SmallVector<Value> ivs, Value m0,
                   Value n0, Value kSize, int64_t mr, int64_t nv,
                   int64_t lanes) {
  auto vec = VectorType::get({lanes}, b.getF32Type());
  Value a = op->getOperand(0), bm = op->getOperand(1), c = op->getOperand(2);
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto at = [&](OpBuilder &nb, Location l, unsigned operand, int64_t i,
                int64_t j, Value kIv) {
    ivs[m.m] = i ? arith::AddIOp::create(nb, l, m0, indexConstant(nb, l, i))
                 : m0;
    ivs[m.n] = j ? arith::AddIOp::create(nb, l, n0,
                                          indexConstant(nb, l, j * lanes))
                 : n0;
    ivs[m.k] = kIv;
    return applyIndexingMap(nb, l, maps[operand], ivs);
  };
  Value zero = indexConstant(b, loc, 0);
  SmallVector<Value> init;
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nv; ++j)
      init.push_back(
          vector::LoadOp::create(b, loc, vec, c, at(b, loc, 2, i, j, zero)));
  auto loop = scf::ForOp::create(
      b, loc, zero, kSize, indexConstant(b, loc, 1), init,
      [&](OpBuilder &nb, Location l, Value kk, ValueRange acc) {
        SmallVector<Value> rows, cols, next;
        for (int64_t j = 0; j < nv; ++j)
          cols.push_back(
              vector::LoadOp::create(nb, l, vec, bm, at(nb, l, 1, 0, j, kk)));
        for (int64_t i = 0; i < mr; ++i)
          rows.push_back(vector::BroadcastOp::create(
              nb, l, vec,
              memref::LoadOp::create(nb, l, a, at(nb, l, 0, i, 0, kk))));
        for (int64_t i = 0; i < mr; ++i)
          for (int64_t j = 0; j < nv; ++j)
            next.push_back(vector::FMAOp::create(nb, l, rows[i], cols[j],
                                                 acc[i * nv + j]));
        scf::YieldOp::create(nb, l, next);
      });
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nv; ++j)
      vector::StoreOp::create(b, loc, loop.getResult(i * nv + j), c,
                              at(b, loc, 2, i, j, zero));
}

void rewriteOuterProduct(linalg::LinalgOp op, const OuterProduct &m,
                         int64_t lanes, int64_t accumulators) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  // Loop d runs over [0, ranges[d]) (linalg ops on buffers start at 0
  // with unit steps).
  SmallVector<Value> ranges;
  for (Range r : op.createLoopRanges(b, loc))
    ranges.push_back(getValueOrCreateConstantIndexOp(b, loc, r.size));
  int64_t nv = std::min<int64_t>(m.nSize / lanes, 4);
  while ((m.nSize / lanes) % nv)
    --nv;
  int64_t mr = std::max<int64_t>(1, accumulators / nv);
  Value mrV = indexConstant(b, loc, mr);
  Value zero = indexConstant(b, loc, 0), one = indexConstant(b, loc, 1);
  // Loops: the batch dims, row tiles, column tiles.
  SmallVector<Value> lbs, ubs, steps;
  for (unsigned d : m.batch) {
    lbs.push_back(zero);
    ubs.push_back(ranges[d]);
    steps.push_back(one);
  }
  lbs.append({zero, zero});
  ubs.push_back(arith::CeilDivUIOp::create(b, loc, ranges[m.m], mrV));
  ubs.push_back(indexConstant(b, loc, m.nSize / (nv * lanes)));
  steps.append({one, one});
  auto tiles = scf::ParallelOp::create(b, loc, lbs, ubs, steps);
  b.setInsertionPointToStart(tiles.getBody());
  SmallVector<Value> ivs(op.getNumLoops());
  for (auto [i, d] : llvm::enumerate(m.batch))
    ivs[d] = tiles.getInductionVars()[i];
  unsigned nb = m.batch.size();
  Value m0 = arith::MulIOp::create(b, loc, tiles.getInductionVars()[nb], mrV);
  Value n0 = arith::MulIOp::create(b, loc, tiles.getInductionVars()[nb + 1],
                                   indexConstant(b, loc, nv * lanes));
  Value left = arith::SubIOp::create(b, loc, ranges[m.m], m0);
  Value full =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, left, mrV);
  Value kSize = ranges[m.k];
  scf::IfOp::create(
      b, loc, full,
      [&](OpBuilder &t, Location l) {
        emitOuterTile(t, l, op, m, ivs, m0, n0, kSize, mr, nv, lanes);
        scf::YieldOp::create(t, l);
      },
      [&](OpBuilder &t, Location l) {
        scf::ForOp::create(
            t, l, m0, ranges[m.m], indexConstant(t, l, 1), ValueRange{},
            [&](OpBuilder &r, Location rl, Value row, ValueRange) {
              emitOuterTile(r, rl, op, m, ivs, row, n0, kSize, 1, nv, lanes);
              scf::YieldOp::create(r, rl);
            });
        scf::YieldOp::create(t, l);
      });
  op->erase();
}

struct RegisterTiledMatmulsPass
    : public mlir::strata::impl::StrataRegisterTiledMatmulsBase<
          RegisterTiledMatmulsPass> {
  using Base::Base;
  void runOnOperation() override {
    if (vectorBits != 128 && vectorBits != 256 && vectorBits != 512) {
      getOperation().emitError("vector-bits must be 128, 256 or 512, got ")
          << vectorBits;
      return signalPassFailure();
    }
    int64_t lanes = vectorBits / 32;
    // Accumulators plus one tile of loads must fit the register file:
    // 32 zmm with AVX-512, 16 registers below it.
    int64_t mr = vectorBits == 512 ? 4 : 2, nr = 4;
    SmallVector<std::pair<linalg::LinalgOp, Contraction>> found;
    SmallVector<std::pair<linalg::LinalgOp, OuterProduct>> outer;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (FailureOr<Contraction> m = match(op, lanes, nr, vnni, bf16Dot);
          succeeded(m))
        found.push_back({op, *m});
      else if (FailureOr<OuterProduct> o = matchOuterProduct(op, lanes);
               succeeded(o))
        outer.push_back({op, *o});
    });
    for (auto &[op, m] : found)
      rewrite(op, m, lanes, mr, nr);
    for (auto &[op, m] : outer)
      rewriteOuterProduct(op, m, lanes, mr * nr);
  }
};

} // namespace

//===- TileKernels.h - a block's 64x64 tile of a contraction ---*- C++ -*-===//
//
// The kernel bodies of strata-tiled-matmuls, shared with
// strata-grouped-matmul-kernels. Given where a block's 64x64 tile of
// C[m, n] += sum_k A[m, k] * B[n, k] starts and how to read A and B and
// update C, a body stages 64x16 operand tiles in shared memory per step of
// k and computes the tile with f32 FMAs (256 threads, 4x4 outputs each) or
// bf16 mma.sync on tensor cores (4 warps, 32x32 each); int8 operands sum
// exactly into i32 with integer multiply-adds or s8 mma.sync m16n8k32
// (64x32 operand tiles per step). What the caller
// decides is the mapping of blocks to tiles: batch dimensions for a linalg
// contraction, expert segments for a grouped matmul.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_CUDA_TILEKERNELS_H
#define STRATA_CODEGEN_CUDA_TILEKERNELS_H

#include "mlir/IR/Builders.h"

namespace mlir::strata {

/// Output rows and columns per block.
constexpr int64_t kTileSize = 64;

/// The shape of one tensor-core instruction, mma.sync m16n8k16 (bf16);
/// the int8 one is m16n8k32.
constexpr int64_t kMmaM = 16, kMmaN = 8, kMmaK = 16;
constexpr int64_t kInt8MmaK = 32;

enum class TileKind {
  Fma,        ///< f32 FMAs, 256 threads
  TensorCore, ///< bf16 mma.sync m16n8k16 with f32 accumulators, 4 warps
  IntFma,     ///< int8 operands, exact i32 multiply-adds, 256 threads
  Int8TensorCore ///< s8 mma.sync m16n8k32 with i32 accumulators, 4 warps
};

/// The tile kind for a contraction summing into `accumulator` (f32 or i32).
inline TileKind tileKindFor(Type accumulator, bool tensorCores) {
  if (accumulator.isInteger(32))
    return tensorCores ? TileKind::Int8TensorCore : TileKind::IntFma;
  return tensorCores ? TileKind::TensorCore : TileKind::Fma;
}

/// Threads per block of a `kind` tile kernel.
int64_t tileThreads(TileKind kind);

/// The shared-memory buffers a `kind` tile kernel's launch must attribute,
/// in this order.
SmallVector<Type> tileBuffers(MLIRContext *ctx, TileKind kind);

/// How a tile body reaches its operands.
struct TileAccess {
  Value tid;        ///< thread index in the block
  Value row0, col0; ///< the tile's first output row (m) and column (n)
  Value depth;      ///< k's extent
  bool bAlongK;     ///< B's consecutive elements run along k (x·Wᵀ)
  /// A (operand 0) at (row, k) or B (1) at (column, k), in absolute
  /// indices; 0 outside the operand. As stored (f32, bf16, f16 or int8):
  /// the float bodies widen it (widenToF32), the integer ones take int8.
  function_ref<Value(OpBuilder &, Location, unsigned, Value, Value)> load;
  /// C[m, n] = its initial value + `acc`, when (m, n) is inside C.
  function_ref<void(OpBuilder &, Location, Value, Value, Value)> store;
};

/// Builds at `b`, inside a launch of tileThreads(kind) threads whose
/// workgroup attributions are `buffers` (tileBuffers(kind)), the
/// computation of the tile at (row0, col0).
void buildTile(OpBuilder &b, Location loc, TileKind kind, ValueRange buffers,
               const TileAccess &t);

/// A lane's place in its mma fragments (PTX ISA): its group g = lane / 4,
/// and 2c, twice its index c = lane % 4 in the group.
struct MmaLane {
  Value g, c2;
};
MmaLane mmaLane(OpBuilder &b, Location loc, Value lane);

/// One 32-bit mma fragment register: `low` in its low 16 bits, `high` in
/// its high 16 bits, both bf16 (f32 values are rounded to bf16 first).
Value packBf16Pair(OpBuilder &b, Location loc, Value low, Value high);

/// The fragment register holding the bf16 `tile[row][col]` and
/// `tile[row][col + 1]`.
Value loadBf16Pair(OpBuilder &b, Location loc, Value tile, Value row,
                   Value col);

/// A lane's two B fragment registers from `tile` staged [n][k]: column
/// `column` at k = `k` and k + 8 (`k` includes the lane's 2c).
SmallVector<Value, 2> loadBFragment(OpBuilder &b, Location loc, Value tile,
                                    Value column, Value k);

/// D = A·B + C for one warp's m16n8k16 tile (bf16 A row-major, B
/// column-major, f32 C): `a` the lane's four A registers, `b` its two B
/// registers, `c` its four accumulators; returns the four of D. Fragment
/// ownership (PTX ISA, g = lane / 4, c = lane % 4): A rows g and g + 8 at
/// k = 2c, 2c + 8 (+1); B column g at the same k; C rows g and g + 8 at
/// columns 2c (+1).
SmallVector<Value, 4> mmaSyncBf16(OpBuilder &b, Location loc, ValueRange a,
                                  ValueRange bFrag, ValueRange c);

/// `memref[indices]` when `inBounds`, else 0 (of its element type).
Value guardedLoad(OpBuilder &b, Location loc, Value inBounds, Value memref,
                  ValueRange indices);

/// `v` as f32: int8 weights (sitofp: exact), bf16/f16 ones (extf), f32
/// as is.
Value widenToF32(OpBuilder &b, Location loc, Value v);

/// `old + acc`, f32 or i32.
Value addSum(OpBuilder &b, Location loc, Value old, Value acc);

/// `acc + x * w` in acc's type: i32 sums of sign-extended integers (exact),
/// or an f32 FMA of the operands widened (widenToF32).
Value multiplyAdd(OpBuilder &b, Location loc, Value x, Value w, Value acc);

/// 0 of `type` (f32 or i32: a sum's start).
Value zeroOf(OpBuilder &b, Location loc, Type type);

/// x < bound, unsigned.
Value lessThan(OpBuilder &b, Location loc, Value x, Value bound);

} // namespace mlir::strata

#endif // STRATA_CODEGEN_CUDA_TILEKERNELS_H

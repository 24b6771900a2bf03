//===- LoweringUtils.h - helpers both targets' lowerings share --*- C++ -*-===//
//
// Loop-space arithmetic used wherever a loop nest is re-expressed as one
// linear range (a GPU grid, a thread pool's chunks), and the exported
// function-pointer globals through which generated host code calls the
// runtime (CUDA launches, the CPU thread pool).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_LOWERINGUTILS_H
#define STRATA_CODEGEN_LOWERINGUTILS_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "runtime/abi.h"

namespace mlir::strata {

Value indexConstant(OpBuilder &b, Location loc, int64_t value);

/// `x + c` for an index or integer `x`.
Value addConstant(OpBuilder &b, Location loc, Value x, int64_t c);

/// `body(b, l, i)` for i = lb, lb + step, ... < ub (an scf.for without
/// results).
void forRange(OpBuilder &b, Location loc, Value lb, Value ub, Value step,
              function_ref<void(OpBuilder &, Location, Value)> body);

/// `memref[indices]`, an integer, as an index.
Value loadIndex(OpBuilder &b, Location loc, Value memref, ValueRange indices);

/// Integer or index `value` (read as unsigned, so negative values are
/// large) as an index clamped to [0, size): data-dependent indices (token
/// and expert ids) stay in bounds by construction, whatever the data.
Value clampedIndex(OpBuilder &b, Location loc, Value value, int64_t size);

/// An f32 scalar constant (`value` rounded to f32).
Value f32Constant(OpBuilder &b, Location loc, double value);

/// ceil((ub - lb) / step) for each dimension of `loop`, built at `b`.
SmallVector<Value> parallelTripCounts(OpBuilder &b, scf::ParallelOp loop);

/// The indices of `linear` in a row-major space of `sizes`, innermost
/// fastest (the outermost index is not bounded).
SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value linear,
                               ArrayRef<Value> sizes);

/// Maps `ivs` (induction variables of a parallel loop, its leading
/// trips.size() ones) to `lb + i * step` for the indices i that `linear`
/// delinearises to in the space of `trips`, with bounds and steps read from
/// `bounds` (the loop itself, or a clone whose operands are available).
void mapDelinearizedIvs(OpBuilder &b, Location loc, Value linear,
                        ArrayRef<Value> trips, scf::ParallelOp bounds,
                        ValueRange ivs, IRMapping &map);

/// The indices `map` gives for loop indices `ivs`: a loop index as is,
/// any other expression through affine.apply.
SmallVector<Value> applyIndexingMap(OpBuilder &b, Location loc, AffineMap map,
                                    ValueRange ivs);

/// The context pointer every CPU hook receives (the session's thread pool
/// and arena), shared by strata-cpu-parallel-hooks and
/// strata-cpu-arena-hook.
constexpr llvm::StringLiteral kCpuContextHook = STRATA_HOOK_CPU_CONTEXT;

/// Declares `ptr @name = null` (LLVM dialect) in the symbol table `b`
/// inserts into, unless it is there already; exported so the runtime finds
/// it with dlsym and stores a pointer in it after loading.
void createHookGlobal(OpBuilder &b, Location loc, StringRef name);

/// The pointer currently stored in hook global `name`.
Value loadHookGlobal(OpBuilder &b, Location loc, StringRef name);

/// Name of the function strata-plan-memory calls for each entry's arena:
/// `memref<?xi8> strata_arena_acquire(index bytes)`; each target's hook
/// pass gives it a body.
inline constexpr llvm::StringLiteral kArenaAcquire = "strata_arena_acquire";
/// And `strata_arena_release(memref<?xi8>)`, before each of its returns.
inline constexpr llvm::StringLiteral kArenaRelease = "strata_arena_release";

/// Alignment of the arena and of every slot offset in it.
inline constexpr int64_t kArenaAlignment = STRATA_ARENA_ALIGNMENT;

/// strata-plan-memory's arena (`memref<?xi8>` of `bytes`, an i64) as the
/// lowered descriptor `type`, its aligned pointer `base` rounded up to
/// kArenaAlignment bytes.
Value arenaDescriptor(OpBuilder &b, Location loc, Type type, Value base,
                      Value bytes);

/// Calls `lower` on every `OpT` (a destination-style kernel op:
/// strata_kernel.flash_attention, strata_kernel.grouped_matmul, strata_kernel.expert_sort) in
/// `module`, which must all be bufferized; `pass` names the lowering in the
/// error otherwise.
template <typename OpT>
LogicalResult lowerBufferized(ModuleOp module, StringRef pass,
                              function_ref<LogicalResult(OpT)> lower) {
  SmallVector<OpT> ops;
  module.walk([&](OpT op) { ops.push_back(op); });
  for (OpT op : ops) {
    if (!cast<DestinationStyleOpInterface>(op.getOperation())
             .hasPureBufferSemantics())
      return op.emitOpError("must be bufferized before ") << pass;
    if (failed(lower(op)))
      return failure();
  }
  return success();
}

} // namespace mlir::strata

#endif // STRATA_CODEGEN_LOWERINGUTILS_H

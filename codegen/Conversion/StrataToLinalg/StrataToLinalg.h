//===- StrataToLinalg.h - strata to linalg patterns -------------*- C++ -*-===//
//
// Lowering of strata ops to linalg/tensor/arith/math on tensors, one file
// per op family. Every pattern computes in the op's element type when it is
// f32; other element types are left for the mixed-precision lowering.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_CONVERSION_STRATATOLINALG_H
#define STRATA_CODEGEN_CONVERSION_STRATATOLINALG_H

#include "codegen/LoweringUtils.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

#include <functional>

namespace mlir::strata {

/// Pointwise ops: gelu, silu, swiglu, add, dropout (inference), sigmoid_gate.
void populatePointwiseToLinalgPatterns(RewritePatternSet &patterns);
/// Router (top-k by rank, groups, bias), routed experts (selected only):
/// grouped by expert (sorted rows, one GEMM per expert) or, without
/// `groupByExpert`, each (token, slot) pair gathering its expert's weights;
/// `groupBackward`: their backward grouped by expert too (over the dense
/// backward of populateGradientsToLinalgPatterns).
void populateMoEToLinalgPatterns(RewritePatternSet &patterns,
                                 bool groupByExpert, bool groupBackward);
/// Cross-entropy and the router balance loss.
void populateLossToLinalgPatterns(RewritePatternSet &patterns);
/// Rotary positions (with YaRN) and attention (GQA, causal, window).
void populateAttentionToLinalgPatterns(RewritePatternSet &patterns, bool flash);
/// The backward ops strata-autodiff emits (linear, rmsnorm, activations,
/// swiglu, cross-entropy, the embedding's scatter-add).
void populateGradientsToLinalgPatterns(RewritePatternSet &patterns);
/// Embedding, rmsnorm, layernorm, linear, lm_head and memory compression.
void populateCoreToLinalgPatterns(RewritePatternSet &patterns);
/// strata.quantized_linear (int8 weights, per-channel scales); the
/// quantized experts are with the MoE patterns.
void populateQuantizedToLinalgPatterns(RewritePatternSet &patterns);
void populateOptimizerToLinalgPatterns(RewritePatternSet &patterns);
/// shard.all_reduce (sum over tp) -> strata_kernel.all_reduce; the expert
/// exchanges -> strata_kernel.expert_route / expert_exchange.
void populateCollectivesToKernelPatterns(RewritePatternSet &patterns);

namespace detail {

/// Whether every float tensor the op reads or writes is f32 (this lowering
/// computes in f32; mixed or narrower types belong to the precision passes).
bool isF32Only(Operation *op);
/// isF32Only, except that the operands `weights` may also be bf16 or f16
/// tensors: weights stored narrow (--weights-dtype) and widened as they
/// are read, so that the products still accumulate in f32.
bool isF32WithNarrowWeights(Operation *op, ArrayRef<unsigned> weights);
/// `v` (a scalar read from a weight) as f32: arith.extf when narrower,
/// arith.sitofp for an int8 weight.
Value widenToF32(OpBuilder &b, Location loc, Value v);

/// An empty tensor of `shape` x `elementType`; dynamic dims are read from
/// `like` at the same positions (the leading batch/sequence dims).
Value emptyTensor(OpBuilder &b, Location loc, Value like,
                  ArrayRef<int64_t> shape, Type elementType);

/// A tensor of `shape` filled with `value` (a zero accumulator, ...).
Value filledTensor(OpBuilder &b, Location loc, Value like,
                   ArrayRef<int64_t> shape, Type elementType, double value);

/// A linalg.generic over the iteration space of `init` (all parallel),
/// reading `inputs` through `maps` (identity when empty) and writing one
/// result of init's type from `body(b, loc, inputArgs)`.
Value buildPointwise(
    OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<AffineMap> maps,
    Value init,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// 0 .. n-1: the dims of an identity map (with dimsMap).
SmallVector<unsigned> iota(unsigned n);

/// Map of a rank-`rank` iteration space onto the given dims.
AffineMap dimsMap(MLIRContext *ctx, unsigned rank, ArrayRef<unsigned> dims);

/// A linalg.generic with explicit maps and iterators whose body yields
/// `body(b, loc, blockArgs)` into its one output `init`.
Value buildGeneric(
    OpBuilder &b, Location loc, ValueRange inputs, Value init,
    ArrayRef<AffineMap> maps, ArrayRef<utils::IteratorType> iterators,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// y[..., o] = bias[o] + sum_i x[..., i] * w[o, i] (bias may be null): the
/// contraction the CPU's register tiles and CUDA's tiles recognise. A bf16
/// or f16 `w` is widened in the payload (acc + x * extf(w)).
Value buildProjection(OpBuilder &b, Location loc, Value x, Value w,
                      Value bias);
/// w8a8-dynamic's activation scales: per row of x [p.., k] (its last dim
/// reduced), max|x| / 127, or 1 for a zero row.
Value rowScales(OpBuilder &b, Location loc, Value x);
/// x / scale (per row) rounded half to even and clamped to [-127, 127],
/// as `elementType`: i8, or f32 holding those integers.
Value quantizeRows(OpBuilder &b, Location loc, Value x, Value scales,
                   Type elementType);

/// Static w8a8's activations: x rounded to uint8 with `scale` and
/// `zeroPoint` (read through `paramMap` from x's iteration space),
/// clamp(round(x / s) + z, 0, 255), stored minus 128 as int8.
Value quantizeOffsetRows(OpBuilder &b, Location loc, Value x, Value scale,
                         Value zeroPoint, AffineMap paramMap);

/// The exact sum of (x_q - z) * w from the offset rows' int8 sum `acc`:
/// acc + (128 - z) * rowSum (`zeroPoint` f32, integer-valued).
Value unoffsetSum(OpBuilder &b, Location loc, Value acc, Value rowSum,
                  Value zeroPoint);
/// x * sigmoid(x) and erf/tanh GELU as arith/math on scalars.
Value buildSilu(OpBuilder &b, Location loc, Value x);
/// d silu(x) / dx on a scalar.
Value buildSiluDerivative(OpBuilder &b, Location loc, Value x);
Value buildGelu(OpBuilder &b, Location loc, Value x, bool tanhApproximation);

/// The training generator (dropout masks, router noise): a counter-based
/// hash, splitmix64's finaliser over the key's words. h starts as
/// mix64(seed ^ salt * golden) and each word w (i64) joins as
/// h = mix64((h ^ w) + golden); (seed, salt) pick the stream, the words
/// (step, element index, bits of the input) the draw. Built from scalar
/// arith ops, so both targets lower it inside any generic body;
/// test/passes/check_dropout.py and check_moe_train.py hold its reference.
Value mix64(OpBuilder &b, Location loc, Value z);
Value counterHash(OpBuilder &b, Location loc, int64_t seed, int64_t salt,
                  ValueRange words);
/// Whether dropout keeps element `x` at linear index `index` (an i1): a
/// hash of (seed, salt; step, index, bits of x) against p * 2^32. Shared by
/// the forwards and backwards of strata.dropout and attention's dropout,
/// which must draw the same masks.
Value dropoutKeeps(OpBuilder &b, Location loc, Value x, Value index,
                   Value step, int64_t seed, int64_t salt, double p);
/// The linear (row-major) index of the current element of a linalg.generic
/// body over a rank-`sizes.size()` space, as i64; `sizes` are the dims as
/// i64 values from outside the body.
Value linearIndex(OpBuilder &b, Location loc, ValueRange sizes);
/// `x`'s dims as i64 values (for linearIndex).
SmallVector<Value> dimsAsI64(OpBuilder &b, Location loc, Value x);
/// A standard normal draw from a 64-bit hash by Box-Muller over two 24-bit
/// uniforms u1 = (hi24 + 1) / 2^24 in (0, 1] and u2 = mid24 / 2^24:
/// sqrt(-2 ln u1) * cos(2 pi u2), in f32 (hi24 = h >> 40,
/// mid24 = (h >> 8) & 0xFFFFFF).
Value normalFromHash(OpBuilder &b, Location loc, Value h);
/// The router's training noise: logits [B, S, E] + noise_std * a standard
/// normal per element, keyed by (seed, salt; step, linear index, bits of
/// the logit). strata.router and strata.router_backward both call it.
Value buildRouterNoise(OpBuilder &b, Location loc, Value logits, Value step,
                       double noiseStd, int64_t seed, int64_t salt);

} // namespace detail
} // namespace mlir::strata

#endif // STRATA_CODEGEN_CONVERSION_STRATATOLINALG_H

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
/// `groupByExpert`, each (token, slot) pair gathering its expert's weights.
void populateMoEToLinalgPatterns(RewritePatternSet &patterns,
                                 bool groupByExpert);
/// Cross-entropy and the router balance loss.
void populateLossToLinalgPatterns(RewritePatternSet &patterns);
/// Rotary positions (with YaRN) and attention (GQA, causal, window).
void populateAttentionToLinalgPatterns(RewritePatternSet &patterns, bool flash);
/// The backward ops strata-autodiff emits (linear, rmsnorm, activations,
/// swiglu, cross-entropy, the embedding's scatter-add).
void populateGradientsToLinalgPatterns(RewritePatternSet &patterns);
/// Embedding, rmsnorm, layernorm, linear, lm_head and memory compression.
void populateCoreToLinalgPatterns(RewritePatternSet &patterns);
void populateOptimizerToLinalgPatterns(RewritePatternSet &patterns);

namespace detail {

/// Whether every float tensor the op reads or writes is f32 (this lowering
/// computes in f32; mixed or narrower types belong to the precision passes).
bool isF32Only(Operation *op);

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

/// Map of a rank-`rank` iteration space onto the given dims.
AffineMap dimsMap(MLIRContext *ctx, unsigned rank, ArrayRef<unsigned> dims);

/// A linalg.generic with explicit maps and iterators whose body yields
/// `body(b, loc, blockArgs)` into its one output `init`.
Value buildGeneric(
    OpBuilder &b, Location loc, ValueRange inputs, Value init,
    ArrayRef<AffineMap> maps, ArrayRef<utils::IteratorType> iterators,
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// y[..., o] = bias[o] + sum_i x[..., i] * w[o, i] (bias may be null): the
/// contraction the CPU's register tiles and CUDA's tiles recognise.
Value buildProjection(OpBuilder &b, Location loc, Value x, Value w,
                      Value bias);
/// x * sigmoid(x) and erf/tanh GELU as arith/math on scalars.
Value buildSilu(OpBuilder &b, Location loc, Value x);
Value buildGelu(OpBuilder &b, Location loc, Value x, bool tanhApproximation);

} // namespace detail
} // namespace mlir::strata

#endif // STRATA_CODEGEN_CONVERSION_STRATATOLINALG_H

//===- AttentionUtils.h - attention pieces the lowerings share --*- C++ -*-===//
//
// The mask of strata.attention (causal, window, block-sparse layout, key
// padding) as one predicate over (query position, key index), shared by
// the materialising linalg lowering and both flash lowerings so that all
// three hide exactly the same keys; and the pieces of one flash row (its
// key range, the online-softmax step) that the CPU loops and the CUDA
// kernel build alike.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_ATTENTIONUTILS_H
#define STRATA_CODEGEN_ATTENTIONUTILS_H

#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <optional>

namespace mlir::strata {

struct AttentionMask {
  bool causal = true;
  std::optional<int64_t> window;
  BlockSparseAttr layout;
};

/// i1: whether key `t` is visible to the query at position `aligned`
/// (queries aligned to the end of the `keys` keys). `first` is the row's
/// first real key (an index) under key padding, null without. All of
/// `aligned`, `t`, `first` and `keys` are index values.
Value attentionKeyVisible(OpBuilder &b, Location l, const AttentionMask &mask,
                          Value aligned, Value t, Value first, Value keys);

/// The sizes of a strata_kernel.flash_attention on buffers, as index values
/// (head dims also as constants: loops over them are unrolled or
/// distributed).
struct FlashShapes {
  Value batch, queries, heads, keys, group, offset;
  int64_t headDim, valueDim;
};
FlashShapes readFlashShapes(OpBuilder &b, kernel::FlashAttentionOp op);

/// The keys [lo, hi) that causal and window masks leave to the query at
/// `aligned`; other masks are tested key by key.
std::pair<Value, Value> flashKeyRange(OpBuilder &b, Location l,
                                      const AttentionMask &mask, Value aligned,
                                      Value keys);

/// One key of the online softmax: with running max `m` and sum `sum`, and
/// the key's score `x`, the new max and sum, the factor `rescale` that
/// previously accumulated values are multiplied by and the key's weight.
struct OnlineSoftmaxStep {
  Value max, sum, rescale, weight;
};
OnlineSoftmaxStep onlineSoftmaxStep(OpBuilder &b, Location l, Value m,
                                    Value sum, Value x);

/// The AttentionMask of `op`.
AttentionMask flashMask(kernel::FlashAttentionOp op);

/// The row's first real key (an index) under key padding, else null.
Value flashFirstKey(OpBuilder &b, Location l, kernel::FlashAttentionOp op,
                    Value batchIndex);

} // namespace mlir::strata

#endif // STRATA_CODEGEN_ATTENTIONUTILS_H

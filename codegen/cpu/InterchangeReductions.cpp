//===- InterchangeReductions.cpp - vectorisable loop order -----*- C++ -*-===//
//
// C[i, j] += A[i, k] * B[k, j] with the reduction k innermost reads B with a
// stride of a row per iteration: LLVM cannot vectorise it, and A·B ran at
// 1.7 GFLOP/s. Moving k outside j makes the innermost loop walk C and B
// contiguously with A[i, k] invariant, which vectorises without
// reassociation: each C element still sums over k in the same order, so
// results are bit-identical.
//
//===----------------------------------------------------------------------===//

#include "codegen/cpu/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAINTERCHANGEREDUCTIONS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;

namespace {

/// The new loop order (old loop indices), or nothing when the op is not a
/// strided innermost reduction with a contiguous parallel alternative.
std::optional<SmallVector<unsigned>> vectorisableOrder(linalg::LinalgOp op) {
  unsigned loops = op.getNumLoops();
  if (op.getNumReductionLoops() != 1 || op.getNumDpsInits() != 1 ||
      loops < 2)
    return std::nullopt;
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  unsigned r = reductions.front();
  if (r != loops - 1)
    return std::nullopt;
  AffineMap out = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (out.getNumResults() == 0)
    return std::nullopt;
  auto last = dyn_cast<AffineDimExpr>(out.getResults().back());
  if (!last)
    return std::nullopt;
  unsigned d = last.getPosition();
  bool strided = false;
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (!isa<ShapedType>(input->get().getType()))
      continue;
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.getNumResults() == 0)
      continue;
    AffineExpr inner = map.getResults().back();
    // Every input that reads d must read it as its innermost dimension.
    if (map.isFunctionOfDim(d) && inner != getAffineDimExpr(d, op.getContext()))
      return std::nullopt;
    if (map.isFunctionOfDim(r) && inner != getAffineDimExpr(r, op.getContext()))
      strided = true;
  }
  if (!strided)
    return std::nullopt;
  SmallVector<unsigned> order;
  for (unsigned i = 0; i < loops; ++i)
    if (i != r && i != d)
      order.push_back(i);
  order.push_back(r);
  order.push_back(d);
  return order;
}

struct InterchangeReductionsPass
    : public mlir::strata::impl::StrataInterchangeReductionsBase<
          InterchangeReductionsPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> ops;
    getOperation().walk([&](linalg::LinalgOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : ops) {
      std::optional<SmallVector<unsigned>> order = vectorisableOrder(op);
      if (!order)
        continue;
      rewriter.setInsertionPoint(op);
      auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
      if (!generic) {
        FailureOr<linalg::GenericOp> g = linalg::generalizeNamedOp(rewriter, op);
        if (failed(g))
          continue;
        generic = *g;
      }
      if (failed(linalg::interchangeGenericOp(rewriter, generic, *order)))
        return signalPassFailure();
    }
  }
};

} // namespace

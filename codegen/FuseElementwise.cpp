//===- FuseElementwise.cpp - fusion without recomputation ------*- C++ -*-===//
//
// Upstream's element-wise fusion also fuses a producer into a consumer that
// reads each produced element many times (SiLU(gate)·up into the down
// projection, which reads it once per output column): the producer's
// exp then runs 1024 times per element instead of once. Here a producer is
// fused only where the consumer reads each of its elements exactly once —
// its indexing map for the operand is a permutation of the consumer's
// loops — so fusion saves a buffer and a pass over memory, never adds work.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAFUSEELEMENTWISE
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;

namespace {
struct FuseElementwisePass
    : public mlir::strata::impl::StrataFuseElementwiseBase<
          FuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::ControlFusionFn readsOnce = [](OpOperand *operand) {
      auto consumer = dyn_cast<linalg::LinalgOp>(operand->getOwner());
      return consumer &&
             consumer.getMatchingIndexingMap(operand).isPermutation();
    };
    linalg::populateElementwiseOpsFusionPatterns(patterns, readsOnce);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

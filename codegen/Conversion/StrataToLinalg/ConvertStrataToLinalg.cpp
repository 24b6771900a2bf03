//===- ConvertStrataToLinalg.cpp - the strata-convert-to-linalg pass -*- C++ -*-===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"
#include "codegen/Passes.h"

#include "dialect/StrataOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATACONVERTTOLINALG
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {
struct ConvertToLinalgPass
    : public mlir::strata::impl::StrataConvertToLinalgBase<ConvertToLinalgPass> {
  using StrataConvertToLinalgBase::StrataConvertToLinalgBase;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populatePointwiseToLinalgPatterns(patterns);
    populateCoreToLinalgPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    if (allowPartial)
      return;
    // Anything left is an op whose lowering does not exist yet: say so at
    // the op (which carries the config line that produced it).
    bool failedAny = false;
    getOperation().walk([&](Operation *op) {
      if (isa<StrataDialect>(op->getDialect()) && !isa<ParamOp>(op)) {
        op->emitOpError("has no lowering to linalg yet (element type or op "
                        "not supported by this target)");
        failedAny = true;
      }
    });
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace

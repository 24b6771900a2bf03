//===- ConvertStrataToLinalg.cpp - the strata-convert-to-linalg pass -*- C++
//-*-===//

#include "codegen/Conversion/StrataToLinalg/StrataToLinalg.h"
#include "codegen/Passes.h"

#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATACONVERTTOLINALG
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {
struct ConvertToLinalgPass
    : public mlir::strata::impl::StrataConvertToLinalgBase<
          ConvertToLinalgPass> {
  using StrataConvertToLinalgBase::StrataConvertToLinalgBase;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populatePointwiseToLinalgPatterns(patterns);
    populateCoreToLinalgPatterns(patterns);
    populateQuantizedToLinalgPatterns(patterns);
    populateAttentionToLinalgPatterns(patterns, flashAttention);
    populateLossToLinalgPatterns(patterns);
    populateGradientsToLinalgPatterns(patterns);
    populateOptimizerToLinalgPatterns(patterns);
    populateCollectivesToKernelPatterns(patterns);
    populateMoEToLinalgPatterns(patterns, groupExperts,
                                groupExperts && groupExpertsBackward);
    // decode's KV caches are extended with tensor.concat: lower it to
    // insert_slice, which bufferizes in place.
    tensor::populateDecomposeTensorConcatPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    if (allowPartial)
      return;
    // Anything left is an op whose lowering does not exist yet: say so at
    // the op (which carries the config line that produced it).
    // One error per op kind, at its first occurrence, keeps a 61-layer model
    // from printing hundreds of identical lines.
    llvm::MapVector<OperationName, SmallVector<Operation *>> left;
    getOperation().walk([&](Operation *op) {
      if ((isa<StrataDialect>(op->getDialect()) && !isa<ParamOp>(op)) ||
          (isa<shard::ShardDialect>(op->getDialect()) &&
           !isa<shard::GridOp>(op)))
        left[op->getName()].push_back(op);
    });
    for (auto &[name, ops] : left) {
      InFlightDiagnostic diag = ops.front()->emitOpError(
          "has no lowering to linalg yet (element type or op not supported "
          "by this target)");
      if (ops.size() > 1)
        diag << "; " << ops.size() << " such ops in the module";
    }
    if (!left.empty())
      signalPassFailure();
  }
};
} // namespace

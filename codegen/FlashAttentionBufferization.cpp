//===- FlashAttentionBufferization.cpp - one-shot bufferization -*- C++ -*-===//
//
// strata.flash_attention is destination style: one-shot bufferization
// writes its result into init's buffer (in place unless init is still
// needed) and leaves the op on memrefs, where the targets lower it.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "dialect/StrataOps.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"

using namespace mlir;
using namespace mlir::strata;

namespace {

struct FlashAttentionBufferization
    : bufferization::DstBufferizableOpInterfaceExternalModel<
          FlashAttentionBufferization, FlashAttentionOp> {
  /// init is only written: its old contents need not survive in place.
  bool bufferizesToMemoryRead(Operation *op, OpOperand &operand,
                              const bufferization::AnalysisState &) const {
    return !cast<DestinationStyleOpInterface>(op).isDpsInit(&operand);
  }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const bufferization::BufferizationOptions &options,
                          bufferization::BufferizationState &state) const {
    SmallVector<Value> buffers;
    for (Value operand : op->getOperands()) {
      FailureOr<Value> buffer =
          bufferization::getBuffer(rewriter, operand, options, state);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
    rewriter.setInsertionPoint(op);
    FlashAttentionOp::create(rewriter, op->getLoc(), TypeRange{}, buffers,
                             op->getAttrs());
    bufferization::replaceOpWithBufferizedValues(rewriter, op, buffers.back());
    return success();
  }
};

} // namespace

void mlir::strata::registerFlashAttentionBufferization(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, StrataDialect *) {
    FlashAttentionOp::attachInterface<FlashAttentionBufferization>(*ctx);
  });
}

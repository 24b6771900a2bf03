//===- DestinationBufferization.cpp - one-shot bufferization ---*- C++ -*-===//
//
// Strata's kernel-level ops (strata.flash_attention, strata.grouped_matmul)
// are destination style: one-shot bufferization writes the result into
// init's buffer (in place unless init is still needed) and leaves the op on
// memrefs, where the targets lower it.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "dialect/StrataOps.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"

using namespace mlir;
using namespace mlir::strata;

namespace {

/// `ReadsInit`: whether the op accumulates into init (grouped_matmul) or
/// only overwrites it (flash_attention), whose old contents then need not
/// survive in place.
template <typename OpT, bool ReadsInit>
struct DestinationBufferization
    : bufferization::DstBufferizableOpInterfaceExternalModel<
          DestinationBufferization<OpT, ReadsInit>, OpT> {
  bool bufferizesToMemoryRead(Operation *op, OpOperand &operand,
                              const bufferization::AnalysisState &) const {
    return ReadsInit ||
           !cast<DestinationStyleOpInterface>(op).isDpsInit(&operand);
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
    OpT::create(rewriter, op->getLoc(), TypeRange{}, buffers, op->getAttrs());
    bufferization::replaceOpWithBufferizedValues(rewriter, op, buffers.back());
    return success();
  }
};

} // namespace

void mlir::strata::registerDestinationBufferization(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, StrataDialect *) {
    FlashAttentionOp::attachInterface<
        DestinationBufferization<FlashAttentionOp, /*ReadsInit=*/false>>(*ctx);
    GroupedMatmulOp::attachInterface<
        DestinationBufferization<GroupedMatmulOp, /*ReadsInit=*/true>>(*ctx);
  });
}

//===- DestinationBufferization.cpp - one-shot bufferization ---*- C++ -*-===//
//
// Strata's kernel-level ops (strata_kernel.flash_attention, strata_kernel.grouped_matmul,
// strata_kernel.expert_sort) are destination style: one-shot bufferization writes
// the results into their inits' buffers (in place unless an init is still
// needed) and leaves the op on memrefs, where the targets lower it.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"

using namespace mlir;
using namespace mlir::strata;

namespace {

/// `ReadsInit`: whether the op accumulates into its init (grouped_matmul)
/// or only overwrites its inits (flash_attention, expert_sort), whose old
/// contents then need not survive in place.
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
    SmallVector<Value> results;
    for (OpOperand &init :
         cast<DestinationStyleOpInterface>(op).getDpsInitsMutable())
      results.push_back(buffers[init.getOperandNumber()]);
    bufferization::replaceOpWithBufferizedValues(rewriter, op, results);
    return success();
  }
};

} // namespace

void mlir::strata::registerDestinationBufferization(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, kernel::StrataKernelDialect *) {
    kernel::FlashAttentionOp::attachInterface<DestinationBufferization<
        kernel::FlashAttentionOp, /*ReadsInit=*/false>>(*ctx);
    kernel::GroupedMatmulOp::attachInterface<
        DestinationBufferization<kernel::GroupedMatmulOp, /*ReadsInit=*/true>>(
        *ctx);
    kernel::AllReduceOp::attachInterface<
        DestinationBufferization<kernel::AllReduceOp, /*ReadsInit=*/true>>(
        *ctx);
    kernel::ExpertSortOp::attachInterface<
        DestinationBufferization<kernel::ExpertSortOp, /*ReadsInit=*/false>>(
        *ctx);
    kernel::ExpertRouteOp::attachInterface<
        DestinationBufferization<kernel::ExpertRouteOp, /*ReadsInit=*/false>>(
        *ctx);
    kernel::ExpertExchangeOp::attachInterface<DestinationBufferization<
        kernel::ExpertExchangeOp, /*ReadsInit=*/false>>(*ctx);
  });
}

//===- StrataAttrs.cpp - Strata attribute verifiers -------------*- C++ -*-===//
//
// Verifiers for #strata.rope and #strata.block_sparse; the constraint ids
// (rope_c1, ...) are those of docs/spec.md.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::strata;

#include "dialect/StrataEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/StrataAttrs.cpp.inc"

void StrataDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/StrataAttrs.cpp.inc"
      >();
}

LogicalResult RopeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               APFloat thetaF, RopeScaling scaling,
                               APFloat factorF, int64_t originalMaxPosition,
                               APFloat betaFastF, APFloat betaSlowF, APFloat,
                               APFloat) {
  double theta = thetaF.convertToDouble(), factor = factorF.convertToDouble();
  double betaFast = betaFastF.convertToDouble();
  double betaSlow = betaSlowF.convertToDouble();
  if (!(theta > 0))
    return emitError() << "rope_c1: theta must be > 0, got " << theta;
  if (!(factor >= 1))
    return emitError() << "rope_c2: factor must be >= 1, got " << factor;
  if (scaling != RopeScaling::Yarn)
    return success();
  if (originalMaxPosition < 1)
    return emitError() << "rope_c3: original_max_position must be >= 1 for "
                          "yarn scaling, got "
                       << originalMaxPosition;
  if (!(betaSlow > 0) || !(betaFast >= betaSlow))
    return emitError() << "rope_c4: yarn needs beta_fast >= beta_slow > 0, got "
                          "beta_fast = "
                       << betaFast << ", beta_slow = " << betaSlow;
  return success();
}

LogicalResult
BlockSparseAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        int64_t blockSize, int64_t numLocalBlocks,
                        int64_t numGlobalBlocks, int64_t numRandomBlocks,
                        int64_t seed) {
  if (blockSize < 1)
    return emitError() << "sparse_c1: block_size must be >= 1, got "
                       << blockSize;
  if (numLocalBlocks < 1)
    return emitError() << "sparse_c2: num_local_blocks must be >= 1, got "
                       << numLocalBlocks;
  if (numGlobalBlocks < 0 || numRandomBlocks < 0)
    return emitError() << "sparse_c3: num_global_blocks and num_random_blocks "
                          "must be >= 0";
  return success();
}

//===- StrataOps.h - Strata ops ---------------------------------*- C++ -*-===//
//
// Op classes of the strata dialect and the cost interface they implement.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_DIALECT_STRATAOPS_H
#define STRATA_DIALECT_STRATAOPS_H

#include "dialect/StrataDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::strata::detail {
/// Elements of `value` when it is produced by strata.param, else 0.
int64_t getParamElements(Value value);
/// attention_c1-c3 and c7 of attention and attention_backward.
LogicalResult verifyAttentionShapes(function_ref<InFlightDiagnostic()> emit,
                                    int64_t h, int64_t kvh, int64_t dqk,
                                    int64_t dv, RankedTensorType q,
                                    RankedTensorType k, RankedTensorType v);
} // namespace mlir::strata::detail

#include "dialect/StrataInterfaces.h.inc"

#define GET_OP_CLASSES
#include "dialect/StrataOps.h.inc"

namespace mlir::strata {
/// State tensors `optimizer` keeps per parameter (strata.optimizer_update).
unsigned optimizerStateCount(Optimizer optimizer);
/// Attaches shard::ShardingInterface to the ops that tensor parallelism
/// splits (StrataOpsSharding.cpp); the dialect does it when it loads.
void attachShardingModels(MLIRContext &ctx);
} // namespace mlir::strata

#endif // STRATA_DIALECT_STRATAOPS_H

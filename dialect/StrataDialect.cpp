//===- StrataDialect.cpp - Strata dialect registration ----------*- C++ -*-===//

#include "dialect/StrataDialect.h"
#include "dialect/StrataOps.h"

#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/InterleavedRange.h"


using namespace mlir;
using namespace mlir::strata;

#include "dialect/StrataDialect.cpp.inc"

void StrataDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/StrataOps.cpp.inc"
      >();
  registerAttributes();
  // The shard dialect's interface, so that upstream sharding propagation
  // and partitioning see through the model's ops (StrataOpsSharding.cpp).
  attachShardingModels(*getContext());
}

/// The plan attributes belong on the module, and the parallel plan's grid
/// must be the module's shard.grid with the shape the degrees imply.
LogicalResult StrataDialect::verifyOperationAttribute(Operation *op,
                                                      NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  bool isPlan = llvm::is_contained(
      {"strata.parallel", "strata.training", "strata.inference"}, name);
  if (!isPlan)
    return success();
  if (!isa<ModuleOp>(op))
    return op->emitError("'") << name << "' belongs on the module";
  bool rightKind =
      name == "strata.parallel"   ? isa<ParallelAttr>(attr.getValue())
      : name == "strata.training" ? isa<TrainingAttr>(attr.getValue())
                                  : isa<InferenceAttr>(attr.getValue());
  if (!rightKind)
    return op->emitError("'") << name << "' must be a #" << name.drop_front(7)
                              << " attribute";
  auto parallel = dyn_cast<ParallelAttr>(attr.getValue());
  if (!parallel)
    return success();
  auto grid = SymbolTable::lookupNearestSymbolFrom<shard::GridOp>(
      op, parallel.getGrid());
  if (!grid)
    return op->emitError("plan_c4: the parallel plan's grid ")
           << parallel.getGrid() << " is not a shard.grid of this module";
  SmallVector<int64_t> expected = parallel.getGridShape();
  if (grid.getShape() != ArrayRef<int64_t>(expected))
    return op->emitError("plan_c4: shard.grid ")
           << parallel.getGrid() << " has shape "
           << llvm::interleaved(grid.getShape(), "x")
           << " but the plan implies pp x (dp / ep) x ep x tp = "
           << llvm::interleaved(expected, "x");
  return success();
}

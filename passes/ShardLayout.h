//===- ShardLayout.h - which weights tensor parallelism splits --*- C++ -*-===//
//
// Megatron's layout of a layer body, decided once for the partitioning pass
// (strata-shard) and the plan report (strata-compile --stats), so that what
// the report counts is what the partitioned program holds.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_PASSES_SHARDLAYOUT_H
#define STRATA_PASSES_SHARDLAYOUT_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::strata {

/// The layer body's weight arguments that `ranks` tensor-parallel ranks
/// split, by the dimension split: 0 for column-parallel projections (rows
/// of the weight: q, k, v, gate, up), 1 for row-parallel ones (o, down),
/// which end in an all-reduce. Attention's projections split only when its
/// query and KV heads divide among the ranks; projections with a bias
/// (routers, the compression module) stay whole.
llvm::DenseMap<unsigned, int64_t> tensorParallelSplits(func::FuncOp body,
                                                       int64_t ranks);

} // namespace mlir::strata

#endif // STRATA_PASSES_SHARDLAYOUT_H

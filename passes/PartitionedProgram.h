//===- PartitionedProgram.h - the program ranks run beside the whole one --===//
//
// What the passes that make a partitioned program share (strata-shard for
// tensor parallelism, strata-expert-parallel for routed experts): the
// entry points and the bodies they reach cloned as `stage0.<name>` beside
// the whole program, clones that ended up unchanged dropped again, and the
// callers retyped to the bodies' slices.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_PASSES_PARTITIONEDPROGRAM_H
#define STRATA_PASSES_PARTITIONEDPROGRAM_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

namespace mlir::strata {

/// The prefix of pipeline stage 0's program when the plan has no stages.
constexpr llvm::StringLiteral kStagePrefix = "stage0.";
/// The prefix of the tensor-parallel bodies that pipeline stages' programs
/// (strata-pipeline's `stage<N>.*`) call.
constexpr llvm::StringLiteral kBodyPrefix = "tp.";

/// Clones every body that `entries` reach as `<prefix><name>`, `entries`
/// and the clones calling the clones (with `cloneEntries`, `entries` are
/// cloned too and marked `strata.stage = 0`). Appends the cloned bodies.
void cloneProgram(ModuleOp module, ArrayRef<func::FuncOp> entries,
                  bool cloneEntries, StringRef prefix,
                  SmallVectorImpl<func::FuncOp> &bodies);

/// The inference entry points (and with `train` the loss, which the train
/// phase then differentiates), cloned with every body they reach as
/// `stage0.<name>`: the partitioned program of a plan without stages.
void cloneInferenceProgram(ModuleOp module, bool train,
                           SmallVectorImpl<func::FuncOp> &bodies);

/// A cloned body that nothing split is the original: its callers call
/// that, so the program adds no code for it (bodies that call others stay).
void dropUnchangedClone(ModuleOp module, func::FuncOp clone);

/// Drops the inference entry clones that pass no slice and call no
/// partitioned body: they compute what the originals do, and ranks run
/// those. The loss clone stays: training looks for the program's.
void dropUnchangedEntries(ModuleOp module);

/// Gives every call the partitioned bodies' types: weights become the
/// rank's slices at their strata.param (`strata.shard_dim` from the
/// body's argument, `strata.shard_count` = `ranks`, and `strata.shard_axis`
/// when `axis` is not the default "tp"), entry arguments and results
/// (KV caches) take the sliced types.
LogicalResult updateCallers(ModuleOp module, int64_t ranks,
                            StringRef axis = "tp");

} // namespace mlir::strata

#endif // STRATA_PASSES_PARTITIONEDPROGRAM_H

//===- ShardLayout.cpp - which weights tensor parallelism splits ----------===//

#include "passes/ShardLayout.h"

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::strata;

namespace {

/// Whether `v` reaches (through rotary embeddings and the KV caches'
/// concatenation) an operand of attention or of a gated MLP's activation.
bool feedsHeadsOrActivation(Value v, unsigned depth = 0) {
  if (depth > 4)
    return false;
  for (Operation *user : v.getUsers()) {
    if (isa<AttentionOp, SwiGLUOp, SiluOp, GeluOp>(user))
      return true;
    if (isa<RotaryOp, tensor::ConcatOp>(user) &&
        feedsHeadsOrActivation(user->getResult(0), depth + 1))
      return true;
  }
  return false;
}

/// Whether `v` is attention's or the activation's result.
bool fromHeadsOrActivation(Value v) {
  Operation *def = v.getDefiningOp();
  return def && isa<AttentionOp, SwiGLUOp, SiluOp, GeluOp>(def);
}

} // namespace

llvm::DenseMap<unsigned, int64_t>
mlir::strata::tensorParallelSplits(func::FuncOp body, int64_t ranks) {
  bool headsDivide = true;
  body.walk([&](AttentionOp a) {
    headsDivide &= a.getNumHeads() % ranks == 0 &&
                   a.getNumKvHeads() % ranks == 0 && !a.getStep();
  });
  llvm::DenseMap<unsigned, int64_t> splits;
  body.walk([&](LinearOp linear) {
    auto weight = dyn_cast<BlockArgument>(linear.getWeight());
    if (!weight || weight.getOwner() != &body.front() || linear.getBias())
      return;
    auto touchesAttention = [](Value v) {
      for (Operation *user : v.getUsers())
        if (isa<RotaryOp, tensor::ConcatOp, AttentionOp>(user))
          return true;
      return false;
    };
    Value out = linear.getResult();
    bool attention =
        touchesAttention(out) ||
        isa_and_nonnull<AttentionOp>(linear.getInput().getDefiningOp());
    if (attention && !headsDivide)
      return;
    if (feedsHeadsOrActivation(out))
      splits[weight.getArgNumber()] = 0;
    else if (fromHeadsOrActivation(linear.getInput()))
      splits[weight.getArgNumber()] = 1;
  });
  // Routed experts: every expert's intermediate features, gate and up by
  // rows (dim 1 of [E, F, D]), down by columns (dim 2 of [E, D, F]).
  body.walk([&](MoEExpertsOp experts) {
    auto arg = [&](Value v) {
      auto a = dyn_cast<BlockArgument>(v);
      return a && a.getOwner() == &body.front() ? a : BlockArgument();
    };
    BlockArgument gate = arg(experts.getGateProj()),
                  up = arg(experts.getUpProj()),
                  down = arg(experts.getDownProj());
    auto type = cast<RankedTensorType>(experts.getGateProj().getType());
    if (!gate || !up || !down || type.isDynamicDim(1) ||
        type.getDimSize(1) % ranks)
      return;
    splits[gate.getArgNumber()] = 1;
    splits[up.getArgNumber()] = 1;
    splits[down.getArgNumber()] = 2;
  });
  return splits;
}

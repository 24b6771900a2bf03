//===- KernelOps.cpp - strata_kernel verifiers and effects ------*- C++ -*-===//
//
// The constraint ids (flash_c1, gmm_c1, sort_c1, ...) are those of
// docs/spec.md.
//
//===----------------------------------------------------------------------===//

#include "dialect/KernelDialect.h"
#include "dialect/StrataDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::strata;
using namespace mlir::strata::kernel;

#include "dialect/KernelDialect.cpp.inc"

void StrataKernelDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/KernelOps.cpp.inc"
      >();
}

namespace {
/// Two dims agree when either is dynamic or they are equal.
bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}
} // namespace

//===----------------------------------------------------------------------===//
// FlashAttentionOp
//===----------------------------------------------------------------------===//

LogicalResult FlashAttentionOp::verify() {
  SmallVector<Value> operands{getQ(), getK(), getV(), getInit()};
  bool onTensors = isa<RankedTensorType>(getInit().getType());
  for (Value v : operands) {
    auto type = cast<ShapedType>(v.getType());
    if (isa<RankedTensorType>(type) != onTensors || !type.hasRank() ||
        type.getRank() != 4)
      return emitOpError() << "flash_c1: q, k, v and init must all be rank-4 "
                              "tensors or all rank-4 memrefs, got "
                           << v.getType();
  }
  auto dims = [](Value v) { return cast<ShapedType>(v.getType()).getShape(); };
  ArrayRef<int64_t> q = dims(getQ()), k = dims(getK()), v = dims(getV()),
                    out = dims(getInit());
  int64_t heads = q[2], kvHeads = k[2];
  if (!ShapedType::isDynamic(heads) && !ShapedType::isDynamic(kvHeads) &&
      (kvHeads < 1 || heads % kvHeads))
    return emitOpError() << "flash_c2: " << kvHeads << " KV heads must divide "
                         << heads << " heads";
  auto same = [](ArrayRef<std::pair<int64_t, int64_t>> pairs) {
    return llvm::all_of(pairs,
                        [](auto p) { return compatible(p.first, p.second); });
  };
  if (!same({{q[3], k[3]},
             {v[3], out[3]},
             {out[0], q[0]},
             {out[1], q[1]},
             {out[2], q[2]},
             {k[0], q[0]},
             {v[0], q[0]},
             {k[1], v[1]},
             {k[2], v[2]}}))
    return emitOpError()
           << "flash_c3: shapes must be q [B, S, H, D], k [B, T, KV, D], v "
              "[B, T, KV, Dv] and init [B, S, H, Dv], got "
           << getQ().getType() << ", " << getK().getType() << ", "
           << getV().getType() << " and " << getInit().getType();
  // The lowerings keep a row's head-dim elements in registers or unrolled
  // loops: the dims must be known.
  if (ShapedType::isDynamic(q[3]) || ShapedType::isDynamic(v[3]))
    return emitOpError() << "flash_c8: the head dims (last dims of q and v) "
                            "must be static";
  if (std::optional<int64_t> window = getWindow()) {
    if (*window < 1)
      return emitOpError() << "flash_c4: window must be >= 1, got " << *window;
    if (getSparsity())
      return emitOpError()
             << "flash_c4: window and sparsity are mutually exclusive";
  }
  if (!(getScale().convertToDouble() > 0))
    return emitOpError() << "flash_c5: scale must be > 0, got "
                         << getScale().convertToDouble();
  if (Value padding = getKeyPadding()) {
    auto type = cast<ShapedType>(padding.getType());
    if (isa<RankedTensorType>(type) != onTensors || !type.hasRank() ||
        type.getRank() != 1 || !compatible(type.getDimSize(0), q[0]))
      return emitOpError() << "flash_c6: key_padding must be a rank-1 "
                           << (onTensors ? "tensor" : "memref")
                           << " of q's batch, got " << type;
  }
  if (onTensors ? getResult().size() != 1 ||
                      getResult().front().getType() != getInit().getType()
                : !getResult().empty())
    return emitOpError() << "flash_c7: expected "
                         << (onTensors ? "one result of init's type"
                                       : "no result on memrefs");
  return success();
}

/// On tensors a destination-style kernel op is pure; on memrefs it reads
/// its inputs and writes init (reading it too when it accumulates).
static void destinationEffects(
    Operation *op, bool readsInit,
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  auto dst = cast<DestinationStyleOpInterface>(op);
  for (OpOperand &operand : op->getOpOperands()) {
    if (!isa<MemRefType>(operand.get().getType()))
      continue;
    bool init = dst.isDpsInit(&operand);
    if (!init || readsInit)
      effects.emplace_back(MemoryEffects::Read::get(), &operand,
                           SideEffects::DefaultResource::get());
    if (init)
      effects.emplace_back(MemoryEffects::Write::get(), &operand,
                           SideEffects::DefaultResource::get());
  }
}

void FlashAttentionOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  destinationEffects(getOperation(), /*readsInit=*/false, effects);
}

//===----------------------------------------------------------------------===//
// GroupedMatmulOp
//===----------------------------------------------------------------------===//

LogicalResult GroupedMatmulOp::verify() {
  bool onTensors = isa<RankedTensorType>(getInit().getType());
  const std::pair<Value, int64_t> ranked[] = {
      {getRows(), 2}, {getWeights(), 3}, {getOffsets(), 1}, {getInit(), 2}};
  for (auto [v, rank] : ranked) {
    auto type = cast<ShapedType>(v.getType());
    if (isa<RankedTensorType>(type) != onTensors || !type.hasRank() ||
        type.getRank() != rank)
      return emitOpError() << "gmm_c1: rows, weights, offsets and init must "
                              "all be tensors or all memrefs, of ranks 2, 3, "
                              "1 and 2, got "
                           << v.getType();
  }
  auto dims = [](Value v) { return cast<ShapedType>(v.getType()).getShape(); };
  ArrayRef<int64_t> rows = dims(getRows()), w = dims(getWeights()),
                    offsets = dims(getOffsets()), out = dims(getInit());
  int64_t groupsPlusOne =
      ShapedType::isDynamic(w[0]) ? ShapedType::kDynamic : w[0] + 1;
  if (!compatible(rows[1], w[2]) || !compatible(out[0], rows[0]) ||
      !compatible(out[1], w[1]) || !compatible(offsets[0], groupsPlusOne))
    return emitOpError() << "gmm_c2: shapes must be rows [P, D], weights "
                            "[E, N, D], offsets [E + 1] and init [P, N], got "
                         << getRows().getType() << ", "
                         << getWeights().getType() << ", "
                         << getOffsets().getType() << " and "
                         << getInit().getType();
  if (onTensors ? getResult().size() != 1 ||
                      getResult().front().getType() != getInit().getType()
                : !getResult().empty())
    return emitOpError() << "gmm_c3: expected "
                         << (onTensors ? "one result of init's type"
                                       : "no result on memrefs");
  // The kernels tile N and D with static bounds.
  if (ShapedType::isDynamic(w[1]) || ShapedType::isDynamic(w[2]))
    return emitOpError() << "gmm_c4: N and D (the weights' last two dims) "
                            "must be static";
  auto element = [](Value v) {
    return cast<ShapedType>(v.getType()).getElementType();
  };
  bool intRows = element(getRows()).isInteger(8);
  bool intInit = element(getInit()).isInteger(32);
  if (intRows != intInit || (intRows && !element(getWeights()).isInteger(8)))
    return emitOpError() << "gmm_c5: int8 rows go with int8 weights and an "
                            "i32 init, f32 rows with an f32 init, got "
                         << element(getRows()) << ", "
                         << element(getWeights()) << " and "
                         << element(getInit());
  return success();
}

void GroupedMatmulOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  destinationEffects(getOperation(), /*readsInit=*/true, effects);
}

//===----------------------------------------------------------------------===//
// ExpertSortOp
//===----------------------------------------------------------------------===//

LogicalResult ExpertSortOp::verify() {
  bool onTensors = isa<RankedTensorType>(getIndices().getType());
  for (Value v :
       {getIndices(), getOffsetsInit(), getOrderInit(), getPositionInit()}) {
    auto type = cast<ShapedType>(v.getType());
    if (isa<RankedTensorType>(type) != onTensors || !type.hasRank() ||
        type.getRank() != 1)
      return emitOpError() << "sort_c1: indices, offsets, order and position "
                              "must all be rank-1 tensors or all rank-1 "
                              "memrefs, got "
                           << v.getType();
  }
  int64_t experts = getNumExperts();
  auto size = [](Value v) {
    return cast<ShapedType>(v.getType()).getDimSize(0);
  };
  if (experts < 1 || !compatible(size(getOffsetsInit()), experts + 1))
    return emitOpError() << "sort_c2: num_experts must be >= 1 and offsets "
                            "have num_experts + 1 = "
                         << experts + 1 << " elements, got "
                         << getOffsetsInit().getType();
  if (!compatible(size(getOrderInit()), size(getIndices())) ||
      !compatible(size(getPositionInit()), size(getIndices())))
    return emitOpError() << "sort_c2: order and position must have the "
                            "length of indices, got "
                         << getOrderInit().getType() << " and "
                         << getPositionInit().getType() << " for "
                         << getIndices().getType();
  if (onTensors) {
    if (getResults().size() != 3 ||
        getResults()[0].getType() != getOffsetsInit().getType() ||
        getResults()[1].getType() != getOrderInit().getType() ||
        getResults()[2].getType() != getPositionInit().getType())
      return emitOpError() << "sort_c3: expected three results of the inits' "
                              "types";
  } else if (!getResults().empty()) {
    return emitOpError() << "sort_c3: expected no result on memrefs";
  }
  return success();
}

void ExpertSortOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  destinationEffects(getOperation(), /*readsInit=*/false, effects);
}

#define GET_OP_CLASSES
#include "dialect/KernelOps.cpp.inc"

//===----------------------------------------------------------------------===//
// AllReduceOp
//===----------------------------------------------------------------------===//

LogicalResult AllReduceOp::verify() {
  bool onTensors = isa<RankedTensorType>(getInit().getType());
  size_t want = onTensors ? 1 : 0;
  if (getResult().size() != want ||
      (onTensors && getResult().front().getType() != getInit().getType()))
    return emitOpError() << "allreduce_c1: expected " << want
                         << " result(s) of init's type " << getInit().getType();
  return success();
}

void AllReduceOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  destinationEffects(getOperation(), /*readsInit=*/true, effects);
}

//===----------------------------------------------------------------------===//
// Expert-parallel exchanges
//===----------------------------------------------------------------------===//

/// All of `values` ranked tensors or all memrefs, of `want` element types
/// in order; whether on tensors.
static LogicalResult flatOperands(Operation *op, StringRef id,
                                  ArrayRef<Value> values, ArrayRef<Type> want,
                                  bool &onTensors) {
  onTensors = isa<RankedTensorType>(values.front().getType());
  for (auto [v, type] : llvm::zip_equal(values, want)) {
    auto shaped = cast<ShapedType>(v.getType());
    if (isa<RankedTensorType>(shaped) != onTensors || !shaped.hasRank() ||
        shaped.getElementType() != type)
      return op->emitOpError()
             << id << ": expected " << type << " operands, all ranked "
             << "tensors or all memrefs, got " << v.getType();
  }
  return success();
}

LogicalResult ExpertRouteOp::verify() {
  Builder b(getContext());
  bool onTensors;
  if (failed(flatOperands(
          *this, "eroute_c1",
          {getWeights(), getIndices(), getRowWeightsInit(),
           getRowIndicesInit()},
          {b.getF32Type(), b.getI32Type(), b.getF32Type(), b.getI32Type()},
          onTensors)))
    return failure();
  auto shape = [](Value v) { return cast<ShapedType>(v.getType()).getShape(); };
  if (shape(getRowWeightsInit()) != shape(getRowIndicesInit()) ||
      getNumExperts() < 1 || getTopK() < 1)
    return emitOpError() << "eroute_c2: the inits must have the same shape "
                            "and top_k, num_experts be >= 1";
  size_t want = onTensors ? 2 : 0;
  if (getResults().size() != want ||
      (onTensors &&
       (getResults()[0].getType() != getRowWeightsInit().getType() ||
        getResults()[1].getType() != getRowIndicesInit().getType())))
    return emitOpError() << "eroute_c3: expected " << want
                         << " result(s) of the inits' types";
  return success();
}

void ExpertRouteOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  destinationEffects(getOperation(), /*readsInit=*/false, effects);
}

LogicalResult ExpertExchangeOp::verify() {
  Builder b(getContext());
  bool onTensors;
  if (failed(flatOperands(
          *this, "eexch_c1",
          {getInput(), getRowIndices(), getIndices(), getInit()},
          {b.getF32Type(), b.getI32Type(), b.getI32Type(), b.getF32Type()},
          onTensors)))
    return failure();
  if (getWidth() < 1 || getTopK() < 1 || getNumExperts() < 1)
    return emitOpError() << "eexch_c2: width, top_k and num_experts must be "
                            ">= 1";
  size_t want = onTensors ? 1 : 0;
  if (getResult().size() != want ||
      (onTensors && getResult().front().getType() != getInit().getType()))
    return emitOpError() << "eexch_c3: expected " << want
                         << " result(s) of init's type";
  return success();
}

void ExpertExchangeOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  destinationEffects(getOperation(), /*readsInit=*/false, effects);
}

//===- QuantizeWeights.cpp - int8 weights with per-channel scales -*- C++ -*-=//
//
// Post-training quantization's compiler half: the chosen matrix products
// become their quantized forms, whose int8 weights and f32 scales are
// parameters the runtime fills (quantizing float checkpoints as they load,
// or loading quantized ones). Runs after sharding, so a rank's scales are
// those of its own rows.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"
#include "passes/Passes.h"
#include "passes/ProductWeights.h"

#include "mlir/IR/Builders.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAQUANTIZE
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// The scales' parameter name: `q_proj.weight` -> `q_proj.weight_scale`,
/// as compressed-tensors checkpoints name them.
std::string scaleName(StringRef weight) { return (weight + "_scale").str(); }

/// The row sums' parameter name: `q_proj.weight` -> `q_proj.weight_row_sums`.
/// The runtime computes it; no checkpoint holds it.
std::string rowSumsName(StringRef weight) {
  return (weight + "_row_sums").str();
}
/// The calibrated activation parameters of the products reading `weight`:
/// `q_proj.weight` -> `q_proj.input_scale`, as compressed-tensors name
/// them (`experts.gate_proj` -> `experts.gate_proj.input_scale`).
std::string activationName(StringRef weight, StringRef what) {
  weight.consume_back(".weight");
  return (weight + "." + what).str();
}

/// The scales of a weight [.., out, in]: one per output channel (of each
/// expert, for the experts' stacked [E, out, in] weights).
RankedTensorType scaleType(Type weight) {
  auto w = cast<RankedTensorType>(weight);
  return RankedTensorType::get(w.getShape().drop_back(),
                               Float32Type::get(weight.getContext()));
}

/// The row sums of a weight [.., out, in]: one i32 per output channel.
RankedTensorType rowSumsType(Type weight) {
  auto w = cast<RankedTensorType>(weight);
  return RankedTensorType::get(w.getShape().drop_back(),
                               IntegerType::get(weight.getContext(), 32));
}

/// The activation parameters of a weight: per tensor ([1]) for a linear's
/// [out, in], per expert ([E]) for the experts' [E, out, in].
RankedTensorType activationType(Type weight) {
  auto w = cast<RankedTensorType>(weight);
  int64_t n = w.getRank() == 3 ? w.getDimSize(0) : 1;
  return RankedTensorType::get({n}, Float32Type::get(weight.getContext()));
}

/// Whether `w` is read as some experts' up projection: gate and up read
/// the same rows, which are quantized once, with gate's parameters.
bool isUpProjection(Value w, const ProductWeights &weights) {
  for (OpOperand &use : w.getUses()) {
    Operation *user = use.getOwner();
    if (auto experts = dyn_cast<MoEExpertsOp>(user))
      if (experts.getUpProj() == w)
        return true;
    if (auto call = dyn_cast<func::CallOp>(user)) {
      auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
          call, call.getCalleeAttr());
      if (callee && !callee.isExternal() &&
          isUpProjection(callee.getArgument(use.getOperandNumber()), weights))
        return true;
    }
  }
  return false;
}

/// What a quantized weight brings along: its scales and, under the static
/// scheme, the calibrated scale and zero point of the activations its
/// products read (none for an up projection: gate's are used) and its
/// rows' sums.
struct QuantParams {
  Value scale, inputScale, inputZeroPoint, rowSums;
  SmallVector<Value, 4> values() const {
    SmallVector<Value, 4> out{scale};
    if (inputScale)
      out.append({inputScale, inputZeroPoint});
    if (rowSums)
      out.push_back(rowSums);
    return out;
  }
};

class Quantizer {
public:
  Quantizer(ModuleOp module, const ProductWeights &weights,
            QuantScheme scheme)
      : module(module), weights(weights), scheme(scheme) {}
  LogicalResult run();

private:
  bool hasActivationParams(Value w) const {
    return scheme == QuantScheme::W8A8 && !isUpProjection(w, weights);
  }
  /// The parameters of chosen weight `w`: parameters next to a weight
  /// parameter, the arguments added beside a weight argument.
  const QuantParams &paramsOf(Value w);
  void rewriteProduct(Operation *op);
  LogicalResult rewriteExperts(MoEExpertsOp op);

  ModuleOp module;
  const ProductWeights &weights;
  QuantScheme scheme;
  llvm::DenseMap<Value, QuantParams> params;
};

const QuantParams &Quantizer::paramsOf(Value w) {
  auto it = params.find(w);
  if (it != params.end())
    return it->second;
  auto param = w.getDefiningOp<ParamOp>();
  assert(param && "a chosen argument's parameters are added up front");
  OpBuilder b(param);
  b.setInsertionPointAfter(param);
  auto create = [&](Type type, StringRef name, InitKind init) -> Value {
    return ParamOp::create(b, param.getLoc(), type, b.getStringAttr(name),
                           InitKindAttr::get(b.getContext(), init),
                           b.getF64FloatAttr(0.0), StringAttr(), StringAttr(),
                           StringAttr(), StringAttr());
  };
  QuantParams out;
  std::string name = scaleName(param.getName());
  out.scale = create(scaleType(w.getType()), name, InitKind::Ones);
  param.setScaleAttr(b.getStringAttr(name));
  if (hasActivationParams(w)) {
    std::string s = activationName(param.getName(), "input_scale");
    std::string z = activationName(param.getName(), "input_zero_point");
    // Until calibrated: scale 1, zero point 0 (the runtime refuses to run
    // them uncalibrated).
    out.inputScale = create(activationType(w.getType()), s, InitKind::Ones);
    out.inputZeroPoint =
        create(activationType(w.getType()), z, InitKind::Zeros);
    param.setInputScaleAttr(b.getStringAttr(s));
    param.setInputZeroPointAttr(b.getStringAttr(z));
  }
  if (scheme == QuantScheme::W8A8) {
    std::string name = rowSumsName(param.getName());
    out.rowSums = create(rowSumsType(w.getType()), name, InitKind::Zeros);
    param.setRowSumsAttr(b.getStringAttr(name));
  }
  return params[w] = out;
}

void Quantizer::rewriteProduct(Operation *op) {
  OpBuilder b(op);
  Value x = op->getOperand(0), w = op->getOperand(1), bias;
  if (auto linear = dyn_cast<LinearOp>(op))
    bias = linear.getBias();
  const QuantParams &p = paramsOf(w);
  auto q = QuantizedLinearOp::create(
      b, op->getLoc(), x, w, p.scale, bias, p.inputScale, p.inputZeroPoint,
      p.rowSums, QuantSchemeAttr::get(b.getContext(), scheme));
  op->getResult(0).replaceAllUsesWith(q.getResult());
  op->erase();
}

LogicalResult Quantizer::rewriteExperts(MoEExpertsOp op) {
  Value gate = op.getGateProj(), up = op.getUpProj(), down = op.getDownProj();
  int chosen = weights.isChosen(gate) + weights.isChosen(up) +
               weights.isChosen(down);
  if (chosen == 0)
    return success();
  if (chosen != 3)
    return op.emitOpError("reads int8 and float expert weights; "
                          "strata-quantize quantizes all three or none");
  OpBuilder b(op);
  QuantParams g = paramsOf(gate), u = paramsOf(up), d = paramsOf(down);
  auto q = QuantizedMoEExpertsOp::create(
      b, op.getLoc(), op.getInput(), op.getWeights(), op.getIndices(), gate, up,
      down, g.scale, u.scale, d.scale, g.inputScale, g.inputZeroPoint,
      d.inputScale, d.inputZeroPoint, g.rowSums, u.rowSums, d.rowSums,
      op.getNumExpertsAttr(), op.getTopKAttr(),
      QuantSchemeAttr::get(b.getContext(), scheme));
  op.getResult().replaceAllUsesWith(q.getResult());
  op.erase();
  return success();
}

LogicalResult Quantizer::run() {
  MLIRContext *ctx = module.getContext();
  auto i8 = IntegerType::get(ctx, 8);
  auto toInt8 = [&](Value v) {
    v.setType(cast<RankedTensorType>(v.getType()).clone(i8));
  };
  // Each chosen argument gets arguments for its parameters, appended so
  // that the chosen positions stay valid.
  llvm::SetVector<Operation *> retyped;
  for (auto [op, i] : weights.arguments()) {
    auto f = cast<func::FuncOp>(op);
    BlockArgument a = f.getArgument(i);
    auto append = [&](Type type) -> Value {
      (void)f.insertArgument(f.getNumArguments(), type, {}, a.getLoc());
      return f.getArgument(f.getNumArguments() - 1);
    };
    QuantParams p;
    p.scale = append(scaleType(a.getType()));
    if (hasActivationParams(a)) {
      p.inputScale = append(activationType(a.getType()));
      p.inputZeroPoint = append(activationType(a.getType()));
    }
    if (scheme == QuantScheme::W8A8)
      p.rowSums = append(rowSumsType(a.getType()));
    params[a] = p;
    retyped.insert(f);
  }
  // Calls pass the parameters of what they pass, in the same order.
  for (Operation *op : retyped) {
    auto f = cast<func::FuncOp>(op);
    for (func::CallOp call : weights.callsOf(f)) {
      SmallVector<Value> extra;
      for (auto [g, i] : weights.arguments())
        if (g == op)
          llvm::append_range(extra, paramsOf(call.getOperand(i)).values());
      call->insertOperands(call->getNumOperands(), extra);
    }
  }
  SmallVector<Operation *> products;
  SmallVector<MoEExpertsOp> experts;
  module.walk([&](Operation *op) {
    if (isa<LinearOp, LMHeadOp>(op) && weights.isChosen(op->getOperand(1)))
      products.push_back(op);
    if (auto e = dyn_cast<MoEExpertsOp>(op))
      experts.push_back(e);
  });
  for (Operation *op : products)
    rewriteProduct(op);
  for (MoEExpertsOp op : experts)
    if (failed(rewriteExperts(op)))
      return failure();
  for (auto [op, i] : weights.arguments())
    toInt8(cast<func::FuncOp>(op).getArgument(i));
  module.walk([&](ParamOp p) {
    if (weights.names().contains(p.getName()))
      toInt8(p.getResult());
  });
  for (Operation *f : retyped)
    syncFunctionType(cast<func::FuncOp>(f));
  return success();
}

struct StrataQuantizePass
    : public mlir::strata::impl::StrataQuantizeBase<StrataQuantizePass> {
  using StrataQuantizeBase::StrataQuantizeBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::optional<QuantScheme> parsed = symbolizeQuantScheme(scheme);
    if (scheme == "none")
      return;
    if (!parsed) {
      module.emitError() << "strata-quantize: scheme must be w8a16, "
                            "w8a8_dynamic, w8a8 or none, got '"
                         << scheme << "'";
      return signalPassFailure();
    }
    bool withLmHead = lmHead;
    auto quantizable = [&](OpOperand &use) {
      Operation *op = use.getOwner();
      if (auto experts = dyn_cast<MoEExpertsOp>(op))
        return use.get() == experts.getGateProj() ||
               use.get() == experts.getUpProj() ||
               use.get() == experts.getDownProj();
      if (use.getOperandNumber() != 1)
        return false;
      if (isa<LinearOp>(op))
        return !isRouterGate(op);
      return withLmHead && isa<LMHeadOp>(op);
    };
    ProductWeights weights(module, quantizable);
    weights.solve();
    if (failed(Quantizer(module, weights, *parsed).run()))
      signalPassFailure();
  }
};

} // namespace

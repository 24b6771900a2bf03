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

/// The scales of a weight [.., out, in]: one per output channel (of each
/// expert, for the experts' stacked [E, out, in] weights).
RankedTensorType scaleType(Type weight) {
  auto w = cast<RankedTensorType>(weight);
  return RankedTensorType::get(w.getShape().drop_back(),
                               Float32Type::get(weight.getContext()));
}

class Quantizer {
public:
  Quantizer(ModuleOp module, const ProductWeights &weights,
            QuantScheme scheme)
      : module(module), weights(weights), scheme(scheme) {}
  LogicalResult run();

private:
  /// The scales of chosen weight `w`: a scale parameter next to a weight
  /// parameter, the scale argument added beside a weight argument.
  Value scalesOf(Value w);
  void rewriteProduct(Operation *op);
  LogicalResult rewriteExperts(MoEExpertsOp op);

  ModuleOp module;
  const ProductWeights &weights;
  QuantScheme scheme;
  llvm::DenseMap<Value, Value> scales;
};

Value Quantizer::scalesOf(Value w) {
  auto it = scales.find(w);
  if (it != scales.end())
    return it->second;
  auto param = w.getDefiningOp<ParamOp>();
  assert(param && "a chosen argument's scales are added up front");
  OpBuilder b(param);
  b.setInsertionPointAfter(param);
  std::string name = scaleName(param.getName());
  auto s = ParamOp::create(b, param.getLoc(), scaleType(w.getType()),
                           b.getStringAttr(name),
                           InitKindAttr::get(b.getContext(), InitKind::Ones),
                           b.getF64FloatAttr(0.0), StringAttr());
  param.setScaleAttr(b.getStringAttr(name));
  return scales[w] = s.getResult();
}

void Quantizer::rewriteProduct(Operation *op) {
  OpBuilder b(op);
  Value x = op->getOperand(0), w = op->getOperand(1), bias;
  if (auto linear = dyn_cast<LinearOp>(op))
    bias = linear.getBias();
  auto q = QuantizedLinearOp::create(
      b, op->getLoc(), x, w, scalesOf(w), bias,
      QuantSchemeAttr::get(b.getContext(), scheme));
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
  auto q = QuantizedMoEExpertsOp::create(
      b, op.getLoc(), op.getInput(), op.getWeights(), op.getIndices(), gate,
      up, down, scalesOf(gate), scalesOf(up), scalesOf(down),
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
  // Each chosen argument gets a scale argument of its own, appended so
  // that the chosen positions stay valid.
  llvm::SetVector<Operation *> retyped;
  for (auto [op, i] : weights.arguments()) {
    auto f = cast<func::FuncOp>(op);
    BlockArgument a = f.getArgument(i);
    (void)f.insertArgument(f.getNumArguments(), scaleType(a.getType()), {},
                           a.getLoc());
    scales[a] = f.getArgument(f.getNumArguments() - 1);
    retyped.insert(f);
  }
  // Calls pass the scales of what they pass, in the same order.
  for (Operation *op : retyped) {
    auto f = cast<func::FuncOp>(op);
    for (func::CallOp call : weights.callsOf(f)) {
      SmallVector<Value> extra;
      for (auto [g, i] : weights.arguments())
        if (g == op)
          extra.push_back(scalesOf(call.getOperand(i)));
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
                            "w8a8_dynamic or none, got '"
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

//===- Autodiff.cpp - reverse-mode differentiation of a loss -----*- C++ -*-===//
//
// The backward of a function is built after a clone of its forward, op by
// op in reverse, from StrataGradientOpInterface rules. Layer bodies are
// differentiated once each into <body>_vjp functions that recompute the
// body's forward: the step keeps only the layers' inputs alive between the
// forward and the backward.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAAUTODIFF
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

bool isFloatTensor(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t && isa<FloatType>(t.getElementType());
}

/// A tensor of zeros shaped like `like`.
Value zerosLike(OpBuilder &b, Location loc, Value like) {
  auto type = cast<RankedTensorType>(like.getType());
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, like);
  Value empty = tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
  Value zero = arith::ConstantOp::create(
      b, loc, b.getFloatAttr(type.getElementType(), 0.0));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// x + y for static i32 tensors (counts), as a linalg.generic (which every
/// target lowers, the CUDA one to a one-thread kernel for 0-d counts).
Value addCounts(OpBuilder &b, Location loc, Value x, Value y) {
  if (!x)
    return y;
  auto type = cast<RankedTensorType>(x.getType());
  Value init =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  AffineMap map = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> parallel(type.getRank(),
                                            utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{x, y}, ValueRange{init},
             ArrayRef<AffineMap>{map, map, map}, parallel,
             [](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{arith::AddIOp::create(nb, nl, args[0], args[1])});
             })
      .getResult(0);
}

/// Whether `op` draws from the training generator (it then takes the
/// step's number and a salt): dropout, attention dropout, router noise.
bool drawsRandom(Operation *op) {
  if (auto d = dyn_cast<DropoutOp>(op))
    return d.getP().convertToDouble() > 0;
  if (auto a = dyn_cast<AttentionOp>(op))
    return a.getDropout().convertToDouble() > 0;
  if (auto r = dyn_cast<RouterOp>(op))
    return r.getNoiseStd().convertToDouble() > 0;
  return false;
}

/// A router whose selection bias DeepSeek-V3's aux-loss-free balancing
/// moves after each step.
bool balancesByBias(RouterOp r) {
  return r.getBias() && r.getBalance() == BalanceKind::BiasUpdate &&
         r.getBiasUpdateRate().convertToDouble() > 0;
}

/// A pipeline stage's function before the last (strata-pipeline): it
/// returns activations for the next stage, whose gradients seed its
/// backward, instead of a loss.
bool isStageBeforeLoss(func::FuncOp f) {
  if (!f->hasAttr("strata.stage"))
    return false;
  for (unsigned i = 0; i < f.getNumResults(); ++i)
    if (auto role = f.getResultAttrOfType<StringAttr>(i, "strata.result");
        role && role.getValue() == "boundary")
      return true;
  return false;
}

class Differentiator {
public:
  /// `inlineBodies`: differentiate through the layer bodies' ops in the
  /// step's own forward (no recomputation, every activation kept) instead
  /// of calling `_vjp` functions that recompute each layer.
  /// `scaledLoss`: `<name>_grad` takes the loss scale as its last argument
  /// and starts the backward from it (dynamic loss scaling).
  Differentiator(ModuleOp module, bool inlineBodies, bool scaledLoss)
      : module(module), symbols(module), inlineBodies(inlineBodies),
        scaledLoss(scaledLoss) {}

  /// Adds `<name>_grad` for the loss function `func`.
  LogicalResult differentiateLoss(func::FuncOp func);

private:
  /// Whether `f` (or a function it calls) behaves differently in training:
  /// draws random numbers (dropout with p > 0, attention with dropout, a
  /// router with noise_std > 0; then the step needs the step's number), limits
  /// expert capacity (moe_experts with capacity_factor > 0) or balances
  /// load by a selection bias (a router with balance = bias_update).
  bool isStochastic(func::FuncOp f);
  /// `<f>_train`: `f` with the step's number as a last argument, given to
  /// its dropout ops and noisy routers (each with its own salt) and to the
  /// `_train` variants of the stochastic functions it calls; its
  /// moe_experts with a capacity factor get their weights through
  /// strata.expert_capacity; its bias-balanced routers' loads are
  /// counted. What it returns besides f's results is in `extras`.
  func::FuncOp trainingVariant(func::FuncOp f);

  /// What a training variant returns after its function's results: the
  /// number of dropped assignments (0-d i32) when it limits capacity, then
  /// one expert load ([E] i32) per balanced selection bias, which is the
  /// variant's argument `argument` or the parameter named `param`.
  struct BiasLoad {
    int argument = -1;
    StringAttr param;
  };
  struct VariantExtras {
    bool dropped = false;
    SmallVector<BiasLoad> loads;
  };
  /// The owner of the selection bias `bias` in `variant`: one of its
  /// arguments or a parameter; nullopt for a computed bias (not updated).
  static std::optional<BiasLoad> biasOwner(func::FuncOp variant, Value bias);
  /// Builds `name` = the loss and gradients of `func`, whose arguments it
  /// takes.
  LogicalResult buildGradient(func::FuncOp func, StringRef name,
                              func::FuncOp visibleAs);

private:
  /// Gradients of values, accumulated as uses are visited.
  using Gradients = llvm::DenseMap<Value, Value>;

  /// Clones `source`'s body into `target` (arguments mapped by `mapping`)
  /// and appends the backward of the clone given the gradients of the
  /// returned values; returns the clone's returned values.
  LogicalResult buildBackward(func::FuncOp source, OpBuilder &b,
                              IRMapping &mapping, ValueRange seeds,
                              SmallVectorImpl<Value> &returned,
                              Gradients &grads);
  LogicalResult backwardOf(Operation *op, OpBuilder &b, Gradients &grads);
  void accumulate(OpBuilder &b, Location loc, Gradients &grads, Value value,
                  Value grad);
  /// `<callee>_vjp`, made on first use.
  FailureOr<func::FuncOp> vjpOf(func::FuncOp callee);

  /// Clones `body` (its arguments mapped by `mapping`) at `b`, appending
  /// the clones to `forward` and the returned values to `returned`; with
  /// inlineBodies, calls of defined functions are cloned through.
  void cloneForward(Block &body, OpBuilder &b, IRMapping &mapping,
                    SmallVectorImpl<Operation *> &forward,
                    SmallVectorImpl<Value> &returned);

  ModuleOp module;
  SymbolTable symbols;
  bool inlineBodies;
  bool scaledLoss;
  /// Whether `loss`'s gradient takes the loss scale: with dynamic loss
  /// scaling, and for a loss strata-expert-parallel marked (the runtime
  /// seeds it with its labelled tokens: the gradient of the summed loss).
  bool seededByScale(func::FuncOp loss) const {
    return scaledLoss || loss->hasAttr("strata.seeded_loss");
  }
  llvm::DenseMap<Operation *, func::FuncOp> vjps;
  llvm::DenseMap<Operation *, bool> stochastic;
  llvm::DenseMap<Operation *, func::FuncOp> trainVariants;
  llvm::DenseMap<Operation *, VariantExtras> extras;
  int64_t nextSalt = 1;
  /// Salts by "<body>#<n>" (its n-th random op), shared with its clones.
  llvm::StringMap<int64_t> salts;
};

bool Differentiator::isStochastic(func::FuncOp f) {
  auto [it, inserted] = stochastic.try_emplace(f, false);
  if (!inserted)
    return it->second;
  bool found = false;
  f.walk([&](Operation *op) {
    found |= drawsRandom(op);
    if (auto r = dyn_cast<RouterOp>(op))
      found |= balancesByBias(r);
    if (auto m = dyn_cast<MoEExpertsOp>(op))
      found |= m.getCapacityFactor().convertToDouble() > 0;
    if (auto call = dyn_cast<func::CallOp>(op))
      if (auto callee = symbols.lookup<func::FuncOp>(call.getCallee()))
        found |= !callee.isExternal() && isStochastic(callee);
  });
  stochastic[f] = found;
  return found;
}

func::FuncOp Differentiator::trainingVariant(func::FuncOp f) {
  if (func::FuncOp known = trainVariants.lookup(f))
    return known;
  OpBuilder b(module.getContext());
  auto variant = cast<func::FuncOp>(f->clone());
  variant.setName((f.getName() + "_train").str());
  variant.setPrivate();
  auto stepType = RankedTensorType::get({}, b.getI32Type());
  (void)variant.insertArgument(variant.getNumArguments(), stepType, {},
                               f.getLoc());
  module.getBody()->getOperations().insertAfter(f->getIterator(), variant);
  symbols.insert(variant);
  trainVariants[f] = variant;
  Value step = variant.getArguments().back();
  SmallVector<func::CallOp> calls;
  SmallVector<MoEExpertsOp> capped;
  SmallVector<RouterOp> balanced;
  // A partitioned program's clone of a body (stage0.<body>, or tp.<body>
  // for pipeline stages) draws what the body draws: its random ops, in the
  // same order, take the same salts.
  StringRef original = f.getName();
  if (!original.consume_front("stage0."))
    original.consume_front("tp.");
  int64_t ordinal = 0;
  variant.walk([&](Operation *op) {
    if (drawsRandom(op)) {
      auto give = [&](auto drawing) {
        drawing.getStepMutable().assign(step);
        auto [salt, fresh] = salts.try_emplace(
            (original + "#" + llvm::Twine(ordinal++)).str(), nextSalt);
        nextSalt += fresh;
        drawing.setSalt(static_cast<uint64_t>(salt->second));
      };
      if (auto d = dyn_cast<DropoutOp>(op))
        give(d);
      else if (auto a = dyn_cast<AttentionOp>(op))
        give(a);
      else
        give(cast<RouterOp>(op));
    }
    if (auto r = dyn_cast<RouterOp>(op); r && balancesByBias(r))
      balanced.push_back(r);
    if (auto m = dyn_cast<MoEExpertsOp>(op);
        m && m.getCapacityFactor().convertToDouble() > 0)
      capped.push_back(m);
    if (auto call = dyn_cast<func::CallOp>(op))
      calls.push_back(call);
  });
  // Training's capacity limit: the experts see the kept assignments'
  // weights only (dropped ones weigh zero and get no gradient).
  // Dropped assignments are counted: the variant returns their number
  // (0-d i32) after its own results, summed over what it calls.
  auto ret = cast<func::ReturnOp>(variant.front().getTerminator());
  SmallVector<Value> counts;
  for (MoEExpertsOp m : capped) {
    b.setInsertionPoint(m);
    auto limit = ExpertCapacityOp::create(b, m.getLoc(), m.getWeights(),
                                          m.getIndices(), m.getNumExpertsAttr(),
                                          m.getCapacityFactorAttr());
    m.getWeightsMutable().assign(limit.getKept());
    counts.push_back(limit.getDropped());
  }
  // Balanced loads, summed per bias (keyed by argument or parameter name).
  llvm::MapVector<std::pair<int, Attribute>, Value> loads;
  auto addLoad = [&](std::optional<BiasLoad> owner, Value load) {
    if (!owner)
      return;
    Value &slot = loads[{owner->argument, owner->param}];
    b.setInsertionPoint(ret);
    slot = slot ? addCounts(b, ret.getLoc(), slot, load) : load;
  };
  for (RouterOp r : balanced) {
    b.setInsertionPointAfter(r);
    Value load = ExpertLoadOp::create(b, r.getLoc(), r.getIndices(),
                                      r.getNumExpertsAttr());
    addLoad(biasOwner(variant, r.getBias()), load);
  }
  for (func::CallOp call : calls) {
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    if (!callee || callee.isExternal() || !isStochastic(callee))
      continue;
    func::FuncOp train = trainingVariant(callee);
    const VariantExtras &inner = extras[train];
    b.setInsertionPoint(call);
    SmallVector<Value> operands(call.getOperands());
    operands.push_back(step);
    auto replacement = func::CallOp::create(b, call.getLoc(), train, operands);
    call.replaceAllUsesWith(
        replacement.getResults().take_front(call.getNumResults()));
    unsigned next = call.getNumResults();
    if (inner.dropped)
      counts.push_back(replacement.getResult(next++));
    for (const BiasLoad &load : inner.loads) {
      Value result = replacement.getResult(next++);
      addLoad(load.argument >= 0
                  ? biasOwner(variant, call.getOperand(load.argument))
                  : load,
              result);
    }
    call.erase();
  }
  VariantExtras mine;
  b.setInsertionPoint(ret);
  if (!counts.empty()) {
    Value total;
    for (Value c : counts)
      total = addCounts(b, ret.getLoc(), total, c);
    ret.getOperandsMutable().append(total);
    mine.dropped = true;
  }
  for (auto &[key, load] : loads) {
    ret.getOperandsMutable().append(load);
    mine.loads.push_back(
        {key.first, llvm::cast_if_present<StringAttr>(key.second)});
  }
  variant.setType(
      b.getFunctionType(variant.getArgumentTypes(), ret.getOperandTypes()));
  // Result attributes (a pipeline stage's roles) cover f's own results;
  // the counts after them have none.
  if (ArrayAttr roles = variant.getResAttrsAttr();
      roles && roles.size() != variant.getNumResults()) {
    SmallVector<DictionaryAttr> all;
    for (unsigned i = 0; i < variant.getNumResults(); ++i)
      all.push_back(i < roles.size() ? cast<DictionaryAttr>(roles[i])
                                     : b.getDictionaryAttr({}));
    variant.setAllResultAttrs(all);
  }
  extras[variant] = std::move(mine);
  return variant;
}

std::optional<Differentiator::BiasLoad>
Differentiator::biasOwner(func::FuncOp variant, Value bias) {
  if (auto arg = dyn_cast<BlockArgument>(bias);
      arg && arg.getOwner() == &variant.front())
    return BiasLoad{static_cast<int>(arg.getArgNumber()), StringAttr()};
  if (auto param = bias.getDefiningOp<ParamOp>())
    return BiasLoad{-1, param.getNameAttr()};
  return std::nullopt;
}

void Differentiator::accumulate(OpBuilder &b, Location loc, Gradients &grads,
                                Value value, Value grad) {
  if (!grad || !isFloatTensor(value.getType()))
    return;
  Value &slot = grads[value];
  slot = slot ? AddOp::create(b, loc, slot, grad).getResult() : grad;
}

LogicalResult Differentiator::backwardOf(Operation *op, OpBuilder &b,
                                         Gradients &grads) {
  // Leaves (parameters, constants): their gradients are read by the caller.
  if (op->getNumOperands() == 0)
    return success();
  SmallVector<Value> resultGrads;
  bool any = false;
  for (Value r : op->getResults()) {
    resultGrads.push_back(grads.lookup(r));
    any |= static_cast<bool>(resultGrads.back());
  }
  if (!any)
    return success();
  // Results without a gradient take zeros: a rule sees every result's.
  for (auto [r, g] : llvm::zip(op->getResults(), resultGrads))
    if (!g && isFloatTensor(r.getType()))
      g = zerosLike(b, op->getLoc(), r);

  SmallVector<Value> operandGrads;
  if (auto call = dyn_cast<func::CallOp>(op)) {
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    FailureOr<func::FuncOp> vjp =
        callee ? vjpOf(callee) : FailureOr<func::FuncOp>(failure());
    if (failed(vjp))
      return call.emitOpError("cannot be differentiated");
    SmallVector<Value> args(call.getOperands());
    for (auto [r, g] : llvm::zip(op->getResults(), resultGrads))
      if (isFloatTensor(r.getType()))
        args.push_back(g);
    auto vjpCall = func::CallOp::create(b, op->getLoc(), *vjp, args);
    unsigned next = 0;
    for (Value operand : call.getOperands())
      operandGrads.push_back(isFloatTensor(operand.getType())
                                 ? vjpCall.getResult(next++)
                                 : Value());
  } else if (isa<shard::AllReduceOp>(op)) {
    // A row-parallel product's sum over the tensor-parallel ranks
    // (Megatron's g): every rank's result, hence its gradient, is the same,
    // and each rank's partial product takes it whole.
    operandGrads.push_back(resultGrads.front());
  } else if (auto rule = dyn_cast<StrataGradientOpInterface>(op)) {
    if (failed(rule.buildVJP(b, resultGrads, operandGrads)))
      return failure();
  } else {
    return op->emitOpError("has no gradient rule (StrataGradientOpInterface); "
                           "strata-autodiff cannot differentiate through it");
  }
  for (auto [operand, grad] : llvm::zip(op->getOperands(), operandGrads))
    accumulate(b, op->getLoc(), grads, operand, grad);
  return success();
}

LogicalResult Differentiator::buildBackward(func::FuncOp source, OpBuilder &b,
                                            IRMapping &mapping,
                                            ValueRange seeds,
                                            SmallVectorImpl<Value> &returned,
                                            Gradients &grads) {
  if (!llvm::hasSingleElement(source.getBody()))
    return source.emitOpError("has control flow; strata-autodiff "
                              "differentiates straight-line functions");
  SmallVector<Operation *> forward;
  cloneForward(source.front(), b, mapping, forward, returned);
  for (auto [value, seed] : llvm::zip(returned, seeds))
    accumulate(b, source.getLoc(), grads, value, seed);
  for (Operation *op : llvm::reverse(forward))
    if (failed(backwardOf(op, b, grads)))
      return failure();
  return success();
}

void Differentiator::cloneForward(Block &body, OpBuilder &b, IRMapping &mapping,
                                  SmallVectorImpl<Operation *> &forward,
                                  SmallVectorImpl<Value> &returned) {
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        returned.push_back(mapping.lookupOrDefault(v));
      continue;
    }
    auto call = dyn_cast<func::CallOp>(op);
    auto callee =
        call ? symbols.lookup<func::FuncOp>(call.getCallee()) : func::FuncOp();
    if (!inlineBodies || !callee || callee.isExternal() ||
        !llvm::hasSingleElement(callee.getBody())) {
      forward.push_back(b.clone(op, mapping));
      continue;
    }
    IRMapping inner;
    for (auto [arg, operand] :
         llvm::zip(callee.getArguments(), call.getOperands()))
      inner.map(arg, mapping.lookupOrDefault(operand));
    SmallVector<Value> results;
    cloneForward(callee.front(), b, inner, forward, results);
    for (auto [r, v] : llvm::zip(call.getResults(), results))
      mapping.map(r, v);
  }
}

FailureOr<func::FuncOp> Differentiator::vjpOf(func::FuncOp callee) {
  if (func::FuncOp known = vjps.lookup(callee))
    return known;
  if (callee.isExternal())
    return failure();
  FunctionType type = callee.getFunctionType();
  SmallVector<Type> inputs(type.getInputs()), outputs;
  for (Type t : type.getResults())
    if (isFloatTensor(t))
      inputs.push_back(t);
  for (Type t : type.getInputs())
    if (isFloatTensor(t))
      outputs.push_back(t);
  OpBuilder top(module.getBodyRegion());
  top.setInsertionPointAfter(callee);
  auto vjp = func::FuncOp::create(top, callee.getLoc(),
                                  (callee.getName() + "_vjp").str(),
                                  top.getFunctionType(inputs, outputs));
  vjp.setPrivate();
  symbols.insert(vjp);
  vjps[callee] = vjp;

  Block *entry = vjp.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockEnd(entry);
  IRMapping mapping;
  unsigned numArgs = type.getNumInputs();
  for (unsigned i = 0; i < numArgs; ++i)
    mapping.map(callee.getArgument(i), entry->getArgument(i));
  SmallVector<Value> seeds;
  unsigned next = numArgs;
  for (Type t : type.getResults())
    seeds.push_back(isFloatTensor(t) ? entry->getArgument(next++) : Value());
  SmallVector<Value> returned;
  Gradients grads;
  if (failed(buildBackward(callee, b, mapping, seeds, returned, grads)))
    return failure();
  SmallVector<Value> results;
  for (unsigned i = 0; i < numArgs; ++i) {
    Value arg = entry->getArgument(i);
    if (!isFloatTensor(arg.getType()))
      continue;
    Value g = grads.lookup(arg);
    results.push_back(g ? g : zerosLike(b, callee.getLoc(), arg));
  }
  func::ReturnOp::create(b, callee.getLoc(), results);
  return vjp;
}

LogicalResult Differentiator::differentiateLoss(func::FuncOp func) {
  FunctionType type = func.getFunctionType();
  bool stage = isStageBeforeLoss(func);
  auto loss = type.getNumResults() == 1
                  ? dyn_cast<RankedTensorType>(type.getResult(0))
                  : RankedTensorType();
  if (!stage &&
      (!loss || loss.getRank() != 0 || !loss.getElementType().isF32()))
    return func.emitOpError("must return one 0-d f32 tensor (a loss) to be "
                            "differentiated");
  std::string name = (func.getName() + "_grad").str();
  if (!isStochastic(func)) {
    if (failed(buildGradient(func, name, func)))
      return failure();
    // A stage before the loss runs its forward on its own first.
    if (stage)
      (void)symbols.rename(func, (func.getName() + "_forward").str());
    return success();
  }
  // The gradient of the training variant, which takes the step's number
  // last; the variant itself is only the template of its forward.
  func::FuncOp variant = trainingVariant(func);
  for (const BiasLoad &load : extras[variant].loads)
    if (!load.param)
      return func.emitOpError("feeds its argument ")
             << load.argument
             << " to a router as the selection bias that bias_update "
                "balancing moves; the bias must be a parameter "
                "(strata.param)";
  LogicalResult built = buildGradient(variant, name, func);
  if (succeeded(built)) {
    auto grad = symbols.lookup<func::FuncOp>(name);
    // The variant's last argument; the loss scale may follow it.
    grad.setArgAttr(variant.getNumArguments() - 1, "strata.arg",
                    StringAttr::get(module.getContext(), "step"));
    const VariantExtras &extra = extras[variant];
    MLIRContext *ctx = module.getContext();
    unsigned next = func.getNumResults();
    if (extra.dropped) // after the loss (a stage's activations)
      grad.setResultAttr(next++, "strata.result",
                         StringAttr::get(ctx, "dropped_tokens"));
    for (const BiasLoad &load : extra.loads) {
      grad.setResultAttr(next, "strata.result",
                         StringAttr::get(ctx, "expert_load"));
      grad.setResultAttr(next++, "strata.param", load.param);
    }
  }
  extras.erase(variant);
  trainVariants.erase(func);
  if (succeeded(built) && stage) {
    // A stage before the loss runs its training forward on its own first
    // (the step's number drawing its dropout): the variant is that entry
    // point, in the stage function's place.
    std::string forward = (func.getName() + "_forward").str();
    variant.setPublic();
    variant->setAttr("strata.stage", func->getAttr("strata.stage"));
    variant.setArgAttr(variant.getNumArguments() - 1, "strata.arg",
                       StringAttr::get(module.getContext(), "step"));
    symbols.erase(func);
    (void)symbols.rename(variant, forward);
    return success();
  }
  symbols.erase(variant);
  return built;
}

LogicalResult Differentiator::buildGradient(func::FuncOp func, StringRef name,
                                            func::FuncOp visibleAs) {
  FunctionType type = func.getFunctionType();
  bool stage = isStageBeforeLoss(visibleAs);
  SmallVector<ParamOp> params;
  func.walk([&](ParamOp p) { params.push_back(p); });
  // The loss, then what else the function returns (a training variant's
  // count of dropped assignments), then the gradients.
  SmallVector<Type> results(type.getResults());
  for (Type t : type.getInputs())
    if (isFloatTensor(t))
      results.push_back(t);
  for (ParamOp p : params)
    results.push_back(p.getType());
  OpBuilder top(module.getBodyRegion());
  top.setInsertionPointAfter(visibleAs);
  SmallVector<Type> inputs(type.getInputs());
  // A stage before the loss: the gradients of its activations (from the
  // next stage's gradient) seed the backward. The loss: 1, or the scale.
  SmallVector<unsigned> seeded;
  if (stage) {
    for (unsigned i = 0; i < visibleAs.getNumResults(); ++i)
      if (isFloatTensor(type.getResult(i))) {
        seeded.push_back(i);
        inputs.push_back(type.getResult(i));
      }
  } else if (seededByScale(func)) {
    inputs.push_back(type.getResult(0));
  }
  FunctionType gradType = top.getFunctionType(inputs, results);
  // A declaration of <name>_grad (for callers written before the pass
  // runs) is filled in; a definition is an error.
  auto grad = symbols.lookup<func::FuncOp>(name);
  if (grad && (!grad.isExternal() || grad.getFunctionType() != gradType))
    return grad.emitOpError("exists already")
           << (grad.isExternal() ? " with another type; expected " : "")
           << (grad.isExternal() ? gradType : FunctionType());
  if (!grad) {
    grad = func::FuncOp::create(top, func.getLoc(), name, gradType);
    grad.setVisibility(visibleAs.getVisibility());
    symbols.insert(grad);
  }
  // A partitioned program's loss: its gradient is that program's too.
  if (Attribute stage = func->getAttr("strata.stage"))
    grad->setAttr("strata.stage", stage);
  Block *entry = grad.addEntryBlock();
  OpBuilder b = OpBuilder::atBlockEnd(entry);
  IRMapping mapping;
  for (auto [from, to] : llvm::zip(func.getArguments(), entry->getArguments()))
    mapping.map(from, to);
  // d loss / d loss = 1, or the loss scale: every gradient is then
  // multiplied by it.
  SmallVector<Value> seeds;
  if (stage) {
    seeds.assign(type.getNumResults(), Value());
    for (auto [k, result] : llvm::enumerate(seeded)) {
      unsigned arg = func.getNumArguments() + k;
      seeds[result] = entry->getArgument(arg);
      grad.setArgAttr(arg, "strata.arg", b.getStringAttr("boundary_grad"));
      if (auto index = visibleAs.getResultAttr(result, "strata.index"))
        grad.setArgAttr(arg, "strata.index", index);
    }
  } else if (seededByScale(func)) {
    seeds.push_back(entry->getArguments().back());
    grad.setArgAttr(entry->getNumArguments() - 1, "strata.arg",
                    b.getStringAttr("loss_scale"));
  } else {
    seeds.push_back(arith::ConstantOp::create(
        b, func.getLoc(),
        DenseElementsAttr::get(cast<RankedTensorType>(type.getResult(0)),
                               b.getF32FloatAttr(1.0f))));
  }
  // A stage's arguments and results keep saying what they are.
  for (unsigned i = 0; i < visibleAs.getNumArguments(); ++i)
    if (DictionaryAttr roles = visibleAs.getArgAttrDict(i))
      for (NamedAttribute a : roles)
        grad.setArgAttr(i, a.getName(), a.getValue());
  for (unsigned i = 0; i < visibleAs.getNumResults(); ++i)
    if (DictionaryAttr roles = visibleAs.getResultAttrDict(i))
      for (NamedAttribute a : roles)
        grad.setResultAttr(i, a.getName(), a.getValue());
  SmallVector<Value> returned;
  Gradients grads;
  if (failed(buildBackward(func, b, mapping, seeds, returned, grads)))
    return failure();
  SmallVector<Value> values(returned);
  for (Value arg : entry->getArguments().take_front(func.getNumArguments())) {
    if (!isFloatTensor(arg.getType()))
      continue;
    Value g = grads.lookup(arg);
    unsigned i = cast<BlockArgument>(arg).getArgNumber();
    // A stage's activation argument: its gradient goes to the stage before.
    if (auto index = grad.getArgAttr(i, "strata.index")) {
      grad.setResultAttr(values.size(), "strata.result",
                         b.getStringAttr("boundary_grad"));
      grad.setResultAttr(values.size(), "strata.index", index);
    }
    values.push_back(g ? g : zerosLike(b, func.getLoc(), arg));
  }
  for (ParamOp p : params) {
    Value clone = mapping.lookup(p.getResult());
    Value g = grads.lookup(clone);
    values.push_back(g ? g : zerosLike(b, func.getLoc(), clone));
  }
  func::ReturnOp::create(b, func.getLoc(), values);
  return success();
}

struct StrataAutodiffPass
    : public mlir::strata::impl::StrataAutodiffBase<StrataAutodiffPass> {
  using StrataAutodiffBase::StrataAutodiffBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::string> names(functions.begin(), functions.end());
    if (names.empty())
      names.push_back("loss");
    if (recompute != "layer" && recompute != "none") {
      module.emitError() << "strata-autodiff: recompute must be layer or "
                            "none, got '"
                         << recompute << "'";
      return signalPassFailure();
    }
    Differentiator differentiator(module, recompute == "none", scaledLoss);
    for (const std::string &name : names) {
      auto func = module.lookupSymbol<func::FuncOp>(name);
      if (!func) {
        module.emitError() << "strata-autodiff: no function @" << name
                           << " to differentiate";
        return signalPassFailure();
      }
      if (failed(differentiator.differentiateLoss(func)))
        return signalPassFailure();
    }
  }
};

} // namespace

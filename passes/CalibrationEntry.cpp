//===- CalibrationEntry.cpp - the activations static w8a8 quantizes -------===//
//
// Static w8a8 quantizes each product's activations with a scale and zero
// point calibrated on sample text (strata-run quantize). The runtime
// observes them through `@calibrate`: the model's forward whose w8a8
// products run as w8a16 (int8 weights, float activations) and which
// returns, instead of logits, the activations each product would have
// quantized, each marked with the parameter that will hold its scale.
// Layer bodies are cloned once each (not once per layer), returning their
// products' activations; the caller knows which parameters it passed.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATACALIBRATIONENTRY
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

/// An activation a function returns for calibration: its kind
/// ("activations", "expert_rows" or "expert_offsets") and the scale
/// parameter it calibrates, by name or (in a layer body) by the argument
/// its callers bind to it.
struct Site {
  StringAttr kind;
  StringAttr param;
  int argument = -1;
};

/// A function's calibration clone and the sites its extra results hold
/// (after the original results): site i is extra result result[i]. A
/// value is returned once however many sites it has (q, k and v read the
/// same rows; an expert's offsets serve two sites).
struct Calibrated {
  func::FuncOp fn;
  SmallVector<Site> sites;
  SmallVector<unsigned> result;
};

/// `values` without repeats, and for each value its position there.
SmallVector<Value> uniqueValues(ArrayRef<Value> values,
                                SmallVector<unsigned> &position) {
  SmallVector<Value> unique;
  llvm::DenseMap<Value, unsigned> seen;
  for (Value v : values) {
    auto [it, inserted] = seen.try_emplace(v, unique.size());
    if (inserted)
      unique.push_back(v);
    position.push_back(it->second);
  }
  return unique;
}

class CalibrationBuilder {
public:
  explicit CalibrationBuilder(ModuleOp module)
      : module(module), symbols(module) {}

  /// Adds `name`: `entry` returning only its calibration sites.
  LogicalResult buildEntry(func::FuncOp entry, StringRef name);

private:
  /// A copy of `f` named `name`, marked as calibration code.
  func::FuncOp cloneAs(func::FuncOp f, StringRef name);
  FailureOr<const Calibrated *> calibrated(func::FuncOp f);
  /// The site of the activations quantized with scale `key` in `f`.
  FailureOr<Site> siteOf(Operation *at, func::FuncOp f, Value key,
                         StringRef kind);
  LogicalResult rewriteBody(func::FuncOp f, SmallVector<Value> &values,
                            SmallVector<Site> &sites);

  ModuleOp module;
  SymbolTable symbols;
  llvm::DenseMap<Operation *, Calibrated> done;
};

FailureOr<Site> CalibrationBuilder::siteOf(Operation *at, func::FuncOp f,
                                           Value key, StringRef kind) {
  Site site;
  site.kind = StringAttr::get(module.getContext(), kind);
  if (auto param = key.getDefiningOp<ParamOp>()) {
    site.param = param.getNameAttr();
    return site;
  }
  auto arg = dyn_cast<BlockArgument>(key);
  if (arg && arg.getOwner() == &f.getBody().front()) {
    site.argument = arg.getArgNumber();
    return site;
  }
  return at->emitOpError(
      "quantizes its activations with a computed scale; calibration needs "
      "a parameter");
}

LogicalResult CalibrationBuilder::rewriteBody(func::FuncOp f,
                                              SmallVector<Value> &values,
                                              SmallVector<Site> &sites) {
  SmallVector<Operation *> ops;
  f.walk([&](Operation *op) {
    if (isa<QuantizedLinearOp, QuantizedMoEExpertsOp, func::CallOp>(op))
      ops.push_back(op);
  });
  auto addSite = [&](Operation *op, Value value, Value key,
                     StringRef kind) -> LogicalResult {
    FailureOr<Site> site = siteOf(op, f, key, kind);
    if (failed(site))
      return failure();
    values.push_back(value);
    sites.push_back(*site);
    return success();
  };
  MLIRContext *ctx = module.getContext();
  auto w8a16 = QuantSchemeAttr::get(ctx, QuantScheme::W8A16);
  for (Operation *op : ops) {
    OpBuilder b(op);
    if (auto q = dyn_cast<QuantizedLinearOp>(op)) {
      if (q.getScheme() != QuantScheme::W8A8)
        continue;
      if (failed(addSite(op, q.getInput(), q.getInputScale(), "activations")))
        return failure();
      auto plain = QuantizedLinearOp::create(
          b, q.getLoc(), q.getInput(), q.getWeight(), q.getWeightScale(),
          q.getBias(), Value(), Value(), Value(), w8a16);
      q.replaceAllUsesWith(plain.getResult());
      q.erase();
      continue;
    }
    if (auto q = dyn_cast<QuantizedMoEExpertsOp>(op)) {
      if (q.getScheme() != QuantScheme::W8A8)
        continue;
      auto inputs = QuantizedMoEExpertInputsOp::create(
          b, q.getLoc(), q.getInput(), q.getIndices(), q.getGateProj(),
          q.getUpProj(), q.getGateScale(), q.getUpScale(),
          q.getNumExpertsAttr(), q.getTopKAttr());
      if (failed(addSite(op, inputs.getRows(), q.getInputScale(),
                         "expert_rows")) ||
          failed(addSite(op, inputs.getOffsets(), q.getInputScale(),
                         "expert_offsets")) ||
          failed(addSite(op, inputs.getHidden(), q.getDownInputScale(),
                         "expert_rows")) ||
          failed(addSite(op, inputs.getOffsets(), q.getDownInputScale(),
                         "expert_offsets")))
        return failure();
      auto plain = QuantizedMoEExpertsOp::create(
          b, q.getLoc(), q.getInput(), q.getWeights(), q.getIndices(),
          q.getGateProj(), q.getUpProj(), q.getDownProj(), q.getGateScale(),
          q.getUpScale(), q.getDownScale(), Value(), Value(), Value(), Value(),
          Value(), Value(), Value(), q.getNumExpertsAttr(), q.getTopKAttr(),
          w8a16);
      q.replaceAllUsesWith(plain.getResult());
      q.erase();
      continue;
    }
    auto call = cast<func::CallOp>(op);
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    if (!callee || callee.isExternal())
      continue;
    FailureOr<const Calibrated *> inner = calibrated(callee);
    if (failed(inner))
      return failure();
    if ((*inner)->sites.empty())
      continue;
    auto clone = func::CallOp::create(b, call.getLoc(), (*inner)->fn,
                                      call.getOperands());
    unsigned n = call.getNumResults();
    call.replaceAllUsesWith(clone.getResults().take_front(n));
    for (auto [i, site] : llvm::enumerate((*inner)->sites)) {
      Value value = clone.getResult(n + (*inner)->result[i]);
      if (site.argument < 0) {
        values.push_back(value);
        sites.push_back(site);
      } else if (failed(addSite(clone, value,
                                call.getOperand(site.argument),
                                site.kind.getValue()))) {
        return failure();
      }
    }
    call.erase();
  }
  return success();
}

func::FuncOp CalibrationBuilder::cloneAs(func::FuncOp f, StringRef name) {
  func::FuncOp clone = f.clone();
  clone.setName(name);
  clone->setAttr("strata.calibration", UnitAttr::get(module.getContext()));
  symbols.insert(clone);
  return clone;
}

/// Makes `fn` return `values` after its first `keep` results (their
/// result attributes dropped).
static void setReturned(func::FuncOp fn, unsigned keep,
                        ArrayRef<Value> values) {
  auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
  SmallVector<Value> operands(ret.getOperands().take_front(keep));
  llvm::append_range(operands, values);
  ret->setOperands(operands);
  fn->removeAttr(fn.getResAttrsAttrName());
  fn.setFunctionType(FunctionType::get(
      fn.getContext(), fn.getArgumentTypes(), ret.getOperandTypes()));
}

FailureOr<const Calibrated *> CalibrationBuilder::calibrated(func::FuncOp f) {
  auto it = done.find(f);
  if (it != done.end())
    return &it->second;
  func::FuncOp clone = cloneAs(f, (f.getName() + "_calibrate").str());
  clone.setPrivate();
  SmallVector<Value> values;
  SmallVector<Site> sites;
  if (failed(rewriteBody(clone, values, sites)))
    return failure();
  if (sites.empty()) {
    symbols.erase(clone);
    return &(done[f] = Calibrated{f, {}, {}});
  }
  SmallVector<unsigned> position;
  setReturned(clone, f.getNumResults(), uniqueValues(values, position));
  return &(done[f] = Calibrated{clone, std::move(sites), std::move(position)});
}

LogicalResult CalibrationBuilder::buildEntry(func::FuncOp entry,
                                             StringRef name) {
  func::FuncOp fn = cloneAs(entry, name);
  SmallVector<Value> values;
  SmallVector<Site> sites;
  if (failed(rewriteBody(fn, values, sites)))
    return failure();
  for (const Site &site : sites)
    if (site.argument >= 0)
      return entry.emitError("@")
             << entry.getName() << " takes the activation scale of a "
             << "quantized product as argument " << site.argument
             << "; calibration needs a parameter";
  if (sites.empty())
    return entry.emitError("@")
           << entry.getName() << " has no w8a8 product to calibrate";
  // One result per value, naming every parameter it calibrates.
  SmallVector<unsigned> position;
  SmallVector<Value> unique = uniqueValues(values, position);
  SmallVector<llvm::SetVector<Attribute>> params(unique.size());
  for (auto [site, at] : llvm::zip(sites, position))
    params[at].insert(site.param);
  // The logits are not returned: what only fed them goes.
  setReturned(fn, 0, unique);
  MLIRContext *ctx = module.getContext();
  for (auto [site, at] : llvm::zip(sites, position)) {
    if (fn.getResultAttr(at, "strata.result"))
      continue;
    fn.setResultAttr(at, "strata.result", site.kind);
    fn.setResultAttr(at, "strata.param", site.param);
    fn.setResultAttr(at, "strata.params",
                     ArrayAttr::get(ctx, params[at].getArrayRef()));
  }
  return success();
}

struct StrataCalibrationEntryPass
    : public mlir::strata::impl::StrataCalibrationEntryBase<
          StrataCalibrationEntryPass> {
  using StrataCalibrationEntryBase::StrataCalibrationEntryBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool any = false;
    module.walk([&](Operation *op) {
      if (auto q = dyn_cast<QuantizedLinearOp>(op))
        any |= q.getScheme() == QuantScheme::W8A8;
      if (auto q = dyn_cast<QuantizedMoEExpertsOp>(op))
        any |= q.getScheme() == QuantScheme::W8A8;
    });
    if (!any)
      return;
    auto entry = module.lookupSymbol<func::FuncOp>(from);
    if (!entry || entry.isExternal()) {
      module.emitError("strata-calibration-entry: no function @")
          << from << " to calibrate the w8a8 products from";
      return signalPassFailure();
    }
    if (module.lookupSymbol(name)) {
      module.emitError("strata-calibration-entry: @")
          << name << " exists already";
      return signalPassFailure();
    }
    if (failed(CalibrationBuilder(module).buildEntry(entry, name)))
      signalPassFailure();
  }
};

} // namespace

//===- ProductWeights.h - parameters read only as product weights -*- C++ -*-=//
//
// The weight passes (strata-narrow-weights, strata-quantize) change how a
// parameter is stored, which is only sound when every read of it, in every
// function and through the calls that pass it into layer bodies, is one
// the rewritten op can take. This analysis finds the largest such choice:
// parameter names, and the function arguments they reach.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_PASSES_PRODUCTWEIGHTS_H
#define STRATA_PASSES_PRODUCTWEIGHTS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::strata {

/// Whether the op using `use` reads its value as a weight the pass can
/// store differently.
using WeightUse = llvm::function_ref<bool(OpOperand &use)>;

class ProductWeights {
public:
  /// A function argument, by function and position.
  using Arg = std::pair<Operation *, unsigned>;

  ProductWeights(ModuleOp module, WeightUse isWeightUse);

  /// Parameter names every read of which is a weight use (directly or
  /// through a chosen argument), and the chosen arguments: those whose
  /// every use qualifies and whose every caller passes a chosen parameter
  /// or argument. Only f32 parameters and arguments of private functions
  /// are candidates.
  void solve();

  const llvm::StringSet<> &names() const { return chosen; }
  const llvm::SetVector<Arg> &arguments() const { return args; }
  /// The calls of `callee` (a defined function of the module).
  ArrayRef<func::CallOp> callsOf(Operation *callee) const;
  /// Whether `v` is a chosen parameter or a chosen argument.
  bool isChosen(Value v) const;

private:
  bool usesQualify(Value value);

  ModuleOp module;
  WeightUse isWeightUse;
  SymbolTable symbols;
  llvm::StringSet<> chosen;
  llvm::SetVector<Arg> args;
  llvm::DenseMap<Operation *, SmallVector<func::CallOp>> callers;
};

/// Whether `linear` computes a router's logits (the MoE gate, or a layer
/// of an MLP gate): its top-k choice is sensitive to rounding, so the
/// weight passes leave it alone.
bool isRouterGate(Operation *linear);

/// Retypes `f`'s signature to its entry block's argument types.
void syncFunctionType(func::FuncOp f);

} // namespace mlir::strata

#endif // STRATA_PASSES_PRODUCTWEIGHTS_H

//===- Passes.h - Strata passes ---------------------------------*- C++ -*-===//

#ifndef STRATA_PASSES_PASSES_H
#define STRATA_PASSES_PASSES_H

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::strata {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The optimizer's state per parameter, named as torch's optimizers name
/// it (AdamW: exp_avg, exp_avg_sq; Lion: exp_avg; SGD: momentum_buffer).
SmallVector<StringRef, 2> optimizerStateSlots(Optimizer optimizer);

} // namespace mlir::strata

#endif // STRATA_PASSES_PASSES_H

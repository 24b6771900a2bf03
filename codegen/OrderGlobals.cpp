//===- OrderGlobals.cpp - deterministic constant globals -------*- C++ -*-===//
//
// One-shot bufferization turns dense tensor constants (rotary tables, ...)
// into memref.globals, but it visits functions in an order that can change
// from run to run, so the globals' names and positions did too, and two
// compiles of one config were not byte-identical. Renaming them by first
// use, in the module's own order, makes the output a function of the input.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAORDERGLOBALS
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;

namespace {
struct OrderGlobalsPass
    : public mlir::strata::impl::StrataOrderGlobalsBase<OrderGlobalsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable table(module);
    llvm::SetVector<Operation *> order;
    module.walk([&](memref::GetGlobalOp use) {
      if (auto global = table.lookup<memref::GlobalOp>(use.getName()))
        order.insert(global);
    });
    // Two steps, so that no new name collides with an old one.
    for (auto [i, global] : llvm::enumerate(order))
      if (failed(table.rename(global, "__strata_global_" + std::to_string(i))))
        return signalPassFailure();
    Block *body = module.getBody();
    for (auto [i, global] : llvm::enumerate(llvm::reverse(order))) {
      size_t position = order.size() - 1 - i;
      if (failed(table.rename(global,
                              "__constant_" + std::to_string(position))))
        return signalPassFailure();
      global->moveBefore(body, body->begin());
    }
  }
};
} // namespace

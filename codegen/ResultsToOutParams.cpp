//===- ResultsToOutParams.cpp - callers own layer-body results -*- C++ -*-===//
//
// A layer body (a private function the entry points call once per layer)
// returns buffers it allocated. Left that way, ownership-based deallocation
// has to guess at run time who frees them (a dealloc helper per call, and
// frees inside kernels on the GPU), and the memory planner cannot place
// them in any frame. This pass hands each such buffer to the caller: the
// allocation moves to every call site — its dynamic sizes recomputed there
// from the call's operands — and the body writes into a new trailing
// argument. Upstream's buffer-results-to-out-params does the same for
// static shapes only; the bodies' shapes depend on batch and sequence.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATARESULTSTOOUTPARAMS
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;

namespace {

/// The returned buffer's allocation, looking through casts, or null.
memref::AllocOp rootAlloc(Value value, func::FuncOp func) {
  while (auto cast = value.getDefiningOp<memref::CastOp>())
    value = cast.getSource();
  auto alloc = value.getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != &func.getBody().front())
    return nullptr;
  return alloc;
}

/// Collects, in dependence order, the pure ops computing `values` from the
/// function's arguments; fails when a value depends on anything else.
LogicalResult sizeSlice(ValueRange values, llvm::SetVector<Operation *> &slice) {
  for (Value value : values) {
    if (isa<BlockArgument>(value))
      continue;
    Operation *def = value.getDefiningOp();
    if (!def || def->getNumRegions() != 0 || !isPure(def))
      return failure();
    if (slice.contains(def))
      continue;
    if (failed(sizeSlice(def->getOperands(), slice)))
      return failure();
    slice.insert(def);
  }
  return success();
}

/// How one result leaves the body: as an argument passed through, or as an
/// allocation whose sizes the caller can compute.
struct OutParam {
  unsigned result;
  memref::AllocOp alloc;
  llvm::SetVector<Operation *> sizes;
};

struct ResultsToOutParamsPass
    : public mlir::strata::impl::StrataResultsToOutParamsBase<
          ResultsToOutParamsPass> {

  /// Moves what it can of `func`'s results to the callers; results it
  /// cannot move stay results.
  LogicalResult convert(func::FuncOp func, ArrayRef<func::CallOp> calls) {
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    SmallVector<OutParam> outs;
    // A result that is an argument of the body is the caller's operand.
    SmallVector<std::pair<unsigned, unsigned>> forwarded;
    for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
      if (!isa<MemRefType>(value.getType()))
        continue;
      if (auto arg = dyn_cast<BlockArgument>(value)) {
        forwarded.push_back({unsigned(i), arg.getArgNumber()});
        continue;
      }
      memref::AllocOp alloc = rootAlloc(value, func);
      if (!alloc || llvm::any_of(outs, [&](const OutParam &o) {
            return o.alloc == alloc;
          }))
        continue;
      OutParam out{unsigned(i), alloc, {}};
      if (failed(sizeSlice(alloc.getDynamicSizes(), out.sizes)))
        continue;
      outs.push_back(std::move(out));
    }
    if (outs.empty() && forwarded.empty())
      return success();

    // Callers first: allocate, pass, and use the buffer instead of the
    // result.
    for (func::CallOp call : calls) {
      OpBuilder b(call);
      SmallVector<Value> operands(call.getOperands());
      for (OutParam &out : outs) {
        IRMapping map;
        map.map(func.getArguments(), call.getOperands());
        for (Operation *op : out.sizes)
          b.clone(*op, map);
        SmallVector<Value> sizes = llvm::map_to_vector(
            out.alloc.getDynamicSizes(),
            [&](Value v) { return map.lookupOrDefault(v); });
        auto buffer = memref::AllocOp::create(
            b, call.getLoc(), out.alloc.getType(), sizes,
            out.alloc.getAlignmentAttr());
        operands.push_back(buffer);
        Value result = call.getResult(out.result);
        Value replacement = buffer;
        if (replacement.getType() != result.getType())
          replacement = memref::CastOp::create(b, call.getLoc(),
                                               result.getType(), replacement);
        result.replaceAllUsesWith(replacement);
      }
      for (auto [result, arg] : forwarded)
        call.getResult(result).replaceAllUsesWith(call.getOperand(arg));
      call->setOperands(operands);
    }

    // Then the body: the allocation becomes a new trailing argument.
    llvm::BitVector dropped(func.getNumResults());
    for (OutParam &out : outs) {
      unsigned index = func.getNumArguments();
      if (failed(func.insertArgument(index, out.alloc.getType(), {},
                                     out.alloc.getLoc())))
        return failure();
      out.alloc.getResult().replaceAllUsesWith(func.getArgument(index));
      out.alloc.erase();
      dropped.set(out.result);
    }
    for (auto [result, arg] : forwarded)
      dropped.set(result);
    if (failed(func.eraseResults(dropped)))
      return failure();
    ret->eraseOperands(dropped);
    for (func::CallOp call : calls) {
      OpBuilder b(call);
      auto replacement = func::CallOp::create(b, call.getLoc(), func,
                                              call.getOperands());
      replacement->setDiscardableAttrs(call->getDiscardableAttrDictionary());
      unsigned next = 0;
      for (auto [i, result] : llvm::enumerate(call.getResults()))
        if (!dropped.test(i))
          result.replaceAllUsesWith(replacement.getResult(next++));
      call.erase();
    }
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::MapVector<func::FuncOp, SmallVector<func::CallOp>> callers;
    SymbolTable table(module);
    module.walk([&](func::CallOp call) {
      auto callee = table.lookup<func::FuncOp>(call.getCallee());
      if (callee && callee.isPrivate() && !callee.isExternal())
        callers[callee].push_back(call);
    });
    // Only bodies whose every use is a call: a symbol taken elsewhere
    // would still see the old signature.
    for (auto &[func, calls] : callers) {
      std::optional<SymbolTable::UseRange> uses =
          SymbolTable::getSymbolUses(func, module);
      if (!uses || llvm::range_size(*uses) != calls.size())
        continue;
      if (failed(convert(func, calls)))
        return signalPassFailure();
    }
  }
};

} // namespace

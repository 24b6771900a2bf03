//===- ExportEntryPoints.cpp - the runtime's packed entry points -*- C++ -*-===//
//
// Public model functions become `strata_entry_<name>(void **args)` (see
// runtime/abi.h). The descriptors stay in memory until the function needs
// them, so a model with a thousand parameters has no thousand-argument call
// anywhere: that call, not the model's kernels, used to dominate LLVM's
// instruction selection.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "runtime/abi.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAEXPORTENTRYPOINTS
#include "codegen/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;

namespace {

/// Words (8 bytes each) of a ranked memref descriptor: two pointers, the
/// offset, then sizes and strides.
int64_t descriptorWords(MemRefType type) { return 3 + 2 * type.getRank(); }

/// A descriptor whose offset, sizes and strides all follow from its type.
bool isFullyStatic(MemRefType type) {
  if (!type.hasStaticShape())
    return false;
  auto [strides, offset] = type.getStridesAndOffset();
  return !ShapedType::isDynamic(offset) &&
         llvm::none_of(strides, ShapedType::isDynamic);
}

/// Loads the memref `type` described at `desc` and returns it as a memref
/// value (through a cast the LLVM conversion folds away).
Value loadDescriptor(OpBuilder &b, Location loc, Value desc, MemRefType type,
                     const LLVMTypeConverter &converter) {
  Type structTy = converter.convertType(type);
  auto ptrTy = LLVM::LLVMPointerType::get(b.getContext());
  Value value;
  if (!isFullyStatic(type)) {
    value = LLVM::LoadOp::create(b, loc, structTy, desc);
  } else {
    // Only the pointers are data; the rest is rebuilt from the type.
    auto i64 = b.getI64Type();
    auto [strides, offset] = type.getStridesAndOffset();
    Value allocated = LLVM::LoadOp::create(b, loc, ptrTy, desc);
    Value alignedAddr = LLVM::GEPOp::create(b, loc, ptrTy, ptrTy, desc,
                                            ArrayRef<LLVM::GEPArg>{1});
    Value aligned = LLVM::LoadOp::create(b, loc, ptrTy, alignedAddr);
    auto constant = [&](int64_t v) -> Value {
      return LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(v));
    };
    value = LLVM::UndefOp::create(b, loc, structTy);
    value = LLVM::InsertValueOp::create(b, loc, value, allocated,
                                        ArrayRef<int64_t>{0});
    value = LLVM::InsertValueOp::create(b, loc, value, aligned,
                                        ArrayRef<int64_t>{1});
    value = LLVM::InsertValueOp::create(b, loc, value, constant(offset),
                                        ArrayRef<int64_t>{2});
    for (auto [d, size] : llvm::enumerate(type.getShape())) {
      int64_t pos[] = {3, static_cast<int64_t>(d)};
      value = LLVM::InsertValueOp::create(b, loc, value, constant(size), pos);
      pos[0] = 4;
      value = LLVM::InsertValueOp::create(b, loc, value,
                                          constant(strides[d]), pos);
    }
  }
  return UnrealizedConversionCastOp::create(b, loc, type, value).getResult(0);
}

/// The memref `type` whose descriptor `ptrs[index]` points at.
Value loadIndirect(OpBuilder &b, Location loc, Value ptrs, int64_t index,
                   MemRefType type, const LLVMTypeConverter &converter) {
  auto ptrTy = LLVM::LLVMPointerType::get(b.getContext());
  Value slot = LLVM::GEPOp::create(b, loc, ptrTy, ptrTy, ptrs,
                                   ArrayRef<LLVM::GEPArg>{int32_t(index)});
  Value desc = LLVM::LoadOp::create(b, loc, ptrTy, slot);
  return loadDescriptor(b, loc, desc, type, converter);
}

/// The op of `block` that first uses `value` (directly or nested), if any.
Operation *firstUserIn(Block &block, Value value) {
  Operation *first = nullptr;
  for (Operation *user : value.getUsers()) {
    Operation *ancestor = block.findAncestorOpInBlock(*user);
    if (ancestor && (!first || ancestor->isBeforeInBlock(first)))
      first = ancestor;
  }
  return first;
}

LogicalResult checkMemrefs(func::FuncOp func) {
  for (auto [i, type] : llvm::enumerate(func.getArgumentTypes()))
    if (!isa<MemRefType>(type))
      return func.emitOpError("entry point argument #")
             << i << " has type " << type
             << "; the runtime passes only ranked memrefs";
  for (auto [i, type] : llvm::enumerate(func.getResultTypes()))
    if (!isa<MemRefType>(type))
      return func.emitOpError("entry point result #")
             << i << " has type " << type
             << "; the runtime receives only ranked memrefs";
  return success();
}

/// Callee operands [first, first + size) that every call passes as
/// consecutive arguments of its entry point: the callee takes one pointer
/// into the entry's `args` instead (a layer's parameters, its KV cache).
struct ArgumentRun {
  unsigned first, size;
};
using PackedCallees = llvm::DenseMap<Attribute, SmallVector<ArgumentRun>>;

/// For each call, the entry-argument number of each operand (-1 if the
/// operand is something else); null if `callee` has a use that is not a
/// call from an entry point.
std::optional<SmallVector<SmallVector<int64_t>>>
entryArgumentsPassed(func::FuncOp callee, ModuleOp module) {
  auto uses = SymbolTable::getSymbolUses(callee, module);
  if (!uses)
    return std::nullopt;
  SmallVector<SmallVector<int64_t>> calls;
  for (const SymbolTable::SymbolUse &use : *uses) {
    auto call = dyn_cast<func::CallOp>(use.getUser());
    auto caller = call ? call->getParentOfType<func::FuncOp>() : nullptr;
    if (!caller || !caller.isPublic())
      return std::nullopt;
    SmallVector<int64_t> &numbers = calls.emplace_back();
    for (Value operand : call.getOperands()) {
      auto arg = dyn_cast<BlockArgument>(operand);
      numbers.push_back(arg && arg.getOwner()->isEntryBlock() &&
                                arg.getOwner()->getParentOp() == caller
                            ? int64_t(arg.getArgNumber())
                            : int64_t(-1));
    }
  }
  return calls;
}

/// The maximal runs of operands that every call passes as consecutive
/// entry-point arguments.
SmallVector<ArgumentRun> findRuns(ArrayRef<SmallVector<int64_t>> calls,
                                  unsigned numOperands) {
  auto isEntryArg = [&](unsigned k) {
    return llvm::all_of(calls, [&](auto &c) { return c[k] >= 0; });
  };
  auto continues = [&](unsigned k) {
    return llvm::all_of(calls, [&](auto &c) { return c[k] == c[k - 1] + 1; });
  };
  SmallVector<ArgumentRun> runs;
  for (unsigned k = 0; k < numOperands; ++k) {
    if (!isEntryArg(k))
      continue;
    if (!runs.empty() && runs.back().first + runs.back().size == k &&
        continues(k))
      ++runs.back().size;
    else
      runs.push_back({k, 1});
  }
  return runs;
}

/// Replaces each run of `callee`'s arguments with one pointer to their
/// descriptors' pointers, each loaded before its first use.
void packArguments(func::FuncOp callee, ArrayRef<ArgumentRun> runs,
                   const LLVMTypeConverter &converter) {
  auto ptrTy = LLVM::LLVMPointerType::get(callee.getContext());
  Block &body = callee.getBody().front();
  OpBuilder b(callee.getContext());
  BitVector dropped(callee.getNumArguments() + runs.size());
  for (const ArgumentRun &run : llvm::reverse(runs)) {
    (void)callee.insertArgument(run.first, ptrTy, {}, callee.getLoc());
    Value ptrs = body.getArgument(run.first);
    for (unsigned k = 0; k < run.size; ++k) {
      BlockArgument arg = body.getArgument(run.first + 1 + k);
      if (Operation *user = firstUserIn(body, arg)) {
        b.setInsertionPoint(user);
        arg.replaceAllUsesWith(loadIndirect(b, arg.getLoc(), ptrs, k,
                                            cast<MemRefType>(arg.getType()),
                                            converter));
      }
    }
  }
  // Positions after every insertion: run r's pointer sits at its first
  // position plus the r pointers inserted before it.
  for (auto [r, run] : llvm::enumerate(runs))
    dropped.set(run.first + r + 1, run.first + r + 1 + run.size);
  (void)callee.eraseArguments(dropped);
}

/// Private functions whose parameter runs can be packed.
PackedCallees packCallees(ModuleOp module,
                          const LLVMTypeConverter &converter) {
  PackedCallees packed;
  for (auto callee : module.getOps<func::FuncOp>()) {
    if (!callee.isPrivate() || callee.isExternal() ||
        !llvm::all_of(callee.getArgumentTypes(), llvm::IsaPred<MemRefType>))
      continue;
    auto calls = entryArgumentsPassed(callee, module);
    if (!calls || calls->empty())
      continue;
    SmallVector<ArgumentRun> runs =
        findRuns(*calls, callee.getNumArguments());
    if (runs.empty())
      continue;
    packArguments(callee, runs, converter);
    packed[SymbolRefAttr::get(callee)] = std::move(runs);
  }
  return packed;
}

LogicalResult exportEntryPoint(func::FuncOp func, ModuleOp module,
                               const LLVMTypeConverter &converter,
                               const PackedCallees &packed) {
  if (failed(checkMemrefs(func)))
    return failure();
  if (!SymbolTable::symbolKnownUseEmpty(func, module))
    return func.emitOpError("is an entry point and is also called inside "
                            "the module; entry points must be roots");
  MLIRContext *ctx = func.getContext();
  auto ptrTy = LLVM::LLVMPointerType::get(ctx);
  Block &entry = func.getBody().front();
  Location loc = func.getLoc();
  unsigned numArgs = func.getNumArguments();
  if (failed(func.insertArgument(numArgs, ptrTy, {}, loc)))
    return failure();
  Value args = entry.getArgument(numArgs);
  OpBuilder b(ctx);

  // Calls of packed bodies take a pointer into args for each run.
  SmallVector<func::CallOp> calls;
  func.walk([&](func::CallOp call) { calls.push_back(call); });
  for (func::CallOp call : calls) {
    auto it = packed.find(call.getCalleeAttr());
    if (it == packed.end())
      continue;
    b.setInsertionPoint(call);
    SmallVector<Value> operands;
    unsigned next = 0;
    for (const ArgumentRun &run : it->second) {
      llvm::append_range(operands,
                         call.getOperands().slice(next, run.first - next));
      unsigned index = cast<BlockArgument>(call.getOperand(run.first))
                           .getArgNumber();
      operands.push_back(LLVM::GEPOp::create(
          b, call.getLoc(), ptrTy, ptrTy, args,
          ArrayRef<LLVM::GEPArg>{int32_t(1 + index)}));
      next = run.first + run.size;
    }
    llvm::append_range(operands, call.getOperands().drop_front(next));
    auto replacement = func::CallOp::create(b, call.getLoc(), call.getCalleeAttr(),
                                            call.getResultTypes(), operands);
    call.replaceAllUsesWith(replacement.getResults());
    call.erase();
  }

  // Other uses: args[1 + i] points at argument i's descriptor.
  for (unsigned i = 0; i < numArgs; ++i) {
    BlockArgument arg = entry.getArgument(i);
    Operation *user = firstUserIn(entry, arg);
    if (!user)
      continue;
    b.setInsertionPoint(user);
    arg.replaceAllUsesWith(loadIndirect(b, arg.getLoc(), args, 1 + i,
                                        cast<MemRefType>(arg.getType()),
                                        converter));
  }

  // Results: stored one after another where args[0] points.
  auto i64 = b.getI64Type();
  func.walk([&](func::ReturnOp ret) {
    b.setInsertionPoint(ret);
    Value results = LLVM::LoadOp::create(b, ret.getLoc(), ptrTy, args);
    int64_t word = 0;
    for (Value v : ret.getOperands()) {
      auto type = cast<MemRefType>(v.getType());
      Value addr = LLVM::GEPOp::create(b, ret.getLoc(), ptrTy, i64, results,
                                       ArrayRef<LLVM::GEPArg>{int32_t(word)});
      Value desc = UnrealizedConversionCastOp::create(
                       b, ret.getLoc(), converter.convertType(type), v)
                       .getResult(0);
      LLVM::StoreOp::create(b, ret.getLoc(), desc, addr);
      word += descriptorWords(type);
    }
    ret->setOperands({});
  });

  BitVector dropped(entry.getNumArguments());
  dropped.set(0, numArgs);
  if (failed(func.eraseArguments(dropped)))
    return failure();
  // The results now go through the pointer: their attributes (the
  // optimizer's strata.result marks) go with them.
  func.removeResAttrsAttr();
  func.setFunctionType(FunctionType::get(ctx, {ptrTy}, {}));
  func.setSymName((STRATA_ENTRY_PREFIX + func.getName()).str());
  return success();
}

struct ExportEntryPointsPass
    : public mlir::strata::impl::StrataExportEntryPointsBase<
          ExportEntryPointsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    LLVMTypeConverter converter(&getContext());
    SmallVector<func::FuncOp> entries;
    for (auto func : module.getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal())
        entries.push_back(func);
    for (func::FuncOp func : entries)
      if (failed(checkMemrefs(func)))
        return signalPassFailure();
    PackedCallees packed = packCallees(module, converter);
    for (func::FuncOp func : entries)
      if (failed(exportEntryPoint(func, module, converter, packed)))
        return signalPassFailure();
  }
};
} // namespace

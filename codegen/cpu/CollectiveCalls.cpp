//===- CollectiveCalls.cpp - tensor-parallel sums through the runtime -----===//
//
// strata-cpu-all-reduce-calls (on buffers) turns each
// strata_kernel.all_reduce into a call of strata_all_reduce_f32 on its
// buffer, flat; strata-cpu-collective-hooks (on the LLVM dialect) defines
// that function: the runtime's exported hook
// `void (*strata_cpu_all_reduce)(void *ctx, float *data, int64_t count)`
// when set, nothing otherwise (a group of one keeps its values). An
// expert-parallel program's strata_kernel.expert_route / expert_exchange
// become calls of strata_expert_route / strata_expert_exchange the same
// way, whose bodies pass their scalars and (pointer, count) buffers to the
// hooks strata_cpu_expert_route / strata_cpu_expert_exchange. The kernels
// never link a communication library: the runtime owns the groups.
//
//===----------------------------------------------------------------------===//

#include "codegen/LoweringUtils.h"
#include "codegen/cpu/Passes.h"
#include "dialect/KernelDialect.h"
#include "runtime/abi.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATACPUALLREDUCECALLS
#define GEN_PASS_DEF_STRATACPUCOLLECTIVEHOOKS
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {
constexpr StringLiteral kAllReduceFunction = "strata_all_reduce_f32";
constexpr StringLiteral kAllReduceHook = STRATA_HOOK_CPU_ALL_REDUCE;

/// `func.func private @strata_all_reduce_f32(memref<?xf32>)`, declared once.
func::FuncOp declareAllReduce(ModuleOp module) {
  if (auto f = module.lookupSymbol<func::FuncOp>(kAllReduceFunction))
    return f;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto flat = MemRefType::get({ShapedType::kDynamic}, b.getF32Type());
  auto f = func::FuncOp::create(b, module.getLoc(), kAllReduceFunction,
                                b.getFunctionType({flat}, {}));
  f.setPrivate();
  return f;
}

/// The sizes of `buffer`'s dims, as values.
SmallVector<Value> dimSizes(OpBuilder &b, Location loc, Value buffer) {
  SmallVector<Value> sizes;
  auto type = cast<MemRefType>(buffer.getType());
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(memref::DimOp::create(b, loc, buffer, d));
  return sizes;
}

/// Calls `fn` on contiguous `buffer` viewed as `memref<?xf32>`.
void callFlat(OpBuilder &b, Location loc, func::FuncOp fn, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  Value flat = buffer;
  if (type.getRank() != 1) {
    SmallVector<ReassociationIndices> all(1);
    for (int64_t d = 0; d < type.getRank(); ++d)
      all.front().push_back(d);
    flat = memref::CollapseShapeOp::create(b, loc, buffer, all);
  }
  Value dynamic =
      memref::CastOp::create(b, loc, fn.getFunctionType().getInput(0), flat);
  func::CallOp::create(b, loc, fn, ValueRange{dynamic});
}

/// A hooked runtime call: the function the kernels call, with `scalars`
/// i64 arguments and then `buffers` rank-1 contiguous buffers, and the
/// hook its body calls as hook(ctx, scalars..., (pointer, count)...).
struct HookedCall {
  StringLiteral function, hook;
  unsigned scalars, buffers;
};
constexpr HookedCall kExpertRoute{"strata_expert_route",
                                  STRATA_HOOK_CPU_EXPERT_ROUTE, 2, 4};
constexpr HookedCall kExpertExchange{"strata_expert_exchange",
                                     STRATA_HOOK_CPU_EXPERT_EXCHANGE, 4, 4};

/// A contiguous rank-1 buffer: how the calls take their buffers.
MemRefType flatBufferType(Type element) {
  return MemRefType::get({ShapedType::kDynamic}, element);
}

/// `func.func private @<call.function>(i64..., memref<?xT>...)`, declared
/// once.
func::FuncOp declareHooked(ModuleOp module, const HookedCall &call,
                           ArrayRef<Type> elements) {
  if (auto f = module.lookupSymbol<func::FuncOp>(call.function))
    return f;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  SmallVector<Type> inputs(call.scalars, b.getI64Type());
  for (Type element : elements)
    inputs.push_back(flatBufferType(element));
  auto f = func::FuncOp::create(b, module.getLoc(), call.function,
                                b.getFunctionType(inputs, {}));
  f.setPrivate();
  return f;
}

/// Calls `fn` with `scalars` and `buffers` flattened; a buffer with another
/// layout (a view) travels through a contiguous copy, copied back when
/// written.
void callHooked(OpBuilder &b, Location loc, func::FuncOp fn,
                ArrayRef<int64_t> scalars, ArrayRef<Value> buffers,
                ArrayRef<bool> written) {
  SmallVector<Value> args;
  for (int64_t s : scalars)
    args.push_back(arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(s)));
  // (copy, original, written back)
  SmallVector<std::tuple<Value, Value, bool>> copies;
  for (auto [i, buffer] : llvm::enumerate(buffers)) {
    auto type = cast<MemRefType>(buffer.getType());
    Value arg = buffer;
    if (!type.getLayout().isIdentity()) {
      Value copy = memref::AllocOp::create(
          b, loc, MemRefType::get(type.getShape(), type.getElementType()),
          dimSizes(b, loc, buffer), b.getI64IntegerAttr(kArenaAlignment));
      memref::CopyOp::create(b, loc, buffer, copy);
      copies.push_back({copy, buffer, written[i]});
      arg = copy;
    }
    if (type.getRank() != 1) {
      SmallVector<ReassociationIndices> all(1);
      for (int64_t d = 0; d < type.getRank(); ++d)
        all.front().push_back(d);
      arg = memref::CollapseShapeOp::create(b, loc, arg, all);
    }
    args.push_back(memref::CastOp::create(
        b, loc, flatBufferType(type.getElementType()), arg));
  }
  func::CallOp::create(b, loc, fn, args);
  for (auto [copy, buffer, back] : copies) {
    if (back)
      memref::CopyOp::create(b, loc, copy, buffer);
    memref::DeallocOp::create(b, loc, copy);
  }
}

/// strata_kernel.expert_route / expert_exchange on buffers -> calls.
LogicalResult lowerExpertExchanges(ModuleOp module) {
  SmallVector<Operation *> ops;
  module.walk([&](Operation *op) {
    if (isa<kernel::ExpertRouteOp, kernel::ExpertExchangeOp>(op))
      ops.push_back(op);
  });
  for (Operation *op : ops) {
    if (!llvm::all_of(op->getOperandTypes(),
                      [](Type t) { return isa<MemRefType>(t); }))
      return op->emitOpError("expected buffers (run after bufferization)");
    OpBuilder b(op);
    SmallVector<Value> buffers(op->getOperands());
    SmallVector<Type> elements;
    for (Value v : buffers)
      elements.push_back(cast<MemRefType>(v.getType()).getElementType());
    if (auto route = dyn_cast<kernel::ExpertRouteOp>(op)) {
      callHooked(b, op->getLoc(), declareHooked(module, kExpertRoute, elements),
                 {route.getTopK(), route.getNumExperts()}, buffers,
                 {false, false, true, true});
    } else {
      auto exchange = cast<kernel::ExpertExchangeOp>(op);
      callHooked(b, op->getLoc(),
                 declareHooked(module, kExpertExchange, elements),
                 {exchange.getCombine() ? 1 : 0, exchange.getWidth(),
                  exchange.getTopK(), exchange.getNumExperts()},
                 buffers, {false, false, false, true});
    }
    op->erase();
  }
  return success();
}

struct AllReduceCallsPass
    : public mlir::strata::impl::StrataCpuAllReduceCallsBase<
          AllReduceCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(lowerExpertExchanges(module)))
      return signalPassFailure();
    SmallVector<kernel::AllReduceOp> ops;
    module.walk([&](kernel::AllReduceOp op) { ops.push_back(op); });
    if (ops.empty())
      return;
    func::FuncOp fn = declareAllReduce(module);
    for (kernel::AllReduceOp op : ops) {
      auto type = dyn_cast<MemRefType>(op.getInit().getType());
      if (!type || type.getRank() == 0) {
        op.emitOpError("expected a buffer of rank 1 or more (run after "
                       "bufferization)");
        return signalPassFailure();
      }
      OpBuilder b(op);
      Location loc = op.getLoc();
      if (type.getLayout().isIdentity()) {
        callFlat(b, loc, fn, op.getInit());
      } else {
        // A strided view: sum a contiguous copy and write it back.
        auto contiguous = MemRefType::get(type.getShape(), b.getF32Type());
        Value copy = memref::AllocOp::create(
            b, loc, contiguous, dimSizes(b, loc, op.getInit()),
            b.getI64IntegerAttr(kArenaAlignment));
        memref::CopyOp::create(b, loc, op.getInit(), copy);
        callFlat(b, loc, fn, copy);
        memref::CopyOp::create(b, loc, copy, op.getInit());
        memref::DeallocOp::create(b, loc, copy);
      }
      op.erase();
    }
  }
};

/// Gives external `function` (scalars i64 arguments, then `buffers`
/// lowered rank-1 memrefs: allocated, aligned, offset, size, stride) a body
/// calling `hook(ctx, scalars..., (aligned + offset, size)...)` when the
/// hook is set, and returning at once otherwise.
LogicalResult defineHookBody(ModuleOp module, StringRef function,
                             StringRef hookName, unsigned scalars,
                             unsigned buffers) {
  auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(function);
  if (!fn || !fn.isExternal())
    return success();
  if (fn.getNumArguments() != scalars + 5 * buffers)
    return fn.emitOpError("expected ") << scalars << " i64 arguments and "
                                       << buffers << " lowered rank-1 memrefs";
  MLIRContext *ctx = module.getContext();
  Location loc = fn.getLoc();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i64 = IntegerType::get(ctx, 64);
  OpBuilder b(module.getBodyRegion());
  createHookGlobal(b, loc, kCpuContextHook);
  createHookGlobal(b, loc, hookName);

  fn.setLinkage(LLVM::Linkage::Internal);
  Block *entry = fn.addEntryBlock(b);
  Block *hooked = fn.addBlock(), *done = fn.addBlock();
  b.setInsertionPointToStart(entry);
  Value hook = loadHookGlobal(b, loc, hookName);
  Value unset = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, hook,
                                     LLVM::ZeroOp::create(b, loc, ptr));
  LLVM::CondBrOp::create(b, loc, unset, done, hooked);

  b.setInsertionPointToStart(hooked);
  SmallVector<Value> args{loadHookGlobal(b, loc, kCpuContextHook)};
  SmallVector<Type> types{ptr};
  for (unsigned i = 0; i < scalars; ++i) {
    args.push_back(entry->getArgument(i));
    types.push_back(i64);
  }
  // Every buffer's elements are 4 bytes (f32 or i32).
  for (unsigned i = 0; i < buffers; ++i) {
    unsigned base = scalars + 5 * i;
    args.push_back(LLVM::GEPOp::create(
        b, loc, ptr, b.getF32Type(), entry->getArgument(base + 1),
        ValueRange{entry->getArgument(base + 2)}));
    args.push_back(entry->getArgument(base + 3));
    types.append({ptr, i64});
  }
  auto hookType =
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), types);
  SmallVector<Value> callee{hook};
  callee.append(args);
  LLVM::CallOp::create(b, loc, hookType, callee);
  LLVM::BrOp::create(b, loc, ValueRange{}, done);

  b.setInsertionPointToStart(done);
  LLVM::ReturnOp::create(b, loc, ValueRange{});
  return success();
}

struct CollectiveHooksPass
    : public mlir::strata::impl::StrataCpuCollectiveHooksBase<
          CollectiveHooksPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(defineHookBody(module, kAllReduceFunction, kAllReduceHook,
                              /*scalars=*/0, /*buffers=*/1)))
      return signalPassFailure();
    for (const HookedCall &call : {kExpertRoute, kExpertExchange})
      if (failed(defineHookBody(module, call.function, call.hook, call.scalars,
                                call.buffers)))
        return signalPassFailure();
  }
};
} // namespace

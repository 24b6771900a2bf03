//===- CollectiveCalls.cpp - tensor-parallel sums through the runtime -----===//
//
// strata-cpu-all-reduce-calls (on buffers) turns each
// strata_kernel.all_reduce into a call of strata_all_reduce_f32 on its
// buffer, flat; strata-cpu-collective-hooks (on the LLVM dialect) defines
// that function: the runtime's exported hook
// `void (*strata_cpu_all_reduce)(void *ctx, float *data, int64_t count)`
// when set, nothing otherwise (a group of one keeps its values). The
// kernels never link a communication library: the runtime owns the groups.
//
//===----------------------------------------------------------------------===//

#include "codegen/LoweringUtils.h"
#include "codegen/cpu/Passes.h"
#include "dialect/KernelDialect.h"
#include "runtime/abi.h"

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

struct AllReduceCallsPass
    : public mlir::strata::impl::StrataCpuAllReduceCallsBase<
          AllReduceCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
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

struct CollectiveHooksPass
    : public mlir::strata::impl::StrataCpuCollectiveHooksBase<
          CollectiveHooksPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(kAllReduceFunction);
    if (!fn || !fn.isExternal())
      return;
    // The lowered memref<?xf32>: allocated, aligned, offset, size, stride.
    if (fn.getNumArguments() != 5)
      return (void)fn.emitOpError(
                 "expected the lowered memref<?xf32> signature"),
             signalPassFailure();
    MLIRContext *ctx = module.getContext();
    Location loc = fn.getLoc();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    OpBuilder b(module.getBodyRegion());
    createHookGlobal(b, loc, kCpuContextHook);
    createHookGlobal(b, loc, kAllReduceHook);

    fn.setLinkage(LLVM::Linkage::Internal);
    Block *entry = fn.addEntryBlock(b);
    Block *hooked = fn.addBlock(), *done = fn.addBlock();
    b.setInsertionPointToStart(entry);
    Value hook = loadHookGlobal(b, loc, kAllReduceHook);
    Value unset = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, hook,
                                       LLVM::ZeroOp::create(b, loc, ptr));
    LLVM::CondBrOp::create(b, loc, unset, done, hooked);

    b.setInsertionPointToStart(hooked);
    Value data =
        LLVM::GEPOp::create(b, loc, ptr, b.getF32Type(), entry->getArgument(1),
                            ValueRange{entry->getArgument(2)});
    auto hookType = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                                {ptr, ptr, i64});
    LLVM::CallOp::create(b, loc, hookType,
                         ValueRange{hook,
                                    loadHookGlobal(b, loc, kCpuContextHook),
                                    data, entry->getArgument(3)});
    LLVM::BrOp::create(b, loc, ValueRange{}, done);

    b.setInsertionPointToStart(done);
    LLVM::ReturnOp::create(b, loc, ValueRange{});
  }
};
} // namespace

//===- ArenaHook.cpp - arena frames from the CPU runtime --------*- C++ -*-===//
//
// strata-cpu-arena-hook (on the LLVM dialect) defines strata-plan-memory's
// strata_arena_acquire and strata_arena_release: a frame comes from the
// exported hooks `void *(*strata_cpu_arena)(void *ctx, int64_t bytes)` and
// `void (*strata_cpu_arena_release)(void *ctx, void *frame)` (the context
// in strata_cpu_context), which the runtime sets; without a runtime each
// frame is a malloc of its own.
//
//===----------------------------------------------------------------------===//

#include "codegen/LoweringUtils.h"
#include "codegen/cpu/Passes.h"
#include "runtime/abi.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATACPUARENAHOOK
#include "codegen/cpu/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {
constexpr StringLiteral kArenaHook = STRATA_HOOK_CPU_ARENA;
constexpr StringLiteral kArenaReleaseHook = STRATA_HOOK_CPU_ARENA_RELEASE;

//===----------------------------------------------------------------------===//
// LLVM dialect: the body of strata_arena_acquire
//===----------------------------------------------------------------------===//

/// `name` (LLVM dialect) declared in `module` unless it is there.
LLVM::LLVMFuncOp declareFunction(ModuleOp module, OpBuilder &b, Location loc,
                                 StringRef name, LLVM::LLVMFunctionType type) {
  if (auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return fn;
  return LLVM::LLVMFuncOp::create(b, loc, name, type);
}

/// Turns the declaration `fn` into an internal definition and returns its
/// entry block.
Block *defineInternal(LLVM::LLVMFuncOp fn, OpBuilder &b) {
  fn.setLinkage(LLVM::Linkage::Internal);
  fn.setVisibility(SymbolTable::Visibility::Public);
  return fn.addEntryBlock(b);
}

struct CpuArenaHookPass
    : public mlir::strata::impl::StrataCpuArenaHookBase<CpuArenaHookPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto acquire = module.lookupSymbol<LLVM::LLVMFuncOp>(kArenaAcquire);
    auto release = module.lookupSymbol<LLVM::LLVMFuncOp>(kArenaRelease);
    if (!acquire || !acquire.isExternal())
      return;
    MLIRContext *ctx = module.getContext();
    Location loc = acquire.getLoc();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    auto voidType = LLVM::LLVMVoidType::get(ctx);
    auto descriptor = dyn_cast<LLVM::LLVMStructType>(
        acquire.getFunctionType().getReturnType());
    if (!descriptor || acquire.getNumArguments() != 1)
      return (void)acquire.emitOpError(
                 "expected the lowered memref<?xi8> (index) signature"),
             signalPassFailure();
    // The lowered memref<?xi8> argument: allocated pointer first.
    if (!release || !release.isExternal() || release.getNumArguments() < 1 ||
        release.getArgumentTypes().front() != ptr)
    {
      module.emitError("strata-cpu-arena-hook: ")
          << kArenaAcquire << " without a lowered " << kArenaRelease;
      return signalPassFailure();
    }
    OpBuilder b(module.getBodyRegion());
    createHookGlobal(b, loc, kCpuContextHook);
    createHookGlobal(b, loc, kArenaHook);
    createHookGlobal(b, loc, kArenaReleaseHook);
    auto malloc = declareFunction(module, b, loc, "malloc",
                                  LLVM::LLVMFunctionType::get(ptr, {i64}));
    auto free = declareFunction(module, b, loc, "free",
                                LLVM::LLVMFunctionType::get(voidType, {ptr}));
    Value null;
    auto hookUnset = [&](StringRef hook, Value &loaded) {
      loaded = loadHookGlobal(b, loc, hook);
      null = LLVM::ZeroOp::create(b, loc, ptr);
      return LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, loaded,
                                  null);
    };

    // acquire(bytes): the runtime's frame, else a malloc of its own.
    {
      Block *entry = defineInternal(acquire, b);
      Block *hooked = acquire.addBlock(), *own = acquire.addBlock(),
            *done = acquire.addBlock();
      done->addArgument(ptr, loc);
      Value bytes = entry->getArgument(0);
      b.setInsertionPointToStart(entry);
      Value hook;
      LLVM::CondBrOp::create(b, loc, hookUnset(kArenaHook, hook), own, hooked);

      b.setInsertionPointToStart(hooked);
      auto hookType = LLVM::LLVMFunctionType::get(ptr, {ptr, i64});
      Value frame =
          LLVM::CallOp::create(
              b, loc, hookType,
              ValueRange{hook, loadHookGlobal(b, loc, kCpuContextHook), bytes})
              .getResult();
      LLVM::BrOp::create(b, loc, ValueRange{frame}, done);

      // malloc's 16-byte alignment, padded to the plan's 64.
      b.setInsertionPointToStart(own);
      Value padded = LLVM::AddOp::create(
          b, loc, bytes,
          LLVM::ConstantOp::create(b, loc, i64, kArenaAlignment));
      Value raw =
          LLVM::CallOp::create(b, loc, malloc, ValueRange{padded}).getResult();
      LLVM::BrOp::create(b, loc, ValueRange{raw}, done);

      b.setInsertionPointToStart(done);
      Value d =
          arenaDescriptor(b, loc, descriptor, done->getArgument(0), bytes);
      LLVM::ReturnOp::create(b, loc, ValueRange{d});
    }

    // release(allocated, ...): back to the runtime, else free.
    {
      Block *entry = defineInternal(release, b);
      Block *hooked = release.addBlock(), *own = release.addBlock(),
            *done = release.addBlock();
      Value frame = entry->getArgument(0);
      b.setInsertionPointToStart(entry);
      Value hook;
      LLVM::CondBrOp::create(b, loc, hookUnset(kArenaReleaseHook, hook), own,
                             hooked);

      b.setInsertionPointToStart(hooked);
      auto hookType = LLVM::LLVMFunctionType::get(voidType, {ptr, ptr});
      LLVM::CallOp::create(
          b, loc, hookType,
          ValueRange{hook, loadHookGlobal(b, loc, kCpuContextHook), frame});
      LLVM::BrOp::create(b, loc, ValueRange{}, done);

      b.setInsertionPointToStart(own);
      LLVM::CallOp::create(b, loc, free, ValueRange{frame});
      LLVM::BrOp::create(b, loc, ValueRange{}, done);

      b.setInsertionPointToStart(done);
      LLVM::ReturnOp::create(b, loc, ValueRange{});
    }
  }
};

} // namespace

//===- CudaHostCalls.cpp - host side of the CUDA target --------*- C++ -*-===//
//
// The host code of a CUDA executable is an x86-64 shared object like the
// CPU target's, but it neither links nor names the CUDA driver: every
// kernel launch and every buffer allocation goes through function pointers
// in exported globals, which the runtime fills in after loading the
// library (runtime/CudaDevice.cpp):
//
//   void *strata_cuda_context;
//   void (*strata_cuda_launch)(void *ctx, int32_t kernel, int64_t gx,
//        int64_t gy, int64_t gz, int64_t bx, int64_t by, int64_t bz,
//        int32_t sharedBytes, void **params, int64_t numParams);
//   void *(*strata_cuda_alloc)(void *ctx, int64_t bytes);
//   void (*strata_cuda_free)(void *ctx, void *ptr);
//   void *(*strata_cuda_arena)(void *ctx, int64_t bytes);  // with a plan
//   void (*strata_cuda_arena_release)(void *ctx, void *frame);
//
// The last two serve strata-plan-memory's arena: a function's planned
// temporaries are views of one frame of a device arena the session keeps,
// pushed when the function starts and popped before it returns.
//
// Kernels are named by their index in the device module; the module's PTX
// and the kernels' names and block shapes are recorded as module
// attributes for the executable writer, and the gpu.binary is dropped.
//
//===----------------------------------------------------------------------===//

#include "codegen/LoweringUtils.h"
#include "codegen/cuda/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Matchers.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATACUDAHOSTCALLS
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {

constexpr StringLiteral kContext = STRATA_HOOK_CUDA_CONTEXT;
constexpr StringLiteral kLaunch = STRATA_HOOK_CUDA_LAUNCH;
constexpr StringLiteral kAlloc = STRATA_HOOK_CUDA_ALLOC;
constexpr StringLiteral kArena = STRATA_HOOK_CUDA_ARENA;
constexpr StringLiteral kArenaReleaseHook = STRATA_HOOK_CUDA_ARENA_RELEASE;
constexpr StringLiteral kFree = STRATA_HOOK_CUDA_FREE;

int64_t constantOr(Value v, int64_t otherwise) {
  APInt value;
  if (matchPattern(v, m_ConstantInt(&value)))
    return value.getSExtValue();
  return otherwise;
}

struct CudaHostCallsPass
    : public mlir::strata::impl::StrataCudaHostCallsBase<CudaHostCallsPass> {
  using Base::Base;

  /// Records the PTX and drops the gpu.binary ops.
  LogicalResult takeBinary(ModuleOp module, StringRef &moduleName) {
    SmallVector<gpu::BinaryOp> binaries(module.getOps<gpu::BinaryOp>());
    if (binaries.size() > 1)
      return module.emitError("expected one device module, found ")
             << binaries.size() << " (run strata-merge-gpu-modules)";
    if (binaries.empty())
      return success();
    gpu::BinaryOp binary = binaries.front();
    auto object = dyn_cast<gpu::ObjectAttr>(binary.getObjects()[0]);
    if (!object || object.getFormat() != gpu::CompilationTarget::Assembly)
      return binary.emitOpError("expected PTX assembly (gpu-module-to-binary "
                                "format=isa)");
    module->setAttr("strata.ptx", object.getObject());
    moduleName = binary.getName();
    binary.erase();
    return success();
  }

  LogicalResult lowerLaunch(gpu::LaunchFuncOp launch,
                            llvm::StringMap<int> &kernelIndex,
                            SmallVectorImpl<Attribute> &kernels) {
    MLIRContext *ctx = launch.getContext();
    OpBuilder b(launch);
    Location loc = launch.getLoc();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i32 = b.getI32Type(), i64 = b.getI64Type();
    StringRef name = launch.getKernelName().getValue();
    auto [it, inserted] =
        kernelIndex.try_emplace(name, static_cast<int>(kernels.size()));
    if (inserted) {
      SmallVector<int64_t> block{constantOr(launch.getBlockSizeX(), -1),
                                 constantOr(launch.getBlockSizeY(), -1),
                                 constantOr(launch.getBlockSizeZ(), -1)};
      kernels.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("name", b.getStringAttr(name)),
           b.getNamedAttr("block", b.getDenseI64ArrayAttr(block))}));
    }
    // Each operand in a stack slot; `params` points at the slots.
    ValueRange operands = launch.getKernelOperands();
    for (Value v : operands)
      if (!LLVM::isCompatibleType(v.getType()))
        return launch.emitOpError("kernel operand of non-LLVM type ")
               << v.getType() << " (run gpu-to-llvm first)";
    SmallVector<Type> slotTypes(operands.getTypes());
    auto slots = LLVM::LLVMStructType::getLiteral(ctx, slotTypes);
    Value one = LLVM::ConstantOp::create(b, loc, i64, 1);
    Value count = LLVM::ConstantOp::create(
        b, loc, i64, static_cast<int64_t>(operands.size()));
    Value slotMemory = LLVM::AllocaOp::create(b, loc, ptr, slots, one);
    Value params = LLVM::AllocaOp::create(b, loc, ptr, ptr, count);
    for (auto [i, v] : llvm::enumerate(operands)) {
      Value slot = LLVM::GEPOp::create(
          b, loc, ptr, slots, slotMemory,
          ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
      LLVM::StoreOp::create(b, loc, v, slot);
      Value entry =
          LLVM::GEPOp::create(b, loc, ptr, ptr, params,
                              ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
      LLVM::StoreOp::create(b, loc, slot, entry);
    }
    auto asI64 = [&](Value v) -> Value {
      if (v.getType() == i64)
        return v;
      return LLVM::ZExtOp::create(b, loc, i64, v);
    };
    Value shared = launch.getDynamicSharedMemorySize();
    if (!shared)
      shared = LLVM::ConstantOp::create(b, loc, i32, 0);
    auto fnType = LLVM::LLVMFunctionType::get(
        LLVM::LLVMVoidType::get(ctx),
        {ptr, i32, i64, i64, i64, i64, i64, i64, i32, ptr, i64});
    SmallVector<Value> args{loadHookGlobal(b, loc, kLaunch),
                            loadHookGlobal(b, loc, kContext),
                            LLVM::ConstantOp::create(b, loc, i32, it->second),
                            asI64(launch.getGridSizeX()),
                            asI64(launch.getGridSizeY()),
                            asI64(launch.getGridSizeZ()),
                            asI64(launch.getBlockSizeX()),
                            asI64(launch.getBlockSizeY()),
                            asI64(launch.getBlockSizeZ()),
                            shared,
                            params,
                            count};
    LLVM::CallOp::create(b, loc, fnType, args);
    launch.erase();
    return success();
  }

  /// Gives memref-to-llvm's generic allocation functions bodies that call
  /// the runtime's allocator.
  void defineAllocators(ModuleOp module) {
    MLIRContext *ctx = module.getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    for (auto func : llvm::to_vector(module.getOps<LLVM::LLVMFuncOp>())) {
      StringRef name = func.getName();
      bool alloc = name == "_mlir_memref_to_llvm_alloc";
      bool aligned = name == "_mlir_memref_to_llvm_aligned_alloc";
      bool release = name == "_mlir_memref_to_llvm_free";
      if (!(alloc || aligned || release) || !func.isExternal())
        continue;
      Location loc = func.getLoc();
      func.setLinkage(LLVM::Linkage::Internal);
      OpBuilder b(ctx);
      Block *entry = func.addEntryBlock(b);
      b.setInsertionPointToStart(entry);
      Value context = loadHookGlobal(b, loc, kContext);
      if (release) {
        auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                                {ptr, ptr});
        LLVM::CallOp::create(b, loc, type,
                             ValueRange{loadHookGlobal(b, loc, kFree), context,
                                        entry->getArgument(0)});
        LLVM::ReturnOp::create(b, loc, ValueRange());
        continue;
      }
      // Device allocations are 256-byte aligned, more than memrefs ask.
      Value bytes = entry->getArgument(aligned ? 1 : 0);
      auto type = LLVM::LLVMFunctionType::get(ptr, {ptr, i64});
      auto call = LLVM::CallOp::create(
          b, loc, type,
          ValueRange{loadHookGlobal(b, loc, kAlloc), context, bytes});
      LLVM::ReturnOp::create(b, loc, call.getResult());
    }
  }

  /// Gives strata-plan-memory's strata_arena_acquire and release bodies:
  /// device frames come from the runtime's `strata_cuda_arena(ctx, bytes)`
  /// and go back through `strata_cuda_arena_release(ctx, frame)` (a session
  /// arena; kernels on one stream run in order, so reusing it across calls
  /// and slots is safe).
  LogicalResult defineArena(ModuleOp module) {
    auto acquire = module.lookupSymbol<LLVM::LLVMFuncOp>(kArenaAcquire);
    if (!acquire || !acquire.isExternal())
      return success();
    MLIRContext *ctx = module.getContext();
    Location loc = acquire.getLoc();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    Type descriptor = acquire.getFunctionType().getReturnType();
    if (!isa<LLVM::LLVMStructType>(descriptor) ||
        acquire.getNumArguments() != 1)
      return acquire.emitOpError(
          "expected the lowered memref<?xi8> (index) signature");
    OpBuilder top = OpBuilder::atBlockBegin(module.getBody());
    createHookGlobal(top, loc, kArena);
    OpBuilder b(ctx);
    acquire.setLinkage(LLVM::Linkage::Internal);
    acquire.setVisibility(SymbolTable::Visibility::Public);
    Block *entry = acquire.addEntryBlock(b);
    b.setInsertionPointToStart(entry);
    Value bytes = entry->getArgument(0);
    auto type = LLVM::LLVMFunctionType::get(ptr, {ptr, i64});
    Value base = LLVM::CallOp::create(
                     b, loc, type,
                     ValueRange{loadHookGlobal(b, loc, kArena),
                                loadHookGlobal(b, loc, kContext), bytes})
                     .getResult();
    // Device allocations are 256-byte aligned: the plan's 64 holds.
    LLVM::ReturnOp::create(
        b, loc, ValueRange{arenaDescriptor(b, loc, descriptor, base, bytes)});

    auto release = module.lookupSymbol<LLVM::LLVMFuncOp>(kArenaRelease);
    if (!release || !release.isExternal() || release.getNumArguments() < 1 ||
        release.getArgumentTypes().front() != ptr)
      return module.emitError("strata-cuda-host-calls: ")
             << kArenaAcquire << " without a lowered " << kArenaRelease;
    createHookGlobal(top, loc, kArenaReleaseHook);
    release.setLinkage(LLVM::Linkage::Internal);
    release.setVisibility(SymbolTable::Visibility::Public);
    Block *releaseEntry = release.addEntryBlock(b);
    b.setInsertionPointToStart(releaseEntry);
    auto releaseType = LLVM::LLVMFunctionType::get(
        LLVM::LLVMVoidType::get(ctx), {ptr, ptr});
    LLVM::CallOp::create(b, loc, releaseType,
                         ValueRange{loadHookGlobal(b, loc, kArenaReleaseHook),
                                    loadHookGlobal(b, loc, kContext),
                                    releaseEntry->getArgument(0)});
    LLVM::ReturnOp::create(b, loc, ValueRange{});
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    StringRef moduleName;
    if (failed(takeBinary(module, moduleName)))
      return signalPassFailure();
    OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
    for (StringRef hook : {kContext, kLaunch, kAlloc, kFree})
      createHookGlobal(b, module.getLoc(), hook);
    llvm::StringMap<int> kernelIndex;
    SmallVector<Attribute> kernels;
    SmallVector<gpu::LaunchFuncOp> launches;
    module.walk([&](gpu::LaunchFuncOp op) { launches.push_back(op); });
    for (gpu::LaunchFuncOp launch : launches)
      if (failed(lowerLaunch(launch, kernelIndex, kernels)))
        return signalPassFailure();
    module->setAttr("strata.gpu_kernels", b.getArrayAttr(kernels));
    module->removeAttr("gpu.container_module");
    defineAllocators(module);
    if (failed(defineArena(module)))
      return signalPassFailure();
  }
};

} // namespace

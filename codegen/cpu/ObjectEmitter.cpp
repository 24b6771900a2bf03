//===- ObjectEmitter.cpp - LLVM dialect to an x86-64 object -----*- C++ -*-===//

#include "codegen/cpu/ObjectEmitter.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/TargetParser/X86TargetParser.h"
#include "llvm/Transforms/Utils/SplitModule.h"

using namespace mlir;
using namespace mlir::strata;

static constexpr const char *kTriple = "x86_64-unknown-linux-gnu";

void mlir::strata::registerCpuObjectTranslations(DialectRegistry &registry) {
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

std::pair<StringRef, std::string> mlir::strata::splitCpu(StringRef cpu) {
  auto [name, added] = cpu.split('+');
  std::string features;
  if (!added.empty()) {
    SmallVector<StringRef> list;
    added.split(list, '+');
    for (StringRef f : list)
      features += (features.empty() ? "+" : ",+") + f.str();
  }
  return {name, features};
}

/// `cpu`'s own features (without those they imply) and the added ones.
static SmallVector<StringRef> featuresOf(StringRef cpu) {
  SmallVector<StringRef> features;
  auto [name, added] = cpu.split('+');
  llvm::X86::getFeaturesForCPU(name, features);
  if (!added.empty())
    added.split(features, '+');
  return features;
}

bool mlir::strata::cpuHasVnni(StringRef cpu) {
  return llvm::is_contained(featuresOf(cpu), "avx512vnni");
}

bool mlir::strata::cpuHasBf16(StringRef cpu) {
  return llvm::is_contained(featuresOf(cpu), "avx512bf16");
}

int64_t mlir::strata::vectorBitsForCpu(StringRef cpu) {
  // The CPU's own features, without those they imply (x86-64-v4 lists
  // avx512bw but not avx512f): any AVX-512 or AVX feature decides.
  SmallVector<StringRef> features = featuresOf(cpu);
  auto any = [&](llvm::StringRef prefix) {
    return llvm::any_of(features, [&](llvm::StringRef f) {
      return f.starts_with(prefix);
    });
  };
  if (any("avx512"))
    return 512;
  if (any("avx"))
    return 256;
  return 128;
}

namespace {
/// The x86-64 target, after checking that `cpu` names one of its CPUs.
FailureOr<const llvm::Target *> lookupX86(ModuleOp module, StringRef cpu) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(kTriple), error);
  if (!target)
    return module.emitError("no x86-64 backend in this LLVM: ") << error;
  // LLVM only warns about unknown CPUs and later aborts; check first.
  if (llvm::X86::parseArchX86(splitCpu(cpu).first, /*Only64Bit=*/true) ==
      llvm::X86::CK_None)
    return module.emitError("unknown x86-64 CPU '")
           << cpu << "' (try x86-64, x86-64-v2, x86-64-v3, "
           << "x86-64-v4 or a name such as znver4)";
  return target;
}

/// One per thread: target machines are not shared between threads.
std::unique_ptr<llvm::TargetMachine>
createMachine(const llvm::Target *target, const CpuObjectOptions &options) {
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      llvm::Triple(kTriple), splitCpu(options.cpu).first,
      splitCpu(options.cpu).second,
      llvm::TargetOptions(), llvm::Reloc::PIC_, /*CM=*/std::nullopt,
      options.optLevel >= 2 ? llvm::CodeGenOptLevel::Default
                            : llvm::CodeGenOptLevel::None));
}

/// The x86-64 target and a machine for `options.cpu`; null after reporting
/// on `module` what is missing.
std::unique_ptr<llvm::TargetMachine>
setUpMachine(ModuleOp module, const CpuObjectOptions &options,
             const llvm::Target *&target) {
  FailureOr<const llvm::Target *> found = lookupX86(module, options.cpu);
  if (failed(found))
    return nullptr;
  target = *found;
  std::unique_ptr<llvm::TargetMachine> machine =
      createMachine(target, options);
  if (!machine)
    module.emitError("cannot create a target machine for CPU '")
        << options.cpu << "'";
  return machine;
}

/// `module` as LLVM IR in `context`, for `machine`'s target.
std::unique_ptr<llvm::Module> translate(ModuleOp module,
                                        llvm::LLVMContext &context,
                                        llvm::TargetMachine &machine,
                                        StringRef cpu) {
  // Parameter names and initialisers belong to the executable's parameter
  // table, not to LLVM IR (which has no place for them).
  module.walk([](LLVM::LLVMFuncOp func) {
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
      for (StringRef name : {"strata.param", "strata.init"})
        func.removeArgAttr(i, StringAttr::get(func.getContext(), name));
  });
  // Likewise the plan (the executable's plan table) and its device mesh.
  for (auto grid : llvm::make_early_inc_range(module.getOps<shard::GridOp>()))
    grid.erase();
  for (StringRef name : {"strata.parallel", "strata.training",
                         "strata.inference"})
    module->removeAttr(name);
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, context, "strata");
  if (!llvmModule)
    return nullptr;
  llvmModule->setTargetTriple(llvm::Triple(kTriple));
  llvmModule->setDataLayout(machine.createDataLayout());
  // As clang does: the IR records the CPU it was optimised for.
  auto [name, features] = splitCpu(cpu);
  for (llvm::Function &fn : *llvmModule)
    if (!fn.isDeclaration()) {
      fn.addFnAttr("target-cpu", name);
      if (!features.empty())
        fn.addFnAttr("target-features", features);
    }
  return llvmModule;
}

/// Optimises `llvmModule` and, unless `llvmIR`, compiles it to an object;
/// the IR text or the object goes to `out`. An error message on failure.
std::optional<std::string> optimizeAndEmit(llvm::Module &llvmModule,
                                           llvm::TargetMachine &machine,
                                           unsigned optLevel, bool llvmIR,
                                           std::string &out) {
  auto optimize =
      makeOptimizingTransformer(optLevel, /*sizeLevel=*/0, &machine);
  if (llvm::Error err = optimize(&llvmModule))
    return "LLVM optimisation failed: " + llvm::toString(std::move(err));
  llvm::raw_string_ostream os(out);
  if (llvmIR) {
    llvmModule.print(os, nullptr);
    return std::nullopt;
  }
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream objectStream(buffer);
  llvm::legacy::PassManager codegen;
  if (machine.addPassesToEmitFile(codegen, objectStream, nullptr,
                                  llvm::CodeGenFileType::ObjectFile))
    return std::string("the x86-64 backend cannot emit an object");
  codegen.run(llvmModule);
  os << llvm::StringRef(buffer.data(), buffer.size());
  return std::nullopt;
}
} // namespace

LogicalResult mlir::strata::emitCpuObject(ModuleOp module,
                                          const CpuObjectOptions &options,
                                          std::string &object, bool llvmIR) {
  const llvm::Target *target = nullptr;
  std::unique_ptr<llvm::TargetMachine> machine =
      setUpMachine(module, options, target);
  if (!machine)
    return failure();
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> llvmModule =
      translate(module, context, *machine, options.cpu);
  if (!llvmModule)
    return module.emitError("translation to LLVM IR failed");
  if (auto error = optimizeAndEmit(*llvmModule, *machine, options.optLevel,
                                   llvmIR, object))
    return module.emitError(*error);
  return success();
}

LogicalResult mlir::strata::emitCpuObjects(ModuleOp module,
                                           const CpuObjectOptions &options,
                                           SmallVectorImpl<std::string> &objects) {
  if (options.jobs <= 1)
    return emitCpuObject(module, options, objects.emplace_back());
  const llvm::Target *target = nullptr;
  std::unique_ptr<llvm::TargetMachine> machine =
      setUpMachine(module, options, target);
  if (!machine)
    return failure();
  // Partitions travel to their threads as bitcode: an LLVM context, and
  // everything in it, belongs to one thread.
  SmallVector<SmallVector<char, 0>> bitcode;
  {
    llvm::LLVMContext context;
    std::unique_ptr<llvm::Module> llvmModule =
        translate(module, context, *machine, options.cpu);
    if (!llvmModule)
      return module.emitError("translation to LLVM IR failed");
    unsigned functions = llvm::count_if(
        *llvmModule, [](llvm::Function &f) { return !f.isDeclaration(); });
    unsigned parts = std::max(1u, std::min(options.jobs, functions));
    llvm::SplitModule(
        *llvmModule, parts,
        [&](std::unique_ptr<llvm::Module> part) {
          llvm::raw_svector_ostream os(bitcode.emplace_back());
          llvm::WriteBitcodeToFile(*part, os);
        },
        /*PreserveLocals=*/false, /*RoundRobin=*/false);
  }
  objects.resize(bitcode.size());
  SmallVector<std::optional<std::string>> errors(bitcode.size());
  llvm::DefaultThreadPool pool(llvm::hardware_concurrency(bitcode.size()));
  for (size_t i = 0; i < bitcode.size(); ++i)
    pool.async([&, i] {
      llvm::LLVMContext context;
      auto part = llvm::parseBitcodeFile(
          llvm::MemoryBufferRef(
              llvm::StringRef(bitcode[i].data(), bitcode[i].size()), "part"),
          context);
      if (!part) {
        errors[i] = llvm::toString(part.takeError());
        return;
      }
      std::unique_ptr<llvm::TargetMachine> own =
          createMachine(target, options);
      errors[i] = optimizeAndEmit(**part, *own, options.optLevel,
                                  /*llvmIR=*/false, objects[i]);
    });
  pool.wait();
  for (const std::optional<std::string> &error : errors)
    if (error)
      return module.emitError(*error);
  return success();
}

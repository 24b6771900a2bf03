//===- ObjectEmitter.cpp - LLVM dialect to an x86-64 object -----*- C++ -*-===//

#include "codegen/cpu/ObjectEmitter.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/TargetParser/X86TargetParser.h"

using namespace mlir;
using namespace mlir::strata;

void mlir::strata::registerCpuObjectTranslations(DialectRegistry &registry) {
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

int64_t mlir::strata::vectorBitsForCpu(StringRef cpu) {
  // The CPU's own features, without those they imply (x86-64-v4 lists
  // avx512bw but not avx512f): any AVX-512 or AVX feature decides.
  llvm::SmallVector<llvm::StringRef> features;
  llvm::X86::getFeaturesForCPU(cpu, features);
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

LogicalResult mlir::strata::emitCpuObject(ModuleOp module,
                                          const CpuObjectOptions &options,
                                          std::string &object, bool llvmIR) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple("x86_64-unknown-linux-gnu");
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return module.emitError("no x86-64 backend in this LLVM: ") << error;
  // LLVM only warns about unknown CPUs and later aborts; check first.
  if (llvm::X86::parseArchX86(options.cpu, /*Only64Bit=*/true) ==
      llvm::X86::CK_None)
    return module.emitError("unknown x86-64 CPU '")
           << options.cpu << "' (try x86-64, x86-64-v2, x86-64-v3, "
           << "x86-64-v4 or a name such as znver4)";
  llvm::TargetOptions targetOptions;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, options.cpu, /*Features=*/"", targetOptions,
      llvm::Reloc::PIC_, /*CM=*/std::nullopt,
      options.optLevel >= 2 ? llvm::CodeGenOptLevel::Default
                            : llvm::CodeGenOptLevel::None));
  if (!machine)
    return module.emitError("cannot create a target machine for CPU '")
           << options.cpu << "'";

  // Parameter names and initialisers belong to the executable's parameter
  // table, not to LLVM IR (which has no place for them).
  module.walk([](LLVM::LLVMFuncOp func) {
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
      for (StringRef name : {"strata.param", "strata.init"})
        func.removeArgAttr(i, StringAttr::get(func.getContext(), name));
  });

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "strata");
  if (!llvmModule)
    return module.emitError("translation to LLVM IR failed");
  llvmModule->setTargetTriple(triple);
  llvmModule->setDataLayout(machine->createDataLayout());
  // As clang does: the IR records the CPU it was optimised for.
  for (llvm::Function &fn : *llvmModule)
    if (!fn.isDeclaration())
      fn.addFnAttr("target-cpu", options.cpu);
  auto optimize = makeOptimizingTransformer(options.optLevel,
                                            /*sizeLevel=*/0, machine.get());
  if (llvm::Error err = optimize(llvmModule.get()))
    return module.emitError("LLVM optimisation failed: ")
           << llvm::toString(std::move(err));

  llvm::raw_string_ostream os(object);
  if (llvmIR) {
    llvmModule->print(os, nullptr);
    return success();
  }
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream objectStream(buffer);
  llvm::legacy::PassManager codegen;
  if (machine->addPassesToEmitFile(codegen, objectStream, nullptr,
                                   llvm::CodeGenFileType::ObjectFile))
    return module.emitError("the x86-64 backend cannot emit an object");
  codegen.run(*llvmModule);
  os << llvm::StringRef(buffer.data(), buffer.size());
  return success();
}

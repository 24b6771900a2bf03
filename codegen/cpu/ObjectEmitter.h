//===- ObjectEmitter.h - LLVM dialect to an x86-64 object -------*- C++ -*-===//
//
// The last CPU codegen step: translate the LLVM-dialect module to LLVM IR,
// optimise it and emit an ELF object for x86-64 with LLVM's backend.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_CPU_OBJECTEMITTER_H
#define STRATA_CODEGEN_CPU_OBJECTEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <string>

namespace mlir::strata {

struct CpuObjectOptions {
  /// Target CPU: a portable baseline by default, since executables are
  /// compiled on one machine and run on another.
  std::string cpu = "x86-64-v2";
  unsigned optLevel = 2;
  /// Threads that optimise and generate code at once: the module is split
  /// into this many objects (fewer if it has fewer functions), each in its
  /// own LLVM context. 1: one object, on the calling thread.
  unsigned jobs = 1;
};

/// A CPU as Strata names kernel libraries: an llc -mcpu name, optionally
/// with LLVM features added (`x86-64-v4+avx512vnni`): the CPU and the
/// feature string ("+avx512vnni").
std::pair<StringRef, std::string> splitCpu(StringRef cpu);

/// The vector register width (128, 256 or 512 bits) of x86-64 CPU `cpu`
/// (llc's -mcpu names, optionally +features): 512 with AVX-512F, 256 with
/// AVX, else 128.
int64_t vectorBitsForCpu(StringRef cpu);

/// Whether `cpu` has AVX-512 VNNI (vpdpbusd), its own or added.
bool cpuHasVnni(StringRef cpu);

/// Whether `cpu` has AVX-512 BF16 (vdpbf16ps), its own or added.
bool cpuHasBf16(StringRef cpu);

/// Registers the LLVM IR translations the emitter needs on `registry`.
void registerCpuObjectTranslations(DialectRegistry &registry);

/// Emits `module` (in the LLVM dialect) as an object file into `object`, or
/// LLVM IR text when `llvmIR` is set. Errors are reported on the module.
LogicalResult emitCpuObject(ModuleOp module, const CpuObjectOptions &options,
                            std::string &object, bool llvmIR = false);

/// Like emitCpuObject, on `options.jobs` threads: the module is split into
/// linkable partitions (whole functions; locals a partition shares with
/// another become hidden globals), each optimised and compiled on its own.
/// Link the objects together (linkSharedObject).
LogicalResult emitCpuObjects(ModuleOp module, const CpuObjectOptions &options,
                             SmallVectorImpl<std::string> &objects);

} // namespace mlir::strata

#endif // STRATA_CODEGEN_CPU_OBJECTEMITTER_H

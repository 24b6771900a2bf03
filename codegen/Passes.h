//===- Passes.h - Strata codegen passes and pipelines -----------*- C++ -*-===//

#ifndef STRATA_CODEGEN_PASSES_H
#define STRATA_CODEGEN_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::strata {

#define GEN_PASS_DECL
#include "codegen/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/Passes.h.inc"

/// Options of the CPU lowering pipeline.
struct CpuPipelineOptions {
  /// Stop after this stage: "linalg" (tensors), "loops" (buffers and scf)
  /// or "llvm" (the LLVM dialect).
  std::string stopAfter = "llvm";
  /// Vector register width of the target CPU (128, 256 or 512 bits):
  /// register tiles of x·Wᵀ are sized for it (vectorBitsForCpu).
  int64_t vectorBits = 128;
  /// The target has AVX-512 VNNI: int8 register tiles use vpdpbusd.
  bool vnni = false;
  /// The target has AVX-512 BF16: bf16 weights' tiles use vdpbf16ps.
  bool bf16Dot = false;
  /// Attention as strata_kernel.flash_attention lowered to row loops (online
  /// softmax) instead of materialised scores.
  bool flashAttention = true;
  /// Public functions become the runtime's packed `strata_entry_<name>`
  /// (runtime/abi.h); off, they keep their signatures (for mlir-runner).
  bool exportEntryPoints = true;
};

/// strata -> linalg on tensors -> one-shot bufferization -> loops -> LLVM.
/// Exactly what `strata-compile --target=cpu` runs; `strata-opt
/// --strata-lower-to-llvm-cpu` replays it.
LogicalResult buildCpuLoweringPipeline(OpPassManager &pm,
                                       const CpuPipelineOptions &options);

/// Options of the CUDA lowering pipeline.
struct CudaPipelineOptions {
  /// "linalg", "loops", "gpu" (kernels outlined, before NVVM) or "llvm"
  /// (PTX in the module attribute `strata.ptx`, host code in LLVM).
  std::string stopAfter = "llvm";
  /// Compute capability: 80, 89 or 90.
  int sm = 90;
  /// Threads per block of the mapped loop nests.
  int64_t blockSize = 256;
  /// CUDA toolkit root: libdevice (math functions) is linked from it.
  std::string cudaToolkit = "/usr/local/cuda";
  /// Attention as one fused kernel (a warp per query row, online softmax)
  /// instead of score, softmax and P·V kernels.
  bool flashAttention = true;
  /// Contractions, grouped expert GEMMs and flash attention as bf16
  /// mma.sync tiles with f32 accumulation.
  bool tensorCores = false;
};

/// The shared stages, then parallel loops -> gpu.launch -> outlined kernels
/// in one gpu.module -> NVVM -> PTX; host code -> LLVM with launches and
/// allocations routed through runtime hooks (strata-cuda-host-calls).
LogicalResult buildCudaLoweringPipeline(OpPassManager &pm,
                                        const CudaPipelineOptions &options);

/// Registers the interfaces and translations the pipelines need beyond the
/// dialects themselves (the NVVM target, LLVM IR translations).
void registerCodegenExtensions(DialectRegistry &registry);

/// One-shot bufferization of strata_kernel.flash_attention, strata_kernel.grouped_matmul
/// and strata_kernel.expert_sort (part of registerCodegenExtensions).
void registerDestinationBufferization(DialectRegistry &registry);

/// Registers the codegen passes and the `strata-lower-to-llvm-cpu` and
/// `strata-lower-to-nvvm-cuda` pipelines.
void registerCodegenPipelines();

} // namespace mlir::strata

#endif // STRATA_CODEGEN_PASSES_H

//===- Pipelines.cpp - the CPU and CUDA lowering pipelines ------*- C++ -*-===//
//
// One builder per target serves strata-compile and strata-opt, so the opt
// tool replays exactly what the compiler runs. Both targets share the
// pipeline up to buffers; the CPU then lowers linalg to sequential loops,
// CUDA to parallel loops mapped onto grids. Upstream stages are spelled as
// textual pipelines: they are stable across MLIR releases where C++
// factories move.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "codegen/cpu/Passes.h"
#include "codegen/cuda/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "passes/Passes.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::strata;

/// strata -> linalg on tensors -> buffers: what both targets share. Routed
/// experts become strata_kernel.expert_sort and strata_kernel.grouped_matmul over their
/// sorted rows, attention strata_kernel.flash_attention unless `flashAttention` is
/// off; each target lowers these ops on buffers.
static LogicalResult addBufferStages(OpPassManager &pm, bool stopAtLinalg,
                                     bool flashAttention,
                                     bool groupExpertsBackward) {
  pm.addPass(createStrataParamsToArguments());
  StrataConvertToLinalgOptions toLinalg;
  toLinalg.groupExperts = true;
  toLinalg.groupExpertsBackward = groupExpertsBackward;
  toLinalg.flashAttention = flashAttention;
  pm.addPass(createStrataConvertToLinalg(toLinalg));
  pm.addPass(createCanonicalizerPass());
  if (stopAtLinalg)
    return success();
  // Element-wise chains become one loop nest (one launch on the GPU).
  pm.addPass(createStrataFuseElementwise());
  pm.addPass(createCanonicalizerPass());
  if (failed(parsePassPipeline(
          "one-shot-bufferize{bufferize-function-boundaries "
          "function-boundary-type-conversion=identity-layout-map}",
          pm)))
    return failure();
  // Layer bodies' results become caller-owned out-params: no run-time
  // ownership checks, and the caller's frame holds them.
  pm.addPass(createStrataResultsToOutParams());
  pm.addPass(createCanonicalizerPass());
  if (failed(parsePassPipeline("buffer-deallocation-pipeline", pm)))
    return failure();
  pm.addPass(createStrataOrderGlobals());
  pm.addPass(createStrataCopiesToLinalg());
  return success();
}

/// The runtime's packed entry points, their layer calls rolled into loops.
static void addEntryPointStages(OpPassManager &pm) {
  pm.addPass(createStrataExportEntryPoints());
  pm.addPass(createStrataRollLayerCalls());
}

/// Host code (either target) from loops to the LLVM dialect.
static std::string hostToLLVM(StringRef memrefOptions, StringRef extra) {
  return ("expand-strided-metadata,lower-affine,convert-scf-to-cf,"
          "convert-vector-to-llvm,"
          "convert-math-to-llvm,convert-math-to-libm,finalize-memref-to-llvm{" +
          memrefOptions +
          "},convert-arith-to-llvm,convert-index-to-llvm,convert-cf-to-llvm,"
          "convert-func-to-llvm" +
          extra + ",reconcile-unrealized-casts")
      .str();
}

LogicalResult
mlir::strata::buildCpuLoweringPipeline(OpPassManager &pm,
                                       const CpuPipelineOptions &options) {
  StringRef stop = options.stopAfter;
  if (stop != "linalg" && stop != "loops" && stop != "llvm")
    return failure();
  if (failed(addBufferStages(pm, stop == "linalg", options.flashAttention,
                             /*groupExpertsBackward=*/true)))
    return failure();
  if (stop == "linalg")
    return success();
  pm.addPass(createStrataFlashAttentionLoops());
  pm.addPass(createStrataExpertSortLoops());
  pm.addPass(createStrataGroupedMatmulLoops());
  pm.addPass(createStrataCpuAllReduceCalls());
  pm.addPass(createStrataInterchangeReductions());
  pm.addPass(createStrataReassociateReductions());
  StrataRegisterTiledMatmulsOptions tiles;
  tiles.vectorBits = options.vectorBits;
  tiles.vnni = options.vnni;
  tiles.bf16Dot = options.bf16Dot;
  pm.addPass(createStrataRegisterTiledMatmuls(tiles));
  if (failed(parsePassPipeline("convert-linalg-to-parallel-loops,canonicalize",
                               pm)))
    return failure();
  pm.addPass(createStrataOutlineParallelLoops());
  pm.addPass(createStrataPlanMemory());
  pm.addPass(createCanonicalizerPass());
  if (stop == "loops")
    return success();
  if (options.exportEntryPoints)
    addEntryPointStages(pm);
  if (failed(parsePassPipeline(hostToLLVM("", ""), pm)))
    return failure();
  pm.addPass(createStrataCpuParallelHooks());
  pm.addPass(createStrataCpuArenaHook());
  pm.addPass(createStrataCpuCollectiveHooks());
  return success();
}

LogicalResult
mlir::strata::buildCudaLoweringPipeline(OpPassManager &pm,
                                        const CudaPipelineOptions &options) {
  StringRef stop = options.stopAfter;
  if (stop != "linalg" && stop != "loops" && stop != "gpu" && stop != "llvm")
    return failure();
  if (!llvm::is_contained({80, 89, 90}, options.sm))
    return failure();
  // The grouped backward's loop over the experts would run as one GPU
  // thread (sequential host code becomes a one-thread kernel): CUDA keeps
  // the dense backward until the weight gradient has a grouped kernel.
  if (failed(addBufferStages(pm, stop == "linalg", options.flashAttention,
                             /*groupExpertsBackward=*/false)))
    return failure();
  if (stop == "linalg")
    return success();
  StrataFlashAttentionKernelsOptions flash;
  flash.tensorCores = options.tensorCores;
  pm.addPass(createStrataFlashAttentionKernels(flash));
  pm.addPass(createStrataExpertSortKernel());
  StrataGroupedMatmulKernelsOptions grouped;
  grouped.tensorCores = options.tensorCores;
  pm.addPass(createStrataGroupedMatmulKernels(grouped));
  // Tiles first: with tensor cores they take x·Wᵀ with many rows, which
  // warp reductions would otherwise claim.
  StrataTiledMatmulsOptions tiles;
  tiles.tensorCores = options.tensorCores;
  pm.addPass(createStrataTiledMatmuls(tiles));
  pm.addPass(createStrataWarpReductions());
  if (failed(parsePassPipeline("convert-linalg-to-parallel-loops,canonicalize",
                               pm)))
    return failure();
  if (stop == "loops")
    return success();
  StrataMapLoopsToGpuOptions map;
  map.blockSize = options.blockSize;
  pm.addPass(createStrataMapLoopsToGpu(map));
  // After mapping, every top-level op left is host code: the arena call
  // and its views stay on the host, the kernels receive views.
  pm.addPass(createStrataPlanMemory());
  // Constants and index arithmetic move into the kernels (immediates,
  // strength-reduced division) instead of becoming kernel parameters.
  if (failed(parsePassPipeline(
          "gpu-launch-sink-index-computations,gpu-kernel-outlining", pm)))
    return failure();
  pm.addPass(createStrataMergeGpuModules());
  if (failed(parsePassPipeline(
          "gpu.module(scf-parallel-for-to-nested-fors,canonicalize)", pm)))
    return failure();
  if (stop == "gpu")
    return success();
  std::string device = llvm::formatv(
      "nvvm-attach-target{{chip=sm_{0} O=3},"
      "gpu.module(expand-strided-metadata,lower-affine,convert-scf-to-cf,"
      "convert-gpu-to-nvvm),reconcile-unrealized-casts,"
      "gpu-module-to-binary{{format=isa toolkit={1}}",
      options.sm, options.cudaToolkit);
  if (failed(parsePassPipeline(device, pm)))
    return failure();
  addEntryPointStages(pm);
  if (failed(parsePassPipeline(
          hostToLLVM("use-generic-functions", ",gpu-to-llvm"), pm)))
    return failure();
  pm.addPass(createStrataCudaHostCalls());
  return success();
}

namespace {
struct CpuPipelineCLOptions : PassPipelineOptions<CpuPipelineCLOptions> {
  Option<std::string> stopAfter{
      *this, "stop-after", llvm::cl::desc("Last stage: linalg, loops or llvm"),
      llvm::cl::init("llvm")};
  Option<int64_t> vectorBits{
      *this, "vector-bits",
      llvm::cl::desc("Vector register width of the target CPU (128, 256 or "
                     "512)"),
      llvm::cl::init(128)};
  Option<bool> flashAttention{
      *this, "flash-attention",
      llvm::cl::desc("Attention as row loops with an online softmax (else "
                     "materialised scores)"),
      llvm::cl::init(true)};
  Option<bool> vnni{*this, "vnni",
                    llvm::cl::desc("The target has AVX-512 VNNI (vpdpbusd)"),
                    llvm::cl::init(false)};
  Option<bool> bf16Dot{
      *this, "bf16-dot",
      llvm::cl::desc("The target has AVX-512 BF16 (vdpbf16ps)"),
      llvm::cl::init(false)};
  Option<bool> entryPoints{
      *this, "entry-points",
      llvm::cl::desc("Export public functions as the runtime's packed "
                     "strata_entry_<name> (off: keep their signatures, e.g. "
                     "for mlir-runner)"),
      llvm::cl::init(true)};
};
struct CudaPipelineCLOptions : PassPipelineOptions<CudaPipelineCLOptions> {
  Option<std::string> stopAfter{
      *this, "stop-after",
      llvm::cl::desc("Last stage: linalg, loops, gpu or llvm"),
      llvm::cl::init("llvm")};
  Option<int> sm{*this, "sm",
                 llvm::cl::desc("Compute capability: 80, 89 or 90"),
                 llvm::cl::init(90)};
  Option<std::string> toolkit{
      *this, "toolkit", llvm::cl::desc("CUDA toolkit root (for libdevice)"),
      llvm::cl::init("/usr/local/cuda")};
  Option<bool> flashAttention{
      *this, "flash-attention",
      llvm::cl::desc("Attention as one fused kernel (else materialised "
                     "scores)"),
      llvm::cl::init(true)};
  Option<bool> tensorCores{
      *this, "tensor-cores",
      llvm::cl::desc("Contractions and flash attention on bf16 mma.sync "
                     "tiles"),
      llvm::cl::init(false)};
};
} // namespace

void mlir::strata::registerCodegenExtensions(DialectRegistry &registry) {
  // gpu-module-to-binary serialises through #nvvm.target, which translates
  // the device module to LLVM IR.
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerDestinationBufferization(registry);
}

void mlir::strata::registerCodegenPipelines() {
  registerStrataCodegenPasses();
  registerStrataCpuPasses();
  registerStrataCudaPasses();
  PassPipelineRegistration<CpuPipelineCLOptions>(
      "strata-lower-to-llvm-cpu",
      "Lower strata to the LLVM dialect for the CPU (what strata-compile "
      "--target=cpu runs)",
      [](OpPassManager &pm, const CpuPipelineCLOptions &cl) {
        CpuPipelineOptions options;
        options.stopAfter = cl.stopAfter;
        options.vectorBits = cl.vectorBits;
        options.vnni = cl.vnni;
        options.bf16Dot = cl.bf16Dot;
        options.flashAttention = cl.flashAttention;
        options.exportEntryPoints = cl.entryPoints;
        if (failed(buildCpuLoweringPipeline(pm, options)))
          llvm::errs() << "strata-lower-to-llvm-cpu: unknown stop-after '"
                       << options.stopAfter << "'\n";
      });
  PassPipelineRegistration<CudaPipelineCLOptions>(
      "strata-lower-to-nvvm-cuda",
      "Lower strata to PTX kernels and LLVM-dialect host code for CUDA "
      "(what strata-compile --target=cuda runs)",
      [](OpPassManager &pm, const CudaPipelineCLOptions &cl) {
        CudaPipelineOptions options;
        options.stopAfter = cl.stopAfter;
        options.sm = cl.sm;
        options.cudaToolkit = cl.toolkit;
        options.flashAttention = cl.flashAttention;
        options.tensorCores = cl.tensorCores;
        if (failed(buildCudaLoweringPipeline(pm, options)))
          llvm::errs() << "strata-lower-to-nvvm-cuda: bad stop-after '"
                       << options.stopAfter << "' or sm " << options.sm
                       << " (80, 89 or 90)\n";
      });
}

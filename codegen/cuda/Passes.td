//===- Passes.td - Strata CUDA passes -------------------------------*- tablegen -*-===//
//
// Passes of the CUDA pipeline only: kernels, loop mapping, the device
// module and the host-side runtime hooks.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_CUDA_PASSES_TD
#define STRATA_CODEGEN_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def StrataFlashAttentionKernels
    : Pass<"strata-flash-attention-kernels", "mlir::ModuleOp"> {
  let summary = "Lower strata_kernel.flash_attention on buffers to one CUDA kernel";
  let description = [{
    Each strata_kernel.flash_attention becomes one gpu.launch in which a warp owns
    a (batch, head, query) row (grid-stride over rows): lane i keeps query
    elements and value accumulators i, i + 32, ... in registers, each
    key's score is the lanes' partial dot products combined by five xor
    shuffles, and the online-softmax state is uniform across the warp. Keys
    and values are read once per row with coalesced loads, the scores are
    never written to memory, and the whole attention is one launch.

    With `tensor-cores`, a block of 4 warps owns 64 queries of one (batch,
    head) and walks the keys in tiles of 64 staged in shared memory as
    bf16; each warp computes its 16 queries' scores with mma.sync
    (m16n8k16, f32 accumulators), applies the mask and the online softmax
    to them in registers, and feeds the probabilities, rounded to bf16, as
    the A fragments of P·V, whose f32 accumulators stay in registers.
  }];
  let options = [
    Option<"warpsPerBlock", "warps-per-block", "int64_t", "4",
           "Warps (query rows in flight) per block">,
    Option<"maxBlocks", "max-blocks", "int64_t", "65535",
           "Grid size cap (blocks then stride over the remaining rows)">,
    Option<"tensorCores", "tensor-cores", "bool", "false",
           "Tiles of 64 queries per 4-warp block with q·kᵀ and P·V as bf16 "
           "mma.sync (sm_80+), where head dims are multiples of 16 (q, k) "
           "and 8 (v) and the key and value tiles fit in 48 KiB of shared "
           "memory">,
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::gpu::GPUDialect",
    "mlir::LLVM::LLVMDialect", "mlir::math::MathDialect",
    "mlir::memref::MemRefDialect", "mlir::NVVM::NVVMDialect",
    "mlir::scf::SCFDialect",
  ];
}

def StrataMapLoopsToGpu : Pass<"strata-map-loops-to-gpu", "mlir::ModuleOp"> {
  let summary = "Turn each top-level parallel loop nest into a gpu.launch";
  let description = [{
    For the CUDA target. Each top-level `scf.parallel` of a function becomes
    a 1-D grid of `block-size`-thread blocks whose threads walk the
    linearised iteration space with a grid-stride loop, innermost dimension
    fastest, so consecutive threads touch consecutive elements. Sizes may be
    dynamic. Other top-level ops that read or write buffers (sequential
    loops) run as one-thread kernels, so the host never touches device
    memory; reads of constant globals are cloned into the kernels.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", "256",
           "Threads per block">,
    Option<"maxBlocks", "max-blocks", "int64_t", "65535",
           "Most blocks per launch; larger spaces are covered by the "
           "grid-stride loop">,
  ];
  let dependentDialects = [
    "mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
    "mlir::arith::ArithDialect",
  ];
}

def StrataWarpReductions : Pass<"strata-warp-reductions", "mlir::ModuleOp"> {
  let summary = "Give each output of a contiguous reduction its own warp";
  let description = [{
    For the CUDA target, on linalg ops on buffers at the top level of a
    function. An op with one reduction loop that every reading input walks
    as its innermost unit-stride dimension, and whose payload is
    `out = out ⊕ f(ins)` with ⊕ a float add, max or min, becomes a
    `gpu.launch` in which each warp computes one output: the lanes stride
    the reduction (coalesced loads), combine partial results with
    `gpu.shuffle xor`, and lane 0 folds in the output's initial value.
    Other linalg ops are left to strata-map-loops-to-gpu.

    A row epilogue joins the reduction's kernel: when the next op with
    memory effects is an all-parallel linalg.generic that reads the
    reduced buffer at its leading indices and runs one more dimension
    (RMSNorm's scaling by the row's sum of squares, a softmax's division
    by its sum), the warp that owns a reduced value goes on to compute
    that op's outputs for its row, lanes striding the extra dimension, so
    the two launches become one and the row is still in L1/L2.
  }];
  let options = [
    Option<"warpsPerBlock", "warps-per-block", "int64_t", "8",
           "Warps per block (outputs per block)">,
    Option<"maxBlocks", "max-blocks", "int64_t", "65535",
           "Most blocks per launch; warps stride over further outputs">,
    Option<"minReduction", "min-reduction", "int64_t", "32",
           "Static reductions shorter than this stay one thread per output">,
  ];
  let dependentDialects = [
    "mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
    "mlir::affine::AffineDialect", "mlir::memref::MemRefDialect",
  ];
}

def StrataTiledMatmuls : Pass<"strata-tiled-matmuls", "mlir::ModuleOp"> {
  let summary = "Shared-memory tiled kernels for A·B and x·Wᵀ contractions";
  let description = [{
    For the CUDA target, on linalg ops on buffers at the top level of a
    function: `C[.., m, n] += A[.., m, k] * B[.., k, n]` (f32, any batch
    dimensions, B read with n or k innermost) becomes a launch of 64x64
    output tiles. Each step along k stages 64x16 tiles of A and B in
    workgroup memory with bounds-checked, coalesced loads; each of the 256
    threads accumulates a 4x4 block in registers with `math.fma`. Batch
    dimensions map to the grid's z. x·Wᵀ (B read along k) takes tiles from
    16 rows; with fewer it is left to strata-warp-reductions, which runs
    next, and with a dynamic row count a host-side branch chooses between
    the tiles and one warp per output.

    With `tensor-cores` (sm_80+) the tile is computed by 4 warps with
    `nvvm.mma.sync` m16n8k16: operands rounded to bf16 when staged,
    accumulation in f32 (each warp a 32x32 quarter, 2x4 mma tiles).

    Inputs widened in the body (a quantized or narrow-weight product:
    int8 `sitofp`, bf16/f16 `extf` into f32) are widened as they are
    staged. int8 x int8 summed into i32 (`extsi`, `muli`, `addi`: w8a8's
    products) takes integer tiles: exact i32 multiply-adds, or with
    `tensor-cores` s8 `nvvm.mma.sync` m16n8k32 with i32 accumulators
    (64x32 int8 operand tiles per step).
  }];
  let options = [
    Option<"tensorCores", "tensor-cores", "bool", "false",
           "mma.sync tiles (bf16 with f32 accumulation, s8 with i32) "
           "instead of FMAs">,
  ];
  let dependentDialects = [
    "mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
    "mlir::memref::MemRefDialect", "mlir::math::MathDialect",
    "mlir::LLVM::LLVMDialect", "mlir::NVVM::NVVMDialect",
  ];
}

def StrataExpertSortKernel
    : Pass<"strata-expert-sort-kernel", "mlir::ModuleOp"> {
  let summary = "Lower strata_kernel.expert_sort on buffers to one CUDA kernel";
  let description = [{
    Each strata_kernel.expert_sort becomes one launch of one block with a thread
    per expert (whole warps, at most 1024; more experts are strided over
    the threads). Each thread counts its experts' pairs, thread 0
    prefix-sums the counts into the offsets, and each thread scatters its
    experts' pairs in pair order with its cursor in a register; barriers
    separate the phases. Every thread reads every pair's expert, but a
    warp's lanes read the same one at once (a broadcast).
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::gpu::GPUDialect",
    "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
  ];
}

def StrataGroupedMatmulKernels
    : Pass<"strata-grouped-matmul-kernels", "mlir::ModuleOp"> {
  let summary = "Lower strata_kernel.grouped_matmul on buffers to CUDA kernels";
  let description = [{
    Each strata_kernel.grouped_matmul becomes two launches behind a host-side
    branch on the row count P. With at least 8 rows per expert on average
    (P >= 8 E): 64x64 output tiles over each expert's segment of rows,
    with the tile bodies of strata-tiled-matmuls (f32 FMAs, or bf16
    mma.sync with `tensor-cores`; int8 rows and weights into i32: integer
    multiply-adds or s8 mma.sync; int8, bf16 or f16 weights with f32 rows
    widened as read); grid y enumerates ceil(P / 64) + E tile
    slots and each block finds its expert and row tile by scanning the
    offsets, so each tile of an expert's weights is read once per 64 of its
    rows. Otherwise (decode): one warp per output, the row's expert found
    by binary search of the offsets. init's zero fill is folded into both.
  }];
  let options = [
    Option<"tensorCores", "tensor-cores", "bool", "false",
           "mma.sync tiles (bf16 with f32 accumulation, s8 with i32) "
           "instead of FMAs">,
  ];
  let dependentDialects = [
    "mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
    "mlir::memref::MemRefDialect", "mlir::math::MathDialect",
    "mlir::LLVM::LLVMDialect", "mlir::NVVM::NVVMDialect",
  ];
}

def StrataMergeGpuModules : Pass<"strata-merge-gpu-modules", "mlir::ModuleOp"> {
  let summary = "Move all outlined kernels into one gpu.module";
  let description = [{
    One device module per executable: one PTX text, one cubin, one module
    load. Globals that outlining copied into several modules are kept once;
    launches are re-pointed at the merged module.
  }];
  let options = [
    Option<"moduleName", "module-name", "std::string",
           "\"strata_kernels\"", "Name of the merged module">,
  ];
  let dependentDialects = ["mlir::gpu::GPUDialect"];
}

def StrataCudaHostCalls : Pass<"strata-cuda-host-calls", "mlir::ModuleOp"> {
  let summary = "Route kernel launches and allocations through runtime hooks";
  let description = [{
    Runs on the LLVM-dialect host module after `gpu-to-llvm`. Each
    `gpu.launch_func` becomes an indirect call through the exported global
    `strata_cuda_launch` (kernel index, grid, block, shared bytes, packed
    parameters); memref allocations (finalize-memref-to-llvm with
    use-generic-functions) call `strata_cuda_alloc`/`strata_cuda_free`.
    The host library thus has no link-time dependency on CUDA. The PTX of
    the device module is moved to the module attribute `strata.ptx`, the
    kernels' names and block shapes to `strata.gpu_kernels`.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

#endif // STRATA_CODEGEN_CUDA_PASSES_TD

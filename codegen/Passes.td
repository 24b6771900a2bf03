//===- Passes.td - Strata codegen passes --------------------*- tablegen -*-===//

#ifndef STRATA_CODEGEN_PASSES_TD
#define STRATA_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def StrataConvertToLinalg : Pass<"strata-convert-to-linalg", "mlir::ModuleOp"> {
  let summary = "Lower strata compute ops to linalg, tensor, arith and math";
  let description = [{
    Applies the strata-to-linalg patterns of
    `codegen/Conversion/StrataToLinalg/` (one file per op family). Ops that
    have no lowering yet are an error at their location (naming the config
    line that produced them), unless `allow-partial` is set.
  }];
  let options = [
    Option<"allowPartial", "allow-partial", "bool", "false",
           "Leave ops without a lowering in place instead of failing">,
    Option<"groupExperts", "group-experts", "bool", "false",
           "Routed experts grouped by expert: the (token, slot) pairs "
           "counting-sorted by expert, then strata.grouped_matmul (one "
           "GEMM per expert over its rows; what both targets compile); "
           "otherwise each pair gathers its expert's weights">,
    Option<"flashAttention", "flash-attention", "bool", "false",
           "Attention as strata.flash_attention (online softmax, no "
           "[B, H, S, T] scores), which the targets lower to loops or "
           "kernels; otherwise scores are materialised in linalg">,
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
    "mlir::math::MathDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect",
  ];
}

def StrataFuseElementwise : Pass<"strata-fuse-elementwise", "mlir::ModuleOp"> {
  let summary = "Fuse element-wise producers into consumers that read each "
                "element once";
  let description = [{
    Shared by both targets, on linalg ops on tensors. Applies upstream's
    element-wise producer/consumer fusion, restricted to operands the
    consumer indexes with a permutation of its loops: a chain of
    element-wise ops becomes one loop nest (one kernel on the GPU), and an
    element-wise producer of a reduction over the same iteration space (the
    square in a norm, the exp in a softmax sum) is folded into it, while a
    producer whose elements the consumer reads many times (SiLU(gate)·up
    feeding the down projection) keeps its own loop nest instead of being
    recomputed for every reader.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def StrataOrderGlobals : Pass<"strata-order-globals", "mlir::ModuleOp"> {
  let summary = "Name and order constant globals by first use";
  let description = [{
    Runs after bufferization, which creates a memref.global per dense
    tensor constant in an order that can differ between runs. Renames every
    global read by memref.get_global to `__constant_<n>`, n counting first
    uses in module order, and places them at the top of the module in that
    order, so that compiles are byte-identical.
  }];
}

def StrataResultsToOutParams
    : Pass<"strata-results-to-out-params", "mlir::ModuleOp"> {
  let summary = "Let callers allocate the buffers layer bodies return";
  let description = [{
    Runs between one-shot bufferization and buffer deallocation. For each
    private function whose every use is a call (the layer bodies), a
    returned buffer that the body allocated in its entry block, with
    dynamic sizes computed from the body's arguments by pure ops, becomes a
    trailing argument: every call site computes the sizes from its operands,
    allocates the buffer and passes it. A returned argument is replaced by
    the caller's operand. Callers then own every buffer they use, so
    deallocation needs no run-time ownership checks and the memory planner
    places the buffers in the caller's frame. Results it cannot move (an
    allocation in a nested region, sizes read from memory) stay results.
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect"];
}

def StrataCopiesToLinalg : Pass<"strata-copies-to-linalg", "mlir::ModuleOp"> {
  let summary = "Turn memref.copy into linalg.copy";
  let description = [{
    Bufferization copies between strided buffers (the decode function's
    cache extension) as memref.copy, which LLVM lowering turns into calls
    to MLIR's C runner library when layouts are not contiguous. As
    linalg.copy they become loops, and the kernel library stays free of
    dependencies beyond libc and libm.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def StrataReassociateReductions
    : Pass<"strata-reassociate-reductions", "mlir::ModuleOp"> {
  let summary = "Mark reduction payloads reassociable so LLVM vectorises them";
  let description = [{
    For the CPU target. Sets `fastmath<reassoc,contract>` on the float
    arithmetic inside the payload of every linalg op with a reduction loop
    (matmuls, norms, softmax sums), which lets LLVM's loop vectoriser split
    the reduction across vector lanes and use fused multiply-adds. Only
    summation order changes; element-wise ops are untouched.
  }];
  let dependentDialects = ["mlir::arith::ArithDialect"];
}

def StrataInterchangeReductions
    : Pass<"strata-interchange-reductions", "mlir::ModuleOp"> {
  let summary = "Move a strided innermost reduction outside a contiguous "
                "parallel loop";
  let description = [{
    For the CPU target. In a linalg op whose innermost loop is a reduction
    that some input reads with a stride (A·B with B row-major, attention's
    P·V), and whose output's innermost dimension every input reads
    contiguously, the reduction loop moves just outside that dimension's
    loop. The innermost loop then vectorises without reassociation; each
    output still accumulates in the original order.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def StrataRegisterTiledMatmuls
    : Pass<"strata-register-tiled-matmuls", "mlir::ModuleOp"> {
  let summary = "Compute x·Wᵀ contractions with register tiles of vector "
                "accumulators";
  let description = [{
    For the CPU target, on linalg ops on buffers. An op computing
    `C[p.., n] += A[p.., k] * W[n, k]` in f32 (a linear layer, the LM head,
    an expert's GEMM; W static, K a multiple of the vector width, N of 4,
    unit innermost strides; A and C contiguous when they have more than
    two dims) becomes one scf.parallel over MR x 4 output tiles (MR = 4
    with 512-bit vectors, 2 below): each step of the reduction loads MR
    rows of A and 4 of W as vectors and issues MR·4 `vector.fma` into
    loop-carried accumulators; each output then gets the sum of its
    accumulator's lanes added. Rows past the last full tile use 1 x 4
    tiles. Each row's four accumulators are lane-summed together by a
    pairwise-add shuffle tree and added to C with one vector load/store.

    An op computing `C[.., m, .., n] += A[.., m, .., k] * B[.., k, .., n]`
    (n innermost and unit-stride in B and C, static and a multiple of the
    vector width; m a loop C and A use and B does not; any other parallel
    loops batch the tiles, any indexing expressions in A and B) becomes
    outer products: per step of k, MR scalars of A broadcast against up to
    4 vectors of B's row, the accumulators (C's tile, loaded first and
    stored last) in registers for the whole reduction. Attention's P·V and
    plain A·B take this form. Only the summation order changes.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "int64_t", "128",
           "Vector register width of the target CPU: 128, 256 or 512">,
  ];
  let dependentDialects = [
    "mlir::scf::SCFDialect", "mlir::vector::VectorDialect",
    "mlir::memref::MemRefDialect", "mlir::arith::ArithDialect",
  ];
}

def StrataPlanMemory : Pass<"strata-plan-memory", "mlir::ModuleOp"> {
  let summary = "Place each function's temporary buffers in one arena frame";
  let description = [{
    On buffers (both targets; on CUDA after loop mapping, so the frame holds
    device memory). In every function with a body except the outlined
    parallel-loop bodies (entry points and layer bodies alike), the buffers
    allocated and freed in its top-level block (not its results) are
    assigned to slots of one frame, first fit over their lifetimes, so
    buffers alive at the same time never share a slot. Slot sizes (the
    largest buffer of the slot; they depend on the input shapes) and their
    64-byte aligned offsets are computed when the call starts, the frame is
    obtained once from `strata_arena_acquire(bytes)`, each allocation
    becomes a `memref.view` of it, the frees are dropped and
    `strata_arena_release(frame)` precedes each return: an entry's frame and
    those of the bodies it calls nest like a call stack. The plan is
    recorded as `strata.memory_plan = array<i64: buffers, slots, slot
    bytes...>` (-1 for a slot whose size depends on the shapes).
  }];
  let dependentDialects = [
    "mlir::func::FuncDialect", "mlir::memref::MemRefDialect",
    "mlir::arith::ArithDialect",
  ];
}

def StrataCpuArenaHook : Pass<"strata-cpu-arena-hook", "mlir::ModuleOp"> {
  let summary = "Give strata_arena_acquire and _release bodies that ask the "
                "runtime";
  let description = [{
    For the CPU target, on the LLVM dialect, after strata-plan-memory. A
    frame comes from the exported hook `strata_cpu_arena(ctx, bytes)` and
    goes back through `strata_cpu_arena_release(ctx, frame)` (the context in
    `strata_cpu_context`), which the runtime sets to its session's frame
    stack (runtime/FrameArena.h); while the hooks are null each frame is a
    malloc of its own, freed on release. The descriptor's aligned pointer is
    rounded up to 64 bytes.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

def StrataOutlineParallelLoops
    : Pass<"strata-outline-parallel-loops", "mlir::ModuleOp"> {
  let summary = "Move each top-level parallel loop nest into a function "
                "over a range of its iterations";
  let description = [{
    For the CPU target, on loops. Each top-level `scf.parallel` of a
    function (without reductions) becomes a private function
    `@<fn>_par<N>(%begin, %end, captures...)` that runs iterations
    [begin, end) of its linearised iteration space, called once over the
    whole space. Constants and constant globals are rebuilt inside instead
    of captured. A straight-line body (an element-wise nest) keeps its
    innermost dimension as a loop in each iteration, so it still
    vectorises. The function's `strata.parallel_cost` estimates the
    operations of one iteration (unknown trip counts count as 64), which
    lets the runtime keep small loops on the calling thread.
    strata-cpu-parallel-hooks then hands the range to the thread pool.
  }];
  let dependentDialects = [
    "mlir::func::FuncDialect", "mlir::scf::SCFDialect",
    "mlir::arith::ArithDialect",
  ];
}

def StrataCpuParallelHooks
    : Pass<"strata-cpu-parallel-hooks", "mlir::ModuleOp"> {
  let summary = "Run outlined parallel loops through the runtime's thread "
                "pool";
  let description = [{
    For the CPU target, on the LLVM dialect. Each call of a function that
    strata-outline-parallel-loops created stores its captures in a stack
    struct and calls the exported hook `strata_cpu_parallel_for(ctx, thunk,
    captures, iterations, costPerIteration)` (context in
    `strata_cpu_context`), where the thunk unpacks the captures and runs a
    range of iterations. The runtime sets both globals after loading the
    library; while the hook is null the whole range runs on the calling
    thread.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

def StrataExportEntryPoints
    : Pass<"strata-export-entry-points", "mlir::ModuleOp"> {
  let summary = "Give the model's functions the runtime's packed calling "
                "interface";
  let description = [{
    Rewrites every public function with a body (`forward`, `loss`, ...)
    into `strata_entry_<name>(!llvm.ptr args)`, the signature runtime/abi.h
    fixes: `args[0]` points at the results' memref descriptors laid out one
    after another, `args[1 + i]` at argument i's descriptor. Each argument's
    descriptor is loaded just before its first use; for a static shape only
    the two pointers are read (offset, sizes and strides follow from the
    type). Results are stored through `args[0]` before returning.

    Unlike `llvm.emit_c_interface`, no wrapper unpacks every descriptor into
    scalars for one call: a model with a thousand parameters would make that
    call, and LLVM's instruction selection of it, the slowest part of
    compiling the whole model. Only memref arguments and results are
    accepted. External declarations (libm) are untouched.
  }];
  let dependentDialects = ["mlir::LLVM::LLVMDialect"];
}

def StrataRollLayerCalls : Pass<"strata-roll-layer-calls", "mlir::ModuleOp"> {
  let summary = "Turn runs of calls to one layer body into a loop";
  let description = [{
    After strata-export-entry-points. In an entry point, three or more
    consecutive calls to the same body (with only pure ops between them)
    whose operands each follow a pattern in the layer index l become one
    `scf.for` over l: an operand is the same value for every call, or
    alternates between two values (activations ping-ponging between two
    arena slots; also `memref.view`s of one buffer whose offsets
    alternate), or is a pointer into the packed `args` that advances by a
    constant stride per layer (the layer's parameters). An entry point's
    code then grows with the number of distinct runs, not with the number
    of layers. Runs whose operands follow no pattern (decode's freshly
    allocated caches) stay as they are.
  }];
  let dependentDialects = [
    "mlir::scf::SCFDialect", "mlir::arith::ArithDialect",
    "mlir::memref::MemRefDialect", "mlir::LLVM::LLVMDialect",
  ];
}

def StrataFlashAttentionLoops
    : Pass<"strata-flash-attention-loops", "mlir::ModuleOp"> {
  let summary = "Lower strata.flash_attention on buffers to row loops";
  let description = [{
    For the CPU (and any target that runs plain loops). Each
    strata.flash_attention becomes one scf.parallel over (batch, head,
    block of 4 queries). The block's rows walk the union of their key
    ranges (causal and window masks bound it) together, so each key and
    value row is read once for 4 rows; a key a row must not see scores
    -inf there (weight 0). Per key and row: a dot product (reassociable, so
    LLVM vectorises it), the online softmax's running maximum and sum, and
    the row's accumulators (a stack buffer) rescaled when the maximum grows
    plus the weighted value row; each real row is divided by its sum at the
    end. Memory is O(output) instead of the [B, H, S, T] scores of the
    materialising lowering.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::math::MathDialect",
    "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
  ];
}

def StrataFlashAttentionKernels
    : Pass<"strata-flash-attention-kernels", "mlir::ModuleOp"> {
  let summary = "Lower strata.flash_attention on buffers to one CUDA kernel";
  let description = [{
    Each strata.flash_attention becomes one gpu.launch in which a warp owns
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
  }];
  let options = [
    Option<"tensorCores", "tensor-cores", "bool", "false",
           "bf16 mma.sync tiles with f32 accumulation instead of f32 FMAs">,
  ];
  let dependentDialects = [
    "mlir::gpu::GPUDialect", "mlir::scf::SCFDialect",
    "mlir::memref::MemRefDialect", "mlir::math::MathDialect",
    "mlir::LLVM::LLVMDialect", "mlir::NVVM::NVVMDialect",
  ];
}

def StrataExpertSortLoops : Pass<"strata-expert-sort-loops", "mlir::ModuleOp"> {
  let summary = "Lower strata.expert_sort on buffers to sequential loops";
  let description = [{
    For the CPU (and any target that runs plain loops). Each
    strata.expert_sort becomes four loops: count each expert's pairs into
    offsets[e + 1], prefix-sum them, scatter the pairs in pair order using
    offsets[e] as expert e's cursor, then shift the offsets back. O(P + E),
    no temporary.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::memref::MemRefDialect",
    "mlir::scf::SCFDialect",
  ];
}

def StrataExpertSortKernel
    : Pass<"strata-expert-sort-kernel", "mlir::ModuleOp"> {
  let summary = "Lower strata.expert_sort on buffers to one CUDA kernel";
  let description = [{
    Each strata.expert_sort becomes one launch of one block with a thread
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

def StrataGroupedMatmulLoops
    : Pass<"strata-grouped-matmul-loops", "mlir::ModuleOp"> {
  let summary = "Lower strata.grouped_matmul on buffers to one GEMM per group";
  let description = [{
    For the CPU (and any target that runs plain loops). Each
    strata.grouped_matmul becomes an scf.for over the groups (experts)
    whose body is the x·Wᵀ linalg contraction of the group's rows (a
    subview from offsets[e] to offsets[e + 1]) with its weight matrix,
    accumulating into the same rows of init. strata-register-tiled-matmuls
    and the thread pool then treat it like any linear layer.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
    "mlir::memref::MemRefDialect", "mlir::scf::SCFDialect",
  ];
}

def StrataGroupedMatmulKernels
    : Pass<"strata-grouped-matmul-kernels", "mlir::ModuleOp"> {
  let summary = "Lower strata.grouped_matmul on buffers to CUDA kernels";
  let description = [{
    Each strata.grouped_matmul becomes two launches behind a host-side
    branch on the row count P. With at least 8 rows per expert on average
    (P >= 8 E): 64x64 output tiles over each expert's segment of rows,
    with the tile bodies of strata-tiled-matmuls (f32 FMAs, or bf16
    mma.sync with `tensor-cores`); grid y enumerates ceil(P / 64) + E tile
    slots and each block finds its expert and row tile by scanning the
    offsets, so each tile of an expert's weights is read once per 64 of its
    rows. Otherwise (decode): one warp per output, the row's expert found
    by binary search of the offsets. init's zero fill is folded into both.
  }];
  let options = [
    Option<"tensorCores", "tensor-cores", "bool", "false",
           "bf16 mma.sync tiles with f32 accumulation instead of f32 FMAs">,
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

#endif // STRATA_CODEGEN_PASSES_TD

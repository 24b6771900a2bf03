//===- Passes.td - Strata CPU passes --------------------------------*- tablegen -*-===//
//
// Passes of the CPU pipeline only: loops, register tiles, parallel loops
// and the CPU runtime hooks.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_CPU_PASSES_TD
#define STRATA_CODEGEN_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

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
    two dims) becomes MR x 4 output tiles (MR = 4 with 512-bit vectors, 2
    below): each step of the reduction loads MR rows of A and 4 of W as
    vectors and issues MR·4 `vector.fma` into loop-carried accumulators;
    each output then gets the sum of its accumulator's lanes added. Rows
    past the last full tile use 1 x 4 tiles. Each row's four accumulators
    are lane-summed together by a pairwise-add shuffle tree and added to C
    with one vector load/store. The tiles are cache-blocked: one
    scf.parallel over blocks of 64 of W's rows; within a block, per chunk
    of the reduction (up to 512, a divisor of K) and per block of A's rows
    (half of L2 over the chunk), each 4-row tile of W runs over every row
    tile, so it is reused from L1 and A's block from L2, and each chunk's
    sums add into C. The rows left over after the whole row tiles (every
    row in decode) then run singly. With f32 weights each output runs
    alone, chunk by chunk with one accumulator, its lanes summed by the
    same pairwise tree, so W is read in address order, one sequential
    stream (a 98 MB head: 17.5 -> 24.6 GB/s on a host reading 28). Narrow
    weights run each column tile's chunks back to back, in 1 x 8 tiles
    where the block allows (a single row's 4 accumulators, one chained FMA
    each per step, cannot hide the FMA latency on narrow weights' short
    steps); the sums and their order are the same either way. A single
    row's tile over narrow (bf16, f16, int8) weights prefetches the next
    tile's rows as one contiguous block in address order, its share per
    step, instead of each row at the same k: eight short rows read
    interleaved do not stream at full bandwidth. Whole tiles do not
    prefetch W at all: its tile is reused from L1, and the prefetches
    only added L1 pressure. The chunking depends only
    on K, so a row's result does not depend on how many rows there are.

    An int8 contraction (`C[p.., n] += extsi(A[p.., k]) * extsi(W[n, k])`
    with C int32: w8a8-dynamic's quantized linear layers) takes the same
    tiles and blocking with steps of 2 x the lanes along k: MR rows of A and
    4 of W loaded as int8, sign-extended to i16 and multiplied pairwise
    into i32 lanes by `pmaddwd` (the `llvm.x86.*.pmadd.wd` intrinsic of the
    vector width); integer sums are exact, so their order does not matter.
    With `vnni` (AVX-512 VNNI, 512-bit vectors, K a multiple of 64) the
    steps are 4 x the lanes: A's int8 rows with their top bit flipped are
    uint8 (x + 128) multiplied by W's int8 four per i32 lane by `vpdpbusd`,
    and each W row's sum, accumulated the same way against ones, takes the
    128 back: `sum (x + 128) w - 128 sum w`. With `bf16-dot` (AVX-512
    BF16, 512-bit vectors, K a multiple of 32) x·Wᵀ with bf16 W steps 2 x
    the lanes: A's f32 rows rounded to bf16 and W's bf16 rows multiplied in
    pairs into f32 lanes by `vdpbf16ps` (only A's rounding changes the
    result: within bf16 tolerance).

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
    Option<"vnni", "vnni", "bool", "false",
           "The target has AVX-512 VNNI: int8 contractions use vpdpbusd">,
    Option<"bf16Dot", "bf16-dot", "bool", "false",
           "The target has AVX-512 BF16: x·Wᵀ with bf16 W rounds x to "
           "bf16 and uses vdpbf16ps">,
  ];
  let dependentDialects = [
    "mlir::scf::SCFDialect", "mlir::vector::VectorDialect",
    "mlir::memref::MemRefDialect", "mlir::arith::ArithDialect",
    "mlir::LLVM::LLVMDialect",
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

def StrataCpuAllReduceCalls
    : Pass<"strata-cpu-all-reduce-calls", "mlir::ModuleOp"> {
  let summary = "Lower strata_kernel.all_reduce on buffers to a runtime call";
  let description = [{
    For the CPU, on buffers. Each strata_kernel.all_reduce becomes a call of
    `strata_all_reduce_f32(memref<?xf32>)` on its buffer viewed as one
    dimension (a buffer with another layout is copied into a contiguous one
    and back); strata-cpu-collective-hooks gives that function its body.
    An expert-parallel program's strata_kernel.expert_route and
    strata_kernel.expert_exchange become calls of `strata_expert_route` and
    `strata_expert_exchange` (their attributes as i64 arguments, then their
    buffers as `memref<?xT>`, a view copied into a contiguous buffer and,
    when written, back).
  }];
  let dependentDialects = ["mlir::memref::MemRefDialect",
                           "mlir::func::FuncDialect"];
}

def StrataCpuCollectiveHooks
    : Pass<"strata-cpu-collective-hooks", "mlir::ModuleOp"> {
  let summary = "Give the collectives' functions bodies that ask the runtime";
  let description = [{
    For the CPU, on the LLVM dialect, after strata-cpu-all-reduce-calls.
    `strata_all_reduce_f32` calls the exported hook
    `strata_cpu_all_reduce(ctx, data, count)` (the context in
    `strata_cpu_context`), which the runtime binds to the session's
    tensor-parallel group; while the hook is null the data stay as they are
    (a group of one). `strata_expert_route` and `strata_expert_exchange`
    call `strata_cpu_expert_route` / `strata_cpu_expert_exchange` with
    their i64 arguments and each buffer as (pointer, element count), which
    the runtime binds to the session's expert-parallel group; while null,
    nothing is written. Modules without the functions are left alone.
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

def StrataFlashAttentionLoops
    : Pass<"strata-flash-attention-loops", "mlir::ModuleOp"> {
  let summary = "Lower strata_kernel.flash_attention on buffers to row loops";
  let description = [{
    For the CPU (and any target that runs plain loops). Each
    strata_kernel.flash_attention becomes one scf.parallel over (batch, head,
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

def StrataExpertSortLoops : Pass<"strata-expert-sort-loops", "mlir::ModuleOp"> {
  let summary = "Lower strata_kernel.expert_sort on buffers to sequential loops";
  let description = [{
    For the CPU (and any target that runs plain loops). Each
    strata_kernel.expert_sort becomes four loops: count each expert's pairs into
    offsets[e + 1], prefix-sum them, scatter the pairs in pair order using
    offsets[e] as expert e's cursor, then shift the offsets back. O(P + E),
    no temporary.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::memref::MemRefDialect",
    "mlir::scf::SCFDialect",
  ];
}

def StrataGroupedMatmulLoops
    : Pass<"strata-grouped-matmul-loops", "mlir::ModuleOp"> {
  let summary = "Lower strata_kernel.grouped_matmul on buffers to one GEMM per group";
  let description = [{
    For the CPU (and any target that runs plain loops). Each
    strata_kernel.grouped_matmul becomes an scf.for over the groups (experts)
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

#endif // STRATA_CODEGEN_CPU_PASSES_TD

//===- Passes.td - Strata codegen passes (both targets) -------------*- tablegen -*-===//
//
// Passes both targets run: strata -> linalg, fusion, bufferization
// helpers, memory plans and the runtime's entry points. Target-only passes
// live in cpu/Passes.td and cuda/Passes.td, so adding one rebuilds that
// target's files only.
//
//===----------------------------------------------------------------------===//

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
           "counting-sorted by expert, then strata_kernel.grouped_matmul (one "
           "GEMM per expert over its rows; what both targets compile); "
           "otherwise each pair gathers its expert's weights">,
    Option<"groupExpertsBackward", "group-experts-backward", "bool", "false",
           "With group-experts, the experts' backward grouped too (per "
           "expert: the products' transposes and a loop over the experts "
           "for the weights' gradients); otherwise every expert for every "
           "token (E / top_k times the work)">,
    Option<"flashAttention", "flash-attention", "bool", "false",
           "Attention as strata_kernel.flash_attention (online softmax, no "
           "[B, H, S, T] scores), which the targets lower to loops or "
           "kernels; otherwise scores are materialised in linalg">,
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
    "mlir::math::MathDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect", "mlir::strata::kernel::StrataKernelDialect",
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
    of layers; a run whose first call alone differs (a loss's zero
    balance-loss accumulator) is rolled from its second call. Runs whose
    operands follow no pattern stay as they are.
  }];
  let dependentDialects = [
    "mlir::scf::SCFDialect", "mlir::arith::ArithDialect",
    "mlir::memref::MemRefDialect", "mlir::LLVM::LLVMDialect",
  ];
}

#endif // STRATA_CODEGEN_PASSES_TD

//===- KernelOps.td - the strata_kernel dialect -------------*- tablegen -*-===//
//
// Kernel-level ops the strata-to-linalg lowering produces and each target
// lowers to its own loops or kernels: flash attention, the grouped expert
// GEMM and the expert sort. They live apart from the model dialect so that
// model-level passes (autodiff, sharding, quantization) see only model ops.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_KERNEL_OPS_TD
#define STRATA_KERNEL_OPS_TD

// #strata.block_sparse (flash attention's sparsity); no ops come with it.
include "dialect/StrataAttrs.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def StrataKernel_Dialect : Dialect {
  let name = "strata_kernel";
  let cppNamespace = "::mlir::strata::kernel";
  let summary = "Destination-style kernels that Strata's code generators lower";
  let description = [{
    The kernel-level forms of the model's attention and routed experts:
    `strata_kernel.flash_attention` (attention row by row with an online
    softmax), `strata_kernel.expert_sort` (the counting sort of routed
    pairs by expert) and `strata_kernel.grouped_matmul` (one GEMM per
    expert over its rows). `strata-convert-to-linalg` produces them from
    `strata.attention`, `strata.latent_attention` and `strata.moe_experts`;
    each target lowers them (loops on the CPU, kernels on CUDA), and
    `strata_kernel.all_reduce`, a tensor-parallel program's sum over its
    ranks (from `shard.all_reduce`), and `strata_kernel.expert_route` /
    `strata_kernel.expert_exchange`, an expert-parallel program's
    all-to-alls, which become runtime calls. They are
    destination style: on tensors they return the new value of their
    inits, after bufferization they write them in place.
  }];
  // Flash attention's block-sparse layout is a #strata attribute.
  let dependentDialects = ["::mlir::strata::StrataDialect"];
}

class Kernel_Op<string mnemonic, list<Trait> traits = []>
    : Op<StrataKernel_Dialect, mnemonic, traits>;

def Kernel_FlashAttentionOp : Kernel_Op<"flash_attention", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "attention row by row with an online softmax, into a "
                "destination";
  let description = [{
    The kernel-level form of `strata.attention` that the code generators
    lower instead of materialising the `[B, H, S, T]` scores: for each
    (batch, head, query) the keys are visited once, keeping the running
    maximum `m`, the running sum `l` of `exp(score - m)` and the weighted
    sum of values, rescaled by `exp(m_old - m_new)` whenever the maximum
    grows, and divided by `l` at the end. Heads are split:
    `q: [B, S, H, D]`, `k: [B, T, KV, D]`, `v: [B, T, KV, Dv]`,
    `init: [B, S, H, Dv]` (overwritten; its contents are not read), and
    query head `h` reads KV head `h / (H / KV)`. `causal`, `window`,
    `sparsity` and `key_padding` mask exactly as on `strata.attention`
    (queries aligned to the end of the keys); `scale` multiplies every
    score.

    Destination style: on tensors it returns the new value of `init`; after
    bufferization it operates on memrefs in place and returns nothing.

    Constraints: flash_c1 q, k, v and init are all tensors or all memrefs
    of f32, rank 4; flash_c2 KV divides H and q's head count is H;
    flash_c3 q and k have the same head dim, v and init the same value dim,
    init the shape [B, S, H, Dv] of q's batch, queries and heads, k and v
    the same batch, length and KV heads as each other and q's batch;
    flash_c4 window >= 1 when given, not together with sparsity;
    flash_c5 scale > 0; flash_c6 key_padding is rank 1 with q's batch;
    flash_c7 one result of init's type on tensors, none on memrefs;
    flash_c8 the head dims D and Dv are static.
  }];
  let arguments = (ins TensorOrMemRef<[F32]>:$q, TensorOrMemRef<[F32]>:$k,
      TensorOrMemRef<[F32]>:$v,
      Optional<TensorOrMemRef<[I32]>>:$key_padding,
      TensorOrMemRef<[F32]>:$init,
      F64Attr:$scale, BoolAttr:$causal, OptionalAttr<I64Attr>:$window,
      OptionalAttr<Strata_BlockSparseAttr>:$sparsity);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v
    (`key_padding` `(` $key_padding^ `:` type($key_padding) `)`)?
    `into` $init attr-dict `:` type($q) `,` type($k) `,` type($v) `,`
    type($init) (`->` type($result)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
  }];
}

def Kernel_GroupedMatmulOp : Kernel_Op<"grouped_matmul", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "rows times their group's transposed weight matrix, into a "
                "destination";
  let description = [{
    The kernel-level form of routed experts that the code generators lower:
    `rows: [P, D]` are sorted by group (expert), group `e` owning rows
    `offsets[e] <= r < offsets[e + 1]`, and each row is multiplied by its
    group's matrix of `weights: [E, N, D]`, transposed, and added to the
    destination:

        init[r, n] += sum_d rows[r, d] * weights[e, n, d]

    Each group's weights are read once per tile of its rows instead of once
    per row, which is what makes a mixture of experts cost one GEMM per
    expert. Weights stored in bf16 or f16 (--weights-dtype) or int8
    (--quantize: the caller applies the scales) are widened to f32 as they
    are read; the sums are f32. `offsets` (i32) must be non-decreasing, start at 0 and end at
    P, so that every row belongs to exactly one group (the kernels rely on
    it: they write each row once, folding init's fill); this is the
    caller's contract (the MoE lowering builds them from counts), not
    checked at run time.

    Destination style: on tensors it returns the new value of `init`; after
    bufferization it operates on memrefs in place and returns nothing.

    Int8 rows with int8 weights sum their products exactly into an i32
    init (w8a8-dynamic's quantized experts).

    Constraints: gmm_c1 rows, weights, offsets and init are all tensors or
    all memrefs, of ranks 2, 3, 1 and 2; gmm_c2 rows [P, D], weights
    [E, N, D], offsets [E + 1] and init [P, N]; gmm_c3 one result of
    init's type on tensors, none on memrefs; gmm_c4 D and N are static;
    gmm_c5 int8 rows go with int8 weights and an i32 init, f32 rows with
    an f32 init.
  }];
  let arguments = (ins TensorOrMemRef<[F32, I8]>:$rows,
      TensorOrMemRef<[F32, BF16, F16, I8]>:$weights, TensorOrMemRef<[I32]>:$offsets,
      TensorOrMemRef<[F32, I32]>:$init);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $rows `,` $weights `groups` `(` $offsets `)` `into` $init attr-dict `:`
    type($rows) `,` type($weights) `,` type($offsets) `,` type($init)
    (`->` type($result)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
  }];
}

def Kernel_ExpertSortOp : Kernel_Op<"expert_sort", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "counting sort of routed (token, slot) pairs by expert, into "
                "destinations";
  let description = [{
    The kernel-level routing step of grouped experts. From
    `indices: [P]` (i32, the router's selections in pair order: pair
    `t * top_k + j` is token t's j-th expert, each in `[0, num_experts)`)
    it computes, stably (an expert's pairs keep pair order):

    - `offsets: [num_experts + 1]`: `offsets[e]` is the number of pairs
      routed to experts below e, so expert e owns sorted rows
      `offsets[e] .. offsets[e + 1]` and `offsets[E]` counts the routed
      pairs (`P` when every id is in range);
    - `order: [P]`: sorted row r holds pair `order[r]`;
    - `position: [P]`: pair p lands in row `position[p]` (the inverse of
      `order`).

    An index outside `[0, num_experts)` routes its pair to no expert: the
    CPU sorts such pairs after every expert's rows (rows `offsets[E] .. P`,
    in pair order), so grouped products never compute them. An
    expert-parallel rank's rows carry -1 for experts held elsewhere. The
    CUDA kernel clamps such ids instead (no expert-parallel program runs
    there yet).

    Destination style: the three inits are overwritten (their contents are
    not read); on tensors the op returns their new values, after
    bufferization it writes them in place and returns nothing.

    Constraints: sort_c1 indices and the three inits are all rank-1 tensors
    or all rank-1 memrefs; sort_c2 num_experts >= 1 and offsets has
    num_experts + 1 elements, order and position the length of indices;
    sort_c3 three results of the inits' types on tensors, none on memrefs.
  }];
  let arguments = (ins TensorOrMemRef<[I32]>:$indices,
      TensorOrMemRef<[I32]>:$offsets_init, TensorOrMemRef<[I32]>:$order_init,
      TensorOrMemRef<[I32]>:$position_init, I64Attr:$num_experts);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $indices `into` $offsets_init `,` $order_init `,` $position_init
    attr-dict `:` type($indices) `,` type($offsets_init) `,`
    type($order_init) `,` type($position_init) (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() {
      return MutableOperandRange(getOperation(), 1, 3);
    }
  }];
}

def Kernel_AllReduceOp : Kernel_Op<"all_reduce", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "sums a tensor over the session's tensor-parallel ranks, in "
                "place";
  let description = [{
    The kernel-level form of the row-parallel products' `shard.all_reduce`
    (sum over the `tp` mesh axis): every rank of the session's
    tensor-parallel group ends with the element-wise sum of all the group's
    values of `init`. Each target lowers it to a call of the runtime's
    collective hook (the CPU's `strata_cpu_all_reduce`); without a runtime,
    or in a group of one, `init` keeps its values.

    Destination style, reading its init: on tensors it returns the sum (one
    result of init's type), after bufferization it sums the buffer in place
    and returns nothing. Every rank must reach the same all-reduces in the
    same order, which one SPMD program for all ranks gives.

    Constraints: allreduce_c1 init is a ranked tensor or memref of f32
    with one result of its type on tensors and none on memrefs.
  }];
  let arguments = (ins TensorOrMemRef<[F32]>:$init);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $init attr-dict `:` type($init) (`->` type($result)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
  }];
}

def Kernel_ExpertRouteOp : Kernel_Op<"expert_route", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "gathers the expert-parallel group's routing, localised";
  let description = [{
    The kernel form of `strata.expert_route`: from this rank's `weights`
    and `indices` (P = tokens * top_k pairs in row-major order, global
    expert ids) the group's G * P pairs in rank order, ids of this rank's experts
    (the `num_experts / G` from `rank * num_experts / G`) made local and
    every other id -1 with weight 0. Each target lowers it to the runtime's
    hook (the CPU's `strata_cpu_expert_route`, on the buffers flattened),
    which knows the group and the rank; G is the inits' size over P.

    Constraints: eroute_c1 weights and row_weights_init are f32, indices
    and row_indices_init i32, all ranked tensors or all memrefs;
    eroute_c2 the inits have the same shape, top_k and num_experts >= 1;
    eroute_c3
    two results of the inits' types on tensors, none on memrefs.
  }];
  let arguments = (ins TensorOrMemRef<[F32]>:$weights,
      TensorOrMemRef<[I32]>:$indices, TensorOrMemRef<[F32]>:$row_weights_init,
      TensorOrMemRef<[I32]>:$row_indices_init, I64Attr:$top_k,
      I64Attr:$num_experts);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $weights `,` $indices `into` $row_weights_init `,` $row_indices_init
    attr-dict `:` type($weights) `,` type($indices) `,`
    type($row_weights_init) `,` type($row_indices_init)
    (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() {
      return MutableOperandRange(getOperation(), 2, 2);
    }
  }];
}

def Kernel_ExpertExchangeOp : Kernel_Op<"expert_exchange", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "an expert-parallel all-to-all of token rows";
  let description = [{
    The kernel form of `strata.expert_dispatch` (`combine` false) and
    `strata.expert_combine` (`combine` true), row-major: `input` and
    `init` hold rows of `width` floats (their last dim), `indices` this rank's
    tokens' `top_k` global expert ids and `row_indices` the group's
    localised ones (from `strata_kernel.expert_route`). Dispatch writes the
    G * T rows (zero where no local expert was chosen), combine the T rows
    (sums of what came back). Each target lowers it to the runtime's hook
    (the CPU's `strata_cpu_expert_exchange`, on the buffers flattened).

    Constraints: eexch_c1 input and init are f32, indices and row_indices
    i32, all ranked tensors or all memrefs; eexch_c2 width, top_k and
    num_experts >= 1; eexch_c3 one result of init's type on tensors, none
    on memrefs.
  }];
  let arguments = (ins TensorOrMemRef<[F32]>:$input,
      TensorOrMemRef<[I32]>:$row_indices, TensorOrMemRef<[I32]>:$indices,
      TensorOrMemRef<[F32]>:$init, BoolAttr:$combine, I64Attr:$width,
      I64Attr:$top_k, I64Attr:$num_experts);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $input `,` $row_indices `,` $indices `into` $init attr-dict `:`
    type($input) `,` type($row_indices) `,` type($indices) `,` type($init)
    (`->` type($result)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    MutableOperandRange getDpsInitsMutable() { return getInitMutable(); }
  }];
}

#endif // STRATA_KERNEL_OPS_TD

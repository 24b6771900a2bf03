//===- StrataAttentionOps.td - attention ops ----------------*- tablegen -*-===//
//
// Scaled dot-product attention over packed heads (grouped KV, causal,
// sliding window, block-sparse) and DeepSeek's multi-head latent attention.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_ATTENTION_OPS_TD
#define STRATA_ATTENTION_OPS_TD

def Strata_AttentionOp : Strata_ComputeOp<"attention",
    [AttrSizedOperandSegments,
     DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "scaled dot-product attention with grouped KV heads";
  let description = [{
    `q: [B, S, num_heads * head_dim]`, `k: [B, T, num_kv_heads * head_dim]`,
    `v: [B, T, num_kv_heads * v_head_dim]`, result
    `[B, S, num_heads * v_head_dim]`. Query head `h` reads KV head
    `h / (num_heads / num_kv_heads)` (GQA; MQA when num_kv_heads is 1).
    Scores are `q.k * scale` (default `1/sqrt(head_dim)`), masked, then
    softmaxed in f32. Masks combine: `causal` (key position <= query
    position, with queries aligned to the end of the keys), `window` (key
    position > query position - window), `sparsity` (the block layout of
    `#strata.block_sparse`) and `key_padding`: `[B]` i32, the number of
    leading keys of each batch row that are padding, hidden from every
    other query of that row (a batch of left-padded sequences of different
    lengths). A padding position still sees itself, so the padding's
    outputs, and the keys and values later layers compute from them, stay
    finite; real positions never see padding.

    `dropout` is the probability of dropping an attention weight in
    training: with `step` (strata-autodiff gives it, and a `salt`, to the
    attention of the training variants) each normalised weight
    `P[b, h, s, t]` is kept with probability `1 - dropout` and scaled by
    `1 / (1 - dropout)`, as torch's `F.dropout` on the attention weights
    (the seed's `attention_dropout`). Keep or drop comes from the
    counter-based generator of `strata.dropout`: a hash of `seed`, `salt`,
    the step, the linear index of (b, h, s, t) in `[B, H, S, T]` and the
    bits of `q[b, s, h * head_dim]`, so the backward recomputes the same
    mask and layers sharing a body draw different ones. Without `step`
    (inference) there is no dropout.

    Constraints: attention_c1 num_heads, num_kv_heads, head_dim and
    v_head_dim are >= 1; attention_c2 num_kv_heads divides num_heads;
    attention_c3 the last dims of q, k and v are num_heads * head_dim,
    num_kv_heads * head_dim and num_kv_heads * v_head_dim;
    attention_c4 window >= 1 when given; attention_c5 window and sparsity
    are not both given; attention_c6 scale > 0 when given;
    attention_c7 q, k and v have rank 3 and the same batch, k and v the same
    length; attention_c8 0 <= dropout < 1; attention_c9 with a causal mask,
    at least as many keys as queries (when both lengths are static);
    attention_c10 key_padding is rank 1 with q's batch.
  }];
  let arguments = (ins Strata_FloatTensor:$q, Strata_FloatTensor:$k,
      Strata_FloatTensor:$v, Optional<Strata_IndexTensor>:$key_padding,
      Optional<Strata_StepTensor>:$step,
      I64Attr:$num_heads, I64Attr:$num_kv_heads, I64Attr:$head_dim,
      I64Attr:$v_head_dim,
      DefaultValuedAttr<BoolAttr, "true">:$causal,
      OptionalAttr<I64Attr>:$window,
      OptionalAttr<Strata_BlockSparseAttr>:$sparsity,
      OptionalAttr<F64Attr>:$scale,
      DefaultValuedAttr<F64Attr, "0.0">:$dropout,
      DefaultValuedAttr<I64Attr, "0">:$seed,
      DefaultValuedAttr<I64Attr, "0">:$salt);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v
    (`key_padding` `(` $key_padding^ `:` type($key_padding) `)`)?
    (`step` `(` $step^ `)`)?
    attr-dict `:` type($q) `,` type($k) `,` type($v)
  }];
  let extraClassDeclaration = [{
    /// The softmax scale: the attribute, or 1/sqrt(head_dim).
    double getSoftmaxScale();
    /// Keys one query reads on average in a sequence of `contextLength`.
    double getAttendedKeys(int64_t contextLength);
  }];
}

def Strata_LatentAttentionOp : Strata_ComputeOp<"latent_attention",
    [AttrSizedOperandSegments,
     DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "DeepSeek-V2/V3 multi-head latent attention";
  let description = [{
    Low-rank attention of DeepSeek-V2/V3, including its projections. With
    `q_lora_rank > 0` queries are `q_proj(rmsnorm(q_a_proj(x), q_a_norm))`,
    else `q_proj(x)`; each head's query is `qk_nope_head_dim` plain dims
    followed by `qk_rope_head_dim` rotary dims. `kv_a_proj(x)` gives a
    `kv_lora_rank` latent (normalised by `kv_a_norm`) and one shared
    `qk_rope_head_dim` rotary key; `kv_b_proj(latent)` expands it to each
    head's key (nope part) and value. Attention is causal with scale
    `softmax_scale` (default `1/sqrt(nope + rope)`, times the YaRN mscale
    squared when the rope attribute scales), and `o_proj` maps
    `num_heads * v_head_dim` back to hidden. Rotary dims are paired as in
    `strata.rotary` (`interleaved` for DeepSeek's checkpoints) at positions
    `positions[b, s]` when given, else `s`. Weight shapes (`[out, in]`,
    D = hidden, H = num_heads): `q_a_proj [q_lora_rank, D]`,
    `q_a_norm [q_lora_rank]`, `q_proj [H * (nope + rope), q_lora_rank or D]`,
    `kv_a_proj [kv_lora_rank + rope, D]`, `kv_a_norm [kv_lora_rank]`,
    `kv_b_proj [H * (nope + v_head_dim), kv_lora_rank]`,
    `o_proj [D, H * v_head_dim]`.

    With `cache(latent, rope_key)` the op is one decode step over a KV
    cache: `latent [B, T, kv_lora_rank]` (normalised by `kv_a_norm`) and
    `rope_key [B, T, qk_rope_head_dim]` (rotated) are those of all T
    positions so far, this call's S new ones last; keys and values are
    expanded from them instead of from `input` (which then only gives the
    queries, at `positions`), and the causal mask aligns the queries to the
    last S keys. What DeepSeek caches per token is thus kv_lora_rank +
    qk_rope_head_dim values instead of a key and a value per head.
    `key_padding` (`[B]` i32) hides each batch row's leading padding keys,
    as in `strata.attention`.

    Constraints: mla_c1 num_heads, kv_lora_rank, qk_nope_head_dim,
    qk_rope_head_dim and v_head_dim are >= 1, qk_rope_head_dim is even;
    mla_c2 q_a_proj and q_a_norm are given together, exactly when
    q_lora_rank > 0 (q_lora_rank >= 0); mla_c3 every weight has the shape
    listed above; mla_c4 input is rank 3 and positions, when given, [B, S]; mla_c5
    softmax_scale > 0 when given, and eps > 0; mla_c6 the cache's latent
    and rope key are `[B, T, kv_lora_rank]` and `[B, T, qk_rope_head_dim]`
    with the input's B and one T, and T >= S when both are static;
    mla_c7 key_padding is rank 1 with the input's batch.

    Gradient: the rule rebuilds the op from strata ops (`decompose`, which
    codegen lowers too: linear, rmsnorm, rotary, channel_slice,
    latent_kv_heads, attention) and runs their rules in reverse; the
    attention's backward recomputes the scores. Without a cache only (a
    decode step is not differentiated).
  }];
  let arguments = (ins Strata_FloatTensor:$input,
      Optional<Strata_IndexTensor>:$positions,
      Optional<Strata_FloatTensor>:$q_a_proj,
      Optional<Strata_FloatTensor>:$q_a_norm,
      Strata_FloatTensor:$q_proj,
      Strata_FloatTensor:$kv_a_proj, Strata_FloatTensor:$kv_a_norm,
      Strata_FloatTensor:$kv_b_proj, Strata_FloatTensor:$o_proj,
      Optional<Strata_FloatTensor>:$cached_latent,
      Optional<Strata_FloatTensor>:$cached_rope_key,
      Optional<Strata_IndexTensor>:$key_padding,
      I64Attr:$num_heads,
      DefaultValuedAttr<I64Attr, "0">:$q_lora_rank,
      I64Attr:$kv_lora_rank, I64Attr:$qk_nope_head_dim,
      I64Attr:$qk_rope_head_dim, I64Attr:$v_head_dim,
      Strata_RopeAttr:$rope,
      DefaultValuedAttr<BoolAttr, "false">:$interleaved,
      DefaultValuedAttr<BoolAttr, "true">:$causal,
      OptionalAttr<F64Attr>:$softmax_scale,
      DefaultValuedAttr<F64Attr, "1.0e-6">:$eps);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`positions` `(` $positions^ `)`)?
    (`q_a` `(` $q_a_proj^ `,` $q_a_norm `)`)? `q` `(` $q_proj `)`
    `kv_a` `(` $kv_a_proj `,` $kv_a_norm `)` `kv_b` `(` $kv_b_proj `)`
    `out` `(` $o_proj `)`
    (`cache` `(` $cached_latent^ `,` $cached_rope_key `)`)?
    (`key_padding` `(` $key_padding^ `)`)?
    attr-dict `:` type(operands)
  }];
  let extraClassDeclaration = [{
    /// The softmax scale: the attribute, or 1/sqrt(nope + rope) times the
    /// YaRN mscale(factor, mscale_all_dim) squared when the rope scales.
    double getAttentionScale();
    /// Builds the op from strata ops at `b`'s insertion point (q and kv
    /// projections, norms, rotary, channel_slice, latent_kv_heads,
    /// attention, o_proj) and returns its result; `ops`, when given,
    /// receives the ops in the order they were built.
    ::mlir::Value decompose(::mlir::OpBuilder &b,
        ::llvm::SmallVectorImpl<::mlir::Operation *> *ops = nullptr);
  }];
}

def Strata_LatentKVHeadsOp : Strata_Op<"latent_kv_heads",
    [Pure, DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "latent attention's per-head keys and values";
  let description = [{
    From the expanded latent `kv: [B, T, num_heads * (qk_nope_head_dim +
    v_head_dim)]` (each head's key nope part, then its value) and the one
    rotated rope key `rope_key: [B, T, rope]` that every head shares:
    `k: [B, T, num_heads * (qk_nope_head_dim + rope)]`, each head's
    `[k_nope | rope_key]`, and `v: [B, T, num_heads * v_head_dim]`. Part of
    `strata.latent_attention`'s decomposition; its gradient is
    `strata.latent_kv_heads_backward`.

    Constraints: mla_kv_c1 num_heads, qk_nope_head_dim and v_head_dim are
    >= 1; mla_kv_c2 kv, rope_key, k and v are rank 3 with one B and T, and
    last dims num_heads * (nope + v_head_dim), rope, num_heads * (nope +
    rope) and num_heads * v_head_dim (rope static).
  }];
  let arguments = (ins Strata_FloatTensor:$kv, Strata_FloatTensor:$rope_key,
      I64Attr:$num_heads, I64Attr:$qk_nope_head_dim, I64Attr:$v_head_dim);
  let results = (outs Strata_FloatTensor:$k, Strata_FloatTensor:$v);
  let assemblyFormat = [{
    $kv `,` $rope_key attr-dict `:` type($kv) `,` type($rope_key) `->`
    type($k) `,` type($v)
  }];
  let hasVerifier = 1;
}

#endif // STRATA_ATTENTION_OPS_TD

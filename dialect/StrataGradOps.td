//===- StrataGradOps.td - backward ops of the strata dialect -*- tablegen -*-===//
//
// What `strata-autodiff` emits where an op's gradient is more than a
// combination of forward ops. Each takes the forward op's inputs (the
// backward recomputes what it needs rather than storing it) and the
// gradient of its result.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_GRAD_OPS_TD
#define STRATA_GRAD_OPS_TD

class Strata_BackwardOp<string mnemonic, list<Trait> traits = []>
    : Strata_Op<mnemonic, !listconcat([Pure], traits)> {
  let hasVerifier = 1;
}

def Strata_LinearBackwardOp : Strata_BackwardOp<"linear_backward"> {
  let summary = "gradients of y = x W^T (+ b)";
  let description = [{
    From `input: [..., in]`, `weight: [out, in]` and `result_grad:
    [..., out]`: `input_grad = result_grad W` (`[..., in]`), `weight_grad =
    sum over the leading dims of result_grad^T input` (`[out, in]`) and,
    with `has_bias`, `bias_grad = sum over the leading dims of result_grad`
    (`[out]`). Also the backward of `lm_head`.
    Constraints: linear_bwd_c1 input and result_grad have the same rank and
    leading dims; linear_bwd_c2 the grads have the types of input, weight
    and [out].
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weight,
      Strata_FloatTensor:$result_grad, UnitAttr:$has_bias);
  let results = (outs Strata_FloatTensor:$input_grad,
      Strata_FloatTensor:$weight_grad,
      Optional<Strata_FloatTensor>:$bias_grad);
  let assemblyFormat = [{
    $input `,` $weight `,` $result_grad attr-dict `:` type($input) `,`
    type($weight) `,` type($result_grad) `->` type(results)
  }];
}

def Strata_RMSNormBackwardOp : Strata_BackwardOp<"rmsnorm_backward",
    [AllTypesMatch<["input", "result_grad", "input_grad"]>,
     AllTypesMatch<["weight", "weight_grad"]>]> {
  let summary = "gradients of rmsnorm";
  let description = [{
    With `r = rsqrt(mean(x^2) + eps)` per row and `g = result_grad *
    weight`: `input_grad = r g - x r^3 mean(g x)` and `weight_grad = sum
    over rows of result_grad x r`.
    Constraints: norm_c1 weight is rank 1 and matches the last dim of
    input; norm_c2 eps > 0.
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weight,
      Strata_FloatTensor:$result_grad,
      DefaultValuedAttr<F64Attr, "1.0e-6">:$eps);
  let results = (outs Strata_FloatTensor:$input_grad,
      Strata_FloatTensor:$weight_grad);
  let assemblyFormat = [{
    $input `,` $weight `,` $result_grad attr-dict `:` type($input) `,`
    type($weight)
  }];
}

def Strata_LayerNormBackwardOp : Strata_BackwardOp<"layernorm_backward",
    [AllTypesMatch<["input", "result_grad", "input_grad"]>,
     AllTypesMatch<["weight", "weight_grad", "bias_grad"]>]> {
  let summary = "gradients of layernorm";
  let description = [{
    With `xhat = (x - mean) * r`, `r = rsqrt(var + eps)` per row (biased
    variance) and `g = result_grad * weight`: `input_grad = r (g - mean(g)
    - xhat mean(g xhat))`, `weight_grad = sum over rows of result_grad
    xhat`, `bias_grad = sum over rows of result_grad` (the bias gradient is
    produced whether or not the forward had a bias).
    Constraints: norm_c1 weight is rank 1 and matches the last dim of
    input; norm_c2 eps > 0.
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weight,
      Strata_FloatTensor:$result_grad,
      DefaultValuedAttr<F64Attr, "1.0e-5">:$eps);
  let results = (outs Strata_FloatTensor:$input_grad,
      Strata_FloatTensor:$weight_grad, Strata_FloatTensor:$bias_grad);
  let assemblyFormat = [{
    $input `,` $weight `,` $result_grad attr-dict `:` type($input) `,`
    type($weight)
  }];
}

def Strata_EmbeddingBackwardOp : Strata_BackwardOp<"embedding_backward"> {
  let summary = "gradient of the embedding table (scatter-add)";
  let description = [{
    `table_grad[v, :] = sum over (b, s) with tokens[b, s] == v of
    result_grad[b, s, :]`: every row a token selected receives the sum of
    its positions' gradients; the others are zero. Token ids outside the
    table contribute nothing.
    Constraints: embedding_bwd_c1 result_grad is [batch, seq, hidden] over
    tokens [batch, seq]; embedding_bwd_c2 table_grad is [vocab, hidden].
  }];
  let arguments = (ins Strata_TokenTensor:$tokens,
      Strata_FloatTensor:$result_grad);
  let results = (outs Strata_FloatTensor:$table_grad);
  let assemblyFormat = [{
    $tokens `,` $result_grad attr-dict `:` type($tokens) `,`
    type($result_grad) `->` type($table_grad)
  }];
}

def Strata_CrossEntropyBackwardOp
    : Strata_BackwardOp<"cross_entropy_backward",
        [AllTypesMatch<["logits", "logits_grad"]>]> {
  let summary = "gradient of the mean token cross-entropy";
  let description = [{
    `logits_grad = loss_grad * (softmax(logits) - onehot(label)) / n` on
    rows whose label is not `ignore_index` (n of them), 0 on the others and
    everywhere when n is 0.
    Constraints: xent_c1 logits have rank labels + 1 and the same leading
    dims.
  }];
  let arguments = (ins Strata_FloatTensor:$logits, Strata_TokenTensor:$labels,
      Strata_ScalarF32:$loss_grad,
      DefaultValuedAttr<I64Attr, "-100">:$ignore_index);
  let results = (outs Strata_FloatTensor:$logits_grad);
  let assemblyFormat = [{
    $logits `,` $labels `,` $loss_grad attr-dict `:` type($logits) `,`
    type($labels) `,` type($loss_grad)
  }];
}

def Strata_ActivationBackwardOp : Strata_BackwardOp<"activation_backward",
    [AllTypesMatch<["input", "result_grad", "input_grad"]>]> {
  let summary = "gradient of silu or gelu";
  let description = [{
    `input_grad = result_grad * f'(input)` for `f` = `silu` or `gelu`
    (exact, or the tanh approximation with `approximate = tanh`).
    Constraints: act_bwd_c1 kind is silu or gelu.
  }];
  let arguments = (ins Strata_FloatTensor:$input,
      Strata_FloatTensor:$result_grad, StrAttr:$kind,
      DefaultValuedAttr<Strata_GeluApproximationAttr,
          "::mlir::strata::GeluApproximation::None">:$approximate);
  let results = (outs Strata_FloatTensor:$input_grad);
  let assemblyFormat = "$input `,` $result_grad attr-dict `:` type($input)";
}

def Strata_SwiGLUBackwardOp : Strata_BackwardOp<"swiglu_backward",
    [AllTypesMatch<["gate", "up", "result_grad", "gate_grad", "up_grad"]>]> {
  let summary = "gradients of silu(gate) * up";
  let description = [{
    `gate_grad = result_grad * up * silu'(gate)`, `up_grad = result_grad *
    silu(gate)`.
  }];
  let arguments = (ins Strata_FloatTensor:$gate, Strata_FloatTensor:$up,
      Strata_FloatTensor:$result_grad);
  let results = (outs Strata_FloatTensor:$gate_grad,
      Strata_FloatTensor:$up_grad);
  let assemblyFormat = "$gate `,` $up `,` $result_grad attr-dict `:` type($gate)";
  let hasVerifier = 0;
}

def Strata_AttentionBackwardOp : Strata_BackwardOp<"attention_backward",
    [AttrSizedOperandSegments,
     AllTypesMatch<["q", "q_grad"]>, AllTypesMatch<["k", "k_grad"]>,
     AllTypesMatch<["v", "v_grad"]>]> {
  let summary = "gradients of attention, recomputing the scores";
  let description = [{
    The backward of `strata.attention` with the same operands, attributes
    and masks, from `result_grad: [B, S, num_heads * v_head_dim]`. The
    probabilities `P` are recomputed from q and k rather than stored; with
    `step` and `dropout > 0` the forward's dropout mask is recomputed too,
    `M = keep / (1 - dropout)`. Then `v_grad = (P M)^T result_grad`,
    `dP = (result_grad v^T) M`, `dS = P (dP - rowsum(dP P))`,
    `q_grad = scale dS k`, `k_grad = scale dS^T q`, the query heads of a KV
    group summed into their KV head.
    Constraints: attention_c1-c7, c9, c10 as for attention;
    attention_bwd_c1 result_grad is [B, S, num_heads * v_head_dim].
  }];
  let arguments = (ins Strata_FloatTensor:$q, Strata_FloatTensor:$k,
      Strata_FloatTensor:$v, Strata_FloatTensor:$result_grad,
      Optional<Strata_IndexTensor>:$key_padding,
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
  let results = (outs Strata_FloatTensor:$q_grad, Strata_FloatTensor:$k_grad,
      Strata_FloatTensor:$v_grad);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $result_grad
    (`key_padding` `(` $key_padding^ `:` type($key_padding) `)`)?
    (`step` `(` $step^ `)`)?
    attr-dict `:` type($q) `,` type($k) `,` type($v) `,` type($result_grad)
  }];
  let extraClassDeclaration = [{
    /// The softmax scale: the attribute, or 1/sqrt(head_dim).
    double getSoftmaxScale();
  }];
}

def Strata_ChannelSliceBackwardOp : Strata_BackwardOp<"channel_slice_backward"> {
  let summary = "gradient of channel_slice: the slice placed among zeros";
  let description = [{
    `input_grad[..., c] = result_grad[..., c - offset]` for `offset <= c <
    offset + size` (size: result_grad's last dim) and 0 elsewhere;
    `input_grad` has the forward input's type.
    Constraints: slice_c1 and slice_c2 as for channel_slice, of
    input_grad and result_grad (input_grad's last dim static).
  }];
  let arguments = (ins Strata_FloatTensor:$result_grad, I64Attr:$offset);
  let results = (outs Strata_FloatTensor:$input_grad);
  let assemblyFormat = [{
    $result_grad attr-dict `:` type($result_grad) `->` type($input_grad)
  }];
}

def Strata_LatentKVHeadsBackwardOp
    : Strata_BackwardOp<"latent_kv_heads_backward"> {
  let summary = "gradients of latent_kv_heads";
  let description = [{
    From `k_grad: [B, T, H * (nope + rope)]` and `v_grad: [B, T, H *
    v_head_dim]`: `kv_grad` puts each head's key nope part and value back
    in `kv`'s layout (`[B, T, H * (nope + v_head_dim)]`), and
    `rope_key_grad: [B, T, rope]` sums the rope part of every head's key.
    Constraints: mla_kv_c1 and mla_kv_c2 as for latent_kv_heads, with
    kv_grad, rope_key_grad, k_grad and v_grad for kv, rope_key, k and v.
  }];
  let arguments = (ins Strata_FloatTensor:$k_grad, Strata_FloatTensor:$v_grad,
      I64Attr:$num_heads, I64Attr:$qk_nope_head_dim, I64Attr:$v_head_dim);
  let results = (outs Strata_FloatTensor:$kv_grad,
      Strata_FloatTensor:$rope_key_grad);
  let assemblyFormat = [{
    $k_grad `,` $v_grad attr-dict `:` type($k_grad) `,` type($v_grad) `->`
    type($kv_grad) `,` type($rope_key_grad)
  }];
}

def Strata_PoolingBackwardOp : Strata_BackwardOp<"pooling_backward"> {
  let summary = "a pooled gradient spread back over the sequence";
  let description = [{
    The transpose of classification_head's sequence pooling, per class:
    from the forward's `input: [B, S, D]` (for S) and `result_grad: [B,
    C]`, `spread: [B, S, C]` is `result_grad[b, c]` at `s = S - 1` and 0
    elsewhere (`last`), or `result_grad[b, c] / S` everywhere (`mean`).
    `linear_backward(input, weight, spread)` is then the head's backward.
    Constraints: pool_bwd_c1 input is rank 3, result_grad rank 2 with
    input's B, spread [B, S, C] with input's B and S and result_grad's C.
  }];
  let arguments = (ins Strata_FloatTensor:$input,
      Strata_FloatTensor:$result_grad,
      DefaultValuedAttr<Strata_PoolingAttr,
          "::mlir::strata::Pooling::Last">:$pooling);
  let results = (outs Strata_FloatTensor:$spread);
  let assemblyFormat = [{
    $input `,` $result_grad attr-dict `:` type($input) `,`
    type($result_grad) `->` type($spread)
  }];
}

def Strata_RouterBackwardOp : Strata_BackwardOp<"router_backward",
    [AllTypesMatch<["logits", "scores_grad", "logits_grad"]>]> {
  let summary = "gradient of the router's weights and scores";
  let description = [{
    From the router's `logits: [B, S, E]`, the `indices: [B, S, K]` it
    selected, and the gradients of its `weights` ([B, S, K]) and `scores`
    ([B, S, E]): the gradient of the logits. The selection itself (bias,
    groups, top-k) has no gradient; the selected experts' weights do,
    through the scoring (softmax or sigmoid), the renormalisation
    (`norm_topk_prob`) and `routed_scaling_factor`. With `step` the
    forward's noise (`noise_std`, `seed`, `salt`: the router's) is
    recomputed from the counter-based generator and added to `logits`
    first, so the backward sees the noisy logits the forward selected
    from; the noise is additive, so its gradient passes unchanged.
    Constraints: router_bwd_c1 indices and weights_grad are [B, S,
    top_k] and scores_grad is logits' type; router_c1/c2 as for router.
  }];
  let arguments = (ins Strata_FloatTensor:$logits, Strata_IndexTensor:$indices,
      Strata_FloatTensor:$weights_grad, Strata_FloatTensor:$scores_grad,
      Optional<Strata_StepTensor>:$step,
      I64Attr:$num_experts, I64Attr:$top_k,
      DefaultValuedAttr<Strata_RouterScoringAttr,
          "::mlir::strata::RouterScoring::Softmax">:$scoring,
      DefaultValuedAttr<BoolAttr, "false">:$norm_topk_prob,
      DefaultValuedAttr<F64Attr, "1.0">:$routed_scaling_factor,
      DefaultValuedAttr<F64Attr, "0.0">:$noise_std,
      DefaultValuedAttr<I64Attr, "0">:$seed,
      DefaultValuedAttr<I64Attr, "0">:$salt);
  let results = (outs Strata_FloatTensor:$logits_grad);
  let assemblyFormat = [{
    $logits (`step` `(` $step^ `)`)? `,` $indices `,` $weights_grad `,` $scores_grad attr-dict `:`
    type($logits) `,` type($indices) `,` type($weights_grad)
  }];
}

def Strata_MoEExpertsBackwardOp : Strata_BackwardOp<"moe_experts_backward",
    [AllTypesMatch<["input", "result_grad", "input_grad"]>,
     AllTypesMatch<["weights", "weights_grad"]>,
     AllTypesMatch<["gate_proj", "gate_proj_grad"]>,
     AllTypesMatch<["up_proj", "up_proj_grad"]>,
     AllTypesMatch<["down_proj", "down_proj_grad"]>]> {
  let summary = "gradients of the routed experts";
  let description = [{
    The backward of `strata.moe_experts` (without a capacity limit) from
    its operands and `result_grad: [B, S, D]`: the gradients of the input,
    of each selected expert's routing weight, and of the stacked expert
    weights (an expert's gradient sums over the tokens that selected it;
    unselected experts get zero).
    Constraints: moe_c1-c4 as for moe_experts.
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weights,
      Strata_IndexTensor:$indices, Strata_FloatTensor:$gate_proj,
      Strata_FloatTensor:$up_proj, Strata_FloatTensor:$down_proj,
      Strata_FloatTensor:$result_grad, I64Attr:$num_experts, I64Attr:$top_k);
  let results = (outs Strata_FloatTensor:$input_grad,
      Strata_FloatTensor:$weights_grad, Strata_FloatTensor:$gate_proj_grad,
      Strata_FloatTensor:$up_proj_grad, Strata_FloatTensor:$down_proj_grad);
  let assemblyFormat = [{
    $input `,` $weights `,` $indices `experts` `(` $gate_proj `,` $up_proj
    `,` $down_proj `)` `,` $result_grad attr-dict `:` type($input) `,`
    type($weights) `,` type($indices) `,` type($gate_proj) `,`
    type($up_proj) `,` type($down_proj)
  }];
}

def Strata_RouterAuxLossBackwardOp
    : Strata_BackwardOp<"router_aux_loss_backward",
        [AllTypesMatch<["scores", "scores_grad"]>]> {
  let summary = "gradient of the router balance loss";
  let description = [{
    With the forward's `f_e` (no gradient: counts of selections) and
    `P_e`: `scores_grad[t, e] = (g_e / Z_t - sum_e' g_e' scores[t, e'] /
    Z_t^2) / N`, where `g_e = loss_grad * coef * E * f_e`, `Z_t` is the
    token's score sum and N the number of tokens.
    Constraints: auxloss_c1, auxloss_c2 as for router_aux_loss.
  }];
  let arguments = (ins Strata_FloatTensor:$scores, Strata_IndexTensor:$indices,
      Strata_ScalarF32:$loss_grad, F64Attr:$coef);
  let results = (outs Strata_FloatTensor:$scores_grad);
  let assemblyFormat = [{
    $scores `,` $indices `,` $loss_grad attr-dict `:` type($scores) `,`
    type($indices) `,` type($loss_grad)
  }];
}

def Strata_DropoutBackwardOp : Strata_BackwardOp<"dropout_backward",
    [AllTypesMatch<["input", "result_grad", "input_grad"]>]> {
  let summary = "gradient of training-mode dropout";
  let description = [{
    `input_grad = result_grad * keep / (1 - p)`, with `keep` the mask
    `strata.dropout` drew for `input` at `step` (the same `p`, `seed` and
    `salt`): recomputed from the counter-based generator, never stored.
    `dropout_c1` as for dropout.
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_StepTensor:$step,
      Strata_FloatTensor:$result_grad, F64Attr:$p, I64Attr:$seed,
      I64Attr:$salt);
  let results = (outs Strata_FloatTensor:$input_grad);
  let assemblyFormat = [{
    $input `,` `step` `(` $step `)` `,` $result_grad attr-dict `:`
    type($input)
  }];
}

def Strata_SigmoidGateBackwardOp : Strata_BackwardOp<"sigmoid_gate_backward",
    [AllTypesMatch<["value", "result_grad", "value_grad"]>,
     AllTypesMatch<["logit", "logit_grad"]>]> {
  let summary = "gradients of value * sigmoid(logit)";
  let description = [{
    With `s = sigmoid(logit)` per token: `value_grad = result_grad * s`,
    `logit_grad = sum over the last dim of result_grad * value * s (1 - s)`.
    Constraints: gate_bwd_c1 logit is value's shape with a last dim of 1.
  }];
  let arguments = (ins Strata_FloatTensor:$value, Strata_FloatTensor:$logit,
      Strata_FloatTensor:$result_grad);
  let results = (outs Strata_FloatTensor:$value_grad,
      Strata_FloatTensor:$logit_grad);
  let assemblyFormat = [{
    $value `,` $logit `,` $result_grad attr-dict `:` type($value) `,`
    type($logit)
  }];
}

#endif // STRATA_GRAD_OPS_TD

//===- StrataMoEOps.td - mixture-of-experts ops -------------*- tablegen -*-===//
//
// The top-k router, the routed SwiGLU experts (only selected experts are
// computed) and the router balance loss. The gate projection itself is
// ordinary strata.linear (a linear gate, or the seed's d->hidden->E MLP gate
// with GELU), so it shards and quantizes like any projection.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_MOE_OPS_TD
#define STRATA_MOE_OPS_TD

def Strata_RouterOp : Strata_ComputeOp<"router",
    [AttrSizedOperandSegments,
     DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "top-k expert selection from gate logits";
  let description = [{
    From `logits: [B, S, E]`. With `step` (the training step's update
    number; strata-autodiff gives it to the routers of `loss_grad` whose
    `noise_std > 0`, with a `salt` each) Gaussian noise of standard
    deviation `noise_std` is added to every logit first: the noise of
    element i is a standard normal drawn by Box-Muller from the
    counter-based generator of `strata.dropout` (a splitmix64 hash of
    `seed`, `salt`, the step, i and the bits of the logit), so the backward
    recomputes it and layers sharing a body draw different noise. Everything
    below (scores, selection, weights, the `scores` result) sees the noisy
    logits. Without `step` (inference) there is no noise. Scores are `softmax(logits)` (V2) or
    `sigmoid(logits)` (V3). Selection uses `scores + bias` when a bias is
    given (V3's aux-loss-free balancing; the bias changes which experts win,
    not their weights). With `n_group > 1`, experts are split in `n_group`
    groups, each group is scored (its top score for softmax, the sum of its
    top-2 for sigmoid), and only the best `topk_group` groups compete. The
    top `top_k` scores are the weights, renormalised to sum to 1 when
    `norm_topk_prob`, then multiplied by `routed_scaling_factor`.

    Results: `weights [B, S, top_k]`, `indices [B, S, top_k]` (i32) and the
    full `scores [B, S, E]` for the balance loss.

    `balance` records how training balances load: `aux_loss` (add
    `strata.router_aux_loss` with `aux_loss_coef`) or `bias_update` (after
    each step the bias moves by `bias_update_rate` towards under-loaded
    experts).

    Constraints: router_c1 num_experts >= 1 and the last dim of logits is
    num_experts; router_c2 1 <= top_k <= num_experts; router_c3 n_group >= 1
    divides num_experts and 1 <= topk_group <= n_group; router_c4 top_k <=
    topk_group * (num_experts / n_group); router_c5 bias is rank 1 with
    num_experts elements; router_c6 noise_std >= 0, routed_scaling_factor > 0,
    aux_loss_coef >= 0, bias_update_rate >= 0.
  }];
  let arguments = (ins Strata_FloatTensor:$logits,
      Optional<Strata_FloatTensor>:$bias, Optional<Strata_StepTensor>:$step,
      I64Attr:$num_experts, I64Attr:$top_k,
      DefaultValuedAttr<Strata_RouterScoringAttr,
          "::mlir::strata::RouterScoring::Softmax">:$scoring,
      DefaultValuedAttr<BoolAttr, "false">:$norm_topk_prob,
      DefaultValuedAttr<F64Attr, "1.0">:$routed_scaling_factor,
      DefaultValuedAttr<I64Attr, "1">:$n_group,
      DefaultValuedAttr<I64Attr, "1">:$topk_group,
      DefaultValuedAttr<F64Attr, "0.0">:$noise_std,
      DefaultValuedAttr<I64Attr, "0">:$seed,
      DefaultValuedAttr<Strata_BalanceKindAttr,
          "::mlir::strata::BalanceKind::None">:$balance,
      DefaultValuedAttr<F64Attr, "0.0">:$aux_loss_coef,
      DefaultValuedAttr<F64Attr, "0.0">:$bias_update_rate,
      DefaultValuedAttr<I64Attr, "0">:$salt);
  let results = (outs Strata_FloatTensor:$weights,
      Strata_IndexTensor:$indices, Strata_FloatTensor:$scores);
  let assemblyFormat = [{
    $logits (`bias` `(` $bias^ `:` type($bias) `)`)? (`step` `(` $step^ `)`)?
    attr-dict `:` type($logits)
  }];
}

def Strata_MoEExpertsOp : Strata_ComputeOp<"moe_experts",
    [DeclareOpInterfaceMethods<StrataGradientOpInterface>],
    ["getActiveParamElements"]> {
  let summary = "routed SwiGLU experts, computed only for selected tokens";
  let description = [{
    `result[t] = sum_k weights[t, k] * expert_{indices[t, k]}(input[t])` with
    `expert_e(x) = down_e(silu(gate_e(x)) * up_e(x))`. Expert weights are
    stacked: `gate_proj, up_proj: [E, F, D]`, `down_proj: [E, D, F]`.
    Tokens are grouped by expert and each expert runs one GEMM over its
    tokens; no expert sees a token that did not select it. With
    `capacity_factor > 0` an expert takes at most
    `ceil(capacity_factor * tokens * top_k / E)` (token, expert) assignments
    in training, in token order and then slot order; the rest are dropped
    (they contribute nothing: the token keeps its other experts and the
    residual). `0` means no capacity limit. The op itself never applies the
    limit: strata-autodiff's training variants apply it by a
    `strata.expert_capacity` on the weights, and inference ignores it.

    Constraints: moe_c1 input is rank 3 [B, S, D]; moe_c2 weights and
    indices are [B, S, top_k]; moe_c3 gate_proj and up_proj are [E, F, D] and
    down_proj is [E, D, F] with E = num_experts; moe_c4 1 <= top_k <=
    num_experts; moe_c5 capacity_factor >= 0.
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weights,
      Strata_IndexTensor:$indices, Strata_FloatTensor:$gate_proj,
      Strata_FloatTensor:$up_proj, Strata_FloatTensor:$down_proj,
      I64Attr:$num_experts, I64Attr:$top_k,
      DefaultValuedAttr<F64Attr, "0.0">:$capacity_factor);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weights `,` $indices `experts` `(` $gate_proj `,` $up_proj `,`
    $down_proj `)` attr-dict `:` type(operands)
  }];
}

def Strata_ExpertCapacityOp : Strata_ComputeOp<"expert_capacity",
    [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "training's expert capacity limit as a mask on routing weights";
  let description = [{
    From the router's `weights, indices: [B, S, top_k]`: `kept` is
    `weights` with the dropped assignments zeroed, and `dropped` their
    number. With N = B * S tokens, each expert takes at most
    `C = ceil(capacity_factor * N * top_k / num_experts)` assignments,
    first come first served in the order (token, slot) -- token t = b * S + s,
    then k: assignment (t, k) to expert e is kept iff fewer than C earlier
    assignments went to e. The mask depends on `indices` only, so the
    gradient is the same mask on the gradient of `kept`. strata-autodiff
    puts it before each `strata.moe_experts` with a `capacity_factor > 0`
    in the training variants; the experts then see zero weight (and no
    gradient) for dropped assignments.

    Constraints: capacity_c1 weights and indices are [B, S, top_k];
    capacity_c2 num_experts >= 1 and capacity_factor > 0.
  }];
  let arguments = (ins Strata_FloatTensor:$weights, Strata_IndexTensor:$indices,
      I64Attr:$num_experts, F64Attr:$capacity_factor);
  let results = (outs Strata_FloatTensor:$kept, 0DTensorOf<[I32]>:$dropped);
  let assemblyFormat = [{
    $weights `,` $indices attr-dict `:` type($weights) `,` type($indices)
  }];
}

def Strata_ExpertLoadOp : Strata_ComputeOp<"expert_load"> {
  let summary = "how many (token, slot) assignments each expert received";
  let description = [{
    From the router's `indices: [B, S, top_k]`: `load[e]` is the number of
    assignments to expert e, over every token and slot (before any
    capacity limit). strata-autodiff counts each bias-balanced router's
    load in the training variants (`balance = bias_update`): `loss_grad`
    returns it per selection bias, and `strata.bias_balance` in
    `optimizer_step` moves the bias by it. Indices outside [0, E) count
    for no expert.

    Constraints: load_c1 indices are [B, S, top_k] and the result is
    [num_experts]; load_c2 num_experts >= 1.
  }];
  let arguments = (ins Strata_IndexTensor:$indices, I64Attr:$num_experts);
  let results = (outs 1DTensorOf<[I32]>:$load);
  let assemblyFormat = "$indices attr-dict `:` type($indices)";
}

def Strata_SigmoidGateOp : Strata_ComputeOp<"sigmoid_gate",
    [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "value * sigmoid(logit): a learned per-token gate";
  let description = [{
    Scales each token's `value [..., D]` by `sigmoid(logit [..., 1])`.
    Qwen2-MoE gates its shared expert this way, with the logit from a
    `strata.linear` to one output.

    Constraints: gate_c1 logit has the shape of value with a last dim of 1.
  }];
  let arguments = (ins Strata_FloatTensor:$value, Strata_FloatTensor:$logit);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat =
      "$value `,` $logit attr-dict `:` type($value) `,` type($logit)";
  let hasVerifier = 0;
}

def Strata_RouterAuxLossOp : Strata_ComputeOp<"router_aux_loss",
    [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "expert load-balance loss";
  let description = [{
    `coef * E * sum_e f_e * P_e`, where `f_e` is the fraction of the
    `tokens * top_k` selections that went to expert e and `P_e` the mean
    score of expert e (scores renormalised to sum to 1 per token).

    Constraints: auxloss_c1 scores are [B, S, E] and indices [B, S, top_k];
    auxloss_c2 coef >= 0.
  }];
  let arguments = (ins Strata_FloatTensor:$scores, Strata_IndexTensor:$indices,
      F64Attr:$coef);
  let results = (outs Strata_ScalarF32:$loss);
  let assemblyFormat = [{
    $scores `,` $indices attr-dict `:` type($scores) `,` type($indices)
  }];
}

//===----------------------------------------------------------------------===//
// Expert parallelism: routed experts split over the grid's `ep` axis.
// strata-expert-parallel rewrites each strata.moe_experts of an
// expert-parallel program into route -> dispatch -> the rank's own experts
// -> combine. With G ranks on the axis, rank c holds experts
// [c * E / G, (c + 1) * E / G); the exchanged "rows" are [G * B, S, W]:
// block p (rows p * B .. (p + 1) * B) stands for rank p's tokens in their
// own order, and a row is filled only where that token chose one of this
// rank's experts (zero elsewhere). Only those rows travel.
//===----------------------------------------------------------------------===//

def Strata_ExpertRouteOp : Strata_Op<"expert_route",
    [Pure, DeclareOpInterfaceMethods<StrataGradientOpInterface>,
     DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "every rank's routing, as this rank's experts see it";
  let description = [{
    From this rank's router results `weights, indices: [B, S, K]` (global
    expert ids in `[0, num_experts)`): `row_indices: [G * B, S, K]` holds,
    at row `p * B + b`, rank p's token `(b, s)` selections localised to
    this rank's experts (`id - c * E / G`), and -1 for selections of
    experts held elsewhere; `row_weights` the matching weights, 0 where the
    index is -1. The routing of the whole group is gathered (K weights and
    K ids per token, small next to the tokens themselves), so every rank
    knows which rows the dispatch will bring and the combine send back.
    Gradient: `d weights = strata.expert_combine(d row_weights)`.

    Constraints: ep_c1 weights and indices are [B, S, K] and the results
    [G * B, S, K] with G the size of axis `axis` of `grid` (checked with
    the grid's symbol); ep_c2 G divides num_experts.
  }];
  let arguments = (ins Strata_F32Tensor:$weights, Strata_IndexTensor:$indices,
      FlatSymbolRefAttr:$grid, I64Attr:$axis, I64Attr:$num_experts);
  let results = (outs Strata_F32Tensor:$row_weights,
      Strata_IndexTensor:$row_indices);
  let assemblyFormat = [{
    $weights `,` $indices `on` $grid `axis` $axis attr-dict `:`
    type($weights) `,` type($indices) `->` type($row_weights) `,`
    type($row_indices)
  }];
  let hasVerifier = 1;
}

def Strata_ExpertDispatchOp : Strata_Op<"expert_dispatch",
    [Pure, DeclareOpInterfaceMethods<StrataGradientOpInterface>,
     DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "all-to-all: tokens to the ranks holding their experts";
  let description = [{
    `rows: [G * B, S, W]`: row `p * B + b` is rank p's `input[b, s]` when
    `row_indices` (from `strata.expert_route`) has a local expert there,
    else 0. Each rank sends a token once to every rank holding one of its
    selected experts (`indices`, its own routing, says which) and receives
    the tokens `row_indices` says are coming: one all-to-all of only the
    rows needed. Gradient: `d input = strata.expert_combine(d rows)`.

    Constraints: ep_c1 indices are [B, S, K], row_indices [G * B, S, K],
    input [B, S, W] and the result [G * B, S, W] with G the size of axis
    `axis` of `grid`; ep_c2 G divides num_experts.
  }];
  let arguments = (ins Strata_F32Tensor:$input, Strata_IndexTensor:$row_indices,
      Strata_IndexTensor:$indices, FlatSymbolRefAttr:$grid, I64Attr:$axis,
      I64Attr:$num_experts);
  let results = (outs Strata_F32Tensor:$rows);
  let assemblyFormat = [{
    $input `,` $row_indices `,` $indices `on` $grid `axis` $axis attr-dict `:`
    type($input) `,` type($row_indices) `,` type($indices) `->` type($rows)
  }];
  let hasVerifier = 1;
}

def Strata_ExpertCombineOp : Strata_Op<"expert_combine",
    [Pure, DeclareOpInterfaceMethods<StrataGradientOpInterface>,
     DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "all-to-all back: expert outputs summed at their tokens' ranks";
  let description = [{
    The reverse of `strata.expert_dispatch`: each rank sends row
    `p * B + b` of `rows: [G * B, S, W]` back to rank p when `row_indices`
    has a local expert there, and `result[b, s]` is the sum of what the
    ranks holding token `(b, s)`'s experts (by `indices`) sent for it, 0
    when none did. Dispatch and combine are each other's adjoints, so the
    gradient is `d rows = strata.expert_dispatch(d result)`.

    Constraints: ep_c1 indices are [B, S, K], row_indices [G * B, S, K],
    rows [G * B, S, W] and the result [B, S, W] with G the size of axis
    `axis` of `grid`; ep_c2 G divides num_experts.
  }];
  let arguments = (ins Strata_F32Tensor:$rows, Strata_IndexTensor:$row_indices,
      Strata_IndexTensor:$indices, FlatSymbolRefAttr:$grid, I64Attr:$axis,
      I64Attr:$num_experts);
  let results = (outs Strata_F32Tensor:$result);
  let assemblyFormat = [{
    $rows `,` $row_indices `,` $indices `on` $grid `axis` $axis attr-dict `:`
    type($rows) `,` type($row_indices) `,` type($indices) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // STRATA_MOE_OPS_TD

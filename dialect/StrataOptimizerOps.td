//===- StrataOptimizerOps.td - the optimizer's ops -------------*- tablegen -*-===//
//
// What `strata-optimizer` builds `optimizer_step` from: the learning rate
// of a step, the gradients' global norm and one parameter's update. The
// hyper-parameters are attributes (from #strata.training), so the step
// compiles to straight-line code with no configuration read at run time.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_OPTIMIZER_OPS_TD
#define STRATA_OPTIMIZER_OPS_TD

def Strata_ScalarF32Buildable : 0DTensorOf<[F32]> {
  let builderCall = "::mlir::RankedTensorType::get({}, $_builder.getF32Type())";
}

def Strata_LrScheduleOp : Strata_Op<"lr_schedule", [Pure]> {
  let summary = "the learning rate of training step number `step` (1-based)";
  let description = [{
    `constant`: `lr`. `linear_warmup`: `lr * min(step, warmup_steps) /
    warmup_steps`, then `lr`. `linear_warmup_cosine_decay`: the warmup,
    then `lr * (r + (1 - r) * (1 + cos(pi * p)) / 2)` with `r =
    min_lr_ratio` and `p = (step - warmup_steps) / (total_steps -
    warmup_steps)` clamped to [0, 1], so that the rate ends at `lr * r` and
    stays there after `total_steps`.

    Constraints: lr_schedule_c1 lr > 0; lr_schedule_c2 warmup_steps >= 0;
    lr_schedule_c3 the cosine decay needs total_steps > warmup_steps;
    lr_schedule_c4 0 <= min_lr_ratio <= 1.
  }];
  let arguments = (ins Strata_StepTensor:$step, Strata_LrScheduleAttr:$schedule,
      F64Attr:$lr, I64Attr:$warmup_steps, I64Attr:$total_steps,
      F64Attr:$min_lr_ratio);
  let results = (outs Strata_ScalarF32:$result);
  let assemblyFormat = "$step attr-dict `:` type($step) `->` type($result)";
  let hasVerifier = 1;
}

def Strata_GlobalNormOp : Strata_Op<"global_norm", [Pure]> {
  let summary = "the L2 norm of all elements of all operands";
  let description = [{
    `sqrt(sum over every operand and element of x^2)`, accumulated in f32:
    the norm global-norm clipping compares with its threshold.

    Constraints: global_norm_c1 at least one operand.
  }];
  let arguments = (ins Variadic<Strata_FloatTensor>:$inputs);
  let results = (outs Strata_ScalarF32:$result);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs) `->` type($result)";
  let hasVerifier = 1;
}

def Strata_OptimizerUpdateOp : Strata_Op<"optimizer_update",
    [Pure, AllTypesMatch<["param", "grad"]>]> {
  let summary = "one parameter's update by AdamW, Lion or SGD";
  let description = [{
    Updates `param` from its gradient `grad` and its optimizer state at
    update number `step` (1-based: the updates applied so far, this one
    included; steps skipped for non-finite float16 gradients are not
    updates) with learning rate `lr`; returns the new
    parameter and the new state. With `max_grad_norm` > 0 the gradient is
    first scaled by `min(1, max_grad_norm / (grad_norm + 1e-6))` (global-norm
    clipping, as torch.nn.utils.clip_grad_norm_).

    - `adamw` (state: m, v): `p *= 1 - lr*wd; m = b1 m + (1-b1) g;
      v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t)
      + eps)` — torch.optim.AdamW.
    - `lion` (state: m): `p *= 1 - lr*wd; p -= lr * sign(b1 m + (1-b1) g);
      m = b2 m + (1-b2) g` — Chen et al. 2023.
    - `sgd` (state: the momentum buffer b, momentum `beta1`):
      `g += wd p; b = beta1 b + g; p -= lr b` — torch.optim.SGD with
      momentum and no dampening.

    Constraints: optimizer_update_c1 grad and every state have the type of
    param; optimizer_update_c2 the state count is the optimizer's (adamw 2,
    lion 1, sgd 1); optimizer_update_c3 0 <= beta1, beta2 < 1, eps > 0,
    weight_decay >= 0, max_grad_norm >= 0; optimizer_update_c4 the results
    have the types of param and the states.
  }];
  let arguments = (ins Strata_FloatTensor:$param, Strata_FloatTensor:$grad,
      Variadic<Strata_FloatTensor>:$state, Strata_StepTensor:$step,
      Strata_ScalarF32Buildable:$lr, Strata_ScalarF32Buildable:$grad_norm,
      Strata_OptimizerAttr:$optimizer, F64Attr:$weight_decay, F64Attr:$beta1,
      F64Attr:$beta2, F64Attr:$eps, F64Attr:$max_grad_norm);
  let results = (outs Strata_FloatTensor:$new_param,
      Variadic<Strata_FloatTensor>:$new_state);
  let assemblyFormat = [{
    $param `,` $grad `,` `state` `(` $state `)` `,` $step `,` $lr `,`
    $grad_norm attr-dict `:` type($param) `,` type($state) `->`
    type(results)
  }];
  let hasVerifier = 1;
}

def Strata_BiasBalanceOp : Strata_Op<"bias_balance",
    [Pure, AllTypesMatch<["bias", "new_bias"]>]> {
  let summary = "DeepSeek-V3's auxiliary-loss-free balancing of a selection bias";
  let description = [{
    `new_bias[e] = bias[e] + rate * sign(mean(load) - load[e])`: after each
    step an expert that received more than the mean number of assignments
    (`load`, from `strata.expert_load`, summed over the step's
    micro-batches) is made less attractive to selection by `rate`, one that
    received fewer more attractive, one exactly at the mean stays. The
    gradient plays no part (selection has none), and the bias is no weight
    to decay (DeepSeek-V3, section 2.1.2; the seed's `bias_update_rate`).

    Constraints: bias_balance_c1 bias is [E] and load is [E] i32;
    bias_balance_c2 rate >= 0.
  }];
  let arguments = (ins 1DTensorOf<[F32]>:$bias, 1DTensorOf<[I32]>:$load,
      F64Attr:$rate);
  let results = (outs 1DTensorOf<[F32]>:$new_bias);
  let assemblyFormat = [{
    $bias `,` $load attr-dict `:` type($bias) `,` type($load)
  }];
  let hasVerifier = 1;
}

#endif // STRATA_OPTIMIZER_OPS_TD

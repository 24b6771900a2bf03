//===- Passes.td - Strata passes ----------------------------*- tablegen -*-===//

#ifndef STRATA_PASSES_TD
#define STRATA_PASSES_TD

include "mlir/Pass/PassBase.td"

def StrataPrintStats : Pass<"strata-print-stats", "mlir::ModuleOp"> {
  let summary = "Print parameter counts and forward FLOPs per token";
  let description = [{
    Sums StrataCostOpInterface over the `forward` function (or the first
    function) and prints the totals and a per-layer breakdown, as JSON or a
    table, to stdout. With `plan`, also the per-rank report of the module's
    parallel plan (`#strata.parallel`): each pipeline stage's parameters
    and bytes of weights, gradients, optimizer state, activations and KV
    cache, and its collectives per step by mesh axis (docs/parallelism.md).
    The IR is unchanged. `strata-compile --stats` runs the same analyses.
  }];
  let options = [
    Option<"contextLength", "context-length", "int64_t", "2048",
           "Sequence length at which attention FLOPs are counted">,
    Option<"json", "json", "bool", "false", "Print JSON instead of a table">,
    Option<"plan", "plan", "bool", "false",
           "Also print the parallel plan's per-rank memory and communication">,
    Option<"recompute", "recompute", "std::string", "\"layer\"",
           "The plan's training steps recompute each layer in its backward "
           "(layer, strata-compile's default) or keep every activation "
           "(none)">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def StrataParamsToArguments
    : Pass<"strata-params-to-arguments", "mlir::ModuleOp"> {
  let summary = "Turn strata.param ops into function arguments";
  let description = [{
    Each `strata.param` becomes a trailing argument of its function, in
    order of first appearance, with the argument attributes
    `strata.param = "<name>"` and `strata.init = #strata.init<...>`, so a
    runtime binds weights by name. Parameters shared by several functions
    keep the same name in each. Needed before bufferization: parameters are
    then ordinary memref arguments.
  }];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def StrataMixedPrecision : Pass<"strata-mixed-precision", "mlir::ModuleOp"> {
  let summary = "bf16/f16 compute in a training loss: strata.round around "
                "the matrix products";
  let description = [{
    Makes each function in `functions` (by default `loss`) compute as a
    mixed-precision step does: the float operands and results of the ops
    that run in the narrow format (linear, attention, latent attention,
    the experts, the memory-compression module, both heads, and the
    embedding table) are rounded to it with `strata.round`; norms,
    activations, rotary, the residual adds, the router and the losses
    stay in f32, as under torch.autocast, and every op accumulates in
    f32. A value read by several such ops is rounded once. Parameters
    stay f32 (the master weights); each read rounds them, and through
    `strata.round`'s gradient rule their gradients are rounded too, so
    `strata-autodiff` run after this pass gives the mixed-precision
    backward. The functions the loss calls are cloned as
    `<name>_bf16` (`_f16`) and the clones called, so inference keeps its
    f32 layer bodies. `precision` is bf16, f16 or f32 (nothing to do);
    empty takes the module's `#strata.training` precision.
  }];
  let options = [
    ListOption<"functions", "functions", "std::string",
               "Loss functions to compute in mixed precision (default: loss)">,
    Option<"precision", "precision", "std::string", "\"\"",
           "bf16, f16 or f32; empty: the training plan's">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def StrataNarrowWeights : Pass<"strata-narrow-weights", "mlir::ModuleOp"> {
  let summary = "Store the matrix products' weights in bf16 or f16";
  let description = [{
    Retypes to `dtype` every parameter (by name, in every function) that is
    only ever read as the weight of a matrix product — `strata.linear`'s
    and `strata.lm_head`'s weight operand, `strata.moe_experts`' gate, up
    and down weights — following calls into layer
    bodies, whose arguments are retyped with it when every caller passes a
    narrowed weight there. The products widen each element as they read it
    and accumulate in f32; the executable's parameter table records the
    narrow dtype, so the runtime holds and loads those weights in it (a
    bf16 checkpoint without an f32 copy) and decode reads half the bytes.
    Everything else stays f32: embedding tables (and an LM head tied to
    one), norms, biases, the router's gate (a linear whose result feeds
    `strata.router`: its top-k choice is sensitive to rounding), and any
    parameter a training
    entry point differentiates. `dtype` f32 does nothing.
  }];
  let options = [
    Option<"dtype", "dtype", "std::string", "\"bf16\"",
           "bf16, f16 or f32 (nothing to do)">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def StrataQuantize : Pass<"strata-quantize", "mlir::ModuleOp"> {
  let summary = "Rewrite the linear layers into int8 quantized forms";
  let description = [{
    Post-training quantization, weights int8 symmetric per output channel.
    Every `strata.linear` whose weight parameter (by name, in every
    function, through calls into layer bodies as `strata-narrow-weights`
    follows them) is only read as a linear's weight becomes
    `strata.quantized_linear` with the `scheme`'s activations, and every
    `strata.moe_experts` whose stacked weights are only read by experts
    becomes `strata.quantized_moe_experts`: the weight parameter turns
    int8 and names its scales, a new f32 parameter `<weight>_scale`
    `[out]` (`[E, out]` for experts); layer bodies get a scale argument per int8
    weight argument, and every call passes it. The LM head is quantized
    only with `lm-head` (its logits pick the tokens); the router's gate
    (a linear feeding `strata.router`), norms, embeddings and anything else
    stay float, as does a weight also read by another op (an LM head tied
    to the embedding). The runtime fills the new parameters: it quantizes
    a float checkpoint as it loads it, or loads int8 weights and their
    scales (docs/quantization.md). Under the static `w8a8` scheme each
    int8 weight (but an up projection, whose rows gate quantizes) also
    names its products' activation parameters, `<module>.input_scale` and
    `<module>.input_zero_point` (`[1]`; `[E]` for experts), initialised to
    1 and 0 until calibrated, passed into layer bodies like the scales.
    `scheme` none does nothing.
  }];
  let options = [
    Option<"scheme", "scheme", "std::string", "\"w8a16\"",
           "w8a16 (int8 weights, float activations), w8a8_dynamic "
           "(activations quantized per token on the fly), w8a8 (static: "
           "activations quantized with calibrated parameters) or none">,
    Option<"lmHead", "lm-head", "bool", "false",
           "Quantize the LM head too">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def StrataCalibrationEntry
    : Pass<"strata-calibration-entry", "mlir::ModuleOp"> {
  let summary = "Add the entry point that observes static w8a8's activations";
  let description = [{
    When the module has static `w8a8` products (`strata-quantize
    scheme=w8a8`), adds `@<name>`: a copy of `@<from>` whose `w8a8`
    products run as `w8a16` (int8 weights, float activations) and which
    returns, in place of its results, the activations each product would
    quantize, so that the runtime can calibrate their scales and zero
    points on sample text (`strata-run quantize --calibration-data`). Each
    result carries `strata.result` and `strata.param` (the `input_scale`
    parameter it calibrates): `activations` for a `strata.quantized_linear`
    input, and for a `strata.quantized_moe_experts` two pairs of
    `expert_rows` (the rows sorted by expert: gate and up's inputs, then
    down's) and `expert_offsets` (each expert's first row), from
    `strata.quantized_moe_expert_inputs`. Layer bodies are cloned once
    each (`@<body>_calibrate`), returning their sites after their results;
    each call site names the parameters it binds. Without `w8a8` products
    the pass does nothing.
  }];
  let options = [
    Option<"from", "from", "std::string", "\"forward\"",
           "The forward entry point to copy">,
    Option<"name", "name", "std::string", "\"calibrate\"",
           "The new entry point's name">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def StrataShard : Pass<"strata-shard", "mlir::ModuleOp"> {
  let summary = "Split the layer bodies over the plan's tensor-parallel ranks";
  let description = [{
    With `#strata.parallel`'s `tp` above 1, annotates each layer body's
    weights in Megatron's layout — projections feeding attention (through
    rotary embeddings and the KV caches' concatenation) or a gated MLP's
    activation split by output features (`shard.sharding` split axes
    `[[tp]]`), projections reading attention's or the activation's result
    split by input features (`[[], [tp]]`) — and runs upstream
    `sharding-propagation` and `shard-partition` on it: through the strata
    ops' sharding interface each rank's program keeps its heads and its
    slice of the MLP, with one `shard.all_reduce` after each row-parallel
    product. Attention whose heads (query or KV) do not divide among the
    ranks keeps its projections whole; a MoE layer's shared experts split
    like an MLP and its routed experts by each expert's intermediate
    features; embeddings, norms, the LM head, routers and latent attention
    stay replicated. Callers follow:
    each split weight's (and a column-parallel product's bias's)
    `strata.param` takes the slice's type and
    `strata.shard_dim` / `strata.shard_count`, and entry arguments and
    results that became slices (decode's KV caches) change type.
    In place, training entry points are refused (not yet).

    With `beside`, what strata-compile runs for a plan with tp above 1: the
    module keeps its whole program (a world of one runs any plan) and gains
    the partitioned one beside it, pipeline stage 0's program: the
    inference entry points (`forward`, `decode`) and the bodies they call
    are cloned as `stage0.<name>` (entry clones marked `strata.stage = 0`)
    and only the clones are partitioned; training entry points stay whole.
    With `train` the loss is cloned too, before the train phase: strata-
    autodiff differentiates `stage0.loss` into `stage0.loss_grad` through
    the partitioned bodies, `shard.all_reduce` being the identity there and
    the `strata.enter_tensor_parallel` this pass puts on each replicated
    input of a column-parallel product summing its gradient over the
    ranks (Megatron's f and g). Cloned bodies that nothing splits, or
    that the upstream passes cannot partition (an op without a sharding
    interface), are dropped: the program calls the originals.

    With `beside` and pp above 1, after strata-pipeline: the stages'
    programs (`stage<N>.*`) are the tensor-parallel ones; the bodies they
    call are cloned as `tp.<name>` and partitioned the same way, and the
    stages' parameters become slices.
  }];
  let options = [
    Option<"beside", "beside", "bool", "false",
           "Partition clones of the inference entry points (stage0.<name>) "
           "and keep the whole program">,
    Option<"train", "train", "bool", "false",
           "With beside: clone and partition `loss` too (stage0.loss, which "
           "strata-autodiff then differentiates into stage0.loss_grad)">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect",
                           "mlir::shard::ShardDialect",
                           "mlir::tensor::TensorDialect"];
}

def StrataExpertParallel : Pass<"strata-expert-parallel", "mlir::ModuleOp"> {
  let summary = "Split routed experts over the plan's expert-parallel ranks";
  let description = [{
    With `#strata.parallel`'s `ep` above 1 (and tp and pp 1): the
    expert-parallel program beside the whole one. The inference entry points
    (with `train` the loss too) and the bodies they call are cloned as
    `stage0.<name>`; in the clones each `strata.moe_experts` whose stacked
    expert weights are body arguments becomes

    - `strata.expert_route` (the group's routing, localised to the rank's
      experts: `E / ep` of them, the rank's ep coordinate choosing which),
    - `strata.expert_dispatch` (all-to-all: each token to the ranks holding
      its selected experts),
    - `strata.moe_experts` over the received rows with the rank's experts
      (its capacity factor divided by ep: the same per-expert capacity
      over the group's tokens),
    - `strata.expert_combine` (all-to-all back, summed per token).

    The experts' weights become the rank's slices: their `strata.param`
    take `strata.shard_dim = 0`, `strata.shard_count = ep` and
    `strata.shard_axis = "ep"`. The router, shared experts and everything
    else stay replicated. Clones that nothing changed are dropped again,
    as strata-shard does. The exchanges' gradient rules make `stage0.loss`
    differentiable like any loss; it is marked `strata.seeded_loss`, so
    strata-autodiff gives `stage0.loss_grad` a loss-scale argument that
    seeds the backward: the runtime passes each rank's labelled tokens, an
    expert's gradient then sums every rank's tokens' contributions at their
    own weight.
  }];
  let options = [
    Option<"train", "train", "bool", "false",
           "Clone and split `loss` too (stage0.loss, which strata-autodiff "
           "then differentiates into stage0.loss_grad)">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect",
                           "mlir::shard::ShardDialect"];
}

def StrataPipeline : Pass<"strata-pipeline", "mlir::ModuleOp"> {
  let summary = "Split the entry points into the plan's pipeline stages";
  let description = [{
    With `#strata.parallel`'s `pp` above 1, splits the layers into `pp`
    contiguous stages balanced by the cost interface (forward FLOPs per
    layer, the embedding's on the first stage and the head's on the last:
    the split `strata-compile --stats` reports) and gives each stage its
    own program beside the whole one: for each entry point (`forward`,
    `decode`, with `train` also `loss`) a public `stage<N>.<name>`
    (`strata.stage = N`) holding the stage's layer calls, the embedding on
    stage 0 and the heads (and the loss) on the last. Parameters and
    constants are cloned into every stage that reads them (a tied
    embedding is read by the first and the last). What one stage computes
    and a later one reads — the hidden state, a loss's running sum of
    router balance losses — crosses the boundary: the stage returns it
    (`strata.result = "boundary"`, `strata.index` its place in the
    boundary's list) and the next takes it (`strata.arg = "boundary"`),
    stages in between passing it on. Every other argument says what it is
    (`strata.arg`: `tokens`, `labels`, `positions`, `key_padding`,
    `key_cache` / `value_cache` with `strata.layer`), as do decode's new
    caches (`strata.result` `key_cache` / `value_cache` with
    `strata.layer`); a stage takes only the arguments its ops read. The
    runtime passes the activations between the stages' ranks.
  }];
  let options = [
    Option<"train", "train", "bool", "false",
           "Split `loss` too (stage<N>.loss, which strata-autodiff then "
           "differentiates into stage<N>.loss_grad and, on stages before "
           "the last, stage<N>.loss_forward)">,
    Option<"contextLength", "context-length", "int64_t", "4096",
           "Tokens of context the attention FLOPs that balance the stages "
           "assume (the plan report's)">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def StrataAutodiff : Pass<"strata-autodiff", "mlir::ModuleOp"> {
  let summary = "Reverse-mode differentiation of a loss into <name>_grad";
  let description = [{
    For each function named in `functions` (by default `loss`), which must
    return one 0-d f32 tensor, adds `<name>_grad`: the same arguments,
    returning the loss, the gradient of each float argument, then that of
    every `strata.param` it reads, in order of appearance (a value read
    twice, e.g. a tied embedding, gets the sum). The forward is cloned, then each op's
    StrataGradientOpInterface rule runs in reverse order, accumulating
    gradients of values used more than once with `strata.add`. A call of
    a layer body `@b` becomes a call of `@b_vjp` (made once per body):
    the body's arguments and its results' gradients in, its float
    arguments' gradients out; it recomputes the body's forward before its
    backward, so activations inside a layer are not kept across the step
    (per-layer recomputation). With `recompute=none` the bodies' ops are
    differentiated in place instead (cloned into the step's forward): no
    layer runs twice, and every activation lives until the backward uses
    it. With `scaled-loss` the backward starts from the loss scale instead
    of 1 (dynamic loss scaling: small f16 gradients stay representable);
    the runtime divides it out. A loss marked `strata.seeded_loss` (an
    expert-parallel program's) takes the scale argument too. An op without
    a rule is an error naming it.
  }];
  let options = [
    ListOption<"functions", "functions", "std::string",
               "Functions to differentiate (default: loss)">,
    Option<"recompute", "recompute", "std::string", "\"layer\"",
           "layer: each layer's backward recomputes its forward (only the "
           "layers' inputs are kept); none: keep every activation">,
    Option<"scaledLoss", "scaled-loss", "bool", "false",
           "<name>_grad takes a last 0-d f32 argument, the loss scale "
           "(strata.arg = \"loss_scale\"), and returns every gradient "
           "multiplied by it">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect",
                           "mlir::linalg::LinalgDialect",
                           "mlir::tensor::TensorDialect",
                           "mlir::arith::ArithDialect"];
}

def StrataOptimizer : Pass<"strata-optimizer", "mlir::ModuleOp"> {
  let summary = "Build optimizer_step: the schedule, clipping and update";
  let description = [{
    Adds `optimizer_step` from the module's `#strata.training` plan (the
    defaults of that attribute when the module has none): for the update
    number `step` (1-based) it computes the learning rate
    (`strata.lr_schedule`), the gradients' global norm
    (`strata.global_norm`) and, per parameter the loss reads, the update
    (`strata.optimizer_update`, clipping included). Its arguments are the
    step (`strata.arg = "step"`), one gradient per parameter
    (`strata.arg = "gradient"`, `strata.param = "<name>"`) and the
    optimizer state (`strata.arg = "state"`, `strata.state =
    "<name>.<slot>"`, slots `exp_avg`, `exp_avg_sq` for AdamW, `exp_avg`
    for Lion, `momentum_buffer` for SGD, as torch names them); its results
    the learning rate, the norm, the new parameters and the new state,
    marked the same way (`strata.result`). The runtime binds them by these
    attributes. The parameters are those `loss` reads, in its order, but
    for routers' selection biases (DeepSeek-V3's `e_score_correction_bias`):
    selection has no gradient and the bias is no weight to decay, so the
    optimizer leaves it alone.

    A plan that shards the optimizer state (`#strata.parallel` with
    `zero_stage = 1` and `dp` > 1; ZeRO stage 1) also gets
    `optimizer_update`: one parameter's update flattened to 1-D, whichever
    parameter it is, from the step, the global norm the ranks summed
    (`strata.arg = "grad_norm"`), the parameter, its gradient and its state
    slots (`"flat_param"`, `"flat_gradient"`, `"flat_state"` with
    `strata.slot`), returning the learning rate, the new parameter and the
    new slots; each rank calls it for the parameters whose state it keeps.
    With balanced selection biases, `optimizer_balance` moves them from the
    expert loads alone, as `optimizer_step` does (docs/parallelism.md).
  }];
  let options = [
    Option<"loss", "loss", "std::string", "\"loss\"",
           "The function whose parameters are trained">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

#endif // STRATA_PASSES_TD

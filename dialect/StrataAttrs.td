//===- StrataAttrs.td - Strata attributes and enums ---------*- tablegen -*-===//
//
// Enums and structured attributes shared by several ops: rotary-position
// settings (with YaRN context extension) and block-sparse attention layout.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_ATTRS_TD
#define STRATA_ATTRS_TD

include "dialect/StrataBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

/// Enum attributes print as `#strata.<name><value>`, e.g. `#strata.scoring<sigmoid>`.
class Strata_EnumAttr<EnumAttrInfo info, string name>
    : EnumAttr<Strata_Dialect, info, name> {
  let assemblyFormat = "`<` $value `>`";
}

def Strata_InitKind : I32EnumAttr<"InitKind", "parameter initializer", [
    I32EnumAttrCase<"Normal", 0, "normal">,
    I32EnumAttrCase<"Zeros", 1, "zeros">,
    I32EnumAttrCase<"Ones", 2, "ones">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_InitKindAttr : Strata_EnumAttr<Strata_InitKind, "init">;

def Strata_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "GELU approximation", [
    I32EnumAttrCase<"None", 0, "none">,
    I32EnumAttrCase<"Tanh", 1, "tanh">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_GeluApproximationAttr
    : Strata_EnumAttr<Strata_GeluApproximation, "gelu_approx">;

def Strata_QuantScheme : I32EnumAttr<"QuantScheme",
    "int8 quantization scheme", [
    I32EnumAttrCase<"W8A16", 0, "w8a16">,
    I32EnumAttrCase<"W8A8Dynamic", 1, "w8a8_dynamic">,
    I32EnumAttrCase<"W8A8", 2, "w8a8">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_QuantSchemeAttr : Strata_EnumAttr<Strata_QuantScheme, "quant_scheme">;

def Strata_Activation : I32EnumAttr<"Activation", "pointwise activation", [
    I32EnumAttrCase<"Gelu", 0, "gelu">,
    I32EnumAttrCase<"Silu", 1, "silu">,
    I32EnumAttrCase<"Relu", 2, "relu">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_ActivationAttr
    : Strata_EnumAttr<Strata_Activation, "activation">;

def Strata_RopeScaling : I32EnumAttr<"RopeScaling",
    "rotary position scaling", [
    I32EnumAttrCase<"None", 0, "none">,
    I32EnumAttrCase<"Linear", 1, "linear">,
    I32EnumAttrCase<"Yarn", 2, "yarn">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_RopeScalingAttr
    : Strata_EnumAttr<Strata_RopeScaling, "rope_scaling">;

def Strata_RouterScoring : I32EnumAttr<"RouterScoring",
    "how router logits become expert scores", [
    I32EnumAttrCase<"Softmax", 0, "softmax">,
    I32EnumAttrCase<"Sigmoid", 1, "sigmoid">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_RouterScoringAttr
    : Strata_EnumAttr<Strata_RouterScoring, "scoring">;

def Strata_BalanceKind : I32EnumAttr<"BalanceKind",
    "how expert load is balanced in training", [
    I32EnumAttrCase<"None", 0, "none">,
    I32EnumAttrCase<"AuxLoss", 1, "aux_loss">,
    I32EnumAttrCase<"BiasUpdate", 2, "bias_update">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_BalanceKindAttr
    : Strata_EnumAttr<Strata_BalanceKind, "balance">;

def Strata_Pooling : I32EnumAttr<"Pooling", "sequence pooling", [
    I32EnumAttrCase<"Last", 0, "last">,
    I32EnumAttrCase<"Mean", 1, "mean">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_PoolingAttr : Strata_EnumAttr<Strata_Pooling, "pooling">;

def Strata_Optimizer : I32EnumAttr<"Optimizer", "training optimizer", [
    I32EnumAttrCase<"AdamW", 0, "adamw">,
    I32EnumAttrCase<"Lion", 1, "lion">,
    I32EnumAttrCase<"Sgd", 2, "sgd">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_OptimizerAttr : Strata_EnumAttr<Strata_Optimizer, "optimizer">;

def Strata_LrSchedule : I32EnumAttr<"LrSchedule", "learning-rate schedule", [
    I32EnumAttrCase<"Constant", 0, "constant">,
    I32EnumAttrCase<"LinearWarmup", 1, "linear_warmup">,
    I32EnumAttrCase<"LinearWarmupCosineDecay", 2,
                    "linear_warmup_cosine_decay">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_LrScheduleAttr : Strata_EnumAttr<Strata_LrSchedule, "schedule">;

def Strata_Precision : I32EnumAttr<"Precision", "training precision", [
    I32EnumAttrCase<"F32", 0, "f32">,
    I32EnumAttrCase<"BF16", 1, "bf16">,
    I32EnumAttrCase<"F16", 2, "f16">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_PrecisionAttr : Strata_EnumAttr<Strata_Precision, "precision">;

def Strata_LossScaling : I32EnumAttr<"LossScaling", "loss scaling", [
    I32EnumAttrCase<"None", 0, "none">,
    I32EnumAttrCase<"Dynamic", 1, "dynamic">]> {
  let cppNamespace = "::mlir::strata";
  let genSpecializedAttr = 0;
}
def Strata_LossScalingAttr
    : Strata_EnumAttr<Strata_LossScaling, "loss_scaling">;

//===----------------------------------------------------------------------===//
// Structured attributes
//===----------------------------------------------------------------------===//

def Strata_RopeAttr : Strata_Attr<"Rope", "rope"> {
  let summary = "rotary position embedding settings";
  let description = [{
    Rotary base `theta` and optional context-extension scaling. `yarn`
    follows DeepSeek-V2/V3: frequencies between the `beta_fast` and
    `beta_slow` correction dims are blended between interpolated and
    extrapolated, and cos/sin are multiplied by
    `mscale(factor, mscale) / mscale(factor, mscale_all_dim)` with
    `mscale(s, m) = 0.1 * m * ln(s) + 1` (1 for s <= 1).

    Constraints: rope_c1 theta > 0; rope_c2 factor >= 1;
    rope_c3 original_max_position >= 1 when scaling is yarn;
    rope_c4 beta_fast >= beta_slow > 0 when scaling is yarn.
  }];
  let parameters = (ins
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(10000.0)">:$theta,
    DefaultValuedParameter<"::mlir::strata::RopeScaling",
        "::mlir::strata::RopeScaling::None">:$scaling,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(1.0)">:$factor,
    DefaultValuedParameter<"int64_t", "0">:$original_max_position,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(32.0)">:$beta_fast,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(1.0)">:$beta_slow,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(1.0)">:$mscale,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(0.0)">:$mscale_all_dim
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Strata_BlockSparseAttr : Strata_Attr<"BlockSparse", "block_sparse"> {
  let summary = "block-sparse attention layout";
  let description = [{
    The score matrix is tiled in `block_size` x `block_size` blocks. A query
    block attends to the `num_local_blocks` blocks ending at its own
    (inclusive), to the first `num_global_blocks` blocks, and to
    `num_random_blocks` further blocks (earlier ones under a causal mask,
    any under a non-causal one) drawn with a deterministic generator seeded
    by `seed` and the query block index. With a causal mask only keys at or
    before the query are kept.

    The random draw (causal): for query block i with l local and g global
    blocks, the candidates are blocks g .. i - l, C = max(0, i - l + 1 - g)
    of them. With r random blocks and C <= r every candidate is taken;
    otherwise Floyd's algorithm draws r distinct candidates: for m = 0 ..
    r - 1, n = C - r + m + 1, v = mix(seed, i, m) mod n, take candidate v
    unless it is already taken, else candidate n - 1; candidate v is block
    g + v. mix(seed, i, m) = sm(sm(seed ^ sm(i)) + m) with sm the splitmix64
    finaliser, all in unsigned 64-bit arithmetic. Query blocks are counted
    from the first key (queries align to the end of the keys).

    The random draw (bidirectional, no causal mask): with NB key blocks,
    the candidates are the blocks g .. NB - 1 other than the local ones,
    in increasing order, C of them; the same rule and generator pick r of
    them (candidate v is the v-th such block). With `key_padding`, blocks
    (and NB) count from each row's first real key.

    Constraints: sparse_c1 block_size >= 1; sparse_c2 num_local_blocks >= 1;
    sparse_c3 num_global_blocks >= 0 and num_random_blocks >= 0.
  }];
  let parameters = (ins
    DefaultValuedParameter<"int64_t", "64">:$block_size,
    DefaultValuedParameter<"int64_t", "1">:$num_local_blocks,
    DefaultValuedParameter<"int64_t", "1">:$num_global_blocks,
    DefaultValuedParameter<"int64_t", "3">:$num_random_blocks,
    DefaultValuedParameter<"int64_t", "0">:$seed
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// The plan: module attributes from the config's parallel, training and
// inference sections. Passes read them from the IR, so a .mlir file alone
// replays any later pass.
//===----------------------------------------------------------------------===//

def Strata_ParallelAttr : Strata_Attr<"Parallel", "parallel"> {
  let summary = "the parallel plan (module attribute `strata.parallel`)";
  let description = [{
    Degrees of tensor (`tp`), pipeline (`pp`), data (`dp`) and expert
    (`ep`) parallelism, the ZeRO stage of the optimizer state over the
    data-parallel group (0: replicated, 1: sharded) and the micro-batches of
    a pipelined step. `grid` names the module's `shard.grid`, whose axes are
    (pp, dp / ep, ep, tp): the expert-parallel group is carved out of the
    data-parallel one, as DeepSeek does, and tensor-parallel ranks are
    neighbours.

    Constraints: plan_c1 every degree and micro_batches >= 1; plan_c2 ep
    divides dp; plan_c3 zero_stage is 0 or 1; plan_c4 `grid` names a
    `shard.grid` of shape pp x (dp / ep) x ep x tp (checked on the module).
  }];
  let parameters = (ins
    "::mlir::FlatSymbolRefAttr":$grid,
    DefaultValuedParameter<"int64_t", "1">:$tp,
    DefaultValuedParameter<"int64_t", "1">:$pp,
    DefaultValuedParameter<"int64_t", "1">:$dp,
    DefaultValuedParameter<"int64_t", "1">:$ep,
    DefaultValuedParameter<"int64_t", "0">:$zero_stage,
    DefaultValuedParameter<"int64_t", "1">:$micro_batches
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The shard.grid shape this plan implies: pp x (dp / ep) x ep x tp.
    ::llvm::SmallVector<int64_t> getGridShape() const;
    int64_t getWorldSize() const { return getTp() * getPp() * getDp(); }
  }];
}

def Strata_TrainingAttr : Strata_Attr<"Training", "training"> {
  let summary = "the training plan (module attribute `strata.training`)";
  let description = [{
    The config's `training` section: optimizer and its hyper-parameters,
    learning-rate schedule (warmup, total steps, floor as a ratio of `lr`),
    global-norm clipping (0: off), gradient accumulation, precision (f16
    implies dynamic loss scaling, `loss_scaling`), checkpoint interval and
    retention (0: off / keep all), global batch and sequence length (0: not
    given), seed and the labels' ignore index, and the dynamic loss
    scale's start and growth interval (steps without an overflow before it
    doubles; it halves on each overflow). Present only when the config has
    a training section.

    Constraints: train_c1 lr > 0, eps > 0, 0 <= beta1, beta2 < 1;
    train_c2 warmup_steps <= total_steps when total_steps > 0;
    train_c3 accumulation_steps >= 1; train_c4 0 <= min_lr_ratio <= 1;
    train_c5 loss_scale_init > 0 and loss_scale_growth_interval >= 1.
  }];
  let parameters = (ins
    DefaultValuedParameter<"::mlir::strata::Optimizer",
        "::mlir::strata::Optimizer::AdamW">:$optimizer,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(3e-4)">:$lr,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(0.0)">:$weight_decay,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(0.9)">:$beta1,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(0.999)">:$beta2,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(1e-8)">:$eps,
    DefaultValuedParameter<"::mlir::strata::LrSchedule",
        "::mlir::strata::LrSchedule::Constant">:$schedule,
    DefaultValuedParameter<"int64_t", "0">:$warmup_steps,
    DefaultValuedParameter<"int64_t", "0">:$total_steps,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(0.0)">:$min_lr_ratio,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(0.0)">:$gradient_clipping,
    DefaultValuedParameter<"int64_t", "1">:$accumulation_steps,
    DefaultValuedParameter<"::mlir::strata::Precision",
        "::mlir::strata::Precision::F32">:$precision,
    DefaultValuedParameter<"::mlir::strata::LossScaling",
        "::mlir::strata::LossScaling::None">:$loss_scaling,
    DefaultValuedParameter<"int64_t", "0">:$checkpoint_interval,
    DefaultValuedParameter<"int64_t", "0">:$checkpoint_keep_last,
    DefaultValuedParameter<"int64_t", "0">:$batch_size,
    DefaultValuedParameter<"int64_t", "0">:$seq_len,
    DefaultValuedParameter<"int64_t", "0">:$seed,
    DefaultValuedParameter<"int64_t", "-100">:$ignore_index,
    DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(65536.0)">:$loss_scale_init,
    DefaultValuedParameter<"int64_t", "2000">:$loss_scale_growth_interval
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Strata_InferenceAttr : Strata_Attr<"Inference", "inference"> {
  let summary = "the inference plan (module attribute `strata.inference`)";
  let description = [{
    The config's `inference` section: the largest batch of sequences and
    the token budget of one dynamic batch.

    Constraints: infer_c1 max_batch_size >= 1 and max_tokens >= 1.
  }];
  let parameters = (ins
    DefaultValuedParameter<"int64_t", "32">:$max_batch_size,
    DefaultValuedParameter<"int64_t", "4096">:$max_tokens
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // STRATA_ATTRS_TD

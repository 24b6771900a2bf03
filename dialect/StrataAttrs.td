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

#endif // STRATA_ATTRS_TD

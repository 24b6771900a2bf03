//===- StrataCoreOps.td - parameters, norms, projections ----*- tablegen -*-===//
//
// Core ops: parameters, embedding, normalisation, linear projections,
// pointwise activations, residual add, dropout and rotary positions.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CORE_OPS_TD
#define STRATA_CORE_OPS_TD

def Strata_ParamOp : Strata_Op<"param", [Pure]> {
  let summary = "a named model parameter";
  let description = [{
    Introduces a trainable parameter. `name` is its key in the weights file
    (safetensors) and in the executable's parameter table; `init` is how it is
    initialised when no weights are given (`normal` uses `std`).

    An int8 parameter (made by `strata-quantize`) names in `scale` the f32
    parameter of its per-output-channel scales: the runtime draws its
    initial values in f32 and quantizes them, and loads either int8 weights
    with their scales or float weights it quantizes. Under the static
    `w8a8` scheme it also names, in `input_scale` and `input_zero_point`,
    the f32 parameters holding the calibrated quantization of the
    activations it multiplies, and in `row_sums` the i32 parameter of its
    rows' sums (each output channel's sum of int8 values, which the zero
    point's correction multiplies): the runtime computes that one from the
    weight whenever the weight changes, so it is never read from or
    written to a weights file, and no call reads the weight twice.

    Constraints: param_c1 the type has a static shape;
    param_c2 the name is non-empty; param_c3 std >= 0; param_c4 an int8
    parameter has a `scale` and a float one has none; param_c5
    `input_scale` and `input_zero_point` come together, on an int8
    parameter; param_c6 `row_sums` names a parameter, on an int8
    parameter. An i32 parameter is some int8 weight's row sums (the
    executable writer checks that one names it).

    ```mlir
    %w = strata.param "layers.0.attn.q_proj" {init = #strata.init<normal>, std = 0.02 : f64} : tensor<64x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name,
      DefaultValuedAttr<Strata_InitKindAttr, "::mlir::strata::InitKind::Normal">:$init,
      DefaultValuedAttr<F64Attr, "0.02">:$std,
      OptionalAttr<StrAttr>:$scale, OptionalAttr<StrAttr>:$input_scale,
      OptionalAttr<StrAttr>:$input_zero_point,
      OptionalAttr<StrAttr>:$row_sums);
  let results = (outs Strata_ParamTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Strata_EmbeddingOp : Strata_ComputeOp<"embedding", [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "token embedding lookup";
  let description = [{
    `result[b, s, :] = table[tokens[b, s], :]`. Token ids outside
    `[0, vocab)` are a runtime error.

    Constraints: embedding_c1 table is rank 2 [vocab, hidden];
    embedding_c2 tokens are rank 2 [batch, seq].
  }];
  let arguments = (ins Strata_TokenTensor:$tokens, Strata_FloatTensor:$table);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat =
      "$tokens `,` $table attr-dict `:` type($tokens) `,` type($table)";
  let hasVerifier = 0;
}

def Strata_RMSNormOp : Strata_ComputeOp<"rmsnorm", [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "root-mean-square normalisation";
  let description = [{
    `x * rsqrt(mean(x^2, -1) + eps) * weight` over the last dimension.

    Constraints: norm_c1 weight is rank 1 and matches the last dim of input;
    norm_c2 eps > 0.
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weight,
      DefaultValuedAttr<F64Attr, "1.0e-6">:$eps);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat =
      "$input `,` $weight attr-dict `:` type($input) `,` type($weight)";
}

def Strata_LayerNormOp : Strata_ComputeOp<"layernorm",
    [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "layer normalisation";
  let description = [{
    `(x - mean) * rsqrt(var + eps) * weight + bias` over the last dimension
    (biased variance, as torch.nn.LayerNorm).

    Constraints: norm_c1 weight (and bias) are rank 1 and match the last dim
    of input; norm_c2 eps > 0.
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weight,
      Optional<Strata_FloatTensor>:$bias,
      DefaultValuedAttr<F64Attr, "1.0e-5">:$eps);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)?
  }];
}

def Strata_LinearOp : Strata_ComputeOp<"linear", [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "affine projection y = x W^T (+ b)";
  let description = [{
    Weights are stored `[out_features, in_features]`, as in PyTorch, so
    checkpoints load without transposes.

    Constraints: linear_c1 weight is rank 2; linear_c2 the last dim of input
    equals in_features; linear_c3 bias is rank 1 with out_features elements.
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weight,
      Optional<Strata_FloatTensor>:$bias);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)?
  }];
  let hasVerifier = 0;
}

def Strata_GeluOp : Strata_ComputeOp<"gelu", [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "Gaussian error linear unit";
  let description = [{
    Exact (`erf`) GELU, or the `tanh` approximation.
  }];
  let arguments = (ins Strata_FloatTensor:$input,
      DefaultValuedAttr<Strata_GeluApproximationAttr,
          "::mlir::strata::GeluApproximation::None">:$approximate);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 0;
}

def Strata_SiluOp : Strata_ComputeOp<"silu", [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "x * sigmoid(x)";
  let arguments = (ins Strata_FloatTensor:$input);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 0;
}

def Strata_SwiGLUOp : Strata_ComputeOp<"swiglu",
    [AllTypesMatch<["gate", "up"]>, DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "silu(gate) * up";
  let description = [{
    The gated activation of SwiGLU feed-forward networks.

    Constraints: swiglu_c1 gate and up have the same type.
  }];
  let arguments = (ins Strata_FloatTensor:$gate, Strata_FloatTensor:$up);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($gate)";
  let hasVerifier = 0;
}

def Strata_AddOp : Strata_ComputeOp<"add",
    [AllTypesMatch<["lhs", "rhs"]>, DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "elementwise sum (residual connection)";
  let description = [{
    Constraints: add_c1 both operands have the same type.
  }];
  let arguments = (ins Strata_FloatTensor:$lhs, Strata_FloatTensor:$rhs);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs)";
  let hasVerifier = 0;
}

def Strata_EnterTensorParallelOp : Strata_Op<"enter_tensor_parallel",
    [Pure, AllTypesMatch<["input", "result"]>,
     DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "a replicated value where tensor-parallel products read it";
  let description = [{
    Megatron's `f`: the identity in the forward. In the backward each
    rank's gradient of the value covers only the products of its own
    slices (its heads, its part of the MLP), so the rule sums the gradient
    over the grid's tensor-parallel axis (`shard.all_reduce` on `grid`,
    axis `axis`); the row-parallel products' `shard.all_reduce` is the
    identity there. `strata-shard` puts one on each replicated value that
    a column-parallel product of a partitioned body reads; the lowering
    drops it.

    Constraints: enter_c1 input and result have the same type (checked by
    the type constraint); enter_c2 axis is an axis of grid (checked where
    the rule builds the sum).
  }];
  let arguments = (ins Strata_FloatTensor:$input, FlatSymbolRefAttr:$grid,
                   I64Attr:$axis);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = "$input `on` $grid `axis` $axis attr-dict `:` type($input)";
  let hasVerifier = 0;
}

def Strata_ChannelSliceOp : Strata_Op<"channel_slice",
    [Pure, DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "a contiguous range of the last dimension";
  let description = [{
    `result[..., j] = input[..., offset + j]` for `j < size`, where `size`
    is the result's last dim. Not emitted by the model builder: it appears
    where an op is decomposed into strata ops (latent attention splits its
    `kv_a_proj` output into the latent and the rope key), in codegen and in
    gradient rules. Its gradient is `strata.channel_slice_backward`.

    Constraints: slice_c1 input and result have the same rank (>= 1) and
    leading dims; slice_c2 offset >= 0, the result's last dim is static
    and >= 1, and offset + size <= the input's last dim when static.
  }];
  let arguments = (ins Strata_FloatTensor:$input, I64Attr:$offset);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Strata_DropoutOp : Strata_ComputeOp<"dropout",
    [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "inverted dropout (identity at inference)";
  let description = [{
    Without `step` (inference) it is the identity. With `step` (the
    training step's update number; strata-autodiff adds it to the ops of
    `loss_grad`) it zeroes each element with probability `p` and scales the
    rest by `1 / (1 - p)`. The mask comes from a counter-based generator:
    a hash of `seed`, the step, `salt` (which dropout op), the element's
    index and the bits of its input, so it needs no state, the backward
    recomputes it, and layers that share a body (the same op and indices)
    still draw different masks because their inputs differ. Runs with the
    same seed are reproducible, resumed runs included.

    Constraints: dropout_c1 0 <= p < 1.
  }];
  let arguments = (ins Strata_FloatTensor:$input,
      Optional<Strata_StepTensor>:$step,
      DefaultValuedAttr<F64Attr, "0.0">:$p,
      DefaultValuedAttr<I64Attr, "0">:$seed,
      DefaultValuedAttr<I64Attr, "0">:$salt);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`step` `(` $step^ `)`)? attr-dict `:` type($input)
  }];
}

def Strata_RoundOp : Strata_ComputeOp<"round",
    [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "each element rounded to bf16 or f16, kept in f32";
  let description = [{
    Each element becomes the nearest value of the `to` format (ties to
    even, as a conversion to that type rounds): past the format's largest
    finite value it is +-inf, below its smallest normal one of its
    subnormals or zero; NaN stays NaN. The result keeps f32 storage. It
    marks where a mixed-precision step holds a tensor in bf16 or f16
    (`strata-mixed-precision` puts it on the operands and results of the
    matrix products), so the step computes the numbers that format gives,
    overflow to inf included, while every op still accumulates in f32.
    Its gradient is the result's gradient rounded the same way: a tensor
    held in bf16 gets its gradient in bf16.

    Constraints: round_c1 the input is f32; round_c2 `to` is bf16 or f16.
  }];
  let arguments = (ins Strata_FloatTensor:$input, TypeAttr:$to);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = "$input `to` $to attr-dict `:` type($input)";
}

def Strata_RotaryOp : Strata_ComputeOp<"rotary",
    [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "rotary position embedding over packed heads";
  let description = [{
    The input's last dimension packs `num_heads` heads of `head_dim`. The
    last `rotary_dim` dims of each head are rotated by the angle
    `pos * theta^(-2i/rotary_dim)` (YaRN-scaled when the `rope` attribute
    says so); the leading `head_dim - rotary_dim` dims pass through (the
    "nope" part of latent attention). `interleaved` pairs dims (2i, 2i+1)
    as DeepSeek's checkpoints do; otherwise dim i pairs with
    i + rotary_dim/2 (Llama's rotate_half). Positions are `positions[b, s]`
    when given (decode with a KV cache), else `s`. `inverse` rotates by the
    negated angle with the same scale: the transpose of the forward's
    rotation, i.e. its backward.

    Constraints: rotary_c1 num_heads >= 1 and head_dim >= 1;
    rotary_c2 rotary_dim is even and 2 <= rotary_dim <= head_dim;
    rotary_c3 input is rank 3 [B, S, num_heads * head_dim] and positions,
    when given, [B, S].
  }];
  let arguments = (ins Strata_FloatTensor:$input,
      Optional<Strata_IndexTensor>:$positions,
      I64Attr:$num_heads, I64Attr:$head_dim, I64Attr:$rotary_dim,
      Strata_RopeAttr:$rope,
      DefaultValuedAttr<BoolAttr, "false">:$interleaved,
      DefaultValuedAttr<BoolAttr, "false">:$inverse);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`positions` `(` $positions^ `:` type($positions) `)`)? attr-dict
    `:` type($input)
  }];
  let hasVerifier = 0;
}

#endif // STRATA_CORE_OPS_TD

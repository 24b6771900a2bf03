//===- StrataQuantOps.td - int8 quantized forms ----------------*- tablegen -*-===//
//
// What `strata-quantize` rewrites the chosen matrix products into. The
// int8 weights and their per-output-channel scales are parameters, loaded
// at run time (from a quantized checkpoint, or quantized from a float one
// as the weights load), so the scales are operands, not types: MLIR's
// `!quant.uniform` per-axis types hold their scales in the type, fixed at
// compile time, which would bake one checkpoint into the executable.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_QUANT_OPS_TD
#define STRATA_QUANT_OPS_TD

def Strata_QuantizedLinearOp : Strata_ComputeOp<"quantized_linear"> {
  let summary = "y = x (s ⊙ W_q)^T (+ b) with int8 weights";
  let description = [{
    The quantized form of `strata.linear`. `weight` is int8 `[out, in]`,
    symmetric per output channel: the float weight it stands for is
    `weight_scale[n] * weight[n, :]`, so the product is
    `(x · weight^T)[.., n] * weight_scale[n]`: the scale leaves the sum and
    is applied once per output.

    Schemes:
    - `w8a16`: `x` stays in its float type; each weight is widened to f32
      as it is read and the sums are f32.
    - `w8a8_dynamic`: each row of `x` (a token) is quantized on the fly,
      symmetric: `s_x = max|x| / 127`, `x_q = round(x / s_x)` clamped to
      [-127, 127] (a zero row has `s_x = 1`); the sums of `x_q · w_q` are
      exact int32, and `y = sum * s_x * weight_scale[n]`.

    Constraints: quantized_linear_c1 weight is rank 2;
    quantized_linear_c2 the last dim of input equals in_features;
    quantized_linear_c3 weight_scale and bias (if any) are rank 1 with
    out_features elements.

    ```mlir
    %y = strata.quantized_linear %x, %wq, %s {scheme = #strata.quant_scheme<w8a16>} : tensor<?x?x64xf32>, tensor<128x64xi8>, tensor<128xf32>
    ```
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_Int8Tensor:$weight,
      Strata_F32Tensor:$weight_scale, Optional<Strata_FloatTensor>:$bias,
      Strata_QuantSchemeAttr:$scheme);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $weight_scale (`,` $bias^)? attr-dict `:`
    type($input) `,` type($weight) `,` type($weight_scale)
    (`,` type($bias)^)?
  }];
  let hasVerifier = 0;
}

def Strata_QuantizedMoEExpertsOp : Strata_ComputeOp<"quantized_moe_experts",
    [], ["getActiveParamElements"]> {
  let summary = "routed SwiGLU experts with int8 weights";
  let description = [{
    The quantized form of `strata.moe_experts` (inference: no capacity
    limit). The stacked expert weights are int8, symmetric per output
    channel of each expert: `gate_proj, up_proj: [E, F, D]` with
    `gate_scale, up_scale: [E, F]`, `down_proj: [E, D, F]` with
    `down_scale: [E, D]`; expert `e`'s weight row `n` stands for
    `scale[e, n] * proj[e, n, :]`. Each expert's product over its tokens is
    the int8 product times its row's scale, as in `strata.quantized_linear`:
    `w8a16` widens the weights to f32 as read; `w8a8_dynamic` first rounds
    each (token, expert) row of activations to int8 with its own scale
    (`max|x| / 127`) and sums the int8 products exactly in int32, as
    `strata.quantized_linear` does.

    Constraints: moe_c1 .. moe_c4 as `strata.moe_experts`;
    quantized_moe_c1 gate_scale and up_scale are [E, F], down_scale [E, D].
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weights,
      Strata_IndexTensor:$indices, Strata_Int8Tensor:$gate_proj,
      Strata_Int8Tensor:$up_proj, Strata_Int8Tensor:$down_proj,
      Strata_F32Tensor:$gate_scale, Strata_F32Tensor:$up_scale,
      Strata_F32Tensor:$down_scale, I64Attr:$num_experts, I64Attr:$top_k,
      Strata_QuantSchemeAttr:$scheme);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weights `,` $indices `experts` `(` $gate_proj `,` $up_proj
    `,` $down_proj `)` `scales` `(` $gate_scale `,` $up_scale `,`
    $down_scale `)` attr-dict `:` type(operands)
  }];
}

#endif // STRATA_QUANT_OPS_TD

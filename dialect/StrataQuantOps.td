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

def Strata_QuantizedLinearOp : Strata_ComputeOp<"quantized_linear",
    [AttrSizedOperandSegments]> {
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
    - `w8a8` (static, the seed's scheme): `x` is quantized with the
      calibrated `input_scale` `s` and `input_zero_point` `z` (`[1]` each,
      `z` an integer in [0, 255]), unsigned and asymmetric:
      `x_q = clamp(round(x / s) + z, 0, 255)`; the sums of
      `(x_q - z) · w_q` are exact int32 (computed as `x_q · w_q` minus
      `z` times the weight row's sum, `weight_row_sums[n]`: a parameter
      the runtime computes from the weight, so a call reads the weight
      once), and `y = sum * s * weight_scale[n]`.

    Constraints: quantized_linear_c1 weight is rank 2;
    quantized_linear_c2 the last dim of input equals in_features;
    quantized_linear_c3 weight_scale and bias (if any) are rank 1 with
    out_features elements; quantized_linear_c4 `input_scale` and
    `input_zero_point` are given, `[1]` each, exactly under `w8a8`;
    quantized_linear_c5 `weight_row_sums` (i32 `[out_features]`) is given
    exactly under `w8a8`.

    ```mlir
    %y = strata.quantized_linear %x, %wq, %s {scheme = #strata.quant_scheme<w8a16>} : tensor<?x?x64xf32>, tensor<128x64xi8>, tensor<128xf32>
    %z = strata.quantized_linear %x, %wq, %s input(%xs, %xz) row_sums(%rs) {scheme = #strata.quant_scheme<w8a8>} : tensor<?x?x64xf32>, tensor<128x64xi8>, tensor<128xf32> input tensor<1xf32>, tensor<1xf32> row_sums tensor<128xi32>
    ```
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_Int8Tensor:$weight,
      Strata_F32Tensor:$weight_scale, Optional<Strata_FloatTensor>:$bias,
      Optional<Strata_F32Tensor>:$input_scale,
      Optional<Strata_F32Tensor>:$input_zero_point,
      Optional<Strata_IndexTensor>:$weight_row_sums,
      Strata_QuantSchemeAttr:$scheme);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $weight_scale (`,` $bias^)?
    (`input` `(` $input_scale^ `,` $input_zero_point `)`)?
    (`row_sums` `(` $weight_row_sums^ `)`)? attr-dict `:`
    type($input) `,` type($weight) `,` type($weight_scale)
    (`,` type($bias)^)?
    (`input` type($input_scale)^ `,` type($input_zero_point))?
    (`row_sums` type($weight_row_sums)^)?
  }];
}

def Strata_QuantizedMoEExpertsOp : Strata_ComputeOp<"quantized_moe_experts",
    [AttrSizedOperandSegments], ["getActiveParamElements"]> {
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
    `strata.quantized_linear` does; `w8a8` quantizes each expert's rows
    with that expert's calibrated scale and zero point, unsigned and
    asymmetric as `strata.quantized_linear` does: `input_scale` and
    `input_zero_point` (`[E]`) for the rows gate and up read,
    `down_input_scale` and `down_input_zero_point` (`[E]`) for down's, and
    the weights' row sums (`gate_row_sums`, `up_row_sums`: [E, F],
    `down_row_sums`: [E, D], i32 parameters the runtime computes) for the
    zero points' corrections.

    Constraints: moe_c1 .. moe_c4 as `strata.moe_experts`;
    quantized_moe_c1 gate_scale and up_scale are [E, F], down_scale [E, D];
    quantized_moe_c2 the four activation parameters are given, `[E]` each,
    exactly under `w8a8`; quantized_moe_c3 the three row sums are given,
    shaped as the scales, exactly under `w8a8`.
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weights,
      Strata_IndexTensor:$indices, Strata_Int8Tensor:$gate_proj,
      Strata_Int8Tensor:$up_proj, Strata_Int8Tensor:$down_proj,
      Strata_F32Tensor:$gate_scale, Strata_F32Tensor:$up_scale,
      Strata_F32Tensor:$down_scale, Optional<Strata_F32Tensor>:$input_scale,
      Optional<Strata_F32Tensor>:$input_zero_point,
      Optional<Strata_F32Tensor>:$down_input_scale,
      Optional<Strata_F32Tensor>:$down_input_zero_point,
      Optional<Strata_IndexTensor>:$gate_row_sums,
      Optional<Strata_IndexTensor>:$up_row_sums,
      Optional<Strata_IndexTensor>:$down_row_sums, I64Attr:$num_experts,
      I64Attr:$top_k, Strata_QuantSchemeAttr:$scheme);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weights `,` $indices `experts` `(` $gate_proj `,` $up_proj
    `,` $down_proj `)` `scales` `(` $gate_scale `,` $up_scale `,`
    $down_scale `)` (`inputs` `(` $input_scale^ `,` $input_zero_point `,`
    $down_input_scale `,` $down_input_zero_point `)`)?
    (`row_sums` `(` $gate_row_sums^ `,` $up_row_sums `,` $down_row_sums `)`)?
    attr-dict `:` type(operands)
  }];
}

def Strata_QuantizedMoEExpertInputsOp
    : Strata_ComputeOp<"quantized_moe_expert_inputs"> {
  let summary = "the rows each routed expert's products read (calibration)";
  let description = [{
    What `strata-calibration-entry` observes of a `w8a8`
    `strata.quantized_moe_experts`: the (token, expert) pairs sorted by
    expert (stable, so a token's rows keep their order), with `offsets[e]`
    the first row of expert `e` (`offsets[E]` the number of pairs):
    `rows[r]` is the token's input row (what gate and up read) and
    `hidden[r] = silu(gate(rows[r])) * up(rows[r])` (what down reads),
    with the int8 weights widened as read, as `w8a16` computes them. An
    expert no token chose has no rows.

    Constraints: moe_c1 .. moe_c3 as `strata.moe_experts` for indices and
    the gate and up weights; quantized_moe_c1 for their scales.

    ```mlir
    %rows, %hidden, %offsets = strata.quantized_moe_expert_inputs %x, %i experts(%g, %u) scales(%gs, %us) {num_experts = 4 : i64, top_k = 2 : i64} : tensor<?x?x8xf32>, tensor<?x?x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x6xf32>, tensor<4x6xf32>
    ```
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_IndexTensor:$indices,
      Strata_Int8Tensor:$gate_proj, Strata_Int8Tensor:$up_proj,
      Strata_F32Tensor:$gate_scale, Strata_F32Tensor:$up_scale,
      I64Attr:$num_experts, I64Attr:$top_k);
  let results = (outs Strata_F32Tensor:$rows, Strata_F32Tensor:$hidden,
      Strata_IndexTensor:$offsets);
  let assemblyFormat = [{
    $input `,` $indices `experts` `(` $gate_proj `,` $up_proj `)` `scales`
    `(` $gate_scale `,` $up_scale `)` attr-dict `:` type(operands)
  }];
  let hasVerifier = 0; // the type inference checks the shapes
}

#endif // STRATA_QUANT_OPS_TD

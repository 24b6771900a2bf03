// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that a parameter with a dynamic shape is rejected (param_c1).
func.func @param_dynamic_shape() {
  // expected-error @+1 {{'strata.param' op param_c1: parameter 'w' must have a static shape, got 'tensor<?x4xf32>'}}
  %w = strata.param "w" : tensor<?x4xf32>
  return
}

// -----

// Tests that a parameter with an empty name is rejected (param_c2).
func.func @param_empty_name() {
  // expected-error @+1 {{'strata.param' op param_c2: name must be non-empty}}
  %w = strata.param "" : tensor<4xf32>
  return
}

// -----

// Tests that a negative initializer std is rejected (param_c3).
func.func @param_negative_std() {
  // expected-error @+1 {{'strata.param' op param_c3: std must be >= 0, got -1.000000e+00}}
  %w = strata.param "w" {std = -1.0 : f64} : tensor<4xf32>
  return
}

// -----

// Tests that an embedding table that is not rank 2 is rejected (embedding_c1).
func.func @embedding_table_rank(%t: tensor<2x8xi32>) {
  %e = strata.param "e" : tensor<100xf32>
  // expected-error @+1 {{'strata.embedding' op embedding_c1: table must be rank 2 [vocab, hidden], got 'tensor<100xf32>'}}
  %0 = strata.embedding %t, %e : tensor<2x8xi32>, tensor<100xf32>
  return
}

// -----

// Tests that token ids that are not rank 2 are rejected (embedding_c2).
func.func @embedding_tokens_rank(%t: tensor<8xi32>) {
  %e = strata.param "e" : tensor<100x4xf32>
  // expected-error @+1 {{'strata.embedding' op embedding_c2: tokens must be rank 2 [batch, seq], got 'tensor<8xi32>'}}
  %0 = strata.embedding %t, %e : tensor<8xi32>, tensor<100x4xf32>
  return
}

// -----

// Tests that the generic form checks the result type against the inferred one.
func.func @embedding_wrong_result_type(%t: tensor<2x16xi32>) {
  %e = strata.param "e" : tensor<100x4xf32>
  // expected-error @+2 {{'strata.embedding' op inferred type(s) 'tensor<2x16x4xf32>' are incompatible with return type(s) of operation 'tensor<2x16x8xf32>'}}
  // expected-error @+1 {{'strata.embedding' op failed to infer returned types}}
  %0 = "strata.embedding"(%t, %e) : (tensor<2x16xi32>, tensor<100x4xf32>) -> tensor<2x16x8xf32>
  return
}

// -----

// Tests that an rmsnorm weight not matching the last input dim is rejected (norm_c1).
func.func @rmsnorm_weight_shape(%x: tensor<2x8x32xf32>) {
  %w = strata.param "w" : tensor<16xf32>
  // expected-error @+1 {{'strata.rmsnorm' op norm_c1: weight must have shape [32], got 'tensor<16xf32>'}}
  %0 = strata.rmsnorm %x, %w : tensor<2x8x32xf32>, tensor<16xf32>
  return
}

// -----

// Tests that a layernorm weight that is not rank 1 is rejected (norm_c1).
func.func @layernorm_weight_rank(%x: tensor<2x8x32xf32>) {
  %w = strata.param "w" : tensor<1x32xf32>
  // expected-error @+1 {{'strata.layernorm' op norm_c1: weight must have shape [32], got 'tensor<1x32xf32>'}}
  %0 = strata.layernorm %x, %w : tensor<2x8x32xf32>, tensor<1x32xf32>
  return
}

// -----

// Tests that a layernorm bias not matching the last input dim is rejected (norm_c1).
func.func @layernorm_bias_shape(%x: tensor<2x8x32xf32>) {
  %w = strata.param "w" : tensor<32xf32>
  %b = strata.param "b" : tensor<31xf32>
  // expected-error @+1 {{'strata.layernorm' op norm_c1: bias must have shape [32], got 'tensor<31xf32>'}}
  %0 = strata.layernorm %x, %w, %b : tensor<2x8x32xf32>, tensor<32xf32>, tensor<31xf32>
  return
}

// -----

// Tests that rmsnorm rejects eps = 0 (norm_c2).
func.func @rmsnorm_zero_eps(%x: tensor<2x8x32xf32>) {
  %w = strata.param "w" : tensor<32xf32>
  // expected-error @+1 {{'strata.rmsnorm' op norm_c2: eps must be > 0, got 0.000000e+00}}
  %0 = strata.rmsnorm %x, %w {eps = 0.0} : tensor<2x8x32xf32>, tensor<32xf32>
  return
}

// -----

// Tests that layernorm rejects a negative eps (norm_c2).
func.func @layernorm_negative_eps(%x: tensor<2x8x32xf32>) {
  %w = strata.param "w" : tensor<32xf32>
  // expected-error @+1 {{'strata.layernorm' op norm_c2: eps must be > 0, got -1.000000e+00}}
  %0 = strata.layernorm %x, %w {eps = -1.0} : tensor<2x8x32xf32>, tensor<32xf32>
  return
}

// -----

// Tests that a linear weight that is not rank 2 is rejected (linear_c1).
func.func @linear_weight_rank(%x: tensor<2x8x32xf32>) {
  %w = strata.param "w" : tensor<16x32x1xf32>
  // expected-error @+1 {{'strata.linear' op linear_c1: weight must be rank 2 [out, in], got 'tensor<16x32x1xf32>'}}
  %0 = strata.linear %x, %w : tensor<2x8x32xf32>, tensor<16x32x1xf32>
  return
}

// -----

// Tests that linear rejects an input whose last dim is not in_features (linear_c2).
func.func @linear_in_features(%x: tensor<2x8x32xf32>) {
  %w = strata.param "w" : tensor<16x31xf32>
  // expected-error @+1 {{'strata.linear' op linear_c2: the last dim of input (32) must equal the weight's in_features (31)}}
  %0 = strata.linear %x, %w : tensor<2x8x32xf32>, tensor<16x31xf32>
  return
}

// -----

// Tests that a linear bias without out_features elements is rejected (linear_c3).
func.func @linear_bias_shape(%x: tensor<2x8x32xf32>) {
  %w = strata.param "w" : tensor<16x32xf32>
  %b = strata.param "b" : tensor<32xf32>
  // expected-error @+1 {{'strata.linear' op linear_c3: bias must have shape [16], got 'tensor<32xf32>'}}
  %0 = strata.linear %x, %w, %b : tensor<2x8x32xf32>, tensor<16x32xf32>, tensor<32xf32>
  return
}

// -----

// Tests that dropout rejects p = 1 (dropout_c1).
func.func @dropout_p_one(%x: tensor<2x8x32xf32>) {
  // expected-error @+1 {{'strata.dropout' op dropout_c1: p must be in [0, 1), got 1.000000e+00}}
  %0 = strata.dropout %x {p = 1.0} : tensor<2x8x32xf32>
  return
}

// -----

// Tests that dropout rejects a negative p (dropout_c1).
func.func @dropout_p_negative(%x: tensor<2x8x32xf32>) {
  // expected-error @+1 {{'strata.dropout' op dropout_c1: p must be in [0, 1), got -1.000000e-01}}
  %0 = strata.dropout %x {p = -0.1} : tensor<2x8x32xf32>
  return
}

// -----

// Tests that swiglu rejects gate and up of different types (swiglu_c1).
func.func @swiglu_type_mismatch(%g: tensor<2x8x32xf32>, %u: tensor<2x8x32xf16>) {
  // expected-error @+1 {{'strata.swiglu' op failed to verify that all of {gate, up} have same type}}
  %0 = "strata.swiglu"(%g, %u) : (tensor<2x8x32xf32>, tensor<2x8x32xf16>) -> tensor<2x8x32xf32>
  return
}

// -----

// Tests that add rejects operands of different types (add_c1).
func.func @add_type_mismatch(%a: tensor<2x8x32xf32>, %b: tensor<2x8x16xf32>) {
  // expected-error @+1 {{'strata.add' op failed to verify that all of {lhs, rhs} have same type}}
  %0 = "strata.add"(%a, %b) : (tensor<2x8x32xf32>, tensor<2x8x16xf32>) -> tensor<2x8x32xf32>
  return
}

// -----

// Tests that the custom form of add cannot name two operand types.
// expected-note @+1 {{prior use here}}
func.func @add_custom_type_mismatch(%a: tensor<2x8x32xf32>, %b: tensor<2x8x16xf32>) {
  // expected-error @+1 {{use of value '%b' expects different type than prior uses: 'tensor<2x8x32xf32>' vs 'tensor<2x8x16xf32>'}}
  %0 = strata.add %a, %b : tensor<2x8x32xf32>
  return
}

// -----

// Tests that rotary rejects num_heads = 0 (rotary_c1).
func.func @rotary_zero_heads(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'strata.rotary' op rotary_c1: num_heads and head_dim must be >= 1, got 0 and 16}}
  %0 = strata.rotary %x {num_heads = 0, head_dim = 16, rotary_dim = 8, rope = #strata.rope<>} : tensor<2x8x64xf32>
  return
}

// -----

// Tests that rotary rejects head_dim = 0 (rotary_c1).
func.func @rotary_zero_head_dim(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'strata.rotary' op rotary_c1: num_heads and head_dim must be >= 1, got 4 and 0}}
  %0 = strata.rotary %x {num_heads = 4, head_dim = 0, rotary_dim = 8, rope = #strata.rope<>} : tensor<2x8x64xf32>
  return
}

// -----

// Tests that rotary rejects an odd rotary_dim (rotary_c2).
func.func @rotary_odd_dim(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'strata.rotary' op rotary_c2: rotary_dim must be even and in [2, head_dim = 16], got 7}}
  %0 = strata.rotary %x {num_heads = 4, head_dim = 16, rotary_dim = 7, rope = #strata.rope<>} : tensor<2x8x64xf32>
  return
}

// -----

// Tests that rotary rejects a rotary_dim larger than head_dim (rotary_c2).
func.func @rotary_dim_too_large(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'strata.rotary' op rotary_c2: rotary_dim must be even and in [2, head_dim = 16], got 18}}
  %0 = strata.rotary %x {num_heads = 4, head_dim = 16, rotary_dim = 18, rope = #strata.rope<>} : tensor<2x8x64xf32>
  return
}

// -----

// Tests that rotary rejects rotary_dim = 0 (rotary_c2).
func.func @rotary_dim_zero(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'strata.rotary' op rotary_c2: rotary_dim must be even and in [2, head_dim = 16], got 0}}
  %0 = strata.rotary %x {num_heads = 4, head_dim = 16, rotary_dim = 0, rope = #strata.rope<>} : tensor<2x8x64xf32>
  return
}

// -----

// Tests that rotary rejects an input whose last dim is not num_heads * head_dim (rotary_c3).
func.func @rotary_input_shape(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'strata.rotary' op rotary_c3: input must have shape [?, ?, 32], got 'tensor<2x8x64xf32>'}}
  %0 = strata.rotary %x {num_heads = 4, head_dim = 8, rotary_dim = 8, rope = #strata.rope<>} : tensor<2x8x64xf32>
  return
}

// -----

// Tests that rotary rejects an input that is not rank 3 (rotary_c3).
func.func @rotary_input_rank(%x: tensor<8x64xf32>) {
  // expected-error @+1 {{'strata.rotary' op rotary_c3: input must have shape [?, ?, 64], got 'tensor<8x64xf32>'}}
  %0 = strata.rotary %x {num_heads = 4, head_dim = 16, rotary_dim = 8, rope = #strata.rope<>} : tensor<8x64xf32>
  return
}

// -----

// Tests that rotary rejects positions that are not [batch, seq] of the input (rotary_c3).
func.func @rotary_positions_shape(%x: tensor<2x8x64xf32>, %p: tensor<2x4xi32>) {
  // expected-error @+1 {{'strata.rotary' op rotary_c3: positions must have shape [2, 8], got 'tensor<2x4xi32>'}}
  %0 = strata.rotary %x positions(%p : tensor<2x4xi32>) {num_heads = 4, head_dim = 16, rotary_dim = 8, rope = #strata.rope<>} : tensor<2x8x64xf32>
  return
}

// -----

// Tests that the generic form runs the rotary shape rules too and reports the failed inference (rotary_c2).
func.func @rotary_generic_odd_dim(%x: tensor<2x8x64xf32>) {
  // expected-error @+2 {{'strata.rotary' op rotary_c2: rotary_dim must be even and in [2, head_dim = 16], got 9}}
  // expected-error @+1 {{'strata.rotary' op failed to infer returned types}}
  %0 = "strata.rotary"(%x) <{num_heads = 4, head_dim = 16, rotary_dim = 9, rope = #strata.rope<>}> : (tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
  return
}

// -----

// Tests that rotary without rotary_dim is rejected during type inference.
func.func @rotary_missing_rotary_dim(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'strata.rotary' op requires num_heads, head_dim and rotary_dim}}
  %0 = strata.rotary %x {num_heads = 4, head_dim = 16, rope = #strata.rope<>} : tensor<2x8x64xf32>
  return
}

// -----

// Tests that round rejects a target format that is not narrower (round_c2).
func.func @round_to_f32(%x: tensor<4xf32>) {
  // expected-error @+1 {{'strata.round' op round_c2: rounds to bf16 or f16, not 'f32'}}
  %0 = strata.round %x to f32 : tensor<4xf32>
  return
}

// -----

// Tests that round takes f32 storage only (round_c1).
func.func @round_from_bf16(%x: tensor<4xbf16>) {
  // expected-error @+1 {{'strata.round' op round_c1: the input must be f32, got 'tensor<4xbf16>'}}
  %0 = strata.round %x to f16 : tensor<4xbf16>
  return
}

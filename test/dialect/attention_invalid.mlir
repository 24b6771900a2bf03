// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that attention rejects num_kv_heads = 0 (attention_c1).
func.func @attention_zero_kv_heads(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c1: num_heads (8), num_kv_heads (0), head_dim (16) and v_head_dim (16) must be >= 1}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 0, head_dim = 16, v_head_dim = 16} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that attention rejects a negative num_heads (attention_c1).
func.func @attention_negative_heads(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c1: num_heads (-8), num_kv_heads (4), head_dim (16) and v_head_dim (16) must be >= 1}}
  %0 = strata.attention %q, %k, %v {num_heads = -8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that attention rejects head_dim = 0 (attention_c1).
func.func @attention_zero_head_dim(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c1: num_heads (8), num_kv_heads (4), head_dim (0) and v_head_dim (16) must be >= 1}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 0, v_head_dim = 16} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that attention rejects v_head_dim = 0 (attention_c1).
func.func @attention_zero_v_head_dim(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c1: num_heads (8), num_kv_heads (4), head_dim (16) and v_head_dim (0) must be >= 1}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 0} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that num_kv_heads must divide num_heads (attention_c2).
func.func @attention_kv_heads_not_divisor(%q: tensor<2x16x128xf32>, %k: tensor<2x16x48xf32>, %v: tensor<2x16x48xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c2: num_kv_heads (3) must divide num_heads (8)}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 3, head_dim = 16, v_head_dim = 16} : tensor<2x16x128xf32>, tensor<2x16x48xf32>, tensor<2x16x48xf32>
  return
}

// -----

// Tests that the last dim of q must be num_heads * head_dim (attention_c3).
func.func @attention_q_last_dim(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c3: q must have shape [?, ?, 64], got 'tensor<2x16x128xf32>'}}
  %0 = strata.attention %q, %k, %v {num_heads = 4, num_kv_heads = 4, head_dim = 16, v_head_dim = 16} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that the last dim of k must be num_kv_heads * head_dim (attention_c3).
func.func @attention_k_last_dim(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c3: k must have shape [?, ?, 32], got 'tensor<2x16x64xf32>'}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 2, head_dim = 16, v_head_dim = 16} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that the last dim of v must be num_kv_heads * v_head_dim (attention_c3).
func.func @attention_v_last_dim(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x32xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c3: v must have shape [?, ?, 64], got 'tensor<2x16x32xf32>'}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x32xf32>
  return
}

// -----

// Tests that attention rejects window = 0 (attention_c4).
func.func @attention_zero_window(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c4: window must be >= 1, got 0}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16, window = 0} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that window and sparsity are mutually exclusive (attention_c5).
func.func @attention_window_and_sparsity(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c5: window and sparsity are mutually exclusive}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16, window = 128, sparsity = #strata.block_sparse<>} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that attention rejects scale = 0 (attention_c6).
func.func @attention_zero_scale(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c6: scale must be > 0, got 0.000000e+00}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16, scale = 0.0} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that attention rejects a negative scale (attention_c6).
func.func @attention_negative_scale(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c6: scale must be > 0, got -1.250000e-01}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16, scale = -0.125} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that attention rejects dropout = 1 (attention_c8).
func.func @attention_dropout_one(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c8: dropout must be in [0, 1), got 1.000000e+00}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16, dropout = 1.0} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that attention rejects a rank-2 q (attention_c7).
func.func @attention_q_rank(%q: tensor<16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c7: q, k and v must be rank 3 [batch, seq, heads * dim]}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16} : tensor<16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that attention rejects a rank-4 v (attention_c7).
func.func @attention_v_rank(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x4x16xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c7: q, k and v must be rank 3 [batch, seq, heads * dim]}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x4x16xf32>
  return
}

// -----

// Tests that attention rejects k with a batch different from q (attention_c7).
func.func @attention_batch_mismatch(%q: tensor<2x16x128xf32>, %k: tensor<3x16x64xf32>, %v: tensor<3x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c7: q, k and v must have the same batch, got 2, 3 and 3}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16} : tensor<2x16x128xf32>, tensor<3x16x64xf32>, tensor<3x16x64xf32>
  return
}

// -----

// Tests that attention rejects k and v of different lengths (attention_c7).
func.func @attention_kv_length_mismatch(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x8x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c7: k and v must have the same length, got 16 and 8}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x8x64xf32>
  return
}

// -----

// Tests that attention without v_head_dim is rejected during type inference.
func.func @attention_missing_v_head_dim(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op requires num_heads, num_kv_heads, head_dim and v_head_dim}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that the generic form checks the declared result type against [B, S, num_heads * v_head_dim].
func.func @generic_wrong_result(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+2 {{'strata.attention' op inferred type(s) 'tensor<2x16x128xf32>' are incompatible with return type(s) of operation 'tensor<2x16x64xf32>'}}
  // expected-error @+1 {{'strata.attention' op failed to infer returned types}}
  %0 = "strata.attention"(%q, %k, %v) <{num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 16 : i64, v_head_dim = 16 : i64, causal = true, dropout = 0.0 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}> : (tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  return
}

// -----

// Tests that the generic form runs the attention shape rules too (attention_c2).
func.func @generic_kv_heads_not_divisor(%q: tensor<2x16x128xf32>, %k: tensor<2x16x48xf32>, %v: tensor<2x16x48xf32>) {
  // expected-error @+2 {{'strata.attention' op attention_c2: num_kv_heads (3) must divide num_heads (8)}}
  // expected-error @+1 {{'strata.attention' op failed to infer returned types}}
  %0 = "strata.attention"(%q, %k, %v) <{num_heads = 8 : i64, num_kv_heads = 3 : i64, head_dim = 16 : i64, v_head_dim = 16 : i64, causal = true, dropout = 0.0 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}> : (tensor<2x16x128xf32>, tensor<2x16x48xf32>, tensor<2x16x48xf32>) -> tensor<2x16x128xf32>
  return
}

// -----

// Tests that k and v batches are compared with each other when q's batch is dynamic (attention_c7).
func.func @attention_kv_batch_mismatch_dynamic_q(%q: tensor<?x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<3x16x64xf32>) {
  // expected-error @+1 {{'strata.attention' op attention_c7: q, k and v must have the same batch, got ?, 2 and 3}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16} : tensor<?x16x128xf32>, tensor<2x16x64xf32>, tensor<3x16x64xf32>
  return
}

// -----

// Tests that the key padding has one count per batch row (attention_c10).
func.func @attention_key_padding_batch(%q: tensor<2x4x64xf32>, %kv: tensor<2x8x32xf32>, %pad: tensor<3xi32>) {
  // expected-error @+1 {{'strata.attention' op attention_c10: key_padding must have shape [2], got 'tensor<3xi32>'}}
  %0 = strata.attention %q, %kv, %kv key_padding(%pad : tensor<3xi32>) {num_heads = 4, num_kv_heads = 2, head_dim = 16, v_head_dim = 16} : tensor<2x4x64xf32>, tensor<2x8x32xf32>, tensor<2x8x32xf32>
  return
}

// -----

// Tests that the key padding is a vector (attention_c10).
func.func @attention_key_padding_rank(%q: tensor<2x4x64xf32>, %kv: tensor<2x8x32xf32>, %pad: tensor<2x1xi32>) {
  // expected-error @+1 {{'strata.attention' op attention_c10: key_padding must have shape [2], got 'tensor<2x1xi32>'}}
  %0 = strata.attention %q, %kv, %kv key_padding(%pad : tensor<2x1xi32>) {num_heads = 4, num_kv_heads = 2, head_dim = 16, v_head_dim = 16} : tensor<2x4x64xf32>, tensor<2x8x32xf32>, tensor<2x8x32xf32>
  return
}

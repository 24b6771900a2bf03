// RUN: strata-opt %s --split-input-file --verify-diagnostics

func.func @f(%x: tensor<2x3x8xf32>, %w: tensor<16x4xf32>, %dy: tensor<2x3x16xf32>) {
  // expected-error @+1 {{linear_c1/c2: weight must be [out, in] with in the last dim of input}}
  %0:2 = strata.linear_backward %x, %w, %dy : tensor<2x3x8xf32>, tensor<16x4xf32>, tensor<2x3x16xf32> -> tensor<2x3x8xf32>, tensor<16x4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x8xf32>, %w: tensor<16x8xf32>, %dy: tensor<2x4x16xf32>) {
  // expected-error @+1 {{linear_bwd_c1: result_grad must be input's leading dims and [out]}}
  %0:2 = strata.linear_backward %x, %w, %dy : tensor<2x3x8xf32>, tensor<16x8xf32>, tensor<2x4x16xf32> -> tensor<2x3x8xf32>, tensor<16x8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x8xf32>, %w: tensor<16x8xf32>, %dy: tensor<2x3x16xf32>) {
  // expected-error @+1 {{linear_bwd_c2: the gradients must have the types of input, weight (and bias with has_bias)}}
  %0:3 = strata.linear_backward %x, %w, %dy : tensor<2x3x8xf32>, tensor<16x8xf32>, tensor<2x3x16xf32> -> tensor<2x3x8xf32>, tensor<16x8xf32>, tensor<16xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x8xf32>, %n: tensor<4xf32>) {
  // expected-error @+1 {{norm_c1: weight must be rank 1 and match the last dim of input}}
  %0:2 = strata.rmsnorm_backward %x, %n, %x : tensor<2x3x8xf32>, tensor<4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x8xf32>, %n: tensor<8xf32>) {
  // expected-error @+1 {{norm_c2: eps must be > 0}}
  %0:2 = strata.rmsnorm_backward %x, %n, %x {eps = 0.0 : f64} : tensor<2x3x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @f(%t: tensor<2x4xi32>, %dy: tensor<2x3x8xf32>) {
  // expected-error @+1 {{embedding_bwd_c1: result_grad must be [batch, seq, hidden] over tokens [batch, seq]}}
  %0 = strata.embedding_backward %t, %dy : tensor<2x4xi32>, tensor<2x3x8xf32> -> tensor<32x8xf32>
  return
}

// -----

func.func @f(%t: tensor<2x3xi32>, %dy: tensor<2x3x8xf32>) {
  // expected-error @+1 {{embedding_bwd_c2: table_grad must be a static [vocab, hidden] of result_grad's element type}}
  %0 = strata.embedding_backward %t, %dy : tensor<2x3xi32>, tensor<2x3x8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%z: tensor<2x3x7xf32>, %l: tensor<2x4xi32>, %g: tensor<f32>) {
  // expected-error @+1 {{xent_c1: logits must be labels' shape plus a class dim}}
  %0 = strata.cross_entropy_backward %z, %l, %g : tensor<2x3x7xf32>, tensor<2x4xi32>, tensor<f32>
  return
}

// -----

func.func @f(%z: tensor<2x3x7xf32>) {
  // expected-error @+1 {{act_bwd_c1: kind must be silu or gelu, got 'relu'}}
  %0 = strata.activation_backward %z, %z {kind = "relu"} : tensor<2x3x7xf32>
  return
}

// -----

func.func @f(%q: tensor<2x3x16xf32>, %k: tensor<2x3x8xf32>, %v: tensor<2x3x8xf32>, %dy: tensor<2x3x8xf32>) {
  // expected-error @+1 {{attention_bwd_c1}}
  %0:3 = strata.attention_backward %q, %k, %v, %dy {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, v_head_dim = 4 : i64} : tensor<2x3x16xf32>, tensor<2x3x8xf32>, tensor<2x3x8xf32>, tensor<2x3x8xf32>
  return
}

// -----

func.func @f(%q: tensor<2x3x16xf32>, %k: tensor<2x3x8xf32>, %v: tensor<2x3x8xf32>, %dy: tensor<2x3x16xf32>) {
  // expected-error @+1 {{attention_c2: num_kv_heads (3) must divide num_heads (4)}}
  %0:3 = strata.attention_backward %q, %k, %v, %dy {num_heads = 4 : i64, num_kv_heads = 3 : i64, head_dim = 4 : i64, v_head_dim = 4 : i64} : tensor<2x3x16xf32>, tensor<2x3x8xf32>, tensor<2x3x8xf32>, tensor<2x3x16xf32>
  return
}

// -----

func.func @f(%q: tensor<2x3x16xf32>, %k: tensor<2x3x8xf32>, %v: tensor<2x3x8xf32>, %dy: tensor<2x3x16xf32>) {
  // expected-error @+1 {{attention_c4: window must be >= 1, got 0}}
  %0:3 = strata.attention_backward %q, %k, %v, %dy {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, v_head_dim = 4 : i64, window = 0 : i64} : tensor<2x3x16xf32>, tensor<2x3x8xf32>, tensor<2x3x8xf32>, tensor<2x3x16xf32>
  return
}

// -----

func.func @f(%l: tensor<2x3x4xf32>, %i: tensor<2x3x3xi32>, %dw: tensor<2x3x2xf32>) {
  // expected-error @+1 {{router_bwd_c1: indices and weights_grad must be [B, S, top_k] and scores_grad the logits' type}}
  %0 = strata.router_backward %l, %i, %dw, %l {num_experts = 4 : i64, top_k = 2 : i64} : tensor<2x3x4xf32>, tensor<2x3x3xi32>, tensor<2x3x2xf32>
  return
}

// -----

func.func @f(%l: tensor<2x3x4xf32>, %i: tensor<2x3x2xi32>, %dw: tensor<2x3x2xf32>) {
  // expected-error @+1 {{router_c2: top_k must be in [1, num_experts = 4], got 5}}
  %0 = strata.router_backward %l, %i, %dw, %l {num_experts = 4 : i64, top_k = 5 : i64} : tensor<2x3x4xf32>, tensor<2x3x2xi32>, tensor<2x3x2xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x8xf32>, %w: tensor<2x3x2xf32>, %i: tensor<2x3x2xi32>, %g: tensor<4x6x8xf32>, %d: tensor<4x6x8xf32>) {
  // expected-error @+1 {{moe_c3: gate_proj, up_proj must be [E, F, D] and down_proj [E, D, F]}}
  %0:5 = strata.moe_experts_backward %x, %w, %i experts(%g, %g, %d), %x {num_experts = 4 : i64, top_k = 2 : i64} : tensor<2x3x8xf32>, tensor<2x3x2xf32>, tensor<2x3x2xi32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>
  return
}

// -----

func.func @f(%s: tensor<2x3x4xf32>, %i: tensor<2x5x2xi32>, %g: tensor<f32>) {
  // expected-error @+1 {{auxloss_c1: scores must be [B, S, E] and indices [B, S, top_k]}}
  %0 = strata.router_aux_loss_backward %s, %i, %g {coef = 0.01 : f64} : tensor<2x3x4xf32>, tensor<2x5x2xi32>, tensor<f32>
  return
}

// -----

func.func @f(%x: tensor<2x3x8xf32>, %n: tensor<4xf32>) {
  // expected-error @+1 {{norm_c1: weight must be rank 1 and match the last dim of input}}
  %0:3 = strata.layernorm_backward %x, %n, %x : tensor<2x3x8xf32>, tensor<4xf32>
  return
}

// -----

func.func @f(%v: tensor<2x3x8xf32>, %g: tensor<2x3x2xf32>) {
  // expected-error @+1 {{gate_bwd_c1: logit must be value's shape with a last dim of 1}}
  %0:2 = strata.sigmoid_gate_backward %v, %g, %v : tensor<2x3x8xf32>, tensor<2x3x2xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x12xf32>) {
  // expected-error @+1 {{slice_c1: the slice must have the rank and leading dims of the full tensor}}
  %0 = strata.channel_slice %x {offset = 0 : i64} : tensor<2x3x12xf32> -> tensor<2x4x4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x12xf32>) {
  // expected-error @+1 {{slice_c2: channels [10, 10 + 4) must be a static, non-empty range inside the last dim}}
  %0 = strata.channel_slice %x {offset = 10 : i64} : tensor<2x3x12xf32> -> tensor<2x3x4xf32>
  return
}

// -----

func.func @f(%g: tensor<2x3x4xf32>) {
  // expected-error @+1 {{slice_c2: channels [0, 0 + 4) must be a static, non-empty range inside the last dim}}
  %0 = strata.channel_slice_backward %g {offset = 0 : i64} : tensor<2x3x4xf32> -> tensor<2x3x?xf32>
  return
}

// -----

func.func @f(%kv: tensor<2x3x20xf32>, %r: tensor<2x3x4xf32>) {
  // expected-error @+1 {{mla_kv_c1: num_heads, qk_nope_head_dim and v_head_dim must be >= 1}}
  %0:2 = strata.latent_kv_heads %kv, %r {num_heads = 0 : i64, qk_nope_head_dim = 4 : i64, v_head_dim = 6 : i64} : tensor<2x3x20xf32>, tensor<2x3x4xf32> -> tensor<2x3x16xf32>, tensor<2x3x12xf32>
  return
}

// -----

func.func @f(%kv: tensor<2x3x20xf32>, %r: tensor<2x3x4xf32>) {
  // expected-error @+1 {{mla_kv_c2: kv, rope key, k and v must be [B, T, H * (nope + v_head_dim)], [B, T, rope], [B, T, H * (nope + rope)] and [B, T, H * v_head_dim]}}
  %0:2 = strata.latent_kv_heads %kv, %r {num_heads = 2 : i64, qk_nope_head_dim = 4 : i64, v_head_dim = 6 : i64} : tensor<2x3x20xf32>, tensor<2x3x4xf32> -> tensor<2x3x12xf32>, tensor<2x3x12xf32>
  return
}

// -----

func.func @f(%dk: tensor<2x3x16xf32>, %dv: tensor<2x3x12xf32>) {
  // expected-error @+1 {{mla_kv_c2: kv, rope key, k and v must be}}
  %0:2 = strata.latent_kv_heads_backward %dk, %dv {num_heads = 2 : i64, qk_nope_head_dim = 4 : i64, v_head_dim = 6 : i64} : tensor<2x3x16xf32>, tensor<2x3x12xf32> -> tensor<2x3x20xf32>, tensor<2x4x4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x3x8xf32>, %g: tensor<2x3xf32>) {
  // expected-error @+1 {{pool_bwd_c1: input must be [B, S, D], result_grad [B, C] and spread [B, S, C]}}
  %0 = strata.pooling_backward %x, %g : tensor<2x3x8xf32>, tensor<2x3xf32> -> tensor<2x3x4xf32>
  return
}

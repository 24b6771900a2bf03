// RUN: strata-opt %s | strata-opt | FileCheck %s

// CHECK-LABEL: func.func @backward
func.func @backward(%x: tensor<?x?x8xf32>, %w: tensor<16x8xf32>, %dy: tensor<?x?x16xf32>,
                    %n: tensor<8xf32>, %t: tensor<?x?xi32>, %z: tensor<?x?x16xf32>,
                    %g: tensor<f32>) {
  // CHECK: strata.linear_backward %{{.*}} : tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<?x?x16xf32> -> tensor<?x?x8xf32>, tensor<16x8xf32>
  %0:2 = strata.linear_backward %x, %w, %dy : tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<?x?x16xf32> -> tensor<?x?x8xf32>, tensor<16x8xf32>
  // CHECK: strata.linear_backward %{{.*}} {has_bias} : {{.*}} -> tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<16xf32>
  %1:3 = strata.linear_backward %x, %w, %dy {has_bias} : tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<?x?x16xf32> -> tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<16xf32>
  // CHECK: strata.rmsnorm_backward %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
  %2:2 = strata.rmsnorm_backward %x, %n, %x {eps = 1.0e-5 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
  // CHECK: strata.layernorm_backward %{{.*}} {eps = 2.500000e-01 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
  %ln:3 = strata.layernorm_backward %x, %n, %x {eps = 0.25 : f64} : tensor<?x?x8xf32>, tensor<8xf32>
  // CHECK: strata.embedding_backward %{{.*}} : tensor<?x?xi32>, tensor<?x?x8xf32> -> tensor<32x8xf32>
  %3 = strata.embedding_backward %t, %x : tensor<?x?xi32>, tensor<?x?x8xf32> -> tensor<32x8xf32>
  // CHECK: strata.cross_entropy_backward %{{.*}} {ignore_index = 0 : i64} : tensor<?x?x16xf32>, tensor<?x?xi32>, tensor<f32>
  %4 = strata.cross_entropy_backward %z, %t, %g {ignore_index = 0} : tensor<?x?x16xf32>, tensor<?x?xi32>, tensor<f32>
  // CHECK: strata.activation_backward %{{.*}} {kind = "silu"} : tensor<?x?x16xf32>
  %5 = strata.activation_backward %z, %dy {kind = "silu"} : tensor<?x?x16xf32>
  // CHECK: strata.activation_backward %{{.*}} {approximate = #strata.gelu_approx<tanh>, kind = "gelu"} : tensor<?x?x16xf32>
  %6 = strata.activation_backward %z, %dy {kind = "gelu", approximate = #strata.gelu_approx<tanh>} : tensor<?x?x16xf32>
  // CHECK: strata.swiglu_backward %{{.*}} : tensor<?x?x16xf32>
  %7:2 = strata.swiglu_backward %z, %dy, %dy : tensor<?x?x16xf32>
  return
}

// CHECK-LABEL: func.func @attention_backward
func.func @attention_backward(%q: tensor<?x?x16xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x8xf32>,
                              %dy: tensor<?x?x16xf32>, %pad: tensor<?xi32>) {
  // CHECK: strata.attention_backward %{{.*}} key_padding(%{{.*}} : tensor<?xi32>) {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, v_head_dim = 4 : i64, window = 3 : i64} : tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x16xf32>
  %0:3 = strata.attention_backward %q, %k, %v, %dy key_padding(%pad : tensor<?xi32>) {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 4 : i64, v_head_dim = 4 : i64, window = 3 : i64} : tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x16xf32>
  // The rotary's inverse is its backward.
  // CHECK: strata.rotary %{{.*}} {head_dim = 4 : i64, inverse = true, num_heads = 4 : i64, rope = #strata.rope<>, rotary_dim = 4 : i64}
  %1 = strata.rotary %q {num_heads = 4 : i64, head_dim = 4 : i64, rotary_dim = 4 : i64, rope = #strata.rope<>, inverse = true} : tensor<?x?x16xf32>
  return
}

// CHECK-LABEL: func.func @moe_backward
func.func @moe_backward(%l: tensor<?x?x4xf32>, %i: tensor<?x?x2xi32>, %dw: tensor<?x?x2xf32>,
                        %x: tensor<?x?x8xf32>, %g: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>,
                        %dl: tensor<f32>) {
  // CHECK: strata.router_backward %{{.*}} {norm_topk_prob = true, num_experts = 4 : i64, scoring = #strata.scoring<sigmoid>, top_k = 2 : i64} : tensor<?x?x4xf32>, tensor<?x?x2xi32>, tensor<?x?x2xf32>
  %0 = strata.router_backward %l, %i, %dw, %l {num_experts = 4 : i64, top_k = 2 : i64, scoring = #strata.scoring<sigmoid>, norm_topk_prob = true} : tensor<?x?x4xf32>, tensor<?x?x2xi32>, tensor<?x?x2xf32>
  // CHECK: strata.moe_experts_backward %{{.*}} experts(%{{.*}}, %{{.*}}, %{{.*}}), %{{.*}} {num_experts = 4 : i64, top_k = 2 : i64}
  %1:5 = strata.moe_experts_backward %x, %dw, %i experts(%g, %g, %d), %x {num_experts = 4 : i64, top_k = 2 : i64} : tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>
  // CHECK: strata.router_aux_loss_backward %{{.*}} {coef = 1.000000e-02 : f64}
  %2 = strata.router_aux_loss_backward %l, %i, %dl {coef = 0.01 : f64} : tensor<?x?x4xf32>, tensor<?x?x2xi32>, tensor<f32>
  return
}

// CHECK-LABEL: func.func @sigmoid_gate_backward
func.func @sigmoid_gate_backward(%v: tensor<?x?x8xf32>, %g: tensor<?x?x1xf32>) {
  // CHECK: strata.sigmoid_gate_backward %{{.*}} : tensor<?x?x8xf32>, tensor<?x?x1xf32>
  %0:2 = strata.sigmoid_gate_backward %v, %g, %v : tensor<?x?x8xf32>, tensor<?x?x1xf32>
  return
}

// Latent attention's decomposition and its gradients: a channel range and
// its transpose, the per-head keys and values and theirs.
// CHECK-LABEL: func.func @latent_attention_parts
func.func @latent_attention_parts(%kva: tensor<?x?x12xf32>, %kv: tensor<?x?x20xf32>,
                                  %dk: tensor<?x?x16xf32>, %dv: tensor<?x?x12xf32>) {
  // CHECK: strata.channel_slice %{{.*}} {offset = 8 : i64} : tensor<?x?x12xf32> -> tensor<?x?x4xf32>
  %0 = strata.channel_slice %kva {offset = 8 : i64} : tensor<?x?x12xf32> -> tensor<?x?x4xf32>
  // CHECK: strata.channel_slice_backward %{{.*}} {offset = 8 : i64} : tensor<?x?x4xf32> -> tensor<?x?x12xf32>
  %1 = strata.channel_slice_backward %0 {offset = 8 : i64} : tensor<?x?x4xf32> -> tensor<?x?x12xf32>
  // CHECK: strata.latent_kv_heads %{{.*}}, %{{.*}} {num_heads = 2 : i64, qk_nope_head_dim = 4 : i64, v_head_dim = 6 : i64} : tensor<?x?x20xf32>, tensor<?x?x4xf32> -> tensor<?x?x16xf32>, tensor<?x?x12xf32>
  %2:2 = strata.latent_kv_heads %kv, %0 {num_heads = 2 : i64, qk_nope_head_dim = 4 : i64, v_head_dim = 6 : i64} : tensor<?x?x20xf32>, tensor<?x?x4xf32> -> tensor<?x?x16xf32>, tensor<?x?x12xf32>
  // CHECK: strata.latent_kv_heads_backward %{{.*}}, %{{.*}} {num_heads = 2 : i64, qk_nope_head_dim = 4 : i64, v_head_dim = 6 : i64} : tensor<?x?x16xf32>, tensor<?x?x12xf32> -> tensor<?x?x20xf32>, tensor<?x?x4xf32>
  %3:2 = strata.latent_kv_heads_backward %dk, %dv {num_heads = 2 : i64, qk_nope_head_dim = 4 : i64, v_head_dim = 6 : i64} : tensor<?x?x16xf32>, tensor<?x?x12xf32> -> tensor<?x?x20xf32>, tensor<?x?x4xf32>
  return
}

// classification_head's pooling, transposed.
// CHECK-LABEL: func.func @pooling_backward
func.func @pooling_backward(%x: tensor<?x?x8xf32>, %g: tensor<?x3xf32>) {
  // CHECK: strata.pooling_backward %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<?x3xf32> -> tensor<?x?x3xf32>
  %0 = strata.pooling_backward %x, %g : tensor<?x?x8xf32>, tensor<?x3xf32> -> tensor<?x?x3xf32>
  // CHECK: strata.pooling_backward %{{.*}}, %{{.*}} {pooling = #strata.pooling<mean>} : tensor<?x?x8xf32>, tensor<?x3xf32> -> tensor<?x?x3xf32>
  %1 = strata.pooling_backward %x, %g {pooling = #strata.pooling<mean>} : tensor<?x?x8xf32>, tensor<?x3xf32> -> tensor<?x?x3xf32>
  return
}

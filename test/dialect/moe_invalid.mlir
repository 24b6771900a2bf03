// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that the router rejects num_experts = 0 (router_c1).
func.func @router_zero_experts(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c1: num_experts must be >= 1, got 0}}
  %w, %i, %s = strata.router %l {num_experts = 0, top_k = 2} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that the last dim of logits must be num_experts (router_c1).
func.func @router_logits_last_dim(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c1: logits must have shape [?, ?, 4], got 'tensor<2x16x8xf32>'}}
  %w, %i, %s = strata.router %l {num_experts = 4, top_k = 2} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that the router rejects logits that are not rank 3 (router_c1).
func.func @router_logits_rank(%l: tensor<16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c1: logits must have shape [?, ?, 8], got 'tensor<16x8xf32>'}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 2} : tensor<16x8xf32>
  return
}

// -----

// Tests that the router rejects top_k > num_experts (router_c2).
func.func @router_top_k_too_large(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c2: top_k must be in [1, num_experts = 8], got 9}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 9} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that the router rejects top_k = 0 (router_c2).
func.func @router_zero_top_k(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c2: top_k must be in [1, num_experts = 8], got 0}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 0} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that n_group must divide num_experts (router_c3).
func.func @router_n_group_not_divisor(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c3: n_group must be >= 1 and divide num_experts (8), got 3}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 2, n_group = 3} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that the router rejects n_group = 0 (router_c3).
func.func @router_zero_n_group(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c3: n_group must be >= 1 and divide num_experts (8), got 0}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 2, n_group = 0} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that topk_group must not exceed n_group (router_c3).
func.func @router_topk_group_too_large(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c3: topk_group must be in [1, n_group = 4], got 5}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 2, n_group = 4, topk_group = 5} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that the router rejects topk_group = 0 (router_c3).
func.func @router_zero_topk_group(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c3: topk_group must be in [1, n_group = 4], got 0}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 2, n_group = 4, topk_group = 0} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that top_k must fit in the experts of the kept groups (router_c4).
func.func @router_top_k_exceeds_kept_groups(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c4: top_k (3) exceeds the experts in the kept groups (2)}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 3, n_group = 4, topk_group = 1} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that the router bias must have num_experts elements (router_c5).
func.func @router_bias_shape(%l: tensor<2x16x8xf32>) {
  %b = strata.param "bias" : tensor<4xf32>
  // expected-error @+1 {{'strata.router' op router_c5: bias must have shape [8], got 'tensor<4xf32>'}}
  %w, %i, %s = strata.router %l bias(%b : tensor<4xf32>) {num_experts = 8, top_k = 2} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that the router bias must be rank 1 (router_c5).
func.func @router_bias_rank(%l: tensor<2x16x8xf32>) {
  %b = strata.param "bias" : tensor<1x8xf32>
  // expected-error @+1 {{'strata.router' op router_c5: bias must have shape [8], got 'tensor<1x8xf32>'}}
  %w, %i, %s = strata.router %l bias(%b : tensor<1x8xf32>) {num_experts = 8, top_k = 2} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that the router rejects a negative noise_std (router_c6).
func.func @router_negative_noise(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c6: noise_std, aux_loss_coef and bias_update_rate must be >= 0 and routed_scaling_factor > 0}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 2, noise_std = -0.1} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that the router rejects routed_scaling_factor = 0 (router_c6).
func.func @router_zero_scaling_factor(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c6: noise_std, aux_loss_coef and bias_update_rate must be >= 0 and routed_scaling_factor > 0}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 2, routed_scaling_factor = 0.0} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that the router rejects a negative aux_loss_coef (router_c6).
func.func @router_negative_aux_loss_coef(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c6: noise_std, aux_loss_coef and bias_update_rate must be >= 0 and routed_scaling_factor > 0}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 2, aux_loss_coef = -1.0} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that the router rejects a negative bias_update_rate (router_c6).
func.func @router_negative_bias_update_rate(%l: tensor<2x16x8xf32>) {
  // expected-error @+1 {{'strata.router' op router_c6: noise_std, aux_loss_coef and bias_update_rate must be >= 0 and routed_scaling_factor > 0}}
  %w, %i, %s = strata.router %l {num_experts = 8, top_k = 2, bias_update_rate = -0.001} : tensor<2x16x8xf32>
  return
}

// -----

// Tests that moe_experts rejects an input that is not rank 3 (moe_c1).
func.func @moe_input_rank(%x: tensor<32x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<2x16x2xi32>) {
  %g = strata.param "gate_proj" : tensor<8x48x32xf32>
  %u = strata.param "up_proj" : tensor<8x48x32xf32>
  %d = strata.param "down_proj" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c1: input must be rank 3 [batch, seq, hidden], got 'tensor<32x32xf32>'}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<32x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that the routing weights must be [B, S, top_k] (moe_c2).
func.func @moe_weights_shape(%x: tensor<2x16x32xf32>, %w: tensor<2x16x3xf32>, %i: tensor<2x16x2xi32>) {
  %g = strata.param "gate_proj" : tensor<8x48x32xf32>
  %u = strata.param "up_proj" : tensor<8x48x32xf32>
  %d = strata.param "down_proj" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c2: weights must have shape [2, 16, 2], got 'tensor<2x16x3xf32>'}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<2x16x32xf32>, tensor<2x16x3xf32>, tensor<2x16x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that the routing indices must be [B, S, top_k] (moe_c2).
func.func @moe_indices_shape(%x: tensor<2x16x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<2x8x2xi32>) {
  %g = strata.param "gate_proj" : tensor<8x48x32xf32>
  %u = strata.param "up_proj" : tensor<8x48x32xf32>
  %d = strata.param "down_proj" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c2: indices must have shape [2, 16, 2], got 'tensor<2x8x2xi32>'}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x8x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that gate_proj must have num_experts rows (moe_c3).
func.func @moe_gate_proj_experts(%x: tensor<2x16x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<2x16x2xi32>) {
  %g = strata.param "gate_proj" : tensor<4x48x32xf32>
  %u = strata.param "up_proj" : tensor<8x48x32xf32>
  %d = strata.param "down_proj" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c3: gate_proj must have shape [8, 48, 32], got 'tensor<4x48x32xf32>'}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<4x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that gate_proj must be rank 3 (moe_c3).
func.func @moe_gate_proj_rank(%x: tensor<2x16x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<2x16x2xi32>) {
  %g = strata.param "gate_proj" : tensor<8x48xf32>
  %u = strata.param "up_proj" : tensor<8x48x32xf32>
  %d = strata.param "down_proj" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c3: gate_proj must have shape [8, ?, 32], got 'tensor<8x48xf32>'}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that gate_proj must read the input hidden size (moe_c3).
func.func @moe_gate_proj_hidden(%x: tensor<2x16x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<2x16x2xi32>) {
  %g = strata.param "gate_proj" : tensor<8x48x16xf32>
  %u = strata.param "up_proj" : tensor<8x48x32xf32>
  %d = strata.param "down_proj" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c3: gate_proj must have shape [8, 48, 32], got 'tensor<8x48x16xf32>'}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48x16xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that up_proj must have the ffn size of gate_proj (moe_c3).
func.func @moe_up_proj_ffn(%x: tensor<2x16x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<2x16x2xi32>) {
  %g = strata.param "gate_proj" : tensor<8x48x32xf32>
  %u = strata.param "up_proj" : tensor<8x40x32xf32>
  %d = strata.param "down_proj" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c3: up_proj must have shape [8, 48, 32], got 'tensor<8x40x32xf32>'}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48x32xf32>, tensor<8x40x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that down_proj must be [E, D, F] (moe_c3).
func.func @moe_down_proj_shape(%x: tensor<2x16x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<2x16x2xi32>) {
  %g = strata.param "gate_proj" : tensor<8x48x32xf32>
  %u = strata.param "up_proj" : tensor<8x48x32xf32>
  %d = strata.param "down_proj" : tensor<8x48x32xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c3: down_proj must have shape [8, 32, 48], got 'tensor<8x48x32xf32>'}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>
  return
}

// -----

// Tests that moe_experts rejects top_k > num_experts (moe_c4).
func.func @moe_top_k_too_large(%x: tensor<2x16x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<2x16x2xi32>) {
  %g = strata.param "gate_proj" : tensor<8x48x32xf32>
  %u = strata.param "up_proj" : tensor<8x48x32xf32>
  %d = strata.param "down_proj" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c4: top_k must be in [1, num_experts = 8], got 9}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 9} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that moe_experts rejects top_k = 0 (moe_c4).
func.func @moe_zero_top_k(%x: tensor<2x16x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<2x16x2xi32>) {
  %g = strata.param "gate_proj" : tensor<8x48x32xf32>
  %u = strata.param "up_proj" : tensor<8x48x32xf32>
  %d = strata.param "down_proj" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c4: top_k must be in [1, num_experts = 8], got 0}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 0} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that moe_experts rejects a negative capacity_factor (moe_c5).
func.func @moe_negative_capacity(%x: tensor<2x16x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<2x16x2xi32>) {
  %g = strata.param "gate_proj" : tensor<8x48x32xf32>
  %u = strata.param "up_proj" : tensor<8x48x32xf32>
  %d = strata.param "down_proj" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c5: capacity_factor must be >= 0, got -1.000000e+00}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2, capacity_factor = -1.0} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that scores and indices must share [B, S] (auxloss_c1).
func.func @aux_loss_seq_mismatch(%s: tensor<2x16x8xf32>, %i: tensor<2x8x2xi32>) {
  // expected-error @+1 {{'strata.router_aux_loss' op auxloss_c1: scores must be [B, S, E] and indices [B, S, top_k], got 'tensor<2x16x8xf32>' and 'tensor<2x8x2xi32>'}}
  %0 = strata.router_aux_loss %s, %i {coef = 0.01} : tensor<2x16x8xf32>, tensor<2x8x2xi32>
  return
}

// -----

// Tests that scores and indices must share the batch (auxloss_c1).
func.func @aux_loss_batch_mismatch(%s: tensor<2x16x8xf32>, %i: tensor<4x16x2xi32>) {
  // expected-error @+1 {{'strata.router_aux_loss' op auxloss_c1: scores must be [B, S, E] and indices [B, S, top_k], got 'tensor<2x16x8xf32>' and 'tensor<4x16x2xi32>'}}
  %0 = strata.router_aux_loss %s, %i {coef = 0.01} : tensor<2x16x8xf32>, tensor<4x16x2xi32>
  return
}

// -----

// Tests that router_aux_loss rejects rank-2 scores and indices (auxloss_c1).
func.func @aux_loss_rank(%s: tensor<32x8xf32>, %i: tensor<32x2xi32>) {
  // expected-error @+1 {{'strata.router_aux_loss' op auxloss_c1: scores must be [B, S, E] and indices [B, S, top_k], got 'tensor<32x8xf32>' and 'tensor<32x2xi32>'}}
  %0 = strata.router_aux_loss %s, %i {coef = 0.01} : tensor<32x8xf32>, tensor<32x2xi32>
  return
}

// -----

// Tests that router_aux_loss rejects a negative coef (auxloss_c2).
func.func @aux_loss_negative_coef(%s: tensor<2x16x8xf32>, %i: tensor<2x16x2xi32>) {
  // expected-error @+1 {{'strata.router_aux_loss' op auxloss_c2: coef must be >= 0}}
  %0 = strata.router_aux_loss %s, %i {coef = -0.01} : tensor<2x16x8xf32>, tensor<2x16x2xi32>
  return
}

// -----

// Tests that the generic form checks the router results against the inferred types.
func.func @router_generic_wrong_indices(%l: tensor<2x16x8xf32>) {
  // expected-error @+2 {{'strata.router' op inferred type(s) 'tensor<2x16x2xf32>', 'tensor<2x16x2xi32>', 'tensor<2x16x8xf32>' are incompatible with return type(s) of operation 'tensor<2x16x2xf32>', 'tensor<2x16x3xi32>', 'tensor<2x16x8xf32>'}}
  // expected-error @+1 {{'strata.router' op failed to infer returned types}}
  %0:3 = "strata.router"(%l) <{num_experts = 8 : i64, operandSegmentSizes = array<i32: 1, 0, 0>, top_k = 2 : i64}> : (tensor<2x16x8xf32>) -> (tensor<2x16x2xf32>, tensor<2x16x3xi32>, tensor<2x16x8xf32>)
  return
}

// -----

// Tests that weights and indices must agree on the batch when the input's batch is dynamic (moe_c2).
func.func @moe_dynamic_batch_mismatch(%x: tensor<?x16x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<3x16x2xi32>) {
  %g = strata.param "g" : tensor<8x48x32xf32>
  %u = strata.param "u" : tensor<8x48x32xf32>
  %d = strata.param "d" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c2: indices must have shape [2, 16, 2], got 'tensor<3x16x2xi32>'}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<?x16x32xf32>, tensor<2x16x2xf32>, tensor<3x16x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that NaN is not accepted where a value must be >= 0 (moe_c5).
func.func @moe_nan_capacity(%x: tensor<2x16x32xf32>, %w: tensor<2x16x2xf32>, %i: tensor<2x16x2xi32>) {
  %g = strata.param "g" : tensor<8x48x32xf32>
  %u = strata.param "u" : tensor<8x48x32xf32>
  %d = strata.param "d" : tensor<8x32x48xf32>
  // expected-error @+1 {{'strata.moe_experts' op moe_c5: capacity_factor must be >= 0, got nan}}
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2, capacity_factor = 0x7FF8000000000000 : f64} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return
}

// -----

// Tests that sigmoid_gate needs one logit per token (gate_c1).
func.func @sigmoid_gate_wide_logit(%v: tensor<2x16x32xf32>, %g: tensor<2x16x2xf32>) {
  // expected-error @+1 {{'strata.sigmoid_gate' op gate_c1: logit must have shape [2, 16, 1], got 'tensor<2x16x2xf32>'}}
  %0 = strata.sigmoid_gate %v, %g : tensor<2x16x32xf32>, tensor<2x16x2xf32>
  return
}

// -----

// Tests that sigmoid_gate rejects a scalar value (gate_c1).
func.func @sigmoid_gate_scalar(%v: tensor<f32>, %g: tensor<1xf32>) {
  // expected-error @+1 {{'strata.sigmoid_gate' op gate_c1: value must have rank >= 1}}
  %0 = strata.sigmoid_gate %v, %g : tensor<f32>, tensor<1xf32>
  return
}

// -----

// Tests that expert_capacity needs weights and indices of one shape
// (capacity_c1).
func.func @capacity_shapes(%w: tensor<2x16x2xf32>, %i: tensor<2x16x3xi32>) {
  // expected-error @+1 {{'strata.expert_capacity' op capacity_c1: weights and indices must both be [B, S, top_k], got 'tensor<2x16x2xf32>' and 'tensor<2x16x3xi32>'}}
  %k, %n = strata.expert_capacity %w, %i {num_experts = 4, capacity_factor = 1.0 : f64} : tensor<2x16x2xf32>, tensor<2x16x3xi32>
  return
}

// -----

// Tests that expert_capacity needs a positive capacity factor (capacity_c2).
func.func @capacity_zero(%w: tensor<2x16x2xf32>, %i: tensor<2x16x2xi32>) {
  // expected-error @+1 {{'strata.expert_capacity' op capacity_c2: num_experts must be >= 1 and capacity_factor > 0, got 4 and 0.000000e+00}}
  %k, %n = strata.expert_capacity %w, %i {num_experts = 4, capacity_factor = 0.0 : f64} : tensor<2x16x2xf32>, tensor<2x16x2xi32>
  return
}

// -----

// Tests that router_backward rejects a negative noise_std (router_c6).
func.func @router_backward_noise(%l: tensor<2x3x4xf32>, %i: tensor<2x3x2xi32>, %dw: tensor<2x3x2xf32>, %s: tensor<i32>) {
  // expected-error @+1 {{'strata.router_backward' op router_c6: noise_std must be >= 0}}
  %0 = strata.router_backward %l step(%s), %i, %dw, %l {num_experts = 4 : i64, top_k = 2 : i64, noise_std = -1.0 : f64} : tensor<2x3x4xf32>, tensor<2x3x2xi32>, tensor<2x3x2xf32>
  return
}

// -----

// Tests that expert_load counts a router's [B, S, top_k] indices.
func.func @f(%i: tensor<2x16xi32>) {
  // expected-error @+1 {{load_c1: indices must be [B, S, top_k], got 'tensor<2x16xi32>'}}
  %0 = strata.expert_load %i {num_experts = 8} : tensor<2x16xi32>
  return
}

// -----

func.func @f(%i: tensor<2x16x2xi32>) {
  // expected-error @+1 {{load_c2: num_experts must be >= 1, got 0}}
  %0 = strata.expert_load %i {num_experts = 0} : tensor<2x16x2xi32>
  return
}

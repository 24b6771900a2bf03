// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// Tests that a softmax router (V2 style, aux-loss balancing, noise) round-trips and infers
// weights [B, S, top_k], i32 indices [B, S, top_k] and scores [B, S, E].
// CHECK-LABEL: func.func @router_softmax(
// CHECK-SAME:    %[[L:.*]]: tensor<2x16x8xf32>) -> (tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<2x16x8xf32>)
// CHECK-NEXT:    %[[W:.*]], %[[I:.*]], %[[S:.*]] = strata.router %[[L]] {aux_loss_coef = 1.000000e-02 : f64, balance = #strata.balance<aux_loss>, noise_std = 1.000000e-02 : f64, norm_topk_prob = true, num_experts = 8 : i64, seed = 3 : i64, top_k = 2 : i64} : tensor<2x16x8xf32>
// CHECK-NEXT:    return %[[W]], %[[I]], %[[S]] : tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<2x16x8xf32>
// GENERIC-LABEL: sym_name = "router_softmax"
// GENERIC:       "strata.router"(%{{[a-z0-9]+}}) <{aux_loss_coef = 1.000000e-02 : f64, balance = #strata.balance<aux_loss>, bias_update_rate = 0.000000e+00 : f64, n_group = 1 : i64, noise_std = 1.000000e-02 : f64, norm_topk_prob = true, num_experts = 8 : i64, operandSegmentSizes = array<i32: 1, 0, 0>, routed_scaling_factor = 1.000000e+00 : f64, salt = 0 : i64, scoring = #strata.scoring<softmax>, seed = 3 : i64, top_k = 2 : i64, topk_group = 1 : i64}> : (tensor<2x16x8xf32>) -> (tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<2x16x8xf32>)
func.func @router_softmax(%logits: tensor<2x16x8xf32>) -> (tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<2x16x8xf32>) {
  %w, %i, %s = strata.router %logits {num_experts = 8, top_k = 2, norm_topk_prob = true, noise_std = 0.01, seed = 3, balance = #strata.balance<aux_loss>, aux_loss_coef = 0.01} : tensor<2x16x8xf32>
  return %w, %i, %s : tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<2x16x8xf32>
}

// Tests that a sigmoid router (V3 style) with a selection bias, grouped selection, scaling
// factor and bias-update balancing round-trips with dynamic batch and sequence dims.
// CHECK-LABEL: func.func @router_sigmoid_grouped(
// CHECK-SAME:    %[[L:.*]]: tensor<?x?x64xbf16>) -> (tensor<?x?x6xbf16>, tensor<?x?x6xi32>, tensor<?x?x64xbf16>)
// CHECK-NEXT:    %[[B:.*]] = strata.param "gate.e_score_correction_bias" {init = #strata.init<zeros>} : tensor<64xbf16>
// CHECK-NEXT:    %[[W:.*]], %[[I:.*]], %[[S:.*]] = strata.router %[[L]] bias(%[[B]] : tensor<64xbf16>) {balance = #strata.balance<bias_update>, bias_update_rate = 1.000000e-03 : f64, n_group = 8 : i64, norm_topk_prob = true, num_experts = 64 : i64, routed_scaling_factor = 2.500000e+00 : f64, scoring = #strata.scoring<sigmoid>, top_k = 6 : i64, topk_group = 3 : i64} : tensor<?x?x64xbf16>
// CHECK-NEXT:    return %[[W]], %[[I]], %[[S]] : tensor<?x?x6xbf16>, tensor<?x?x6xi32>, tensor<?x?x64xbf16>
// GENERIC-LABEL: sym_name = "router_sigmoid_grouped"
// GENERIC:       "strata.router"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{{.*}}scoring = #strata.scoring<sigmoid>{{.*}}> : (tensor<?x?x64xbf16>, tensor<64xbf16>) -> (tensor<?x?x6xbf16>, tensor<?x?x6xi32>, tensor<?x?x64xbf16>)
func.func @router_sigmoid_grouped(%logits: tensor<?x?x64xbf16>) -> (tensor<?x?x6xbf16>, tensor<?x?x6xi32>, tensor<?x?x64xbf16>) {
  %b = strata.param "gate.e_score_correction_bias" {init = #strata.init<zeros>} : tensor<64xbf16>
  %w, %i, %s = strata.router %logits bias(%b : tensor<64xbf16>) {num_experts = 64, top_k = 6, scoring = #strata.scoring<sigmoid>, norm_topk_prob = true, routed_scaling_factor = 2.5, n_group = 8, topk_group = 3, balance = #strata.balance<bias_update>, bias_update_rate = 0.001} : tensor<?x?x64xbf16>
  return %w, %i, %s : tensor<?x?x6xbf16>, tensor<?x?x6xi32>, tensor<?x?x64xbf16>
}

// Tests that a full MoE block (gate linear, router, routed experts, aux loss) round-trips:
// moe_experts keeps the input type and router_aux_loss returns a scalar f32.
// CHECK-LABEL: func.func @moe_block(
// CHECK-SAME:    %[[X:.*]]: tensor<2x16x32xf32>) -> (tensor<2x16x32xf32>, tensor<f32>)
// CHECK-NEXT:    %[[GW:.*]] = strata.param "mlp.gate.weight" : tensor<8x32xf32>
// CHECK-NEXT:    %[[G:.*]] = strata.param "mlp.experts.gate_proj" : tensor<8x48x32xf32>
// CHECK-NEXT:    %[[U:.*]] = strata.param "mlp.experts.up_proj" : tensor<8x48x32xf32>
// CHECK-NEXT:    %[[D:.*]] = strata.param "mlp.experts.down_proj" : tensor<8x32x48xf32>
// CHECK-NEXT:    %[[L:.*]] = strata.linear %[[X]], %[[GW]] : tensor<2x16x32xf32>, tensor<8x32xf32>
// CHECK-NEXT:    %[[W:.*]], %[[I:.*]], %[[S:.*]] = strata.router %[[L]] {num_experts = 8 : i64, top_k = 2 : i64} : tensor<2x16x8xf32>
// CHECK-NEXT:    %[[Y:.*]] = strata.moe_experts %[[X]], %[[W]], %[[I]] experts(%[[G]], %[[U]], %[[D]]) {capacity_factor = 1.250000e+00 : f64, num_experts = 8 : i64, top_k = 2 : i64} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
// CHECK-NEXT:    %[[AUX:.*]] = strata.router_aux_loss %[[S]], %[[I]] {coef = 1.000000e-02 : f64} : tensor<2x16x8xf32>, tensor<2x16x2xi32>
// CHECK-NEXT:    return %[[Y]], %[[AUX]] : tensor<2x16x32xf32>, tensor<f32>
// GENERIC-LABEL: sym_name = "moe_block"
// GENERIC:       "strata.linear"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) : (tensor<2x16x32xf32>, tensor<8x32xf32>) -> tensor<2x16x8xf32>
// GENERIC:       %[[R:[0-9]+]]:3 = "strata.router"(%{{[a-z0-9]+}}) <{{.*}}> : (tensor<2x16x8xf32>) -> (tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<2x16x8xf32>)
// GENERIC:       "strata.moe_experts"(%{{[a-z0-9]+}}, %[[R]]#0, %[[R]]#1, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{capacity_factor = 1.250000e+00 : f64, num_experts = 8 : i64, top_k = 2 : i64}> : (tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>) -> tensor<2x16x32xf32>
// GENERIC:       "strata.router_aux_loss"(%[[R]]#2, %[[R]]#1) <{coef = 1.000000e-02 : f64}> : (tensor<2x16x8xf32>, tensor<2x16x2xi32>) -> tensor<f32>
func.func @moe_block(%x: tensor<2x16x32xf32>) -> (tensor<2x16x32xf32>, tensor<f32>) {
  %gw = strata.param "mlp.gate.weight" : tensor<8x32xf32>
  %g = strata.param "mlp.experts.gate_proj" : tensor<8x48x32xf32>
  %u = strata.param "mlp.experts.up_proj" : tensor<8x48x32xf32>
  %d = strata.param "mlp.experts.down_proj" : tensor<8x32x48xf32>
  %logits = strata.linear %x, %gw : tensor<2x16x32xf32>, tensor<8x32xf32>
  %w, %i, %s = strata.router %logits {num_experts = 8, top_k = 2} : tensor<2x16x8xf32>
  %y = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2, capacity_factor = 1.25} : tensor<2x16x32xf32>, tensor<2x16x2xf32>, tensor<2x16x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  %aux = strata.router_aux_loss %s, %i {coef = 0.01} : tensor<2x16x8xf32>, tensor<2x16x2xi32>
  return %y, %aux : tensor<2x16x32xf32>, tensor<f32>
}

// Tests that moe_experts without a capacity limit round-trips with dynamic batch and sequence.
// CHECK-LABEL: func.func @moe_experts_dynamic(
// CHECK-SAME:    %[[X:.*]]: tensor<?x?x32xf16>, %[[W:.*]]: tensor<?x?x1xf16>, %[[I:.*]]: tensor<?x?x1xi32>) -> tensor<?x?x32xf16>
// CHECK:         strata.moe_experts %[[X]], %[[W]], %[[I]] experts(%{{.*}}, %{{.*}}, %{{.*}}) {num_experts = 4 : i64, top_k = 1 : i64} : tensor<?x?x32xf16>, tensor<?x?x1xf16>, tensor<?x?x1xi32>, tensor<4x16x32xf16>, tensor<4x16x32xf16>, tensor<4x32x16xf16>
// GENERIC-LABEL: sym_name = "moe_experts_dynamic"
// GENERIC:       "strata.moe_experts"({{.*}}) <{capacity_factor = 0.000000e+00 : f64, num_experts = 4 : i64, top_k = 1 : i64}> : (tensor<?x?x32xf16>, tensor<?x?x1xf16>, tensor<?x?x1xi32>, tensor<4x16x32xf16>, tensor<4x16x32xf16>, tensor<4x32x16xf16>) -> tensor<?x?x32xf16>
func.func @moe_experts_dynamic(%x: tensor<?x?x32xf16>, %w: tensor<?x?x1xf16>, %i: tensor<?x?x1xi32>) -> tensor<?x?x32xf16> {
  %g = strata.param "experts.gate_proj" : tensor<4x16x32xf16>
  %u = strata.param "experts.up_proj" : tensor<4x16x32xf16>
  %d = strata.param "experts.down_proj" : tensor<4x32x16xf16>
  %0 = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 4, top_k = 1} : tensor<?x?x32xf16>, tensor<?x?x1xf16>, tensor<?x?x1xi32>, tensor<4x16x32xf16>, tensor<4x16x32xf16>, tensor<4x32x16xf16>
  return %0 : tensor<?x?x32xf16>
}

// Tests that sigmoid_gate (Qwen2-MoE's shared-expert gate) round-trips and keeps the value's type.
// CHECK-LABEL: func.func @sigmoid_gate(
// CHECK-SAME:    %[[V:.*]]: tensor<?x?x32xf32>, %[[G:.*]]: tensor<?x?x1xf32>) -> tensor<?x?x32xf32>
// CHECK-NEXT:    %[[R:.*]] = strata.sigmoid_gate %[[V]], %[[G]] : tensor<?x?x32xf32>, tensor<?x?x1xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x?x32xf32>
// GENERIC-LABEL: sym_name = "sigmoid_gate"
// GENERIC:       "strata.sigmoid_gate"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) : (tensor<?x?x32xf32>, tensor<?x?x1xf32>) -> tensor<?x?x32xf32>
func.func @sigmoid_gate(%v: tensor<?x?x32xf32>, %g: tensor<?x?x1xf32>) -> tensor<?x?x32xf32> {
  %0 = strata.sigmoid_gate %v, %g : tensor<?x?x32xf32>, tensor<?x?x1xf32>
  return %0 : tensor<?x?x32xf32>
}

// Tests that a training router (with the step and a salt, as strata-autodiff
// gives it) and expert_capacity round-trip; expert_capacity keeps the
// weights' type and counts the dropped assignments as a 0-d i32.
// CHECK-LABEL: func.func @router_training(
// CHECK:         strata.router %{{.*}} bias(%{{.*}} : tensor<8xf32>) step(%{{.*}}) {noise_std = 1.000000e-01 : f64, num_experts = 8 : i64, salt = 4 : i64, top_k = 2 : i64} : tensor<2x16x8xf32>
// CHECK:         strata.expert_capacity %{{.*}}, %{{.*}} {capacity_factor = 1.250000e+00 : f64, num_experts = 8 : i64} : tensor<2x16x2xf32>, tensor<2x16x2xi32>
// GENERIC-LABEL: sym_name = "router_training"
// GENERIC:       "strata.router"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{{.*}}operandSegmentSizes = array<i32: 1, 1, 1>{{.*}}> : (tensor<2x16x8xf32>, tensor<8xf32>, tensor<i32>)
// GENERIC:       "strata.expert_capacity"(%{{[a-z0-9#]+}}, %{{[a-z0-9#]+}}) <{capacity_factor = 1.250000e+00 : f64, num_experts = 8 : i64}> : (tensor<2x16x2xf32>, tensor<2x16x2xi32>) -> (tensor<2x16x2xf32>, tensor<i32>)
func.func @router_training(%logits: tensor<2x16x8xf32>, %b: tensor<8xf32>, %step: tensor<i32>) -> (tensor<2x16x2xf32>, tensor<i32>) {
  %w, %i, %s = strata.router %logits bias(%b : tensor<8xf32>) step(%step) {num_experts = 8, top_k = 2, noise_std = 0.1 : f64, salt = 4} : tensor<2x16x8xf32>
  %k, %n = strata.expert_capacity %w, %i {num_experts = 8, capacity_factor = 1.25 : f64} : tensor<2x16x2xf32>, tensor<2x16x2xi32>
  return %k, %n : tensor<2x16x2xf32>, tensor<i32>
}

// Tests that expert_load (the training variants' count per expert) and
// bias_balance (optimizer_step's move of a balanced selection bias)
// round-trip; the load is [num_experts] i32, inferred.
// CHECK-LABEL: func.func @balancing(
// CHECK:         %[[L:.*]] = strata.expert_load %{{.*}} {num_experts = 8 : i64} : tensor<?x?x2xi32>
// CHECK:         strata.bias_balance %{{.*}}, %[[L]] {rate = 1.000000e-03 : f64} : tensor<8xf32>, tensor<8xi32>
// GENERIC-LABEL: sym_name = "balancing"
// GENERIC:       "strata.expert_load"(%{{[a-z0-9]+}}) <{num_experts = 8 : i64}> : (tensor<?x?x2xi32>) -> tensor<8xi32>
func.func @balancing(%i: tensor<?x?x2xi32>, %b: tensor<8xf32>) -> tensor<8xf32> {
  %l = strata.expert_load %i {num_experts = 8} : tensor<?x?x2xi32>
  %n = strata.bias_balance %b, %l {rate = 1.0e-3 : f64} : tensor<8xf32>, tensor<8xi32>
  return %n : tensor<8xf32>
}

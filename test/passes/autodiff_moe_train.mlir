// RUN: strata-opt %s --strata-autodiff | FileCheck %s

// A loss whose layer body routes with noise (noise_std > 0) into experts
// with a capacity factor: the body and the loss get `_train` variants
// taking the step's number last; the router gets it and a salt, the
// experts' weights pass through strata.expert_capacity (whose gradient is
// the same mask on the weights' gradient), and the router's backward
// recomputes the noise from the same step, seed and salt. Inference keeps
// the original functions: no step, no capacity op. The variants count the
// dropped assignments and loss_grad returns the count after the loss.

func.func private @body(%x: tensor<?x?x8xf32>, %wg: tensor<4x8xf32>, %g: tensor<4x6x8xf32>, %u: tensor<4x6x8xf32>, %d: tensor<4x8x6xf32>) -> tensor<?x?x8xf32> {
  %l = strata.linear %x, %wg : tensor<?x?x8xf32>, tensor<4x8xf32>
  %w, %i, %s = strata.router %l {num_experts = 4, top_k = 2, noise_std = 0.1 : f64, seed = 3} : tensor<?x?x4xf32>
  %y = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 4, top_k = 2, capacity_factor = 1.25 : f64} : tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>
  %r = strata.add %x, %y : tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}

func.func @loss(%t: tensor<?x?xi32>, %lb: tensor<?x?xi32>) -> tensor<f32> {
  %e = strata.param "embed" : tensor<16x8xf32>
  %wg = strata.param "gate" : tensor<4x8xf32>
  %g = strata.param "g" : tensor<4x6x8xf32>
  %u = strata.param "u" : tensor<4x6x8xf32>
  %d = strata.param "d" : tensor<4x8x6xf32>
  %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
  %h = func.call @body(%x, %wg, %g, %u, %d) : (tensor<?x?x8xf32>, tensor<4x8xf32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>) -> tensor<?x?x8xf32>
  %o = strata.lm_head %h, %e : tensor<?x?x8xf32>, tensor<16x8xf32>
  %c = strata.cross_entropy %o, %lb : tensor<?x?x16xf32>, tensor<?x?xi32>
  return %c : tensor<f32>
}

// CHECK-LABEL: func.func private @body(
// CHECK-NOT: expert_capacity
// CHECK: strata.router %{{[a-z0-9_]+}} {noise_std = 1.000000e-01 : f64, num_experts = 4 : i64, seed = 3 : i64, top_k = 2 : i64}
// CHECK-NOT: expert_capacity
// CHECK: return
// CHECK-LABEL: func.func private @body_train(
// CHECK-SAME: %[[STEP:[a-z0-9_]+]]: tensor<i32>) -> (tensor<?x?x8xf32>, tensor<i32>)
// CHECK: %[[W:[a-z0-9_]+]], %[[I:[a-z0-9_]+]], %{{.*}} = strata.router %{{.*}} step(%[[STEP]]) {noise_std = 1.000000e-01 : f64, num_experts = 4 : i64, salt = 1 : i64, seed = 3 : i64, top_k = 2 : i64}
// CHECK: %[[K:[a-z0-9_]+]], %{{.*}} = strata.expert_capacity %[[W]], %[[I]] {capacity_factor = 1.250000e+00 : f64, num_experts = 4 : i64}
// CHECK: strata.moe_experts %{{.*}}, %[[K]], %[[I]] experts
// CHECK: return %{{.*}}, %[[DROPPED:[a-z0-9_]+]] : tensor<?x?x8xf32>, tensor<i32>
// CHECK-LABEL: func.func private @body_train_vjp(
// CHECK-SAME: %[[VSTEP:[a-z0-9_]+]]: tensor<i32>, %{{.*}}: tensor<?x?x8xf32>) ->
// CHECK: %[[VW:[a-z0-9_]+]], %[[VI:[a-z0-9_]+]], %{{.*}} = strata.router %{{.*}} step(%[[VSTEP]])
// CHECK: strata.expert_capacity %[[VW]], %[[VI]]
// CHECK: %{{[a-z0-9_]+}}, %[[WG:[a-z0-9_]+]], %{{.*}} = strata.moe_experts_backward
// CHECK: %[[DW:[a-z0-9_]+]], %{{.*}} = strata.expert_capacity %[[WG]], %[[VI]] {capacity_factor = 1.250000e+00 : f64, num_experts = 4 : i64}
// CHECK: strata.router_backward %{{.*}} step(%[[VSTEP]]), %[[VI]], %[[DW]], %{{.*}} {noise_std = 1.000000e-01 : f64, num_experts = 4 : i64, salt = 1 : i64, seed = 3 : i64, top_k = 2 : i64}
// CHECK-LABEL: func.func @loss(
// CHECK-NOT: step(
// CHECK: return
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %{{[a-z0-9_]+}}: tensor<?x?xi32>, %{{[a-z0-9_]+}}: tensor<?x?xi32>, %[[S:[a-z0-9_]+]]: tensor<i32> {strata.arg = "step"}) -> (tensor<f32>, tensor<i32> {strata.result = "dropped_tokens"},
// CHECK: call @body_train(%{{.*}}, %[[S]])
// CHECK: call @body_train_vjp(%{{.*}}, %[[S]], %{{.*}})

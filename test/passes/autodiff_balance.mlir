// RUN: strata-opt %s --strata-autodiff | FileCheck %s

// DeepSeek-V3's aux-loss-free balancing: a router with balance =
// bias_update has its load counted in the training variants
// (strata.expert_load of its indices), returned after the body's results
// and summed per bias through the calls; loss_grad returns one load per
// bias parameter after the loss, named by strata.result = "expert_load"
// and strata.param. Two layers share a body with different biases, so
// each call's load goes to its own bias. Inference functions count
// nothing.

func.func private @body(%x: tensor<?x?x8xf32>, %g: tensor<4x8xf32>, %b: tensor<4xf32>) -> tensor<?x?x8xf32> {
  %l = strata.linear %x, %g : tensor<?x?x8xf32>, tensor<4x8xf32>
  %w, %i, %s = strata.router %l bias(%b : tensor<4xf32>) {num_experts = 4, top_k = 2, scoring = #strata.scoring<sigmoid>, balance = #strata.balance<bias_update>, bias_update_rate = 1.0e-3} : tensor<?x?x4xf32>
  return %x : tensor<?x?x8xf32>
}

func.func @loss(%t: tensor<?x?xi32>, %lb: tensor<?x?xi32>) -> tensor<f32> {
  %e = strata.param "embed" : tensor<16x8xf32>
  %g = strata.param "gate" : tensor<4x8xf32>
  %b0 = strata.param "layers.0.bias" {init = #strata.init<zeros>} : tensor<4xf32>
  %b1 = strata.param "layers.1.bias" {init = #strata.init<zeros>} : tensor<4xf32>
  %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
  %h0 = func.call @body(%x, %g, %b0) : (tensor<?x?x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<?x?x8xf32>
  %h1 = func.call @body(%h0, %g, %b1) : (tensor<?x?x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<?x?x8xf32>
  %o = strata.lm_head %h1, %e : tensor<?x?x8xf32>, tensor<16x8xf32>
  %c = strata.cross_entropy %o, %lb : tensor<?x?x16xf32>, tensor<?x?xi32>
  return %c : tensor<f32>
}

// CHECK-LABEL: func.func private @body(
// CHECK-NOT: expert_load
// CHECK: return
// CHECK-LABEL: func.func private @body_train(
// CHECK-SAME: %{{[a-z0-9_]+}}: tensor<i32>) -> (tensor<?x?x8xf32>, tensor<4xi32>)
// CHECK: %{{[a-z0-9_]+}}, %[[I:[a-z0-9_]+]], %{{.*}} = strata.router
// CHECK: %[[LOAD:[a-z0-9_]+]] = strata.expert_load %[[I]] {num_experts = 4 : i64} : tensor<?x?x2xi32>
// CHECK: return %{{.*}}, %[[LOAD]] : tensor<?x?x8xf32>, tensor<4xi32>
// CHECK-LABEL: func.func @loss(
// CHECK-NOT: expert_load
// CHECK: return
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: -> (tensor<f32>, tensor<4xi32> {strata.param = "layers.0.bias", strata.result = "expert_load"}, tensor<4xi32> {strata.param = "layers.1.bias", strata.result = "expert_load"}, tensor<16x8xf32>
// CHECK: %[[C0:[a-z0-9_]+]]:2 = call @body_train(
// CHECK: %[[C1:[a-z0-9_]+]]:2 = call @body_train(%[[C0]]#0,
// CHECK: return %{{[a-z0-9_]+}}, %[[C0]]#1, %[[C1]]#1, {{.*}} : tensor<f32>, tensor<4xi32>, tensor<4xi32>, tensor<16x8xf32>

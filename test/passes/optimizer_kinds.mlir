// RUN: strata-opt %s --split-input-file --strata-optimizer | FileCheck %s

// Lion keeps one moment, SGD one momentum buffer; without a plan the
// attribute's defaults (AdamW, lr 3e-4, constant) apply.

module attributes {strata.training = #strata.training<optimizer = lion, beta2 = 0.99>} {
  func.func @loss(%t: tensor<?x?xi32>, %l: tensor<?x?xi32>) -> tensor<f32> {
    %e = strata.param "embed" : tensor<16x4xf32>
    %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x4xf32>
    %o = strata.lm_head %x, %e : tensor<?x?x4xf32>, tensor<16x4xf32>
    %c = strata.cross_entropy %o, %l : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %c : tensor<f32>
  }
}
// CHECK-LABEL: func.func @optimizer_step(
// CHECK-SAME: {strata.arg = "state", strata.state = "embed.exp_avg"}) -> (
// CHECK: strata.optimizer_update {{.*}} state(%{{[^,]*}}), {{.*}}optimizer = #strata.optimizer<lion>

// -----

module attributes {strata.training = #strata.training<optimizer = sgd>} {
  func.func @loss(%t: tensor<?x?xi32>, %l: tensor<?x?xi32>) -> tensor<f32> {
    %e = strata.param "embed" : tensor<16x4xf32>
    %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x4xf32>
    %o = strata.lm_head %x, %e : tensor<?x?x4xf32>, tensor<16x4xf32>
    %c = strata.cross_entropy %o, %l : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %c : tensor<f32>
  }
}
// CHECK-LABEL: func.func @optimizer_step(
// CHECK-SAME: strata.state = "embed.momentum_buffer"
// CHECK: optimizer = #strata.optimizer<sgd>

// -----

module {
  func.func @loss(%t: tensor<?x?xi32>, %l: tensor<?x?xi32>) -> tensor<f32> {
    %e = strata.param "embed" : tensor<16x4xf32>
    %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x4xf32>
    %o = strata.lm_head %x, %e : tensor<?x?x4xf32>, tensor<16x4xf32>
    %c = strata.cross_entropy %o, %l : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %c : tensor<f32>
  }
}
// CHECK-LABEL: func.func @optimizer_step(
// CHECK: strata.lr_schedule {{.*}}lr = 3.000000e-04 : f64{{.*}}schedule = #strata.schedule<constant>
// CHECK: optimizer = #strata.optimizer<adamw>

// -----

// A router's selection bias (DeepSeek-V3's e_score_correction_bias), also
// through a layer body, is not the optimizer's: no gradient, no decay.
module attributes {strata.training = #strata.training<optimizer = adamw, weight_decay = 0.1>} {
  func.func private @body(%x: tensor<?x?x8xf32>, %g: tensor<4x8xf32>, %b: tensor<4xf32>) -> tensor<?x?x8xf32> {
    %l = strata.linear %x, %g : tensor<?x?x8xf32>, tensor<4x8xf32>
    %w, %i, %s = strata.router %l bias(%b : tensor<4xf32>) {num_experts = 4, top_k = 2, scoring = #strata.scoring<sigmoid>} : tensor<?x?x4xf32>
    return %x : tensor<?x?x8xf32>
  }
  func.func @loss(%t: tensor<?x?xi32>, %l: tensor<?x?xi32>) -> tensor<f32> {
    %e = strata.param "embed" : tensor<16x8xf32>
    %g = strata.param "gate" : tensor<4x8xf32>
    %b = strata.param "gate.e_score_correction_bias" {init = #strata.init<zeros>} : tensor<4xf32>
    %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
    %h = func.call @body(%x, %g, %b) : (tensor<?x?x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<?x?x8xf32>
    %o = strata.lm_head %h, %e : tensor<?x?x8xf32>, tensor<16x8xf32>
    %c = strata.cross_entropy %o, %l : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %c : tensor<f32>
  }
}
// CHECK-LABEL: func.func @optimizer_step(
// CHECK-SAME: strata.param = "embed"
// CHECK-SAME: strata.param = "gate"
// CHECK-NOT: e_score_correction_bias
// CHECK: return

// -----

// Aux-loss-free balancing (balance = bias_update): the bias takes the
// step's expert loads and comes back moved by strata.bias_balance at the
// router's rate, still outside the optimizer's update and global norm.
module attributes {strata.training = #strata.training<optimizer = adamw, weight_decay = 0.1>} {
  func.func private @body(%x: tensor<?x?x8xf32>, %g: tensor<4x8xf32>, %b: tensor<4xf32>) -> tensor<?x?x8xf32> {
    %l = strata.linear %x, %g : tensor<?x?x8xf32>, tensor<4x8xf32>
    %w, %i, %s = strata.router %l bias(%b : tensor<4xf32>) {num_experts = 4, top_k = 2, scoring = #strata.scoring<sigmoid>, balance = #strata.balance<bias_update>, bias_update_rate = 2.0e-3} : tensor<?x?x4xf32>
    return %x : tensor<?x?x8xf32>
  }
  func.func @loss(%t: tensor<?x?xi32>, %l: tensor<?x?xi32>) -> tensor<f32> {
    %e = strata.param "embed" : tensor<16x8xf32>
    %g = strata.param "gate" : tensor<4x8xf32>
    %b = strata.param "gate.e_score_correction_bias" {init = #strata.init<zeros>} : tensor<4xf32>
    %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
    %h = func.call @body(%x, %g, %b) : (tensor<?x?x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<?x?x8xf32>
    %o = strata.lm_head %h, %e : tensor<?x?x8xf32>, tensor<16x8xf32>
    %c = strata.cross_entropy %o, %l : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %c : tensor<f32>
  }
}
// CHECK-LABEL: func.func @optimizer_step(
// CHECK-SAME: %[[LOAD:[a-z0-9_]+]]: tensor<4xi32> {strata.arg = "expert_load", strata.param = "gate.e_score_correction_bias"}) -> (
// CHECK-SAME: tensor<4xf32> {strata.param = "gate.e_score_correction_bias", strata.result = "parameter"})
// CHECK: strata.global_norm %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} : tensor<16x8xf32>, tensor<4x8xf32> ->
// CHECK-COUNT-2: strata.optimizer_update
// CHECK: %[[BIAS:[a-z0-9_]+]] = strata.param "gate.e_score_correction_bias"
// CHECK: %[[MOVED:[a-z0-9_]+]] = strata.bias_balance %[[BIAS]], %[[LOAD]] {rate = 2.000000e-03 : f64} : tensor<4xf32>, tensor<4xi32>
// CHECK: return {{.*}}, %[[MOVED]] :

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

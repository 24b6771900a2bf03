// RUN: strata-opt %s --strata-optimizer | FileCheck %s
// RUN: strata-opt %s --strata-optimizer --strata-convert-to-linalg | FileCheck %s --check-prefix=LINALG
// RUN: sed -e 's/zero_stage = 1/zero_stage = 0/' %s | strata-opt --strata-optimizer | FileCheck %s --check-prefix=REPLICATED

// ZeRO stage 1 over two data-parallel ranks (Lion, clipping 0.5): besides
// optimizer_step, optimizer_update steps any one parameter flattened to
// 1-D, given the step and the global norm the ranks summed (Lion has one
// state slot), with the plan's schedule and hyper-parameters; the model
// balances no selection bias, so there is no optimizer_balance. Without
// the sharding, optimizer_step alone.

module attributes {strata.parallel = #strata.parallel<grid = @mesh, dp = 2, zero_stage = 1>, strata.training = #strata.training<optimizer = lion, lr = 1.0e-4, weight_decay = 1.0e-1, beta1 = 0.9, beta2 = 0.99, gradient_clipping = 0.5>} {
  shard.grid @mesh(shape = 1x2x1x1)
  func.func @loss(%t: tensor<?x?xi32>, %l: tensor<?x?xi32>) -> tensor<f32> {
    %e = strata.param "embed" : tensor<16x4xf32>
    %n = strata.param "norm" {init = #strata.init<ones>} : tensor<4xf32>
    %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x4xf32>
    %h = strata.rmsnorm %x, %n : tensor<?x?x4xf32>, tensor<4xf32>
    %o = strata.lm_head %h, %e : tensor<?x?x4xf32>, tensor<16x4xf32>
    %c = strata.cross_entropy %o, %l : tensor<?x?x16xf32>, tensor<?x?xi32>
    return %c : tensor<f32>
  }
}

// CHECK-LABEL: func.func @optimizer_step(
// CHECK-LABEL: func.func @optimizer_update(
// CHECK-SAME: %[[T:[^:]*]]: tensor<i32> {strata.arg = "step"}
// CHECK-SAME: %[[U:[^:]*]]: tensor<i32> {strata.arg = "update_count"}
// CHECK-SAME: %[[NORM:[^:]*]]: tensor<f32> {strata.arg = "grad_norm"}
// CHECK-SAME: %[[P:.*]]: tensor<?xf32> {strata.arg = "flat_param"}
// CHECK-SAME: %[[G:.*]]: tensor<?xf32> {strata.arg = "flat_gradient"}
// CHECK-SAME: %[[M:.*]]: tensor<?xf32> {strata.arg = "flat_state", strata.slot = 0 : i32})
// CHECK-SAME: -> (tensor<f32> {strata.result = "lr"}, tensor<?xf32> {strata.result = "flat_param"}, tensor<?xf32> {strata.result = "flat_state", strata.slot = 0 : i32})
// CHECK: %[[LR:.*]] = strata.lr_schedule %[[T]] {lr = 1.000000e-04 : f64
// CHECK: %[[NEW:.*]], %[[STATE:.*]] = strata.optimizer_update %[[P]], %[[G]], state(%[[M]]), %[[U]], %[[LR]], %[[NORM]] {beta1 = 9.000000e-01 : f64, beta2 = 0.98999999999999999 : f64, eps = 1.000000e-08 : f64, max_grad_norm = 5.000000e-01 : f64, optimizer = #strata.optimizer<lion>, weight_decay = 1.000000e-01 : f64}
// CHECK: return %[[LR]], %[[NEW]], %[[STATE]]
// CHECK-NOT: func.func @optimizer_balance

// The flat update lowers like any elementwise op over a dynamic length.
// LINALG-LABEL: func.func @optimizer_update(
// LINALG: linalg.generic
// LINALG-NOT: strata.optimizer_update

// REPLICATED: func.func @optimizer_step(
// REPLICATED-NOT: func.func @optimizer_update

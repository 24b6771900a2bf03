// RUN: strata-opt %s --strata-optimizer | FileCheck %s
// RUN: strata-opt %s --strata-optimizer --strata-convert-to-linalg | FileCheck %s --check-prefix=LINALG

// optimizer_step from the module's plan (AdamW, cosine schedule, clipping
// 1.0): the step, the update count, one gradient and two moments per parameter the loss
// reads (a parameter read twice once) in; the rate, the norm, the new
// parameters and the new moments out, each marked for the runtime.

module attributes {strata.training = #strata.training<optimizer = adamw, lr = 1.0e-3, weight_decay = 1.0e-2, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8, schedule = linear_warmup_cosine_decay, warmup_steps = 10, total_steps = 100, min_lr_ratio = 0.1, gradient_clipping = 1.0>} {
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
// CHECK-SAME: %[[T:[^:]*]]: tensor<i32> {strata.arg = "step"}
// CHECK-SAME: %[[U:[^:]*]]: tensor<i32> {strata.arg = "update_count"}
// CHECK-SAME: %[[GE:[^:]*]]: tensor<16x4xf32> {strata.arg = "gradient", strata.param = "embed"}
// CHECK-SAME: %[[GN:.*]]: tensor<4xf32> {strata.arg = "gradient", strata.param = "norm"}
// CHECK-SAME: %[[ME:.*]]: tensor<16x4xf32> {strata.arg = "state", strata.state = "embed.exp_avg"}
// CHECK-SAME: %[[VE:.*]]: tensor<16x4xf32> {strata.arg = "state", strata.state = "embed.exp_avg_sq"}
// CHECK-SAME: %[[MN:.*]]: tensor<4xf32> {strata.arg = "state", strata.state = "norm.exp_avg"}
// CHECK-SAME: %[[VN:.*]]: tensor<4xf32> {strata.arg = "state", strata.state = "norm.exp_avg_sq"}
// CHECK-SAME: -> (tensor<f32> {strata.result = "lr"}, tensor<f32> {strata.result = "grad_norm"}, tensor<16x4xf32> {strata.param = "embed", strata.result = "parameter"}, tensor<4xf32> {strata.param = "norm", strata.result = "parameter"}, tensor<16x4xf32> {strata.result = "state", strata.state = "embed.exp_avg"},
// CHECK: %[[LR:.*]] = strata.lr_schedule %[[T]] {lr = 1.000000e-03 : f64, min_lr_ratio = 1.000000e-01 : f64, schedule = #strata.schedule<linear_warmup_cosine_decay>, total_steps = 100 : i64, warmup_steps = 10 : i64} : tensor<i32> -> tensor<f32>
// CHECK: %[[NORM:.*]] = strata.global_norm %[[GE]], %[[GN]] : tensor<16x4xf32>, tensor<4xf32> -> tensor<f32>
// CHECK: %[[E:.*]] = strata.param "embed"
// CHECK: %[[PE:.*]], %[[SE:.*]]:2 = strata.optimizer_update %[[E]], %[[GE]], state(%[[ME]], %[[VE]]), %[[U]], %[[LR]], %[[NORM]] {beta1 = 9.000000e-01 : f64, beta2 = 0.94999999999999996 : f64, eps = 1.000000e-08 : f64, max_grad_norm = 1.000000e+00 : f64, optimizer = #strata.optimizer<adamw>, weight_decay = 1.000000e-02 : f64}
// CHECK: %[[N:.*]] = strata.param "norm" {init = #strata.init<ones>}
// CHECK: %[[PN:.*]], %[[SN:.*]]:2 = strata.optimizer_update %[[N]], %[[GN]], state(%[[MN]], %[[VN]])
// CHECK: return %[[LR]], %[[NORM]], %[[PE]], %[[PN]], %[[SE]]#0, %[[SE]]#1, %[[SN]]#0, %[[SN]]#1

// The schedule and the corrections are 0-d generics in f64; the norm sums
// squares in f64; each update is one parallel generic writing the
// parameter and both moments.
// LINALG-LABEL: func.func @optimizer_step(
// LINALG: math.cos
// LINALG: arith.truncf %{{.*}} : f64 to f32
// LINALG: linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]
// LINALG: arith.extf %{{.*}} : f32 to f64
// LINALG: math.powf
// LINALG: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}}outs({{.*}}, {{.*}}, {{.*}} : tensor<16x4xf32>, tensor<16x4xf32>, tensor<16x4xf32>)
// LINALG: math.sqrt
// LINALG-NOT: strata.optimizer_update

// RUN: strata-opt %s --strata-autodiff | FileCheck %s

// A loss with dropout inside a layer body: the body and the loss get
// `_train` variants taking the step's number last, the dropout ops get it
// with a salt each, loss_grad takes it as its last argument (marked for
// the runtime) and differentiates through the variant, whose backward
// recomputes the mask (strata.dropout_backward). Inference keeps the
// original functions, dropout-free.

func.func private @body(%x: tensor<?x?x8xf32>, %w: tensor<8x8xf32>) -> tensor<?x?x8xf32> {
  %0 = strata.linear %x, %w : tensor<?x?x8xf32>, tensor<8x8xf32>
  %1 = strata.dropout %0 {p = 0.1 : f64, seed = 3 : i64} : tensor<?x?x8xf32>
  %2 = strata.add %x, %1 : tensor<?x?x8xf32>
  return %2 : tensor<?x?x8xf32>
}

func.func @loss(%t: tensor<?x?xi32>, %l: tensor<?x?xi32>) -> tensor<f32> {
  %e = strata.param "embed" : tensor<16x8xf32>
  %w = strata.param "w" : tensor<8x8xf32>
  %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
  %d = strata.dropout %x {p = 0.2 : f64, seed = 3 : i64} : tensor<?x?x8xf32>
  %h = func.call @body(%d, %w) : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %o = strata.lm_head %h, %e : tensor<?x?x8xf32>, tensor<16x8xf32>
  %c = strata.cross_entropy %o, %l : tensor<?x?x16xf32>, tensor<?x?xi32>
  return %c : tensor<f32>
}

// CHECK-LABEL: func.func private @body(
// CHECK: strata.dropout %{{.*}} {p = 1.000000e-01 : f64, seed = 3 : i64}
// CHECK-LABEL: func.func private @body_train(
// CHECK-SAME: %[[STEP:[a-z0-9]+]]: tensor<i32>) -> tensor<?x?x8xf32>
// CHECK: strata.dropout %{{.*}} step(%[[STEP]]) {p = 1.000000e-01 : f64, salt = 2 : i64, seed = 3 : i64}
// CHECK-LABEL: func.func private @body_train_vjp(
// CHECK: strata.dropout_backward %{{.*}}, step(%{{.*}}), %{{.*}} {p = 1.000000e-01 : f64, salt = 2 : i64, seed = 3 : i64}
// CHECK-LABEL: func.func @loss(
// CHECK-NOT: step(
// CHECK: return
// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[T:[a-z0-9]+]]: tensor<?x?xi32>, %[[L:[a-z0-9]+]]: tensor<?x?xi32>, %[[S:[a-z0-9]+]]: tensor<i32> {strata.arg = "step"})
// CHECK: %[[D:.*]] = strata.dropout %{{.*}} step(%[[S]]) {p = 2.000000e-01 : f64, salt = 1 : i64, seed = 3 : i64}
// CHECK: call @body_train(%[[D]], %{{.*}}, %[[S]])
// CHECK: call @body_train_vjp(%[[D]], %{{.*}}, %[[S]], %{{.*}})
// CHECK: strata.dropout_backward %{{.*}}, step(%[[S]]), %{{.*}} {p = 2.000000e-01 : f64, salt = 1 : i64, seed = 3 : i64}
// CHECK-NOT: @loss_train

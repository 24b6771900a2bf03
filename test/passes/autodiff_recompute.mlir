// RUN: strata-opt %s --strata-autodiff=recompute=none | FileCheck %s
// RUN: not strata-opt %s --strata-autodiff=recompute=some 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: strata-autodiff: recompute must be layer or none, got 'some'

// recompute=none: the layer body's ops are differentiated in place, in
// loss_grad's own forward, so no layer runs twice (no _vjp function); the
// inference functions keep their calls.

func.func private @body(%x: tensor<?x?x8xf32>, %w: tensor<8x8xf32>) -> tensor<?x?x8xf32> {
  %0 = strata.linear %x, %w : tensor<?x?x8xf32>, tensor<8x8xf32>
  %1 = strata.add %x, %0 : tensor<?x?x8xf32>
  return %1 : tensor<?x?x8xf32>
}

func.func @loss(%t: tensor<?x?xi32>, %l: tensor<?x?xi32>) -> tensor<f32> {
  %e = strata.param "embed" : tensor<16x8xf32>
  %w = strata.param "w" : tensor<8x8xf32>
  %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
  %h1 = func.call @body(%x, %w) : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %h2 = func.call @body(%h1, %w) : (tensor<?x?x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %o = strata.lm_head %h2, %e : tensor<?x?x8xf32>, tensor<16x8xf32>
  %c = strata.cross_entropy %o, %l : tensor<?x?x16xf32>, tensor<?x?xi32>
  return %c : tensor<f32>
}

// CHECK-NOT: _vjp
// CHECK-LABEL: func.func @loss(
// CHECK: call @body
// CHECK: call @body
// CHECK-LABEL: func.func @loss_grad(
// CHECK-NOT: call
// CHECK: %[[A:.*]] = strata.linear %[[X:.*]], %[[W:.*]] :
// CHECK: %[[H1:.*]] = strata.add %[[X]], %[[A]]
// CHECK: %[[B:.*]] = strata.linear %[[H1]], %[[W]] :
// CHECK: %[[H2:.*]] = strata.add %[[H1]], %[[B]]
// CHECK: strata.linear_backward %[[H1]], %[[W]]
// CHECK: strata.linear_backward %[[X]], %[[W]]
// CHECK-NOT: call
// CHECK: return

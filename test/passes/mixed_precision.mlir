// RUN: strata-opt %s --strata-mixed-precision | FileCheck %s
// RUN: strata-opt %s --strata-mixed-precision=precision=f16 | FileCheck %s --check-prefix=F16
// RUN: strata-opt %s --strata-mixed-precision=precision=f32 | FileCheck %s --check-prefix=NONE
// RUN: strata-opt %s --strata-mixed-precision --strata-autodiff=scaled-loss=true | FileCheck %s --check-prefix=GRAD
// RUN: not strata-opt %s --strata-mixed-precision=precision=f8 2>&1 | FileCheck %s --check-prefix=BAD

// The plan's precision (bf16) makes @loss compute as a bf16 model: the
// matrix products' operands and results are rounded, each value once (the
// weight both linears read, the activation between them); the norm, the
// residual add and the loss stay f32. The body @loss calls is cloned as
// @body_bf16, so @forward (inference) keeps the f32 body.

module attributes {strata.training = #strata.training<precision = bf16>} {
func.func private @body(%x: tensor<?x?x8xf32>, %w: tensor<8x8xf32>, %n: tensor<8xf32>) -> tensor<?x?x8xf32> {
  %h = strata.rmsnorm %x, %n {eps = 1.0e-5} : tensor<?x?x8xf32>, tensor<8xf32>
  %a = strata.linear %h, %w : tensor<?x?x8xf32>, tensor<8x8xf32>
  %b = strata.linear %a, %w : tensor<?x?x8xf32>, tensor<8x8xf32>
  %r = strata.add %x, %b : tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}

func.func @forward(%t: tensor<?x?xi32>) -> tensor<?x?x8xf32> {
  %e = strata.param "embed" : tensor<16x8xf32>
  %w = strata.param "w" : tensor<8x8xf32>
  %n = strata.param "norm" : tensor<8xf32>
  %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
  %y = func.call @body(%x, %w, %n) : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return %y : tensor<?x?x8xf32>
}

func.func @loss(%t: tensor<?x?xi32>, %lb: tensor<?x?xi32>) -> tensor<f32> {
  %e = strata.param "embed" : tensor<16x8xf32>
  %w = strata.param "w" : tensor<8x8xf32>
  %n = strata.param "norm" : tensor<8xf32>
  %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
  %y = func.call @body(%x, %w, %n) : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  %z = strata.lm_head %y, %e : tensor<?x?x8xf32>, tensor<16x8xf32>
  %l = strata.cross_entropy %z, %lb {ignore_index = -100} : tensor<?x?x16xf32>, tensor<?x?xi32>
  return %l : tensor<f32>
}
}

// CHECK-LABEL: func.func private @body(
// CHECK-NOT:   strata.round
// CHECK:       return
// CHECK-LABEL: func.func private @body_bf16(
// CHECK-SAME:    %[[X:[a-z0-9]+]]: tensor<?x?x8xf32>, %[[W:[a-z0-9]+]]: tensor<8x8xf32>, %[[N:[a-z0-9]+]]: tensor<8xf32>)
// CHECK-NEXT:    %[[WR:.*]] = strata.round %[[W]] to bf16 : tensor<8x8xf32>
// CHECK-NEXT:    %[[H:.*]] = strata.rmsnorm %[[X]], %[[N]]
// CHECK-NEXT:    %[[HR:.*]] = strata.round %[[H]] to bf16
// CHECK-NEXT:    %[[A:.*]] = strata.linear %[[HR]], %[[WR]]
// CHECK-NEXT:    %[[AR:.*]] = strata.round %[[A]] to bf16
// CHECK-NEXT:    %[[B:.*]] = strata.linear %[[AR]], %[[WR]]
// CHECK-NEXT:    %[[BR:.*]] = strata.round %[[B]] to bf16
// CHECK-NEXT:    strata.add %[[X]], %[[BR]]
// CHECK-LABEL: func.func @forward(
// CHECK-NOT:   strata.round
// CHECK:       call @body(
// CHECK-LABEL: func.func @loss(
// CHECK:       %[[E:.*]] = strata.param "embed"
// CHECK-NEXT:  %[[ER:.*]] = strata.round %[[E]] to bf16 : tensor<16x8xf32>
// CHECK:       %[[X0:.*]] = strata.embedding %{{.*}}, %[[ER]]
// CHECK-NEXT:  %[[Y:.*]] = call @body_bf16(%[[X0]],
// CHECK-NEXT:  %[[YR:.*]] = strata.round %[[Y]] to bf16
// CHECK-NEXT:  %[[Z:.*]] = strata.lm_head %[[YR]], %[[ER]]
// CHECK-NEXT:  %[[ZR:.*]] = strata.round %[[Z]] to bf16
// CHECK-NEXT:  strata.cross_entropy %[[ZR]]

// F16: func.func private @body_f16(
// F16: strata.round %{{.*}} to f16
// F16: call @body_f16(

// NONE-NOT: strata.round
// NONE-NOT: _bf16

// With scaled-loss, loss_grad takes the loss scale last and starts the
// backward from it; the rounds' gradients are rounded.
// GRAD-LABEL: func.func @loss_grad(
// GRAD-SAME:    %[[S:[a-z0-9]+]]: tensor<f32> {strata.arg = "loss_scale"})
// GRAD:         %[[ZR:.*]] = strata.round %{{.*}} to bf16 : tensor<?x?x16xf32>
// GRAD:         %[[DZ:.*]] = strata.cross_entropy_backward %[[ZR]], %{{.*}}, %[[S]]
// GRAD-NEXT:    %[[DZR:.*]] = strata.round %[[DZ]] to bf16
// GRAD-NEXT:    strata.linear_backward %{{.*}}, %{{.*}}, %[[DZR]]
// GRAD:         call @body_bf16_vjp(
// GRAD-NOT:     arith.constant dense<1.0

// BAD: error: strata-mixed-precision: precision must be bf16, f16 or f32, got 'f8'

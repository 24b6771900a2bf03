// RUN: strata-opt %s --strata-autodiff=functions=loss,unused | FileCheck %s

// The loss of a two-layer model: the backward runs in reverse, layer
// bodies become calls of one @body_vjp (which recomputes the body), the
// tied embedding's two gradients are summed, and every parameter gets a
// gradient in order of appearance after the float arguments'.

func.func private @body(%x: tensor<?x?x8xf32>, %n: tensor<8xf32>, %g: tensor<16x8xf32>, %u: tensor<16x8xf32>, %d: tensor<8x16xf32>) -> tensor<?x?x8xf32> {
  %0 = strata.rmsnorm %x, %n : tensor<?x?x8xf32>, tensor<8xf32>
  %1 = strata.linear %0, %g : tensor<?x?x8xf32>, tensor<16x8xf32>
  %2 = strata.linear %0, %u : tensor<?x?x8xf32>, tensor<16x8xf32>
  %3 = strata.swiglu %1, %2 : tensor<?x?x16xf32>
  %4 = strata.linear %3, %d : tensor<?x?x16xf32>, tensor<8x16xf32>
  %5 = strata.add %x, %4 : tensor<?x?x8xf32>
  return %5 : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func private @body_vjp(
// CHECK-SAME: %[[X:.*]]: tensor<?x?x8xf32>, %[[N:.*]]: tensor<8xf32>, %[[G:.*]]: tensor<16x8xf32>, %[[U:.*]]: tensor<16x8xf32>, %[[D:.*]]: tensor<8x16xf32>, %[[DY:.*]]: tensor<?x?x8xf32>)
// CHECK-SAME: -> (tensor<?x?x8xf32>, tensor<8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>)
// CHECK: %[[H:.*]] = strata.rmsnorm %[[X]], %[[N]]
// CHECK: %[[A:.*]] = strata.linear %[[H]], %[[G]]
// CHECK: %[[B:.*]] = strata.linear %[[H]], %[[U]]
// CHECK: %[[S:.*]] = strata.swiglu %[[A]], %[[B]]
// CHECK: %[[DS:.*]], %[[DD:.*]] = strata.linear_backward %[[S]], %[[D]], %[[DY]]
// CHECK: %[[DA:.*]], %[[DB:.*]] = strata.swiglu_backward %[[A]], %[[B]], %[[DS]]
// CHECK: %[[DH1:.*]], %[[DU:.*]] = strata.linear_backward %[[H]], %[[U]], %[[DB]]
// CHECK: %[[DH2:.*]], %[[DG:.*]] = strata.linear_backward %[[H]], %[[G]], %[[DA]]
// CHECK: %[[DH:.*]] = strata.add %[[DH1]], %[[DH2]]
// CHECK: %[[DX:.*]], %[[DN:.*]] = strata.rmsnorm_backward %[[X]], %[[N]], %[[DH]]
// CHECK: %[[DXALL:.*]] = strata.add %[[DY]], %[[DX]]
// CHECK: return %[[DXALL]], %[[DN]], %[[DG]], %[[DU]], %[[DD]]

func.func @loss(%tokens: tensor<?x?xi32>, %labels: tensor<?x?xi32>) -> tensor<f32> {
  %e = strata.param "embed" : tensor<32x8xf32>
  %n = strata.param "norm" : tensor<8xf32>
  %g = strata.param "gate" : tensor<16x8xf32>
  %u = strata.param "up" : tensor<16x8xf32>
  %d = strata.param "down" : tensor<8x16xf32>
  %x = strata.embedding %tokens, %e : tensor<?x?xi32>, tensor<32x8xf32>
  %h1 = func.call @body(%x, %n, %g, %u, %d) : (tensor<?x?x8xf32>, tensor<8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>) -> tensor<?x?x8xf32>
  %h2 = func.call @body(%h1, %n, %g, %u, %d) : (tensor<?x?x8xf32>, tensor<8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>) -> tensor<?x?x8xf32>
  %logits = strata.lm_head %h2, %e : tensor<?x?x8xf32>, tensor<32x8xf32>
  %l = strata.cross_entropy %logits, %labels {ignore_index = 0} : tensor<?x?x32xf32>, tensor<?x?xi32>
  return %l : tensor<f32>
}

// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[T:.*]]: tensor<?x?xi32>, %[[L:.*]]: tensor<?x?xi32>)
// CHECK-SAME: -> (tensor<f32>, tensor<32x8xf32>, tensor<8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<8x16xf32>)
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[X0:.*]] = strata.embedding %[[T]]
// CHECK: %[[H1:.*]] = call @body(%[[X0]],
// CHECK: %[[H2:.*]] = call @body(%[[H1]],
// CHECK: %[[Z:.*]] = strata.lm_head %[[H2]]
// CHECK: %[[LOSS:.*]] = strata.cross_entropy %[[Z]], %[[L]] {ignore_index = 0 : i64}
// CHECK: %[[DZ:.*]] = strata.cross_entropy_backward %[[Z]], %[[L]], %[[ONE]] {ignore_index = 0 : i64}
// CHECK: %[[DH2:.*]], %[[DE1:.*]] = strata.linear_backward %[[H2]], %{{.*}}, %[[DZ]]
// CHECK: %[[V2:.*]]:5 = call @body_vjp(%[[H1]], {{.*}}, %[[DH2]])
// CHECK: %[[V1:.*]]:5 = call @body_vjp(%[[X0]], {{.*}}, %[[V2]]#0)
// CHECK: %[[DN:.*]] = strata.add %[[V2]]#1, %[[V1]]#1
// CHECK: %[[DG:.*]] = strata.add %[[V2]]#2, %[[V1]]#2
// CHECK: %[[DU:.*]] = strata.add %[[V2]]#3, %[[V1]]#3
// CHECK: %[[DD:.*]] = strata.add %[[V2]]#4, %[[V1]]#4
// CHECK: %[[DE2:.*]] = strata.embedding_backward %[[T]], %[[V1]]#0 : tensor<?x?xi32>, tensor<?x?x8xf32> -> tensor<32x8xf32>
// CHECK: %[[DE:.*]] = strata.add %[[DE1]], %[[DE2]]
// CHECK: return %[[LOSS]], %[[DE]], %[[DN]], %[[DG]], %[[DU]], %[[DD]]

// A parameter the loss never reaches gets zeros; a declared @unused_grad
// is filled in.
func.func private @unused_grad(tensor<4xf32>) -> (tensor<f32>, tensor<4xf32>, tensor<3xf32>)
func.func @unused(%x: tensor<4xf32>) -> tensor<f32> {
  %p = strata.param "p" : tensor<3xf32>
  %l = arith.constant dense<2.0> : tensor<f32>
  return %l : tensor<f32>
}
// CHECK-LABEL: func.func private @unused_grad(
// CHECK: %[[Z1:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<4xf32>)
// CHECK: %[[Z2:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<3xf32>)
// CHECK: return %{{.*}}, %[[Z1]], %[[Z2]]

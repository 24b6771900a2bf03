// RUN: strata-opt %s --split-input-file --strata-autodiff --verify-diagnostics | FileCheck %s

// A tensor-parallel rank's loss (one column-parallel and one row-parallel
// product, as strata-shard leaves them): the row-parallel sum
// (shard.all_reduce, Megatron's g) passes its gradient through unchanged,
// and the marked replicated input (strata.enter_tensor_parallel, f) sums
// its gradient over the grid's tp axis, so that the norm's backward sees
// the whole gradient on every rank.
// CHECK-LABEL: func.func @loss_grad(
// CHECK:         %[[H:.*]] = strata.rmsnorm
// CHECK:         %[[M:.*]] = strata.enter_tensor_parallel %[[H]] on @mesh axis 1
// CHECK:         %[[S:.*]] = shard.all_reduce %{{.*}} on @mesh grid_axes = [1]
// CHECK:         %[[DS:.*]], %{{.*}} = strata.linear_backward %[[S]]
// CHECK:         %[[DA:.*]], %{{.*}} = strata.linear_backward %{{.*}}, %{{.*}}, %[[DS]]
// CHECK:         %[[DH:.*]], %{{.*}} = strata.linear_backward %[[M]], %{{.*}}, %[[DA]]
// CHECK-NEXT:    %[[SUM:.*]] = shard.all_reduce %[[DH]] on @mesh grid_axes = [1] : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
// CHECK-NEXT:    strata.rmsnorm_backward %{{.*}}, %{{.*}}, %[[SUM]]
shard.grid @mesh(shape = 1x2)
func.func @loss(%tokens: tensor<?x?xi32>, %labels: tensor<?x?xi32>) -> tensor<f32> {
  %e = strata.param "embed" : tensor<32x8xf32>
  %n = strata.param "norm" : tensor<8xf32>
  %up = strata.param "up" : tensor<4x8xf32>
  %down = strata.param "down" : tensor<8x4xf32>
  %x = strata.embedding %tokens, %e : tensor<?x?xi32>, tensor<32x8xf32>
  %h = strata.rmsnorm %x, %n : tensor<?x?x8xf32>, tensor<8xf32>
  %m = strata.enter_tensor_parallel %h on @mesh axis 1 : tensor<?x?x8xf32>
  %a = strata.linear %m, %up : tensor<?x?x8xf32>, tensor<4x8xf32>
  %p = strata.linear %a, %down : tensor<?x?x4xf32>, tensor<8x4xf32>
  %s = shard.all_reduce %p on @mesh grid_axes = [1] : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %logits = strata.lm_head %s, %e : tensor<?x?x8xf32>, tensor<32x8xf32>
  %l = strata.cross_entropy %logits, %labels {ignore_index = 0} : tensor<?x?x32xf32>, tensor<?x?xi32>
  return %l : tensor<f32>
}

// -----

// The marker's axis must be one of its grid's.
shard.grid @mesh(shape = 2)
func.func @loss(%tokens: tensor<?x?xi32>, %labels: tensor<?x?xi32>) -> tensor<f32> {
  %e = strata.param "embed" : tensor<32x8xf32>
  %x = strata.embedding %tokens, %e : tensor<?x?xi32>, tensor<32x8xf32>
  // expected-error @+1 {{'strata.enter_tensor_parallel' op enter_c2: axis 3 is not an axis of grid @mesh}}
  %m = strata.enter_tensor_parallel %x on @mesh axis 3 : tensor<?x?x8xf32>
  %logits = strata.lm_head %m, %e : tensor<?x?x8xf32>, tensor<32x8xf32>
  %l = strata.cross_entropy %logits, %labels {ignore_index = 0} : tensor<?x?x32xf32>, tensor<?x?xi32>
  return %l : tensor<f32>
}

// RUN: strata-opt %s --split-input-file --strata-convert-to-linalg --verify-diagnostics | FileCheck %s

// Tests that a row-parallel product's shard.all_reduce (f32 sum over the
// grid's last axis, tp) becomes strata_kernel.all_reduce.
// CHECK-LABEL: func.func @tp_sum(
// CHECK-SAME:    %[[X:.*]]: tensor<?x8xf32>
// CHECK:         %[[R:.*]] = strata_kernel.all_reduce %[[X]] : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK:         return %[[R]]
shard.grid @mesh(shape = 1x1x1x2)
func.func @tp_sum(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = shard.all_reduce %x on @mesh grid_axes = [3] : tensor<?x8xf32> -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Tests that collectives without a lowering are named at the op: a sum
// over another axis, and a maximum.
shard.grid @mesh(shape = 1x2x1x2)
func.func @other_axis(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'shard.all_reduce' op has no lowering to linalg yet}}
  %0 = shard.all_reduce %x on @mesh grid_axes = [1] : tensor<4xf32> -> tensor<4xf32>
  %1 = shard.all_reduce %0 on @mesh grid_axes = [3] reduction = max : tensor<4xf32> -> tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// Tests that the forward drops strata.enter_tensor_parallel (the identity;
// its backward's sum is a shard.all_reduce of its own).
// CHECK-LABEL: func.func @enter(
// CHECK-SAME:    %[[X:.*]]: tensor<4xf32>
// CHECK-NEXT:    return %[[X]]
shard.grid @mesh(shape = 1x1x1x2)
func.func @enter(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = strata.enter_tensor_parallel %x on @mesh axis 3 : tensor<4xf32>
  return %0 : tensor<4xf32>
}

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

// -----

// Tests that an expert-parallel program's exchanges become their kernel
// forms with inits of the rows' shapes: dispatch and route write G = 2
// ranks' rows ([2 * B, S, .]), combine this rank's tokens.
// CHECK-LABEL: func.func @experts(
// CHECK-SAME:    %[[X:[a-z0-9]*]]: tensor<?x?x16xf32>, %[[W:[a-z0-9]*]]: tensor<?x?x2xf32>, %[[I:[a-z0-9]*]]: tensor<?x?x2xi32>
// CHECK:         %[[B:.*]] = tensor.dim %[[I]], %c0
// CHECK:         %[[ROWS:.*]] = arith.muli %[[B]], %c2
// CHECK-DAG:     %[[RII:.*]] = tensor.empty(%[[ROWS]], %{{.*}}) : tensor<?x?x2xi32>
// CHECK-DAG:     %[[RWI:.*]] = tensor.empty(%[[ROWS]], %{{.*}}) : tensor<?x?x2xf32>
// CHECK:         %[[RW:.*]]:2 = strata_kernel.expert_route %[[W]], %[[I]] into %[[RWI]], %[[RII]] {num_experts = 8 : i64, top_k = 2 : i64}
// CHECK:         %[[DI:.*]] = tensor.empty({{.*}}) : tensor<?x?x16xf32>
// CHECK:         %[[D:.*]] = strata_kernel.expert_exchange %[[X]], %[[RW]]#1, %[[I]] into %[[DI]] {combine = false, num_experts = 8 : i64, top_k = 2 : i64, width = 16 : i64}
// CHECK:         %[[CI:.*]] = tensor.empty({{.*}}) : tensor<?x?x16xf32>
// CHECK:         %[[C:.*]] = strata_kernel.expert_exchange %[[D]], %[[RW]]#1, %[[I]] into %[[CI]] {combine = true, num_experts = 8 : i64, top_k = 2 : i64, width = 16 : i64}
// CHECK:         return %[[C]], %[[RW]]#0
shard.grid @mesh(shape = 1x1x2x1)
func.func @experts(%x: tensor<?x?x16xf32>, %w: tensor<?x?x2xf32>, %i: tensor<?x?x2xi32>) -> (tensor<?x?x16xf32>, tensor<?x?x2xf32>) {
  %rw, %ri = strata.expert_route %w, %i on @mesh axis 2 {num_experts = 8} : tensor<?x?x2xf32>, tensor<?x?x2xi32> -> tensor<?x?x2xf32>, tensor<?x?x2xi32>
  %rows = strata.expert_dispatch %x, %ri, %i on @mesh axis 2 {num_experts = 8} : tensor<?x?x16xf32>, tensor<?x?x2xi32>, tensor<?x?x2xi32> -> tensor<?x?x16xf32>
  %y = strata.expert_combine %rows, %ri, %i on @mesh axis 2 {num_experts = 8} : tensor<?x?x16xf32>, tensor<?x?x2xi32>, tensor<?x?x2xi32> -> tensor<?x?x16xf32>
  return %y, %rw : tensor<?x?x16xf32>, tensor<?x?x2xf32>
}

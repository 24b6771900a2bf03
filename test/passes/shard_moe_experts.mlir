// RUN: strata-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sharding-propagation,shard-partition))' --verify-diagnostics | FileCheck %s

// Routed experts over 2 ranks, split by their intermediate features (as
// strata-shard annotates them): gate and up by rows of [E, F, D], down by
// columns of [E, D, F]. Each rank runs every expert over half its features
// for the same tokens and routing, and its partial result is summed.
// CHECK-LABEL: func.func @experts(
// CHECK:         %[[Y:.*]] = strata.moe_experts %{{.*}}, %{{.*}}, %{{.*}} experts(%{{.*}}, %{{.*}}, %{{.*}}) {num_experts = 4 : i64, top_k = 2 : i64} : tensor<2x5x16xf32>, tensor<2x5x2xf32>, tensor<2x5x2xi32>, tensor<4x4x16xf32>, tensor<4x4x16xf32>, tensor<4x16x4xf32>
// CHECK:         %[[S:.*]] = shard.all_reduce %[[Y]] on @tp grid_axes = [0] : tensor<2x5x16xf32> -> tensor<2x5x16xf32>
// CHECK:         return %[[S]]
module {
  shard.grid @tp(shape = 2)
  func.func @experts(%x: tensor<2x5x16xf32>, %w: tensor<2x5x2xf32>, %i: tensor<2x5x2xi32>,
                     %gate: tensor<4x8x16xf32>, %up: tensor<4x8x16xf32>,
                     %down: tensor<4x16x8xf32>) -> tensor<2x5x16xf32> {
    %rows = shard.sharding @tp split_axes = [[], [0]] : !shard.sharding
    %cols = shard.sharding @tp split_axes = [[], [], [0]] : !shard.sharding
    %g = shard.shard %gate to %rows annotate_for_users : tensor<4x8x16xf32>
    %u = shard.shard %up to %rows annotate_for_users : tensor<4x8x16xf32>
    %d = shard.shard %down to %cols annotate_for_users : tensor<4x16x8xf32>
    %y = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 4, top_k = 2} : tensor<2x5x16xf32>, tensor<2x5x2xf32>, tensor<2x5x2xi32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
    return %y : tensor<2x5x16xf32>
  }
}

// -----

// Splitting the experts themselves is not this split (which expert a token
// reaches is data): refused at the op.
module {
  shard.grid @tp(shape = 2)
  func.func @by_expert(%x: tensor<2x5x16xf32>, %w: tensor<2x5x2xf32>, %i: tensor<2x5x2xi32>,
                       %gate: tensor<4x8x16xf32>, %up: tensor<4x8x16xf32>,
                       %down: tensor<4x16x8xf32>) -> tensor<2x5x16xf32> {
    %e = shard.sharding @tp split_axes = [[0]] : !shard.sharding
    %g = shard.shard %gate to %e annotate_for_users : tensor<4x8x16xf32>
    // expected-error @+1 {{'strata.moe_experts' op can split its experts' intermediate features over ranks, not their input or output features, the experts or the top-k slots}}
    %y = strata.moe_experts %x, %w, %i experts(%g, %up, %down) {num_experts = 4, top_k = 2} : tensor<2x5x16xf32>, tensor<2x5x2xf32>, tensor<2x5x2xi32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
    return %y : tensor<2x5x16xf32>
  }
}

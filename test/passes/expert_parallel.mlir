// RUN: strata-opt %s --split-input-file --strata-expert-parallel --verify-diagnostics | FileCheck %s
// RUN: strata-opt %s --split-input-file --strata-expert-parallel=train=true --verify-diagnostics | FileCheck %s --check-prefix=TRAIN

// An ep 2 plan: the entry points and the bodies they reach are cloned as
// stage0.*; in the clone of the MoE body the routed experts become the
// rank's half ([4, F, D] of [8, F, D], strata.shard_dim 0), reached
// through route -> dispatch -> experts -> combine over the grid's ep axis
// (2). Rows are [2 * B, S, .]: every rank's tokens. The router and the
// dense body stay whole (the dense clone is dropped again: the program
// calls the original). The whole program is untouched. The loss is cloned
// only for training.
// CHECK-LABEL: func.func private @moe_body(
// CHECK-SAME:    tensor<8x8x16xf32>, %{{.*}}: tensor<8x8x16xf32>, %{{.*}}: tensor<8x16x8xf32>)
// CHECK-NOT:     strata.expert_route
// CHECK:         strata.moe_experts {{.*}} {num_experts = 8 : i64, top_k = 2 : i64}
// CHECK-LABEL: func.func private @stage0.moe_body(
// CHECK-SAME:    %[[X:[^:]*]]: tensor<?x?x16xf32>, %[[GATE:[^:]*]]: tensor<8x16xf32>, %[[G:[^:]*]]: tensor<4x8x16xf32> {strata.shard_dim = 0 : i64}, %[[U:[^:]*]]: tensor<4x8x16xf32> {strata.shard_dim = 0 : i64}, %[[D:[^:]*]]: tensor<4x16x8xf32> {strata.shard_dim = 0 : i64})
// CHECK:         %[[W:.*]], %[[I:.*]], %{{.*}} = strata.router
// CHECK:         %[[RW:.*]], %[[RI:.*]] = strata.expert_route %[[W]], %[[I]] on @mesh axis 2 {num_experts = 8 : i64} : tensor<?x?x2xf32>, tensor<?x?x2xi32> -> tensor<?x?x2xf32>, tensor<?x?x2xi32>
// CHECK:         %[[ROWS:.*]] = strata.expert_dispatch %[[X]], %[[RI]], %[[I]] on @mesh axis 2 {num_experts = 8 : i64}
// CHECK:         %[[Y:.*]] = strata.moe_experts %[[ROWS]], %[[RW]], %[[RI]] experts(%[[G]], %[[U]], %[[D]]) {num_experts = 4 : i64, top_k = 2 : i64}
// CHECK:         %[[OUT:.*]] = strata.expert_combine %[[Y]], %[[RI]], %[[I]] on @mesh axis 2 {num_experts = 8 : i64}
// CHECK:         return %[[OUT]]
// CHECK-NOT:   func.func private @stage0.dense_body
// CHECK-LABEL: func.func @stage0.forward(
// CHECK-SAME:    attributes {strata.stage = 0 : i64}
// CHECK:         call @dense_body(
// CHECK:         strata.param "experts.gate" {{.*}}strata.shard_axis = "ep", strata.shard_count = 2 : i64, strata.shard_dim = 0 : i64{{.*}} : tensor<4x8x16xf32>
// CHECK:         call @stage0.moe_body(
// CHECK-NOT:   func.func @stage0.loss
// TRAIN:       func.func @stage0.loss(
// TRAIN:         call @stage0.moe_body(
module attributes {strata.parallel = #strata.parallel<grid = @mesh, dp = 2, ep = 2>} {
  shard.grid @mesh(shape = 1x1x2x1)
  func.func private @dense_body(%x: tensor<?x?x16xf32>, %w: tensor<16x16xf32>) -> tensor<?x?x16xf32> {
    %y = strata.linear %x, %w : tensor<?x?x16xf32>, tensor<16x16xf32>
    return %y : tensor<?x?x16xf32>
  }
  func.func private @moe_body(%x: tensor<?x?x16xf32>, %gate: tensor<8x16xf32>, %g: tensor<8x8x16xf32>, %u: tensor<8x8x16xf32>, %d: tensor<8x16x8xf32>) -> tensor<?x?x16xf32> {
    %logits = strata.linear %x, %gate : tensor<?x?x16xf32>, tensor<8x16xf32>
    %w, %i, %s = strata.router %logits {num_experts = 8, top_k = 2} : tensor<?x?x8xf32>
    %y = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<?x?x16xf32>, tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<8x8x16xf32>, tensor<8x8x16xf32>, tensor<8x16x8xf32>
    return %y : tensor<?x?x16xf32>
  }
  func.func @forward(%x: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
    %w = strata.param "dense.w" {init = #strata.init<normal>} : tensor<16x16xf32>
    %h = call @dense_body(%x, %w) : (tensor<?x?x16xf32>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
    %gate = strata.param "router.gate" {init = #strata.init<normal>} : tensor<8x16xf32>
    %g = strata.param "experts.gate" {init = #strata.init<normal>} : tensor<8x8x16xf32>
    %u = strata.param "experts.up" {init = #strata.init<normal>} : tensor<8x8x16xf32>
    %d = strata.param "experts.down" {init = #strata.init<normal>} : tensor<8x16x8xf32>
    %y = call @moe_body(%h, %gate, %g, %u, %d) : (tensor<?x?x16xf32>, tensor<8x16xf32>, tensor<8x8x16xf32>, tensor<8x8x16xf32>, tensor<8x16x8xf32>) -> tensor<?x?x16xf32>
    return %y : tensor<?x?x16xf32>
  }
  func.func @loss(%x: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
    %w = strata.param "dense.w" {init = #strata.init<normal>} : tensor<16x16xf32>
    %h = call @dense_body(%x, %w) : (tensor<?x?x16xf32>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
    %gate = strata.param "router.gate" {init = #strata.init<normal>} : tensor<8x16xf32>
    %g = strata.param "experts.gate" {init = #strata.init<normal>} : tensor<8x8x16xf32>
    %u = strata.param "experts.up" {init = #strata.init<normal>} : tensor<8x8x16xf32>
    %d = strata.param "experts.down" {init = #strata.init<normal>} : tensor<8x16x8xf32>
    %y = call @moe_body(%h, %gate, %g, %u, %d) : (tensor<?x?x16xf32>, tensor<8x16xf32>, tensor<8x8x16xf32>, tensor<8x8x16xf32>, tensor<8x16x8xf32>) -> tensor<?x?x16xf32>
    return %y : tensor<?x?x16xf32>
  }
}

// -----

// Beside tensor parallelism there is no expert-parallel program yet.
// expected-error @+1 {{strata-expert-parallel: expert parallelism together with tensor or pipeline parallelism is not implemented yet; compile with --ep 1 or with --tp 1 --pp 1}}
module attributes {strata.parallel = #strata.parallel<grid = @mesh, tp = 2, dp = 2, ep = 2>} {
  shard.grid @mesh(shape = 1x1x2x2)
}

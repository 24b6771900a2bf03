// RUN: not strata-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sharding-propagation,shard-partition))' 2>&1 | FileCheck %s

// What tensor parallelism cannot split is refused at the op, not computed
// wrongly: a norm over part of a row, heads that do not divide among the
// ranks, and a bias the row-parallel partial sums would add once per rank.

module {
  shard.grid @tp(shape = 2)
  func.func @norm(%x: tensor<2x16xf32>, %w: tensor<16xf32>) -> tensor<2x16xf32> {
    %s = shard.sharding @tp split_axes = [[], [0]] : !shard.sharding
    %xs = shard.shard %x to %s annotate_for_users : tensor<2x16xf32>
    // CHECK: error: 'strata.rmsnorm' op normalises whole rows: its last dimension cannot be split over ranks
    %y = strata.rmsnorm %xs, %w : tensor<2x16xf32>, tensor<16xf32>
    return %y : tensor<2x16xf32>
  }
}

// -----

module {
  shard.grid @tp(shape = 2)
  func.func @heads(%q: tensor<1x4x12xf32>, %k: tensor<1x4x12xf32>, %v: tensor<1x4x12xf32>) -> tensor<1x4x12xf32> {
    %s = shard.sharding @tp split_axes = [[], [], [0]] : !shard.sharding
    %qs = shard.shard %q to %s annotate_for_users : tensor<1x4x12xf32>
    // CHECK: error: 'strata.attention' op has 3 num_heads, which 2 ranks cannot split into whole heads
    %a = strata.attention %qs, %k, %v {num_heads = 3, num_kv_heads = 3, head_dim = 4, v_head_dim = 4} : tensor<1x4x12xf32>, tensor<1x4x12xf32>, tensor<1x4x12xf32>
    return %a : tensor<1x4x12xf32>
  }
}

// -----

module {
  shard.grid @tp(shape = 2)
  func.func @bias(%x: tensor<2x16xf32>, %w: tensor<8x16xf32>, %b: tensor<8xf32>) -> tensor<2x8xf32> {
    %s = shard.sharding @tp split_axes = [[], [0]] : !shard.sharding
    %ws = shard.shard %w to %s annotate_for_users : tensor<8x16xf32>
    // CHECK: error: 'strata.linear' op splits its input features over ranks but has a bias, which the partial sums would add once per rank
    %y = strata.linear %x, %ws, %b : tensor<2x16xf32>, tensor<8x16xf32>, tensor<8xf32>
    return %y : tensor<2x8xf32>
  }
}

// RUN: strata-opt %s --pass-pipeline='builtin.module(func.func(sharding-propagation,shard-partition))' | FileCheck %s
// RUN: strata-opt %s --pass-pipeline='builtin.module(func.func(sharding-propagation))' | FileCheck %s --check-prefix=PROPAGATED
// Batch and sequence dynamic, as the model's layers have them.
// RUN: sed -e 's/2x5x/?x?x/g' %s | strata-opt --pass-pipeline='builtin.module(func.func(sharding-propagation,shard-partition))' | FileCheck %s --check-prefix=DYNAMIC

// Megatron tensor parallelism of one dense Llama layer over 2 ranks, with
// upstream sharding propagation and partitioning through the strata ops'
// sharding interface. Only the weights are annotated: q, k, v, gate and up
// split by output features (rows), o and down by input features (columns);
// the residual stream stays whole. Propagation carries the splits through
// rotary, attention (by whole heads: 4 query heads of 4 and 2 KV heads
// become 2 and 1 per rank) and swiglu; partitioning leaves each rank its
// slice and sums the two row-parallel products with one all-reduce each.

module {
  shard.grid @tp(shape = 2)
  func.func @layer(%x: tensor<2x5x16xf32>, %norm1: tensor<16xf32>,
                   %wq: tensor<16x16xf32>, %wk: tensor<8x16xf32>,
                   %wv: tensor<8x16xf32>, %wo: tensor<16x16xf32>,
                   %norm2: tensor<16xf32>, %wg: tensor<32x16xf32>,
                   %wu: tensor<32x16xf32>, %wd: tensor<16x32xf32>)
      -> tensor<2x5x16xf32> {
    %rows = shard.sharding @tp split_axes = [[0]] : !shard.sharding
    %cols = shard.sharding @tp split_axes = [[], [0]] : !shard.sharding
    %q_w = shard.shard %wq to %rows annotate_for_users : tensor<16x16xf32>
    %k_w = shard.shard %wk to %rows annotate_for_users : tensor<8x16xf32>
    %v_w = shard.shard %wv to %rows annotate_for_users : tensor<8x16xf32>
    %o_w = shard.shard %wo to %cols annotate_for_users : tensor<16x16xf32>
    %g_w = shard.shard %wg to %rows annotate_for_users : tensor<32x16xf32>
    %u_w = shard.shard %wu to %rows annotate_for_users : tensor<32x16xf32>
    %d_w = shard.shard %wd to %cols annotate_for_users : tensor<16x32xf32>

    %h = strata.rmsnorm %x, %norm1 : tensor<2x5x16xf32>, tensor<16xf32>
    %q = strata.linear %h, %q_w : tensor<2x5x16xf32>, tensor<16x16xf32>
    %k = strata.linear %h, %k_w : tensor<2x5x16xf32>, tensor<8x16xf32>
    %v = strata.linear %h, %v_w : tensor<2x5x16xf32>, tensor<8x16xf32>
    %qr = strata.rotary %q {num_heads = 4, head_dim = 4, rotary_dim = 4, rope = #strata.rope<>} : tensor<2x5x16xf32>
    %kr = strata.rotary %k {num_heads = 2, head_dim = 4, rotary_dim = 4, rope = #strata.rope<>} : tensor<2x5x8xf32>
    %a = strata.attention %qr, %kr, %v {num_heads = 4, num_kv_heads = 2, head_dim = 4, v_head_dim = 4} : tensor<2x5x16xf32>, tensor<2x5x8xf32>, tensor<2x5x8xf32>
    %o = strata.linear %a, %o_w : tensor<2x5x16xf32>, tensor<16x16xf32>
    %r1 = strata.add %x, %o : tensor<2x5x16xf32>

    %h2 = strata.rmsnorm %r1, %norm2 : tensor<2x5x16xf32>, tensor<16xf32>
    %g = strata.linear %h2, %g_w : tensor<2x5x16xf32>, tensor<32x16xf32>
    %u = strata.linear %h2, %u_w : tensor<2x5x16xf32>, tensor<32x16xf32>
    %s = strata.swiglu %g, %u : tensor<2x5x32xf32>
    %d = strata.linear %s, %d_w : tensor<2x5x32xf32>, tensor<16x32xf32>
    %r2 = strata.add %r1, %d : tensor<2x5x16xf32>
    return %r2 : tensor<2x5x16xf32>
  }
}

// Each rank's program: its slices as arguments, heads halved, two sums.
// CHECK-LABEL: func.func @layer(
// CHECK-SAME: %[[X:[^:]*]]: tensor<2x5x16xf32>, %{{[^:]*}}: tensor<16xf32>,
// CHECK-SAME: %[[WQ:[^:]*]]: tensor<8x16xf32>, %[[WK:[^:]*]]: tensor<4x16xf32>,
// CHECK-SAME: %[[WV:[^:]*]]: tensor<4x16xf32>, %[[WO:[^:]*]]: tensor<16x8xf32>,
// CHECK-SAME: %{{[^:]*}}: tensor<16xf32>, %[[WG:[^:]*]]: tensor<16x16xf32>,
// CHECK-SAME: %[[WU:[^:]*]]: tensor<16x16xf32>, %[[WD:[^:]*]]: tensor<16x16xf32>)
// CHECK: %[[H:.*]] = strata.rmsnorm %[[X]]
// CHECK: %[[Q:.*]] = strata.linear %[[H]], %[[WQ]] : tensor<2x5x16xf32>, tensor<8x16xf32>
// CHECK: strata.rotary %[[Q]] {head_dim = 4 : i64, num_heads = 2 : i64
// CHECK: strata.rotary %{{.*}} {head_dim = 4 : i64, num_heads = 1 : i64
// CHECK: %[[A:.*]] = strata.attention {{.*}} {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, v_head_dim = 4 : i64} : tensor<2x5x8xf32>, tensor<2x5x4xf32>, tensor<2x5x4xf32>
// CHECK: %[[O:.*]] = strata.linear %[[A]], %[[WO]] : tensor<2x5x8xf32>, tensor<16x8xf32>
// CHECK: %[[OSUM:.*]] = shard.all_reduce %[[O]] on @tp grid_axes = [0] : tensor<2x5x16xf32> -> tensor<2x5x16xf32>
// CHECK: %[[R1:.*]] = strata.add %[[X]], %[[OSUM]] : tensor<2x5x16xf32>
// CHECK: strata.swiglu {{.*}} : tensor<2x5x16xf32>
// CHECK: %[[D:.*]] = strata.linear %{{.*}}, %[[WD]] : tensor<2x5x16xf32>, tensor<16x16xf32>
// CHECK: %[[DSUM:.*]] = shard.all_reduce %[[D]] on @tp grid_axes = [0] : tensor<2x5x16xf32> -> tensor<2x5x16xf32>
// CHECK: strata.add %[[R1]], %[[DSUM]]
// CHECK-NOT: shard.all_reduce

// Propagation alone: attention's operands and result annotated as split
// on their features, the residual stream whole.
// PROPAGATED: strata.attention
// PROPAGATED: shard.sharding @tp split_axes = {{\[\[\], \[\], \[0\]\]}}

// DYNAMIC: strata.attention {{.*}} : tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>
// DYNAMIC: shard.all_reduce %{{.*}} on @tp grid_axes = [0] : tensor<?x?x16xf32> -> tensor<?x?x16xf32>
// DYNAMIC: shard.all_reduce %{{.*}} on @tp grid_axes = [0] : tensor<?x?x16xf32> -> tensor<?x?x16xf32>

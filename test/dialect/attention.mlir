// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// Tests that grouped-KV causal attention round-trips and infers [B, S, num_heads * v_head_dim].
// CHECK-LABEL: func.func @attention_gqa(
// CHECK-SAME:    %[[Q:.*]]: tensor<2x16x128xf32>, %[[K:.*]]: tensor<2x16x64xf32>, %[[V:.*]]: tensor<2x16x64xf32>) -> tensor<2x16x128xf32>
// CHECK-NEXT:    %[[A:.*]] = strata.attention %[[Q]], %[[K]], %[[V]] {head_dim = 16 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, v_head_dim = 16 : i64} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
// CHECK-NEXT:    return %[[A]] : tensor<2x16x128xf32>
// GENERIC-LABEL: sym_name = "attention_gqa"
// GENERIC:       "strata.attention"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{causal = true, dropout = 0.000000e+00 : f64, head_dim = 16 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>, salt = 0 : i64, seed = 0 : i64, v_head_dim = 16 : i64}> : (tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x128xf32>
func.func @attention_gqa(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) -> tensor<2x16x128xf32> {
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return %0 : tensor<2x16x128xf32>
}

// Tests that multi-query attention with a sliding window, dropout and a v_head_dim different
// from head_dim round-trips with dynamic batch and sequence dims.
// CHECK-LABEL: func.func @attention_window(
// CHECK-SAME:    %[[Q:.*]]: tensor<?x?x128xbf16>, %[[K:.*]]: tensor<?x?x16xbf16>, %[[V:.*]]: tensor<?x?x32xbf16>) -> tensor<?x?x256xbf16>
// CHECK-NEXT:    strata.attention %[[Q]], %[[K]], %[[V]] {dropout = 1.000000e-01 : f64, head_dim = 16 : i64, num_heads = 8 : i64, num_kv_heads = 1 : i64, v_head_dim = 32 : i64, window = 4096 : i64} : tensor<?x?x128xbf16>, tensor<?x?x16xbf16>, tensor<?x?x32xbf16>
// GENERIC-LABEL: sym_name = "attention_window"
// GENERIC:       "strata.attention"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{causal = true, dropout = 1.000000e-01 : f64, head_dim = 16 : i64, num_heads = 8 : i64, num_kv_heads = 1 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>, salt = 0 : i64, seed = 0 : i64, v_head_dim = 32 : i64, window = 4096 : i64}> : (tensor<?x?x128xbf16>, tensor<?x?x16xbf16>, tensor<?x?x32xbf16>) -> tensor<?x?x256xbf16>
func.func @attention_window(%q: tensor<?x?x128xbf16>, %k: tensor<?x?x16xbf16>, %v: tensor<?x?x32xbf16>) -> tensor<?x?x256xbf16> {
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 1, head_dim = 16, v_head_dim = 32, window = 4096, causal = true, dropout = 0.1} : tensor<?x?x128xbf16>, tensor<?x?x16xbf16>, tensor<?x?x32xbf16>
  return %0 : tensor<?x?x256xbf16>
}

// Tests that block-sparse, non-causal attention with an explicit scale round-trips, and that
// decode-shaped queries (S = 4 against T = 32 keys) keep the query length.
// CHECK-LABEL: func.func @attention_block_sparse(
// CHECK-SAME:    %[[Q:.*]]: tensor<1x4x64xf32>, %[[K:.*]]: tensor<1x32x64xf32>, %[[V:.*]]: tensor<1x32x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x64xf32>)
// CHECK-NEXT:    strata.attention %[[Q]], %[[K]], %[[V]] {causal = false, head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 1.250000e-01 : f64, sparsity = #strata.block_sparse<block_size = 16, num_local_blocks = 2, num_random_blocks = 0, seed = 7>, v_head_dim = 16 : i64} : tensor<1x4x64xf32>, tensor<1x32x64xf32>, tensor<1x32x64xf32>
// CHECK-NEXT:    strata.attention %[[Q]], %[[K]], %[[V]] {head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, sparsity = #strata.block_sparse<>, v_head_dim = 16 : i64} : tensor<1x4x64xf32>, tensor<1x32x64xf32>, tensor<1x32x64xf32>
// GENERIC-LABEL: sym_name = "attention_block_sparse"
// GENERIC:       "strata.attention"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{causal = false, dropout = 0.000000e+00 : f64, head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>, salt = 0 : i64, scale = 1.250000e-01 : f64, seed = 0 : i64, sparsity = #strata.block_sparse<block_size = 16, num_local_blocks = 2, num_random_blocks = 0, seed = 7>, v_head_dim = 16 : i64}> : (tensor<1x4x64xf32>, tensor<1x32x64xf32>, tensor<1x32x64xf32>) -> tensor<1x4x64xf32>
// GENERIC:       "strata.attention"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{causal = true, dropout = 0.000000e+00 : f64, head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>, salt = 0 : i64, seed = 0 : i64, sparsity = #strata.block_sparse<>, v_head_dim = 16 : i64}> : (tensor<1x4x64xf32>, tensor<1x32x64xf32>, tensor<1x32x64xf32>) -> tensor<1x4x64xf32>
func.func @attention_block_sparse(%q: tensor<1x4x64xf32>, %k: tensor<1x32x64xf32>, %v: tensor<1x32x64xf32>) -> (tensor<1x4x64xf32>, tensor<1x4x64xf32>) {
  %0 = strata.attention %q, %k, %v {num_heads = 4, num_kv_heads = 4, head_dim = 16, v_head_dim = 16, causal = false, sparsity = #strata.block_sparse<block_size = 16, num_local_blocks = 2, num_global_blocks = 1, num_random_blocks = 0, seed = 7>, scale = 0.125} : tensor<1x4x64xf32>, tensor<1x32x64xf32>, tensor<1x32x64xf32>
  %1 = strata.attention %q, %k, %v {num_heads = 4, num_kv_heads = 4, head_dim = 16, v_head_dim = 16, sparsity = #strata.block_sparse<>} : tensor<1x4x64xf32>, tensor<1x32x64xf32>, tensor<1x32x64xf32>
  return %0, %1 : tensor<1x4x64xf32>, tensor<1x4x64xf32>
}

// Tests that attention fed by projections and rotary from parameters round-trips, with the
// result batch taken from q when q is static and k is dynamic.
// CHECK-LABEL: func.func @attention_block(
// CHECK-SAME:    %[[X:.*]]: tensor<2x16x64xf32>, %[[KV:.*]]: tensor<?x?x32xf32>) -> tensor<2x16x64xf32>
// CHECK:         %[[WQ:.*]] = strata.param "attn.q_proj.weight" : tensor<64x64xf32>
// CHECK-NEXT:    %[[Q:.*]] = strata.linear %[[X]], %[[WQ]] : tensor<2x16x64xf32>, tensor<64x64xf32>
// CHECK-NEXT:    %[[QR:.*]] = strata.rotary %[[Q]] {head_dim = 16 : i64, num_heads = 4 : i64, rope = #strata.rope<>, rotary_dim = 16 : i64} : tensor<2x16x64xf32>
// CHECK-NEXT:    %[[A:.*]] = strata.attention %[[QR]], %[[KV]], %[[KV]] {head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, v_head_dim = 16 : i64} : tensor<2x16x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>
// CHECK-NEXT:    return %[[A]] : tensor<2x16x64xf32>
// GENERIC-LABEL: sym_name = "attention_block"
// GENERIC:       "strata.attention"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{{.*}}> : (tensor<2x16x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<2x16x64xf32>
func.func @attention_block(%x: tensor<2x16x64xf32>, %kv: tensor<?x?x32xf32>) -> tensor<2x16x64xf32> {
  %wq = strata.param "attn.q_proj.weight" : tensor<64x64xf32>
  %q = strata.linear %x, %wq : tensor<2x16x64xf32>, tensor<64x64xf32>
  %qr = strata.rotary %q {num_heads = 4, head_dim = 16, rotary_dim = 16, rope = #strata.rope<>} : tensor<2x16x64xf32>
  %0 = strata.attention %qr, %kv, %kv {num_heads = 4, num_kv_heads = 2, head_dim = 16, v_head_dim = 16} : tensor<2x16x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>
  return %0 : tensor<2x16x64xf32>
}

// Tests that attention with a per-row key padding (a left-padded batch)
// round-trips, the padding as a fourth operand.
// CHECK-LABEL: func.func @attention_key_padding(
// CHECK:         strata.attention %{{.*}}, %{{.*}}, %{{.*}} key_padding(%{{.*}} : tensor<?xi32>) {head_dim = 16 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, v_head_dim = 16 : i64} : tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>
// GENERIC-LABEL: sym_name = "attention_key_padding"
// GENERIC:       "strata.attention"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{{.*}}> : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?xi32>) -> tensor<?x?x64xf32>
func.func @attention_key_padding(%q: tensor<?x?x64xf32>, %kv: tensor<?x?x32xf32>, %pad: tensor<?xi32>) -> tensor<?x?x64xf32> {
  %0 = strata.attention %q, %kv, %kv key_padding(%pad : tensor<?xi32>) {num_heads = 4, num_kv_heads = 2, head_dim = 16, v_head_dim = 16} : tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>
  return %0 : tensor<?x?x64xf32>
}

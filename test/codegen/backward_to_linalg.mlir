// RUN: strata-opt %s --split-input-file --strata-convert-to-linalg | FileCheck %s

// The embedding's gradient is a scatter-add over token positions (work in
// the tokens, not the vocabulary), skipping ids outside the table.
// CHECK-LABEL: func.func @embedding_backward
// CHECK: %[[ZERO:.*]] = linalg.fill {{.*}} -> tensor<32x8xf32>
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[ZERO]])
// CHECK: scf.for
// CHECK: %[[TOK:.*]] = tensor.extract
// CHECK-DAG: arith.cmpi slt, %[[TOK]], %c32_i32
// CHECK-DAG: arith.cmpi sge, %[[TOK]], %c0_i32
// CHECK: scf.if
// CHECK: tensor.extract_slice {{.*}} [1, 8] [1, 1] : tensor<32x8xf32> to tensor<8xf32>
// CHECK: arith.addf
// CHECK: tensor.insert_slice {{.*}} [1, 8] [1, 1] : tensor<8xf32> into tensor<32x8xf32>
func.func @embedding_backward(%t: tensor<?x?xi32>, %dy: tensor<?x?x8xf32>) -> tensor<32x8xf32> {
  %0 = strata.embedding_backward %t, %dy : tensor<?x?xi32>, tensor<?x?x8xf32> -> tensor<32x8xf32>
  return %0 : tensor<32x8xf32>
}

// -----

// dx and dW are the forward's contraction x·Wᵀ on transposed operands (so
// they get the forward's tiles); dW's leading positions are flattened
// first; db reduces over them.
// CHECK-LABEL: func.func @linear_backward
// CHECK: %[[WT:.*]] = linalg.transpose ins(%{{.*}} : tensor<16x8xf32>) outs(%{{.*}} : tensor<8x16xf32>) permutation = [1, 0]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}}, %[[WT]] : tensor<2x3x16xf32>, tensor<8x16xf32>)
// CHECK: } -> tensor<2x3x8xf32>
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<2x3x8xf32> into tensor<6x8xf32>
// CHECK: %[[XT:.*]] = linalg.transpose {{.*}} outs(%{{.*}} : tensor<8x6xf32>)
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<2x3x16xf32> into tensor<6x16xf32>
// CHECK: %[[DYT:.*]] = linalg.transpose {{.*}} outs(%{{.*}} : tensor<16x6xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[DYT]], %[[XT]] : tensor<16x6xf32>, tensor<8x6xf32>)
// CHECK: } -> tensor<16x8xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "reduction"]
// CHECK: } -> tensor<16xf32>
func.func @linear_backward(%x: tensor<2x3x8xf32>, %w: tensor<16x8xf32>, %dy: tensor<2x3x16xf32>) -> (tensor<2x3x8xf32>, tensor<16x8xf32>, tensor<16xf32>) {
  %0:3 = strata.linear_backward %x, %w, %dy {has_bias} : tensor<2x3x8xf32>, tensor<16x8xf32>, tensor<2x3x16xf32> -> tensor<2x3x8xf32>, tensor<16x8xf32>, tensor<16xf32>
  return %0#0, %0#1, %0#2 : tensor<2x3x8xf32>, tensor<16x8xf32>, tensor<16xf32>
}

// -----

// Ignored rows get zero: the select on label != ignore_index.
// CHECK-LABEL: func.func @cross_entropy_backward
// CHECK: linalg.index 2
// CHECK: arith.cmpi ne, %{{.*}}, %c-100_i32
// CHECK: arith.select
func.func @cross_entropy_backward(%z: tensor<2x3x7xf32>, %l: tensor<2x3xi32>, %g: tensor<f32>) -> tensor<2x3x7xf32> {
  %0 = strata.cross_entropy_backward %z, %l, %g : tensor<2x3x7xf32>, tensor<2x3xi32>, tensor<f32>
  return %0 : tensor<2x3x7xf32>
}

// -----

// A channel range is an extract_slice; its gradient inserts it among zeros.
// CHECK-LABEL: func.func @channel_slice
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 8] [%{{.*}}, %{{.*}}, 4] [1, 1, 1] : tensor<?x?x12xf32> to tensor<?x?x4xf32>
// CHECK: %[[Z:.*]] = linalg.fill {{.*}} -> tensor<?x?x12xf32>
// CHECK: tensor.insert_slice %{{.*}} into %[[Z]][0, 0, 8] [%{{.*}}, %{{.*}}, 4] [1, 1, 1] : tensor<?x?x4xf32> into tensor<?x?x12xf32>
func.func @channel_slice(%x: tensor<?x?x12xf32>) -> (tensor<?x?x4xf32>, tensor<?x?x12xf32>) {
  %0 = strata.channel_slice %x {offset = 8 : i64} : tensor<?x?x12xf32> -> tensor<?x?x4xf32>
  %1 = strata.channel_slice_backward %0 {offset = 8 : i64} : tensor<?x?x4xf32> -> tensor<?x?x12xf32>
  return %0, %1 : tensor<?x?x4xf32>, tensor<?x?x12xf32>
}

// -----

// kv_grad gathers the heads' key and value gradients back (one pointwise
// generic); rope_key_grad sums the heads' rope parts (a reduction over h).
// CHECK-LABEL: func.func @latent_kv_heads_backward
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]
// CHECK: arith.select
// CHECK: } -> tensor<2x3x20xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1], [2, 3]] {{.*}} : tensor<2x3x16xf32> into tensor<2x3x2x8xf32>
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0, 4] [2, 3, 2, 4] [1, 1, 1, 1] : tensor<2x3x2x8xf32> to tensor<2x3x2x4xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: } -> tensor<2x3x4xf32>
func.func @latent_kv_heads_backward(%dk: tensor<2x3x16xf32>, %dv: tensor<2x3x12xf32>) -> (tensor<2x3x20xf32>, tensor<2x3x4xf32>) {
  %0:2 = strata.latent_kv_heads_backward %dk, %dv {num_heads = 2 : i64, qk_nope_head_dim = 4 : i64, v_head_dim = 6 : i64} : tensor<2x3x16xf32>, tensor<2x3x12xf32> -> tensor<2x3x20xf32>, tensor<2x3x4xf32>
  return %0#0, %0#1 : tensor<2x3x20xf32>, tensor<2x3x4xf32>
}

// -----

// Last-token pooling's transpose selects position S - 1; mean's divides by S.
// CHECK-LABEL: func.func @pooling_backward
// CHECK: linalg.index 1
// CHECK: arith.cmpi eq
// CHECK: arith.select
// CHECK: } -> tensor<?x?x3xf32>
// CHECK: arith.uitofp
// CHECK: arith.divf
// CHECK: } -> tensor<?x?x3xf32>
func.func @pooling_backward(%x: tensor<?x?x8xf32>, %g: tensor<?x3xf32>) -> (tensor<?x?x3xf32>, tensor<?x?x3xf32>) {
  %0 = strata.pooling_backward %x, %g : tensor<?x?x8xf32>, tensor<?x3xf32> -> tensor<?x?x3xf32>
  %1 = strata.pooling_backward %x, %g {pooling = #strata.pooling<mean>} : tensor<?x?x8xf32>, tensor<?x3xf32> -> tensor<?x?x3xf32>
  return %0, %1 : tensor<?x?x3xf32>, tensor<?x?x3xf32>
}

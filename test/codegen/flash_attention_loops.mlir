// RUN: strata-opt %s --strata-convert-to-linalg=flash-attention --split-input-file | FileCheck %s --check-prefix=LINALG
// RUN: strata-opt %s --strata-convert-to-linalg=flash-attention --one-shot-bufferize=bufferize-function-boundaries --strata-flash-attention-loops --canonicalize --split-input-file | FileCheck %s --check-prefix=LOOPS
// RUN: strata-opt %s --strata-lower-to-llvm-cpu="stop-after=loops" --split-input-file | FileCheck %s --check-prefix=PIPELINE
// RUN: strata-opt %s --strata-lower-to-llvm-cpu="stop-after=linalg flash-attention=false" --split-input-file | FileCheck %s --check-prefix=MATERIALIZED

// Tests that with flash-attention, grouped-KV attention becomes one
// strata_kernel.flash_attention on the split-head views (no [B, H, S, T] scores),
// into an empty destination, and the result is packed back.
// LINALG-LABEL: func.func @gqa_padded(
// LINALG-SAME:    %[[Q:.*]]: tensor<?x?x64xf32>, %[[KV:.*]]: tensor<?x?x32xf32>, %[[PAD:.*]]: tensor<?xi32>)
// LINALG-DAG:     %[[Q4:.*]] = tensor.expand_shape %[[Q]] {{\[}}[0], [1], [2, 3]] {{.*}} : tensor<?x?x64xf32> into tensor<?x?x4x16xf32>
// LINALG-DAG:     %[[K4:.*]] = tensor.expand_shape %[[KV]] {{\[}}[0], [1], [2, 3]] {{.*}} : tensor<?x?x32xf32> into tensor<?x?x2x16xf32>
// LINALG:         %[[INIT:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x4x16xf32>
// LINALG:         %[[R:.*]] = strata_kernel.flash_attention %[[Q4]], %[[K4]], %{{.*}} key_padding(%[[PAD]] : tensor<?xi32>) into %[[INIT]] {causal = true, scale = 2.500000e-01 : f64, window = 8 : i64}
// LINALG:         tensor.collapse_shape %[[R]] {{\[}}[0], [1], [2, 3]]
// LINALG-NOT:     linalg.generic

// Tests that after bufferization the CPU lowers it to one parallel loop
// over (batch, head, block of 4 queries): the block's accumulators live in
// a stack buffer, its keys are one sequential loop carrying each row's
// running max and sum (8 values), each key row is read once for the 4
// rows' reassociable dot products, each row masks the key by scoring it
// -inf and takes one exponential (its weight, or the factor rescaling the
// row when the key raises the maximum), one read of the value row updates
// the 4 rows, and each real row is divided by its sum and stored. No score
// buffer is allocated.
// LOOPS-LABEL: func.func @gqa_padded(
// LOOPS-NOT:     memref.alloc() {{.*}}xf32>
// LOOPS:         %[[BLOCKS:.*]] = arith.ceildivui %{{.*}}, %c4
// LOOPS:         scf.parallel (%[[B:.*]], %[[H:.*]], %[[Q:.*]]) = (%c0, %c0, %c0) to (%{{.*}}, %c4, %[[BLOCKS]])
// LOOPS:           %[[ACC:.*]] = memref.alloca() : memref<4x16xf32>
// LOOPS:           %[[ROW:.*]]:8 = scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32)
// LOOPS:             scf.for %{{.*}} = %c0 to %c16 step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32)
// LOOPS-COUNT-4:       arith.mulf %{{.*}} fastmath<reassoc,contract>
// LOOPS-COUNT-4:     math.exp
// LOOPS:             scf.for
// LOOPS-COUNT-4:       memref.store %{{.*}}, %[[ACC]]
// LOOPS:           scf.if
// LOOPS:             arith.divf %{{.*}}, %[[ROW]]#1
// LOOPS-NOT:     scf.if %{{.*}} -> (f32

// Tests that the CPU pipeline (flash-attention=true by default) runs the rows on
// the thread pool (an outlined parallel loop) and leaves no flash op.
// PIPELINE-LABEL: func.func @gqa_padded(
// PIPELINE-NOT:   strata_kernel.flash_attention
// PIPELINE:       func.func private @gqa_padded_par{{[0-9]+}}(
// PIPELINE:         scf.for {{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32)

// Tests that flash-attention=false materialises the scores.
// MATERIALIZED-LABEL: func.func @gqa_padded(
// MATERIALIZED:       tensor.empty({{.*}}) : tensor<?x4x?x?xf32>
// MATERIALIZED-NOT:   strata_kernel.flash_attention
func.func @gqa_padded(%q: tensor<?x?x64xf32>, %kv: tensor<?x?x32xf32>, %pad: tensor<?xi32>) -> tensor<?x?x64xf32> {
  %0 = strata.attention %q, %kv, %kv key_padding(%pad : tensor<?xi32>) {num_heads = 4, num_kv_heads = 2, head_dim = 16, v_head_dim = 16, window = 8} : tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Tests that a causal mask alone bounds the block's key loop by its last
// row's position: the loop never branches (masked keys score -inf).
// LOOPS-LABEL: func.func @causal_range(
// LOOPS:         scf.parallel
// LOOPS:           %[[END:.*]] = arith.minsi
// LOOPS:           scf.for %{{.*}} = %c0 to %[[END]] step %c1 iter_args
// LOOPS-NOT:         scf.if %{{.*}} -> (f32
// LOOPS:           arith.divf
func.func @causal_range(%q: tensor<1x?x32xf32>) -> tensor<1x?x32xf32> {
  %0 = strata.attention %q, %q, %q {num_heads = 2, num_kv_heads = 2, head_dim = 16, v_head_dim = 16} : tensor<1x?x32xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>
  return %0 : tensor<1x?x32xf32>
}

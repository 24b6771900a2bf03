// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s

// Tests that flash attention on tensors round-trips with its destination
// and returns the destination's new value.
// CHECK-LABEL: func.func @flash_tensors(
// CHECK:         %[[R:.*]] = strata_kernel.flash_attention %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} {causal = true, scale = 2.500000e-01 : f64} : tensor<2x?x4x16xf32>, tensor<2x?x2x16xf32>, tensor<2x?x2x8xf32>, tensor<2x?x4x8xf32> -> tensor<2x?x4x8xf32>
// CHECK-NEXT:    return %[[R]]
func.func @flash_tensors(%q: tensor<2x?x4x16xf32>, %k: tensor<2x?x2x16xf32>, %v: tensor<2x?x2x8xf32>, %init: tensor<2x?x4x8xf32>) -> tensor<2x?x4x8xf32> {
  %0 = strata_kernel.flash_attention %q, %k, %v into %init {causal = true, scale = 0.25 : f64} : tensor<2x?x4x16xf32>, tensor<2x?x2x16xf32>, tensor<2x?x2x8xf32>, tensor<2x?x4x8xf32> -> tensor<2x?x4x8xf32>
  return %0 : tensor<2x?x4x8xf32>
}

// Tests that flash attention on memrefs (after bufferization) has no
// result, and keeps key padding, window and sparsity.
// CHECK-LABEL: func.func @flash_memrefs(
// CHECK:         strata_kernel.flash_attention %{{.*}}, %{{.*}}, %{{.*}} key_padding(%{{.*}} : memref<?xi32>) into %{{.*}} {causal = true, scale = 1.250000e-01 : f64, window = 4 : i64} : memref<?x?x4x16xf32>, memref<?x?x4x16xf32>, memref<?x?x4x16xf32>, memref<?x?x4x16xf32>
// CHECK:         strata_kernel.flash_attention {{.*}} sparsity = #strata.block_sparse<block_size = 2, num_random_blocks = 1, seed = 3>
func.func @flash_memrefs(%q: memref<?x?x4x16xf32>, %pad: memref<?xi32>, %out: memref<?x?x4x16xf32>) {
  strata_kernel.flash_attention %q, %q, %q key_padding(%pad : memref<?xi32>) into %out {causal = true, window = 4, scale = 0.125 : f64} : memref<?x?x4x16xf32>, memref<?x?x4x16xf32>, memref<?x?x4x16xf32>, memref<?x?x4x16xf32>
  strata_kernel.flash_attention %q, %q, %q into %out {causal = false, scale = 0.125 : f64, sparsity = #strata.block_sparse<block_size = 2, num_local_blocks = 1, num_global_blocks = 1, num_random_blocks = 1, seed = 3>} : memref<?x?x4x16xf32>, memref<?x?x4x16xf32>, memref<?x?x4x16xf32>, memref<?x?x4x16xf32>
  return
}

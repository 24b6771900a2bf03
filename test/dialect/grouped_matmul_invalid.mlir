// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that tensors and memrefs are not mixed (gmm_c1).
func.func @gmm_mixed(%rows: tensor<?x8xf32>, %w: memref<2x4x8xf32>, %off: memref<3xi32>, %out: memref<?x4xf32>) {
  // expected-error @+1 {{'strata_kernel.grouped_matmul' op gmm_c1: rows, weights, offsets and init must all be tensors or all memrefs, of ranks 2, 3, 1 and 2, got 'tensor<?x8xf32>'}}
  strata_kernel.grouped_matmul %rows, %w groups(%off) into %out : tensor<?x8xf32>, memref<2x4x8xf32>, memref<3xi32>, memref<?x4xf32>
  return
}

// -----

// Tests the operand ranks (gmm_c1).
func.func @gmm_rank(%rows: memref<?x8xf32>, %w: memref<4x8xf32>, %off: memref<3xi32>, %out: memref<?x4xf32>) {
  // expected-error @+1 {{'strata_kernel.grouped_matmul' op gmm_c1: rows, weights, offsets and init must all be tensors or all memrefs, of ranks 2, 3, 1 and 2, got 'memref<4x8xf32>'}}
  strata_kernel.grouped_matmul %rows, %w groups(%off) into %out : memref<?x8xf32>, memref<4x8xf32>, memref<3xi32>, memref<?x4xf32>
  return
}

// -----

// Tests that the rows' width is the weights' D (gmm_c2).
func.func @gmm_depth(%rows: memref<?x16xf32>, %w: memref<2x4x8xf32>, %off: memref<3xi32>, %out: memref<?x4xf32>) {
  // expected-error @+1 {{'strata_kernel.grouped_matmul' op gmm_c2: shapes must be rows [P, D], weights [E, N, D], offsets [E + 1] and init [P, N], got 'memref<?x16xf32>', 'memref<2x4x8xf32>', 'memref<3xi32>' and 'memref<?x4xf32>'}}
  strata_kernel.grouped_matmul %rows, %w groups(%off) into %out : memref<?x16xf32>, memref<2x4x8xf32>, memref<3xi32>, memref<?x4xf32>
  return
}

// -----

// Tests that there is one offset per group plus the end (gmm_c2).
func.func @gmm_offsets(%rows: memref<?x8xf32>, %w: memref<2x4x8xf32>, %off: memref<2xi32>, %out: memref<?x4xf32>) {
  // expected-error @+1 {{'strata_kernel.grouped_matmul' op gmm_c2: shapes must be rows [P, D], weights [E, N, D], offsets [E + 1] and init [P, N]}}
  strata_kernel.grouped_matmul %rows, %w groups(%off) into %out : memref<?x8xf32>, memref<2x4x8xf32>, memref<2xi32>, memref<?x4xf32>
  return
}

// -----

// Tests that init has the rows' count and the weights' N (gmm_c2).
func.func @gmm_init(%rows: memref<6x8xf32>, %w: memref<2x4x8xf32>, %off: memref<3xi32>, %out: memref<5x4xf32>) {
  // expected-error @+1 {{'strata_kernel.grouped_matmul' op gmm_c2: shapes must be rows [P, D], weights [E, N, D], offsets [E + 1] and init [P, N]}}
  strata_kernel.grouped_matmul %rows, %w groups(%off) into %out : memref<6x8xf32>, memref<2x4x8xf32>, memref<3xi32>, memref<5x4xf32>
  return
}

// -----

// Tests that a tensor op returns init's type (gmm_c3).
func.func @gmm_result(%rows: tensor<?x8xf32>, %w: tensor<2x4x8xf32>, %off: tensor<3xi32>, %out: tensor<?x4xf32>) -> tensor<3x4xf32> {
  // expected-error @+1 {{'strata_kernel.grouped_matmul' op gmm_c3: expected one result of init's type}}
  %0 = strata_kernel.grouped_matmul %rows, %w groups(%off) into %out : tensor<?x8xf32>, tensor<2x4x8xf32>, tensor<3xi32>, tensor<?x4xf32> -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// Tests that a memref op has no result (gmm_c3).
func.func @gmm_memref_result(%rows: memref<?x8xf32>, %w: memref<2x4x8xf32>, %off: memref<3xi32>, %out: memref<?x4xf32>) {
  // expected-error @+1 {{'strata_kernel.grouped_matmul' op gmm_c3: expected no result on memrefs}}
  %0 = strata_kernel.grouped_matmul %rows, %w groups(%off) into %out : memref<?x8xf32>, memref<2x4x8xf32>, memref<3xi32>, memref<?x4xf32> -> tensor<?x4xf32>
  return
}

// -----

// Tests that N and D are static (gmm_c4).
func.func @gmm_dynamic(%rows: memref<?x?xf32>, %w: memref<2x4x?xf32>, %off: memref<3xi32>, %out: memref<?x4xf32>) {
  // expected-error @+1 {{'strata_kernel.grouped_matmul' op gmm_c4: N and D (the weights' last two dims) must be static}}
  strata_kernel.grouped_matmul %rows, %w groups(%off) into %out : memref<?x?xf32>, memref<2x4x?xf32>, memref<3xi32>, memref<?x4xf32>
  return
}

// -----

// Tests that the offsets are i32.
func.func @gmm_offset_type(%rows: memref<?x8xf32>, %w: memref<2x4x8xf32>, %off: memref<3xi64>, %out: memref<?x4xf32>) {
  // expected-error @+1 {{'strata_kernel.grouped_matmul' op operand #2 must be}}
  strata_kernel.grouped_matmul %rows, %w groups(%off) into %out : memref<?x8xf32>, memref<2x4x8xf32>, memref<3xi64>, memref<?x4xf32>
  return
}

// -----

// Tests that int8 rows need int8 weights and an i32 init (gmm_c5).
func.func @gmm_int8_rows(%rows: memref<?x8xi8>, %w: memref<2x4x8xf32>, %off: memref<3xi32>, %out: memref<?x4xi32>) {
  // expected-error @+1 {{'strata_kernel.grouped_matmul' op gmm_c5: int8 rows go with int8 weights and an i32 init, f32 rows with an f32 init, got 'i8', 'f32' and 'i32'}}
  strata_kernel.grouped_matmul %rows, %w groups(%off) into %out : memref<?x8xi8>, memref<2x4x8xf32>, memref<3xi32>, memref<?x4xi32>
  return
}

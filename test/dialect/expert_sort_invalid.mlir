// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that tensors and memrefs are not mixed (sort_c1).
func.func @sort_mixed(%idx: tensor<?xi32>, %o: memref<9xi32>, %r: memref<?xi32>, %p: memref<?xi32>) {
  // expected-error @+1 {{'strata_kernel.expert_sort' op sort_c1: indices, offsets, order and position must all be rank-1 tensors or all rank-1 memrefs, got 'memref<9xi32>'}}
  strata_kernel.expert_sort %idx into %o, %r, %p {num_experts = 8} : tensor<?xi32>, memref<9xi32>, memref<?xi32>, memref<?xi32>
  return
}

// -----

// Tests the rank (sort_c1).
func.func @sort_rank(%idx: memref<?x2xi32>, %o: memref<9xi32>, %r: memref<?xi32>, %p: memref<?xi32>) {
  // expected-error @+1 {{'strata_kernel.expert_sort' op sort_c1: indices, offsets, order and position must all be rank-1 tensors or all rank-1 memrefs, got 'memref<?x2xi32>'}}
  strata_kernel.expert_sort %idx into %o, %r, %p {num_experts = 8} : memref<?x2xi32>, memref<9xi32>, memref<?xi32>, memref<?xi32>
  return
}

// -----

// Tests one offset per expert plus the end (sort_c2).
func.func @sort_offsets(%idx: memref<?xi32>, %o: memref<8xi32>, %r: memref<?xi32>, %p: memref<?xi32>) {
  // expected-error @+1 {{'strata_kernel.expert_sort' op sort_c2: num_experts must be >= 1 and offsets have num_experts + 1 = 9 elements, got 'memref<8xi32>'}}
  strata_kernel.expert_sort %idx into %o, %r, %p {num_experts = 8} : memref<?xi32>, memref<8xi32>, memref<?xi32>, memref<?xi32>
  return
}

// -----

// Tests that there is at least one expert (sort_c2).
func.func @sort_no_experts(%idx: memref<?xi32>, %o: memref<1xi32>, %r: memref<?xi32>, %p: memref<?xi32>) {
  // expected-error @+1 {{'strata_kernel.expert_sort' op sort_c2: num_experts must be >= 1}}
  strata_kernel.expert_sort %idx into %o, %r, %p {num_experts = 0} : memref<?xi32>, memref<1xi32>, memref<?xi32>, memref<?xi32>
  return
}

// -----

// Tests that order and position have one entry per pair (sort_c2).
func.func @sort_length(%idx: memref<12xi32>, %o: memref<9xi32>, %r: memref<12xi32>, %p: memref<10xi32>) {
  // expected-error @+1 {{'strata_kernel.expert_sort' op sort_c2: order and position must have the length of indices, got 'memref<12xi32>' and 'memref<10xi32>' for 'memref<12xi32>'}}
  strata_kernel.expert_sort %idx into %o, %r, %p {num_experts = 8} : memref<12xi32>, memref<9xi32>, memref<12xi32>, memref<10xi32>
  return
}

// -----

// Tests the results on tensors (sort_c3).
func.func @sort_results(%idx: tensor<?xi32>, %o: tensor<9xi32>, %r: tensor<?xi32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'strata_kernel.expert_sort' op sort_c3: expected three results of the inits' types}}
  %0:3 = strata_kernel.expert_sort %idx into %o, %r, %p {num_experts = 8} : tensor<?xi32>, tensor<9xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<9xi32>, tensor<?xi32>, tensor<4xi32>
  return
}

// -----

// Tests no results on memrefs (sort_c3).
func.func @sort_memref_results(%idx: memref<?xi32>, %o: memref<9xi32>, %r: memref<?xi32>, %p: memref<?xi32>) {
  // expected-error @+1 {{'strata_kernel.expert_sort' op sort_c3: expected no result on memrefs}}
  %0:3 = strata_kernel.expert_sort %idx into %o, %r, %p {num_experts = 8} : memref<?xi32>, memref<9xi32>, memref<?xi32>, memref<?xi32> -> tensor<9xi32>, tensor<?xi32>, tensor<?xi32>
  return
}

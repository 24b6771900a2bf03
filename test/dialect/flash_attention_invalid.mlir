// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that tensors and memrefs are not mixed (flash_c1).
func.func @flash_mixed(%q: tensor<1x4x2x8xf32>, %out: memref<1x4x2x8xf32>) {
  // expected-error @+1 {{'strata_kernel.flash_attention' op flash_c1: q, k, v and init must all be rank-4 tensors or all rank-4 memrefs, got 'tensor<1x4x2x8xf32>'}}
  strata_kernel.flash_attention %q, %q, %q into %out {causal = true, scale = 1.0 : f64} : tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, memref<1x4x2x8xf32>
  return
}

// -----

// Tests that KV heads must divide query heads (flash_c2).
func.func @flash_heads(%q: memref<1x4x3x8xf32>, %k: memref<1x4x2x8xf32>, %out: memref<1x4x3x8xf32>) {
  // expected-error @+1 {{'strata_kernel.flash_attention' op flash_c2: 2 KV heads must divide 3 heads}}
  strata_kernel.flash_attention %q, %k, %k into %out {causal = true, scale = 1.0 : f64} : memref<1x4x3x8xf32>, memref<1x4x2x8xf32>, memref<1x4x2x8xf32>, memref<1x4x3x8xf32>
  return
}

// -----

// Tests that q and k share a head dim (flash_c3).
func.func @flash_head_dim(%q: memref<1x4x2x8xf32>, %k: memref<1x4x2x16xf32>, %out: memref<1x4x2x8xf32>) {
  // expected-error @+1 {{'strata_kernel.flash_attention' op flash_c3: shapes must be q [B, S, H, D], k [B, T, KV, D], v [B, T, KV, Dv] and init [B, S, H, Dv]}}
  strata_kernel.flash_attention %q, %k, %q into %out {causal = true, scale = 1.0 : f64} : memref<1x4x2x8xf32>, memref<1x4x2x16xf32>, memref<1x4x2x8xf32>, memref<1x4x2x8xf32>
  return
}

// -----

// Tests that window and sparsity exclude each other (flash_c4).
func.func @flash_window_sparsity(%q: memref<1x4x2x8xf32>) {
  // expected-error @+1 {{'strata_kernel.flash_attention' op flash_c4: window and sparsity are mutually exclusive}}
  strata_kernel.flash_attention %q, %q, %q into %q {causal = true, window = 2, scale = 1.0 : f64, sparsity = #strata.block_sparse<block_size = 2, num_local_blocks = 1, num_global_blocks = 0, num_random_blocks = 0, seed = 0>} : memref<1x4x2x8xf32>, memref<1x4x2x8xf32>, memref<1x4x2x8xf32>, memref<1x4x2x8xf32>
  return
}

// -----

// Tests that the scale is positive (flash_c5).
func.func @flash_scale(%q: memref<1x4x2x8xf32>) {
  // expected-error @+1 {{'strata_kernel.flash_attention' op flash_c5: scale must be > 0, got 0}}
  strata_kernel.flash_attention %q, %q, %q into %q {causal = true, scale = 0.0 : f64} : memref<1x4x2x8xf32>, memref<1x4x2x8xf32>, memref<1x4x2x8xf32>, memref<1x4x2x8xf32>
  return
}

// -----

// Tests that key padding has q's batch (flash_c6).
func.func @flash_padding(%q: memref<2x4x2x8xf32>, %pad: memref<3xi32>) {
  // expected-error @+1 {{'strata_kernel.flash_attention' op flash_c6: key_padding must be a rank-1 memref of q's batch, got 'memref<3xi32>'}}
  strata_kernel.flash_attention %q, %q, %q key_padding(%pad : memref<3xi32>) into %q {causal = true, scale = 1.0 : f64} : memref<2x4x2x8xf32>, memref<2x4x2x8xf32>, memref<2x4x2x8xf32>, memref<2x4x2x8xf32>
  return
}

// -----

// Tests that the tensor form returns init's type (flash_c7).
func.func @flash_no_result(%q: tensor<1x4x2x8xf32>) {
  // expected-error @+1 {{'strata_kernel.flash_attention' op flash_c7: expected one result of init's type}}
  strata_kernel.flash_attention %q, %q, %q into %q {causal = true, scale = 1.0 : f64} : tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>
  return
}

// -----

// Tests that the head dims are static (flash_c8).
func.func @flash_dynamic_head_dim(%q: memref<1x4x2x?xf32>) {
  // expected-error @+1 {{'strata_kernel.flash_attention' op flash_c8: the head dims (last dims of q and v) must be static}}
  strata_kernel.flash_attention %q, %q, %q into %q {causal = true, scale = 1.0 : f64} : memref<1x4x2x?xf32>, memref<1x4x2x?xf32>, memref<1x4x2x?xf32>, memref<1x4x2x?xf32>
  return
}

// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that #strata.rope rejects theta = 0 (rope_c1).
// expected-error @+1 {{rope_c1: theta must be > 0, got 0.000000e+00}}
func.func @rope_zero_theta() attributes {r = #strata.rope<theta = 0.0>} {
  return
}

// -----

// Tests that #strata.rope rejects a negative theta (rope_c1).
// expected-error @+1 {{rope_c1: theta must be > 0, got -1.000000e+04}}
func.func @rope_negative_theta() attributes {r = #strata.rope<theta = -10000.0>} {
  return
}

// -----

// Tests that #strata.rope rejects a factor below 1 (rope_c2).
// expected-error @+1 {{rope_c2: factor must be >= 1, got 5.000000e-01}}
func.func @rope_small_factor() attributes {r = #strata.rope<scaling = linear, factor = 0.5>} {
  return
}

// -----

// Tests that rope_c2 holds even without scaling.
// expected-error @+1 {{rope_c2: factor must be >= 1, got 0.000000e+00}}
func.func @rope_zero_factor() attributes {r = #strata.rope<factor = 0.0>} {
  return
}

// -----

// Tests that yarn scaling needs original_max_position >= 1 (rope_c3).
// expected-error @+1 {{rope_c3: original_max_position must be >= 1 for yarn scaling, got 0}}
func.func @rope_yarn_no_original_max() attributes {r = #strata.rope<scaling = yarn, factor = 4.0>} {
  return
}

// -----

// Tests that yarn scaling rejects a negative original_max_position (rope_c3).
// expected-error @+1 {{rope_c3: original_max_position must be >= 1 for yarn scaling, got -1}}
func.func @rope_yarn_negative_original_max() attributes {r = #strata.rope<scaling = yarn, factor = 4.0, original_max_position = -1>} {
  return
}

// -----

// Tests that yarn scaling needs beta_fast >= beta_slow (rope_c4).
// expected-error @+1 {{rope_c4: yarn needs beta_fast >= beta_slow > 0, got beta_fast = 1.000000e+00, beta_slow = 2.000000e+00}}
func.func @rope_yarn_beta_order() attributes {r = #strata.rope<scaling = yarn, factor = 4.0, original_max_position = 4096, beta_fast = 1.0, beta_slow = 2.0>} {
  return
}

// -----

// Tests that yarn scaling needs beta_slow > 0 (rope_c4).
// expected-error @+1 {{rope_c4: yarn needs beta_fast >= beta_slow > 0, got beta_fast = 3.200000e+01, beta_slow = 0.000000e+00}}
func.func @rope_yarn_zero_beta_slow() attributes {r = #strata.rope<scaling = yarn, factor = 4.0, original_max_position = 4096, beta_slow = 0.0>} {
  return
}

// -----

// Tests that a rope attribute error inside an op is reported at the attribute.
func.func @rope_in_rotary(%x: tensor<2x8x64xf32>) {
  // expected-error @+1 {{rope_c2: factor must be >= 1, got 5.000000e-01}}
  %0 = strata.rotary %x {num_heads = 4, head_dim = 16, rotary_dim = 8, rope = #strata.rope<factor = 0.5>} : tensor<2x8x64xf32>
  return
}

// -----

// Tests that #strata.block_sparse rejects block_size = 0 (sparse_c1).
// expected-error @+1 {{sparse_c1: block_size must be >= 1, got 0}}
func.func @sparse_zero_block() attributes {s = #strata.block_sparse<block_size = 0>} {
  return
}

// -----

// Tests that #strata.block_sparse rejects num_local_blocks = 0 (sparse_c2).
// expected-error @+1 {{sparse_c2: num_local_blocks must be >= 1, got 0}}
func.func @sparse_zero_local() attributes {s = #strata.block_sparse<num_local_blocks = 0>} {
  return
}

// -----

// Tests that #strata.block_sparse rejects a negative num_global_blocks (sparse_c3).
// expected-error @+1 {{sparse_c3: num_global_blocks and num_random_blocks must be >= 0}}
func.func @sparse_negative_global() attributes {s = #strata.block_sparse<num_global_blocks = -1>} {
  return
}

// -----

// Tests that #strata.block_sparse rejects a negative num_random_blocks (sparse_c3).
// expected-error @+1 {{sparse_c3: num_global_blocks and num_random_blocks must be >= 0}}
func.func @sparse_negative_random() attributes {s = #strata.block_sparse<num_random_blocks = -2>} {
  return
}

// -----

// Tests that a block_sparse error inside an attention op is reported at the attribute (sparse_c1).
func.func @sparse_in_attention(%q: tensor<2x16x128xf32>, %k: tensor<2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{sparse_c1: block_size must be >= 1, got -64}}
  %0 = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 4, head_dim = 16, v_head_dim = 16, sparsity = #strata.block_sparse<block_size = -64>} : tensor<2x16x128xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

// Tests that an unknown enum case is rejected by the parser.
// expected-error @+2 {{expected one of [none, linear, yarn] for rotary position scaling, got: ntk}}
// expected-error @+1 {{failed to parse Strata_RopeAttr parameter 'scaling'}}
func.func @rope_bad_scaling() attributes {r = #strata.rope<scaling = ntk>} {
  return
}

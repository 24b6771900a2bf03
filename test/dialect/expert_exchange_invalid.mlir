// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that the rows are the group's: G = 4 ranks of 2 sequences (ep_c1).
shard.grid @mesh(shape = 1x1x4x1)
func.func @rows_not_group(%w: tensor<2x3x2xf32>, %i: tensor<2x3x2xi32>) {
  // expected-error @+1 {{'strata.expert_route' op ep_c1: expected 4 x 2 rows for the 4 ranks of axis 2, got 6}}
  %rw, %ri = strata.expert_route %w, %i on @mesh axis 2 {num_experts = 8} : tensor<2x3x2xf32>, tensor<2x3x2xi32> -> tensor<6x3x2xf32>, tensor<6x3x2xi32>
  return
}

// -----

// Tests that the group divides the experts (ep_c2).
shard.grid @mesh(shape = 1x1x4x1)
func.func @experts_not_divided(%x: tensor<2x3x16xf32>, %ri: tensor<8x3x2xi32>, %i: tensor<2x3x2xi32>) {
  // expected-error @+1 {{'strata.expert_dispatch' op ep_c2: num_experts (6) must be split evenly over the 4 ranks of axis 2}}
  %rows = strata.expert_dispatch %x, %ri, %i on @mesh axis 2 {num_experts = 6} : tensor<2x3x16xf32>, tensor<8x3x2xi32>, tensor<2x3x2xi32> -> tensor<8x3x16xf32>
  return
}

// -----

// Tests that the grid symbol and axis exist (ep_c1).
shard.grid @mesh(shape = 1x1x4x1)
func.func @no_axis(%rows: tensor<8x3x16xf32>, %ri: tensor<8x3x2xi32>, %i: tensor<2x3x2xi32>) {
  // expected-error @+1 {{'strata.expert_combine' op ep_c1: axis 7 is not a static axis of @mesh}}
  %y = strata.expert_combine %rows, %ri, %i on @mesh axis 7 {num_experts = 8} : tensor<8x3x16xf32>, tensor<8x3x2xi32>, tensor<2x3x2xi32> -> tensor<2x3x16xf32>
  return
}

// -----

func.func @no_grid(%rows: tensor<8x3x16xf32>, %ri: tensor<8x3x2xi32>, %i: tensor<2x3x2xi32>) {
  // expected-error @+1 {{'strata.expert_combine' op ep_c1: @nowhere is not a grid}}
  %y = strata.expert_combine %rows, %ri, %i on @nowhere axis 2 {num_experts = 8} : tensor<8x3x16xf32>, tensor<8x3x2xi32>, tensor<2x3x2xi32> -> tensor<2x3x16xf32>
  return
}

// -----

// Tests that the tokens and their rows share the sequence and width (ep_c1).
shard.grid @mesh(shape = 1x1x4x1)
func.func @width(%rows: tensor<8x3x16xf32>, %ri: tensor<8x3x2xi32>, %i: tensor<2x3x2xi32>) {
  // expected-error @+1 {{'strata.expert_combine' op ep_c1: the rows must have shape [8, 3, 32], got 'tensor<8x3x16xf32>'}}
  %y = strata.expert_combine %rows, %ri, %i on @mesh axis 2 {num_experts = 8} : tensor<8x3x16xf32>, tensor<8x3x2xi32>, tensor<2x3x2xi32> -> tensor<2x3x32xf32>
  return
}

// -----

// Tests that routing weights and ids match (ep_c1).
shard.grid @mesh(shape = 1x1x4x1)
func.func @weights(%w: tensor<2x3x4xf32>, %i: tensor<2x3x2xi32>) {
  // expected-error @+1 {{'strata.expert_route' op ep_c1: weights and indices must have the same shape, got 'tensor<2x3x4xf32>' and 'tensor<2x3x2xi32>'}}
  %rw, %ri = strata.expert_route %w, %i on @mesh axis 2 {num_experts = 8} : tensor<2x3x4xf32>, tensor<2x3x2xi32> -> tensor<8x3x4xf32>, tensor<8x3x2xi32>
  return
}

// -----

// Tests the kernel forms' operands (eexch_c1) and results (eroute_c3).
func.func @kernel_mixed(%x: memref<2x3x16xf32>, %ri: memref<8x3x2xi32>, %i: memref<2x3x2xi32>, %rows: tensor<8x3x16xf32>) {
  // expected-error @+1 {{'strata_kernel.expert_exchange' op eexch_c1: expected 'f32' operands, all ranked tensors or all memrefs, got 'tensor<8x3x16xf32>'}}
  "strata_kernel.expert_exchange"(%x, %ri, %i, %rows) {combine = false, width = 16 : i64, top_k = 2 : i64, num_experts = 8 : i64} : (memref<2x3x16xf32>, memref<8x3x2xi32>, memref<2x3x2xi32>, tensor<8x3x16xf32>) -> ()
  return
}

// -----

func.func @kernel_results(%w: tensor<2x3x2xf32>, %i: tensor<2x3x2xi32>, %rw: tensor<8x3x2xf32>, %ri: tensor<8x3x2xi32>) {
  // expected-error @+1 {{'strata_kernel.expert_route' op eroute_c3: expected 2 result(s) of the inits' types}}
  %a = "strata_kernel.expert_route"(%w, %i, %rw, %ri) {top_k = 2 : i64, num_experts = 8 : i64} : (tensor<2x3x2xf32>, tensor<2x3x2xi32>, tensor<8x3x2xf32>, tensor<8x3x2xi32>) -> tensor<8x3x2xf32>
  return
}

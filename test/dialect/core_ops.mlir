// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// Tests that strata.param round-trips with default and explicit init/std.
// CHECK-LABEL: func.func @param() -> (tensor<64x64xf32>, tensor<64xbf16>, tensor<64xf16>, tensor<8x4xf32>)
// CHECK-NEXT:    strata.param "layers.0.attn.q_proj" : tensor<64x64xf32>
// CHECK-NEXT:    strata.param "layers.0.attn.q_bias" {init = #strata.init<zeros>} : tensor<64xbf16>
// CHECK-NEXT:    strata.param "layers.0.norm.weight" {init = #strata.init<ones>} : tensor<64xf16>
// CHECK-NEXT:    strata.param "layers.0.mlp.w" {std = 5.000000e-01 : f64} : tensor<8x4xf32>
// GENERIC-LABEL: sym_name = "param"
// GENERIC:       "strata.param"() <{init = #strata.init<normal>, name = "layers.0.attn.q_proj", std = 2.000000e-02 : f64}> : () -> tensor<64x64xf32>
// GENERIC:       "strata.param"() <{init = #strata.init<zeros>, name = "layers.0.attn.q_bias", std = 2.000000e-02 : f64}> : () -> tensor<64xbf16>
// GENERIC:       "strata.param"() <{init = #strata.init<ones>, name = "layers.0.norm.weight", std = 2.000000e-02 : f64}> : () -> tensor<64xf16>
// GENERIC:       "strata.param"() <{init = #strata.init<normal>, name = "layers.0.mlp.w", std = 5.000000e-01 : f64}> : () -> tensor<8x4xf32>
func.func @param() -> (tensor<64x64xf32>, tensor<64xbf16>, tensor<64xf16>, tensor<8x4xf32>) {
  %w = strata.param "layers.0.attn.q_proj" : tensor<64x64xf32>
  %b = strata.param "layers.0.attn.q_bias" {init = #strata.init<zeros>} : tensor<64xbf16>
  %n = strata.param "layers.0.norm.weight" {init = #strata.init<ones>} : tensor<64xf16>
  %s = strata.param "layers.0.mlp.w" {init = #strata.init<normal>, std = 0.5 : f64} : tensor<8x4xf32>
  return %w, %b, %n, %s : tensor<64x64xf32>, tensor<64xbf16>, tensor<64xf16>, tensor<8x4xf32>
}

// Tests that strata.embedding infers [batch, seq, hidden] from tokens and table.
// CHECK-LABEL: func.func @embedding(
// CHECK-SAME:    %[[TOK:.*]]: tensor<2x16xi32>, %[[DYN:.*]]: tensor<?x?xi64>) -> (tensor<2x16x32xf32>, tensor<?x?x32xf32>)
// CHECK:         %[[TABLE:.*]] = strata.param "embed.weight" : tensor<1000x32xf32>
// CHECK-NEXT:    %[[E0:.*]] = strata.embedding %[[TOK]], %[[TABLE]] : tensor<2x16xi32>, tensor<1000x32xf32>
// CHECK-NEXT:    %[[E1:.*]] = strata.embedding %[[DYN]], %[[TABLE]] : tensor<?x?xi64>, tensor<1000x32xf32>
// CHECK-NEXT:    return %[[E0]], %[[E1]] : tensor<2x16x32xf32>, tensor<?x?x32xf32>
// GENERIC-LABEL: sym_name = "embedding"
// GENERIC:       "strata.embedding"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) : (tensor<2x16xi32>, tensor<1000x32xf32>) -> tensor<2x16x32xf32>
// GENERIC:       "strata.embedding"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) : (tensor<?x?xi64>, tensor<1000x32xf32>) -> tensor<?x?x32xf32>
func.func @embedding(%tokens: tensor<2x16xi32>, %dyn: tensor<?x?xi64>) -> (tensor<2x16x32xf32>, tensor<?x?x32xf32>) {
  %table = strata.param "embed.weight" : tensor<1000x32xf32>
  %0 = strata.embedding %tokens, %table : tensor<2x16xi32>, tensor<1000x32xf32>
  %1 = strata.embedding %dyn, %table : tensor<?x?xi64>, tensor<1000x32xf32>
  return %0, %1 : tensor<2x16x32xf32>, tensor<?x?x32xf32>
}

// Tests that strata.rmsnorm keeps the input type and prints a non-default eps.
// CHECK-LABEL: func.func @rmsnorm(
// CHECK-SAME:    %[[X:.*]]: tensor<2x16x32xf32>)
// CHECK:         %[[W:.*]] = strata.param "norm.weight" {init = #strata.init<ones>} : tensor<32xf32>
// CHECK-NEXT:    strata.rmsnorm %[[X]], %[[W]] : tensor<2x16x32xf32>, tensor<32xf32>
// CHECK-NEXT:    strata.rmsnorm %[[X]], %[[W]] {eps = 1.000000e-05 : f64} : tensor<2x16x32xf32>, tensor<32xf32>
// GENERIC-LABEL: sym_name = "rmsnorm"
// GENERIC:       "strata.rmsnorm"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{eps = 9.9999999999999995E-7 : f64}> : (tensor<2x16x32xf32>, tensor<32xf32>) -> tensor<2x16x32xf32>
// GENERIC:       "strata.rmsnorm"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{eps = 1.000000e-05 : f64}> : (tensor<2x16x32xf32>, tensor<32xf32>) -> tensor<2x16x32xf32>
func.func @rmsnorm(%x: tensor<2x16x32xf32>) -> (tensor<2x16x32xf32>, tensor<2x16x32xf32>) {
  %w = strata.param "norm.weight" {init = #strata.init<ones>} : tensor<32xf32>
  %0 = strata.rmsnorm %x, %w : tensor<2x16x32xf32>, tensor<32xf32>
  %1 = strata.rmsnorm %x, %w {eps = 1.0e-5 : f64} : tensor<2x16x32xf32>, tensor<32xf32>
  return %0, %1 : tensor<2x16x32xf32>, tensor<2x16x32xf32>
}

// Tests that strata.layernorm round-trips with and without a bias.
// CHECK-LABEL: func.func @layernorm(
// CHECK-SAME:    %[[X:.*]]: tensor<?x?x32xbf16>)
// CHECK:         %[[W:.*]] = strata.param "ln.weight" {init = #strata.init<ones>} : tensor<32xbf16>
// CHECK-NEXT:    %[[B:.*]] = strata.param "ln.bias" {init = #strata.init<zeros>} : tensor<32xbf16>
// CHECK-NEXT:    strata.layernorm %[[X]], %[[W]] : tensor<?x?x32xbf16>, tensor<32xbf16>
// CHECK-NEXT:    strata.layernorm %[[X]], %[[W]], %[[B]] {eps = 9.9999999999999995E-7 : f64} : tensor<?x?x32xbf16>, tensor<32xbf16>, tensor<32xbf16>
// GENERIC-LABEL: sym_name = "layernorm"
// GENERIC:       "strata.layernorm"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{eps = 1.000000e-05 : f64}> : (tensor<?x?x32xbf16>, tensor<32xbf16>) -> tensor<?x?x32xbf16>
// GENERIC:       "strata.layernorm"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{eps = 9.9999999999999995E-7 : f64}> : (tensor<?x?x32xbf16>, tensor<32xbf16>, tensor<32xbf16>) -> tensor<?x?x32xbf16>
func.func @layernorm(%x: tensor<?x?x32xbf16>) -> (tensor<?x?x32xbf16>, tensor<?x?x32xbf16>) {
  %w = strata.param "ln.weight" {init = #strata.init<ones>} : tensor<32xbf16>
  %b = strata.param "ln.bias" {init = #strata.init<zeros>} : tensor<32xbf16>
  %0 = strata.layernorm %x, %w : tensor<?x?x32xbf16>, tensor<32xbf16>
  %1 = strata.layernorm %x, %w, %b {eps = 1.0e-6 : f64} : tensor<?x?x32xbf16>, tensor<32xbf16>, tensor<32xbf16>
  return %0, %1 : tensor<?x?x32xbf16>, tensor<?x?x32xbf16>
}

// Tests that strata.linear maps [..., in] to [..., out] with and without a bias.
// CHECK-LABEL: func.func @linear(
// CHECK-SAME:    %[[X:.*]]: tensor<?x?x32xf32>, %[[X2:.*]]: tensor<4x32xf32>) -> (tensor<?x?x16xf32>, tensor<4x16xf32>)
// CHECK:         %[[W:.*]] = strata.param "proj.weight" : tensor<16x32xf32>
// CHECK-NEXT:    %[[B:.*]] = strata.param "proj.bias" {init = #strata.init<zeros>} : tensor<16xf32>
// CHECK-NEXT:    %[[Y0:.*]] = strata.linear %[[X]], %[[W]] : tensor<?x?x32xf32>, tensor<16x32xf32>
// CHECK-NEXT:    %[[Y1:.*]] = strata.linear %[[X2]], %[[W]], %[[B]] : tensor<4x32xf32>, tensor<16x32xf32>, tensor<16xf32>
// CHECK-NEXT:    return %[[Y0]], %[[Y1]] : tensor<?x?x16xf32>, tensor<4x16xf32>
// GENERIC-LABEL: sym_name = "linear"
// GENERIC:       "strata.linear"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) : (tensor<?x?x32xf32>, tensor<16x32xf32>) -> tensor<?x?x16xf32>
// GENERIC:       "strata.linear"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) : (tensor<4x32xf32>, tensor<16x32xf32>, tensor<16xf32>) -> tensor<4x16xf32>
func.func @linear(%x: tensor<?x?x32xf32>, %x2: tensor<4x32xf32>) -> (tensor<?x?x16xf32>, tensor<4x16xf32>) {
  %w = strata.param "proj.weight" : tensor<16x32xf32>
  %b = strata.param "proj.bias" {init = #strata.init<zeros>} : tensor<16xf32>
  %0 = strata.linear %x, %w : tensor<?x?x32xf32>, tensor<16x32xf32>
  %1 = strata.linear %x2, %w, %b : tensor<4x32xf32>, tensor<16x32xf32>, tensor<16xf32>
  return %0, %1 : tensor<?x?x16xf32>, tensor<4x16xf32>
}

// Tests that strata.gelu round-trips both approximations and strata.silu keeps its type.
// CHECK-LABEL: func.func @activations(
// CHECK-SAME:    %[[X:.*]]: tensor<2x16x64xf32>)
// CHECK-NEXT:    strata.gelu %[[X]] : tensor<2x16x64xf32>
// CHECK-NEXT:    strata.gelu %[[X]] {approximate = #strata.gelu_approx<tanh>} : tensor<2x16x64xf32>
// CHECK-NEXT:    strata.silu %[[X]] : tensor<2x16x64xf32>
// GENERIC-LABEL: sym_name = "activations"
// GENERIC:       "strata.gelu"(%{{[a-z0-9]+}}) <{approximate = #strata.gelu_approx<none>}> : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
// GENERIC:       "strata.gelu"(%{{[a-z0-9]+}}) <{approximate = #strata.gelu_approx<tanh>}> : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
// GENERIC:       "strata.silu"(%{{[a-z0-9]+}}) : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
func.func @activations(%x: tensor<2x16x64xf32>) -> (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>) {
  %0 = strata.gelu %x : tensor<2x16x64xf32>
  %1 = strata.gelu %x {approximate = #strata.gelu_approx<tanh>} : tensor<2x16x64xf32>
  %2 = strata.silu %x : tensor<2x16x64xf32>
  return %0, %1, %2 : tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
}

// Tests that strata.swiglu and strata.add take one type and return it.
// CHECK-LABEL: func.func @swiglu_add(
// CHECK-SAME:    %[[G:.*]]: tensor<2x16x64xf16>, %[[U:.*]]: tensor<2x16x64xf16>) -> tensor<2x16x64xf16>
// CHECK-NEXT:    %[[S:.*]] = strata.swiglu %[[G]], %[[U]] : tensor<2x16x64xf16>
// CHECK-NEXT:    %[[A:.*]] = strata.add %[[S]], %[[G]] : tensor<2x16x64xf16>
// CHECK-NEXT:    return %[[A]] : tensor<2x16x64xf16>
// GENERIC-LABEL: sym_name = "swiglu_add"
// GENERIC:       "strata.swiglu"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) : (tensor<2x16x64xf16>, tensor<2x16x64xf16>) -> tensor<2x16x64xf16>
// GENERIC:       "strata.add"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) : (tensor<2x16x64xf16>, tensor<2x16x64xf16>) -> tensor<2x16x64xf16>
func.func @swiglu_add(%g: tensor<2x16x64xf16>, %u: tensor<2x16x64xf16>) -> tensor<2x16x64xf16> {
  %0 = strata.swiglu %g, %u : tensor<2x16x64xf16>
  %1 = strata.add %0, %g : tensor<2x16x64xf16>
  return %1 : tensor<2x16x64xf16>
}

// Tests that strata.dropout round-trips p and seed and keeps the input type.
// CHECK-LABEL: func.func @dropout(
// CHECK-SAME:    %[[X:.*]]: tensor<2x16x64xf32>)
// CHECK-NEXT:    strata.dropout %[[X]] : tensor<2x16x64xf32>
// CHECK-NEXT:    strata.dropout %[[X]] {p = 1.000000e-01 : f64, seed = 42 : i64} : tensor<2x16x64xf32>
// GENERIC-LABEL: sym_name = "dropout"
// GENERIC:       "strata.dropout"(%{{[a-z0-9]+}}) <{p = 0.000000e+00 : f64, salt = 0 : i64, seed = 0 : i64}> : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
// GENERIC:       "strata.dropout"(%{{[a-z0-9]+}}) <{p = 1.000000e-01 : f64, salt = 0 : i64, seed = 42 : i64}> : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
func.func @dropout(%x: tensor<2x16x64xf32>) -> (tensor<2x16x64xf32>, tensor<2x16x64xf32>) {
  %0 = strata.dropout %x : tensor<2x16x64xf32>
  %1 = strata.dropout %x {p = 0.1 : f64, seed = 42 : i64} : tensor<2x16x64xf32>
  return %0, %1 : tensor<2x16x64xf32>, tensor<2x16x64xf32>
}

// Tests that strata.round round-trips both formats and keeps the f32 type.
// CHECK-LABEL: func.func @round(
// CHECK-SAME:    %[[X:.*]]: tensor<?x16xf32>)
// CHECK-NEXT:    strata.round %[[X]] to bf16 : tensor<?x16xf32>
// CHECK-NEXT:    strata.round %[[X]] to f16 : tensor<?x16xf32>
// GENERIC-LABEL: sym_name = "round"
// GENERIC:       "strata.round"(%{{[a-z0-9]+}}) <{to = bf16}> : (tensor<?x16xf32>) -> tensor<?x16xf32>
func.func @round(%x: tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %0 = strata.round %x to bf16 : tensor<?x16xf32>
  %1 = strata.round %x to f16 : tensor<?x16xf32>
  return %0, %1 : tensor<?x16xf32>, tensor<?x16xf32>
}

// Tests that strata.rotary round-trips without positions and the default rope.
// CHECK-LABEL: func.func @rotary_plain(
// CHECK-SAME:    %[[X:.*]]: tensor<2x16x64xf32>)
// CHECK-NEXT:    strata.rotary %[[X]] {head_dim = 16 : i64, num_heads = 4 : i64, rope = #strata.rope<>, rotary_dim = 16 : i64} : tensor<2x16x64xf32>
// GENERIC-LABEL: sym_name = "rotary_plain"
// GENERIC:       "strata.rotary"(%{{[a-z0-9]+}}) <{head_dim = 16 : i64, interleaved = false, inverse = false, num_heads = 4 : i64, rope = #strata.rope<>, rotary_dim = 16 : i64}> : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
func.func @rotary_plain(%x: tensor<2x16x64xf32>) -> tensor<2x16x64xf32> {
  %0 = strata.rotary %x {num_heads = 4, head_dim = 16, rotary_dim = 16, rope = #strata.rope<theta = 10000.0>} : tensor<2x16x64xf32>
  return %0 : tensor<2x16x64xf32>
}

// Tests that strata.rotary round-trips with positions, interleaving, a partial rotary_dim and YaRN scaling.
// CHECK-LABEL: func.func @rotary_yarn(
// CHECK-SAME:    %[[X:.*]]: tensor<?x?x96xf32>, %[[POS:.*]]: tensor<?x?xi32>) -> tensor<?x?x96xf32>
// CHECK-NEXT:    strata.rotary %[[X]] positions(%[[POS]] : tensor<?x?xi32>) {head_dim = 24 : i64, interleaved = true, num_heads = 4 : i64, rope = #strata.rope<theta = 5.000000e+05, scaling = yarn, factor = 4.000000e+01, original_max_position = 4096, mscale = 7.070000e-01, mscale_all_dim = 7.070000e-01>, rotary_dim = 8 : i64} : tensor<?x?x96xf32>
// GENERIC-LABEL: sym_name = "rotary_yarn"
// GENERIC:       "strata.rotary"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{head_dim = 24 : i64, interleaved = true, inverse = false, num_heads = 4 : i64, rope = #strata.rope<theta = 5.000000e+05, scaling = yarn, factor = 4.000000e+01, original_max_position = 4096, mscale = 7.070000e-01, mscale_all_dim = 7.070000e-01>, rotary_dim = 8 : i64}> : (tensor<?x?x96xf32>, tensor<?x?xi32>) -> tensor<?x?x96xf32>
func.func @rotary_yarn(%x: tensor<?x?x96xf32>, %pos: tensor<?x?xi32>) -> tensor<?x?x96xf32> {
  %0 = strata.rotary %x positions(%pos : tensor<?x?xi32>) {num_heads = 4, head_dim = 24, rotary_dim = 8, interleaved = true, rope = #strata.rope<theta = 500000.0, scaling = yarn, factor = 40.0, original_max_position = 4096, beta_fast = 32.0, beta_slow = 1.0, mscale = 0.707, mscale_all_dim = 0.707>} : tensor<?x?x96xf32>
  return %0 : tensor<?x?x96xf32>
}

// Tests that strata.enter_tensor_parallel round-trips with its grid and
// axis, and returns its input's type.
// CHECK-LABEL: func.func @enter_tensor_parallel(
// CHECK:         strata.enter_tensor_parallel %{{.*}} on @mesh axis 3 : tensor<?x?x64xf32>
shard.grid @mesh(shape = 1x1x1x2)
func.func @enter_tensor_parallel(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %0 = strata.enter_tensor_parallel %x on @mesh axis 3 : tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// Tests that latent attention with a low-rank query (q_a(...), q_lora_rank > 0), YaRN rope,
// an explicit softmax scale and eps round-trips and keeps the input type.
// CHECK-LABEL: func.func @mla_q_lora(
// CHECK-SAME:    %[[X:.*]]: tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
// CHECK-NEXT:    %[[QA:.*]] = strata.param "attn.q_a_proj.weight" : tensor<24x64xf32>
// CHECK-NEXT:    %[[QAN:.*]] = strata.param "attn.q_a_layernorm.weight" {init = #strata.init<ones>} : tensor<24xf32>
// CHECK-NEXT:    %[[QB:.*]] = strata.param "attn.q_b_proj.weight" : tensor<96x24xf32>
// CHECK-NEXT:    %[[KVA:.*]] = strata.param "attn.kv_a_proj_with_mqa.weight" : tensor<40x64xf32>
// CHECK-NEXT:    %[[KVAN:.*]] = strata.param "attn.kv_a_layernorm.weight" {init = #strata.init<ones>} : tensor<32xf32>
// CHECK-NEXT:    %[[KVB:.*]] = strata.param "attn.kv_b_proj.weight" : tensor<128x32xf32>
// CHECK-NEXT:    %[[O:.*]] = strata.param "attn.o_proj.weight" : tensor<64x64xf32>
// CHECK-NEXT:    %[[R:.*]] = strata.latent_attention %[[X]] q_a(%[[QA]], %[[QAN]]) q(%[[QB]]) kv_a(%[[KVA]], %[[KVAN]]) kv_b(%[[KVB]]) out(%[[O]])
// CHECK-SAME:      {eps = 1.000000e-05 : f64, kv_lora_rank = 32 : i64, num_heads = 4 : i64, q_lora_rank = 24 : i64, qk_nope_head_dim = 16 : i64, qk_rope_head_dim = 8 : i64,
// CHECK-SAME:      rope = #strata.rope<scaling = yarn, factor = 4.000000e+01, original_max_position = 4096, mscale_all_dim = 1.000000e+00>, softmax_scale = 2.000000e-01 : f64, v_head_dim = 16 : i64}
// CHECK-SAME:      : tensor<2x16x64xf32>, tensor<24x64xf32>, tensor<24xf32>, tensor<96x24xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
// CHECK-NEXT:    return %[[R]] : tensor<2x16x64xf32>
// GENERIC-LABEL: sym_name = "mla_q_lora"
// GENERIC:       "strata.latent_attention"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}})
// GENERIC-SAME:    <{causal = true, eps = 1.000000e-05 : f64, interleaved = false, kv_lora_rank = 32 : i64, num_heads = 4 : i64, operandSegmentSizes = array<i32: 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0>, q_lora_rank = 24 : i64,
// GENERIC-SAME:    : (tensor<2x16x64xf32>, tensor<24x64xf32>, tensor<24xf32>, tensor<96x24xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>) -> tensor<2x16x64xf32>
func.func @mla_q_lora(%x: tensor<2x16x64xf32>) -> tensor<2x16x64xf32> {
  %qa = strata.param "attn.q_a_proj.weight" : tensor<24x64xf32>
  %qan = strata.param "attn.q_a_layernorm.weight" {init = #strata.init<ones>} : tensor<24xf32>
  %q = strata.param "attn.q_b_proj.weight" : tensor<96x24xf32>
  %kva = strata.param "attn.kv_a_proj_with_mqa.weight" : tensor<40x64xf32>
  %kvan = strata.param "attn.kv_a_layernorm.weight" {init = #strata.init<ones>} : tensor<32xf32>
  %kvb = strata.param "attn.kv_b_proj.weight" : tensor<128x32xf32>
  %o = strata.param "attn.o_proj.weight" : tensor<64x64xf32>
  %0 = strata.latent_attention %x q_a(%qa, %qan) q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, q_lora_rank = 24, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<scaling = yarn, factor = 40.0, original_max_position = 4096, mscale = 1.0, mscale_all_dim = 1.0>, softmax_scale = 0.2, eps = 1.0e-5} : tensor<2x16x64xf32>, tensor<24x64xf32>, tensor<24xf32>, tensor<96x24xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return %0 : tensor<2x16x64xf32>
}

// Tests that latent attention without the low-rank query (q_lora_rank = 0, no q_a(...)) and
// non-causal round-trips with dynamic batch and sequence dims.
// CHECK-LABEL: func.func @mla_plain_q(
// CHECK-SAME:    %[[X:.*]]: tensor<?x?x64xbf16>) -> tensor<?x?x64xbf16>
// CHECK-NEXT:    %[[Q:.*]] = strata.param "attn.q_proj.weight" : tensor<96x64xbf16>
// CHECK-NEXT:    %[[KVA:.*]] = strata.param "attn.kv_a_proj_with_mqa.weight" : tensor<40x64xbf16>
// CHECK-NEXT:    %[[KVAN:.*]] = strata.param "attn.kv_a_layernorm.weight" {init = #strata.init<ones>} : tensor<32xbf16>
// CHECK-NEXT:    %[[KVB:.*]] = strata.param "attn.kv_b_proj.weight" : tensor<128x32xbf16>
// CHECK-NEXT:    %[[O:.*]] = strata.param "attn.o_proj.weight" : tensor<64x64xbf16>
// CHECK-NEXT:    %[[R:.*]] = strata.latent_attention %[[X]] q(%[[Q]]) kv_a(%[[KVA]], %[[KVAN]]) kv_b(%[[KVB]]) out(%[[O]])
// CHECK-SAME:      {causal = false, kv_lora_rank = 32 : i64, num_heads = 4 : i64, qk_nope_head_dim = 16 : i64, qk_rope_head_dim = 8 : i64, rope = #strata.rope<>, v_head_dim = 16 : i64}
// CHECK-SAME:      : tensor<?x?x64xbf16>, tensor<96x64xbf16>, tensor<40x64xbf16>, tensor<32xbf16>, tensor<128x32xbf16>, tensor<64x64xbf16>
// CHECK-NEXT:    return %[[R]] : tensor<?x?x64xbf16>
// GENERIC-LABEL: sym_name = "mla_plain_q"
// GENERIC:       "strata.latent_attention"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}})
// GENERIC-SAME:    <{causal = false, eps = 9.9999999999999995E-7 : f64, interleaved = false, kv_lora_rank = 32 : i64, num_heads = 4 : i64, operandSegmentSizes = array<i32: 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0>, q_lora_rank = 0 : i64,
// GENERIC-SAME:    : (tensor<?x?x64xbf16>, tensor<96x64xbf16>, tensor<40x64xbf16>, tensor<32xbf16>, tensor<128x32xbf16>, tensor<64x64xbf16>) -> tensor<?x?x64xbf16>
func.func @mla_plain_q(%x: tensor<?x?x64xbf16>) -> tensor<?x?x64xbf16> {
  %q = strata.param "attn.q_proj.weight" : tensor<96x64xbf16>
  %kva = strata.param "attn.kv_a_proj_with_mqa.weight" : tensor<40x64xbf16>
  %kvan = strata.param "attn.kv_a_layernorm.weight" {init = #strata.init<ones>} : tensor<32xbf16>
  %kvb = strata.param "attn.kv_b_proj.weight" : tensor<128x32xbf16>
  %o = strata.param "attn.o_proj.weight" : tensor<64x64xbf16>
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>, causal = false} : tensor<?x?x64xbf16>, tensor<96x64xbf16>, tensor<40x64xbf16>, tensor<32xbf16>, tensor<128x32xbf16>, tensor<64x64xbf16>
  return %0 : tensor<?x?x64xbf16>
}

// Tests that latent attention takes decode positions and DeepSeek's interleaved rotary layout.
// CHECK-LABEL: func.func @mla_positions_interleaved(
// CHECK:         strata.latent_attention %{{.*}} positions(%{{.*}}) q(%{{.*}}) kv_a(%{{.*}}, %{{.*}}) kv_b(%{{.*}}) out(%{{.*}}) {interleaved = true, kv_lora_rank = 32 : i64, num_heads = 4 : i64, qk_nope_head_dim = 16 : i64, qk_rope_head_dim = 8 : i64, rope = #strata.rope<>, v_head_dim = 16 : i64} : tensor<2x1x64xf32>, tensor<2x1xi32>, tensor<96x64xf32>
// GENERIC-LABEL: sym_name = "mla_positions_interleaved"
// GENERIC:       operandSegmentSizes = array<i32: 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0>
func.func @mla_positions_interleaved(%x: tensor<2x1x64xf32>, %pos: tensor<2x1xi32>) -> tensor<2x1x64xf32> {
  %q = strata.param "q" : tensor<96x64xf32>
  %kva = strata.param "kva" : tensor<40x64xf32>
  %kvn = strata.param "kvn" : tensor<32xf32>
  %kvb = strata.param "kvb" : tensor<128x32xf32>
  %o = strata.param "o" : tensor<64x64xf32>
  %0 = strata.latent_attention %x positions(%pos) q(%q) kv_a(%kva, %kvn) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>, interleaved = true} : tensor<2x1x64xf32>, tensor<2x1xi32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return %0 : tensor<2x1x64xf32>
}

// Tests that a decode step over a latent cache (cache(latent, rope_key))
// round-trips, with dynamic lengths.
// CHECK-LABEL: func.func @mla_cache(
// CHECK:         strata.latent_attention %{{.*}} positions(%{{.*}}) q(%{{.*}}) kv_a(%{{.*}}, %{{.*}}) kv_b(%{{.*}}) out(%{{.*}}) cache(%{{.*}}, %{{.*}}) {
// CHECK-SAME:    : tensor<1x?x64xf32>, tensor<1x?xi32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>, tensor<1x?x32xf32>, tensor<1x?x8xf32>
func.func @mla_cache(%x: tensor<1x?x64xf32>, %pos: tensor<1x?xi32>, %lat: tensor<1x?x32xf32>, %kpe: tensor<1x?x8xf32>) -> tensor<1x?x64xf32> {
  %q = strata.param "q" : tensor<96x64xf32>
  %kva = strata.param "kva" : tensor<40x64xf32>
  %kvn = strata.param "kvn" : tensor<32xf32>
  %kvb = strata.param "kvb" : tensor<128x32xf32>
  %o = strata.param "o" : tensor<64x64xf32>
  %0 = strata.latent_attention %x positions(%pos) q(%q) kv_a(%kva, %kvn) kv_b(%kvb) out(%o) cache(%lat, %kpe) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<1x?x64xf32>, tensor<1x?xi32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>, tensor<1x?x32xf32>, tensor<1x?x8xf32>
  return %0 : tensor<1x?x64xf32>
}

// Tests that a decode step of a left-padded batch (key_padding) round-trips.
// CHECK-LABEL: func.func @mla_key_padding(
// CHECK:         cache(%{{.*}}, %{{.*}}) key_padding(%{{.*}}) {
// CHECK-SAME:    tensor<2x?x8xf32>, tensor<2xi32>
func.func @mla_key_padding(%x: tensor<2x?x64xf32>, %pos: tensor<2x?xi32>, %lat: tensor<2x?x32xf32>, %kpe: tensor<2x?x8xf32>, %pad: tensor<2xi32>) -> tensor<2x?x64xf32> {
  %q = strata.param "q" : tensor<96x64xf32>
  %kva = strata.param "kva" : tensor<40x64xf32>
  %kvn = strata.param "kvn" : tensor<32xf32>
  %kvb = strata.param "kvb" : tensor<128x32xf32>
  %o = strata.param "o" : tensor<64x64xf32>
  %0 = strata.latent_attention %x positions(%pos) q(%q) kv_a(%kva, %kvn) kv_b(%kvb) out(%o) cache(%lat, %kpe) key_padding(%pad) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x?x64xf32>, tensor<2x?xi32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>, tensor<2x?x32xf32>, tensor<2x?x8xf32>, tensor<2xi32>
  return %0 : tensor<2x?x64xf32>
}

// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that latent attention rejects num_heads = 0 (mla_c1).
func.func @mla_zero_heads(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c1: num_heads, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim and v_head_dim must be >= 1 and qk_rope_head_dim even}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 0, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that latent attention rejects kv_lora_rank = 0 (mla_c1).
func.func @mla_zero_kv_lora_rank(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c1: num_heads, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim and v_head_dim must be >= 1 and qk_rope_head_dim even}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 0, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that latent attention rejects qk_nope_head_dim = 0 (mla_c1).
func.func @mla_zero_nope_dim(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c1: num_heads, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim and v_head_dim must be >= 1 and qk_rope_head_dim even}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 0, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that latent attention rejects v_head_dim = 0 (mla_c1).
func.func @mla_zero_v_head_dim(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c1: num_heads, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim and v_head_dim must be >= 1 and qk_rope_head_dim even}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 0, rope = #strata.rope<>} : tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that latent attention rejects an odd qk_rope_head_dim (mla_c1).
func.func @mla_odd_rope_dim(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<92x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<39x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c1: num_heads, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim and v_head_dim must be >= 1 and qk_rope_head_dim even}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 7, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x16x64xf32>, tensor<92x64xf32>, tensor<39x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that latent attention rejects softmax_scale = 0 (mla_c1).
func.func @mla_zero_softmax_scale(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c5: softmax_scale must be > 0, got 0.000000e+00}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>, softmax_scale = 0.0} : tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that q_lora_rank > 0 without q_a(...) is rejected (mla_c2).
func.func @mla_q_lora_rank_without_q_a(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c2: q_a_proj and q_a_norm must be given together, exactly when q_lora_rank > 0}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>, q_lora_rank = 24} : tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that q_a(...) with q_lora_rank = 0 is rejected (mla_c2).
func.func @mla_q_a_without_q_lora_rank(%x: tensor<2x16x64xf32>) {
  %qa = strata.param "q_a_proj" : tensor<24x64xf32>
  %qan = strata.param "q_a_norm" : tensor<24xf32>
  %q = strata.param "q_proj" : tensor<96x24xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c2: q_a_proj and q_a_norm must be given together, exactly when q_lora_rank > 0}}
  %0 = strata.latent_attention %x q_a(%qa, %qan) q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x16x64xf32>, tensor<24x64xf32>, tensor<24xf32>, tensor<96x24xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that a negative q_lora_rank is rejected (mla_c2).
func.func @mla_negative_q_lora_rank(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c2: q_lora_rank must be >= 0, got -1}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>, q_lora_rank = -1} : tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that q_a_proj must be [q_lora_rank, hidden] (mla_c3).
func.func @mla_q_a_proj_shape(%x: tensor<2x16x64xf32>) {
  %qa = strata.param "q_a_proj" : tensor<24x32xf32>
  %qan = strata.param "q_a_norm" : tensor<24xf32>
  %q = strata.param "q_proj" : tensor<96x24xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c3: q_a_proj must have shape [24, 64], got 'tensor<24x32xf32>'}}
  %0 = strata.latent_attention %x q_a(%qa, %qan) q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>, q_lora_rank = 24} : tensor<2x16x64xf32>, tensor<24x32xf32>, tensor<24xf32>, tensor<96x24xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that q_a_norm must be [q_lora_rank] (mla_c3).
func.func @mla_q_a_norm_shape(%x: tensor<2x16x64xf32>) {
  %qa = strata.param "q_a_proj" : tensor<24x64xf32>
  %qan = strata.param "q_a_norm" : tensor<23xf32>
  %q = strata.param "q_proj" : tensor<96x24xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c3: q_a_norm must have shape [24], got 'tensor<23xf32>'}}
  %0 = strata.latent_attention %x q_a(%qa, %qan) q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>, q_lora_rank = 24} : tensor<2x16x64xf32>, tensor<24x64xf32>, tensor<23xf32>, tensor<96x24xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that with q_lora_rank > 0, q_proj must read q_lora_rank features (mla_c3).
func.func @mla_q_proj_shape_lora(%x: tensor<2x16x64xf32>) {
  %qa = strata.param "q_a_proj" : tensor<24x64xf32>
  %qan = strata.param "q_a_norm" : tensor<24xf32>
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c3: q_proj must have shape [96, 24], got 'tensor<96x64xf32>'}}
  %0 = strata.latent_attention %x q_a(%qa, %qan) q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>, q_lora_rank = 24} : tensor<2x16x64xf32>, tensor<24x64xf32>, tensor<24xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that q_proj must be [num_heads * (nope + rope), hidden] (mla_c3).
func.func @mla_q_proj_shape(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<64x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c3: q_proj must have shape [96, 64], got 'tensor<64x64xf32>'}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x16x64xf32>, tensor<64x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that kv_a_proj must be [kv_lora_rank + rope, hidden] (mla_c3).
func.func @mla_kv_a_proj_shape(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<32x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c3: kv_a_proj must have shape [40, 64], got 'tensor<32x64xf32>'}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<32x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that kv_a_norm must be [kv_lora_rank] (mla_c3).
func.func @mla_kv_a_norm_shape(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<40xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c3: kv_a_norm must have shape [32], got 'tensor<40xf32>'}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<40xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that kv_b_proj must be [num_heads * (nope + v_head_dim), kv_lora_rank] (mla_c3).
func.func @mla_kv_b_proj_shape(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<96x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c3: kv_b_proj must have shape [128, 32], got 'tensor<96x32xf32>'}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<96x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that o_proj must be [hidden, num_heads * v_head_dim] (mla_c3).
func.func @mla_o_proj_shape(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x32xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c3: o_proj must have shape [64, 64], got 'tensor<64x32xf32>'}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x32xf32>
  return
}

// -----

// Tests that latent attention rejects an input that is not rank 3 (mla_c4).
func.func @mla_input_rank(%x: tensor<16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c4: input must be rank 3, got 'tensor<16x64xf32>'}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvan) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that q_a_proj without q_a_norm (only expressible in the generic form) is rejected (mla_c2).
func.func @mla_q_a_proj_without_norm(%x: tensor<2x16x64xf32>) {
  %qa = strata.param "q_a_proj" : tensor<24x64xf32>
  %q = strata.param "q_proj" : tensor<96x24xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c2: q_a_proj and q_a_norm must be given together, exactly when q_lora_rank > 0}}
  %0 = "strata.latent_attention"(%x, %qa, %q, %kva, %kvan, %kvb, %o) <{operandSegmentSizes = array<i32: 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0>, num_heads = 4 : i64, q_lora_rank = 24 : i64, kv_lora_rank = 32 : i64, qk_nope_head_dim = 16 : i64, qk_rope_head_dim = 8 : i64, v_head_dim = 16 : i64, rope = #strata.rope<>, causal = true, eps = 1.0e-6 : f64}> : (tensor<2x16x64xf32>, tensor<24x64xf32>, tensor<96x24xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>) -> tensor<2x16x64xf32>
  return
}

// -----

// Tests that the generic form checks that the result has the input's type.
func.func @mla_generic_wrong_result(%x: tensor<2x16x64xf32>) {
  %q = strata.param "q_proj" : tensor<96x64xf32>
  %kva = strata.param "kv_a_proj" : tensor<40x64xf32>
  %kvan = strata.param "kv_a_norm" : tensor<32xf32>
  %kvb = strata.param "kv_b_proj" : tensor<128x32xf32>
  %o = strata.param "o_proj" : tensor<64x64xf32>
  // expected-error @+2 {{'strata.latent_attention' op inferred type(s) 'tensor<2x16x64xf32>' are incompatible with return type(s) of operation 'tensor<2x16x64xbf16>'}}
  // expected-error @+1 {{'strata.latent_attention' op failed to infer returned types}}
  %0 = "strata.latent_attention"(%x, %q, %kva, %kvan, %kvb, %o) <{operandSegmentSizes = array<i32: 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0>, num_heads = 4 : i64, q_lora_rank = 0 : i64, kv_lora_rank = 32 : i64, qk_nope_head_dim = 16 : i64, qk_rope_head_dim = 8 : i64, v_head_dim = 16 : i64, rope = #strata.rope<>, causal = true, eps = 1.0e-6 : f64}> : (tensor<2x16x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>) -> tensor<2x16x64xbf16>
  return
}

// -----

// Tests that latent attention positions must be [B, S] (mla_c4).
func.func @mla_positions_shape(%x: tensor<2x4x64xf32>, %pos: tensor<2x5xi32>) {
  %q = strata.param "q" : tensor<96x64xf32>
  %kva = strata.param "kva" : tensor<40x64xf32>
  %kvn = strata.param "kvn" : tensor<32xf32>
  %kvb = strata.param "kvb" : tensor<128x32xf32>
  %o = strata.param "o" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c4: positions must have shape [2, 4], got 'tensor<2x5xi32>'}}
  %0 = strata.latent_attention %x positions(%pos) q(%q) kv_a(%kva, %kvn) kv_b(%kvb) out(%o) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x4x64xf32>, tensor<2x5xi32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>
  return
}

// -----

// Tests that a decode step's cache has the latent and rope-key widths
// (mla_c6).
func.func @mla_cache_width(%x: tensor<2x1x64xf32>, %lat: tensor<2x9x31xf32>, %kpe: tensor<2x9x8xf32>) {
  %q = strata.param "q" : tensor<96x64xf32>
  %kva = strata.param "kva" : tensor<40x64xf32>
  %kvn = strata.param "kvn" : tensor<32xf32>
  %kvb = strata.param "kvb" : tensor<128x32xf32>
  %o = strata.param "o" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c6: cached latent must have shape [2, 9, 32], got 'tensor<2x9x31xf32>'}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvn) kv_b(%kvb) out(%o) cache(%lat, %kpe) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x1x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>, tensor<2x9x31xf32>, tensor<2x9x8xf32>
  return
}

// -----

// Tests that the cache includes at least the new positions (mla_c6).
func.func @mla_cache_short(%x: tensor<2x4x64xf32>, %lat: tensor<2x3x32xf32>, %kpe: tensor<2x3x8xf32>) {
  %q = strata.param "q" : tensor<96x64xf32>
  %kva = strata.param "kva" : tensor<40x64xf32>
  %kvn = strata.param "kvn" : tensor<32xf32>
  %kvb = strata.param "kvb" : tensor<128x32xf32>
  %o = strata.param "o" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c6: the cache holds 3 positions, fewer than the 4 new ones it must include}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvn) kv_b(%kvb) out(%o) cache(%lat, %kpe) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x4x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>, tensor<2x3x32xf32>, tensor<2x3x8xf32>
  return
}

// -----

// Tests that the rope key's positions are the latent's (mla_c6).
func.func @mla_cache_lengths(%x: tensor<2x1x64xf32>, %lat: tensor<2x9x32xf32>, %kpe: tensor<2x8x8xf32>) {
  %q = strata.param "q" : tensor<96x64xf32>
  %kva = strata.param "kva" : tensor<40x64xf32>
  %kvn = strata.param "kvn" : tensor<32xf32>
  %kvb = strata.param "kvb" : tensor<128x32xf32>
  %o = strata.param "o" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c6: cached rope key must have shape [2, 9, 8], got 'tensor<2x8x8xf32>'}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvn) kv_b(%kvb) out(%o) cache(%lat, %kpe) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x1x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>, tensor<2x9x32xf32>, tensor<2x8x8xf32>
  return
}

// -----

// Tests that the key padding has the input's batch (mla_c7).
func.func @mla_key_padding_batch(%x: tensor<2x1x64xf32>, %lat: tensor<2x9x32xf32>, %kpe: tensor<2x9x8xf32>, %pad: tensor<1xi32>) {
  %q = strata.param "q" : tensor<96x64xf32>
  %kva = strata.param "kva" : tensor<40x64xf32>
  %kvn = strata.param "kvn" : tensor<32xf32>
  %kvb = strata.param "kvb" : tensor<128x32xf32>
  %o = strata.param "o" : tensor<64x64xf32>
  // expected-error @+1 {{'strata.latent_attention' op mla_c7: key_padding must have shape [2], got 'tensor<1xi32>'}}
  %0 = strata.latent_attention %x q(%q) kv_a(%kva, %kvn) kv_b(%kvb) out(%o) cache(%lat, %kpe) key_padding(%pad) {num_heads = 4, kv_lora_rank = 32, qk_nope_head_dim = 16, qk_rope_head_dim = 8, v_head_dim = 16, rope = #strata.rope<>} : tensor<2x1x64xf32>, tensor<96x64xf32>, tensor<40x64xf32>, tensor<32xf32>, tensor<128x32xf32>, tensor<64x64xf32>, tensor<2x9x32xf32>, tensor<2x9x8xf32>, tensor<1xi32>
  return
}

// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that an int8 parameter without scales is rejected (param_c4).
func.func @int8_param_without_scale() {
  // expected-error @+1 {{'strata.param' op param_c4: an int8 parameter needs the `scale` parameter that dequantizes it}}
  %w = strata.param "w" : tensor<16x32xi8>
  return
}

// -----

// Tests that a float parameter naming scales is rejected (param_c4).
func.func @float_param_with_scale() {
  // expected-error @+1 {{'strata.param' op param_c4: only an int8 parameter has a `scale`}}
  %w = strata.param "w" {scale = "w_scale"} : tensor<16x32xf32>
  return
}

// -----

// Tests that quantized_linear rejects a weight that is not rank 2
// (quantized_linear_c1).
func.func @weight_rank(%x: tensor<2x32xf32>, %w: tensor<16x32x1xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{'strata.quantized_linear' op quantized_linear_c1: weight must be rank 2 [out, in], got 'tensor<16x32x1xi8>'}}
  %y = strata.quantized_linear %x, %w, %s {scheme = #strata.quant_scheme<w8a16>} : tensor<2x32xf32>, tensor<16x32x1xi8>, tensor<16xf32>
  return
}

// -----

// Tests that quantized_linear rejects an input whose last dim is not
// in_features (quantized_linear_c2).
func.func @in_features(%x: tensor<2x8xf32>, %w: tensor<16x32xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{'strata.quantized_linear' op quantized_linear_c2: the last dim of input (8) must equal the weight's in_features (32)}}
  %y = strata.quantized_linear %x, %w, %s {scheme = #strata.quant_scheme<w8a16>} : tensor<2x8xf32>, tensor<16x32xi8>, tensor<16xf32>
  return
}

// -----

// Tests that quantized_linear rejects scales of the wrong length
// (quantized_linear_c3).
func.func @scale_shape(%x: tensor<2x32xf32>, %w: tensor<16x32xi8>, %s: tensor<8xf32>) {
  // expected-error @+1 {{'strata.quantized_linear' op quantized_linear_c3: weight_scale}}
  %y = strata.quantized_linear %x, %w, %s {scheme = #strata.quant_scheme<w8a16>} : tensor<2x32xf32>, tensor<16x32xi8>, tensor<8xf32>
  return
}

// -----

// Tests that quantized_linear's weight must be int8 (an f32 weight is a
// strata.linear).
func.func @float_weight(%x: tensor<2x32xf32>, %w: tensor<16x32xf32>, %s: tensor<16xf32>) {
  // expected-error @+1 {{'strata.quantized_linear' op operand #1 must be ranked tensor of 8-bit signless integer values}}
  %y = strata.quantized_linear %x, %w, %s {scheme = #strata.quant_scheme<w8a16>} : tensor<2x32xf32>, tensor<16x32xf32>, tensor<16xf32>
  return
}

// -----

// Tests that quantized_moe_experts rejects scales that are not [E, out]
// (quantized_moe_c1).
func.func @expert_scales(%x: tensor<1x3x8xf32>, %w: tensor<1x3x2xf32>, %i: tensor<1x3x2xi32>, %g: tensor<4x6x8xi8>, %d: tensor<4x8x6xi8>, %gs: tensor<4x6xf32>, %ds: tensor<4x6xf32>) {
  // expected-error @+1 {{'strata.quantized_moe_experts' op quantized_moe_c1: down_scale must have shape [4, 8], got 'tensor<4x6xf32>'}}
  %y = strata.quantized_moe_experts %x, %w, %i experts(%g, %g, %d) scales(%gs, %gs, %ds) {num_experts = 4, top_k = 2, scheme = #strata.quant_scheme<w8a16>} : tensor<1x3x8xf32>, tensor<1x3x2xf32>, tensor<1x3x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x8x6xi8>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x6xf32>
  return
}

// -----

// Tests that activation parameters come together, on an int8 parameter
// (param_c5).
func.func @input_scale_without_zero_point() {
  // expected-error @+1 {{'strata.param' op param_c5: `input_scale` and `input_zero_point` name parameters together, on an int8 parameter}}
  %w = strata.param "w" {scale = "w_scale", input_scale = "w.input_scale"} : tensor<16x32xi8>
  return
}

// -----

// Tests that static w8a8 needs its calibrated activation parameters
// (quantized_linear_c4).
func.func @static_without_input(%x: tensor<2x32xf32>, %w: tensor<16x32xi8>, %s: tensor<16xf32>) {
  // expected-error @+1 {{'strata.quantized_linear' op quantized_linear_c4: input_scale is required by the static w8a8 scheme}}
  %y = strata.quantized_linear %x, %w, %s {scheme = #strata.quant_scheme<w8a8>} : tensor<2x32xf32>, tensor<16x32xi8>, tensor<16xf32>
  return
}

// -----

// Tests that only static w8a8 takes activation parameters, shaped [1]
// (quantized_linear_c4).
func.func @dynamic_with_input(%x: tensor<2x32xf32>, %w: tensor<16x32xi8>, %s: tensor<16xf32>, %i: tensor<1xf32>) {
  // expected-error @+1 {{'strata.quantized_linear' op quantized_linear_c4: input_scale is only for the static w8a8 scheme}}
  %y = strata.quantized_linear %x, %w, %s input(%i, %i) {scheme = #strata.quant_scheme<w8a8_dynamic>} : tensor<2x32xf32>, tensor<16x32xi8>, tensor<16xf32> input tensor<1xf32>, tensor<1xf32>
  return
}

// -----

func.func @input_shape(%x: tensor<2x32xf32>, %w: tensor<16x32xi8>, %s: tensor<16xf32>, %i: tensor<2xf32>) {
  // expected-error @+1 {{'strata.quantized_linear' op quantized_linear_c4: input_scale must have shape [1], got 'tensor<2xf32>'}}
  %y = strata.quantized_linear %x, %w, %s input(%i, %i) {scheme = #strata.quant_scheme<w8a8>} : tensor<2x32xf32>, tensor<16x32xi8>, tensor<16xf32> input tensor<2xf32>, tensor<2xf32>
  return
}

// -----

// Tests that a static w8a8 product needs its weight's row sums
// (quantized_linear_c5).
func.func @static_without_row_sums(%x: tensor<2x32xf32>, %w: tensor<16x32xi8>, %s: tensor<16xf32>, %i: tensor<1xf32>) {
  // expected-error @+1 {{'strata.quantized_linear' op quantized_linear_c5: weight_row_sums is required by the static w8a8 scheme}}
  %y = strata.quantized_linear %x, %w, %s input(%i, %i) {scheme = #strata.quant_scheme<w8a8>} : tensor<2x32xf32>, tensor<16x32xi8>, tensor<16xf32> input tensor<1xf32>, tensor<1xf32>
  return
}

// -----

// Tests that row sums have one value per output channel
// (quantized_linear_c5).
func.func @row_sums_shape(%x: tensor<2x32xf32>, %w: tensor<16x32xi8>, %s: tensor<16xf32>, %i: tensor<1xf32>, %r: tensor<32xi32>) {
  // expected-error @+1 {{'strata.quantized_linear' op quantized_linear_c5: weight_row_sums must have shape [16], got 'tensor<32xi32>'}}
  %y = strata.quantized_linear %x, %w, %s input(%i, %i) row_sums(%r) {scheme = #strata.quant_scheme<w8a8>} : tensor<2x32xf32>, tensor<16x32xi8>, tensor<16xf32> input tensor<1xf32>, tensor<1xf32> row_sums tensor<32xi32>
  return
}

// -----

// Tests that row sums belong to the static scheme only
// (quantized_linear_c5).
func.func @row_sums_dynamic(%x: tensor<2x32xf32>, %w: tensor<16x32xi8>, %s: tensor<16xf32>, %r: tensor<16xi32>) {
  // expected-error @+1 {{'strata.quantized_linear' op quantized_linear_c5: weight_row_sums is only for the static w8a8 scheme}}
  %y = strata.quantized_linear %x, %w, %s row_sums(%r) {scheme = #strata.quant_scheme<w8a8_dynamic>} : tensor<2x32xf32>, tensor<16x32xi8>, tensor<16xf32> row_sums tensor<16xi32>
  return
}

// -----

// Tests that static experts' row sums are shaped as their scales
// (quantized_moe_c3).
func.func @expert_row_sums(%x: tensor<1x3x8xf32>, %w: tensor<1x3x2xf32>, %i: tensor<1x3x2xi32>, %g: tensor<4x6x8xi8>, %d: tensor<4x8x6xi8>, %gs: tensor<4x6xf32>, %ds: tensor<4x8xf32>, %a: tensor<4xf32>, %gr: tensor<4x6xi32>) {
  // expected-error @+1 {{'strata.quantized_moe_experts' op quantized_moe_c3: down_row_sums must have shape [4, 8], got 'tensor<4x6xi32>'}}
  %y = strata.quantized_moe_experts %x, %w, %i experts(%g, %g, %d) scales(%gs, %gs, %ds) inputs(%a, %a, %a, %a) row_sums(%gr, %gr, %gr) {num_experts = 4, top_k = 2, scheme = #strata.quant_scheme<w8a8>} : tensor<1x3x8xf32>, tensor<1x3x2xf32>, tensor<1x3x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x8x6xi8>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4x6xi32>, tensor<4x6xi32>, tensor<4x6xi32>
  return
}

// -----

// Tests that only an int8 parameter names row sums (param_c6).
func.func @float_row_sums() {
  // expected-error @+1 {{'strata.param' op param_c6: `row_sums` names a parameter, on an int8 parameter}}
  %w = strata.param "w" {row_sums = "w_row_sums"} : tensor<16x32xf32>
  return
}

// -----

// Tests that an i32 parameter (row sums) has no scales (param_c4).
func.func @i32_with_scale() {
  // expected-error @+1 {{'strata.param' op param_c4: only an int8 parameter has a `scale`}}
  %w = strata.param "w" {scale = "w_scale"} : tensor<16xi32>
  return
}

// -----

// Tests that static w8a8 experts take one activation scale per expert
// (quantized_moe_c2).
func.func @expert_inputs(%x: tensor<1x3x8xf32>, %w: tensor<1x3x2xf32>, %i: tensor<1x3x2xi32>, %g: tensor<4x6x8xi8>, %d: tensor<4x8x6xi8>, %gs: tensor<4x6xf32>, %ds: tensor<4x8xf32>, %a: tensor<4xf32>, %b: tensor<1xf32>) {
  // expected-error @+1 {{'strata.quantized_moe_experts' op quantized_moe_c2: down_input_scale must have shape [4], got 'tensor<1xf32>'}}
  %y = strata.quantized_moe_experts %x, %w, %i experts(%g, %g, %d) scales(%gs, %gs, %ds) inputs(%a, %a, %b, %b) {num_experts = 4, top_k = 2, scheme = #strata.quant_scheme<w8a8>} : tensor<1x3x8xf32>, tensor<1x3x2xf32>, tensor<1x3x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x8x6xi8>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<1xf32>, tensor<1xf32>
  return
}

// -----

// Tests that the calibration view checks its experts' scales
// (quantized_moe_c1).
func.func @expert_inputs_scales(%x: tensor<1x3x8xf32>, %i: tensor<1x3x2xi32>, %g: tensor<4x6x8xi8>, %gs: tensor<4x8xf32>) {
  // expected-error @+1 {{'strata.quantized_moe_expert_inputs' op quantized_moe_c1: gate_scale must have shape [4, 6], got 'tensor<4x8xf32>'}}
  %r, %h, %o = strata.quantized_moe_expert_inputs %x, %i experts(%g, %g) scales(%gs, %gs) {num_experts = 4, top_k = 2} : tensor<1x3x8xf32>, tensor<1x3x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x8xf32>, tensor<4x8xf32>
  return
}

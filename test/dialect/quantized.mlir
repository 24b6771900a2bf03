// RUN: strata-opt %s | strata-opt | FileCheck %s

// Tests that strata.quantized_linear round-trips with and without a bias,
// in both schemes, and that an int8 parameter names its scales.
// CHECK-LABEL: func.func @quantized
// CHECK:         strata.param "w" {scale = "w_scale"} : tensor<16x32xi8>
// CHECK:         strata.quantized_linear %{{.*}}, %{{.*}}, %{{.*}} {scheme = #strata.quant_scheme<w8a16>} : tensor<2x5x32xf32>, tensor<16x32xi8>, tensor<16xf32>
// CHECK:         strata.quantized_linear %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {scheme = #strata.quant_scheme<w8a8_dynamic>} : tensor<2x5x32xf32>, tensor<16x32xi8>, tensor<16xf32>, tensor<16xf32>
func.func @quantized(%x: tensor<2x5x32xf32>, %b: tensor<16xf32>) -> (tensor<2x5x16xf32>, tensor<2x5x16xf32>) {
  %w = strata.param "w" {scale = "w_scale"} : tensor<16x32xi8>
  %s = strata.param "w_scale" : tensor<16xf32>
  %y = strata.quantized_linear %x, %w, %s {scheme = #strata.quant_scheme<w8a16>} : tensor<2x5x32xf32>, tensor<16x32xi8>, tensor<16xf32>
  %z = strata.quantized_linear %x, %w, %s, %b {scheme = #strata.quant_scheme<w8a8_dynamic>} : tensor<2x5x32xf32>, tensor<16x32xi8>, tensor<16xf32>, tensor<16xf32>
  return %y, %z : tensor<2x5x16xf32>, tensor<2x5x16xf32>
}

// Tests that strata.quantized_moe_experts round-trips.
// CHECK-LABEL: func.func @quantized_experts
// CHECK:         strata.quantized_moe_experts %{{.*}}, %{{.*}}, %{{.*}} experts(%{{.*}}, %{{.*}}, %{{.*}}) scales(%{{.*}}, %{{.*}}, %{{.*}}) {num_experts = 4 : i64, scheme = #strata.quant_scheme<w8a8_dynamic>, top_k = 2 : i64}
func.func @quantized_experts(%x: tensor<1x3x8xf32>, %w: tensor<1x3x2xf32>, %i: tensor<1x3x2xi32>, %g: tensor<4x6x8xi8>, %d: tensor<4x8x6xi8>, %gs: tensor<4x6xf32>, %ds: tensor<4x8xf32>) -> tensor<1x3x8xf32> {
  %y = strata.quantized_moe_experts %x, %w, %i experts(%g, %g, %d) scales(%gs, %gs, %ds) {num_experts = 4, top_k = 2, scheme = #strata.quant_scheme<w8a8_dynamic>} : tensor<1x3x8xf32>, tensor<1x3x2xf32>, tensor<1x3x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x8x6xi8>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x8xf32>
  return %y : tensor<1x3x8xf32>
}

// Tests that the static w8a8 forms and the calibration view round-trip.
// CHECK-LABEL: func.func @static_forms
// CHECK:         strata.quantized_linear %{{.*}}, %{{.*}}, %{{.*}} input(%{{.*}}, %{{.*}}) row_sums(%{{.*}}) {scheme = #strata.quant_scheme<w8a8>} : tensor<1x3x8xf32>, tensor<4x8xi8>, tensor<4xf32> input tensor<1xf32>, tensor<1xf32> row_sums tensor<4xi32>
// CHECK:         strata.quantized_moe_experts {{.*}} inputs(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) row_sums(%{{.*}}, %{{.*}}, %{{.*}}) {num_experts = 4 : i64, scheme = #strata.quant_scheme<w8a8>, top_k = 2 : i64}
// CHECK:         strata.quantized_moe_expert_inputs %{{.*}}, %{{.*}} experts(%{{.*}}, %{{.*}}) scales(%{{.*}}, %{{.*}}) {num_experts = 4 : i64, top_k = 2 : i64} : tensor<1x3x8xf32>, tensor<1x3x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x6xf32>, tensor<4x6xf32>
func.func @static_forms(%x: tensor<1x3x8xf32>, %lw: tensor<4x8xi8>, %ls: tensor<4xf32>, %one: tensor<1xf32>, %w: tensor<1x3x2xf32>, %i: tensor<1x3x2xi32>, %g: tensor<4x6x8xi8>, %d: tensor<4x8x6xi8>, %gs: tensor<4x6xf32>, %ds: tensor<4x8xf32>, %e: tensor<4xf32>, %lr: tensor<4xi32>, %gr: tensor<4x6xi32>, %dr: tensor<4x8xi32>) -> (tensor<1x3x4xf32>, tensor<1x3x8xf32>, tensor<?x8xf32>, tensor<?x6xf32>, tensor<5xi32>) {
  %l = strata.quantized_linear %x, %lw, %ls input(%one, %one) row_sums(%lr) {scheme = #strata.quant_scheme<w8a8>} : tensor<1x3x8xf32>, tensor<4x8xi8>, tensor<4xf32> input tensor<1xf32>, tensor<1xf32> row_sums tensor<4xi32>
  %y = strata.quantized_moe_experts %x, %w, %i experts(%g, %g, %d) scales(%gs, %gs, %ds) inputs(%e, %e, %e, %e) row_sums(%gr, %gr, %dr) {num_experts = 4, top_k = 2, scheme = #strata.quant_scheme<w8a8>} : tensor<1x3x8xf32>, tensor<1x3x2xf32>, tensor<1x3x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x8x6xi8>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4x6xi32>, tensor<4x6xi32>, tensor<4x8xi32>
  %r, %h, %o = strata.quantized_moe_expert_inputs %x, %i experts(%g, %g) scales(%gs, %gs) {num_experts = 4, top_k = 2} : tensor<1x3x8xf32>, tensor<1x3x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x6xf32>, tensor<4x6xf32>
  return %l, %y, %r, %h, %o : tensor<1x3x4xf32>, tensor<1x3x8xf32>, tensor<?x8xf32>, tensor<?x6xf32>, tensor<5xi32>
}

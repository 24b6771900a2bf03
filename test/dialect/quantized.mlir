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

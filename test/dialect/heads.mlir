// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// Tests that memory_compression round-trips with the default (gelu) and an explicit activation
// and eps, and keeps the input type.
// CHECK-LABEL: func.func @memory_compression(
// CHECK-SAME:    %[[X:.*]]: tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
// CHECK-NEXT:    %[[EW:.*]] = strata.param "mc.enc.weight" : tensor<16x64xf32>
// CHECK-NEXT:    %[[EB:.*]] = strata.param "mc.enc.bias" {init = #strata.init<zeros>} : tensor<16xf32>
// CHECK-NEXT:    %[[DW:.*]] = strata.param "mc.dec.weight" : tensor<64x16xf32>
// CHECK-NEXT:    %[[DB:.*]] = strata.param "mc.dec.bias" {init = #strata.init<zeros>} : tensor<64xf32>
// CHECK-NEXT:    %[[NW:.*]] = strata.param "mc.norm.weight" {init = #strata.init<ones>} : tensor<64xf32>
// CHECK-NEXT:    %[[NB:.*]] = strata.param "mc.norm.bias" {init = #strata.init<zeros>} : tensor<64xf32>
// CHECK-NEXT:    %[[M0:.*]] = strata.memory_compression %[[X]] enc(%[[EW]], %[[EB]]) dec(%[[DW]], %[[DB]]) norm(%[[NW]], %[[NB]]) {ratio = 2.500000e-01 : f64} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
// CHECK-NEXT:    %[[M1:.*]] = strata.memory_compression %[[M0]] enc(%[[EW]], %[[EB]]) dec(%[[DW]], %[[DB]]) norm(%[[NW]], %[[NB]]) {activation = #strata.activation<relu>, eps = 9.9999999999999995E-7 : f64, ratio = 2.500000e-01 : f64} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
// CHECK-NEXT:    return %[[M1]] : tensor<2x16x64xf32>
// GENERIC-LABEL: sym_name = "memory_compression"
// GENERIC:       "strata.memory_compression"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{activation = #strata.activation<gelu>, eps = 1.000000e-05 : f64, ratio = 2.500000e-01 : f64}> : (tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
// GENERIC:       "strata.memory_compression"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{activation = #strata.activation<relu>, eps = 9.9999999999999995E-7 : f64, ratio = 2.500000e-01 : f64}> : (tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
func.func @memory_compression(%x: tensor<2x16x64xf32>) -> tensor<2x16x64xf32> {
  %ew = strata.param "mc.enc.weight" : tensor<16x64xf32>
  %eb = strata.param "mc.enc.bias" {init = #strata.init<zeros>} : tensor<16xf32>
  %dw = strata.param "mc.dec.weight" : tensor<64x16xf32>
  %db = strata.param "mc.dec.bias" {init = #strata.init<zeros>} : tensor<64xf32>
  %nw = strata.param "mc.norm.weight" {init = #strata.init<ones>} : tensor<64xf32>
  %nb = strata.param "mc.norm.bias" {init = #strata.init<zeros>} : tensor<64xf32>
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  %1 = strata.memory_compression %0 enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25, activation = #strata.activation<relu>, eps = 1.0e-6} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  return %1 : tensor<2x16x64xf32>
}

// Tests that a tied LM head (the embedding table reused as weight) infers [B, S, vocab] and
// cross_entropy over it returns a scalar f32 with the default ignore_index.
// CHECK-LABEL: func.func @lm_head_tied(
// CHECK-SAME:    %[[T:.*]]: tensor<2x16xi64>) -> (tensor<2x16x1000xf32>, tensor<f32>)
// CHECK-NEXT:    %[[E:.*]] = strata.param "embed.weight" : tensor<1000x64xf32>
// CHECK-NEXT:    %[[H:.*]] = strata.embedding %[[T]], %[[E]] : tensor<2x16xi64>, tensor<1000x64xf32>
// CHECK-NEXT:    %[[L:.*]] = strata.lm_head %[[H]], %[[E]] : tensor<2x16x64xf32>, tensor<1000x64xf32>
// CHECK-NEXT:    %[[X:.*]] = strata.cross_entropy %[[L]], %[[T]] : tensor<2x16x1000xf32>, tensor<2x16xi64>
// CHECK-NEXT:    return %[[L]], %[[X]] : tensor<2x16x1000xf32>, tensor<f32>
// GENERIC-LABEL: sym_name = "lm_head_tied"
// GENERIC:       "strata.lm_head"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) : (tensor<2x16x64xf32>, tensor<1000x64xf32>) -> tensor<2x16x1000xf32>
// GENERIC:       "strata.cross_entropy"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{ignore_index = -100 : i64}> : (tensor<2x16x1000xf32>, tensor<2x16xi64>) -> tensor<f32>
func.func @lm_head_tied(%t: tensor<2x16xi64>) -> (tensor<2x16x1000xf32>, tensor<f32>) {
  %e = strata.param "embed.weight" : tensor<1000x64xf32>
  %h = strata.embedding %t, %e : tensor<2x16xi64>, tensor<1000x64xf32>
  %0 = strata.lm_head %h, %e : tensor<2x16x64xf32>, tensor<1000x64xf32>
  %1 = strata.cross_entropy %0, %t : tensor<2x16x1000xf32>, tensor<2x16xi64>
  return %0, %1 : tensor<2x16x1000xf32>, tensor<f32>
}

// Tests that lm_head accepts dynamic leading dims and a bf16 weight.
// CHECK-LABEL: func.func @lm_head_dynamic(
// CHECK:         strata.lm_head %{{.*}}, %{{.*}} : tensor<?x?x64xbf16>, tensor<32000x64xbf16>
// CHECK-NEXT:    return %{{.*}} : tensor<?x?x32000xbf16>
// GENERIC-LABEL: sym_name = "lm_head_dynamic"
// GENERIC:       "strata.lm_head"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) : (tensor<?x?x64xbf16>, tensor<32000x64xbf16>) -> tensor<?x?x32000xbf16>
func.func @lm_head_dynamic(%x: tensor<?x?x64xbf16>) -> tensor<?x?x32000xbf16> {
  %w = strata.param "lm_head.weight" : tensor<32000x64xbf16>
  %0 = strata.lm_head %x, %w : tensor<?x?x64xbf16>, tensor<32000x64xbf16>
  return %0 : tensor<?x?x32000xbf16>
}

// Tests that classification_head round-trips with last pooling and no bias, and with mean
// pooling and a bias, inferring [B, num_classes]; cross_entropy takes rank-1 labels.
// CHECK-LABEL: func.func @classification_head(
// CHECK-SAME:    %[[X:.*]]: tensor<?x?x64xf32>, %[[LBL:.*]]: tensor<?xi32>) -> (tensor<?x3xf32>, tensor<?x3xf32>, tensor<f32>)
// CHECK-NEXT:    %[[W:.*]] = strata.param "cls.weight" : tensor<3x64xf32>
// CHECK-NEXT:    %[[B:.*]] = strata.param "cls.bias" {init = #strata.init<zeros>} : tensor<3xf32>
// CHECK-NEXT:    %[[C0:.*]] = strata.classification_head %[[X]], %[[W]] : tensor<?x?x64xf32>, tensor<3x64xf32>
// CHECK-NEXT:    %[[C1:.*]] = strata.classification_head %[[X]], %[[W]], %[[B]] {pooling = #strata.pooling<mean>} : tensor<?x?x64xf32>, tensor<3x64xf32>, tensor<3xf32>
// CHECK-NEXT:    %[[XE:.*]] = strata.cross_entropy %[[C1]], %[[LBL]] {ignore_index = -1 : i64} : tensor<?x3xf32>, tensor<?xi32>
// CHECK-NEXT:    return %[[C0]], %[[C1]], %[[XE]] : tensor<?x3xf32>, tensor<?x3xf32>, tensor<f32>
// GENERIC-LABEL: sym_name = "classification_head"
// GENERIC:       "strata.classification_head"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{pooling = #strata.pooling<last>}> : (tensor<?x?x64xf32>, tensor<3x64xf32>) -> tensor<?x3xf32>
// GENERIC:       "strata.classification_head"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{pooling = #strata.pooling<mean>}> : (tensor<?x?x64xf32>, tensor<3x64xf32>, tensor<3xf32>) -> tensor<?x3xf32>
// GENERIC:       "strata.cross_entropy"(%{{[a-z0-9]+}}, %{{[a-z0-9]+}}) <{ignore_index = -1 : i64}> : (tensor<?x3xf32>, tensor<?xi32>) -> tensor<f32>
func.func @classification_head(%x: tensor<?x?x64xf32>, %labels: tensor<?xi32>) -> (tensor<?x3xf32>, tensor<?x3xf32>, tensor<f32>) {
  %w = strata.param "cls.weight" : tensor<3x64xf32>
  %b = strata.param "cls.bias" {init = #strata.init<zeros>} : tensor<3xf32>
  %0 = strata.classification_head %x, %w : tensor<?x?x64xf32>, tensor<3x64xf32>
  %1 = strata.classification_head %x, %w, %b {pooling = #strata.pooling<mean>} : tensor<?x?x64xf32>, tensor<3x64xf32>, tensor<3xf32>
  %2 = strata.cross_entropy %1, %labels {ignore_index = -1} : tensor<?x3xf32>, tensor<?xi32>
  return %0, %1, %2 : tensor<?x3xf32>, tensor<?x3xf32>, tensor<f32>
}

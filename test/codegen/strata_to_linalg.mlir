// RUN: strata-opt %s --strata-convert-to-linalg --split-input-file | FileCheck %s

// Tests that linear contracts the input's last dim with the [out, in] weight,
// accumulating into the broadcast bias.
// CHECK-DAG: #[[BIAS:.*]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[Y:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @linear
// CHECK:         %[[ACC:.*]] = linalg.generic {indexing_maps = [#[[BIAS]], #{{.*}}]{{.*}} ins(%{{.*}} : tensor<16xf32>)
// CHECK:         linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[Y]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<16x8xf32>) outs(%[[ACC]] : tensor<?x?x16xf32>)
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK-NOT:     strata.linear
func.func @linear(%x: tensor<?x?x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<?x?x16xf32> {
  %0 = strata.linear %x, %w, %b : tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<16xf32>
  return %0 : tensor<?x?x16xf32>
}

// -----

// Tests that rmsnorm is a sum-of-squares reduction over the last dim and a
// pointwise rescale by rsqrt(mean + eps) and the weight.
// CHECK-LABEL: func.func @rmsnorm
// CHECK:         linalg.fill
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:           math.rsqrt
func.func @rmsnorm(%x: tensor<2x?x8xf32>, %w: tensor<8xf32>) -> tensor<2x?x8xf32> {
  %0 = strata.rmsnorm %x, %w : tensor<2x?x8xf32>, tensor<8xf32>
  return %0 : tensor<2x?x8xf32>
}

// -----

// Tests that embedding gathers table rows with tensor.extract inside a
// generic, the row clamped to the table (unsigned, so negative ids too): in
// bounds whatever the token ids.
// CHECK-LABEL: func.func @embedding
// CHECK:         linalg.generic
// CHECK:           %[[ID:.*]] = arith.index_cast
// CHECK:           %[[ROW:.*]] = arith.minui %[[ID]], %c31
// CHECK:           %[[COL:.*]] = linalg.index 2
// CHECK:           tensor.extract %{{.*}}[%[[ROW]], %[[COL]]] : tensor<32x8xf32>
func.func @embedding(%t: tensor<?x?xi32>, %table: tensor<32x8xf32>) -> tensor<?x?x8xf32> {
  %0 = strata.embedding %t, %table : tensor<?x?xi32>, tensor<32x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// Tests that cross-entropy reads each label's logit with the label clamped
// to the vocabulary (an ignored label reads column 0).
// CHECK-LABEL: func.func @cross_entropy
// CHECK:         arith.cmpi eq
// CHECK:         %[[SAFE:.*]] = arith.select
// CHECK:         %[[LABEL:.*]] = arith.index_cast %[[SAFE]]
// CHECK:         %[[COL:.*]] = arith.minui %[[LABEL]], %c15
// CHECK:         tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %[[COL]]] : tensor<?x?x16xf32>
func.func @cross_entropy(%logits: tensor<?x?x16xf32>, %labels: tensor<?x?xi32>) -> tensor<f32> {
  %0 = strata.cross_entropy %logits, %labels : tensor<?x?x16xf32>, tensor<?x?xi32>
  return %0 : tensor<f32>
}

// -----

// Tests that dropout is the identity at inference and swiglu/gelu are pointwise.
// CHECK-LABEL: func.func @pointwise
// CHECK-NOT:     strata.
// CHECK:         linalg.generic
// CHECK:           math.exp
// CHECK:         linalg.generic
// CHECK:           math.erf
func.func @pointwise(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %d = strata.dropout %a {p = 0.1 : f64} : tensor<4x8xf32>
  %s = strata.swiglu %d, %b : tensor<4x8xf32>
  %g = strata.gelu %s : tensor<4x8xf32>
  return %g : tensor<4x8xf32>
}

// -----

// Tests that key padding ([B] counts of leading padding keys) joins the
// score mask: a key is kept when it is not padding (t >= pad[b]) or is the
// query's own position (so padding rows stay finite), and causally.
// CHECK-DAG:   #[[BATCH:.*]] = affine_map<(d0, d1, d2, d3) -> (d0)>
// CHECK-DAG:   #[[ID4:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @attention_key_padding(
// CHECK-SAME:    %{{.*}}: tensor<?x?x64xf32>, %{{.*}}: tensor<?x?x32xf32>, %[[PAD:.*]]: tensor<?xi32>)
// CHECK:         linalg.generic {indexing_maps = [#[[ID4]], #[[BATCH]], #[[ID4]]], {{.*}} ins(%{{.*}}, %[[PAD]] : tensor<?x4x?x?xf32>, tensor<?xi32>)
// CHECK:         ^bb0(%[[S:.*]]: f32, %[[P:.*]]: i32, %{{.*}}: f32):
// CHECK-DAG:       %[[QI:.*]] = linalg.index 2
// CHECK-DAG:       %[[T:.*]] = linalg.index 3
// CHECK:           %[[ALIGNED:.*]] = arith.addi %[[QI]]
// CHECK:           %[[FIRST:.*]] = arith.index_cast %[[P]] : i32 to index
// CHECK-DAG:       %[[SELF:.*]] = arith.cmpi eq, %[[T]], %[[ALIGNED]]
// CHECK-DAG:       %[[REAL:.*]] = arith.cmpi sge, %[[T]], %[[FIRST]]
// CHECK:           %[[KEEP:.*]] = arith.ori %[[REAL]], %[[SELF]]
// CHECK:           %[[CAUSAL:.*]] = arith.cmpi sle, %[[T]], %[[ALIGNED]]
// CHECK:           arith.andi %[[KEEP]], %[[CAUSAL]]
func.func @attention_key_padding(%q: tensor<?x?x64xf32>, %kv: tensor<?x?x32xf32>, %pad: tensor<?xi32>) -> tensor<?x?x64xf32> {
  %0 = strata.attention %q, %kv, %kv key_padding(%pad : tensor<?xi32>) {num_heads = 4, num_kv_heads = 2, head_dim = 16, v_head_dim = 16} : tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Tests that quantized_linear w8a16 contracts x with the int8 weight widened
// by sitofp (the form the CPU's register tiles take), then scales each
// output by its channel's scale and adds the bias.
// CHECK-LABEL: func.func @quantized_linear_w8a16
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x32xf32>, tensor<16x32xi8>)
// CHECK:           arith.sitofp %{{.*}} : i8 to f32
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]{{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>)
// CHECK:           %[[Y:.*]] = arith.mulf
// CHECK:           arith.addf %[[Y]]
func.func @quantized_linear_w8a16(%x: tensor<?x32xf32>, %w: tensor<16x32xi8>, %s: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<?x16xf32> {
  %y = strata.quantized_linear %x, %w, %s, %b {scheme = #strata.quant_scheme<w8a16>} : tensor<?x32xf32>, tensor<16x32xi8>, tensor<16xf32>, tensor<16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Tests that quantized_linear w8a8_dynamic takes each row's max |x|, divides
// it by 127 (1 for a zero row), rounds x / s_x half to even into int8,
// sums the int8 products in int32 and scales by s_x and the weight's scale.
// CHECK-LABEL: func.func @quantized_linear_dynamic
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK:           math.absf
// CHECK:           arith.maximumf
// CHECK:         linalg.generic
// CHECK:           arith.divf
// CHECK:           arith.select
// CHECK:         linalg.generic
// CHECK:           math.roundeven
// CHECK:           arith.fptosi %{{.*}} : f32 to i8
// CHECK:         linalg.fill ins(%{{.*}} : i32)
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           arith.extsi %{{.*}} : i8 to i32
// CHECK:           arith.extsi %{{.*}} : i8 to i32
// CHECK:           arith.muli
// CHECK:           arith.addi
// CHECK:         linalg.generic
// CHECK:           arith.sitofp %{{.*}} : i32 to f32
// CHECK:           arith.mulf
// CHECK:           arith.mulf
func.func @quantized_linear_dynamic(%x: tensor<?x32xf32>, %w: tensor<16x32xi8>, %s: tensor<16xf32>) -> tensor<?x16xf32> {
  %y = strata.quantized_linear %x, %w, %s {scheme = #strata.quant_scheme<w8a8_dynamic>} : tensor<?x32xf32>, tensor<16x32xi8>, tensor<16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Tests that quantized_linear w8a8 (static) rounds x with its calibrated
// scale and zero point to uint8 (clamped to [0, 255]) stored minus 128 as
// int8, sums the int8 products in int32, adds (128 - z) times the row's
// sum back — from the row sums parameter: W is read once, by the product
// — and scales by s_x and the weight's scale.
// CHECK-LABEL: func.func @quantized_linear_static
// CHECK:         linalg.generic
// CHECK:           arith.divf
// CHECK:           math.roundeven
// CHECK:           arith.addf
// CHECK:           arith.maximumf
// CHECK:           arith.minimumf
// CHECK:           arith.subf
// CHECK:           arith.fptosi %{{.*}} : f32 to i8
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           arith.extsi %{{.*}} : i8 to i32
// CHECK-NOT:     tensor<1x32xi8>
// CHECK:         linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[ROWSUMS:.*]] : tensor<?x16xi32>, tensor<16xf32>, tensor<1xf32>, tensor<1xf32>, tensor<16xi32>)
// CHECK:           arith.fptosi %{{.*}} : f32 to i32
// CHECK:           arith.subi
// CHECK:           arith.muli
// CHECK:           arith.addi
// CHECK:           arith.sitofp %{{.*}} : i32 to f32
// CHECK:           arith.mulf
// CHECK:           arith.mulf
func.func @quantized_linear_static(%x: tensor<?x32xf32>, %w: tensor<16x32xi8>, %s: tensor<16xf32>, %xs: tensor<1xf32>, %xz: tensor<1xf32>, %rs: tensor<16xi32>) -> tensor<?x16xf32> {
  %y = strata.quantized_linear %x, %w, %s input(%xs, %xz) row_sums(%rs) {scheme = #strata.quant_scheme<w8a8>} : tensor<?x32xf32>, tensor<16x32xi8>, tensor<16xf32> input tensor<1xf32>, tensor<1xf32> row_sums tensor<16xi32>
  return %y : tensor<?x16xf32>
}

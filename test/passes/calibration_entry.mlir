// RUN: strata-opt %s --strata-calibration-entry | FileCheck %s
// RUN: not strata-opt %s "--strata-calibration-entry=from=missing" 2>&1 | FileCheck %s --check-prefix=MISSING

// @calibrate is @forward returning what each w8a8 product quantizes,
// marked with the activation scale parameters it calibrates: the layer
// body is cloned once, returns its site once (q and k read one value:
// one result naming both parameters, bound by each call), and its w8a8
// products run as w8a16. Experts give their sorted rows and offsets, for
// gate's and down's parameters. The original functions stay as they are.

func.func private @body(%x: tensor<?x?x8xf32>, %q: tensor<8x8xi8>, %k: tensor<8x8xi8>, %qs: tensor<8xf32>, %ks: tensor<8xf32>, %qi: tensor<1xf32>, %qz: tensor<1xf32>, %ki: tensor<1xf32>, %kz: tensor<1xf32>, %qr: tensor<8xi32>, %kr: tensor<8xi32>) -> tensor<?x?x8xf32> {
  %a = strata.quantized_linear %x, %q, %qs input(%qi, %qz) row_sums(%qr) {scheme = #strata.quant_scheme<w8a8>} : tensor<?x?x8xf32>, tensor<8x8xi8>, tensor<8xf32> input tensor<1xf32>, tensor<1xf32> row_sums tensor<8xi32>
  %b = strata.quantized_linear %x, %k, %ks input(%ki, %kz) row_sums(%kr) {scheme = #strata.quant_scheme<w8a8>} : tensor<?x?x8xf32>, tensor<8x8xi8>, tensor<8xf32> input tensor<1xf32>, tensor<1xf32> row_sums tensor<8xi32>
  %c = strata.add %a, %b : tensor<?x?x8xf32>
  return %c : tensor<?x?x8xf32>
}

func.func @forward(%t: tensor<?x?xi32>, %w: tensor<?x?x2xf32>, %i: tensor<?x?x2xi32>) -> tensor<?x?x8xf32> {
  %e = strata.param "embed" : tensor<16x8xf32>
  %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
  %q0 = strata.param "l0.q.weight" {input_scale = "l0.q.input_scale", input_zero_point = "l0.q.input_zero_point", row_sums = "l0.q.weight_row_sums", scale = "l0.q.weight_scale"} : tensor<8x8xi8>
  %k0 = strata.param "l0.k.weight" {input_scale = "l0.k.input_scale", input_zero_point = "l0.k.input_zero_point", row_sums = "l0.k.weight_row_sums", scale = "l0.k.weight_scale"} : tensor<8x8xi8>
  %qr0 = strata.param "l0.q.weight_row_sums" : tensor<8xi32>
  %kr0 = strata.param "l0.k.weight_row_sums" : tensor<8xi32>
  %qs0 = strata.param "l0.q.weight_scale" : tensor<8xf32>
  %ks0 = strata.param "l0.k.weight_scale" : tensor<8xf32>
  %qi0 = strata.param "l0.q.input_scale" : tensor<1xf32>
  %qz0 = strata.param "l0.q.input_zero_point" : tensor<1xf32>
  %ki0 = strata.param "l0.k.input_scale" : tensor<1xf32>
  %kz0 = strata.param "l0.k.input_zero_point" : tensor<1xf32>
  %y0 = func.call @body(%x, %q0, %k0, %qs0, %ks0, %qi0, %qz0, %ki0, %kz0, %qr0, %kr0) : (tensor<?x?x8xf32>, tensor<8x8xi8>, tensor<8x8xi8>, tensor<8xf32>, tensor<8xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<8xi32>, tensor<8xi32>) -> tensor<?x?x8xf32>
  %g = strata.param "experts.gate_proj" {input_scale = "experts.gate_proj.input_scale", input_zero_point = "experts.gate_proj.input_zero_point", row_sums = "experts.gate_proj_row_sums", scale = "experts.gate_proj_scale"} : tensor<4x6x8xi8>
  %u = strata.param "experts.up_proj" {row_sums = "experts.up_proj_row_sums", scale = "experts.up_proj_scale"} : tensor<4x6x8xi8>
  %d = strata.param "experts.down_proj" {input_scale = "experts.down_proj.input_scale", input_zero_point = "experts.down_proj.input_zero_point", row_sums = "experts.down_proj_row_sums", scale = "experts.down_proj_scale"} : tensor<4x8x6xi8>
  %gs = strata.param "experts.gate_proj_scale" : tensor<4x6xf32>
  %us = strata.param "experts.up_proj_scale" : tensor<4x6xf32>
  %ds = strata.param "experts.down_proj_scale" : tensor<4x8xf32>
  %gi = strata.param "experts.gate_proj.input_scale" : tensor<4xf32>
  %gz = strata.param "experts.gate_proj.input_zero_point" : tensor<4xf32>
  %di = strata.param "experts.down_proj.input_scale" : tensor<4xf32>
  %dz = strata.param "experts.down_proj.input_zero_point" : tensor<4xf32>
  %gr = strata.param "experts.gate_proj_row_sums" : tensor<4x6xi32>
  %ur = strata.param "experts.up_proj_row_sums" : tensor<4x6xi32>
  %dr = strata.param "experts.down_proj_row_sums" : tensor<4x8xi32>
  %m = strata.quantized_moe_experts %y0, %w, %i experts(%g, %u, %d) scales(%gs, %us, %ds) inputs(%gi, %gz, %di, %dz) row_sums(%gr, %ur, %dr) {num_experts = 4 : i64, scheme = #strata.quant_scheme<w8a8>, top_k = 2 : i64} : tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x8x6xi8>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4x6xi32>, tensor<4x6xi32>, tensor<4x8xi32>
  return %m : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func private @body(
// CHECK-COUNT-2: {scheme = #strata.quant_scheme<w8a8>}
// CHECK-LABEL: func.func @forward(
// CHECK:         call @body(
// CHECK:         strata.quantized_moe_experts {{.*}} inputs(
// CHECK-LABEL: func.func @calibrate(
// CHECK-SAME:    %{{.*}}: tensor<?x?x2xi32>) -> (tensor<?x?x8xf32> {strata.param = "l0.q.input_scale", strata.params = ["l0.q.input_scale", "l0.k.input_scale"], strata.result = "activations"}, tensor<?x8xf32> {strata.param = "experts.gate_proj.input_scale", strata.params = ["experts.gate_proj.input_scale"], strata.result = "expert_rows"}, tensor<5xi32> {strata.param = "experts.gate_proj.input_scale", strata.params = ["experts.gate_proj.input_scale", "experts.down_proj.input_scale"], strata.result = "expert_offsets"}, tensor<?x6xf32> {strata.param = "experts.down_proj.input_scale", strata.params = ["experts.down_proj.input_scale"], strata.result = "expert_rows"})
// CHECK-SAME:    attributes {strata.calibration}
// CHECK:         %[[Y:.*]]:2 = call @body_calibrate(
// CHECK:         %[[ROWS:.*]], %[[HIDDEN:.*]], %[[OFFSETS:.*]] = strata.quantized_moe_expert_inputs %[[Y]]#0, %{{.*}} experts(%{{.*}}, %{{.*}}) scales(%{{.*}}, %{{.*}})
// CHECK:         strata.quantized_moe_experts {{.*}} {num_experts = 4 : i64, scheme = #strata.quant_scheme<w8a16>, top_k = 2 : i64}
// CHECK:         return %[[Y]]#1, %[[ROWS]], %[[OFFSETS]], %[[HIDDEN]]
// CHECK-LABEL: func.func private @body_calibrate(
// CHECK-SAME:    -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) attributes {strata.calibration}
// CHECK-COUNT-2: {scheme = #strata.quant_scheme<w8a16>}
// CHECK:         return %{{.*}}, %arg0

// MISSING: error: strata-calibration-entry: no function @missing to calibrate the w8a8 products from

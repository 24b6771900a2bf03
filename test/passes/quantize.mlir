// RUN: strata-opt %s --strata-quantize | FileCheck %s
// RUN: strata-opt %s "--strata-phase-quantize=quantize=w8a8_dynamic quantize-lm-head=true" | FileCheck %s --check-prefix=DYN
// RUN: strata-opt %s --strata-quantize=scheme=none | FileCheck %s --check-prefix=NONE
// RUN: not strata-opt %s --strata-quantize=scheme=w4a16 2>&1 | FileCheck %s --check-prefix=BAD

// Linear weights read only by linears become int8 with a scale parameter
// each, by name in every function and through the layer body's arguments:
// the body takes one scale argument per int8 weight argument (appended),
// and each call passes the scales of the weights it passes. "shared",
// which one caller passes a computed value, stays f32 with its linear;
// so do the norm, the embedding table, the bias (a linear's bias, not its
// weight), the MLP router gate (fc1 -> gelu -> fc2 -> router) and the LM
// head (unless lm-head); and "tied", read by the embedding too.

func.func private @body(%x: tensor<?x?x8xf32>, %w: tensor<16x8xf32>, %n: tensor<8xf32>, %v: tensor<8x16xf32>) -> tensor<?x?x8xf32> {
  %h = strata.rmsnorm %x, %n {eps = 1.0e-5} : tensor<?x?x8xf32>, tensor<8xf32>
  %a = strata.linear %h, %w : tensor<?x?x8xf32>, tensor<16x8xf32>
  %b = strata.linear %a, %v : tensor<?x?x16xf32>, tensor<8x16xf32>
  return %b : tensor<?x?x8xf32>
}

func.func @forward(%t: tensor<?x?xi32>) -> tensor<?x?x16xf32> {
  %e = strata.param "embed" : tensor<16x8xf32>
  %w = strata.param "w.weight" : tensor<16x8xf32>
  %n = strata.param "norm" : tensor<8xf32>
  %s = strata.param "shared" : tensor<8x16xf32>
  %o = strata.param "o.weight" : tensor<8x16xf32>
  %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
  %y = func.call @body(%x, %w, %n, %o) : (tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x?x8xf32>
  %c = strata.add %s, %s : tensor<8x16xf32>
  %y2 = func.call @body(%y, %w, %n, %c) : (tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<8xf32>, tensor<8x16xf32>) -> tensor<?x?x8xf32>
  %p = strata.param "proj.weight" : tensor<8x8xf32>
  %bias = strata.param "proj.bias" : tensor<8xf32>
  %y3 = strata.linear %y2, %p, %bias : tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<8xf32>
  %f1 = strata.param "gate.fc1.weight" : tensor<8x8xf32>
  %f2 = strata.param "gate.fc2.weight" : tensor<4x8xf32>
  %g1 = strata.linear %y3, %f1 : tensor<?x?x8xf32>, tensor<8x8xf32>
  %g2 = strata.gelu %g1 : tensor<?x?x8xf32>
  %logits = strata.linear %g2, %f2 : tensor<?x?x8xf32>, tensor<4x8xf32>
  %rw, %ri, %rs = strata.router %logits {num_experts = 4, top_k = 2} : tensor<?x?x4xf32>
  %head = strata.param "head" : tensor<16x8xf32>
  %z = strata.lm_head %y3, %head : tensor<?x?x8xf32>, tensor<16x8xf32>
  return %z : tensor<?x?x16xf32>
}

func.func @tied(%t: tensor<?x?xi32>) -> tensor<?x?x16xf32> {
  %e = strata.param "tied" : tensor<16x8xf32>
  %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
  %z = strata.linear %x, %e : tensor<?x?x8xf32>, tensor<16x8xf32>
  return %z : tensor<?x?x16xf32>
}

func.func @moe(%x: tensor<?x?x8xf32>, %w: tensor<?x?x2xf32>, %i: tensor<?x?x2xi32>) -> tensor<?x?x8xf32> {
  %g = strata.param "experts.gate_proj" : tensor<4x6x8xf32>
  %u = strata.param "experts.up_proj" : tensor<4x6x8xf32>
  %d = strata.param "experts.down_proj" : tensor<4x8x6xf32>
  %y = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 4, top_k = 2} : tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<4x6x8xf32>, tensor<4x6x8xf32>, tensor<4x8x6xf32>
  return %y : tensor<?x?x8xf32>
}

// CHECK-LABEL: func.func private @body(
// CHECK-SAME:    %[[X:.*]]: tensor<?x?x8xf32>, %[[W:.*]]: tensor<16x8xi8>, %{{.*}}: tensor<8xf32>, %[[V:.*]]: tensor<8x16xf32>, %[[WS:.*]]: tensor<16xf32>)
// CHECK:         strata.quantized_linear %{{.*}}, %[[W]], %[[WS]] {scheme = #strata.quant_scheme<w8a16>} : tensor<?x?x8xf32>, tensor<16x8xi8>, tensor<16xf32>
// CHECK:         strata.linear %{{.*}}, %[[V]] : tensor<?x?x16xf32>, tensor<8x16xf32>
// CHECK-LABEL: func.func @forward(
// CHECK:         strata.param "embed" : tensor<16x8xf32>
// CHECK-NEXT:    %[[PW:.*]] = strata.param "w.weight" {scale = "w.weight_scale"} : tensor<16x8xi8>
// CHECK-NEXT:    %[[PWS:.*]] = strata.param "w.weight_scale" {init = #strata.init<ones>, std = 0.000000e+00 : f64} : tensor<16xf32>
// CHECK-NEXT:    strata.param "norm" : tensor<8xf32>
// CHECK-NEXT:    strata.param "shared" : tensor<8x16xf32>
// CHECK-NEXT:    strata.param "o.weight" : tensor<8x16xf32>
// CHECK:         call @body(%{{.*}}, %[[PW]], %{{.*}}, %{{.*}}, %[[PWS]])
// CHECK:         call @body(%{{.*}}, %[[PW]], %{{.*}}, %{{.*}}, %[[PWS]])
// CHECK:         strata.param "proj.weight" {scale = "proj.weight_scale"} : tensor<8x8xi8>
// CHECK-NEXT:    %[[PS:.*]] = strata.param "proj.weight_scale"
// CHECK-NEXT:    strata.param "proj.bias" : tensor<8xf32>
// CHECK-NEXT:    strata.quantized_linear %{{.*}}, %{{.*}}, %[[PS]], %{{.*}} {scheme = #strata.quant_scheme<w8a16>} : tensor<?x?x8xf32>, tensor<8x8xi8>, tensor<8xf32>, tensor<8xf32>
// CHECK:         strata.param "gate.fc1.weight" : tensor<8x8xf32>
// CHECK-NEXT:    strata.param "gate.fc2.weight" : tensor<4x8xf32>
// CHECK:         strata.param "head" : tensor<16x8xf32>
// CHECK-NEXT:    strata.lm_head
// CHECK-LABEL: func.func @tied(
// CHECK:         strata.param "tied" : tensor<16x8xf32>
// CHECK-NOT:     quantized_linear

// The routed experts' stacked weights are int8 with [E, out] scales.
// CHECK-LABEL: func.func @moe(
// CHECK:         %[[G:.*]] = strata.param "experts.gate_proj" {scale = "experts.gate_proj_scale"} : tensor<4x6x8xi8>
// CHECK-NEXT:    %[[GS:.*]] = strata.param "experts.gate_proj_scale" {{.*}} : tensor<4x6xf32>
// CHECK:         %[[DS:.*]] = strata.param "experts.down_proj_scale" {{.*}} : tensor<4x8xf32>
// CHECK:         strata.quantized_moe_experts %{{.*}}, %{{.*}}, %{{.*}} experts(%[[G]], %{{.*}}, %{{.*}}) scales(%[[GS]], %{{.*}}, %[[DS]]) {num_experts = 4 : i64, scheme = #strata.quant_scheme<w8a16>, top_k = 2 : i64}

// DYN:      strata.quantized_linear {{.*}} {scheme = #strata.quant_scheme<w8a8_dynamic>}
// DYN:      strata.param "head" {scale = "head_scale"} : tensor<16x8xi8>
// DYN:      strata.quantized_linear {{.*}} {scheme = #strata.quant_scheme<w8a8_dynamic>} : tensor<?x?x8xf32>, tensor<16x8xi8>, tensor<16xf32>

// NONE-NOT: quantized_linear
// BAD: error: strata-quantize: scheme must be w8a16, w8a8_dynamic, w8a8 or none, got 'w4a16'

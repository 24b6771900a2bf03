// RUN: strata-opt %s --strata-narrow-weights | FileCheck %s
// RUN: strata-opt %s --strata-phase-quantize=weights-dtype=f16 | FileCheck %s --check-prefix=F16
// RUN: strata-opt %s --strata-narrow-weights=dtype=f32 | FileCheck %s --check-prefix=NONE
// RUN: not strata-opt %s --strata-narrow-weights=dtype=i8 2>&1 | FileCheck %s --check-prefix=BAD

// Weights read only as a matrix product's weight are stored in bf16, by
// name in every function and through the layer body's arguments: "w" (the
// body's linear) and "head". The norm's weight, the embedding table and
// the bias stay f32, and the router's gate; so does "shared", which a linear reads in @forward but
// a linear_backward in @grad; and the body's second weight argument, which
// one caller passes a computed f32 value.

func.func private @body(%x: tensor<?x?x8xf32>, %w: tensor<8x8xf32>, %n: tensor<8xf32>, %v: tensor<8x8xf32>) -> tensor<?x?x8xf32> {
  %h = strata.rmsnorm %x, %n {eps = 1.0e-5} : tensor<?x?x8xf32>, tensor<8xf32>
  %a = strata.linear %h, %w : tensor<?x?x8xf32>, tensor<8x8xf32>
  %b = strata.linear %a, %v : tensor<?x?x8xf32>, tensor<8x8xf32>
  return %b : tensor<?x?x8xf32>
}

func.func @forward(%t: tensor<?x?xi32>) -> tensor<?x?x16xf32> {
  %e = strata.param "embed" : tensor<16x8xf32>
  %w = strata.param "w" : tensor<8x8xf32>
  %n = strata.param "norm" : tensor<8xf32>
  %s = strata.param "shared" : tensor<8x8xf32>
  %bias = strata.param "bias" : tensor<8xf32>
  %head = strata.param "head" : tensor<16x8xf32>
  %x = strata.embedding %t, %e : tensor<?x?xi32>, tensor<16x8xf32>
  %y = func.call @body(%x, %w, %n, %s) : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %c = strata.add %s, %s : tensor<8x8xf32>
  %y2 = func.call @body(%y, %w, %n, %c) : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  %y3 = strata.linear %y2, %s, %bias : tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<8xf32>
  %z = strata.lm_head %y3, %head : tensor<?x?x8xf32>, tensor<16x8xf32>
  %g = strata.param "router_gate" : tensor<4x8xf32>
  %logits = strata.linear %y3, %g : tensor<?x?x8xf32>, tensor<4x8xf32>
  %rw, %ri, %rs = strata.router %logits {num_experts = 4, top_k = 2} : tensor<?x?x4xf32>
  return %z : tensor<?x?x16xf32>
}

func.func @grad(%x: tensor<?x?x8xf32>, %dy: tensor<?x?x8xf32>) -> tensor<8x8xf32> {
  %s = strata.param "shared" : tensor<8x8xf32>
  %dx, %dw = strata.linear_backward %x, %s, %dy : tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<?x?x8xf32> -> tensor<?x?x8xf32>, tensor<8x8xf32>
  return %dw : tensor<8x8xf32>
}

// CHECK-LABEL: func.func private @body(
// CHECK-SAME:    tensor<?x?x8xf32>, %{{.*}}: tensor<8x8xbf16>, %{{.*}}: tensor<8xf32>, %{{.*}}: tensor<8x8xf32>)
// CHECK:         strata.linear %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<8x8xbf16>
// CHECK:         strata.linear %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<8x8xf32>
// CHECK-LABEL: func.func @forward(
// CHECK:         strata.param "embed" : tensor<16x8xf32>
// CHECK-NEXT:    strata.param "w" : tensor<8x8xbf16>
// CHECK-NEXT:    strata.param "norm" : tensor<8xf32>
// CHECK-NEXT:    strata.param "shared" : tensor<8x8xf32>
// CHECK-NEXT:    strata.param "bias" : tensor<8xf32>
// CHECK-NEXT:    strata.param "head" : tensor<16x8xbf16>
// CHECK:         call @body({{.*}}) : (tensor<?x?x8xf32>, tensor<8x8xbf16>, tensor<8xf32>, tensor<8x8xf32>)
// CHECK:         strata.lm_head %{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<16x8xbf16>
// CHECK:         strata.param "router_gate" : tensor<4x8xf32>
// CHECK-LABEL: func.func @grad(
// CHECK:         strata.param "shared" : tensor<8x8xf32>

// F16: strata.param "w" : tensor<8x8xf16>
// NONE-NOT: bf16
// BAD: error: strata-narrow-weights: dtype must be bf16, f16 or f32, got 'i8'

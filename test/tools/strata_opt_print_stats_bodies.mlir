// Tests that strata-print-stats counts layer bodies through their calls:
// the module of strata_opt_print_stats.mlir with each layer a private
// function the entry point calls with its parameters (as the frontend
// emits them), and layer 0's body called twice, for layers.0 and layers.2.
// Each call is grouped by its own NameLoc and counts its own parameters.
// The entry point is not named forward: the first public function is
// measured, not the body printed before it.
// RUN: strata-opt %s --strata-print-stats -o /dev/null | FileCheck %s

// CHECK:      model bodies, forward FLOPs at a context of 2048 tokens
// CHECK-NEXT: layer params active params FLOPs/token
// CHECK-NEXT: embed 1600 1.60K 1600 1.60K 0
// CHECK-NEXT: layers.0 1072 1.07K 1072 1.07K 2160
// CHECK-NEXT: layers.1 1600 1.60K 448 448 1000
// CHECK-NEXT: layers.2 1072 1.07K 1072 1.07K 2160
// CHECK-NEXT: head 1600 1.60K 1600 1.60K 3200
// CHECK-NEXT: total 6944 6.94K 5792 5.79K 8520

module @bodies {
  func.func private @dense_layer(%x: tensor<2x8x16xf32>, %n: tensor<16xf32>, %w: tensor<32x16xf32>, %b: tensor<32xf32>, %w2: tensor<16x32xf32>) -> tensor<2x8x16xf32> {
    %h = strata.rmsnorm %x, %n : tensor<2x8x16xf32>, tensor<16xf32> loc("layer")
    %y = strata.linear %h, %w, %b : tensor<2x8x16xf32>, tensor<32x16xf32>, tensor<32xf32> loc("layer")
    %z = strata.linear %y, %w2 : tensor<2x8x32xf32>, tensor<16x32xf32> loc("layer")
    %r = strata.add %x, %z : tensor<2x8x16xf32> loc("layer")
    return %r : tensor<2x8x16xf32>
  }
  func.func private @moe_layer(%r: tensor<2x8x16xf32>, %gw: tensor<4x16xf32>, %eg: tensor<4x8x16xf32>, %eu: tensor<4x8x16xf32>, %ed: tensor<4x16x8xf32>) -> tensor<2x8x16xf32> {
    %logits = strata.linear %r, %gw : tensor<2x8x16xf32>, tensor<4x16xf32> loc("layer")
    %rw, %ri, %rs = strata.router %logits {num_experts = 4, top_k = 1} : tensor<2x8x4xf32> loc("layer")
    %m = strata.moe_experts %r, %rw, %ri experts(%eg, %eu, %ed) {num_experts = 4, top_k = 1} : tensor<2x8x16xf32>, tensor<2x8x1xf32>, tensor<2x8x1xi32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32> loc("layer")
    %r2 = strata.add %r, %m : tensor<2x8x16xf32> loc("layer")
    return %r2 : tensor<2x8x16xf32>
  }
  func.func @predict(%tok: tensor<2x8xi32>) -> tensor<2x8x100xf32> {
    %e = strata.param "embed.weight" : tensor<100x16xf32> loc("embed")
    %x = strata.embedding %tok, %e : tensor<2x8xi32>, tensor<100x16xf32> loc("embed")
    %n = strata.param "layers.0.norm.weight" {init = #strata.init<ones>} : tensor<16xf32> loc("layers.0")
    %w = strata.param "layers.0.proj.weight" : tensor<32x16xf32> loc("layers.0")
    %b = strata.param "layers.0.proj.bias" {init = #strata.init<zeros>} : tensor<32xf32> loc("layers.0")
    %w2 = strata.param "layers.0.down.weight" : tensor<16x32xf32> loc("layers.0")
    %r = func.call @dense_layer(%x, %n, %w, %b, %w2) : (tensor<2x8x16xf32>, tensor<16xf32>, tensor<32x16xf32>, tensor<32xf32>, tensor<16x32xf32>) -> tensor<2x8x16xf32> loc("layers.0")
    %gw = strata.param "layers.1.gate.weight" : tensor<4x16xf32> loc("layers.1")
    %eg = strata.param "layers.1.experts.gate_proj" : tensor<4x8x16xf32> loc("layers.1")
    %eu = strata.param "layers.1.experts.up_proj" : tensor<4x8x16xf32> loc("layers.1")
    %ed = strata.param "layers.1.experts.down_proj" : tensor<4x16x8xf32> loc("layers.1")
    %r2 = func.call @moe_layer(%r, %gw, %eg, %eu, %ed) : (tensor<2x8x16xf32>, tensor<4x16xf32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<2x8x16xf32> loc("layers.1")
    %n2 = strata.param "layers.2.norm.weight" {init = #strata.init<ones>} : tensor<16xf32> loc("layers.2")
    %w3 = strata.param "layers.2.proj.weight" : tensor<32x16xf32> loc("layers.2")
    %b3 = strata.param "layers.2.proj.bias" {init = #strata.init<zeros>} : tensor<32xf32> loc("layers.2")
    %w4 = strata.param "layers.2.down.weight" : tensor<16x32xf32> loc("layers.2")
    %r3 = func.call @dense_layer(%r2, %n2, %w3, %b3, %w4) : (tensor<2x8x16xf32>, tensor<16xf32>, tensor<32x16xf32>, tensor<32xf32>, tensor<16x32xf32>) -> tensor<2x8x16xf32> loc("layers.2")
    %lw = strata.param "lm_head.weight" : tensor<100x16xf32> loc("head")
    %l = strata.lm_head %r3, %lw : tensor<2x8x16xf32>, tensor<100x16xf32> loc("head")
    return %l : tensor<2x8x100xf32>
  }
}

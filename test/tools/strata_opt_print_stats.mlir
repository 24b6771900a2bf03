// Tests strata-opt --strata-print-stats on a small hand-written module: parameters,
// active parameters and forward FLOPs per token, grouped by each op's NameLoc, as JSON
// and as a table, leaving the IR unchanged. Hand count (d = 16, V = 100):
//   embed    table 100 x 16 = 1600 params, 0 FLOPs
//   layers.0 norm 16 + proj 32x16 + bias 32 + down 16x32 = 1072 params;
//            FLOPs rmsnorm 4 x 16 = 64, linear 2 x 32 x 16 + 32 = 1056,
//            linear 2 x 16 x 32 = 1024, add 16 -> 2160
//   layers.1 gate 4x16 = 64, 4 experts of 8 (gate, up 4x8x16, down 4x16x8 = 1536),
//            1 active: 384; FLOPs gate 128, router 4 x 4 = 16,
//            experts 1 x (6 x 16 x 8 + 5 x 8 + 2 x 16) = 840, add 16 -> 1000
//   head     lm_head 100 x 16 = 1600 params, 2 x 1600 = 3200 FLOPs
// RUN: strata-opt %s --strata-print-stats=json=true -o %t.mlir | FileCheck %s --check-prefix=JSON
// RUN: strata-opt %s --strata-print-stats="json=true context-length=7" -o /dev/null | FileCheck %s --check-prefix=CTX
// RUN: strata-opt %s --strata-print-stats -o /dev/null | FileCheck %s --check-prefix=TABLE
// The IR is unchanged by the pass.
// RUN: strata-opt %s -o %t.ref.mlir
// RUN: diff %t.mlir %t.ref.mlir
// A module without a function is an error.
// RUN: echo 'module {}' | not strata-opt --strata-print-stats 2>&1 | FileCheck %s --check-prefix=NOFUNC

// JSON:      {
// JSON-NEXT:   "context_length": 2048,
// JSON-NEXT:   "flops_per_token": 6360,
// JSON-NEXT:   "flops_per_token_dense_experts": 8880,
// JSON-NEXT:   "layers": [
// JSON-NEXT:     {
// JSON-NEXT:       "flops_per_token": 0,
// JSON-NEXT:       "name": "embed",
// JSON-NEXT:       "params": 1600,
// JSON-NEXT:       "params_active": 1600
// JSON-NEXT:     },
// JSON-NEXT:     {
// JSON-NEXT:       "flops_per_token": 2160,
// JSON-NEXT:       "name": "layers.0",
// JSON-NEXT:       "params": 1072,
// JSON-NEXT:       "params_active": 1072
// JSON-NEXT:     },
// JSON-NEXT:     {
// JSON-NEXT:       "flops_per_token": 1000,
// JSON-NEXT:       "name": "layers.1",
// JSON-NEXT:       "params": 1600,
// JSON-NEXT:       "params_active": 448
// JSON-NEXT:     },
// JSON-NEXT:     {
// JSON-NEXT:       "flops_per_token": 3200,
// JSON-NEXT:       "name": "head",
// JSON-NEXT:       "params": 1600,
// JSON-NEXT:       "params_active": 1600
// JSON-NEXT:     }
// JSON-NEXT:   ],
// JSON-NEXT:   "model": "hand",
// JSON-NEXT:   "params_active": 4720,
// JSON-NEXT:   "params_total": 5872
// JSON-NEXT: }

// No attention op: the context length changes nothing but the header.
// CTX:       "context_length": 7,
// CTX-NEXT:  "flops_per_token": 6360,
// CTX-NEXT:  "flops_per_token_dense_experts": 8880,

// TABLE:      model hand, forward FLOPs at a context of 2048 tokens
// TABLE-NEXT: layer params active params FLOPs/token
// TABLE-NEXT: embed 1600 1.60K 1600 1.60K 0
// TABLE-NEXT: layers.0 1072 1.07K 1072 1.07K 2160
// TABLE-NEXT: layers.1 1600 1.60K 448 448 1000
// TABLE-NEXT: head 1600 1.60K 1600 1.60K 3200
// TABLE-NEXT: total 5872 5.87K 4720 4.72K 6360

// NOFUNC: error: strata-print-stats: the module has no public function

module @hand {
  func.func @forward(%tok: tensor<2x8xi32>) -> tensor<2x8x100xf32> {
    %e = strata.param "embed.weight" : tensor<100x16xf32> loc("embed")
    %x = strata.embedding %tok, %e : tensor<2x8xi32>, tensor<100x16xf32> loc("embed")
    %n = strata.param "layers.0.norm.weight" {init = #strata.init<ones>} : tensor<16xf32> loc("layers.0")
    %h = strata.rmsnorm %x, %n : tensor<2x8x16xf32>, tensor<16xf32> loc("layers.0")
    %w = strata.param "layers.0.proj.weight" : tensor<32x16xf32> loc("layers.0")
    %b = strata.param "layers.0.proj.bias" {init = #strata.init<zeros>} : tensor<32xf32> loc("layers.0")
    %y = strata.linear %h, %w, %b : tensor<2x8x16xf32>, tensor<32x16xf32>, tensor<32xf32> loc("layers.0")
    %w2 = strata.param "layers.0.down.weight" : tensor<16x32xf32> loc("layers.0")
    %z = strata.linear %y, %w2 : tensor<2x8x32xf32>, tensor<16x32xf32> loc("layers.0")
    %r = strata.add %x, %z : tensor<2x8x16xf32> loc("layers.0")
    %gw = strata.param "layers.1.gate.weight" : tensor<4x16xf32> loc("layers.1")
    %logits = strata.linear %r, %gw : tensor<2x8x16xf32>, tensor<4x16xf32> loc("layers.1")
    %rw, %ri, %rs = strata.router %logits {num_experts = 4, top_k = 1} : tensor<2x8x4xf32> loc("layers.1")
    %eg = strata.param "layers.1.experts.gate_proj" : tensor<4x8x16xf32> loc("layers.1")
    %eu = strata.param "layers.1.experts.up_proj" : tensor<4x8x16xf32> loc("layers.1")
    %ed = strata.param "layers.1.experts.down_proj" : tensor<4x16x8xf32> loc("layers.1")
    %m = strata.moe_experts %r, %rw, %ri experts(%eg, %eu, %ed) {num_experts = 4, top_k = 1} : tensor<2x8x16xf32>, tensor<2x8x1xf32>, tensor<2x8x1xi32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32> loc("layers.1")
    %r2 = strata.add %r, %m : tensor<2x8x16xf32> loc("layers.1")
    %lw = strata.param "lm_head.weight" : tensor<100x16xf32> loc("head")
    %l = strata.lm_head %r2, %lw : tensor<2x8x16xf32>, tensor<100x16xf32> loc("head")
    return %l : tensor<2x8x100xf32>
  }
}

// Tests strata-print-stats{plan} on a one-layer MoE model under tp 2 x dp 4
// with ep 2 (8 ranks, one pipeline stage), inference: a prefill of
// max_tokens 8, a KV cache of max_batch_size 2 x context 6 = 12 tokens.
// Hand count, per rank:
//   embed 32x16 vocabulary-parallel: 256; layer: norm 16, q 16x16 / 2 = 128,
//   k and v 8x16 / 2 = 64 each, o 128 (heads 4 and KV heads 2 divide), the
//   router's gate 4x16 whole (64), experts 3 x 4x8x16 / (ep 2 x tp 2, each
//   expert's 8 intermediate features split) = 384; head: norm 16, lm_head
//   32x16 / 2 = 256. 1376 parameters, 5504 bytes (f32).
//   KV cache per token: (8 + 8) x 4 B / 2 = 32 B; x 12 tokens = 384 B.
//   Activations, the largest group's results per token: the layer's
//   norm 16, q 8, k 4, v 4, attention 8 (split), o 16, add 16, gate 4,
//   router 2 + 2 + 4, experts 16, add 16 = 116 x 4 B = 464 B; x 8 = 3712.
//   Total 5504 + 384 + 3712 = 9600.
//   tp all-reduces: the embedding's rows, o's product and the experts'
//   partial sums, 3 x 64 B x 8 tokens = 1536 B; the logits gathered: 128 B x 8 = 1024 B; the
//   experts' routing gathered over ep (top_k 2 weights and ids, 2 x 8 B x 8 = 128 B) and
//   their dispatch and combine: 2 x min(top_k 2, ep 2) x 64 B x 8 = 2048 B.
// RUN: strata-opt %s --strata-print-stats="plan=true json=true context-length=6" -o /dev/null | FileCheck %s
// RUN: strata-opt %s --strata-print-stats="plan=true context-length=6" -o /dev/null | FileCheck %s --check-prefix=TABLE

// CHECK:      "plan": {
// CHECK-NEXT:   "batch_size_given": false,
// CHECK-NEXT:   "dp": 4,
// CHECK-NEXT:   "ep": 2,
// CHECK-NEXT:   "kv_cache_tokens": 12,
// CHECK-NEXT:   "micro_batches_per_step": 1,
// CHECK-NEXT:   "mode": "inference",
// CHECK-NEXT:   "pp": 1,
// CHECK-NEXT:   "rank_kinds": [
// CHECK-NEXT:     {
// CHECK-NEXT:       "activation_bytes_per_micro_batch": 3712,
// CHECK-NEXT:       "communication_per_step": [
// CHECK-NEXT:         {
// CHECK-NEXT:           "axis": "tp",
// CHECK-NEXT:           "bytes": 1536,
// CHECK-NEXT:           "calls": 3,
// CHECK-NEXT:           "collective": "all_reduce"
// CHECK-NEXT:         },
// CHECK-NEXT:         {
// CHECK-NEXT:           "axis": "tp",
// CHECK-NEXT:           "bytes": 1024,
// CHECK-NEXT:           "calls": 1,
// CHECK-NEXT:           "collective": "all_gather"
// CHECK-NEXT:         },
// CHECK-NEXT:         {
// CHECK-NEXT:           "axis": "ep",
// CHECK-NEXT:           "bytes": 128,
// CHECK-NEXT:           "calls": 2,
// CHECK-NEXT:           "collective": "all_gather"
// CHECK-NEXT:         },
// CHECK-NEXT:         {
// CHECK-NEXT:           "axis": "ep",
// CHECK-NEXT:           "bytes": 2048,
// CHECK-NEXT:           "calls": 2,
// CHECK-NEXT:           "collective": "all_to_all"
// CHECK-NEXT:         }
// CHECK-NEXT:       ],
// CHECK-NEXT:       "gradient_bytes": 0,
// CHECK-NEXT:       "groups": [
// CHECK-NEXT:         "embed",
// CHECK-NEXT:         "layers.0",
// CHECK-NEXT:         "head"
// CHECK-NEXT:       ],
// CHECK-NEXT:       "kv_cache_bytes": 384,
// CHECK-NEXT:       "kv_cache_bytes_per_token": 32,
// CHECK-NEXT:       "micro_batches_in_flight": 1,
// CHECK-NEXT:       "optimizer_state_bytes": 0,
// CHECK-NEXT:       "params": 1376,
// CHECK-NEXT:       "ranks": 8,
// CHECK-NEXT:       "stage": 0,
// CHECK-NEXT:       "total_bytes": 9600,
// CHECK-NEXT:       "weight_bytes": 5504
// CHECK-NEXT:     }
// CHECK-NEXT:   ],
// CHECK-NEXT:   "recompute_layers": false,
// CHECK-NEXT:   "sequences_per_micro_batch": 1,
// CHECK-NEXT:   "tokens_per_micro_batch": 8,
// CHECK-NEXT:   "tp": 2,
// CHECK-NEXT:   "world_size": 8,
// CHECK-NEXT:   "zero_stage": 0
// CHECK-NEXT: }

// TABLE:      plan: tp 2 x pp 1 x dp 4 (ep 2 of dp) = 8 ranks; inference: a prefill of 8 tokens, a KV cache of 12 tokens
// TABLE-NEXT: stage 0 (8 ranks): embed, layers.0, head
// TABLE-NEXT:   parameters 1376
// TABLE-NEXT:   weights 5504 5.38 KiB
// TABLE-NEXT:   activations 3712 3.62 KiB
// TABLE-NEXT:   KV cache 384 384 B
// TABLE-NEXT:   KV cache per token 32 32 B
// TABLE-NEXT:   total 9600 9.38 KiB
// TABLE-NEXT:   communication per prefill (buffer bytes on each rank):
// TABLE-NEXT:     all_reduce on tp 3 calls 1536 1.50 KiB
// TABLE-NEXT:     all_gather on tp 1 calls 1024 1.00 KiB
// TABLE-NEXT:     all_gather on ep 2 calls 128 128 B
// TABLE-NEXT:     all_to_all on ep 2 calls 2048 2.00 KiB

module @moe attributes {strata.parallel = #strata.parallel<grid = @mesh, tp = 2, dp = 4, ep = 2>, strata.inference = #strata.inference<max_batch_size = 2, max_tokens = 8>} {
  shard.grid @mesh(shape = 1x2x2x2)
  func.func private @layer(%x: tensor<?x?x16xf32>, %n: tensor<16xf32>, %wq: tensor<16x16xf32>, %wk: tensor<8x16xf32>, %wv: tensor<8x16xf32>, %wo: tensor<16x16xf32>, %gw: tensor<4x16xf32>, %eg: tensor<4x8x16xf32>, %eu: tensor<4x8x16xf32>, %ed: tensor<4x16x8xf32>) -> tensor<?x?x16xf32> {
    %h = strata.rmsnorm %x, %n : tensor<?x?x16xf32>, tensor<16xf32>
    %q = strata.linear %h, %wq : tensor<?x?x16xf32>, tensor<16x16xf32>
    %k = strata.linear %h, %wk : tensor<?x?x16xf32>, tensor<8x16xf32>
    %v = strata.linear %h, %wv : tensor<?x?x16xf32>, tensor<8x16xf32>
    %a = strata.attention %q, %k, %v {head_dim = 4 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, v_head_dim = 4 : i64} : tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
    %o = strata.linear %a, %wo : tensor<?x?x16xf32>, tensor<16x16xf32>
    %r = strata.add %x, %o : tensor<?x?x16xf32>
    %logits = strata.linear %r, %gw : tensor<?x?x16xf32>, tensor<4x16xf32>
    %rw, %ri, %rs = strata.router %logits {num_experts = 4 : i64, top_k = 2 : i64} : tensor<?x?x4xf32>
    %m = strata.moe_experts %r, %rw, %ri experts(%eg, %eu, %ed) {num_experts = 4 : i64, top_k = 2 : i64} : tensor<?x?x16xf32>, tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>
    %y = strata.add %r, %m : tensor<?x?x16xf32>
    return %y : tensor<?x?x16xf32>
  }
  func.func @forward(%ids: tensor<?x?xi32>) -> tensor<?x?x32xf32> {
    %e = strata.param "embed" : tensor<32x16xf32> loc("embed")
    %x = strata.embedding %ids, %e : tensor<?x?xi32>, tensor<32x16xf32> loc("embed")
    %n = strata.param "n" : tensor<16xf32> loc("layers.0")
    %wq = strata.param "q" : tensor<16x16xf32> loc("layers.0")
    %wk = strata.param "k" : tensor<8x16xf32> loc("layers.0")
    %wv = strata.param "v" : tensor<8x16xf32> loc("layers.0")
    %wo = strata.param "o" : tensor<16x16xf32> loc("layers.0")
    %gw = strata.param "gate" : tensor<4x16xf32> loc("layers.0")
    %eg = strata.param "eg" : tensor<4x8x16xf32> loc("layers.0")
    %eu = strata.param "eu" : tensor<4x8x16xf32> loc("layers.0")
    %ed = strata.param "ed" : tensor<4x16x8xf32> loc("layers.0")
    %y = func.call @layer(%x, %n, %wq, %wk, %wv, %wo, %gw, %eg, %eu, %ed) : (tensor<?x?x16xf32>, tensor<16xf32>, tensor<16x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x16xf32>, tensor<4x16xf32>, tensor<4x8x16xf32>, tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<?x?x16xf32> loc("layers.0")
    %fn = strata.param "norm" : tensor<16xf32> loc("head")
    %f = strata.rmsnorm %y, %fn : tensor<?x?x16xf32>, tensor<16xf32> loc("head")
    %w = strata.param "lm_head" : tensor<32x16xf32> loc("head")
    %l = strata.lm_head %f, %w : tensor<?x?x16xf32>, tensor<32x16xf32> loc("head")
    return %l : tensor<?x?x32xf32>
  }
}

// The MoE benchmark kernel module: one Mixtral-style routed-expert layer
// over 4096 tokens (16 experts of width 512 on a 1024 model, top 2,
// renormalised), compiled like a model (strata-compile moe.mlir
// --target=cuda) and called with `strata-run call --entry moe`. Routing
// sorts the 8192 (token, slot) pairs by expert, so the expert projections
// are grouped GEMMs (strata_kernel.grouped_matmul) over each expert's rows.
func.func @moe() -> tensor<1x4096x1024xf32> {
  %x = strata.param "x" : tensor<1x4096x1024xf32>
  %gate = strata.param "gate" : tensor<16x1024xf32>
  %w1 = strata.param "w1" : tensor<16x512x1024xf32>
  %w3 = strata.param "w3" : tensor<16x512x1024xf32>
  %w2 = strata.param "w2" : tensor<16x1024x512xf32>
  %logits = strata.linear %x, %gate : tensor<1x4096x1024xf32>, tensor<16x1024xf32>
  %w, %i, %s = strata.router %logits {num_experts = 16, top_k = 2, norm_topk_prob = true} : tensor<1x4096x16xf32>
  %y = strata.moe_experts %x, %w, %i experts(%w1, %w3, %w2) {num_experts = 16, top_k = 2} : tensor<1x4096x1024xf32>, tensor<1x4096x2xf32>, tensor<1x4096x2xi32>, tensor<16x512x1024xf32>, tensor<16x512x1024xf32>, tensor<16x1024x512xf32>
  return %y : tensor<1x4096x1024xf32>
}

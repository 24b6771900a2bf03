// The attention benchmark kernel module: causal multi-head attention over
// one sequence of 4096 tokens, 8 heads of dimension 128, f32. Called with
// `strata-run call --entry attention`; compared with torch's
// scaled_dot_product_attention on the same shape.
func.func @attention() -> tensor<1x4096x1024xf32> {
  %q = strata.param "q" : tensor<1x4096x1024xf32>
  %k = strata.param "k" : tensor<1x4096x1024xf32>
  %v = strata.param "v" : tensor<1x4096x1024xf32>
  %r = strata.attention %q, %k, %v {num_heads = 8, num_kv_heads = 8, head_dim = 128, v_head_dim = 128}
      : tensor<1x4096x1024xf32>, tensor<1x4096x1024xf32>, tensor<1x4096x1024xf32>
  return %r : tensor<1x4096x1024xf32>
}

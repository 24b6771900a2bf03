// Kernel-module entry points (all operands are parameters) for
// kernel_module.test: an odd-sized GEMM and a small causal GQA attention.
func.func @gemm() -> tensor<33x45xf32> {
  %a = strata.param "a" : tensor<33x17xf32>
  %b = strata.param "b" : tensor<17x45xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<33x45xf32>
  %c = linalg.fill ins(%zero : f32) outs(%empty : tensor<33x45xf32>) -> tensor<33x45xf32>
  %r = linalg.matmul ins(%a, %b : tensor<33x17xf32>, tensor<17x45xf32>)
                     outs(%c : tensor<33x45xf32>) -> tensor<33x45xf32>
  return %r : tensor<33x45xf32>
}

func.func @attention() -> tensor<1x37x32xf32> {
  %q = strata.param "q" : tensor<1x37x32xf32>
  %k = strata.param "k" : tensor<1x37x16xf32>
  %v = strata.param "v" : tensor<1x37x16xf32>
  %r = strata.attention %q, %k, %v {num_heads = 4, num_kv_heads = 2, head_dim = 8, v_head_dim = 8}
      : tensor<1x37x32xf32>, tensor<1x37x16xf32>, tensor<1x37x16xf32>
  return %r : tensor<1x37x32xf32>
}

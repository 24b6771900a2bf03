// The GEMM benchmark kernel module: C[4096x4096] = A[4096x4096] B[4096x4096]
// in f32, compiled like a model (strata-compile gemm.mlir --target=cuda) and
// called with `strata-run call --entry gemm`. A and B are parameters, so
// they stay on the device between calls and only C is copied back.
func.func @gemm() -> tensor<4096x4096xf32> {
  %a = strata.param "a" : tensor<4096x4096xf32>
  %b = strata.param "b" : tensor<4096x4096xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<4096x4096xf32>
  %c = linalg.fill ins(%zero : f32) outs(%empty : tensor<4096x4096xf32>) -> tensor<4096x4096xf32>
  %r = linalg.matmul ins(%a, %b : tensor<4096x4096xf32>, tensor<4096x4096xf32>)
                     outs(%c : tensor<4096x4096xf32>) -> tensor<4096x4096xf32>
  return %r : tensor<4096x4096xf32>
}

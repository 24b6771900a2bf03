// strata.round as kernel-module entry points for round_vs_torch.test: the
// parameter "x" rounded to bf16 and to f16, kept in f32.
func.func @round_bf16() -> tensor<4096xf32> {
  %x = strata.param "x" : tensor<4096xf32>
  %r = strata.round %x to bf16 : tensor<4096xf32>
  return %r : tensor<4096xf32>
}

func.func @round_f16() -> tensor<4096xf32> {
  %x = strata.param "x" : tensor<4096xf32>
  %r = strata.round %x to f16 : tensor<4096xf32>
  return %r : tensor<4096xf32>
}

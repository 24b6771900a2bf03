// Matrix products whose weights strata-compile --weights-dtype stores
// narrow, for narrow_weights.test: a linear with a bias whose sizes fit the
// CPU's register tiles, one with an odd reduction (the generic loops), and
// an LM head. The inputs are parameters too, but read as inputs they stay
// f32.
func.func @linear() -> tensor<2x37x64xf32> {
  %x = strata.param "x" : tensor<2x37x96xf32>
  %w = strata.param "w" : tensor<64x96xf32>
  %b = strata.param "b" : tensor<64xf32>
  %y = strata.linear %x, %w, %b : tensor<2x37x96xf32>, tensor<64x96xf32>, tensor<64xf32>
  return %y : tensor<2x37x64xf32>
}

func.func @linear_odd() -> tensor<5x33xf32> {
  %x = strata.param "x_odd" : tensor<5x17xf32>
  %w = strata.param "w_odd" : tensor<33x17xf32>
  %y = strata.linear %x, %w : tensor<5x17xf32>, tensor<33x17xf32>
  return %y : tensor<5x33xf32>
}

func.func @lm_head() -> tensor<1x9x48xf32> {
  %x = strata.param "h" : tensor<1x9x32xf32>
  %w = strata.param "head" : tensor<48x32xf32>
  %y = strata.lm_head %x, %w : tensor<1x9x32xf32>, tensor<48x32xf32>
  return %y : tensor<1x9x48xf32>
}

// The int8 GEMM benchmark kernel module: y[4096x4096] = x[4096x4096] Wᵀ as
// --quantize=w8a8-dynamic runs a linear layer: each row of x quantized to
// int8 on the fly (s_x = max|x| / 127), int8 x int8 products summed in
// int32 (s8 mma.sync m16n8k32 with --tensor-cores), dequantized by s_x and
// W's per-channel scale in the epilogue. Called with
// `strata-run call --entry gemm_int8` (W and its scales are parameters and
// stay on the device; the runtime quantizes the seeded f32 draw of W).
func.func @gemm_int8() -> tensor<1x4096x4096xf32> {
  %x = strata.param "x" : tensor<1x4096x4096xf32>
  %w = strata.param "w" {scale = "w_scale"} : tensor<4096x4096xi8>
  %s = strata.param "w_scale" : tensor<4096xf32>
  %y = strata.quantized_linear %x, %w, %s {scheme = #strata.quant_scheme<w8a8_dynamic>}
      : tensor<1x4096x4096xf32>, tensor<4096x4096xi8>, tensor<4096xf32>
  return %y : tensor<1x4096x4096xf32>
}

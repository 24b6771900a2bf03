// A kernel module whose one result is 4 MiB (a copy of its 1024x1024
// parameter), for run_output_file.test: its --output is larger than the
// file-size limit the test sets, its kernel library is not.
func.func @copy() -> tensor<1024x1024xf32> {
  %w = strata.param "w" : tensor<1024x1024xf32>
  %empty = tensor.empty() : tensor<1024x1024xf32>
  %r = linalg.copy ins(%w : tensor<1024x1024xf32>) outs(%empty : tensor<1024x1024xf32>) -> tensor<1024x1024xf32>
  return %r : tensor<1024x1024xf32>
}

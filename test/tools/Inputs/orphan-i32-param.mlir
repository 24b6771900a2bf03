// An i32 parameter no int8 weight names as its row sums (see
// test/tools/orphan_row_sums.test).
func.func @sums() -> tensor<4xi32> {
  %p = strata.param "orphan" : tensor<4xi32>
  return %p : tensor<4xi32>
}

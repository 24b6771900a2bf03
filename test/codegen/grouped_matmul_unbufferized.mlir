// RUN: not strata-opt %s --strata-grouped-matmul-loops 2>&1 | FileCheck %s --check-prefix=LOOPS
// RUN: not strata-opt %s --strata-grouped-matmul-kernels 2>&1 | FileCheck %s --check-prefix=KERNELS

// Tests that both targets' lowerings of strata.grouped_matmul name
// themselves when the op has not been bufferized.
// LOOPS: error: 'strata.grouped_matmul' op must be bufferized before strata-grouped-matmul-loops
// KERNELS: error: 'strata.grouped_matmul' op must be bufferized before strata-grouped-matmul-kernels
func.func @on_tensors(%rows: tensor<?x8xf32>, %w: tensor<2x4x8xf32>, %off: tensor<3xi32>, %out: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = strata.grouped_matmul %rows, %w groups(%off) into %out : tensor<?x8xf32>, tensor<2x4x8xf32>, tensor<3xi32>, tensor<?x4xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

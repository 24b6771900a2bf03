// RUN: not strata-opt %s --strata-grouped-matmul-loops 2>&1 | FileCheck %s --check-prefix=GMM-LOOPS
// RUN: not strata-opt %s --strata-grouped-matmul-kernels 2>&1 | FileCheck %s --check-prefix=GMM-KERNELS
// RUN: not strata-opt %s --strata-expert-sort-loops 2>&1 | FileCheck %s --check-prefix=SORT-LOOPS
// RUN: not strata-opt %s --strata-expert-sort-kernel 2>&1 | FileCheck %s --check-prefix=SORT-KERNEL

// Tests that both targets' lowerings of the MoE kernel-level ops
// (strata_kernel.grouped_matmul, strata_kernel.expert_sort) name themselves when the op
// has not been bufferized.
// GMM-LOOPS: error: 'strata_kernel.grouped_matmul' op must be bufferized before strata-grouped-matmul-loops
// GMM-KERNELS: error: 'strata_kernel.grouped_matmul' op must be bufferized before strata-grouped-matmul-kernels
// SORT-LOOPS: error: 'strata_kernel.expert_sort' op must be bufferized before strata-expert-sort-loops
// SORT-KERNEL: error: 'strata_kernel.expert_sort' op must be bufferized before strata-expert-sort-kernel
func.func @on_tensors(%rows: tensor<?x8xf32>, %w: tensor<2x4x8xf32>, %out: tensor<?x4xf32>, %idx: tensor<?xi32>, %order: tensor<?xi32>, %position: tensor<?xi32>) -> tensor<?x4xf32> {
  %init = tensor.empty() : tensor<3xi32>
  %s:3 = strata_kernel.expert_sort %idx into %init, %order, %position {num_experts = 2} : tensor<?xi32>, tensor<3xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<3xi32>, tensor<?xi32>, tensor<?xi32>
  %0 = strata_kernel.grouped_matmul %rows, %w groups(%s#0) into %out : tensor<?x8xf32>, tensor<2x4x8xf32>, tensor<3xi32>, tensor<?x4xf32> -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

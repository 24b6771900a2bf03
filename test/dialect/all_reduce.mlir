// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s
// RUN: strata-opt %s --one-shot-bufferize=bufferize-function-boundaries | FileCheck %s --check-prefix=BUF

// Tests that the tensor-parallel sum round-trips on tensors (returning the
// sum) and on buffers (in place, no result).
// CHECK-LABEL: func.func @sum_tensor(
// CHECK:         %[[R:.*]] = strata_kernel.all_reduce %{{.*}} : tensor<?x16xf32> -> tensor<?x16xf32>
// CHECK:         return %[[R]]
func.func @sum_tensor(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %0 = strata_kernel.all_reduce %x : tensor<?x16xf32> -> tensor<?x16xf32>
  return %0 : tensor<?x16xf32>
}

// CHECK-LABEL: func.func @sum_buffer(
// CHECK:         strata_kernel.all_reduce %{{.*}} : memref<2x3xf32>
func.func @sum_buffer(%m: memref<2x3xf32>) {
  strata_kernel.all_reduce %m : memref<2x3xf32>
  return
}

// Tests that bufferization sums the argument's buffer in place when it is
// not read again, and a copy when it is (the op reads its init).
// BUF-LABEL: func.func @sum_tensor(
// BUF-SAME:    %[[X:.*]]: memref<?x16xf32
// BUF:         strata_kernel.all_reduce %[[X]]
// BUF-LABEL: func.func @sum_kept(
// BUF:         memref.alloc
// BUF:         memref.copy
// BUF:         strata_kernel.all_reduce
func.func @sum_kept(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = strata_kernel.all_reduce %x : tensor<4xf32> -> tensor<4xf32>
  return %0, %x : tensor<4xf32>, tensor<4xf32>
}

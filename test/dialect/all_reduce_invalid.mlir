// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that the sum returns its init's type on tensors (allreduce_c1).
func.func @sum_no_result(%x: tensor<4xf32>) {
  // expected-error @+1 {{'strata_kernel.all_reduce' op allreduce_c1: expected 1 result(s) of init's type 'tensor<4xf32>'}}
  strata_kernel.all_reduce %x : tensor<4xf32>
  return
}

// -----

// Tests that a buffer's sum returns nothing (allreduce_c1).
func.func @sum_buffer_result(%m: memref<4xf32>) {
  // expected-error @+1 {{'strata_kernel.all_reduce' op allreduce_c1: expected 0 result(s) of init's type 'memref<4xf32>'}}
  %0 = strata_kernel.all_reduce %m : memref<4xf32> -> tensor<4xf32>
  return
}

// -----

// Tests that only f32 is summed.
func.func @sum_i32(%x: tensor<4xi32>) -> tensor<4xi32> {
  // expected-error @+1 {{operand #0 must be Tensor or MemRef of 32-bit float values, but got 'tensor<4xi32>'}}
  %0 = strata_kernel.all_reduce %x : tensor<4xi32> -> tensor<4xi32>
  return %0 : tensor<4xi32>
}

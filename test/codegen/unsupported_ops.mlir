// RUN: strata-opt %s --strata-convert-to-linalg -verify-diagnostics
// RUN: strata-opt %s --strata-convert-to-linalg=allow-partial=true | FileCheck %s

// Tests that an op without a lowering yet is an error at the op, and that
// allow-partial leaves it in place while lowering its neighbours.
// CHECK-LABEL: func.func @attention
// CHECK:         strata.attention
// CHECK-NOT:     strata.add
func.func @attention(%q: tensor<1x4x32xf32>, %k: tensor<1x4x16xf32>) -> tensor<1x4x32xf32> {
  // expected-error @+1 {{'strata.attention' op has no lowering to linalg yet}}
  %0 = strata.attention %q, %k, %k {num_heads = 4, num_kv_heads = 2, head_dim = 8, v_head_dim = 8} : tensor<1x4x32xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>
  %1 = strata.add %0, %q : tensor<1x4x32xf32>
  return %1 : tensor<1x4x32xf32>
}

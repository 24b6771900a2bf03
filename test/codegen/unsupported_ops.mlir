// RUN: strata-opt %s --strata-convert-to-linalg -verify-diagnostics
// RUN: strata-opt %s --strata-convert-to-linalg=allow-partial=true | FileCheck %s

// Tests that an op without a lowering yet (attention in bf16: this lowering
// computes in f32 only) is an error at the op, counted once per kind, and
// that allow-partial leaves it in place while lowering its neighbours.
// CHECK-LABEL: func.func @narrow
// CHECK:         strata.attention
// CHECK-NOT:     strata.add
func.func @narrow(%q: tensor<1x4x32xbf16>, %k: tensor<1x4x16xbf16>, %x: tensor<1x4x32xf32>) -> (tensor<1x4x32xbf16>, tensor<1x4x32xbf16>, tensor<1x4x32xf32>) {
  // expected-error @+1 {{'strata.attention' op has no lowering to linalg yet (element type or op not supported by this target); 2 such ops in the module}}
  %0 = strata.attention %q, %k, %k {num_heads = 4, num_kv_heads = 2, head_dim = 8, v_head_dim = 8} : tensor<1x4x32xbf16>, tensor<1x4x16xbf16>, tensor<1x4x16xbf16>
  %1 = strata.attention %q, %k, %k {num_heads = 4, num_kv_heads = 2, head_dim = 8, v_head_dim = 8} : tensor<1x4x32xbf16>, tensor<1x4x16xbf16>, tensor<1x4x16xbf16>
  %2 = strata.add %x, %x : tensor<1x4x32xf32>
  return %0, %1, %2 : tensor<1x4x32xbf16>, tensor<1x4x32xbf16>, tensor<1x4x32xf32>
}

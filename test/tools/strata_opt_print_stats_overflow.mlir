// RUN: strata-opt %s --split-input-file --strata-print-stats --verify-diagnostics -o /dev/null
// RUN: not strata-opt %s --split-input-file --strata-print-stats=json=true -o /dev/null 2>/dev/null | FileCheck %s --allow-empty --check-prefix=NOSTATS

// Tests that --strata-print-stats reports counts past 2^63 - 1 as an error
// at the parameter that overflows, instead of wrapping (a 2^64-element
// tensor used to count 0 parameters) or printing saturated numbers.
// NOSTATS-NOT: params

// 2^32 x 2^32 = 2^64 elements in one tensor.
func.func @forward(%x: tensor<?x?x4294967296xf32>) -> tensor<?x?x4294967296xf32> {
  // expected-error @+1 {{parameter or FLOP count exceeds 2^63 - 1; no statistics printed}}
  %w = strata.param "w" : tensor<4294967296x4294967296xf32>
  %y = strata.linear %x, %w : tensor<?x?x4294967296xf32>, tensor<4294967296x4294967296xf32>
  return %y : tensor<?x?x4294967296xf32>
}

// -----

// Two tensors of 2^62 elements each: the sum overflows at the second.
func.func @forward(%x: tensor<?x?x2147483648xf32>) -> tensor<?x?x2147483648xf32> {
  %a = strata.param "a" : tensor<2147483648x2147483648xf32>
  // expected-error @+1 {{parameter or FLOP count exceeds 2^63 - 1}}
  %b = strata.param "b" : tensor<2147483648x2147483648xf32>
  %y = strata.linear %x, %a : tensor<?x?x2147483648xf32>, tensor<2147483648x2147483648xf32>
  %z = strata.linear %y, %b : tensor<?x?x2147483648xf32>, tensor<2147483648x2147483648xf32>
  return %z : tensor<?x?x2147483648xf32>
}

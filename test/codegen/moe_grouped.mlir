// RUN: strata-opt %s --strata-convert-to-linalg=group-experts | FileCheck %s
// RUN: strata-opt %s --strata-convert-to-linalg | FileCheck %s --check-prefix=GATHER

// Tests the grouped form of routed experts (what both targets compile):
// strata_kernel.expert_sort counting-sorts the (token, slot) pairs (idx collapsed
// to pair order) by expert into E + 1 offsets, the sorted rows' pairs
// (order) and each pair's row (position); the pairs' inputs are gathered
// into one [N*K, D] matrix; strata_kernel.grouped_matmul runs gate, up and down
// on each expert's contiguous rows with that expert's weights, SiLU·up
// between them; a last gather weights each token's K rows.
// CHECK-LABEL: func.func @experts(
// CHECK-SAME:    %[[X:.*]]: tensor<?x?x32xf32>, %[[W:.*]]: tensor<?x?x2xf32>, %[[I:.*]]: tensor<?x?x2xi32>, %[[GW:.*]]: tensor<8x48x32xf32>, %[[UW:.*]]: tensor<8x48x32xf32>, %[[DW:.*]]: tensor<8x32x48xf32>
// the sort
// CHECK:         %[[FLAT:.*]] = tensor.collapse_shape %[[I]] {{\[\[}}0, 1, 2]] : tensor<?x?x2xi32> into tensor<?xi32>
// CHECK:         %[[SORT:.*]]:3 = strata_kernel.expert_sort %[[FLAT]] into %{{.*}}, %{{.*}}, %{{.*}} {num_experts = 8 : i64} : tensor<?xi32>, tensor<9xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<9xi32>, tensor<?xi32>, tensor<?xi32>
// CHECK-NOT:     scf.for
// gather of the rows
// CHECK:         %[[ROWS:.*]] = linalg.generic {{.*}} ins(%[[SORT]]#1 : tensor<?xi32>) outs(%{{.*}} : tensor<?x32xf32>)
// CHECK:           tensor.extract %[[X]]
// the experts
// CHECK-NOT:     scf.for
// CHECK:         %[[GATE:.*]] = strata_kernel.grouped_matmul %[[ROWS]], %[[GW]] groups(%[[SORT]]#0) into %{{.*}} : tensor<?x32xf32>, tensor<8x48x32xf32>, tensor<9xi32>, tensor<?x48xf32> -> tensor<?x48xf32>
// CHECK:         %[[UP:.*]] = strata_kernel.grouped_matmul %[[ROWS]], %[[UW]] groups(%[[SORT]]#0)
// CHECK:         %[[ACT:.*]] = linalg.generic {{.*}} ins(%[[GATE]], %[[UP]] : tensor<?x48xf32>, tensor<?x48xf32>)
// CHECK:           math.exp
// CHECK:         %[[OUT:.*]] = strata_kernel.grouped_matmul %[[ACT]], %[[DW]] groups(%[[SORT]]#0) into %{{.*}} : tensor<?x48xf32>, tensor<8x32x48xf32>, tensor<9xi32>, tensor<?x32xf32> -> tensor<?x32xf32>
// the weighted sum over each token's slots
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[W]] : tensor<?x?x2xf32>)
// CHECK:           tensor.extract %[[SORT]]#2
// CHECK:           tensor.extract %[[OUT]]
//
// Without grouping, each pair gathers its expert's weights in the
// contraction, the expert id clamped to [0, E).
// GATHER-LABEL: func.func @experts(
// GATHER-NOT:     scf.for
// GATHER:         linalg.generic
// GATHER:           %[[E:.*]] = arith.index_cast
// GATHER:           %[[EC:.*]] = arith.minui %[[E]], %c7
// GATHER:           tensor.extract %{{.*}}[%[[EC]],
func.func @experts(%x: tensor<?x?x32xf32>, %w: tensor<?x?x2xf32>, %i: tensor<?x?x2xi32>, %g: tensor<8x48x32xf32>, %u: tensor<8x48x32xf32>, %d: tensor<8x32x48xf32>) -> tensor<?x?x32xf32> {
  %y = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<?x?x32xf32>, tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return %y : tensor<?x?x32xf32>
}

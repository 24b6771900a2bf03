// RUN: strata-opt %s --strata-convert-to-linalg=group-experts | FileCheck %s
// RUN: strata-opt %s --strata-convert-to-linalg | FileCheck %s --check-prefix=GATHER

// Tests the grouped form of routed experts (what both targets compile):
// the (token, slot) pairs are counted per expert, given first rows by an
// exclusive prefix sum (E + 1 offsets, the last one N*K) and
// counting-sorted (stable, in pair order); their inputs are gathered into
// one [N*K, D] matrix; strata.grouped_matmul runs gate, up and down on
// each expert's contiguous rows with that expert's weights, SiLU·up
// between them; a last gather weights each token's K rows.
// CHECK-LABEL: func.func @experts(
// CHECK-SAME:    %[[X:.*]]: tensor<?x?x32xf32>, %[[W:.*]]: tensor<?x?x2xf32>, %[[I:.*]]: tensor<?x?x2xi32>, %[[GW:.*]]: tensor<8x48x32xf32>, %[[UW:.*]]: tensor<8x48x32xf32>, %[[DW:.*]]: tensor<8x32x48xf32>
// counts, then offsets
// CHECK:         %[[COUNTS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "reduction", "reduction"]} ins(%[[I]] : tensor<?x?x2xi32>) outs(%{{.*}} : tensor<8xi32>)
// CHECK:         %[[OFFSETS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[COUNTS]] : tensor<8xi32>) outs(%{{.*}} : tensor<9xi32>)
// CHECK:           arith.cmpi ult
// the sort
// CHECK:         %[[SORT:.*]]:3 = scf.for %{{.*}} iter_args(%{{.*}} = %[[OFFSETS]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<9xi32>, tensor<?xi32>, tensor<?xi32>)
// CHECK:           tensor.extract %[[I]]
// CHECK-COUNT-3:   tensor.insert
// gather of the rows
// CHECK:         %[[ROWS:.*]] = linalg.generic {{.*}} ins(%[[SORT]]#1 : tensor<?xi32>) outs(%{{.*}} : tensor<?x32xf32>)
// CHECK:           tensor.extract %[[X]]
// the experts
// CHECK-NOT:     scf.for
// CHECK:         %[[GATE:.*]] = strata.grouped_matmul %[[ROWS]], %[[GW]] groups(%[[OFFSETS]]) into %{{.*}} : tensor<?x32xf32>, tensor<8x48x32xf32>, tensor<9xi32>, tensor<?x48xf32> -> tensor<?x48xf32>
// CHECK:         %[[UP:.*]] = strata.grouped_matmul %[[ROWS]], %[[UW]] groups(%[[OFFSETS]])
// CHECK:         %[[ACT:.*]] = linalg.generic {{.*}} ins(%[[GATE]], %[[UP]] : tensor<?x48xf32>, tensor<?x48xf32>)
// CHECK:           math.exp
// CHECK:         %[[OUT:.*]] = strata.grouped_matmul %[[ACT]], %[[DW]] groups(%[[OFFSETS]]) into %{{.*}} : tensor<?x48xf32>, tensor<8x32x48xf32>, tensor<9xi32>, tensor<?x32xf32> -> tensor<?x32xf32>
// the weighted sum over each token's slots
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[W]] : tensor<?x?x2xf32>)
// CHECK:           tensor.extract %[[SORT]]#2
// CHECK:           tensor.extract %[[OUT]]
//
// Without grouping, each pair gathers its expert's weights in the
// contraction.
// GATHER-LABEL: func.func @experts(
// GATHER-NOT:     scf.for
// GATHER:         linalg.generic
// GATHER:           tensor.extract
func.func @experts(%x: tensor<?x?x32xf32>, %w: tensor<?x?x2xf32>, %i: tensor<?x?x2xi32>, %g: tensor<8x48x32xf32>, %u: tensor<8x48x32xf32>, %d: tensor<8x32x48xf32>) -> tensor<?x?x32xf32> {
  %y = strata.moe_experts %x, %w, %i experts(%g, %u, %d) {num_experts = 8, top_k = 2} : tensor<?x?x32xf32>, tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return %y : tensor<?x?x32xf32>
}

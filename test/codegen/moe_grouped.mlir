// RUN: strata-opt %s --strata-convert-to-linalg=group-experts | FileCheck %s
// RUN: strata-opt %s --strata-convert-to-linalg | FileCheck %s --check-prefix=GATHER

// Tests the grouped form of routed experts (the CPU's): the (token, slot)
// pairs are counted per expert, given first rows by an exclusive prefix sum
// and counting-sorted (stable, in pair order); their inputs are gathered
// into one [N*K, D] matrix; a loop over the experts runs gate, up, SiLU and
// down as GEMMs on each expert's contiguous rows with that expert's
// weights; a last gather weights each token's K rows.
// CHECK-LABEL: func.func @experts(
// CHECK-SAME:    %[[X:.*]]: tensor<?x?x32xf32>, %[[W:.*]]: tensor<?x?x2xf32>, %[[I:.*]]: tensor<?x?x2xi32>
// counts, then offsets
// CHECK:         %[[COUNTS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "reduction", "reduction"]} ins(%[[I]] : tensor<?x?x2xi32>) outs(%{{.*}} : tensor<8xi32>)
// CHECK:         %[[OFFSETS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[COUNTS]] : tensor<8xi32>) outs(%{{.*}} : tensor<8xi32>)
// CHECK:           arith.cmpi ult
// the sort
// CHECK:         %[[SORT:.*]]:3 = scf.for %{{.*}} iter_args(%{{.*}} = %[[OFFSETS]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<8xi32>, tensor<?xi32>, tensor<?xi32>)
// CHECK:           tensor.extract %[[I]]
// CHECK-COUNT-3:   tensor.insert
// gather of the rows
// CHECK:         %[[ROWS:.*]] = linalg.generic {{.*}} ins(%[[SORT]]#1 : tensor<?xi32>) outs(%{{.*}} : tensor<?x32xf32>)
// CHECK:           tensor.extract %[[X]]
// the experts
// CHECK:         %[[OUT:.*]] = scf.for %[[E:.*]] = %{{.*}} to %c8 step %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (tensor<?x32xf32>)
// CHECK:           %[[START:.*]] = tensor.extract %[[OFFSETS]][%[[E]]]
// CHECK:           %[[COUNT:.*]] = tensor.extract %[[COUNTS]][%[[E]]]
// CHECK:           %[[MINE:.*]] = tensor.extract_slice %[[ROWS]]
// CHECK:           %[[G:.*]] = tensor.extract_slice %{{.*}}[%[[E]], 0, 0] [1, 48, 32] [1, 1, 1] : tensor<8x48x32xf32> to tensor<48x32xf32>
// CHECK:           linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[MINE]], %[[G]] : tensor<?x32xf32>, tensor<48x32xf32>)
// CHECK:           linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[MINE]], %{{.*}} : tensor<?x32xf32>, tensor<48x32xf32>)
// CHECK:           math.exp
// CHECK:           tensor.extract_slice %{{.*}}[%[[E]], 0, 0] [1, 32, 48] [1, 1, 1] : tensor<8x32x48xf32> to tensor<32x48xf32>
// CHECK:           %[[DOWN:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x48xf32>, tensor<32x48xf32>) outs(%{{.*}} : tensor<?x32xf32>)
// CHECK:           %[[NEXT:.*]] = tensor.insert_slice %[[DOWN]] into %[[ACC]]
// CHECK:           scf.yield %[[NEXT]]
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

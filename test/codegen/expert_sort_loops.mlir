// RUN: strata-opt %s --strata-expert-sort-loops --canonicalize | FileCheck %s

// Tests the CPU's expert sort: count each expert's pairs into
// offsets[e + 1], prefix-sum, scatter each pair to its expert's cursor
// offsets[e] (order[row] = pair, position[pair] = row, cursor + 1), then
// shift the offsets back by one and set offsets[0] = 0. Ids are clamped
// to [0, E) (unsigned min, so negative ids too) before they index offsets.
// CHECK-LABEL: func.func @sort(
// CHECK-SAME:    %[[I:.*]]: memref<?xi32>, %[[O:.*]]: memref<9xi32>, %[[R:.*]]: memref<?xi32>, %[[P:.*]]: memref<?xi32>)
// CHECK:         %[[N:.*]] = memref.dim %[[I]], %c0
// CHECK:         scf.for %{{.*}} = %c0 to %c9 step %c1 {
// CHECK:           memref.store %c0_i32, %[[O]]
// CHECK:         scf.for %[[PAIR:.*]] = %c0 to %[[N]] step %c1 {
// CHECK:           %[[E:.*]] = memref.load %[[I]][%[[PAIR]]]
// CHECK:           %[[EI:.*]] = arith.index_cast %[[E]]
// CHECK:           %[[EC:.*]] = arith.minui %[[EI]], %c7
// CHECK:           %[[SLOT:.*]] = arith.addi %[[EC]], %c1
// CHECK:           %[[C:.*]] = memref.load %[[O]][%[[SLOT]]]
// CHECK:           %[[C1:.*]] = arith.addi %[[C]], %c1_i32
// CHECK:           memref.store %[[C1]], %[[O]][%[[SLOT]]]
// CHECK:         scf.for %{{.*}} = %c1 to %c9 step %c1 {
// CHECK:         scf.for %[[PAIR:.*]] = %c0 to %[[N]] step %c1 {
// CHECK:           %[[E2:.*]] = arith.index_cast
// CHECK:           %[[E2C:.*]] = arith.minui %[[E2]], %c7
// CHECK:           %[[ROW:.*]] = memref.load %[[O]][%[[E2C]]]
// CHECK:           %[[ROWI:.*]] = arith.index_cast %[[ROW]]
// CHECK:           memref.store %{{.*}}, %[[R]][%[[ROWI]]]
// CHECK:           memref.store %[[ROW]], %[[P]][%[[PAIR]]]
// CHECK:         scf.for %{{.*}} = %c0 to %c8 step %c1 {
// CHECK:         memref.store %c0_i32, %[[O]][%c0]
// CHECK-NOT:     strata_kernel.expert_sort
func.func @sort(%idx: memref<?xi32>, %offsets: memref<9xi32>, %order: memref<?xi32>, %position: memref<?xi32>) {
  strata_kernel.expert_sort %idx into %offsets, %order, %position {num_experts = 8} : memref<?xi32>, memref<9xi32>, memref<?xi32>, memref<?xi32>
  return
}

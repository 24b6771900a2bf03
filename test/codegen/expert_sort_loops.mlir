// RUN: strata-opt %s --strata-expert-sort-loops --canonicalize | FileCheck %s

// Tests the CPU's expert sort: count each expert's pairs into
// offsets[e + 1], prefix-sum, scatter each pair to its expert's cursor
// offsets[e] (order[row] = pair, position[pair] = row, cursor + 1), then
// shift the offsets back by one and set offsets[0] = 0. An id outside
// [0, E) (an expert-parallel rank's -1) is expert E: it is not counted,
// and scatters from offsets[E] (the routed pairs' end, before the shift
// restores it), after every expert's rows.
// CHECK-LABEL: func.func @sort(
// CHECK-SAME:    %[[I:.*]]: memref<?xi32>, %[[O:.*]]: memref<9xi32>, %[[R:.*]]: memref<?xi32>, %[[P:.*]]: memref<?xi32>)
// CHECK:         %[[N:.*]] = memref.dim %[[I]], %c0
// CHECK:         scf.for %{{.*}} = %c0 to %c9 step %c1 {
// CHECK:           memref.store %c0_i32, %[[O]]
// CHECK:         scf.for %[[PAIR:.*]] = %c0 to %[[N]] step %c1 {
// CHECK:           %[[E:.*]] = memref.load %[[I]][%[[PAIR]]]
// CHECK-DAG:       %[[LT:.*]] = arith.cmpi slt, %[[E]], %c8_i32
// CHECK-DAG:       %[[GE:.*]] = arith.cmpi sge, %[[E]], %c0_i32
// CHECK:           %[[IN:.*]] = arith.andi %[[GE]], %[[LT]]
// CHECK:           %[[ES:.*]] = arith.select %[[IN]], %[[E]], %c8_i32
// CHECK:           %[[EI:.*]] = arith.index_cast %[[ES]]
// CHECK:           %[[ROUTED:.*]] = arith.cmpi ult, %[[EI]], %c8
// CHECK:           scf.if %[[ROUTED]] {
// CHECK:             %[[SLOT:.*]] = arith.addi %[[EI]], %c1
// CHECK:             %[[C:.*]] = memref.load %[[O]][%[[SLOT]]]
// CHECK:             %[[C1:.*]] = arith.addi %[[C]], %c1_i32
// CHECK:             memref.store %[[C1]], %[[O]][%[[SLOT]]]
// CHECK:         scf.for %{{.*}} = %c1 to %c9 step %c1 {
// CHECK:         scf.for %[[PAIR:.*]] = %c0 to %[[N]] step %c1 {
// CHECK:           %[[E2S:.*]] = arith.select
// CHECK:           %[[E2:.*]] = arith.index_cast %[[E2S]]
// CHECK:           %[[ROW:.*]] = memref.load %[[O]][%[[E2]]]
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

// RUN: strata-opt %s --strata-expert-sort-kernel --canonicalize --split-input-file | FileCheck %s

// Tests the GPU's expert sort: one block, a thread per expert (8 experts:
// one warp). Each thread counts its expert's pairs into offsets[e + 1];
// after a barrier thread 0 prefix-sums them (offsets[0] = 0); after
// another each thread scatters its expert's pairs in pair order, its
// cursor a loop-carried register. Ids are clamped to [0, E) before the
// compare, so every pair is counted and scattered exactly once whatever
// the ids hold (order and position stay a permutation).
// CHECK-LABEL: func.func @sort(
// CHECK-SAME:    %[[I:.*]]: memref<?xi32>, %[[O:.*]]: memref<9xi32>, %[[R:.*]]: memref<?xi32>, %[[P:.*]]: memref<?xi32>)
// CHECK:         %[[N:.*]] = memref.dim %[[I]], %c0
// CHECK:         gpu.launch blocks({{.*}}) in ({{.*}} = %c1, {{.*}} = %c1, {{.*}} = %c1) threads(%[[TID:.*]], %{{.*}}, %{{.*}}) in ({{.*}} = %c32, {{.*}} = %c1, {{.*}} = %c1)
// CHECK:           scf.for %[[E:.*]] = %[[TID]] to %c8 step %c32 {
// CHECK:             %[[COUNT:.*]] = scf.for %{{.*}} = %c0 to %[[N]] step %c1 iter_args(%{{.*}} = %c0) -> (index)
// CHECK:               %[[ID:.*]] = memref.load %[[I]]
// CHECK:               %[[IDX:.*]] = arith.index_cast %[[ID]]
// CHECK:               %[[CL:.*]] = arith.minui %[[IDX]], %c7
// CHECK:               arith.cmpi eq, %[[CL]], %[[E]]
// CHECK:             memref.store %{{.*}}, %[[O]]
// CHECK:           gpu.barrier
// CHECK:           scf.if
// CHECK:             memref.store %c0_i32, %[[O]][%c0]
// CHECK:             scf.for %{{.*}} = %c1 to %c9 step %c1 iter_args
// CHECK:           gpu.barrier
// CHECK:           scf.for %[[E2:.*]] = %[[TID]] to %c8 step %c32 {
// CHECK:             %[[START:.*]] = memref.load %[[O]][%[[E2]]]
// CHECK:             scf.for %[[PAIR:.*]] = %c0 to %[[N]] step %c1 iter_args(%[[ROW:.*]] = %{{.*}}) -> (index)
// CHECK:               arith.minui %{{.*}}, %c7
// CHECK:               scf.if
// CHECK:                 memref.store %{{.*}}, %[[R]][%[[ROW]]]
// CHECK:                 memref.store %{{.*}}, %[[P]][%[[PAIR]]]
// CHECK-NOT:     strata_kernel.expert_sort
func.func @sort(%idx: memref<?xi32>, %offsets: memref<9xi32>, %order: memref<?xi32>, %position: memref<?xi32>) {
  strata_kernel.expert_sort %idx into %offsets, %order, %position {num_experts = 8} : memref<?xi32>, memref<9xi32>, memref<?xi32>, memref<?xi32>
  return
}

// -----

// More experts than 1024 threads: each thread strides over its experts.
// CHECK-LABEL: func.func @many_experts(
// CHECK:         gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c1024,
// CHECK:           scf.for %{{.*}} = %{{.*}} to %c2000 step %c1024 {
func.func @many_experts(%idx: memref<?xi32>, %offsets: memref<2001xi32>, %order: memref<?xi32>, %position: memref<?xi32>) {
  strata_kernel.expert_sort %idx into %offsets, %order, %position {num_experts = 2000} : memref<?xi32>, memref<2001xi32>, memref<?xi32>, memref<?xi32>
  return
}

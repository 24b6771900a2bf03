// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s
// RUN: strata-opt %s --one-shot-bufferize=bufferize-function-boundaries | FileCheck %s --check-prefix=BUF

// Tests that the expert sort on tensors round-trips with its three
// destinations and returns their new values.
// CHECK-LABEL: func.func @sort_tensors(
// CHECK:         %[[R:.*]]:3 = strata_kernel.expert_sort %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} {num_experts = 8 : i64} : tensor<?xi32>, tensor<9xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<9xi32>, tensor<?xi32>, tensor<?xi32>
// CHECK-NEXT:    return %[[R]]#0, %[[R]]#1, %[[R]]#2
//
// One-shot bufferization keeps the op, on memrefs, writing into the three
// inits' buffers in place.
// BUF-LABEL: func.func @sort_tensors(
// BUF-SAME:    %[[I:.*]]: memref<?xi32, {{.*}}>, %[[O:.*]]: memref<9xi32, {{.*}}>, %[[R:.*]]: memref<?xi32, {{.*}}>, %[[P:.*]]: memref<?xi32, {{.*}}>)
// BUF-NOT:     memref.alloc
// BUF:         strata_kernel.expert_sort %[[I]] into %[[O]], %[[R]], %[[P]] {num_experts = 8 : i64}
// BUF-NEXT:    return %[[O]], %[[R]], %[[P]]
func.func @sort_tensors(%idx: tensor<?xi32>, %offsets: tensor<9xi32>, %order: tensor<?xi32>, %position: tensor<?xi32>) -> (tensor<9xi32>, tensor<?xi32>, tensor<?xi32>) {
  %0:3 = strata_kernel.expert_sort %idx into %offsets, %order, %position {num_experts = 8} : tensor<?xi32>, tensor<9xi32>, tensor<?xi32>, tensor<?xi32> -> tensor<9xi32>, tensor<?xi32>, tensor<?xi32>
  return %0#0, %0#1, %0#2 : tensor<9xi32>, tensor<?xi32>, tensor<?xi32>
}

// Tests that on memrefs the op has no results.
// CHECK-LABEL: func.func @sort_memrefs(
// CHECK:         strata_kernel.expert_sort %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} {num_experts = 64 : i64} : memref<12xi32>, memref<65xi32>, memref<12xi32>, memref<12xi32>
// CHECK-NEXT:    return
func.func @sort_memrefs(%idx: memref<12xi32>, %offsets: memref<65xi32>, %order: memref<12xi32>, %position: memref<12xi32>) {
  strata_kernel.expert_sort %idx into %offsets, %order, %position {num_experts = 64} : memref<12xi32>, memref<65xi32>, memref<12xi32>, memref<12xi32>
  return
}

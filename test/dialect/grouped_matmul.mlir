// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s
// RUN: strata-opt %s --one-shot-bufferize=bufferize-function-boundaries | FileCheck %s --check-prefix=BUF

// Tests that a grouped matmul on tensors round-trips with its destination
// and returns the destination's new value.
// CHECK-LABEL: func.func @grouped_tensors(
// CHECK:         %[[R:.*]] = strata_kernel.grouped_matmul %{{.*}}, %{{.*}} groups(%{{.*}}) into %{{.*}} : tensor<?x32xf32>, tensor<8x48x32xf32>, tensor<9xi32>, tensor<?x48xf32> -> tensor<?x48xf32>
// CHECK-NEXT:    return %[[R]]
//
// One-shot bufferization keeps the op, on memrefs, writing into init's
// buffer in place (init is read: the op accumulates into it).
// BUF-LABEL: func.func @grouped_tensors(
// BUF-SAME:    %[[ROWS:.*]]: memref<?x32xf32, {{.*}}>, %[[W:.*]]: memref<8x48x32xf32, {{.*}}>, %[[OFF:.*]]: memref<9xi32, {{.*}}>, %[[INIT:.*]]: memref<?x48xf32, {{.*}}>)
// BUF-NOT:     memref.alloc
// BUF:         strata_kernel.grouped_matmul %[[ROWS]], %[[W]] groups(%[[OFF]]) into %[[INIT]] : memref<?x32xf32, {{.*}}>, memref<8x48x32xf32, {{.*}}>, memref<9xi32, {{.*}}>, memref<?x48xf32, {{.*}}>
// BUF-NEXT:    return %[[INIT]]
func.func @grouped_tensors(%rows: tensor<?x32xf32>, %w: tensor<8x48x32xf32>, %offsets: tensor<9xi32>, %init: tensor<?x48xf32>) -> tensor<?x48xf32> {
  %0 = strata_kernel.grouped_matmul %rows, %w groups(%offsets) into %init : tensor<?x32xf32>, tensor<8x48x32xf32>, tensor<9xi32>, tensor<?x48xf32> -> tensor<?x48xf32>
  return %0 : tensor<?x48xf32>
}

// Tests that on memrefs the op has no result; the expert count may be
// dynamic (offsets then dynamic too).
// CHECK-LABEL: func.func @grouped_memrefs(
// CHECK:         strata_kernel.grouped_matmul %{{.*}}, %{{.*}} groups(%{{.*}}) into %{{.*}} : memref<?x16xf32>, memref<?x4x16xf32>, memref<?xi32>, memref<?x4xf32>
// CHECK-NEXT:    return
func.func @grouped_memrefs(%rows: memref<?x16xf32>, %w: memref<?x4x16xf32>, %offsets: memref<?xi32>, %out: memref<?x4xf32>) {
  strata_kernel.grouped_matmul %rows, %w groups(%offsets) into %out : memref<?x16xf32>, memref<?x4x16xf32>, memref<?xi32>, memref<?x4xf32>
  return
}

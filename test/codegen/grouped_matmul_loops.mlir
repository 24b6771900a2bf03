// RUN: strata-opt %s --strata-grouped-matmul-loops --canonicalize | FileCheck %s
// RUN: strata-opt %s --strata-grouped-matmul-loops --strata-register-tiled-matmuls | FileCheck %s --check-prefix=TILED

// Tests that a grouped matmul becomes a loop over the groups, each running
// x·Wᵀ on its rows (offsets[e] to offsets[e + 1]) and its weight matrix,
// accumulating into the same rows of init; the contraction is then
// register-tiled like any linear layer.
// CHECK-LABEL: func.func @grouped(
// CHECK-SAME:    %[[ROWS:.*]]: memref<?x32xf32>, %[[W:.*]]: memref<8x48x32xf32>, %[[OFF:.*]]: memref<9xi32>, %[[OUT:.*]]: memref<?x48xf32>)
// CHECK:         scf.for %[[E:.*]] = %c0 to %c8 step %c1 {
// CHECK:           %[[S:.*]] = memref.load %[[OFF]][%[[E]]]
// CHECK:           %[[START:.*]] = arith.index_cast %[[S]]
// CHECK:           %[[NEXT:.*]] = arith.addi %[[E]], %c1
// CHECK:           %[[EN:.*]] = memref.load %[[OFF]][%[[NEXT]]]
// CHECK:           %[[END:.*]] = arith.index_cast %[[EN]]
// CHECK:           %[[COUNT:.*]] = arith.subi %[[END]], %[[START]]
// CHECK:           %[[A:.*]] = memref.subview %[[ROWS]][%[[START]], 0] [%[[COUNT]], 32] [1, 1]
// CHECK:           %[[B:.*]] = memref.subview %[[W]][%[[E]], 0, 0] [1, 48, 32] [1, 1, 1] : memref<8x48x32xf32> to memref<48x32xf32, strided<[32, 1], offset: ?>>
// CHECK:           %[[C:.*]] = memref.subview %[[OUT]][%[[START]], 0] [%[[COUNT]], 48] [1, 1]
// CHECK:           linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[A]], %[[B]] : {{.*}}) outs(%[[C]] : {{.*}})
// CHECK:             arith.mulf
// CHECK:             arith.addf
// CHECK-NOT:     strata_kernel.grouped_matmul
// TILED-LABEL: func.func @grouped(
// TILED:         scf.for
// TILED:           scf.parallel
// TILED:             vector.fma
func.func @grouped(%rows: memref<?x32xf32>, %w: memref<8x48x32xf32>, %offsets: memref<9xi32>, %out: memref<?x48xf32>) {
  strata_kernel.grouped_matmul %rows, %w groups(%offsets) into %out : memref<?x32xf32>, memref<8x48x32xf32>, memref<9xi32>, memref<?x48xf32>
  return
}


// Experts' weights stored in bf16 (--weights-dtype): each group's
// contraction widens them as read, and the register tiles load them narrow.
// CHECK-LABEL: func.func @grouped_bf16(
// CHECK:         linalg.generic
// CHECK:           arith.extf %{{.*}} : bf16 to f32
// CHECK:           arith.mulf
// TILED-LABEL: func.func @grouped_bf16(
// TILED:         vector.load {{.*}} : memref<48x32xbf16, strided<[32, 1], offset: ?>>, vector<{{[0-9]+}}xbf16>
// TILED:         vector.fma
func.func @grouped_bf16(%rows: memref<?x32xf32>, %w: memref<8x48x32xbf16>, %offsets: memref<9xi32>, %out: memref<?x48xf32>) {
  strata_kernel.grouped_matmul %rows, %w groups(%offsets) into %out : memref<?x32xf32>, memref<8x48x32xbf16>, memref<9xi32>, memref<?x48xf32>
  return
}

// Int8 rows and experts' weights (w8a8-dynamic): each group's contraction
// sums sign-extended products into the i32 output, which the register
// tiles take in their int8 form (pmaddwd).
// CHECK-LABEL: func.func @grouped_int8(
// CHECK:         linalg.generic
// CHECK:           arith.extsi %{{.*}} : i8 to i32
// CHECK:           arith.extsi %{{.*}} : i8 to i32
// CHECK:           arith.muli
// CHECK:           arith.addi
// TILED-LABEL: func.func @grouped_int8(
// TILED:         llvm.call_intrinsic "llvm.x86.{{.*}}pmadd
func.func @grouped_int8(%rows: memref<?x32xi8>, %w: memref<8x48x32xi8>, %offsets: memref<9xi32>, %out: memref<?x48xi32>) {
  strata_kernel.grouped_matmul %rows, %w groups(%offsets) into %out : memref<?x32xi8>, memref<8x48x32xi8>, memref<9xi32>, memref<?x48xi32>
  return
}

// RUN: strata-opt %s --strata-plan-memory | FileCheck %s

// Tests the memory plan: %a and %b are alive together (two slots); %c
// starts after the last use of %a (reached through a reshape), so it takes
// %a's slot, sized for the larger of the two when the call starts; the
// returned %d is not planned (the caller frees it). Offsets are 64-byte
// aligned, the arena is asked for once, the frees are gone.
// CHECK:       func.func private @strata_arena_acquire(index) -> memref<?xi8>
// CHECK-LABEL: func.func @chain(
// CHECK-SAME:    %[[X:.*]]: memref<?x8xf32>) -> memref<?x8xf32>
// CHECK-SAME:    attributes {strata.memory_plan = array<i64: 3, 2, -1, -1>}
// CHECK:         %[[N:.*]] = memref.dim %[[X]], %c0
// CHECK-DAG:     %[[A:.*]] = arith.muli %[[N]], %c32
// CHECK-DAG:     %[[B:.*]] = arith.muli %[[N]], %c16
// CHECK-DAG:     %[[C:.*]] = arith.muli %[[N]], %c64
// CHECK:         %[[S0:.*]] = arith.maxui %[[A]], %[[C]]
// CHECK:         %[[ARENA:.*]] = call @strata_arena_acquire(%{{.*}}) : (index) -> memref<?xi8>
// CHECK:         memref.view %[[ARENA]][%c0{{.*}}][%{{.*}}] : memref<?xi8> to memref<?x8xf32>
// CHECK:         memref.view %[[ARENA]][%{{.*}}][%{{.*}}] : memref<?xi8> to memref<?x4xf32>
// CHECK:         memref.view %[[ARENA]][%c0{{.*}}][%{{.*}}] : memref<?xi8> to memref<?x16xf32>
// CHECK:         memref.alloc(%{{.*}}) {{.*}} : memref<?x8xf32>
// CHECK-NOT:     memref.dealloc
func.func @chain(%x: memref<?x8xf32>) -> memref<?x8xf32> {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %a = memref.alloc(%n) {alignment = 64 : i64} : memref<?x8xf32>
  memref.copy %x, %a : memref<?x8xf32> to memref<?x8xf32>
  %b = memref.alloc(%n) {alignment = 64 : i64} : memref<?x4xf32>
  %a2 = memref.expand_shape %a [[0], [1, 2]] output_shape [%n, 2, 4] : memref<?x8xf32> into memref<?x2x4xf32>
  %s = memref.subview %a2[0, 0, 0] [%n, 1, 4] [1, 1, 1] : memref<?x2x4xf32> to memref<?x4xf32, strided<[8, 1]>>
  memref.copy %s, %b : memref<?x4xf32, strided<[8, 1]>> to memref<?x4xf32>
  %c = memref.alloc(%n) {alignment = 64 : i64} : memref<?x16xf32>
  %cs = memref.subview %c[0, 0] [%n, 4] [1, 1] : memref<?x16xf32> to memref<?x4xf32, strided<[16, 1]>>
  memref.copy %b, %cs : memref<?x4xf32> to memref<?x4xf32, strided<[16, 1]>>
  %d = memref.alloc(%n) {alignment = 64 : i64} : memref<?x8xf32>
  %ds = memref.subview %c[0, 0] [%n, 8] [1, 1] : memref<?x16xf32> to memref<?x8xf32, strided<[16, 1]>>
  memref.copy %ds, %d : memref<?x8xf32, strided<[16, 1]>> to memref<?x8xf32>
  memref.dealloc %a : memref<?x8xf32>
  memref.dealloc %b : memref<?x4xf32>
  memref.dealloc %c : memref<?x16xf32>
  return %d : memref<?x8xf32>
}

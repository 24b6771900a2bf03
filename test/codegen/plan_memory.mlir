// RUN: strata-opt %s --strata-plan-memory | FileCheck %s

// Tests the memory plan: %a and %b are alive together (two slots); %c
// starts after the last use of %a (reached through a reshape), so it takes
// %a's slot, sized for the larger of the two when the call starts; the
// returned %d is not planned (the caller frees it). Offsets are 64-byte
// aligned, the arena is asked for once, the frees are gone.
// CHECK:       func.func private @strata_arena_acquire(index) -> memref<?xi8>
// CHECK-NEXT:  func.func private @strata_arena_release(memref<?xi8>)
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

// Tests that a buffer sized by the dimensions of other buffers made in the
// function (an allocation, an expand_shape of it with a dynamic output
// size, a collapse_shape of that) is planned too: its sizes are rebuilt
// from the sizes those buffers were made with (%n, and %h * 1 * 4 for the
// collapsed group), so the arena's size is known when the call starts;
// %c, sized by %n alone, reuses %a's slot.
// CHECK-LABEL: func.func @sized_by_reshapes(
// CHECK-SAME:    %[[X:.*]]: memref<?x8xf32>, %[[H:.*]]: index)
// CHECK-SAME:    attributes {strata.memory_plan = array<i64: 3, 2, -1, -1>}
// CHECK:         %[[N:.*]] = memref.dim %[[X]], %c0
// CHECK:         %[[H1:.*]] = arith.muli %[[H]], %c1
// CHECK:         %[[C4H:.*]] = arith.muli %[[H1]], %c4
// CHECK:         %[[NH:.*]] = arith.muli %[[N]], %[[C4H]]
// CHECK:         call @strata_arena_acquire
// CHECK-NOT:     memref.alloc
// CHECK:         memref.view {{.*}} : memref<?xi8> to memref<?x?xf32>
// CHECK:         memref.view {{.*}} : memref<?xi8> to memref<?xf32>
// CHECK-NOT:     memref.dealloc
func.func @sized_by_reshapes(%x: memref<?x8xf32>, %h: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %a = memref.alloc(%n, %h) : memref<?x?x4xf32>
  %e = memref.expand_shape %a [[0], [1, 2], [3]] output_shape [%n, %h, 1, 4] : memref<?x?x4xf32> into memref<?x?x1x4xf32>
  %f = memref.collapse_shape %e [[0], [1, 2, 3]] : memref<?x?x1x4xf32> into memref<?x?xf32>
  %d0 = memref.dim %f, %c0 : memref<?x?xf32>
  %d1 = memref.dim %f, %c1 : memref<?x?xf32>
  %b = memref.alloc(%d0, %d1) : memref<?x?xf32>
  memref.copy %f, %b : memref<?x?xf32> to memref<?x?xf32>
  %c = memref.alloc(%d0) : memref<?xf32>
  memref.dealloc %a : memref<?x?x4xf32>
  memref.dealloc %b : memref<?x?xf32>
  memref.dealloc %c : memref<?xf32>
  return
}

// Tests frames: a layer body (a private function with a body) plans its own
// temporaries in a frame of its own, acquired on entry and released before
// it returns; the caller's buffer that the body writes (an out-param, as
// strata-results-to-out-params leaves it) is planned in the caller's frame,
// which is released after the call. A declaration is left alone.
// CHECK-LABEL: func.func private @body(
// CHECK-SAME:    %[[BX:.*]]: memref<?x8xf32>, %[[BOUT:.*]]: memref<?x8xf32>)
// CHECK-SAME:    attributes {strata.memory_plan = array<i64: 1, 1, -1>}
// CHECK:         %[[BA:.*]] = call @strata_arena_acquire(%{{.*}}) : (index) -> memref<?xi8>
// CHECK:         %[[T:.*]] = memref.view %[[BA]]
// CHECK:         memref.copy %[[BX]], %[[T]]
// CHECK:         memref.copy %[[T]], %[[BOUT]]
// CHECK-NEXT:    call @strata_arena_release(%[[BA]]) : (memref<?xi8>) -> ()
// CHECK-NEXT:    return
// CHECK-LABEL: func.func @entry(
// CHECK-SAME:    attributes {strata.memory_plan = array<i64: 1, 1, -1>}
// CHECK:         %[[EA:.*]] = call @strata_arena_acquire(%{{.*}}) : (index) -> memref<?xi8>
// CHECK:         %[[O:.*]] = memref.view %[[EA]]
// CHECK:         call @body(%{{.*}}, %[[O]])
// CHECK:         memref.copy %[[O]], %{{.*}}
// CHECK:         call @strata_arena_release(%[[EA]]) : (memref<?xi8>) -> ()
// CHECK-NEXT:    return
func.func private @body(%x: memref<?x8xf32>, %out: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %t = memref.alloc(%n) {alignment = 64 : i64} : memref<?x8xf32>
  memref.copy %x, %t : memref<?x8xf32> to memref<?x8xf32>
  memref.copy %t, %out : memref<?x8xf32> to memref<?x8xf32>
  memref.dealloc %t : memref<?x8xf32>
  return
}
func.func @entry(%x: memref<?x8xf32>, %y: memref<?x8xf32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x8xf32>
  %o = memref.alloc(%n) {alignment = 64 : i64} : memref<?x8xf32>
  func.call @body(%x, %o) : (memref<?x8xf32>, memref<?x8xf32>) -> ()
  memref.copy %o, %y : memref<?x8xf32> to memref<?x8xf32>
  memref.dealloc %o : memref<?x8xf32>
  return
}

// RUN: strata-opt %s --split-input-file --strata-roll-layer-calls | FileCheck %s

// Tests that runs of calls to one layer body become a loop over the
// layers: activations ping-pong between two views of the frame, each
// layer's parameters are a pointer into args advancing by a stride, an
// invariant operand stays as it is, and a buffer allocated per layer and
// returned by the entry point is allocated and stored (at its word of the
// results) inside the loop. Two calls are left alone, and so is a run whose
// operands follow no pattern.

// CHECK-LABEL: func.func @strata_entry_forward(
// CHECK-SAME:    %[[ARGS:[a-z0-9]+]]: !llvm.ptr
// CHECK:         %[[C0:.*]] = arith.constant 0 : index
// CHECK:         %[[C64:.*]] = arith.constant 64 : index
// CHECK:         scf.for %[[L:.*]] = %{{.*}} to %[[N:.*]] step %[[ONE:[a-z0-9_]+]] {
// CHECK:           %[[BIT:.*]] = arith.andi %[[L]], %[[ONE]] : index
// CHECK:           %[[ODD:.*]] = arith.cmpi ne, %[[BIT]]
// CHECK:           %[[IN:.*]] = arith.select %[[ODD]], %[[C64]], %[[C0]] : index
// CHECK:           %[[X:.*]] = memref.view %{{.*}}[%[[IN]]]
// CHECK:           %[[STRIDE:.*]] = arith.constant 3 : index
// CHECK:           %[[MUL:.*]] = arith.muli %[[L]], %[[STRIDE]]
// CHECK:           %[[FIRST:.*]] = arith.constant 2 : index
// CHECK:           %[[IDX:.*]] = arith.addi %[[FIRST]], %[[MUL]]
// CHECK:           %[[I64:.*]] = arith.index_cast %[[IDX]] : index to i64
// CHECK:           %[[P:.*]] = llvm.getelementptr %[[ARGS]][%[[I64]]]
// CHECK:           %[[OUT:.*]] = arith.select %[[ODD]], %[[C0]], %[[C64]] : index
// CHECK:           %[[Y:.*]] = memref.view %{{.*}}[%[[OUT]]]
// CHECK:           %[[CACHE:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x4xf32>
// CHECK:           func.call @layer(%[[X]], %[[P]], %{{.*}}, %[[Y]], %[[CACHE]])
// CHECK:           %[[RES:.*]] = llvm.load %[[ARGS]] : !llvm.ptr -> !llvm.ptr
// CHECK:           %[[W:.*]] = arith.index_cast %{{.*}} : index to i64
// CHECK:           %[[AT:.*]] = llvm.getelementptr %[[RES]][%[[W]]] : (!llvm.ptr, i64) -> !llvm.ptr, i64
// CHECK:           %[[D:.*]] = builtin.unrealized_conversion_cast %[[CACHE]]
// CHECK:           llvm.store %[[D]], %[[AT]]
// CHECK:         }
// CHECK-NOT:     call @layer(
// CHECK:         return
func.func @strata_entry_forward(%args: !llvm.ptr, %n: index, %mask: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %frame = memref.alloc() : memref<256xi8>
  %v0 = memref.view %frame[%c0][%n] : memref<256xi8> to memref<?x4xf32>
  %v1 = memref.view %frame[%c64][%n] : memref<256xi8> to memref<?x4xf32>
  %p0 = llvm.getelementptr %args[2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  %k0 = memref.alloc(%n) {alignment = 64 : i64} : memref<?x4xf32>
  call @layer(%v0, %p0, %mask, %v1, %k0) : (memref<?x4xf32>, !llvm.ptr, memref<4xf32>, memref<?x4xf32>, memref<?x4xf32>) -> ()
  %v2 = memref.view %frame[%c0][%n] : memref<256xi8> to memref<?x4xf32>
  %p1 = llvm.getelementptr %args[5] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  %k1 = memref.alloc(%n) {alignment = 64 : i64} : memref<?x4xf32>
  call @layer(%v1, %p1, %mask, %v2, %k1) : (memref<?x4xf32>, !llvm.ptr, memref<4xf32>, memref<?x4xf32>, memref<?x4xf32>) -> ()
  %v3 = memref.view %frame[%c64][%n] : memref<256xi8> to memref<?x4xf32>
  %p2 = llvm.getelementptr %args[8] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  %k2 = memref.alloc(%n) {alignment = 64 : i64} : memref<?x4xf32>
  call @layer(%v2, %p2, %mask, %v3, %k2) : (memref<?x4xf32>, !llvm.ptr, memref<4xf32>, memref<?x4xf32>, memref<?x4xf32>) -> ()
  %v4 = memref.view %frame[%c0][%n] : memref<256xi8> to memref<?x4xf32>
  %p3 = llvm.getelementptr %args[11] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  %k3 = memref.alloc(%n) {alignment = 64 : i64} : memref<?x4xf32>
  call @layer(%v3, %p3, %mask, %v4, %k3) : (memref<?x4xf32>, !llvm.ptr, memref<4xf32>, memref<?x4xf32>, memref<?x4xf32>) -> ()
  %res = llvm.load %args : !llvm.ptr -> !llvm.ptr
  %a0 = llvm.getelementptr %res[0] : (!llvm.ptr) -> !llvm.ptr, i64
  %d0 = builtin.unrealized_conversion_cast %k0 : memref<?x4xf32> to !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
  llvm.store %d0, %a0 : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, !llvm.ptr
  %a1 = llvm.getelementptr %res[7] : (!llvm.ptr) -> !llvm.ptr, i64
  %d1 = builtin.unrealized_conversion_cast %k1 : memref<?x4xf32> to !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
  llvm.store %d1, %a1 : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, !llvm.ptr
  %a2 = llvm.getelementptr %res[14] : (!llvm.ptr) -> !llvm.ptr, i64
  %d2 = builtin.unrealized_conversion_cast %k2 : memref<?x4xf32> to !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
  llvm.store %d2, %a2 : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, !llvm.ptr
  %a3 = llvm.getelementptr %res[21] : (!llvm.ptr) -> !llvm.ptr, i64
  %d3 = builtin.unrealized_conversion_cast %k3 : memref<?x4xf32> to !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
  llvm.store %d3, %a3 : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, !llvm.ptr
  return
}
func.func private @layer(%x: memref<?x4xf32>, %p: !llvm.ptr, %m: memref<4xf32>, %y: memref<?x4xf32>, %k: memref<?x4xf32>) {
  return
}

// -----

// CHECK-LABEL: func.func @strata_entry_short(
// CHECK-NOT:     scf.for
// CHECK-COUNT-2: call @body(
func.func @strata_entry_short(%args: !llvm.ptr) {
  %p0 = llvm.getelementptr %args[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  call @body(%p0) : (!llvm.ptr) -> ()
  %p1 = llvm.getelementptr %args[2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  call @body(%p1) : (!llvm.ptr) -> ()
  return
}
func.func private @body(%p: !llvm.ptr) {
  return
}

// -----

// Strides that differ between layers: no pattern, no loop.
// CHECK-LABEL: func.func @strata_entry_irregular(
// CHECK-NOT:     scf.for
// CHECK-COUNT-3: call @body(
func.func @strata_entry_irregular(%args: !llvm.ptr) {
  %p0 = llvm.getelementptr %args[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  call @body(%p0) : (!llvm.ptr) -> ()
  %p1 = llvm.getelementptr %args[2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  call @body(%p1) : (!llvm.ptr) -> ()
  %p2 = llvm.getelementptr %args[5] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
  call @body(%p2) : (!llvm.ptr) -> ()
  return
}
func.func private @body(%p: !llvm.ptr) {
  return
}

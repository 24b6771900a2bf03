// RUN: strata-opt %s --strata-plan-memory --finalize-memref-to-llvm --convert-arith-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts --strata-cpu-arena-hook | FileCheck %s

// Tests the bodies strata-cpu-arena-hook gives strata_arena_acquire and
// strata_arena_release: a frame from the runtime's hooks when they are set,
// else a malloc of the library's own, freed on release; the descriptor's
// aligned pointer rounded up to 64 bytes. The function pushes its frame
// once and pops it before returning.
// CHECK-DAG:   llvm.mlir.global external @strata_cpu_context()
// CHECK-DAG:   llvm.mlir.global external @strata_cpu_arena()
// CHECK-DAG:   llvm.mlir.global external @strata_cpu_arena_release()
// CHECK-LABEL: llvm.func internal @strata_arena_acquire(
// CHECK-SAME:    %[[BYTES:.*]]: i64) -> !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
// CHECK:         %[[HOOK:.*]] = llvm.load {{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK:         llvm.icmp "eq" %[[HOOK]]
// CHECK:         llvm.cond_br %{{.*}}, ^[[OWN:.*]], ^[[HOOKED:[a-z0-9]*]]
// CHECK:       ^[[HOOKED]]:
// CHECK:         llvm.call %[[HOOK]](%{{.*}}, %[[BYTES]]) : !llvm.ptr, (!llvm.ptr, i64) -> !llvm.ptr
// CHECK:       ^[[OWN]]:
// CHECK:         llvm.call @malloc
// CHECK:         llvm.and {{.*}} : i64
// CHECK:         llvm.return
// CHECK-LABEL: llvm.func internal @strata_arena_release(
// CHECK-SAME:    %[[FRAME:[a-z0-9]*]]: !llvm.ptr
// CHECK:         %[[RHOOK:.*]] = llvm.load {{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK:         llvm.icmp "eq" %[[RHOOK]]
// CHECK:         llvm.cond_br %{{.*}}, ^[[ROWN:.*]], ^[[RHOOKED:[a-z0-9]*]]
// CHECK:       ^[[RHOOKED]]:
// CHECK:         llvm.call %[[RHOOK]](%{{.*}}, %[[FRAME]]) : !llvm.ptr, (!llvm.ptr, !llvm.ptr) -> ()
// CHECK:       ^[[ROWN]]:
// CHECK:         llvm.call @free(%[[FRAME]])
// CHECK-LABEL: llvm.func @step(
// CHECK:         %[[ARENA:.*]] = llvm.call @strata_arena_acquire(
// CHECK-COUNT-1: llvm.call @strata_arena_release(
// CHECK-NEXT:    llvm.return
func.func @step(%x: memref<16xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %t = memref.alloc() : memref<16xf32>
  memref.copy %x, %t : memref<16xf32> to memref<16xf32>
  %v = memref.load %t[%c0] : memref<16xf32>
  memref.dealloc %t : memref<16xf32>
  return %v : f32
}

// RUN: strata-opt %s --strata-plan-memory --finalize-memref-to-llvm --convert-arith-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts --strata-cpu-arena-hook | FileCheck %s

// Tests the body strata-cpu-arena-hook gives strata_arena_acquire: the
// runtime's hook when it is set, else a growing buffer of the library's
// own; the descriptor's aligned pointer rounded up to 64 bytes.
// CHECK-DAG:   llvm.mlir.global external @strata_cpu_context()
// CHECK-DAG:   llvm.mlir.global external @strata_cpu_arena()
// CHECK-DAG:   llvm.mlir.global internal @__strata_own_arena()
// CHECK-DAG:   llvm.mlir.global internal @__strata_own_arena_bytes()
// CHECK-LABEL: llvm.func internal @strata_arena_acquire(
// CHECK-SAME:    %[[BYTES:.*]]: i64) -> !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
// CHECK:         %[[HOOK:.*]] = llvm.load {{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK:         llvm.icmp "eq" %[[HOOK]]
// CHECK:         llvm.cond_br %{{.*}}, ^[[OWN:.*]], ^[[HOOKED:[a-z0-9]*]]
// CHECK:       ^[[HOOKED]]:
// CHECK:         llvm.call %[[HOOK]](%{{.*}}, %[[BYTES]]) : !llvm.ptr, (!llvm.ptr, i64) -> !llvm.ptr
// CHECK:       ^[[OWN]]:
// CHECK:         llvm.icmp "ult"
// CHECK:         llvm.call @free
// CHECK:         llvm.call @malloc
// CHECK:         llvm.and {{.*}} : i64
// CHECK:         llvm.return
func.func @step(%x: memref<16xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %t = memref.alloc() : memref<16xf32>
  memref.copy %x, %t : memref<16xf32> to memref<16xf32>
  %v = memref.load %t[%c0] : memref<16xf32>
  memref.dealloc %t : memref<16xf32>
  return %v : f32
}

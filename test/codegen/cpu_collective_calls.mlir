// RUN: strata-opt %s --strata-cpu-all-reduce-calls | FileCheck %s
// RUN: strata-opt %s --strata-cpu-all-reduce-calls --finalize-memref-to-llvm --convert-arith-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts --strata-cpu-collective-hooks | FileCheck %s --check-prefix=HOOK

// Tests that a buffer's tensor-parallel sum becomes a call on it, flat; a
// strided view is summed through a contiguous copy written back.
// CHECK-LABEL: func.func @sums(
// CHECK-SAME:    %[[M:[a-z0-9]*]]: memref<2x3xf32>, %[[S:[a-z0-9]*]]: memref<4xf32, strided<[2]>>
// CHECK:         %[[FLAT:.*]] = memref.collapse_shape %[[M]] {{\[\[}}0, 1]] : memref<2x3xf32> into memref<6xf32>
// CHECK:         %[[DYN:.*]] = memref.cast %[[FLAT]] : memref<6xf32> to memref<?xf32>
// CHECK:         call @strata_all_reduce_f32(%[[DYN]]) : (memref<?xf32>) -> ()
// CHECK:         %[[COPY:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
// CHECK:         memref.copy %[[S]], %[[COPY]]
// CHECK:         call @strata_all_reduce_f32(
// CHECK:         memref.copy %[[COPY]], %[[S]]
// CHECK:         memref.dealloc %[[COPY]]
// CHECK-NOT:     strata_kernel.all_reduce
// CHECK:         func.func private @strata_all_reduce_f32(memref<?xf32>)
func.func @sums(%m: memref<2x3xf32>, %s: memref<4xf32, strided<[2]>>) {
  strata_kernel.all_reduce %m : memref<2x3xf32>
  strata_kernel.all_reduce %s : memref<4xf32, strided<[2]>>
  return
}

// Tests the function's body: the runtime's hook with the context, the
// aligned pointer advanced by the offset and the element count; nothing
// while the hook is unset (a group of one).
// HOOK-DAG:   llvm.mlir.global external @strata_cpu_context()
// HOOK-DAG:   llvm.mlir.global external @strata_cpu_all_reduce()
// HOOK-LABEL: llvm.func internal @strata_all_reduce_f32(
// HOOK-SAME:    %{{[a-z0-9]*}}: !llvm.ptr, %[[ALIGNED:[a-z0-9]*]]: !llvm.ptr, %[[OFFSET:[a-z0-9]*]]: i64, %[[SIZE:[a-z0-9]*]]: i64
// HOOK:         %[[FN:.*]] = llvm.load {{.*}} : !llvm.ptr -> !llvm.ptr
// HOOK:         llvm.icmp "eq" %[[FN]]
// HOOK:         llvm.cond_br %{{.*}}, ^[[DONE:.*]], ^[[HOOKED:[a-z0-9]*]]
// HOOK:       ^[[HOOKED]]:
// HOOK:         %[[DATA:.*]] = llvm.getelementptr %[[ALIGNED]][%[[OFFSET]]] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// HOOK:         llvm.call %[[FN]](%{{.*}}, %[[DATA]], %[[SIZE]]) : !llvm.ptr, (!llvm.ptr, !llvm.ptr, i64) -> ()
// HOOK:       ^[[DONE]]:
// HOOK-NEXT:    llvm.return

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
func.func @sums(%m: memref<2x3xf32>, %s: memref<4xf32, strided<[2]>>) {
  strata_kernel.all_reduce %m : memref<2x3xf32>
  strata_kernel.all_reduce %s : memref<4xf32, strided<[2]>>
  return
}

// Tests the functions' bodies: the runtime's hook with the context, the
// aligned pointer advanced by the offset and the element count; nothing
// while the hook is unset (a group of one). The hooked exchanges pass
// their scalars, then (pointer, count) per buffer.
// HOOK-DAG:   llvm.mlir.global external @strata_cpu_context()
// HOOK-DAG:   llvm.mlir.global external @strata_cpu_all_reduce()
// HOOK-DAG:   llvm.mlir.global external @strata_cpu_expert_route()
// HOOK-DAG:   llvm.mlir.global external @strata_cpu_expert_exchange()
// HOOK-LABEL: llvm.func internal @strata_expert_exchange(
// HOOK:         llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, i64, i64, i64, i64, !llvm.ptr, i64, !llvm.ptr, i64, !llvm.ptr, i64, !llvm.ptr, i64) -> ()
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

// Tests that the expert exchanges become calls with their attributes as
// i64 arguments and their buffers flat; a view travels through a copy
// (written back only when the call writes it).
// CHECK-LABEL: func.func @experts(
// CHECK-SAME:    %[[W:[a-z0-9]*]]: memref<2x3x2xf32>, %[[I:[a-z0-9]*]]: memref<2x3x2xi32>, %[[RW:[a-z0-9]*]]: memref<4x3x2xf32>, %[[RI:[a-z0-9]*]]: memref<4x3x2xi32>, %[[X:[a-z0-9]*]]: memref<2x3x16xf32, strided<[96, 32, 1]>>, %[[ROWS:[a-z0-9]*]]: memref<4x3x16xf32>
// CHECK:         memref.collapse_shape %[[W]]
// CHECK:         call @strata_expert_route(%c2_i64, %c8_i64, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (i64, i64, memref<?xf32>, memref<?xi32>, memref<?xf32>, memref<?xi32>) -> ()
// CHECK:         %[[COPY:.*]] = memref.alloc() {alignment = 64 : i64} : memref<2x3x16xf32>
// CHECK:         memref.copy %[[X]], %[[COPY]]
// CHECK:         call @strata_expert_exchange(%c0_i64, %c16_i64, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (i64, i64, i64, i64, memref<?xf32>, memref<?xi32>, memref<?xi32>, memref<?xf32>) -> ()
// CHECK-NOT:     memref.copy %[[COPY]], %[[X]]
// CHECK:         memref.dealloc %[[COPY]]
// CHECK:         func.func private @strata_expert_route(i64, i64, memref<?xf32>, memref<?xi32>, memref<?xf32>, memref<?xi32>)
// CHECK:         func.func private @strata_expert_exchange(i64, i64, i64, i64, memref<?xf32>, memref<?xi32>, memref<?xi32>, memref<?xf32>)
// CHECK:         func.func private @strata_all_reduce_f32(memref<?xf32>)
func.func @experts(%w: memref<2x3x2xf32>, %i: memref<2x3x2xi32>, %rw: memref<4x3x2xf32>, %ri: memref<4x3x2xi32>, %x: memref<2x3x16xf32, strided<[96, 32, 1]>>, %rows: memref<4x3x16xf32>) {
  strata_kernel.expert_route %w, %i into %rw, %ri {num_experts = 8, top_k = 2} : memref<2x3x2xf32>, memref<2x3x2xi32>, memref<4x3x2xf32>, memref<4x3x2xi32>
  strata_kernel.expert_exchange %x, %ri, %i into %rows {combine = false, width = 16, top_k = 2, num_experts = 8} : memref<2x3x16xf32, strided<[96, 32, 1]>>, memref<4x3x2xi32>, memref<2x3x2xi32>, memref<4x3x16xf32>
  return
}

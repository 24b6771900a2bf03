// RUN: strata-opt %s --strata-outline-parallel-loops --convert-scf-to-cf --finalize-memref-to-llvm --convert-arith-to-llvm --convert-cf-to-llvm --convert-func-to-llvm --reconcile-unrealized-casts --strata-cpu-parallel-hooks | FileCheck %s

// The two hook globals the runtime fills in, exported.
// CHECK:       llvm.mlir.global external @strata_cpu_context() {{.*}} : !llvm.ptr
// CHECK:       llvm.mlir.global external @strata_cpu_parallel_for() {{.*}} : !llvm.ptr
// The dispatcher calls the hook when it is set, else the thunk over [0, n).
// CHECK-LABEL: llvm.func internal @__strata_parallel_for(
// CHECK-SAME:    %[[THUNK:.*]]: !llvm.ptr, %[[CAP:.*]]: !llvm.ptr, %[[N:.*]]: i64, %[[COST:.*]]: i64)
// CHECK:         %[[HOOK:.*]] = llvm.load {{.*}} : !llvm.ptr -> !llvm.ptr
// CHECK:         %[[UNSET:.*]] = llvm.icmp "eq" %[[HOOK]]
// CHECK:         llvm.cond_br %[[UNSET]], ^[[INLINE:.*]], ^[[POOL:[a-z0-9]*]]
// CHECK:       ^[[POOL]]:
// CHECK:         llvm.call %[[HOOK]](%{{.*}}, %[[THUNK]], %[[CAP]], %[[N]], %[[COST]])
// CHECK:       ^[[INLINE]]:
// CHECK:         llvm.call %[[THUNK]](%[[CAP]], %{{.*}}, %[[N]])
//
// The caller stores the captures (here the two memref descriptors, flat)
// in a stack struct allocated once in its entry block.
// CHECK-LABEL: llvm.func @scale(
// CHECK:         %[[SLOT:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(ptr, ptr, i64, i64, i64, ptr, ptr, i64, i64, i64)>
// CHECK:         llvm.store {{.*}} : !llvm.ptr, !llvm.ptr
// CHECK:         %[[T:.*]] = llvm.mlir.addressof @scale_par0_thunk
// CHECK:         %[[C:.*]] = llvm.mlir.constant(3 : i64)
// CHECK:         llvm.call @__strata_parallel_for(%[[T]], %[[SLOT]], %{{.*}}, %[[C]])
// CHECK-NOT:     llvm.call @scale_par0(
//
// The body is internal (inlined into its thunk); the thunk loads the
// captures back and runs [begin, end).
// CHECK-LABEL: llvm.func internal @scale_par0(
// CHECK-NOT:     strata.parallel_cost
// CHECK-LABEL: llvm.func internal @scale_par0_thunk(
// CHECK-SAME:    %[[P:.*]]: !llvm.ptr, %[[B:.*]]: i64, %[[E:.*]]: i64)
// CHECK-COUNT-10: llvm.load
// CHECK:         llvm.call @scale_par0(%[[B]], %[[E]],
func.func @scale(%a: memref<1024xf32>, %b: memref<1024xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c1024 = arith.constant 1024 : index
  scf.parallel (%i) = (%c0) to (%c1024) step (%c1) {
    %x = memref.load %a[%i] : memref<1024xf32>
    %y = arith.mulf %x, %x : f32
    memref.store %y, %b[%i] : memref<1024xf32>
    scf.reduce
  }
  return
}

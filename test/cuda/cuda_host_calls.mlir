// RUN: strata-opt %s --split-input-file --strata-cuda-host-calls --verify-diagnostics | FileCheck %s

// Tests strata-cuda-host-calls on an LLVM-dialect host module: the PTX
// moves to strata.ptx; each launch becomes an indirect call through
// strata_cuda_launch with a kernel index (k0 keeps index 0 when launched
// again), grid, block, shared bytes and a pointer array to the packed
// parameters; the kernel table (names, constant block shapes) goes to
// strata.gpu_kernels; memref allocation and the arena frames call the
// runtime's hooks; no gpu op or container attribute is left.

// CHECK:      module attributes {strata.gpu_kernels = [{block = array<i64: 128, 1, 1>, name = "k0"}, {block = array<i64: 128, 1, 1>, name = "k1"}], strata.ptx = "// ptx text\0A.visible .entry k0()\0A"} {
// CHECK-DAG:  llvm.mlir.global external @strata_cuda_context()
// CHECK-DAG:  llvm.mlir.global external @strata_cuda_launch()
// CHECK-DAG:  llvm.mlir.global external @strata_cuda_alloc()
// CHECK-DAG:  llvm.mlir.global external @strata_cuda_free()
// CHECK-DAG:  llvm.mlir.global external @strata_cuda_arena()
// CHECK-DAG:  llvm.mlir.global external @strata_cuda_arena_release()
// CHECK-NOT:  gpu.
// CHECK:      llvm.func internal @_mlir_memref_to_llvm_alloc(%[[BYTES:.*]]: i64) -> !llvm.ptr {
// CHECK:        llvm.mlir.addressof @strata_cuda_alloc
// CHECK:        llvm.call %{{.*}}(%{{.*}}, %[[BYTES]]) : !llvm.ptr, (!llvm.ptr, i64) -> !llvm.ptr
// CHECK:      llvm.func internal @_mlir_memref_to_llvm_free(
// CHECK:      llvm.func internal @strata_arena_acquire(
// CHECK:        llvm.call %{{.*}}(%{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, i64) -> !llvm.ptr
// The frame's aligned pointer is rounded up to 64 bytes.
// CHECK:        llvm.mlir.constant(-64 : i64)
// CHECK:      llvm.func internal @strata_arena_release(
// CHECK:        llvm.call %{{.*}}(%{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, !llvm.ptr) -> ()
// CHECK:      llvm.func @strata_entry_f(
// Launch 1: k0, two parameters packed behind a pointer array of 2.
// CHECK:        %[[N0:.*]] = llvm.mlir.constant(2 : i64) : i64
// CHECK:        %[[PARAMS0:.*]] = llvm.alloca %[[N0]] x !llvm.ptr
// CHECK:        llvm.mlir.addressof @strata_cuda_launch
// CHECK:        %[[K0:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT:   llvm.call %{{.*}}(%{{.*}}, %[[K0]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[PARAMS0]], %[[N0]]) : !llvm.ptr, (!llvm.ptr, i32, i64, i64, i64, i64, i64, i64, i32, !llvm.ptr, i64) -> ()
// Launch 2: k1, index 1.
// CHECK:        llvm.mlir.addressof @strata_cuda_launch
// CHECK:        %[[K1:.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-NEXT:   llvm.call %{{.*}}(%{{.*}}, %[[K1]],
// Launch 3: k0 again, index 0.
// CHECK:        llvm.mlir.addressof @strata_cuda_launch
// CHECK:        %[[K2:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT:   llvm.call %{{.*}}(%{{.*}}, %[[K2]],
// CHECK:        llvm.call @_mlir_memref_to_llvm_free(
module attributes {gpu.container_module} {
  gpu.binary @strata_kernels [#gpu.object<#nvvm.target<chip = "sm_90">, assembly = "// ptx text\n.visible .entry k0()\n">]
  llvm.func @_mlir_memref_to_llvm_alloc(i64) -> !llvm.ptr
  llvm.func @_mlir_memref_to_llvm_free(!llvm.ptr)
  llvm.func @strata_arena_acquire(i64) -> !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>
  llvm.func @strata_arena_release(!llvm.ptr, !llvm.ptr, i64, i64, i64)
  llvm.func @strata_entry_f(%arg0: !llvm.ptr) {
    %c1 = llvm.mlir.constant(1 : index) : i64
    %c128 = llvm.mlir.constant(128 : index) : i64
    %n = llvm.mlir.constant(4 : i64) : i64
    %p = llvm.call @_mlir_memref_to_llvm_alloc(%n) : (i64) -> !llvm.ptr
    gpu.launch_func @strata_kernels::@k0 blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1) : i64 args(%p : !llvm.ptr, %n : i64)
    gpu.launch_func @strata_kernels::@k1 blocks in (%n, %c1, %c1) threads in (%c128, %c1, %c1) : i64 args(%p : !llvm.ptr)
    gpu.launch_func @strata_kernels::@k0 blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1) : i64 args(%p : !llvm.ptr, %n : i64)
    llvm.call @_mlir_memref_to_llvm_free(%p) : (!llvm.ptr) -> ()
    llvm.return
  }
}

// -----

// Two device modules: strata-merge-gpu-modules must run first.
// expected-error @+1 {{expected one device module, found 2 (run strata-merge-gpu-modules)}}
module attributes {gpu.container_module} {
  gpu.binary @a [#gpu.object<#nvvm.target<chip = "sm_90">, assembly = "a">]
  gpu.binary @b [#gpu.object<#nvvm.target<chip = "sm_90">, assembly = "b">]
}

// -----

module attributes {gpu.container_module} {
  // expected-error @+1 {{expected PTX assembly (gpu-module-to-binary format=isa)}}
  gpu.binary @a [#gpu.object<#nvvm.target<chip = "sm_90">, bin = "cubin">]
}

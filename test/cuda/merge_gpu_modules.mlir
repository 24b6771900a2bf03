// RUN: strata-opt %s --strata-merge-gpu-modules | FileCheck %s
// RUN: strata-opt %s --strata-merge-gpu-modules="module-name=kernels" | FileCheck %s --check-prefix=NAMED

// Tests that outlined kernels move into one gpu.module (one PTX, one load):
// a global that outlining copied into both modules is kept once, and the
// launches point at the merged module.

// CHECK-LABEL: func.func @forward(
// CHECK:         gpu.launch_func @strata_kernels::@f_kernel
// CHECK-NEXT:    gpu.launch_func @strata_kernels::@g_kernel
// CHECK:       gpu.module @strata_kernels {
// CHECK-COUNT-1: memref.global "private" constant @table
// CHECK-NOT:     memref.global
// CHECK:         gpu.func @f_kernel(
// CHECK:         gpu.func @g_kernel(
// CHECK-NOT:   gpu.module

// NAMED: gpu.launch_func @kernels::@f_kernel
// NAMED: gpu.module @kernels {
module attributes {gpu.container_module} {
  gpu.module @f_kernel {
    memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
    gpu.func @f_kernel(%a: memref<4xf32>) kernel {
      %t = memref.get_global @table : memref<4xf32>
      gpu.return
    }
  }
  gpu.module @g_kernel {
    memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
    gpu.func @g_kernel(%a: memref<4xf32>) kernel {
      %t = memref.get_global @table : memref<4xf32>
      gpu.return
    }
  }
  func.func @forward(%a: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @f_kernel::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<4xf32>)
    gpu.launch_func @g_kernel::@g_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<4xf32>)
    return
  }
}

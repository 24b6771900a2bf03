// RUN: strata-opt %s --strata-order-globals | FileCheck %s

// Globals are renamed __constant_<n> by first use in module order and
// placed at the top in that order; uses follow the new names.
// CHECK:      memref.global "private" constant @__constant_0 : memref<2xf32> = dense<[3.000000e+00, 4.000000e+00]>
// CHECK-NEXT: memref.global "private" constant @__constant_1 : memref<2xf32> = dense<[1.000000e+00, 2.000000e+00]>
// CHECK-LABEL: func.func @f
// CHECK:        memref.get_global @__constant_0
// CHECK:        memref.get_global @__constant_1
// CHECK-LABEL: func.func @g
// CHECK:        memref.get_global @__constant_1
memref.global "private" constant @__constant_2xf32 : memref<2xf32> = dense<[1.0, 2.0]>
func.func @f() -> (memref<2xf32>, memref<2xf32>) {
  %a = memref.get_global @__constant_2xf32_0 : memref<2xf32>
  %b = memref.get_global @__constant_2xf32 : memref<2xf32>
  return %a, %b : memref<2xf32>, memref<2xf32>
}
memref.global "private" constant @__constant_2xf32_0 : memref<2xf32> = dense<[3.0, 4.0]>
func.func @g() -> memref<2xf32> {
  %a = memref.get_global @__constant_2xf32 : memref<2xf32>
  return %a : memref<2xf32>
}

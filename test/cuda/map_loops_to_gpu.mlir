// RUN: strata-opt %s --strata-map-loops-to-gpu --split-input-file --verify-diagnostics | FileCheck %s

// A 2-D parallel nest becomes one 1-D launch of 256-thread blocks: the
// block count comes from the trip counts on the host (clamped to
// [1, 65535]), and a grid-stride loop walks the linearised space with the
// innermost dimension fastest.
// CHECK-LABEL: func.func @nest
// CHECK:         memref.dim
// CHECK:         arith.subi %c64
// CHECK-NEXT:    arith.ceildivui
// CHECK:         %[[TOTAL:.*]] = arith.muli
// CHECK-NEXT:    %[[TOTAL:.*]] = arith.muli
// CHECK-NEXT:    %[[C256:.*]] = arith.constant 256 : index
// CHECK-NEXT:    %[[B:.*]] = arith.ceildivui %[[TOTAL]], %[[C256]]
// CHECK:         %[[B1:.*]] = arith.minui %[[B]]
// CHECK:         %[[B2:.*]] = arith.maxui %[[B1]]
// CHECK:         gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[B2]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]],
// CHECK:           scf.for %[[L:.*]] = %{{.*}} to %[[TOTAL]] step
// CHECK:             %[[J:.*]] = arith.remui %[[L]], %{{.*}}
// CHECK:             %[[I:.*]] = arith.divui %[[L]], %{{.*}}
// CHECK:             memref.load %{{.*}}[%{{.*}}, %{{.*}}]
// CHECK:             memref.store
// CHECK:           gpu.terminator
// CHECK-NOT:     scf.parallel
func.func @nest(%a: memref<?x64xf32>, %b: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %a, %c0 : memref<?x64xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c64) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<?x64xf32>
    %y = arith.addf %x, %x : f32
    memref.store %y, %b[%i, %j] : memref<?x64xf32>
    scf.reduce
  }
  return
}

// -----

// A sequential loop and a scalar store at the top level run as a
// one-thread kernel; the pure scale computed from host values stays on the
// host. A constant global read inside the kernel is cloned into it.
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
// CHECK-LABEL: func.func @serial
// CHECK:         %[[SCALE:.*]] = arith.mulf
// CHECK:         %[[ONE:.*]] = arith.constant 1 : index
// CHECK:         gpu.launch blocks({{.*}}) in ({{.*}} = %[[ONE]], {{.*}}) threads({{.*}}) in ({{.*}} = %[[ONE]],
// CHECK:           memref.get_global @table
// CHECK:           scf.for
// CHECK:           memref.store
// CHECK:           gpu.terminator
func.func @serial(%out: memref<f32>, %f: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %t = memref.get_global @table : memref<4xf32>
  %zero = arith.constant 0.0 : f32
  memref.store %zero, %out[] : memref<f32>
  %scale = arith.mulf %f, %f : f32
  scf.for %i = %c0 to %c4 step %c1 {
    %x = memref.load %t[%i] : memref<4xf32>
    %acc = memref.load %out[] : memref<f32>
    %y = arith.mulf %x, %scale : f32
    %s = arith.addf %acc, %y : f32
    memref.store %s, %out[] : memref<f32>
  }
  return
}

// -----

// A value computed on the device that the host needs (here an allocation
// size) is reported, not silently read from device memory.
func.func @host_needs_device_value(%m: memref<index>) -> memref<?xf32> {
  // expected-error @below {{computes a value on the GPU that the host needs}}
  %n = memref.load %m[] : memref<index>
  %a = memref.alloc(%n) : memref<?xf32>
  return %a : memref<?xf32>
}

// -----

// A host-side branch between launches (strata-tiled-matmuls' choice of
// kernel by row count) stays on the host: it is not wrapped into a
// one-thread kernel.
// CHECK-LABEL: func.func @dispatch
// CHECK:         scf.if %arg0 {
// CHECK-NEXT:      gpu.launch
// CHECK:         } else {
// CHECK-NEXT:      gpu.launch
// CHECK-NOT:     gpu.launch
func.func @dispatch(%many: i1, %x: memref<4xf32>) {
  %c1 = arith.constant 1 : index
  %cst = arith.constant 1.0 : f32
  scf.if %many {
    gpu.launch blocks(%b0, %b1, %b2) in (%g0 = %c1, %g1 = %c1, %g2 = %c1) threads(%t0, %t1, %t2) in (%s0 = %c1, %s1 = %c1, %s2 = %c1) {
      memref.store %cst, %x[%t0] : memref<4xf32>
      gpu.terminator
    }
  } else {
    gpu.launch blocks(%b0, %b1, %b2) in (%g0 = %c1, %g1 = %c1, %g2 = %c1) threads(%t0, %t1, %t2) in (%s0 = %c1, %s1 = %c1, %s2 = %c1) {
      memref.store %cst, %x[%b0] : memref<4xf32>
      gpu.terminator
    }
  }
  return
}

// -----

// Buffer deallocation's conditional frees (an entry returning several
// buffers frees those it does not return) are host code too: device
// memory is freed by the host, never inside a kernel.
// CHECK-LABEL: func.func @conditional_free
// CHECK:         scf.if %arg0 {
// CHECK-NEXT:      memref.dealloc %arg1
// CHECK-NOT:     gpu.launch
func.func @conditional_free(%free: i1, %x: memref<4xf32>) {
  scf.if %free {
    memref.dealloc %x : memref<4xf32>
  }
  return
}

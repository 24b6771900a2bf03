// RUN: strata-opt %s --strata-outline-parallel-loops --split-input-file | FileCheck %s

// An element-wise 2-D nest: the outer dimension is dispatched (the rows),
// the innermost stays a loop in each iteration so it still vectorises. The
// buffers are captured, the constants rebuilt inside; the cost is that of
// one row (3 ops x 64 columns).
// CHECK-LABEL: func.func @rows(
// CHECK-SAME:    %[[A:.*]]: memref<?x64xf32>, %[[B:.*]]: memref<?x64xf32>)
// CHECK:         %[[N:.*]] = memref.dim %[[A]]
// CHECK:         %[[TRIP:.*]] = arith.ceildivui
// CHECK:         %[[TOTAL:.*]] = arith.muli %{{.*}}, %[[TRIP]]
// CHECK:         call @rows_par0(%{{.*}}, %[[TOTAL]], %[[A]], %[[B]], %[[N]])
// CHECK-NOT:     scf.parallel
// CHECK:       func.func private @rows_par0(%[[BEGIN:.*]]: index, %[[END:.*]]: index, %[[A2:.*]]: memref<?x64xf32>, %[[B2:.*]]: memref<?x64xf32>, %{{.*}}: index)
// CHECK-SAME:    attributes {strata.parallel_cost = 192 : i64}
// CHECK-DAG:     arith.constant 64 : index
// CHECK:         scf.for %[[I:.*]] = %[[BEGIN]] to %[[END]]
// CHECK:           scf.parallel (%[[J:.*]]) =
// CHECK:             memref.load %[[A2]][%{{.*}}, %[[J]]]
// CHECK:             memref.store %{{.*}}, %[[B2]]
func.func @rows(%a: memref<?x64xf32>, %b: memref<?x64xf32>) {
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

// A nest whose body has a loop (a reduction per output) dispatches every
// parallel dimension, linearised; the cost counts the inner loop's trips
// (1 + 128 x 4).
// CHECK-LABEL: func.func @dots(
// CHECK:         call @dots_par0(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// CHECK:       func.func private @dots_par0(
// CHECK-SAME:    attributes {strata.parallel_cost = 513 : i64}
// CHECK:         scf.for %[[L:.*]] =
// CHECK:           %[[J:.*]] = arith.remui %[[L]]
// CHECK:           %[[I:.*]] = arith.divui %[[L]]
// CHECK:           scf.for
// CHECK-NOT:     scf.parallel
func.func @dots(%a: memref<8x16x128xf32>, %out: memref<8x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %c128 = arith.constant 128 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c8, %c16) step (%c1, %c1) {
    scf.for %k = %c0 to %c128 step %c1 {
      %x = memref.load %a[%i, %j, %k] : memref<8x16x128xf32>
      %acc = memref.load %out[%i, %j] : memref<8x16xf32>
      %s = arith.addf %acc, %x : f32
      memref.store %s, %out[%i, %j] : memref<8x16xf32>
    }
    scf.reduce
  }
  return
}

// -----

// Only top-level nests are outlined (the inner one runs inside each
// iteration), and parallel loops with reductions stay as they are.
// CHECK-LABEL: func.func @nested(
// CHECK:         call @nested_par0(
// CHECK:         scf.parallel {{.*}} -> f32
// CHECK:       func.func private @nested_par0(
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:             scf.parallel
// CHECK-NOT:   func.func private @nested_par1
func.func @nested(%a: memref<4x4xf32>, %r: memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    scf.for %k = %c0 to %c4 step %c1 {
      scf.parallel (%j) = (%c0) to (%c4) step (%c1) {
        %x = memref.load %a[%i, %j] : memref<4x4xf32>
        %y = arith.mulf %x, %x : f32
        memref.store %y, %a[%i, %j] : memref<4x4xf32>
        scf.reduce
      }
    }
    scf.reduce
  }
  %sum = scf.parallel (%i) = (%c0) to (%c4) step (%c1) init (%zero) -> f32 {
    %x = memref.load %a[%i, %c0] : memref<4x4xf32>
    scf.reduce(%x : f32) {
    ^bb0(%l: f32, %rr: f32):
      %s = arith.addf %l, %rr : f32
      scf.reduce.return %s : f32
    }
  }
  memref.store %sum, %r[] : memref<f32>
  return
}

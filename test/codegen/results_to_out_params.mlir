// RUN: strata-opt %s --strata-results-to-out-params --split-input-file | FileCheck %s

// Tests that a layer body's returned buffers become the caller's: the
// hidden state (sized by the body's input) and a cache grown by one row
// (sized by arithmetic on an argument's dimension) are allocated at each
// call site, with the sizes rebuilt from that call's operands; a returned
// argument is the caller's own operand; a scalar result stays a result.
// CHECK-LABEL: func.func private @layer(
// CHECK-SAME:    %[[X:[^:]*]]: memref<?x4xf32>, %[[CACHE:[^:]*]]: memref<?x4xf32>, %[[S:[^:]*]]: f32,
// CHECK-SAME:    %[[OUT:[^:]*]]: memref<?x4xf32>, %[[GROWN:[^:]*]]: memref<?x4xf32>) -> f32
// CHECK-NOT:     memref.alloc(
// CHECK:         linalg.fill ins(%[[S]] : f32) outs(%[[OUT]] : memref<?x4xf32>)
// CHECK:         linalg.fill ins(%[[S]] : f32) outs(%[[GROWN]] : memref<?x4xf32>)
// CHECK:         return %[[S]] : f32
// CHECK-LABEL: func.func @entry(
// CHECK-SAME:    %[[A:[^:]*]]: memref<?x4xf32>, %[[C:[^:]*]]: memref<?x4xf32>
// CHECK:         %[[N:.*]] = memref.dim %[[A]], %c0
// CHECK:         %[[B1:.*]] = memref.alloc(%[[N]]) {alignment = 64 : i64} : memref<?x4xf32>
// CHECK:         %[[T:.*]] = memref.dim %[[C]], %c0
// CHECK:         %[[T1:.*]] = arith.addi %[[T]], %c1
// CHECK:         %[[B2:.*]] = memref.alloc(%[[T1]]) {alignment = 64 : i64} : memref<?x4xf32>
// CHECK:         %[[R:.*]] = call @layer(%[[A]], %[[C]], %{{.*}}, %[[B1]], %[[B2]]) : ({{.*}}) -> f32
// The second call's sizes come from its own operands (the first's result).
// CHECK:         %[[N2:.*]] = memref.dim %[[B1]], %c0
// CHECK:         %[[B3:.*]] = memref.alloc(%[[N2]])
// CHECK:         call @layer(%[[B1]], %[[B2]], %[[R]], %[[B3]], %{{.*}})
// CHECK:         return %[[B3]], %[[C]]
func.func private @layer(%x: memref<?x4xf32>, %cache: memref<?x4xf32>, %s: f32) -> (memref<?x4xf32>, memref<?x4xf32>, f32, memref<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : memref<?x4xf32>
  %out = memref.alloc(%n) {alignment = 64 : i64} : memref<?x4xf32>
  linalg.fill ins(%s : f32) outs(%out : memref<?x4xf32>)
  %t = memref.dim %cache, %c0 : memref<?x4xf32>
  %t1 = arith.addi %t, %c1 : index
  %grown = memref.alloc(%t1) {alignment = 64 : i64} : memref<?x4xf32>
  linalg.fill ins(%s : f32) outs(%grown : memref<?x4xf32>)
  return %out, %grown, %s, %cache : memref<?x4xf32>, memref<?x4xf32>, f32, memref<?x4xf32>
}
func.func @entry(%a: memref<?x4xf32>, %c: memref<?x4xf32>) -> (memref<?x4xf32>, memref<?x4xf32>) {
  %s = arith.constant 1.0 : f32
  %r:4 = func.call @layer(%a, %c, %s) : (memref<?x4xf32>, memref<?x4xf32>, f32) -> (memref<?x4xf32>, memref<?x4xf32>, f32, memref<?x4xf32>)
  %q:4 = func.call @layer(%r#0, %r#1, %r#2) : (memref<?x4xf32>, memref<?x4xf32>, f32) -> (memref<?x4xf32>, memref<?x4xf32>, f32, memref<?x4xf32>)
  return %q#0, %r#3 : memref<?x4xf32>, memref<?x4xf32>
}

// -----

// Tests what stays a result: a buffer sized by a value loaded from memory
// (the caller cannot compute it), and a public function's results.
// CHECK-LABEL: func.func private @data_sized(
// CHECK-SAME:    -> memref<?xf32>
// CHECK:         memref.alloc(%{{.*}})
// CHECK:         call @data_sized(%{{.*}}) : (memref<1xindex>) -> memref<?xf32>
func.func private @data_sized(%sizes: memref<1xindex>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %n = memref.load %sizes[%c0] : memref<1xindex>
  %b = memref.alloc(%n) : memref<?xf32>
  return %b : memref<?xf32>
}
func.func @caller(%sizes: memref<1xindex>) -> memref<?xf32> {
  %r = func.call @data_sized(%sizes) : (memref<1xindex>) -> memref<?xf32>
  return %r : memref<?xf32>
}

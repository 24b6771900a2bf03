// RUN: strata-opt %s --split-input-file --strata-export-entry-points --verify-diagnostics | FileCheck %s

// Tests that public functions become the runtime's packed entry points
// (runtime/abi.h): one !llvm.ptr argument; argument i's descriptor is read
// through args[1 + i] just before its first use (only the two pointers of a
// static one, whose offset, sizes and strides come from its type); results
// are stored one after another through args[0] (3 + 2 * rank words each).
// A private function that every call passes a run of consecutive entry
// arguments (a layer's parameters) takes one pointer into args for the run
// instead, and loads each descriptor itself; other operands stay as they
// are, and so does a function whose calls do not agree on the runs.

// CHECK:       func.func @strata_entry_forward(%[[ARGS:.*]]: !llvm.ptr)
// CHECK-SAME:    attributes {strata.memory_plan = array<i64: 0, 0>}
// The token ids (dynamic): the whole descriptor.
// CHECK:         %[[S1:.*]] = llvm.getelementptr %[[ARGS]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    %[[D1:.*]] = llvm.load %[[S1]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT:    %[[V1:.*]] = llvm.load %[[D1]] : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK-NEXT:    %[[TOK:.*]] = builtin.unrealized_conversion_cast %[[V1]] : {{.*}} to memref<?x?xi32>
// CHECK-NEXT:    memref.dim %[[TOK]]
// Layer 0's parameters are arguments 2 and 3, layer 1's 4 and 5.
// CHECK:         %[[P0:.*]] = llvm.getelementptr %[[ARGS]][2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    call @layer(%{{.*}}, %[[P0]], %{{.*}}) : (memref<?x8xf32>, !llvm.ptr, memref<?x16xf32>) -> ()
// CHECK:         %[[P1:.*]] = llvm.getelementptr %[[ARGS]][4] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    call @layer(%{{.*}}, %[[P1]], %{{.*}}) : (memref<?x8xf32>, !llvm.ptr, memref<?x16xf32>) -> ()
// Argument 6 goes to @mixed, whose calls disagree: loaded here.
// CHECK:         llvm.getelementptr %[[ARGS]][6]
// CHECK:         %[[M:.*]] = builtin.unrealized_conversion_cast %{{.*}} to memref<4xf32>
// CHECK:         call @mixed(%[[M]]) : (memref<4xf32>) -> ()
// The two results: words 0 and 7 (a rank-2 descriptor is 7 words).
// CHECK:         %[[RES:.*]] = llvm.load %[[ARGS]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT:    %[[R0:.*]] = llvm.getelementptr %[[RES]][0] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK-NEXT:    %[[C0:.*]] = builtin.unrealized_conversion_cast %{{.*}} : memref<?x16xf32> to !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK-NEXT:    llvm.store %[[C0]], %[[R0]]
// CHECK-NEXT:    %[[R1:.*]] = llvm.getelementptr %[[RES]][7] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK-NEXT:    %[[C1:.*]] = builtin.unrealized_conversion_cast %{{.*}} : memref<f32> to !llvm.struct<(ptr, ptr, i64)>
// CHECK-NEXT:    llvm.store %[[C1]], %[[R1]]
// CHECK-NEXT:    return{{$}}

// The layer loads its weight (static: the two pointers) before first use.
// CHECK:       func.func private @layer(%{{.*}}: memref<?x8xf32>, %[[PS:.*]]: !llvm.ptr, %{{.*}}: memref<?x16xf32>)
// CHECK-NEXT:    %[[C:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[S:.*]] = llvm.getelementptr %[[PS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    %[[D:.*]] = llvm.load %[[S]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT:    %[[ALLOC:.*]] = llvm.load %[[D]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT:    %[[A:.*]] = llvm.getelementptr %[[D]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT:    %[[ALIGNED:.*]] = llvm.load %[[A]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT:    llvm.mlir.undef
// CHECK-NEXT:    llvm.insertvalue %[[ALLOC]], %{{.*}}[0]
// CHECK-NEXT:    llvm.insertvalue %[[ALIGNED]], %{{.*}}[1]
// CHECK-NEXT:    llvm.mlir.constant(0 : i64)
// CHECK-NEXT:    llvm.insertvalue %{{.*}}[2]
// CHECK-NEXT:    llvm.mlir.constant(16 : i64)
// CHECK-NEXT:    llvm.insertvalue %{{.*}}[3, 0]
// CHECK-NEXT:    llvm.mlir.constant(8 : i64)
// CHECK-NEXT:    llvm.insertvalue %{{.*}}[4, 0]
// CHECK-NEXT:    llvm.mlir.constant(8 : i64)
// CHECK-NEXT:    llvm.insertvalue %{{.*}}[3, 1]
// CHECK-NEXT:    llvm.mlir.constant(1 : i64)
// CHECK-NEXT:    %[[WV:.*]] = llvm.insertvalue %{{.*}}[4, 1]
// CHECK-NEXT:    %[[W:.*]] = builtin.unrealized_conversion_cast %[[WV]] : {{.*}} to memref<16x8xf32>
// CHECK-NEXT:    memref.load %[[W]]
// CHECK:       func.func private @mixed(%{{.*}}: memref<4xf32>)
func.func @forward(%tok: memref<?x?xi32>, %w0: memref<16x8xf32>, %b0: memref<16xf32>,
                   %w1: memref<16x8xf32>, %b1: memref<16xf32>, %v: memref<4xf32>)
    -> (memref<?x16xf32>, memref<f32>) attributes {strata.memory_plan = array<i64: 0, 0>} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = memref.dim %tok, %c0 : memref<?x?xi32>
  %s = memref.dim %tok, %c1 : memref<?x?xi32>
  %n = arith.muli %b, %s : index
  %x = memref.alloc(%n) : memref<?x8xf32>
  %y = memref.alloc(%n) : memref<?x16xf32>
  call @layer(%x, %w0, %b0, %y) : (memref<?x8xf32>, memref<16x8xf32>, memref<16xf32>, memref<?x16xf32>) -> ()
  call @layer(%x, %w1, %b1, %y) : (memref<?x8xf32>, memref<16x8xf32>, memref<16xf32>, memref<?x16xf32>) -> ()
  call @mixed(%v) : (memref<4xf32>) -> ()
  memref.dealloc %x : memref<?x8xf32>
  %l = memref.alloc() : memref<f32>
  %t = memref.alloc() : memref<4xf32>
  call @mixed(%t) : (memref<4xf32>) -> ()
  return %y, %l : memref<?x16xf32>, memref<f32>
}
func.func private @layer(%x: memref<?x8xf32>, %w: memref<16x8xf32>, %bias: memref<16xf32>, %y: memref<?x16xf32>) {
  %c0 = arith.constant 0 : index
  %e = memref.load %w[%c0, %c0] : memref<16x8xf32>
  memref.store %e, %bias[%c0] : memref<16xf32>
  return
}
func.func private @mixed(%v: memref<4xf32>) {
  return
}

// -----

// expected-error @+1 {{'func.func' op entry point argument #1 has type 'index'; the runtime passes only ranked memrefs}}
func.func @forward(%tok: memref<?x?xi32>, %pos: index) {
  return
}

// -----

// expected-error @+1 {{'func.func' op is an entry point and is also called inside the module; entry points must be roots}}
func.func @forward(%tok: memref<?x?xi32>) {
  return
}
func.func @loss(%tok: memref<?x?xi32>) {
  call @forward(%tok) : (memref<?x?xi32>) -> ()
  return
}

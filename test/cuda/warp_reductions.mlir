// RUN: strata-opt %s --strata-warp-reductions --split-input-file | FileCheck %s

// x·Wᵀ reduces along the contiguous dimension of both inputs: one warp per
// output, lanes striding the reduction, a shuffle butterfly, and lane 0
// folding in the initial value.
// CHECK-LABEL: func.func @linear
// CHECK:         gpu.launch
// CHECK-SAME:      threads({{.*}}) in ({{.*}} = %c256
// CHECK:           %[[LANE:.*]] = arith.remui %{{.*}}, %c32
// CHECK:           scf.for %[[O:.*]] = {{.*}} {
// CHECK:             %[[P:.*]] = scf.for %[[K:.*]] = %[[LANE]] to %c64 step %c32 iter_args(%{{.*}} = %cst{{.*}}) -> (f32) {
// CHECK:               memref.load %{{.*}}[%{{.*}}, %[[K]]] : memref<?x64xf32>
// CHECK:               memref.load %{{.*}}[%{{.*}}, %[[K]]] : memref<16x64xf32>
// CHECK:               arith.mulf
// CHECK:               arith.addf
// CHECK-COUNT-5:     gpu.shuffle xor
// CHECK:             scf.if
// CHECK:               memref.load %{{.*}} : memref<?x16xf32>
// CHECK:               arith.addf
// CHECK:               memref.store
// CHECK-NOT:     linalg.generic
#lhs = affine_map<(m, n, k) -> (m, k)>
#rhs = affine_map<(m, n, k) -> (n, k)>
#out = affine_map<(m, n, k) -> (m, n)>
func.func @linear(%x: memref<?x64xf32>, %w: memref<16x64xf32>, %y: memref<?x16xf32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #out],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<16x64xf32>) outs(%y : memref<?x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A·B with B row-major reads B with a stride along the reduction: left to
// the thread-per-output mapping. A max reduction is matched with -inf.
// CHECK-LABEL: func.func @strided_and_max
// CHECK:         linalg.matmul
// CHECK:         gpu.launch
// CHECK:           arith.constant 0xFF800000 : f32
// CHECK:           arith.maximumf
// CHECK:           gpu.shuffle xor
func.func @strided_and_max(%a: memref<8x64xf32>, %b: memref<64x8xf32>, %c: memref<8x8xf32>, %m: memref<8xf32>) {
  linalg.matmul ins(%a, %b : memref<8x64xf32>, memref<64x8xf32>) outs(%c : memref<8x8xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, k) -> (i, k)>, affine_map<(i, k) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<8x64xf32>) outs(%m : memref<8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %r = arith.maximumf %acc, %v : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// The fill that initialises a fresh output is folded into the kernel: lane
// 0 combines with the fill value instead of a fill launch and a load.
// CHECK-LABEL: func.func @folded_fill
// CHECK-NOT:     linalg.fill
// CHECK:         gpu.launch
// CHECK:           scf.if
// CHECK-NOT:           memref.load
// CHECK:               %[[S:.*]] = arith.addf %arg2, %{{.*}} : f32
// CHECK-NEXT:          memref.store %[[S]], %{{.*}}[
func.func @folded_fill(%x: memref<4x64xf32>, %w: memref<16x64xf32>, %init: f32) -> memref<4x16xf32> {
  %y = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%init : f32) outs(%y : memref<4x16xf32>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<4x64xf32>, memref<16x64xf32>) outs(%y : memref<4x16xf32>)
  return %y : memref<4x16xf32>
}

// -----

// The fill is folded too when a later kernel (a launch built by an earlier
// pass) reads the output inside its body.
// CHECK-LABEL: func.func @folded_fill_read_later
// CHECK-NOT:     linalg.fill
// CHECK:         gpu.launch
// CHECK:           arith.addf %arg2,
// CHECK:         gpu.launch
// CHECK:           memref.load %[[Y:.*]][
func.func @folded_fill_read_later(%x: memref<4x64xf32>, %w: memref<16x64xf32>, %init: f32, %out: memref<4x16xf32>) -> memref<4x16xf32> {
  %y = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%init : f32) outs(%y : memref<4x16xf32>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<4x64xf32>, memref<16x64xf32>) outs(%y : memref<4x16xf32>)
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %c0 = arith.constant 0 : index
    %v = memref.load %y[%c0, %c0] : memref<4x16xf32>
    memref.store %v, %out[%c0, %c0] : memref<4x16xf32>
    gpu.terminator
  }
  return %y : memref<4x16xf32>
}

// -----

// RMSNorm's scaling joins the sum of squares' kernel as a row epilogue:
// every lane combines the row's total with the fill value, lane 0 still
// stores it, and the lanes stride the row writing x * rsqrt(mean + eps) * g.
// The output's allocation moves ahead of the launch; one launch remains.
// CHECK-LABEL: func.func @rmsnorm_epilogue
// CHECK:         %[[Y:.*]] = memref.alloc(%{{.*}}) : memref<?x96xf32>
// CHECK:         gpu.launch
// CHECK:           scf.for %[[ROW:.*]] = %{{.*}} to
// CHECK-COUNT-5:     gpu.shuffle  xor
// CHECK:             %[[TOTAL:.*]] = arith.addf %cst, %{{.*}}
// CHECK:             scf.if
// CHECK-NEXT:          memref.store %[[TOTAL]], %{{.*}}[%[[ROW]]]
// CHECK:             scf.if
// CHECK-NEXT:          scf.for %[[J:.*]] = %{{.*}} to %c96 step %c32 {
// CHECK:                 memref.load %arg0[%[[ROW]], %[[J]]]
// CHECK:                 arith.divf %[[TOTAL]]
// CHECK:                 math.rsqrt
// CHECK:                 memref.store %{{.*}}, %[[Y]][%[[ROW]], %[[J]]]
// CHECK-NOT:     gpu.launch
// CHECK-NOT:     linalg.generic
// CHECK:         return %[[Y]]
func.func @rmsnorm_epilogue(%x: memref<?x96xf32>, %g: memref<96xf32>) -> memref<?x96xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x96xf32>
  %ss = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%ss : memref<?xf32>)
  linalg.generic {indexing_maps = [affine_map<(r, d) -> (r, d)>, affine_map<(r, d) -> (r)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x96xf32>) outs(%ss : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %sq = arith.mulf %a, %a : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  %y = memref.alloc(%n) : memref<?x96xf32>
  linalg.generic {indexing_maps = [affine_map<(r, d) -> (r, d)>, affine_map<(r, d) -> (r)>, affine_map<(r, d) -> (d)>, affine_map<(r, d) -> (r, d)>], iterator_types = ["parallel", "parallel"]}
      ins(%x, %ss, %g : memref<?x96xf32>, memref<?xf32>, memref<96xf32>) outs(%y : memref<?x96xf32>) {
  ^bb0(%a: f32, %s: f32, %gw: f32, %o: f32):
    %dim = arith.constant 96.0 : f32
    %eps = arith.constant 1.0e-6 : f32
    %mean = arith.divf %s, %dim : f32
    %me = arith.addf %mean, %eps : f32
    %r = math.rsqrt %me : f32
    %t = arith.mulf %a, %r : f32
    %u = arith.mulf %t, %gw : f32
    linalg.yield %u : f32
  }
  return %y : memref<?x96xf32>
}

// -----

// An epilogue that reads the reduced buffer other than at its leading
// indices (here transposed: another warp's row) is not joined.
// CHECK-LABEL: func.func @not_an_epilogue
// CHECK:         gpu.launch
// CHECK:         linalg.generic
func.func @not_an_epilogue(%x: memref<64x64xf32>, %ss: memref<64xf32>, %y: memref<64x64xf32>) {
  linalg.generic {indexing_maps = [affine_map<(r, d) -> (r, d)>, affine_map<(r, d) -> (r)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x64xf32>) outs(%ss : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(r, d) -> (d)>, affine_map<(r, d) -> (r, d)>], iterator_types = ["parallel", "parallel"]}
      ins(%ss : memref<64xf32>) outs(%y : memref<64x64xf32>) {
  ^bb0(%s: f32, %o: f32):
    linalg.yield %s : f32
  }
  return
}

// -----

// An i32 sum of int8 products (a quantized decode step's x·Wᵀ): integer
// shuffles, 0 as the identity.
// CHECK-LABEL: func.func @int8_rows
// CHECK:         gpu.launch
// CHECK:           arith.constant 0 : i32
// CHECK:           arith.extsi
// CHECK:           arith.muli
// CHECK-COUNT-5:   gpu.shuffle xor {{.*}} : i32
// CHECK-NOT:     linalg.generic
func.func @int8_rows(%x: memref<2x64xi8>, %w: memref<16x64xi8>, %y: memref<2x16xi32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<2x64xi8>, memref<16x64xi8>) outs(%y : memref<2x16xi32>) {
  ^bb0(%a: i8, %b: i8, %acc: i32):
    %ea = arith.extsi %a : i8 to i32
    %eb = arith.extsi %b : i8 to i32
    %m = arith.muli %ea, %eb : i32
    %s = arith.addi %acc, %m : i32
    linalg.yield %s : i32
  }
  return
}

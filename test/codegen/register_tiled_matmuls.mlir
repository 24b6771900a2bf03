// RUN: strata-opt %s --strata-register-tiled-matmuls=vector-bits=512 --split-input-file | FileCheck %s
// RUN: strata-opt %s --strata-register-tiled-matmuls=vector-bits=128 --split-input-file | FileCheck %s --check-prefix=SSE

// A linear layer x·Wᵀ over [B, S, K]: A and C are viewed as [B·S, K] and
// [B·S, N]; 4 x 4 tiles of 16-lane accumulators with AVX-512 (4 rows of x
// and 4 of W loaded per step, 16 FMAs), rows past the last full tile in
// 1 x 4 tiles. Each row's four accumulators are summed across lanes
// together by pairwise-add shuffles (16 -> 4 lanes) and added to C with one
// vector load and store.
// CHECK-LABEL: func.func @linear(
// CHECK-SAME:    %[[X:.*]]: memref<?x?x64xf32>, %[[W:.*]]: memref<32x64xf32>, %[[C:.*]]: memref<?x?x32xf32>)
// CHECK:         %[[A:.*]] = memref.collapse_shape %[[X]] {{\[}}[0, 1], [2]]
// CHECK:         %[[C2:.*]] = memref.collapse_shape %[[C]] {{\[}}[0, 1], [2]]
// CHECK:         %[[ROWS:.*]] = memref.dim %[[A]], %c0
// CHECK:         %[[TILES:.*]] = arith.ceildivui %[[ROWS]], %c4
// CHECK:         scf.parallel (%[[PT:.*]], %[[NT:.*]]) = (%c0{{.*}}, %c0{{.*}}) to (%[[TILES]], %c8)
// CHECK:           scf.if
// CHECK:             scf.for %{{.*}} = %c0{{.*}} to %c64 step %c16{{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-4:       vector.load %[[A]]
// CHECK-COUNT-4:       vector.load %[[W]]
// CHECK-COUNT-16:      vector.fma
// CHECK:             vector.shuffle {{.*}} [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30] : vector<16xf32>, vector<16xf32>
// CHECK:             %[[SUMS:.*]] = vector.extract_strided_slice %{{.*}} {offsets = [0], sizes = [4], strides = [1]} : vector<16xf32> to vector<4xf32>
// CHECK:             %[[OLD:.*]] = vector.load %[[C2]]{{.*}} : memref<?x32xf32>, vector<4xf32>
// CHECK:             %[[NEW:.*]] = arith.addf %[[OLD]], %[[SUMS]] : vector<4xf32>
// CHECK:             vector.store %[[NEW]], %[[C2]]
// CHECK:           } else {
// CHECK:             scf.for
// CHECK:               scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-NOT:     linalg.generic
// SSE-LABEL: func.func @linear(
// SSE:         scf.for {{.*}} step %c4{{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// SSE-COUNT-8:   vector.fma
// SSE-NOT:       vector.extract_strided_slice
// SSE:           vector.store {{.*}} vector<4xf32>
#x = affine_map<(b, s, n, k) -> (b, s, k)>
#w = affine_map<(b, s, n, k) -> (n, k)>
#c = affine_map<(b, s, n, k) -> (b, s, n)>
func.func @linear(%x: memref<?x?x64xf32>, %w: memref<32x64xf32>, %c: memref<?x?x32xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x?x64xf32>, memref<32x64xf32>) outs(%c : memref<?x?x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Left alone: a reduction that is not a multiple of the vector width, W
// not static, or A·B (W read along its rows).
// CHECK-LABEL: func.func @not_tiled(
// CHECK-NOT:     vector.fma
// CHECK-COUNT-3: linalg.generic
#a2 = affine_map<(m, n, k) -> (m, k)>
#w2 = affine_map<(m, n, k) -> (n, k)>
#b2 = affine_map<(m, n, k) -> (k, n)>
#c2 = affine_map<(m, n, k) -> (m, n)>
func.func @not_tiled(%a: memref<?x60xf32>, %w: memref<32x60xf32>, %c: memref<?x32xf32>, %wd: memref<?x64xf32>, %a64: memref<?x64xf32>, %b: memref<64x32xf32>) {
  linalg.generic {indexing_maps = [#a2, #w2, #c2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : memref<?x60xf32>, memref<32x60xf32>) outs(%c : memref<?x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#a2, #w2, #c2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a64, %wd : memref<?x64xf32>, memref<?x64xf32>) outs(%c : memref<?x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#a2, #b2, #c2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a64, %b : memref<?x64xf32>, memref<64x32xf32>) outs(%c : memref<?x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

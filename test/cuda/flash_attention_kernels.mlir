// RUN: strata-opt %s --strata-flash-attention-kernels --canonicalize --split-input-file | FileCheck %s
// RUN: strata-opt %s --strata-flash-attention-kernels=warps-per-block=8 --split-input-file | FileCheck %s --check-prefix=WARPS

// Tests that flash attention becomes one launch with a warp per (batch,
// head, query) row: 128-thread blocks of 4 warps, a grid-stride loop over
// rows, the lane's query element loaded once (clamped and zeroed past the
// head dim of 16), the keys a loop carrying max, sum and the lane's one
// accumulator, each score a fused multiply-add reduced by five xor
// shuffles, padding tested per key (uniform in the warp), and lanes
// holding a value element (8 of 32) storing acc / sum.
// CHECK-LABEL: func.func @flash(
// CHECK:         gpu.launch blocks({{.*}}) in ({{.*}}) threads({{.*}}) in (%{{.*}} = %c128, %{{.*}} = %c1, %{{.*}} = %c1)
// CHECK:           %[[LANE:.*]] = arith.remui %{{.*}}, %c32
// CHECK:           scf.for %[[ROW:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:             %[[QI:.*]] = arith.minui %[[LANE]], %c15
// CHECK:             %[[QL:.*]] = memref.load %arg0[%{{.*}}, %{{.*}}, %{{.*}}, %[[QI]]]
// CHECK:             %[[Q:.*]] = arith.select %{{.*}}, %[[QL]], %cst
// CHECK:             %[[ST:.*]]:3 = scf.for %{{.*}} iter_args(%{{.*}} = %cst{{.*}}, %{{.*}} = %cst{{.*}}, %{{.*}} = %cst{{.*}}) -> (f32, f32, f32)
// CHECK:               scf.if %{{.*}} -> (f32, f32, f32)
// CHECK:                 math.fma %[[Q]], %{{.*}}, %cst
// CHECK-COUNT-5:         gpu.shuffle  xor
// CHECK:                 math.exp
// CHECK-NOT:             math.exp
// CHECK:                 math.fma
// CHECK:             %[[OUT:.*]] = arith.divf %[[ST]]#2, %[[ST]]#1
// CHECK:             scf.if %{{.*}} {
// CHECK-NEXT:          memref.store %[[OUT]], %arg4
// WARPS-LABEL: func.func @flash(
// WARPS:         %[[T:.*]] = arith.constant 256 : index
// WARPS:         gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %[[T]],
func.func @flash(%q: memref<?x?x4x16xf32>, %k: memref<?x?x2x16xf32>, %v: memref<?x?x2x8xf32>, %pad: memref<?xi32>, %out: memref<?x?x4x8xf32>) {
  strata.flash_attention %q, %k, %v key_padding(%pad : memref<?xi32>) into %out {causal = true, window = 4, scale = 0.25 : f64} : memref<?x?x4x16xf32>, memref<?x?x2x16xf32>, memref<?x?x2x8xf32>, memref<?x?x4x8xf32>
  return
}

// -----

// Tests that a head dim of 128 gives each lane four query elements and
// four accumulators in registers (no clamping: 128 is a multiple of 32),
// and that a plain causal mask needs no per-key test.
// CHECK-LABEL: func.func @flash_d128(
// CHECK:         gpu.launch
// CHECK-NOT:       arith.minui %{{.*}}, %c127
// CHECK:           scf.for %{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32)
// CHECK-NOT:         scf.if
// CHECK-COUNT-4:     math.fma
// CHECK-COUNT-5:     gpu.shuffle  xor
// CHECK-COUNT-4:   memref.store
func.func @flash_d128(%q: memref<1x?x8x128xf32>, %out: memref<1x?x8x128xf32>) {
  strata.flash_attention %q, %q, %q into %out {causal = true, scale = 0.088 : f64} : memref<1x?x8x128xf32>, memref<1x?x8x128xf32>, memref<1x?x8x128xf32>, memref<1x?x8x128xf32>
  return
}

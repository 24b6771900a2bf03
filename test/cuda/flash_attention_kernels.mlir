// RUN: strata-opt %s --strata-flash-attention-kernels --canonicalize --split-input-file | FileCheck %s
// RUN: strata-opt %s --strata-flash-attention-kernels=warps-per-block=8 --split-input-file | FileCheck %s --check-prefix=WARPS
// RUN: strata-opt %s --strata-flash-attention-kernels=tensor-cores=true --canonicalize --split-input-file | FileCheck %s --check-prefix=TC

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
  strata_kernel.flash_attention %q, %k, %v key_padding(%pad : memref<?xi32>) into %out {causal = true, window = 4, scale = 0.25 : f64} : memref<?x?x4x16xf32>, memref<?x?x2x16xf32>, memref<?x?x2x8xf32>, memref<?x?x4x8xf32>
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
  strata_kernel.flash_attention %q, %q, %q into %out {causal = true, scale = 0.088 : f64} : memref<1x?x8x128xf32>, memref<1x?x8x128xf32>, memref<1x?x8x128xf32>, memref<1x?x8x128xf32>
  return
}

// -----

// Tests the tensor-core kernel: with a dynamic query count the host
// chooses it from 16 queries on (a warp's rows) and the warp kernel below;
// 4-warp blocks stage K as [64 keys][64 + 8] and V transposed as
// [32][64 + 8] bf16 tiles between two barriers per key tile; per warp,
// q·kᵀ is 8 score tiles of 4 mma.sync steps (head dim 64), rows' maxima
// and sums combine over a quad (xor 1, 2), and P·V is 4 value tiles of 4
// key steps; rows past the last query are not stored.
// TC-LABEL: func.func @flash_tc(
// TC:         %[[S:.*]] = memref.dim %arg0, %c1
// TC:         %[[MANY:.*]] = arith.cmpi uge, %[[S]], %c16
// TC:         scf.if %[[MANY]] {
// TC:           gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c128, %{{.*}} = %c1, %{{.*}} = %c1) workgroup(%[[KT:.*]] : memref<64x72xbf16, #gpu.address_space<workgroup>>, %[[VT:.*]] : memref<32x72xbf16, #gpu.address_space<workgroup>>)
// TC:             scf.for
// TC-COUNT-16:      arith.truncf %{{.*}} : f32 to bf16
// TC:               scf.for {{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// TC:                 memref.store %{{.*}}, %[[KT]]
// TC:                 memref.store %{{.*}}, %[[VT]]
// TC:                 gpu.barrier
// TC-COUNT-32:        nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>
// TC:                 gpu.shuffle  xor %{{.*}}, %c1_i32, %c32_i32
// TC:                 gpu.shuffle  xor %{{.*}}, %c2_i32, %c32_i32
// TC:                 math.exp
// TC-COUNT-16:        nvvm.mma.sync
// TC:                 gpu.barrier
// TC:               gpu.shuffle  xor
// TC:               gpu.shuffle  xor
// TC:               scf.if
// TC-COUNT-8:         memref.store %{{.*}}, %arg3
// TC:         } else {
// TC:           gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c128,
// TC-NOT:         nvvm.mma.sync
// TC:             gpu.shuffle  xor
func.func @flash_tc(%q: memref<?x?x4x64xf32>, %k: memref<?x?x2x64xf32>, %v: memref<?x?x2x32xf32>, %out: memref<?x?x4x32xf32>) {
  strata_kernel.flash_attention %q, %k, %v into %out {causal = true, scale = 0.125 : f64} : memref<?x?x4x64xf32>, memref<?x?x2x64xf32>, memref<?x?x2x32xf32>, memref<?x?x4x32xf32>
  return
}

// -----

// Tests that the tensor-core kernel is left out where it does not apply:
// a single query (decode), a head dim that is not a whole mma step (12),
// and tiles past 48 KiB of shared memory (head dims 256): the warp kernel
// runs, with no host-side choice.
// TC-LABEL: func.func @flash_no_tc(
// TC-NOT:     nvvm.mma.sync
// TC-NOT:     scf.if
// TC-COUNT-3: gpu.launch
// TC-NOT:     nvvm.mma.sync
// TC:         return
func.func @flash_no_tc(%q1: memref<2x1x4x64xf32>, %k: memref<2x?x4x64xf32>, %o1: memref<2x1x4x64xf32>,
                       %q12: memref<1x?x4x12xf32>, %o12: memref<1x?x4x12xf32>,
                       %q256: memref<1x64x2x256xf32>, %o256: memref<1x64x2x256xf32>) {
  strata_kernel.flash_attention %q1, %k, %k into %o1 {causal = true, scale = 0.125 : f64} : memref<2x1x4x64xf32>, memref<2x?x4x64xf32>, memref<2x?x4x64xf32>, memref<2x1x4x64xf32>
  strata_kernel.flash_attention %q12, %q12, %q12 into %o12 {causal = true, scale = 0.3 : f64} : memref<1x?x4x12xf32>, memref<1x?x4x12xf32>, memref<1x?x4x12xf32>, memref<1x?x4x12xf32>
  strata_kernel.flash_attention %q256, %q256, %q256 into %o256 {causal = false, scale = 0.06 : f64} : memref<1x64x2x256xf32>, memref<1x64x2x256xf32>, memref<1x64x2x256xf32>, memref<1x64x2x256xf32>
  return
}

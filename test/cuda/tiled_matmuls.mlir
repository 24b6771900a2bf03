// RUN: strata-opt %s --strata-tiled-matmuls --split-input-file | FileCheck %s
// RUN: strata-opt %s --strata-tiled-matmuls=tensor-cores --split-input-file | FileCheck %s --check-prefix=TC

// With tensor-cores: 4 warps (128 threads) per 64x64 tile, both operands
// staged as bf16 [64][16] tiles (rows padded to 24; k contiguous: A as
// [m][k], B as [n][k])
// after bounds-checked loads, then per warp 2x4 nvvm.mma.sync m16n8k16
// (bf16 x bf16 -> f32) on fragment registers that pack two bf16 each,
// 32 f32 accumulators carried along k, and 32 bounds-checked stores.
// TC-LABEL: func.func @mm
// TC:         gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c128, {{.*}}) workgroup(%[[AT:.*]] : memref<64x24xbf16, #gpu.address_space<workgroup>>, %[[BT:.*]] : memref<64x24xbf16, #gpu.address_space<workgroup>>)
// TC:           scf.for %{{.*}} = %c0{{.*}} to %c33 step %c16{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// TC:             %[[A:.*]] = arith.truncf %{{.*}} : f32 to bf16
// TC:             memref.store %[[A]], %[[AT]]
// TC:             memref.store %{{.*}}, %[[BT]]
// TC:             gpu.barrier
// TC:             arith.bitcast %{{.*}} : bf16 to i16
// TC:             arith.shli %{{.*}}, %c16_i32
// TC-COUNT-8:     nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// TC:             gpu.barrier
// TC-COUNT-32:  memref.store %{{.*}}, %arg2

// A·B (odd sizes): 64x64 output tiles, two 16x64 (padded to 66)
// workgroup tiles staged with bounds-checked loads between barriers, a 4x4
// register block per thread (16 fma per k), bounds-checked C += acc.
// Grid y is capped at 65535 and blocks stride over further row tiles.
// CHECK-LABEL: func.func @mm
// CHECK-DAG:     arith.ceildivui %c50, %c64
// CHECK-DAG:     %[[ROWTILES:.*]] = arith.ceildivui %c70, %c64
// CHECK-DAG:     arith.minui %[[ROWTILES]], %c65535
// CHECK:         gpu.launch blocks(%{{.*}}, %[[BY:.*]], %{{.*}}) in (%{{.*}} = %{{.*}}, %[[GY:.*]] = %{{.*}}, %{{.*}} = %{{.*}}) threads({{.*}}) in ({{.*}} = %c256, {{.*}}) workgroup(%[[AT:.*]] : memref<16x66xf32, #gpu.address_space<workgroup>>, %[[BT:.*]] : memref<16x66xf32, #gpu.address_space<workgroup>>)
// CHECK:           scf.for %{{.*}} = %[[BY]] to %[[ROWTILES]] step %[[GY]]
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c33 step %c16{{.*}} iter_args
// CHECK:             scf.if
// CHECK:               memref.load %arg0
// CHECK:             memref.store %{{.*}}, %[[AT]]
// CHECK:             memref.load %arg1
// CHECK:             memref.store %{{.*}}, %[[BT]]
// CHECK:             gpu.barrier
// CHECK:             scf.for
// CHECK-COUNT-16:      math.fma
// CHECK:             gpu.barrier
// CHECK-COUNT-16:  memref.store %{{.*}}, %arg2
// CHECK-NOT:     linalg.matmul
func.func @mm(%a: memref<70x33xf32>, %b: memref<33x50xf32>, %c: memref<70x50xf32>) {
  linalg.matmul ins(%a, %b : memref<70x33xf32>, memref<33x50xf32>) outs(%c : memref<70x50xf32>)
  return
}

// -----

// Batched (the batch is the grid's z, clamped to 65535 with the blocks
// striding over the rest) and dynamic sizes.
// CHECK-LABEL: func.func @bmm
// CHECK:         %[[B:.*]] = memref.dim %arg0, %c0
// CHECK:         %[[Z:.*]] = arith.muli %c1{{.*}}, %[[B]]
// CHECK:         arith.minui %[[Z]], %c65535
// CHECK:         gpu.launch blocks(%{{.*}}, %{{.*}}, %[[BZ:.*]]) in (%{{.*}}, %{{.*}}, %[[GZ:.*]] = %{{.*}}) threads
// CHECK:           scf.for %{{.*}} = %[[BZ]] to %[[Z]] step %[[GZ]] {
// CHECK-NOT:     linalg.batch_matmul
func.func @bmm(%a: memref<?x?x8xf32>, %b: memref<?x8x?xf32>, %c: memref<?x?x?xf32>) {
  linalg.batch_matmul ins(%a, %b : memref<?x?x8xf32>, memref<?x8x?xf32>) outs(%c : memref<?x?x?xf32>)
  return
}

// -----

// x·Wᵀ with 4 rows (a decode step's few) is left to
// strata-warp-reductions, with or without tensor cores.
// CHECK-LABEL: func.func @nt
// CHECK:         linalg.matmul
// CHECK-NOT:     gpu.launch
// TC-LABEL: func.func @nt
// TC:         linalg.matmul
// TC-NOT:     gpu.launch
func.func @nt(%x: memref<4x8xf32>, %w: memref<16x8xf32>, %y: memref<4x16xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<4x8xf32>, memref<16x8xf32>) outs(%y : memref<4x16xf32>)
  return
}

// -----

// x·Wᵀ with a dynamic row count: a host-side branch between the tile
// kernel (16 rows or more; W staged k-fastest) and one warp per output
// (fewer rows: decode).
// CHECK-LABEL: func.func @linear
// CHECK:         %[[M:.*]] = memref.dim %arg0, %c0
// CHECK:         %[[MANY:.*]] = arith.cmpi uge, %[[M]], %c16
// CHECK:         scf.if %[[MANY]] {
// CHECK:           gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256, {{.*}}) workgroup(%{{.*}} : memref<16x66xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<16x66xf32, #gpu.address_space<workgroup>>)
// CHECK:             memref.load %arg1[
// CHECK-COUNT-16:    math.fma
// CHECK:         } else {
// CHECK:           gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256,
// CHECK-COUNT-5:     gpu.shuffle  xor
// CHECK:         }
// CHECK-NOT:     linalg.matmul
// TC-LABEL: func.func @linear
// TC:         %[[M:.*]] = memref.dim %arg0, %c0
// TC:         %[[MANY:.*]] = arith.cmpi uge, %[[M]], %c16
// TC:         scf.if %[[MANY]] {
// TC:           gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c128, {{.*}}) workgroup(
// TC-COUNT-8:     nvvm.mma.sync
// TC:         } else {
// TC:           gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256,
// TC-COUNT-5:     gpu.shuffle  xor
// TC:         }
// TC-NOT:     linalg.matmul
func.func @linear(%x: memref<?x64xf32>, %w: memref<32x64xf32>, %y: memref<?x32xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x64xf32>, memref<32x64xf32>) outs(%y : memref<?x32xf32>)
  return
}

// -----

// x·Wᵀ with 64 static rows (a prefill): tiles only, no branch.
// CHECK-LABEL: func.func @linear_rows
// CHECK-NOT:     scf.if
// CHECK:         gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256, {{.*}}) workgroup(
// CHECK-NOT:     gpu.shuffle
// CHECK-NOT:     linalg.matmul
func.func @linear_rows(%x: memref<64x64xf32>, %w: memref<32x64xf32>, %y: memref<64x32xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<64x64xf32>, memref<32x64xf32>) outs(%y : memref<64x32xf32>)
  return
}

// -----

// Both kernels behind the branch start from the output's fill, which is
// then erased (no fill launch per linear layer).
// CHECK-LABEL: func.func @linear_fill
// CHECK-NOT:     linalg.fill
// CHECK:         scf.if
// CHECK:           gpu.launch {{.*}} workgroup(
// CHECK:             arith.addf %arg2,
// CHECK:         } else {
// CHECK:           gpu.launch
// CHECK:             arith.addf %arg2,
// CHECK-NOT:     linalg.fill
func.func @linear_fill(%x: memref<?x64xf32>, %w: memref<32x64xf32>, %init: f32) -> memref<?x32xf32> {
  %c0 = arith.constant 0 : index
  %m = memref.dim %x, %c0 : memref<?x64xf32>
  %y = memref.alloc(%m) : memref<?x32xf32>
  linalg.fill ins(%init : f32) outs(%y : memref<?x32xf32>)
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x64xf32>, memref<32x64xf32>) outs(%y : memref<?x32xf32>)
  return %y : memref<?x32xf32>
}

// -----

// int8 x int8 summed into i32 (a w8a8 linear layer): the integer tiles.
// Without tensor cores, int8 staged as i32 [16][66] tiles and exact i32
// multiply-adds (no fma, no float); with them, [64][48] int8 tiles (32 k
// per step, rows padded to 48 bytes), fragment registers packing four
// bytes, and s8 mma.sync m16n8k32 into i32 accumulators (wrapping, as
// the CPU's i32 sums), C += acc with integer adds.
// CHECK-LABEL: func.func @linear_i8
// CHECK:         gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256, {{.*}}) workgroup(%[[AT:.*]] : memref<16x66xi32, #gpu.address_space<workgroup>>, %{{.*}} : memref<16x66xi32, #gpu.address_space<workgroup>>)
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c72 step %c16{{.*}} -> (i32, i32,
// CHECK:             arith.extsi %{{.*}} : i8 to i32
// CHECK:             memref.store %{{.*}}, %[[AT]]
// CHECK:             gpu.barrier
// CHECK-COUNT-16:      arith.muli
// CHECK-NOT:           math.fma
// CHECK:             gpu.barrier
// CHECK:           arith.addi %{{.*}} : i32
// CHECK:           memref.store %{{.*}}, %arg2{{.*}} : memref<32x70xi32>
// TC-LABEL: func.func @linear_i8
// TC:         gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c128, {{.*}}) workgroup(%[[AT:.*]] : memref<64x48xi8, #gpu.address_space<workgroup>>, %[[BT:.*]] : memref<64x48xi8, #gpu.address_space<workgroup>>)
// TC:           scf.for %{{.*}} = %c0{{.*}} to %c72 step %c32{{.*}} -> (i32, i32,
// TC-NOT:         arith.truncf
// TC:             memref.store %{{.*}}, %[[AT]]{{.*}} : memref<64x48xi8, #gpu.address_space<workgroup>>
// TC:             gpu.barrier
// TC:             arith.extui %{{.*}} : i8 to i32
// TC:             arith.shli %{{.*}}, %c24_i32
// TC-COUNT-8:     nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {intOverflowBehavior = #nvvm.mma_int_overflow<wrapped>, layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<s8>, multiplicandBPtxType = #nvvm.mma_type<s8>, shape = #nvvm.shape<m = 16, n = 8, k = 32>} : (i32, i32, i32) -> !llvm.struct<(i32, i32, i32, i32)>
// TC:           arith.addi %{{.*}} : i32
func.func @linear_i8(%x: memref<32x72xi8>, %w: memref<70x72xi8>, %y: memref<32x70xi32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<32x72xi8>, memref<70x72xi8>) outs(%y : memref<32x70xi32>) {
  ^bb0(%a: i8, %b: i8, %acc: i32):
    %ea = arith.extsi %a : i8 to i32
    %eb = arith.extsi %b : i8 to i32
    %m = arith.muli %ea, %eb : i32
    %s = arith.addi %acc, %m : i32
    linalg.yield %s : i32
  }
  return
}

// -----

// int8 weights in an f32 contraction (w8a16) and bf16 weights: widened to
// f32 as they are read (sitofp, extf), then the float tiles.
// CHECK-LABEL: func.func @linear_w8
// CHECK:         gpu.launch
// CHECK:           arith.sitofp %{{.*}} : i8 to f32
// CHECK:           math.fma
// TC-LABEL: func.func @linear_w8
// TC:         gpu.launch
// TC:           arith.sitofp %{{.*}} : i8 to f32
// TC:           arith.truncf %{{.*}} : f32 to bf16
// TC:           nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>
func.func @linear_w8(%x: memref<32x72xf32>, %w: memref<70x72xi8>, %y: memref<32x70xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<32x72xf32>, memref<70x72xi8>) outs(%y : memref<32x70xf32>) {
  ^bb0(%a: f32, %b: i8, %acc: f32):
    %eb = arith.sitofp %b : i8 to f32
    %m = arith.mulf %a, %eb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// CHECK-LABEL: func.func @linear_bf16w
// CHECK:         gpu.launch
// CHECK:           arith.extf %{{.*}} : bf16 to f32
// CHECK:           math.fma
func.func @linear_bf16w(%x: memref<32x72xf32>, %w: memref<70x72xbf16>, %y: memref<32x70xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<32x72xf32>, memref<70x72xbf16>) outs(%y : memref<32x70xf32>) {
  ^bb0(%a: f32, %b: bf16, %acc: f32):
    %eb = arith.extf %b : bf16 to f32
    %m = arith.mulf %a, %eb : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Not a widened product: an i32 sum of uint8 products (extui) or a body
// doing more than multiply-add stays for the generic lowering.
// CHECK-LABEL: func.func @not_signed
// CHECK:         linalg.generic
// CHECK-NOT:     gpu.launch
func.func @not_signed(%x: memref<32x72xi8>, %w: memref<70x72xi8>, %y: memref<32x70xi32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<32x72xi8>, memref<70x72xi8>) outs(%y : memref<32x70xi32>) {
  ^bb0(%a: i8, %b: i8, %acc: i32):
    %ea = arith.extui %a : i8 to i32
    %eb = arith.extsi %b : i8 to i32
    %m = arith.muli %ea, %eb : i32
    %s = arith.addi %acc, %m : i32
    linalg.yield %s : i32
  }
  return
}

// RUN: strata-opt %s --strata-grouped-matmul-kernels --canonicalize | FileCheck %s
// RUN: strata-opt %s --strata-grouped-matmul-kernels=tensor-cores --canonicalize | FileCheck %s --check-prefix=TC

// Tests the two kernels of a grouped matmul and the host-side choice
// between them by row count (tiles from 8 rows per expert: P >= 8 * 8).
// The tile kernel's grid y enumerates ceil(P / 64) + E tile slots; a block
// scans the offsets for its slot's expert and row tile (E marks "no
// tile"), then stages its rows (bounded by the expert's last row) and the
// expert's weights k-contiguous into padded [16][66] tiles and
// accumulates 4x4 FMAs per thread. The warp kernel finds each row's expert
// by a 4-step binary search and reduces the row's dot product with
// shuffles. The zero fill is folded into both.
// CHECK-LABEL: func.func @grouped(
// CHECK-SAME:    %[[ROWS:.*]]: memref<?x32xf32>, %[[W:.*]]: memref<8x48x32xf32>, %[[OFF:.*]]: memref<9xi32>)
// CHECK:         %[[OUT:.*]] = memref.alloc
// CHECK-NOT:     linalg.fill
// CHECK:         %[[P:.*]] = memref.dim %[[ROWS]], %c0
// CHECK:         %[[MANY:.*]] = arith.cmpi uge, %[[P]], %c64
// CHECK:         scf.if %[[MANY]] {
// CHECK:           %[[TILES:.*]] = arith.ceildivui %[[P]], %c64
// CHECK:           %[[SLOTS:.*]] = arith.addi %[[TILES]], %c8
// CHECK:           gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256, {{.*}}) workgroup(%[[AT:.*]] : memref<16x66xf32, #gpu.address_space<workgroup>>, %[[BT:.*]] : memref<16x66xf32, #gpu.address_space<workgroup>>)
// CHECK:             scf.for %[[SLOT:.*]] = %{{.*}} to %[[SLOTS]] step
// CHECK:               %[[SCAN:.*]]:3 = scf.for %{{.*}} = %c0 to %c8 step %c1 iter_args(%{{.*}} = %c0, %{{.*}} = %c8, %{{.*}} = %c0)
// CHECK:                 arith.ceildivui %{{.*}}, %c64
// CHECK:               %[[FOUND:.*]] = arith.cmpi ult, %[[SCAN]]#1, %c8
// CHECK:               scf.if %[[FOUND]] {
// CHECK:                 scf.for %{{.*}} = %c0 to %c32 step %c16
// CHECK:                   memref.load %[[ROWS]]
// CHECK:                   memref.store %{{.*}}, %[[AT]]
// CHECK:                   memref.load %[[W]][%[[SCAN]]#1,
// CHECK:                   memref.store %{{.*}}, %[[BT]]
// CHECK:                   gpu.barrier
// CHECK-COUNT-16:          math.fma
// CHECK:                   gpu.barrier
// CHECK-COUNT-16:        memref.store %{{.*}}, %[[OUT]]
// CHECK:         } else {
// CHECK:           gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c256, {{.*}})
// CHECK:             %[[SEARCH:.*]]:2 = scf.for %{{.*}} = %c0 to %c4 step %c1 iter_args(%{{.*}} = %c0, %{{.*}} = %c7)
// CHECK:               memref.load %[[OFF]]
// CHECK:             scf.for
// CHECK:               memref.load %[[ROWS]]
// CHECK:               memref.load %[[W]][%[[SEARCH]]#0,
// CHECK:               math.fma
// CHECK-COUNT-5:     gpu.shuffle xor
// CHECK:             memref.store %{{.*}}, %[[OUT]]
//
// With tensor cores the tiles are 4 warps of bf16 mma.sync.
// TC-LABEL: func.func @grouped(
// TC:         gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c128, {{.*}}) workgroup({{.*}} : memref<64x24xbf16, #gpu.address_space<workgroup>>, {{.*}} : memref<64x24xbf16, #gpu.address_space<workgroup>>)
// TC-COUNT-8:   nvvm.mma.sync
// TC:         } else {
// TC:           gpu.shuffle xor
func.func @grouped(%rows: memref<?x32xf32>, %w: memref<8x48x32xf32>, %offsets: memref<9xi32>) -> memref<?x48xf32> {
  %c0 = arith.constant 0 : index
  %p = memref.dim %rows, %c0 : memref<?x32xf32>
  %out = memref.alloc(%p) : memref<?x48xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?x48xf32>)
  strata_kernel.grouped_matmul %rows, %w groups(%offsets) into %out : memref<?x32xf32>, memref<8x48x32xf32>, memref<9xi32>, memref<?x48xf32>
  return %out : memref<?x48xf32>
}

// int8 rows and weights into i32 (w8a8's routed experts): integer tiles
// (i32 multiply-adds; s8 mma.sync m16n8k32 with tensor cores) and an
// integer warp kernel (extsi, muli, addi, shuffled integer sums).
// CHECK-LABEL: func.func @grouped_i8(
// CHECK:         gpu.launch {{.*}} workgroup({{.*}} : memref<16x66xi32, #gpu.address_space<workgroup>>
// CHECK-COUNT-16:  arith.muli
// CHECK:         } else {
// CHECK:           gpu.launch
// CHECK:             arith.extsi
// CHECK:             arith.muli
// CHECK:             gpu.shuffle xor {{.*}} : i32
// TC-LABEL: func.func @grouped_i8(
// TC:         gpu.launch {{.*}} workgroup({{.*}} : memref<64x48xi8, #gpu.address_space<workgroup>>
// TC-COUNT-8:   nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<s8>
func.func @grouped_i8(%rows: memref<?x32xi8>, %w: memref<8x48x32xi8>, %offsets: memref<9xi32>) -> memref<?x48xi32> {
  %c0 = arith.constant 0 : index
  %p = memref.dim %rows, %c0 : memref<?x32xi8>
  %out = memref.alloc(%p) : memref<?x48xi32>
  %zero = arith.constant 0 : i32
  linalg.fill ins(%zero : i32) outs(%out : memref<?x48xi32>)
  strata_kernel.grouped_matmul %rows, %w groups(%offsets) into %out : memref<?x32xi8>, memref<8x48x32xi8>, memref<9xi32>, memref<?x48xi32>
  return %out : memref<?x48xi32>
}

// int8 weights with f32 rows (w8a16's experts): widened as read.
// CHECK-LABEL: func.func @grouped_w8(
// CHECK:         gpu.launch
// CHECK:           arith.sitofp %{{.*}} : i8 to f32
// CHECK:         } else {
// CHECK:             arith.sitofp %{{.*}} : i8 to f32
// CHECK:             math.fma
func.func @grouped_w8(%rows: memref<?x32xf32>, %w: memref<8x48x32xi8>, %offsets: memref<9xi32>) -> memref<?x48xf32> {
  %c0 = arith.constant 0 : index
  %p = memref.dim %rows, %c0 : memref<?x32xf32>
  %out = memref.alloc(%p) : memref<?x48xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%out : memref<?x48xf32>)
  strata_kernel.grouped_matmul %rows, %w groups(%offsets) into %out : memref<?x32xf32>, memref<8x48x32xi8>, memref<9xi32>, memref<?x48xf32>
  return %out : memref<?x48xf32>
}

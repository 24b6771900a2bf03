// RUN: strata-opt %s --strata-register-tiled-matmuls=vector-bits=512 --split-input-file | FileCheck %s
// RUN: strata-opt %s --strata-register-tiled-matmuls=vector-bits=128 --split-input-file | FileCheck %s --check-prefix=SSE
// RUN: strata-opt %s "--strata-register-tiled-matmuls=vector-bits=512 vnni=true" --split-input-file | FileCheck %s --check-prefix=VNNI
// RUN: strata-opt %s "--strata-register-tiled-matmuls=vector-bits=512 bf16-dot=true" --split-input-file | FileCheck %s --check-prefix=BF16DOT

// A linear layer x·Wᵀ over [B, S, K]: A and C are viewed as [B·S, K] and
// [B·S, N]; 4 x 4 tiles of 16-lane accumulators with AVX-512 (4 rows of x
// and 4 of W loaded per step, 16 FMAs), rows past the last full tile in
// 1 x 4 tiles. Each row's four accumulators are summed across lanes
// together by pairwise-add shuffles (16 -> 4 lanes) and added to C with one
// vector load and store. The threads split (blocks of 16 tiles of W's
// rows, blocks of 1024 rows of x): here all 8 tiles make one block. Within
// an iteration, per chunk of k, each column tile runs over every whole row
// tile; the rows left over (all of them in decode) then run singly, each
// output alone with W in address order (one sequential stream: each
// column's chunks, one accumulator each, reduced by the same pairwise
// tree as sumFour's, so the row's sums are the whole tiles').
// CHECK-LABEL: func.func @linear(
// CHECK-SAME:    %[[X:.*]]: memref<?x?x64xf32>, %[[W:.*]]: memref<32x64xf32>, %[[C:.*]]: memref<?x?x32xf32>)
// CHECK:         %[[A:.*]] = memref.collapse_shape %[[X]] {{\[}}[0, 1], [2]]
// CHECK:         %[[C2:.*]] = memref.collapse_shape %[[C]] {{\[}}[0, 1], [2]]
// CHECK:         %[[ROWS:.*]] = memref.dim %[[A]], %c0
// CHECK:         %[[RB:.*]] = arith.ceildivui %[[ROWS]], %c1024
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}) = (%c0{{.*}}, %c0{{.*}}) to (%c1{{.*}}, %[[RB]])
// CHECK:           %[[R0:.*]] = arith.muli %{{.*}}, %c1024
// CHECK:           %[[END:.*]] = arith.minui %[[ROWS]]
// CHECK:           %[[FULL:.*]] = arith.addi %[[R0]], %{{.*}}
// CHECK:           scf.for %[[K0:.*]] = %c0{{.*}} to %c64{{.*}} step %c64
// CHECK:             scf.for %{{.*}} = %c0{{.*}} to %c8 step %c1
// CHECK:               scf.for %{{.*}} = %[[R0]] to %[[FULL]] step %c4
// CHECK:                 scf.for %{{.*}} = %[[K0]] to %{{.*}} step %c16{{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-4:             vector.load %[[A]]
// CHECK-COUNT-4:             vector.load %[[W]]
// CHECK-COUNT-16:            vector.fma
// CHECK:                   vector.shuffle {{.*}} [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30] : vector<16xf32>, vector<16xf32>
// CHECK:                   %[[SUMS:.*]] = vector.extract_strided_slice %{{.*}} {offsets = [0], sizes = [4], strides = [1]} : vector<16xf32> to vector<4xf32>
// CHECK:                   %[[OLD:.*]] = vector.load %[[C2]]{{.*}} : memref<?x32xf32>, vector<4xf32>
// CHECK:                   %[[NEW:.*]] = arith.addf %[[OLD]], %[[SUMS]] : vector<4xf32>
// CHECK:                   vector.store %[[NEW]], %[[C2]]
// CHECK:           scf.for %[[P:.*]] = %[[FULL]] to %[[END]] step %c1
// CHECK:             scf.for %[[J:.*]] = %c0{{.*}} to %c32{{.*}} step %c1
// CHECK:               scf.for %{{.*}} = %c0{{.*}} to %c64{{.*}} step %c64
// CHECK:                 scf.for {{.*}} -> (vector<16xf32>) {
// CHECK:                   vector.load %[[A]][%[[P]],
// CHECK:                   vector.load %[[W]]
// CHECK:                   vector.fma
// CHECK-COUNT-4:         vector.shuffle %{{.*}}, %{{.*}} [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31]
// CHECK:                 vector.extract %{{.*}}[0] : f32 from vector<16xf32>
// CHECK:                 memref.load %[[C2]][%[[P]],
// CHECK:                 memref.store %{{.*}}, %[[C2]][%[[P]],
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

// A long reduction is taken in chunks of 512 (the tile of W a chunk reads
// stays in L1), rows in blocks of 128 (A's block over a chunk fills half
// of L2), 2048 columns in 32 blocks of 16 tiles.
// CHECK-LABEL: func.func @chunked(
// CHECK:         %[[RB:.*]] = arith.ceildivui %{{.*}}, %c128
// CHECK:         scf.parallel (%{{.*}}, %{{.*}}) = (%c0{{.*}}, %c0{{.*}}) to (%c32, %[[RB]])
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c1024{{.*}} step %c512
// CHECK:             scf.for %{{.*}} = %c0{{.*}} to %c16{{.*}} step %c1
#ca = affine_map<(m, n, k) -> (m, k)>
#cw = affine_map<(m, n, k) -> (n, k)>
#cc = affine_map<(m, n, k) -> (m, n)>
func.func @chunked(%a: memref<?x1024xf32>, %w: memref<2048x1024xf32>, %c: memref<?x2048xf32>) {
  linalg.generic {indexing_maps = [#ca, #cw, #cc], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : memref<?x1024xf32>, memref<2048x1024xf32>) outs(%c : memref<?x2048xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Left alone: a reduction that is not a multiple of the vector width, or
// W not static.
// CHECK-LABEL: func.func @not_tiled(
// CHECK-NOT:     vector.fma
// CHECK-COUNT-2: linalg.generic
#a2 = affine_map<(m, n, k) -> (m, k)>
#w2 = affine_map<(m, n, k) -> (n, k)>
#c2 = affine_map<(m, n, k) -> (m, n)>
func.func @not_tiled(%a: memref<?x60xf32>, %w: memref<32x60xf32>, %c: memref<?x32xf32>, %wd: memref<?x64xf32>, %a64: memref<?x64xf32>) {
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
  return
}

// -----

// Attention's P·V, out[b, s, h, e] += p[b, h, s, t] * v[b, t, h / 2, e]:
// outer products. The rows are the queries s (p and out use them, v does
// not), the columns e (innermost in v and out), b and h are batch loops of
// the tile grid. Each step over t loads one 16-lane row of v and
// broadcasts 16 queries' probabilities (AVX-512: 16 accumulators of one
// vector each); the accumulators start from out's tile and are stored
// back. v's grouped head index goes through affine.apply.
// CHECK-LABEL: func.func @pv(
// CHECK-SAME:    %[[P:.*]]: memref<?x4x?x?xf32>, %[[V:.*]]: memref<?x?x2x16xf32>, %[[O:.*]]: memref<?x?x4x16xf32>)
// CHECK:         scf.parallel (%[[B:.*]], %[[H:.*]], %[[ST:.*]], %[[ET:.*]]) =
// CHECK:           scf.if
// CHECK-COUNT-16:    vector.load %[[O]]
// CHECK:             scf.for %{{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK:               %[[G:.*]] = affine.apply {{.*}}(%[[B]], %{{.*}}, %[[H]], %{{.*}}, %{{.*}})
// CHECK:               vector.load %[[V]][%[[B]], %{{.*}}, %[[G]], %{{.*}}]
// CHECK:               memref.load %[[P]][%[[B]], %[[H]]
// CHECK:               vector.broadcast
// CHECK-COUNT-16:      vector.fma
// CHECK-COUNT-16:    vector.store {{.*}}, %[[O]]
// CHECK-NOT:     linalg.generic
// SSE-LABEL: func.func @pv(
// SSE:         scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
#p = affine_map<(b, s, h, e, t) -> (b, h, s, t)>
#v = affine_map<(b, s, h, e, t) -> (b, t, h floordiv 2, e)>
#o = affine_map<(b, s, h, e, t) -> (b, s, h, e)>
func.func @pv(%p: memref<?x4x?x?xf32>, %v: memref<?x?x2x16xf32>, %o: memref<?x?x4x16xf32>) {
  linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : memref<?x4x?x?xf32>, memref<?x?x2x16xf32>) outs(%o : memref<?x?x4x16xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// W stored narrow (--weights-dtype): its rows are loaded in bf16 and
// widened by a shift of their bits (f16 by arith.extf); the single rows'
// steps prefetch the next tile's block of W.
// CHECK-LABEL: func.func @narrow_weights(
// CHECK-SAME:    %[[W:[a-z0-9]+]]: memref<32x64xbf16>, %[[WH:[a-z0-9]+]]: memref<32x64xf16>
// CHECK:         scf.for
// CHECK:           %[[ROW:.*]] = vector.load %[[W]][%{{.*}}, %{{.*}}] : memref<32x64xbf16>, vector<16xbf16>
// CHECK:           %[[BITS:.*]] = arith.bitcast %[[ROW]] : vector<16xbf16> to vector<16xi16>
// CHECK:           %[[WIDE:.*]] = arith.extui %[[BITS]] : vector<16xi16> to vector<16xi32>
// CHECK:           %[[SHIFTED:.*]] = arith.shli %[[WIDE]], %{{.*}} : vector<16xi32>
// CHECK:           arith.bitcast %[[SHIFTED]] : vector<16xi32> to vector<16xf32>
// CHECK:           memref.prefetch %[[W]][%{{.*}}, %{{.*}}], read, locality<3>, data : memref<32x64xbf16>
// CHECK:         vector.load %[[WH]]{{.*}} : memref<32x64xf16>, vector<16xf16>
// CHECK:         arith.extf %{{.*}} : vector<16xf16> to vector<16xf32>
// CHECK-NOT:     linalg.generic
// On AVX-512 BF16 the bf16 weight's contraction first rounds A to bf16
// (once, into a buffer freed after it), then its tiles read 32 of A and W
// at a step into vdpbf16ps; the f16 weight keeps the widening tile.
// BF16DOT-LABEL: func.func @narrow_weights(
// BF16DOT-SAME:    %[[A:[a-z0-9]+]]: memref<?x64xf32>, %[[W:[a-z0-9]+]]: memref<32x64xbf16>, %[[WH:[a-z0-9]+]]: memref<32x64xf16>
// BF16DOT:         %[[AB:.*]] = memref.alloc(%{{.*}}) : memref<?x64xbf16>
// BF16DOT:           %[[X:.*]] = vector.load %[[A]][%{{.*}}, %{{.*}}] : memref<?x64xf32>, vector<32xf32>
// BF16DOT:           %[[XB:.*]] = arith.truncf %[[X]] : vector<32xf32> to vector<32xbf16>
// BF16DOT:           vector.store %[[XB]], %[[AB]]
// BF16DOT:         scf.parallel
// BF16DOT:           %[[XR:.*]] = vector.load %[[AB]][%{{.*}}, %{{.*}}] : memref<?x64xbf16>, vector<32xbf16>
// BF16DOT:           %[[R:.*]] = vector.load %[[W]][%{{.*}}, %{{.*}}] : memref<32x64xbf16>, vector<32xbf16>
// BF16DOT:           llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"(%{{.*}}, %[[XR]], %[[R]]) : (vector<16xf32>, vector<32xbf16>, vector<32xbf16>) -> vector<16xf32>
// BF16DOT:         vector.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] : memref<?x32xf32>, vector<4xf32>
// BF16DOT:         memref.dealloc %[[AB]] : memref<?x64xbf16>
// BF16DOT:         vector.load %[[WH]]{{.*}} : memref<32x64xf16>, vector<16xf16>
// BF16DOT:         arith.extf %{{.*}} : vector<16xf16> to vector<16xf32>
#an = affine_map<(m, n, k) -> (m, k)>
#wn = affine_map<(m, n, k) -> (n, k)>
#cn = affine_map<(m, n, k) -> (m, n)>
func.func @narrow_weights(%a: memref<?x64xf32>, %w: memref<32x64xbf16>, %wh: memref<32x64xf16>, %c: memref<?x32xf32>) {
  linalg.generic {indexing_maps = [#an, #wn, #cn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : memref<?x64xf32>, memref<32x64xbf16>) outs(%c : memref<?x32xf32>) {
  ^bb0(%x: f32, %y: bf16, %acc: f32):
    %wide = arith.extf %y : bf16 to f32
    %p = arith.mulf %x, %wide : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#an, #wn, #cn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %wh : memref<?x64xf32>, memref<32x64xf16>) outs(%c : memref<?x32xf32>) {
  ^bb0(%x: f32, %y: f16, %acc: f32):
    %wide = arith.extf %y : f16 to f32
    %p = arith.mulf %x, %wide : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// W stored as int8 (--quantize w8a16): its rows are loaded in i8 and
// widened by sitofp (vpmovsxbd + vcvtdq2ps). Whole row tiles do not
// prefetch; single rows (decode) prefetch the next tile's contiguous block
// in address order (row = n0 + nr + o / K, column o % K for the step's
// linear offset o), one prefetch per line.
// CHECK-LABEL: func.func @int8_weights(
// CHECK-SAME:    %[[W:[a-z0-9]+]]: memref<32x64xi8>
// CHECK:         scf.for
// CHECK:           %[[ROW:.*]] = vector.load %[[W]][%{{.*}}, %{{.*}}] : memref<32x64xi8>, vector<16xi8>
// CHECK:           arith.sitofp %[[ROW]] : vector<16xi8> to vector<16xf32>
// CHECK:           arith.divui %[[O:.*]], %{{.*}} : index
// CHECK:           %[[COL:.*]] = arith.remui %[[O]], %{{.*}} : index
// CHECK:           memref.prefetch %[[W]][%{{.*}}, %[[COL]]], read, locality<3>, data : memref<32x64xi8>
// CHECK-NOT:     linalg.generic
#ai = affine_map<(m, n, k) -> (m, k)>
#wi = affine_map<(m, n, k) -> (n, k)>
#ci = affine_map<(m, n, k) -> (m, n)>
func.func @int8_weights(%a: memref<?x64xf32>, %w: memref<32x64xi8>, %c: memref<?x32xf32>) {
  linalg.generic {indexing_maps = [#ai, #wi, #ci], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : memref<?x64xf32>, memref<32x64xi8>) outs(%c : memref<?x32xf32>) {
  ^bb0(%x: f32, %y: i8, %acc: f32):
    %wide = arith.sitofp %y : i8 to f32
    %p = arith.mulf %x, %wide : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// An int8 contraction into i32 (w8a8-dynamic): rows of A and W loaded as
// int8 (32 per step at 512 bits: two per i32 lane), sign-extended to i16,
// multiplied pairwise by pmaddwd into i32 accumulators; each output adds
// its accumulator's lane sum.
// CHECK-LABEL: func.func @int8_contraction(
// CHECK-SAME:    %[[A:[a-z0-9]+]]: memref<?x64xi8>, %[[W:[a-z0-9]+]]: memref<32x64xi8>
// CHECK:         scf.parallel
// CHECK:           %[[X:.*]] = vector.load %[[A]][%{{.*}}, %{{.*}}] : memref<?x64xi8>, vector<32xi8>
// CHECK:           %[[XW:.*]] = arith.extsi %[[X]] : vector<32xi8> to vector<32xi16>
// CHECK:           %[[R:.*]] = vector.load %[[W]][%{{.*}}, %{{.*}}] : memref<32x64xi8>, vector<32xi8>
// CHECK:           %[[RW:.*]] = arith.extsi %[[R]] : vector<32xi8> to vector<32xi16>
// CHECK:           %[[P:.*]] = llvm.call_intrinsic "llvm.x86.avx512.pmaddw.d.512"(%[[XW]], %[[RW]]) : (vector<32xi16>, vector<32xi16>) -> vector<16xi32>
// CHECK:           arith.addi %{{.*}}, %[[P]] : vector<16xi32>
// CHECK:         vector.shuffle %{{.*}}, %{{.*}} [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30] : vector<16xi32>, vector<16xi32>
// CHECK:         arith.addi %{{.*}}, %{{.*}} : vector<4xi32>
// CHECK:         vector.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] : memref<?x32xi32>, vector<4xi32>
// CHECK-NOT:     linalg.generic
// SSE-LABEL: func.func @int8_contraction(
// SSE:           llvm.call_intrinsic "llvm.x86.sse2.pmadd.wd"(%{{.*}}, %{{.*}}) : (vector<8xi16>, vector<8xi16>) -> vector<4xi32>
// On AVX-512 VNNI, 64 bytes per step: A's top bit flipped (x + 128,
// unsigned) into vpdpbusd with W's signed bytes, and each W row summed
// against ones to take 128 * sum w back from each output.
// VNNI-LABEL: func.func @int8_contraction(
// VNNI-SAME:    %[[A:[a-z0-9]+]]: memref<?x64xi8>, %[[W:[a-z0-9]+]]: memref<32x64xi8>
// VNNI-DAG:      %[[FLIP:.*]] = arith.constant dense<-128> : vector<64xi8>
// VNNI-DAG:      %[[ONES:.*]] = arith.constant dense<1> : vector<64xi8>
// VNNI:          scf.for
// VNNI:            %[[X:.*]] = vector.load %[[A]][%{{.*}}, %{{.*}}] : memref<?x64xi8>, vector<64xi8>
// VNNI:            %[[XU:.*]] = arith.xori %[[X]], %[[FLIP]] : vector<64xi8>
// VNNI:            %[[R:.*]] = vector.load %[[W]][%{{.*}}, %{{.*}}] : memref<32x64xi8>, vector<64xi8>
// VNNI:            llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%{{.*}}, %[[XU]], %[[R]]) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// VNNI:            llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%{{.*}}, %[[ONES]], %[[R]])
// VNNI:          %[[SHIFT:.*]] = arith.muli %{{.*}}, %{{.*}} : vector<4xi32>
// VNNI:          %[[SUM:.*]] = vector.extract_strided_slice %{{.*}} {offsets = [0], sizes = [4], strides = [1]} : vector<16xi32> to vector<4xi32>
// VNNI:          arith.subi %[[SUM]], %[[SHIFT]] : vector<4xi32>
// VNNI-NOT:      pmadd
#aq = affine_map<(m, n, k) -> (m, k)>
#wq = affine_map<(m, n, k) -> (n, k)>
#cq = affine_map<(m, n, k) -> (m, n)>
func.func @int8_contraction(%a: memref<?x64xi8>, %w: memref<32x64xi8>, %c: memref<?x32xi32>) {
  linalg.generic {indexing_maps = [#aq, #wq, #cq], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : memref<?x64xi8>, memref<32x64xi8>) outs(%c : memref<?x32xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  }
  return
}

// -----

// Whole tiles do not prefetch W (its tile is reused from L1 by every
// row tile; the prefetches only added L1 pressure), nor do f32 single
// rows (here rows 4 and 5 of 6 at 512 bits: MR = 4), which read W in
// address order for the hardware prefetcher.
// CHECK-LABEL: func.func @f32_whole_tiles(
// CHECK:         scf.for
// CHECK-NOT:       memref.prefetch
// CHECK:           vector.fma
// CHECK-NOT:       memref.prefetch
// CHECK:         vector.store
// CHECK-NOT:     memref.prefetch
// CHECK:         memref.store
// CHECK-NOT:     memref.prefetch
// CHECK:         return
#af = affine_map<(m, n, k) -> (m, k)>
#wf = affine_map<(m, n, k) -> (n, k)>
#cf = affine_map<(m, n, k) -> (m, n)>
func.func @f32_whole_tiles(%a: memref<6x64xf32>, %w: memref<32x64xf32>, %c: memref<6x32xf32>) {
  linalg.generic {indexing_maps = [#af, #wf, #cf], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : memref<6x64xf32>, memref<32x64xf32>) outs(%c : memref<6x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

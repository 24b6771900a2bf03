// RUN: strata-opt %s --strata-convert-to-linalg | FileCheck %s
// RUN: strata-opt %s --strata-lower-to-llvm-cpu="entry-points=false" | %mlir_runner -e main -entry-point-result=void %runner_shared_libs | FileCheck %s --check-prefix=EXEC

// Tests the router's total order on scores: larger first, NaN after every
// number (-inf included), ties (NaN with NaN too) to the lower index. An
// expert's rank counts the experts before it: for j < i, j is before i
// when score_j >= score_i in that order (oge, or score_i NaN); for j > i
// when not score_i >= score_j. Slot j's expert is selected, not summed, so
// it is in [0, E) whatever the ranks.
// CHECK-LABEL: func.func @router(
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK-NEXT:    ^bb0(%[[MINE:.*]]: f32, %[[THEIRS:.*]]: f32, %[[ACC:.*]]: i32):
// CHECK-NEXT:      %[[I:.*]] = linalg.index 3
// CHECK-NEXT:      %[[J:.*]] = linalg.index 4
// CHECK-NEXT:      %[[LOWER:.*]] = arith.cmpi ult, %[[J]], %[[I]]
// CHECK-NEXT:      %[[THEIRS_NAN:.*]] = arith.cmpf uno, %[[THEIRS]], %[[THEIRS]]
// CHECK-NEXT:      %[[MINE_GE:.*]] = arith.cmpf oge, %[[MINE]], %[[THEIRS]]
// CHECK-NEXT:      %[[NOT_ABOVE:.*]] = arith.ori %[[MINE_GE]], %[[THEIRS_NAN]]
// CHECK-NEXT:      %[[ABOVE:.*]] = arith.xori %[[NOT_ABOVE]], %true
// CHECK-NEXT:      %[[MINE_NAN:.*]] = arith.cmpf uno, %[[MINE]], %[[MINE]]
// CHECK-NEXT:      %[[THEIRS_GE:.*]] = arith.cmpf oge, %[[THEIRS]], %[[MINE]]
// CHECK-NEXT:      %[[AT_LEAST:.*]] = arith.ori %[[THEIRS_GE]], %[[MINE_NAN]]
// CHECK-NEXT:      %[[BEFORE:.*]] = arith.select %[[LOWER]], %[[AT_LEAST]], %[[ABOVE]]
// CHECK-NEXT:      %[[ONE:.*]] = arith.extui %[[BEFORE]]
// CHECK-NEXT:      arith.addi %[[ACC]], %[[ONE]]
// The slot's expert: the expert whose rank is the slot, by select.
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-NEXT:    ^bb0(%[[RANK:.*]]: i32, %[[ID:.*]]: i32):
// CHECK-NEXT:      %[[SLOT:.*]] = linalg.index 2
// CHECK-NEXT:      %[[SLOT32:.*]] = arith.index_cast %[[SLOT]]
// CHECK-NEXT:      %[[E:.*]] = linalg.index 3
// CHECK-NEXT:      %[[E32:.*]] = arith.index_cast %[[E]]
// CHECK-NEXT:      %[[HIT:.*]] = arith.cmpi eq, %[[RANK]], %[[SLOT32]]
// CHECK-NEXT:      %[[SEL:.*]] = arith.select %[[HIT]], %[[E32]], %[[ID]]
// CHECK-NEXT:      linalg.yield %[[SEL]]
func.func @router(%logits: tensor<?x?x8xf32>) -> tensor<?x?x2xi32> {
  %w, %i, %s = strata.router %logits {num_experts = 8, top_k = 2, scoring = #strata.scoring<sigmoid>} : tensor<?x?x8xf32>
  return %i : tensor<?x?x2xi32>
}

// Run: sigmoid scores, so NaN stays per expert (nan = 0x7FC00000, inf =
// 0x7F800000, -inf = 0xFF800000).
//   row 0: NaNs among numbers         -> the two largest numbers, 3 and 5
//   row 1: all NaN                    -> ties: 0, 1
//   row 2: NaN except -inf at 6       -> -inf (score 0) first, then NaN 0
//   row 3: +inf at 0, 2, 4 (score 1)  -> ties: 0, 2
// Softmax: a NaN logit makes every score NaN -> 0, 1 (not the sum 28 of
// all ranks 0, the out-of-range id this order replaced).
// EXEC:      [3, 5]
// EXEC-NEXT: [0, 1]
// EXEC-NEXT: [6, 0]
// EXEC-NEXT: [0, 2]
// EXEC:      [0, 1]
// EXEC-NEXT: [4, 6]
// Group-limited (4 groups of 2, 2 kept; a group scores its best two):
//   row 0: numbers                    -> groups 2, 3 kept: 5, 4
//   row 1: NaN + 9 makes group 0 NaN  -> groups 1, 2 kept: 2, 3
//   row 2: all NaN: groups 0, 1 kept  -> 0, 1 (their NaN rank as -inf,
//          excluded experts after them; not 4, 5 from dropped groups)
// EXEC:      [5, 4]
// EXEC-NEXT: [2, 3]
// EXEC-NEXT: [0, 1]
func.func private @printMemrefI32(memref<*xi32>)
func.func @main() {
  %l = arith.constant dense<[[
    [0x7FC00000, 1.0, 0x7FC00000, 3.0, 0xFF800000, 2.0, 0x7FC00000, 0.0],
    [0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000],
    [0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000, 0xFF800000, 0x7FC00000],
    [0x7F800000, 1.0, 0x7F800000, 1.0, 0x7F800000, 0.0, 0.0, 0.0]]]> : tensor<1x4x8xf32>
  %d = tensor.cast %l : tensor<1x4x8xf32> to tensor<?x?x8xf32>
  %i = call @router(%d) : (tensor<?x?x8xf32>) -> tensor<?x?x2xi32>
  %m = bufferization.to_buffer %i : tensor<?x?x2xi32> to memref<?x?x2xi32>
  %u = memref.cast %m : memref<?x?x2xi32> to memref<*xi32>
  call @printMemrefI32(%u) : (memref<*xi32>) -> ()
  %sl = arith.constant dense<[[
    [0.0, 1.0, 0x7FC00000, 3.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 3.0, 4.0, 0.0, 4.0, 0.0]]]> : tensor<1x2x8xf32>
  %sd = tensor.cast %sl : tensor<1x2x8xf32> to tensor<?x?x8xf32>
  %sw, %si, %ss = strata.router %sd {num_experts = 8, top_k = 2} : tensor<?x?x8xf32>
  %sm = bufferization.to_buffer %si : tensor<?x?x2xi32> to memref<?x?x2xi32>
  %su = memref.cast %sm : memref<?x?x2xi32> to memref<*xi32>
  call @printMemrefI32(%su) : (memref<*xi32>) -> ()
  %gl = arith.constant dense<[[
    [0.0, 0.0, 1.0, 2.0, 5.0, 6.0, 3.0, 4.0],
    [0x7FC00000, 9.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000, 0x7FC00000]]]> : tensor<1x3x8xf32>
  %gd = tensor.cast %gl : tensor<1x3x8xf32> to tensor<?x?x8xf32>
  %gw, %gi, %gs = strata.router %gd {num_experts = 8, top_k = 2, scoring = #strata.scoring<sigmoid>, n_group = 4, topk_group = 2} : tensor<?x?x8xf32>
  %gm = bufferization.to_buffer %gi : tensor<?x?x2xi32> to memref<?x?x2xi32>
  %gu = memref.cast %gm : memref<?x?x2xi32> to memref<*xi32>
  call @printMemrefI32(%gu) : (memref<*xi32>) -> ()
  return
}

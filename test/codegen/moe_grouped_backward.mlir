// RUN: strata-opt %s --strata-convert-to-linalg="group-experts group-experts-backward" | FileCheck %s
// RUN: strata-opt %s --strata-convert-to-linalg=group-experts | FileCheck %s --check-prefix=DENSE

// Tests the grouped backward of the routed experts (the CPU's): the pairs
// sorted by expert as in the forward; the forward recomputed per expert
// (gate, up, down: three grouped products); the routing weights'
// gradient from the recomputed output; the activations' gradients by
// grouped products with the weights transposed (down, then gate and up
// accumulating into one result); each weight's gradient by a loop over
// the experts that contracts only that expert's rows, accumulated in place
// in the zeroed result; the input's gradient summed back over each
// token's slots. Without group-experts-backward the backward stays dense
// over experts (no sort, no grouped product).
// CHECK-LABEL: func.func @experts_backward(
// CHECK:         %[[SORT:.*]]:3 = strata_kernel.expert_sort %{{.*}} {num_experts = 8 : i64}
// CHECK-COUNT-3: strata_kernel.grouped_matmul {{.*}} groups(%[[SORT]]#0)
// CHECK:         %[[DOWNT:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<8x32x48xf32>) outs(%{{.*}} : tensor<8x48x32xf32>)
// CHECK:         strata_kernel.grouped_matmul %{{.*}}, %[[DOWNT]] groups(%[[SORT]]#0)
// CHECK:         %[[DX1:.*]] = strata_kernel.grouped_matmul {{.*}} : tensor<?x48xf32>, tensor<8x32x48xf32>, tensor<9xi32>, tensor<?x32xf32> -> tensor<?x32xf32>
// CHECK:         strata_kernel.grouped_matmul {{.*}} into %[[DX1]]
// CHECK:         scf.for %[[E:.*]] = %c0 to %c8 step %c1 iter_args(%[[ACC:.*]] = %{{.*}}) -> (tensor<8x48x32xf32>)
// CHECK:           tensor.extract %[[SORT]]#0[%[[E]]]
// CHECK:           %[[SLICE:.*]] = tensor.extract_slice %[[ACC]][%[[E]], 0, 0] [1, 48, 32] [1, 1, 1] : tensor<8x48x32xf32> to tensor<48x32xf32>
// CHECK:           tensor.extract_slice %{{.*}}[%{{.*}}, 0] [%{{.*}}, 48] [1, 1] : tensor<?x48xf32> to tensor<?x48xf32>
// CHECK:           %[[G:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} {{.*}} outs(%[[SLICE]] : tensor<48x32xf32>)
// CHECK:           tensor.insert_slice %[[G]] into %[[ACC]][%[[E]], 0, 0] [1, 48, 32] [1, 1, 1]
// CHECK-COUNT-2: scf.for
// CHECK-NOT:     strata.moe_experts_backward
// DENSE-LABEL: func.func @experts_backward(
// DENSE-NOT:     strata_kernel.grouped_matmul
// DENSE-NOT:     strata_kernel.expert_sort
// DENSE-NOT:     strata.moe_experts_backward
func.func @experts_backward(%x: tensor<?x?x32xf32>, %w: tensor<?x?x2xf32>, %i: tensor<?x?x2xi32>, %g: tensor<8x48x32xf32>, %u: tensor<8x48x32xf32>, %d: tensor<8x32x48xf32>, %dy: tensor<?x?x32xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x2xf32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>) {
  %dx, %dw, %dg, %du, %dd = strata.moe_experts_backward %x, %w, %i experts(%g, %u, %d), %dy {num_experts = 8, top_k = 2} : tensor<?x?x32xf32>, tensor<?x?x2xf32>, tensor<?x?x2xi32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
  return %dx, %dw, %dg, %du, %dd : tensor<?x?x32xf32>, tensor<?x?x2xf32>, tensor<8x48x32xf32>, tensor<8x48x32xf32>, tensor<8x32x48xf32>
}

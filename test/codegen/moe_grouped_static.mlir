// RUN: strata-opt %s --strata-convert-to-linalg=group-experts | FileCheck %s

// Tests static w8a8 experts grouped by expert: each sorted row is rounded
// with its expert's calibrated scale and zero point to uint8 stored minus
// 128 (the int8 grouped product takes it), and each product row gets
// (128 - z) times its expert's weight row sum (the row sums parameters)
// back before the scales.
// CHECK-LABEL: func.func @static_experts
// CHECK:         strata_kernel.expert_sort
// CHECK:         linalg.generic
// CHECK:           tensor.extract %{{.*}}[%{{.*}}] : tensor<4xf32>
// CHECK:         linalg.generic
// CHECK:           math.roundeven
// CHECK:           arith.fptosi %{{.*}} : f32 to i8
// CHECK:         strata_kernel.grouped_matmul %{{.*}}, %{{.*}} groups(%{{.*}}) into %{{.*}} : tensor<?x8xi8>, tensor<4x6x8xi8>, tensor<5xi32>, tensor<?x6xi32>
// CHECK:         linalg.generic
// CHECK:           arith.subi %{{.*}}, %{{.*}} : i32
// CHECK:           arith.muli
// CHECK:           arith.addi
// CHECK:           arith.sitofp
// CHECK:         strata_kernel.grouped_matmul %{{.*}}, %{{.*}} groups(%{{.*}}) into %{{.*}} : tensor<?x6xi8>, tensor<4x8x6xi8>, tensor<5xi32>, tensor<?x8xi32>
func.func @static_experts(%x: tensor<1x3x8xf32>, %w: tensor<1x3x2xf32>, %i: tensor<1x3x2xi32>, %g: tensor<4x6x8xi8>, %d: tensor<4x8x6xi8>, %gs: tensor<4x6xf32>, %ds: tensor<4x8xf32>, %e: tensor<4xf32>, %z: tensor<4xf32>, %gr: tensor<4x6xi32>, %dr: tensor<4x8xi32>) -> tensor<1x3x8xf32> {
  %y = strata.quantized_moe_experts %x, %w, %i experts(%g, %g, %d) scales(%gs, %gs, %ds) inputs(%e, %z, %e, %z) row_sums(%gr, %gr, %dr) {num_experts = 4, top_k = 2, scheme = #strata.quant_scheme<w8a8>} : tensor<1x3x8xf32>, tensor<1x3x2xf32>, tensor<1x3x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x8x6xi8>, tensor<4x6xf32>, tensor<4x6xf32>, tensor<4x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4x6xi32>, tensor<4x6xi32>, tensor<4x8xi32>
  return %y : tensor<1x3x8xf32>
}

// Tests the calibration view: the rows sorted by expert, their w8a16 gate
// and up products (int8 weights widened into f32 sums) through SwiGLU, and
// the sort's offsets.
// CHECK-LABEL: func.func @expert_inputs
// CHECK:         %[[SORT:.*]]:3 = strata_kernel.expert_sort
// CHECK:         %[[ROWS:.*]] = linalg.generic
// CHECK:         strata_kernel.grouped_matmul %[[ROWS]], %{{.*}} groups(%[[SORT]]#0) into %{{.*}} : tensor<?x8xf32>, tensor<4x6x8xi8>, tensor<5xi32>, tensor<?x6xf32>
// CHECK:         strata_kernel.grouped_matmul %[[ROWS]]
// CHECK:         %[[HIDDEN:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x6xf32>, tensor<?x6xf32>)
// CHECK:           arith.mulf
// CHECK:         return %[[ROWS]], %[[HIDDEN]], %[[SORT]]#0 : tensor<?x8xf32>, tensor<?x6xf32>, tensor<5xi32>
func.func @expert_inputs(%x: tensor<1x3x8xf32>, %i: tensor<1x3x2xi32>, %g: tensor<4x6x8xi8>, %gs: tensor<4x6xf32>) -> (tensor<?x8xf32>, tensor<?x6xf32>, tensor<5xi32>) {
  %r, %h, %o = strata.quantized_moe_expert_inputs %x, %i experts(%g, %g) scales(%gs, %gs) {num_experts = 4, top_k = 2} : tensor<1x3x8xf32>, tensor<1x3x2xi32>, tensor<4x6x8xi8>, tensor<4x6x8xi8>, tensor<4x6xf32>, tensor<4x6xf32>
  return %r, %h, %o : tensor<?x8xf32>, tensor<?x6xf32>, tensor<5xi32>
}

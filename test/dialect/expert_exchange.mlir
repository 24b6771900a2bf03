// RUN: strata-opt %s | strata-opt | FileCheck %s

// Tests that the expert-parallel exchanges (and their kernel forms) parse,
// verify and print, static and dynamic: rows are [G * B, S, .] for the G = 4
// ranks of axis 2.
// CHECK-LABEL: func.func @exchanges(
// CHECK:         strata.expert_route %{{.*}}, %{{.*}} on @mesh axis 2 {num_experts = 8 : i64} : tensor<2x3x2xf32>, tensor<2x3x2xi32> -> tensor<8x3x2xf32>, tensor<8x3x2xi32>
// CHECK:         strata.expert_dispatch %{{.*}}, %{{.*}}, %{{.*}} on @mesh axis 2 {num_experts = 8 : i64} : tensor<2x3x16xf32>, tensor<8x3x2xi32>, tensor<2x3x2xi32> -> tensor<8x3x16xf32>
// CHECK:         strata.expert_combine %{{.*}}, %{{.*}}, %{{.*}} on @mesh axis 2 {num_experts = 8 : i64} : tensor<8x3x16xf32>, tensor<8x3x2xi32>, tensor<2x3x2xi32> -> tensor<2x3x16xf32>
// CHECK:         strata.expert_route {{.*}} : tensor<?x?x2xf32>, tensor<?x?x2xi32> -> tensor<?x?x2xf32>, tensor<?x?x2xi32>
shard.grid @mesh(shape = 1x1x4x1)
func.func @exchanges(%x: tensor<2x3x16xf32>, %w: tensor<2x3x2xf32>, %i: tensor<2x3x2xi32>,
                     %dw: tensor<?x?x2xf32>, %di: tensor<?x?x2xi32>) -> tensor<2x3x16xf32> {
  %rw, %ri = strata.expert_route %w, %i on @mesh axis 2 {num_experts = 8} : tensor<2x3x2xf32>, tensor<2x3x2xi32> -> tensor<8x3x2xf32>, tensor<8x3x2xi32>
  %rows = strata.expert_dispatch %x, %ri, %i on @mesh axis 2 {num_experts = 8} : tensor<2x3x16xf32>, tensor<8x3x2xi32>, tensor<2x3x2xi32> -> tensor<8x3x16xf32>
  %y = strata.expert_combine %rows, %ri, %i on @mesh axis 2 {num_experts = 8} : tensor<8x3x16xf32>, tensor<8x3x2xi32>, tensor<2x3x2xi32> -> tensor<2x3x16xf32>
  %drw, %dri = strata.expert_route %dw, %di on @mesh axis 2 {num_experts = 8} : tensor<?x?x2xf32>, tensor<?x?x2xi32> -> tensor<?x?x2xf32>, tensor<?x?x2xi32>
  return %y : tensor<2x3x16xf32>
}

// CHECK-LABEL: func.func @kernels(
// CHECK:         strata_kernel.expert_route %{{.*}}, %{{.*}} into %{{.*}}, %{{.*}} {num_experts = 8 : i64, top_k = 2 : i64} : memref<2x3x2xf32>, memref<2x3x2xi32>, memref<8x3x2xf32>, memref<8x3x2xi32>
// CHECK:         strata_kernel.expert_exchange %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} {combine = false, num_experts = 8 : i64, top_k = 2 : i64, width = 16 : i64} : memref<2x3x16xf32>, memref<8x3x2xi32>, memref<2x3x2xi32>, memref<8x3x16xf32>
func.func @kernels(%x: memref<2x3x16xf32>, %w: memref<2x3x2xf32>, %i: memref<2x3x2xi32>,
                   %rw: memref<8x3x2xf32>, %ri: memref<8x3x2xi32>, %rows: memref<8x3x16xf32>) {
  strata_kernel.expert_route %w, %i into %rw, %ri {num_experts = 8, top_k = 2} : memref<2x3x2xf32>, memref<2x3x2xi32>, memref<8x3x2xf32>, memref<8x3x2xi32>
  strata_kernel.expert_exchange %x, %ri, %i into %rows {combine = false, width = 16, top_k = 2, num_experts = 8} : memref<2x3x16xf32>, memref<8x3x2xi32>, memref<2x3x2xi32>, memref<8x3x16xf32>
  return
}

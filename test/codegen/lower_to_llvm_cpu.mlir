// RUN: strata-opt %s --strata-lower-to-llvm-cpu | FileCheck %s
// RUN: strata-opt %s --strata-lower-to-llvm-cpu="stop-after=loops" | FileCheck %s --check-prefix=LOOPS

// Tests that the CPU pipeline takes a block of lowered ops, with parameters,
// all the way to the LLVM dialect (what strata-compile --target=cpu runs),
// every loop nest handed to the runtime's thread pool and the temporaries
// (4 buffers, 2 arena slots) placed by the memory plan.
// CHECK: llvm.mlir.global external @strata_cpu_parallel_for()
// CHECK: llvm.func @strata_entry_block(%arg0: !llvm.ptr) attributes {strata.memory_plan = array<i64: 4, 2, -1, -1>
// CHECK-NOT: strata.
// CHECK-NOT: linalg.
// CHECK-NOT: tensor.
// CHECK-COUNT-7: llvm.call @__strata_parallel_for(
// CHECK: llvm.call @erff

// LOOPS-LABEL: func.func @block(
// LOOPS-SAME:    memref<32x8xf32> {strata.init = #strata.init<normal>, strata.param = "embed"}
// LOOPS-COUNT-7: call @block_par
// LOOPS-NOT:     linalg.generic
// LOOPS:         func.func private @block_par0(
// LOOPS:         scf.for
func.func @block(%tok: tensor<?x?xi32>) -> tensor<?x?x16xf32> {
  %t = strata.param "embed" : tensor<32x8xf32>
  %n = strata.param "norm" {init = #strata.init<ones>} : tensor<8xf32>
  %w = strata.param "w" : tensor<16x8xf32>
  %x = strata.embedding %tok, %t : tensor<?x?xi32>, tensor<32x8xf32>
  %h = strata.rmsnorm %x, %n : tensor<?x?x8xf32>, tensor<8xf32>
  %y = strata.linear %h, %w : tensor<?x?x8xf32>, tensor<16x8xf32>
  %g = strata.gelu %y : tensor<?x?x16xf32>
  return %g : tensor<?x?x16xf32>
}

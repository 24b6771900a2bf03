// RUN: strata-opt %s --strata-params-to-arguments | FileCheck %s

// Tests that parameters become trailing arguments, in order of appearance,
// named by argument attributes, and that a parameter used twice is one argument.
// CHECK-LABEL: func.func @forward(
// CHECK-SAME:    %[[TOK:.*]]: tensor<?x?xi32>,
// CHECK-SAME:    %[[E:.*]]: tensor<32x8xf32> {strata.init = #strata.init<normal>, strata.param = "model.embed_tokens.weight"},
// CHECK-SAME:    %[[N:.*]]: tensor<8xf32> {strata.init = #strata.init<ones>, strata.param = "model.norm.weight"})
// CHECK-NOT:     strata.param
// CHECK:         strata.embedding %[[TOK]], %[[E]]
// CHECK:         strata.rmsnorm %{{.*}}, %[[N]]
// CHECK:         strata.lm_head %{{.*}}, %[[E]]
func.func @forward(%tok: tensor<?x?xi32>) -> tensor<?x?x32xf32> {
  %e = strata.param "model.embed_tokens.weight" : tensor<32x8xf32>
  %x = strata.embedding %tok, %e : tensor<?x?xi32>, tensor<32x8xf32>
  %n = strata.param "model.norm.weight" {init = #strata.init<ones>} : tensor<8xf32>
  %h = strata.rmsnorm %x, %n : tensor<?x?x8xf32>, tensor<8xf32>
  %l = strata.lm_head %h, %e : tensor<?x?x8xf32>, tensor<32x8xf32>
  return %l : tensor<?x?x32xf32>
}

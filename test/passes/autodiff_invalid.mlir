// RUN: strata-opt %s --split-input-file --verify-diagnostics --strata-autodiff
// RUN: not strata-opt %s --split-input-file --strata-autodiff=functions=nope 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: strata-autodiff: no function @nope to differentiate

// An op without a gradient rule is named.
func.func @loss(%x: tensor<2x3x8xf32>, %l: tensor<2x3xi32>) -> tensor<f32> {
  // expected-error @+1 {{'arith.addf' op has no gradient rule (StrataGradientOpInterface); strata-autodiff cannot differentiate through it}}
  %d = arith.addf %x, %x : tensor<2x3x8xf32>
  %r = strata.cross_entropy %d, %l : tensor<2x3x8xf32>, tensor<2x3xi32>
  return %r : tensor<f32>
}

// -----

// Inside a layer body too: the call says it cannot be differentiated.
func.func private @body(%x: tensor<2x3x8xf32>) -> tensor<2x3x8xf32> {
  // expected-error @+1 {{'arith.addf' op has no gradient rule}}
  %d = arith.addf %x, %x : tensor<2x3x8xf32>
  return %d : tensor<2x3x8xf32>
}
func.func @loss(%x: tensor<2x3x8xf32>, %l: tensor<2x3xi32>) -> tensor<f32> {
  // expected-error @+1 {{'func.call' op cannot be differentiated}}
  %h = func.call @body(%x) : (tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %r = strata.cross_entropy %h, %l : tensor<2x3x8xf32>, tensor<2x3xi32>
  return %r : tensor<f32>
}

// -----

// expected-error @+1 {{'func.func' op must return one 0-d f32 tensor (a loss) to be differentiated}}
func.func @loss(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

func.func @loss(%x: tensor<4xf32>) -> tensor<f32> {
  %l = arith.constant dense<1.0> : tensor<f32>
  return %l : tensor<f32>
}
// expected-error @+1 {{'func.func' op exists already}}
func.func @loss_grad(%x: tensor<4xf32>) -> (tensor<f32>, tensor<4xf32>) {
  %l = arith.constant dense<1.0> : tensor<f32>
  return %l, %x : tensor<f32>, tensor<4xf32>
}

// -----

// Aux-loss-free balancing moves a parameter; a bias the loss takes as an
// argument has nowhere to go.
func.func @loss(%x: tensor<2x3x4xf32>, %b: tensor<4xf32>, %l: tensor<2x3xi32>) -> tensor<f32> {
  // expected-error @-1 {{feeds its argument 1 to a router as the selection bias that bias_update balancing moves; the bias must be a parameter (strata.param)}}
  %w, %i, %s = strata.router %x bias(%b : tensor<4xf32>) {num_experts = 4, top_k = 2, scoring = #strata.scoring<sigmoid>, balance = #strata.balance<bias_update>, bias_update_rate = 1.0e-3} : tensor<2x3x4xf32>
  %r = strata.cross_entropy %x, %l : tensor<2x3x4xf32>, tensor<2x3xi32>
  return %r : tensor<f32>
}

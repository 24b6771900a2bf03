// RUN: strata-opt %s --split-input-file --verify-diagnostics

func.func @f(%t: tensor<i32>) {
  // expected-error @+1 {{lr_schedule_c1: lr must be positive, got 0}}
  %0 = strata.lr_schedule %t {schedule = #strata.schedule<constant>, lr = 0.0 : f64, warmup_steps = 0 : i64, total_steps = 0 : i64, min_lr_ratio = 0.0 : f64} : tensor<i32> -> tensor<f32>
  return
}

// -----

func.func @f(%t: tensor<i32>) {
  // expected-error @+1 {{lr_schedule_c2: warmup_steps must not be negative, got -1}}
  %0 = strata.lr_schedule %t {schedule = #strata.schedule<linear_warmup>, lr = 1.0 : f64, warmup_steps = -1 : i64, total_steps = 0 : i64, min_lr_ratio = 0.0 : f64} : tensor<i32> -> tensor<f32>
  return
}

// -----

func.func @f(%t: tensor<i32>) {
  // expected-error @+1 {{lr_schedule_c3: the cosine decay needs total_steps > warmup_steps, got 10 and 10}}
  %0 = strata.lr_schedule %t {schedule = #strata.schedule<linear_warmup_cosine_decay>, lr = 1.0 : f64, warmup_steps = 10 : i64, total_steps = 10 : i64, min_lr_ratio = 0.0 : f64} : tensor<i32> -> tensor<f32>
  return
}

// -----

func.func @f(%t: tensor<i32>) {
  // expected-error @+1 {{lr_schedule_c4: min_lr_ratio must be in [0, 1], got 2}}
  %0 = strata.lr_schedule %t {schedule = #strata.schedule<constant>, lr = 1.0 : f64, warmup_steps = 0 : i64, total_steps = 0 : i64, min_lr_ratio = 2.0 : f64} : tensor<i32> -> tensor<f32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{global_norm_c1: needs at least one operand}}
  %0 = "strata.global_norm"() : () -> tensor<f32>
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<5xf32>, %t: tensor<i32>, %lr: tensor<f32>, %n: tensor<f32>) {
  // expected-error @+1 {{optimizer_update_c1: grad and every state must have the type of param, 'tensor<4xf32>'}}
  %0:3 = strata.optimizer_update %p, %g, state(%m, %v), %t, %lr, %n {optimizer = #strata.optimizer<adamw>, weight_decay = 0.0 : f64, beta1 = 0.9 : f64, beta2 = 0.999 : f64, eps = 1.0e-8 : f64, max_grad_norm = 0.0 : f64} : tensor<4xf32>, tensor<4xf32>, tensor<5xf32> -> tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>, %t: tensor<i32>, %lr: tensor<f32>, %n: tensor<f32>) {
  // expected-error @+1 {{optimizer_update_c2: adamw keeps 2 state tensor(s) per parameter, got 1}}
  %0:2 = strata.optimizer_update %p, %g, state(%m), %t, %lr, %n {optimizer = #strata.optimizer<adamw>, weight_decay = 0.0 : f64, beta1 = 0.9 : f64, beta2 = 0.999 : f64, eps = 1.0e-8 : f64, max_grad_norm = 0.0 : f64} : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>, %t: tensor<i32>, %lr: tensor<f32>, %n: tensor<f32>) {
  // expected-error @+1 {{optimizer_update_c3: needs 0 <= beta1, beta2 < 1, eps > 0, weight_decay >= 0 and max_grad_norm >= 0}}
  %0:2 = strata.optimizer_update %p, %g, state(%m), %t, %lr, %n {optimizer = #strata.optimizer<lion>, weight_decay = 0.0 : f64, beta1 = 1.0 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, max_grad_norm = 0.0 : f64} : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @f(%p: tensor<4xf32>, %g: tensor<4xf32>, %m: tensor<4xf32>, %t: tensor<i32>, %lr: tensor<f32>, %n: tensor<f32>) {
  // expected-error @+1 {{optimizer_update_c4: the results must have the types of param and its states}}
  %0:2 = strata.optimizer_update %p, %g, state(%m), %t, %lr, %n {optimizer = #strata.optimizer<sgd>, weight_decay = 0.0 : f64, beta1 = 0.9 : f64, beta2 = 0.99 : f64, eps = 1.0e-8 : f64, max_grad_norm = 0.0 : f64} : tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>, tensor<5xf32>
  return
}

// -----

func.func @f(%b: tensor<4xf32>, %l: tensor<8xi32>) {
  // expected-error @+1 {{bias_balance_c1: bias and load must both have one element per expert, got 'tensor<4xf32>' and 'tensor<8xi32>'}}
  %0 = strata.bias_balance %b, %l {rate = 1.0e-3 : f64} : tensor<4xf32>, tensor<8xi32>
  return
}

// -----

func.func @f(%b: tensor<4xf32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{bias_balance_c2: rate must be >= 0, got -1.000000e-03}}
  %0 = strata.bias_balance %b, %l {rate = -1.0e-3 : f64} : tensor<4xf32>, tensor<4xi32>
  return
}

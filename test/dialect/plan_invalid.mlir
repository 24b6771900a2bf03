// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests the plan's constraints (docs/spec.md plan_c*, train_c*, infer_c*).

// expected-error @+2 {{plan_c1: tp must be >= 1, got 0}}
module attributes {
  strata.parallel = #strata.parallel<grid = @mesh, tp = 0>} {
}

// -----

// expected-error @+2 {{plan_c2: ep (3) must divide dp (4)}}
module attributes {
  strata.parallel = #strata.parallel<grid = @mesh, dp = 4, ep = 3>} {
}

// -----

// expected-error @+2 {{plan_c3: zero_stage must be 0 or 1, got 2}}
module attributes {
  strata.parallel = #strata.parallel<grid = @mesh, zero_stage = 2>} {
}

// -----

// expected-error @+1 {{plan_c4: the parallel plan's grid @mesh is not a shard.grid of this module}}
module attributes {strata.parallel = #strata.parallel<grid = @mesh, tp = 2>} {
}

// -----

// expected-error @+1 {{plan_c4: shard.grid @mesh has shape 1x1x1x2 but the plan implies pp x (dp / ep) x ep x tp = 1x2x1x2}}
module attributes {strata.parallel = #strata.parallel<grid = @mesh, tp = 2, dp = 2>} {
  shard.grid @mesh(shape = 1x1x1x2)
}

// -----

// expected-error @+1 {{'strata.parallel' belongs on the module}}
func.func @f() attributes {strata.parallel = #strata.parallel<grid = @mesh>} {
  return
}

// -----

// expected-error @+1 {{'strata.training' must be a #training attribute}}
module attributes {strata.training = #strata.inference<>} {
}

// -----

// expected-error @+2 {{train_c1: needs lr > 0, eps > 0 and 0 <= beta1, beta2 < 1}}
module attributes {
  strata.training = #strata.training<lr = 0.0>} {
}

// -----

// expected-error @+2 {{train_c2: warmup_steps (10) exceeds total_steps (5)}}
module attributes {
  strata.training = #strata.training<warmup_steps = 10, total_steps = 5>} {
}

// -----

// expected-error @+2 {{train_c3: accumulation_steps must be >= 1, got 0}}
module attributes {
  strata.training = #strata.training<accumulation_steps = 0>} {
}

// -----

// expected-error @+2 {{train_c4: min_lr_ratio must be in [0, 1], got 2}}
module attributes {
  strata.training = #strata.training<min_lr_ratio = 2.0>} {
}

// -----

// expected-error @+2 {{infer_c1: max_batch_size and max_tokens must be >= 1}}
module attributes {
  strata.inference = #strata.inference<max_tokens = 0>} {
}

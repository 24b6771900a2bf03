// RUN: strata-opt %s | FileCheck %s
// RUN: strata-opt %s | strata-opt | FileCheck %s

// Tests that the plan attributes and the device mesh round-trip: defaults
// are elided, every field prints by name.

// CHECK:      module attributes {
// CHECK-SAME:   strata.inference = #strata.inference<max_batch_size = 8, max_tokens = 1024>
// CHECK-SAME:   strata.parallel = #strata.parallel<grid = @mesh, tp = 8, pp = 4, dp = 16, ep = 8, zero_stage = 1, micro_batches = 8>
// CHECK-SAME:   strata.training = #strata.training<lr = 3.000000e-05, weight_decay = 1.000000e-02, beta2 = 0.98999999999999999, schedule = linear_warmup_cosine_decay, warmup_steps = 2000, total_steps = 100000, gradient_clipping = 1.000000e+00, accumulation_steps = 4, precision = f16, loss_scaling = dynamic, checkpoint_interval = 500, checkpoint_keep_last = 2, batch_size = 1024, seq_len = 4096, seed = 7>
// CHECK-NEXT:   shard.grid @mesh(shape = 4x2x8x8)
module attributes {
  strata.parallel = #strata.parallel<grid = @mesh, tp = 8, pp = 4, dp = 16, ep = 8, zero_stage = 1, micro_batches = 8>,
  strata.training = #strata.training<optimizer = adamw, lr = 3.0e-5, weight_decay = 0.01, beta1 = 0.9, beta2 = 0.99, schedule = linear_warmup_cosine_decay, warmup_steps = 2000, total_steps = 100000, gradient_clipping = 1.0, accumulation_steps = 4, precision = f16, loss_scaling = dynamic, checkpoint_interval = 500, checkpoint_keep_last = 2, batch_size = 1024, seq_len = 4096, seed = 7>,
  strata.inference = #strata.inference<max_batch_size = 8, max_tokens = 1024>} {
  shard.grid @mesh(shape = 4x2x8x8)
}

// RUN: strata-opt %s | strata-opt | FileCheck %s
// RUN: strata-opt %s --mlir-print-op-generic | strata-opt | FileCheck %s

// Tests that every case of every strata enum attribute round-trips.
// CHECK-LABEL: func.func @enums()
// CHECK-SAME:    act = [#strata.activation<gelu>, #strata.activation<silu>, #strata.activation<relu>]
// CHECK-SAME:    balance = [#strata.balance<none>, #strata.balance<aux_loss>, #strata.balance<bias_update>]
// CHECK-SAME:    gelu = [#strata.gelu_approx<none>, #strata.gelu_approx<tanh>]
// CHECK-SAME:    init = [#strata.init<normal>, #strata.init<zeros>, #strata.init<ones>]
// CHECK-SAME:    pooling = [#strata.pooling<last>, #strata.pooling<mean>]
// CHECK-SAME:    scaling = [#strata.rope_scaling<none>, #strata.rope_scaling<linear>, #strata.rope_scaling<yarn>]
// CHECK-SAME:    scoring = [#strata.scoring<softmax>, #strata.scoring<sigmoid>]
func.func @enums() attributes {
    init = [#strata.init<normal>, #strata.init<zeros>, #strata.init<ones>],
    gelu = [#strata.gelu_approx<none>, #strata.gelu_approx<tanh>],
    act = [#strata.activation<gelu>, #strata.activation<silu>, #strata.activation<relu>],
    scaling = [#strata.rope_scaling<none>, #strata.rope_scaling<linear>, #strata.rope_scaling<yarn>],
    scoring = [#strata.scoring<softmax>, #strata.scoring<sigmoid>],
    balance = [#strata.balance<none>, #strata.balance<aux_loss>, #strata.balance<bias_update>],
    pooling = [#strata.pooling<last>, #strata.pooling<mean>]} {
  return
}

// Tests that #strata.rope round-trips, printing only the parameters that differ from their defaults.
// CHECK-LABEL: func.func @rope()
// CHECK-SAME:    a = #strata.rope<>,
// CHECK-SAME:    b = #strata.rope<>,
// CHECK-SAME:    c = #strata.rope<theta = 1.000000e+06>,
// CHECK-SAME:    d = #strata.rope<scaling = linear, factor = 8.000000e+00>,
// CHECK-SAME:    e = #strata.rope<scaling = yarn, factor = 4.000000e+01, original_max_position = 4096, mscale_all_dim = 1.000000e+00>,
// CHECK-SAME:    f = #strata.rope<scaling = yarn, original_max_position = 1, beta_fast = 1.000000e+00>,
// CHECK-SAME:    g = #strata.rope<original_max_position = -5, beta_fast = 0.000000e+00, beta_slow = 0.000000e+00>,
// CHECK-SAME:    h = #strata.rope<theta = 5.000000e+05, scaling = yarn, factor = 3.200000e+01, original_max_position = 8192, beta_fast = 6.400000e+01, beta_slow = 2.000000e+00, mscale = 7.070000e-01, mscale_all_dim = 5.000000e-01>}
func.func @rope() attributes {
    a = #strata.rope<>,
    b = #strata.rope<theta = 10000.0, scaling = none, factor = 1.0, original_max_position = 0, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 0.0>,
    c = #strata.rope<theta = 1000000.0>,
    d = #strata.rope<scaling = linear, factor = 8.0>,
    e = #strata.rope<theta = 10000.0, scaling = yarn, factor = 40.0, original_max_position = 4096, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>,
    f = #strata.rope<scaling = yarn, factor = 1.0, original_max_position = 1, beta_fast = 1.0, beta_slow = 1.0>,
    g = #strata.rope<original_max_position = -5, beta_fast = 0.0, beta_slow = 0.0>,
    h = #strata.rope<theta = 500000.0, scaling = yarn, factor = 32.0, original_max_position = 8192, beta_fast = 64.0, beta_slow = 2.0, mscale = 0.707, mscale_all_dim = 0.5>} {
  return
}

// Tests that #strata.block_sparse round-trips, printing only non-default parameters.
// CHECK-LABEL: func.func @block_sparse()
// CHECK-SAME:    a = #strata.block_sparse<>,
// CHECK-SAME:    b = #strata.block_sparse<>,
// CHECK-SAME:    c = #strata.block_sparse<block_size = 1, num_local_blocks = 4, num_global_blocks = 0, num_random_blocks = 0, seed = -3>,
// CHECK-SAME:    d = #strata.block_sparse<seed = 12345>}
func.func @block_sparse() attributes {
    a = #strata.block_sparse<>,
    b = #strata.block_sparse<block_size = 64, num_local_blocks = 1, num_global_blocks = 1, num_random_blocks = 3, seed = 0>,
    c = #strata.block_sparse<block_size = 1, num_local_blocks = 4, num_global_blocks = 0, num_random_blocks = 0, seed = -3>,
    d = #strata.block_sparse<seed = 12345>} {
  return
}

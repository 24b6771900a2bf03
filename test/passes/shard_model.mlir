// strata-compile's shard phase (strata-shard{beside}) on the example model
// (hidden 64, 4 query and 2 KV heads of 16, MLP 128, 8 experts with a
// shared one; its plan has tp 2, here with pp 1): the whole program stays,
// and pipeline stage 0's tensor-parallel program is added beside it. With
// tp 1 there is none; with the config's pp 2 the pipeline stages'
// programs (test/passes/pipeline.mlir) call the split bodies, `tp.<name>`.
// RUN: strata-compile %examples/tiny.yaml --pp 1 --emit=mlir | FileCheck %s --check-prefix=BESIDE
// RUN: strata-compile %examples/tiny.yaml --pp 1 --train --emit=mlir | FileCheck %s --check-prefix=TRAIN
// RUN: strata-compile %examples/tiny.yaml --emit=mlir | FileCheck %s --check-prefix=STAGES
// RUN: strata-compile %examples/tiny.yaml --tp 1 --pp 1 --emit=mlir | FileCheck %s --check-prefix=TP1
// RUN: strata-compile %examples/tiny.yaml --pp 1 --quantize=w8a16 --emit=mlir 2>&1 | FileCheck %s --check-prefix=INT8

// In place (strata-opt --strata-shard) on the IR without the phase (CUDA
// executables have no tensor-parallel program yet, so theirs is that).
// RUN: strata-compile %examples/tiny.yaml --target=cuda --emit=mlir 2>/dev/null | strata-opt --strata-shard | FileCheck %s
// RUN: strata-compile %examples/tiny.yaml --target=cuda --tp 4 --pp 1 --emit=mlir 2>/dev/null | strata-opt --strata-shard | FileCheck %s --check-prefix=TP4
// RUN: strata-compile %examples/tiny.yaml --target=cuda --train --emit=mlir 2>/dev/null | not strata-opt --strata-shard 2>&1 | FileCheck %s --check-prefix=INPLACE-TRAIN

// Beside: the whole layer keeps its whole weights; its stage-0 clone has
// half the heads and half the MLP with two all-reduces; the stage-0 entry
// points call the clones with each rank's slices.
// BESIDE-LABEL: func.func private @dense_layer(
// BESIDE-SAME: tensor<64x64xf32>, %{{[^:]*}}: tensor<32x64xf32>, %{{[^:]*}}: tensor<32x64xf32>, %{{[^:]*}}: tensor<64x64xf32>,
// BESIDE-NOT: shard.all_reduce
// BESIDE: return
// BESIDE-LABEL: func.func private @stage0.dense_layer(
// BESIDE-SAME: tensor<32x64xf32> {strata.shard_dim = 0 : i64}, %{{[^:]*}}: tensor<16x64xf32> {strata.shard_dim = 0 : i64}
// BESIDE-COUNT-2: shard.all_reduce
// BESIDE-LABEL: func.func @forward(
// BESIDE: strata.param "model.layers.0.self_attn.q_proj.weight" : tensor<64x64xf32>
// BESIDE: call @dense_layer(
// BESIDE-LABEL: func.func @stage0.forward(
// BESIDE-SAME: attributes {strata.stage = 0 : i64}
// BESIDE: strata.param "model.layers.0.self_attn.q_proj.weight" {strata.shard_count = 2 : i64, strata.shard_dim = 0 : i64} : tensor<32x64xf32>
// BESIDE: call @stage0.dense_layer(
// BESIDE-LABEL: func.func @decode(
// BESIDE-SAME: %{{[^:]*}}: tensor<?x?x32xf32>, %{{[^:]*}}: tensor<?x?x32xf32>,
// BESIDE-LABEL: func.func @stage0.decode(
// BESIDE-SAME: %{{[^:]*}}: tensor<?x?x16xf32>, %{{[^:]*}}: tensor<?x?x16xf32>,
// BESIDE-SAME: attributes {strata.stage = 0 : i64}

// Training: the program's loss is differentiated through the
// partitioned bodies. Each replicated input of column-parallel products
// is marked (strata.enter_tensor_parallel), and the layer's backward sums
// over the ranks twice more: once per marked input (Megatron's f), the
// forward's two row-parallel sums (g) being recomputed.
// TRAIN32-LABEL: func.func private @stage0.dense_layer_train_vjp(
// TRAIN32: strata.enter_tensor_parallel %{{.*}} on @mesh axis 3
// TRAIN32-COUNT-4: shard.all_reduce
// TRAIN32-NOT: shard.all_reduce
// TRAIN32: return
// TRAIN32-LABEL: func.func @stage0.loss_grad(
// TRAIN32-SAME: attributes {strata.stage = 0 : i64}
// TRAIN32: call @stage0.moe_layer_with_aux_train_vjp(

// The example's bf16 training: mixed precision rounds the program's loss
// like the whole one (its bf16 bodies cloned too), and the whole
// training entry points call only whole bodies.
// TRAIN-LABEL: func.func @stage0.forward(
// TRAIN-LABEL: func.func @loss_grad(
// TRAIN-NOT: call @stage0.
// TRAIN-LABEL: func.func @stage0.loss(
// TRAIN-LABEL: func.func @stage0.loss_grad(
// TRAIN-SAME: attributes {strata.stage = 0 : i64}
// TRAIN: call @stage0.dense_layer_bf16_train_vjp(
// TRAIN-LABEL: func.func @stage0.decode(
// TRAIN-NOT: func.func @stage0.optimizer

// TP1-NOT: stage0.
// TP1-NOT: strata.shard_dim

// STAGES-LABEL: func.func private @tp.dense_layer(
// STAGES-SAME: tensor<32x64xf32> {strata.shard_dim = 0 : i64}
// STAGES-COUNT-2: shard.all_reduce
// STAGES-LABEL: func.func @stage0.forward(
// STAGES: strata.param "model.layers.0.self_attn.q_proj.weight" {strata.shard_count = 2 : i64, strata.shard_dim = 0 : i64} : tensor<32x64xf32>
// STAGES: call @tp.dense_layer(
// STAGES-LABEL: func.func @stage1.forward(
// STAGES: call @tp.moe_layer(
// STAGES-NOT: func.func @stage2.

// INT8: note: --tp 2: int8 executables hold no tensor-parallel program yet; this one runs as one process
// INT8-NOT: stage0.

// INPLACE-TRAIN: error: strata-shard: tensor parallelism of training steps is not implemented yet; compile without --train or with --tp 1

// In place: every layer body keeps half the heads and half the MLP, with
// two all-reduces in a dense layer; each routed expert keeps half its
// intermediate features, its partial sums all-reduced; the entry
// points pass each rank's slices (strata.param marked with the split) and
// decode's KV caches are half as wide in and out.
// CHECK-LABEL: func.func private @dense_layer(
// CHECK-SAME: tensor<32x64xf32> {strata.shard_dim = 0 : i64}, %{{[^:]*}}: tensor<16x64xf32> {strata.shard_dim = 0 : i64}, %{{[^:]*}}: tensor<16x64xf32> {strata.shard_dim = 0 : i64}, %{{[^:]*}}: tensor<64x32xf32> {strata.shard_dim = 1 : i64}
// CHECK-SAME: tensor<64x64xf32> {strata.shard_dim = 0 : i64}, %{{[^:]*}}: tensor<64x64xf32> {strata.shard_dim = 0 : i64}, %{{[^:]*}}: tensor<64x64xf32> {strata.shard_dim = 1 : i64}
// CHECK: strata.attention {{.*}}num_heads = 2 : i64, num_kv_heads = 1 : i64
// CHECK: shard.all_reduce %{{.*}} on @mesh grid_axes = [3] : tensor<?x?x64xf32>
// CHECK: strata.swiglu {{.*}} : tensor<?x?x64xf32>
// CHECK: shard.all_reduce %{{.*}} on @mesh grid_axes = [3] : tensor<?x?x64xf32>
// CHECK: return
// CHECK-LABEL: func.func private @moe_layer(
// CHECK: %[[EXPERTS:.*]] = strata.moe_experts {{.*}} experts(%{{.*}}) {{.*}} tensor<8x16x64xf32>, tensor<8x16x64xf32>, tensor<8x64x16xf32>
// CHECK: shard.all_reduce %[[EXPERTS]] on @mesh grid_axes = [3]
// CHECK-LABEL: func.func @forward(
// CHECK: strata.param "model.embed_tokens.weight" : tensor<512x64xf32>
// CHECK: strata.param "model.layers.0.self_attn.q_proj.weight" {strata.shard_count = 2 : i64, strata.shard_dim = 0 : i64} : tensor<32x64xf32>
// CHECK: strata.param "model.layers.0.self_attn.o_proj.weight" {strata.shard_count = 2 : i64, strata.shard_dim = 1 : i64} : tensor<64x32xf32>
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %{{[^:]*}}: tensor<?x?x16xf32>, %{{[^:]*}}: tensor<?x?x16xf32>,
// CHECK-SAME: -> (tensor<?x?x512xf32>, tensor<?x?x16xf32>,

// Four ranks cannot split 2 KV heads: attention stays whole, the MLP does
// not (128 / 4).
// TP4-LABEL: func.func private @dense_layer(
// TP4-SAME: %{{[^:]*}}: tensor<64x64xf32>, %{{[^:]*}}: tensor<32x64xf32>, %{{[^:]*}}: tensor<32x64xf32>, %{{[^:]*}}: tensor<64x64xf32>,
// TP4-SAME: tensor<32x64xf32> {strata.shard_dim = 0 : i64}, %{{[^:]*}}: tensor<32x64xf32> {strata.shard_dim = 0 : i64}, %{{[^:]*}}: tensor<64x32xf32> {strata.shard_dim = 1 : i64}
// TP4: strata.attention {{.*}}num_heads = 4 : i64, num_kv_heads = 2 : i64
// TP4-COUNT-1: shard.all_reduce
// TP4: return

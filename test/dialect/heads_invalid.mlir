// RUN: strata-opt %s -split-input-file -verify-diagnostics

// Tests that memory_compression rejects ratio = 0 (compress_c1).
func.func @compress_zero_ratio(%x: tensor<2x16x64xf32>) {
  %ew = strata.param "enc.weight" : tensor<16x64xf32>
  %eb = strata.param "enc.bias" : tensor<16xf32>
  %dw = strata.param "dec.weight" : tensor<64x16xf32>
  %db = strata.param "dec.bias" : tensor<64xf32>
  %nw = strata.param "norm.weight" : tensor<64xf32>
  %nb = strata.param "norm.bias" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c1: ratio must be in (0, 1], got 0.000000e+00}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.0} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that memory_compression rejects ratio > 1 (compress_c1).
func.func @compress_ratio_above_one(%x: tensor<2x16x64xf32>) {
  %ew = strata.param "enc.weight" : tensor<16x64xf32>
  %eb = strata.param "enc.bias" : tensor<16xf32>
  %dw = strata.param "dec.weight" : tensor<64x16xf32>
  %db = strata.param "dec.bias" : tensor<64xf32>
  %nw = strata.param "norm.weight" : tensor<64xf32>
  %nb = strata.param "norm.bias" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c1: ratio must be in (0, 1], got 1.500000e+00}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 1.5} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that int(hidden * ratio) must be >= 1 (compress_c1).
func.func @compress_empty_bottleneck(%x: tensor<2x16x64xf32>) {
  %ew = strata.param "enc.weight" : tensor<16x64xf32>
  %eb = strata.param "enc.bias" : tensor<16xf32>
  %dw = strata.param "dec.weight" : tensor<64x16xf32>
  %db = strata.param "dec.bias" : tensor<64xf32>
  %nw = strata.param "norm.weight" : tensor<64xf32>
  %nb = strata.param "norm.bias" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c1: int(hidden * ratio) must be >= 1, got 0}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.01} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that with a dynamic hidden dim the bottleneck size comes from enc_weight, so a mismatching enc_bias is rejected (compress_c2).
func.func @compress_dynamic_hidden_empty_bottleneck(%x: tensor<2x16x?xf32>) {
  %ew = strata.param "enc.weight" : tensor<16x64xf32>
  %eb = strata.param "enc.bias" : tensor<0xf32>
  %dw = strata.param "dec.weight" : tensor<64x16xf32>
  %db = strata.param "dec.bias" : tensor<64xf32>
  %nw = strata.param "norm.weight" : tensor<64xf32>
  %nb = strata.param "norm.bias" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c2: enc_bias must have shape [16], got 'tensor<0xf32>'}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25} : tensor<2x16x?xf32>, tensor<16x64xf32>, tensor<0xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that enc_weight must be [R, D] (compress_c2).
func.func @compress_enc_weight_shape(%x: tensor<2x16x64xf32>) {
  %ew = strata.param "enc.weight" : tensor<16x32xf32>
  %eb = strata.param "enc.bias" : tensor<16xf32>
  %dw = strata.param "dec.weight" : tensor<64x16xf32>
  %db = strata.param "dec.bias" : tensor<64xf32>
  %nw = strata.param "norm.weight" : tensor<64xf32>
  %nb = strata.param "norm.bias" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c2: enc_weight must have shape [16, 64], got 'tensor<16x32xf32>'}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25} : tensor<2x16x64xf32>, tensor<16x32xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that enc_bias must be [R] (compress_c2).
func.func @compress_enc_bias_shape(%x: tensor<2x16x64xf32>) {
  %ew = strata.param "enc.weight" : tensor<16x64xf32>
  %eb = strata.param "enc.bias" : tensor<8xf32>
  %dw = strata.param "dec.weight" : tensor<64x16xf32>
  %db = strata.param "dec.bias" : tensor<64xf32>
  %nw = strata.param "norm.weight" : tensor<64xf32>
  %nb = strata.param "norm.bias" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c2: enc_bias must have shape [16], got 'tensor<8xf32>'}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<8xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that dec_weight must be [D, R] (compress_c2).
func.func @compress_dec_weight_shape(%x: tensor<2x16x64xf32>) {
  %ew = strata.param "enc.weight" : tensor<16x64xf32>
  %eb = strata.param "enc.bias" : tensor<16xf32>
  %dw = strata.param "dec.weight" : tensor<16x64xf32>
  %db = strata.param "dec.bias" : tensor<64xf32>
  %nw = strata.param "norm.weight" : tensor<64xf32>
  %nb = strata.param "norm.bias" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c2: dec_weight must have shape [64, 16], got 'tensor<16x64xf32>'}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<16x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that dec_bias must be [D] (compress_c2).
func.func @compress_dec_bias_shape(%x: tensor<2x16x64xf32>) {
  %ew = strata.param "enc.weight" : tensor<16x64xf32>
  %eb = strata.param "enc.bias" : tensor<16xf32>
  %dw = strata.param "dec.weight" : tensor<64x16xf32>
  %db = strata.param "dec.bias" : tensor<16xf32>
  %nw = strata.param "norm.weight" : tensor<64xf32>
  %nb = strata.param "norm.bias" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c2: dec_bias must have shape [64], got 'tensor<16xf32>'}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<16xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that norm_weight must be [D] (compress_c2).
func.func @compress_norm_weight_shape(%x: tensor<2x16x64xf32>) {
  %ew = strata.param "enc.weight" : tensor<16x64xf32>
  %eb = strata.param "enc.bias" : tensor<16xf32>
  %dw = strata.param "dec.weight" : tensor<64x16xf32>
  %db = strata.param "dec.bias" : tensor<64xf32>
  %nw = strata.param "norm.weight" : tensor<63xf32>
  %nb = strata.param "norm.bias" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c2: norm_weight must have shape [64], got 'tensor<63xf32>'}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<63xf32>, tensor<64xf32>
  return
}

// -----

// Tests that norm_bias must be [D] (compress_c2).
func.func @compress_norm_bias_shape(%x: tensor<2x16x64xf32>) {
  %ew = strata.param "enc.weight" : tensor<16x64xf32>
  %eb = strata.param "enc.bias" : tensor<16xf32>
  %dw = strata.param "dec.weight" : tensor<64x16xf32>
  %db = strata.param "dec.bias" : tensor<64xf32>
  %nw = strata.param "norm.weight" : tensor<64xf32>
  %nb = strata.param "norm.bias" : tensor<65xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c2: norm_bias must have shape [64], got 'tensor<65xf32>'}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<65xf32>
  return
}

// -----

// Tests that memory_compression rejects eps = 0 (compress_c3).
func.func @compress_zero_eps(%x: tensor<2x16x64xf32>) {
  %ew = strata.param "enc.weight" : tensor<16x64xf32>
  %eb = strata.param "enc.bias" : tensor<16xf32>
  %dw = strata.param "dec.weight" : tensor<64x16xf32>
  %db = strata.param "dec.bias" : tensor<64xf32>
  %nw = strata.param "norm.weight" : tensor<64xf32>
  %nb = strata.param "norm.bias" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c3: eps must be > 0}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25, eps = 0.0} : tensor<2x16x64xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that the lm_head weight must read the input hidden size (lmhead_c1).
func.func @lm_head_hidden_mismatch(%x: tensor<2x16x64xf32>) {
  %w = strata.param "lm_head.weight" : tensor<1000x32xf32>
  // expected-error @+1 {{'strata.lm_head' op lmhead_c1: the last dim of input (64) must equal the weight's in_features (32)}}
  %0 = strata.lm_head %x, %w : tensor<2x16x64xf32>, tensor<1000x32xf32>
  return
}

// -----

// Tests that the lm_head weight must be rank 2 (lmhead_c1).
func.func @lm_head_weight_rank(%x: tensor<2x16x64xf32>) {
  %w = strata.param "lm_head.weight" : tensor<64000xf32>
  // expected-error @+1 {{'strata.lm_head' op lmhead_c1: weight must be rank 2 [out, in], got 'tensor<64000xf32>'}}
  %0 = strata.lm_head %x, %w : tensor<2x16x64xf32>, tensor<64000xf32>
  return
}

// -----

// Tests that classification_head rejects an input that is not rank 3 (cls_c1).
func.func @cls_input_rank(%x: tensor<16x64xf32>) {
  %w = strata.param "cls.weight" : tensor<3x64xf32>
  // expected-error @+1 {{'strata.classification_head' op cls_c1: input must be rank 3 [batch, seq, hidden], got 'tensor<16x64xf32>'}}
  %0 = strata.classification_head %x, %w : tensor<16x64xf32>, tensor<3x64xf32>
  return
}

// -----

// Tests that the classifier weight must read the input hidden size (cls_c2).
func.func @cls_weight_hidden(%x: tensor<2x16x64xf32>) {
  %w = strata.param "cls.weight" : tensor<3x32xf32>
  // expected-error @+1 {{'strata.classification_head' op cls_c2: weight must have shape [3, 64], got 'tensor<3x32xf32>'}}
  %0 = strata.classification_head %x, %w : tensor<2x16x64xf32>, tensor<3x32xf32>
  return
}

// -----

// Tests that classification_head rejects zero classes (cls_c2).
func.func @cls_zero_classes(%x: tensor<2x16x64xf32>) {
  %w = strata.param "cls.weight" : tensor<0x64xf32>
  // expected-error @+1 {{'strata.classification_head' op cls_c2: num_classes must be >= 1}}
  %0 = strata.classification_head %x, %w : tensor<2x16x64xf32>, tensor<0x64xf32>
  return
}

// -----

// Tests that the classifier bias must be [C] (cls_c2).
func.func @cls_bias_shape(%x: tensor<2x16x64xf32>) {
  %w = strata.param "cls.weight" : tensor<3x64xf32>
  %b = strata.param "cls.bias" : tensor<4xf32>
  // expected-error @+1 {{'strata.classification_head' op cls_c2: bias must have shape [3], got 'tensor<4xf32>'}}
  %0 = strata.classification_head %x, %w, %b {pooling = #strata.pooling<mean>} : tensor<2x16x64xf32>, tensor<3x64xf32>, tensor<4xf32>
  return
}

// -----

// Tests that cross_entropy logits must be the labels' shape plus a class dim (xent_c1).
func.func @xent_shape_mismatch(%l: tensor<2x16x100xf32>, %t: tensor<2x8xi32>) {
  // expected-error @+1 {{'strata.cross_entropy' op xent_c1: logits must be labels' shape plus a class dim, got 'tensor<2x16x100xf32>' and 'tensor<2x8xi32>'}}
  %0 = strata.cross_entropy %l, %t : tensor<2x16x100xf32>, tensor<2x8xi32>
  return
}

// -----

// Tests that cross_entropy logits must have rank labels + 1 (xent_c1).
func.func @xent_rank_mismatch(%l: tensor<2x16x100xf32>, %t: tensor<2x16x100xi32>) {
  // expected-error @+1 {{'strata.cross_entropy' op xent_c1: logits must be labels' shape plus a class dim, got 'tensor<2x16x100xf32>' and 'tensor<2x16x100xi32>'}}
  %0 = strata.cross_entropy %l, %t : tensor<2x16x100xf32>, tensor<2x16x100xi32>
  return
}

// -----

// Tests that cross_entropy labels must be integers (xent_c2, enforced by the operand type).
func.func @xent_float_labels(%l: tensor<2x16x100xf32>, %t: tensor<2x16xf32>) {
  // expected-error @+1 {{'strata.cross_entropy' op operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<2x16xf32>'}}
  %0 = strata.cross_entropy %l, %t : tensor<2x16x100xf32>, tensor<2x16xf32>
  return
}

// -----

// Tests that the generic form checks that cross_entropy returns a scalar f32.
func.func @xent_generic_wrong_result(%l: tensor<2x16x100xf32>, %t: tensor<2x16xi32>) {
  // expected-error @+1 {{'strata.cross_entropy' op result #0 must be 0D tensor of 32-bit float values, but got 'tensor<2x16xf32>'}}
  %0 = "strata.cross_entropy"(%l, %t) <{ignore_index = -100 : i64}> : (tensor<2x16x100xf32>, tensor<2x16xi32>) -> tensor<2x16xf32>
  return
}

// -----

// Tests that a rank-0 enc_bias with a dynamic hidden dim is an error, not a crash (compress_c2).
func.func @compress_rank0_bias_dynamic_hidden(%x: tensor<2x16x?xf32>) {
  %ew = strata.param "ew" : tensor<16x64xf32>
  %eb = strata.param "eb" : tensor<f32>
  %dw = strata.param "dw" : tensor<64x16xf32>
  %db = strata.param "db" : tensor<64xf32>
  %nw = strata.param "nw" : tensor<64xf32>
  %nb = strata.param "nb" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c2: enc_bias must have shape [16], got 'tensor<f32>'}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25} : tensor<2x16x?xf32>, tensor<16x64xf32>, tensor<f32>, tensor<64x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that with a dynamic hidden dim the decoder is checked against the encoder's shape (compress_c2).
func.func @compress_dynamic_hidden_decoder_mismatch(%x: tensor<2x16x?xf32>) {
  %ew = strata.param "ew" : tensor<16x64xf32>
  %eb = strata.param "eb" : tensor<16xf32>
  %dw = strata.param "dw" : tensor<32x16xf32>
  %db = strata.param "db" : tensor<64xf32>
  %nw = strata.param "nw" : tensor<64xf32>
  %nb = strata.param "nb" : tensor<64xf32>
  // expected-error @+1 {{'strata.memory_compression' op compress_c2: dec_weight must have shape [64, 16], got 'tensor<32x16xf32>'}}
  %0 = strata.memory_compression %x enc(%ew, %eb) dec(%dw, %db) norm(%nw, %nb) {ratio = 0.25} : tensor<2x16x?xf32>, tensor<16x64xf32>, tensor<16xf32>, tensor<32x16xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

// Tests that a rank-1 classifier weight is reported as a rank error (cls_c2).
func.func @cls_rank1_weight(%x: tensor<2x16x64xf32>) {
  %w = strata.param "w" : tensor<64xf32>
  // expected-error @+1 {{'strata.classification_head' op cls_c2: weight must be rank 2 [num_classes, hidden], got 'tensor<64xf32>'}}
  %0 = strata.classification_head %x, %w : tensor<2x16x64xf32>, tensor<64xf32>
  return
}

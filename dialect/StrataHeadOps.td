//===- StrataHeadOps.td - compression, heads, losses --------*- tablegen -*-===//
//
// The seed's memory-compression module, the task heads and the losses.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_HEAD_OPS_TD
#define STRATA_HEAD_OPS_TD

def Strata_MemoryCompressionOp : Strata_ComputeOp<"memory_compression",
    [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "residual bottleneck: layernorm(x + dec(act(enc(x))))";
  let description = [{
    The seed's memory-compression module. `enc: [R, D]` (+ bias `[R]`),
    `dec: [D, R]` (+ bias `[D]`), with `R = int(D * ratio)`; then a
    LayerNorm with `norm_weight`, `norm_bias` over D.

    Constraints: compress_c1 0 < ratio <= 1 and R >= 1;
    compress_c2 the weights have the shapes above; compress_c3 eps > 0.
  }];
  let arguments = (ins Strata_FloatTensor:$input,
      Strata_FloatTensor:$enc_weight, Strata_FloatTensor:$enc_bias,
      Strata_FloatTensor:$dec_weight, Strata_FloatTensor:$dec_bias,
      Strata_FloatTensor:$norm_weight, Strata_FloatTensor:$norm_bias,
      F64Attr:$ratio,
      DefaultValuedAttr<Strata_ActivationAttr,
          "::mlir::strata::Activation::Gelu">:$activation,
      DefaultValuedAttr<F64Attr, "1.0e-5">:$eps);
  let results = (outs Strata_FloatTensor:$result);
  let assemblyFormat = [{
    $input `enc` `(` $enc_weight `,` $enc_bias `)` `dec` `(` $dec_weight `,`
    $dec_bias `)` `norm` `(` $norm_weight `,` $norm_bias `)` attr-dict `:`
    type(operands)
  }];
}

def Strata_LMHeadOp : Strata_ComputeOp<"lm_head", [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "language-model head: logits = x W^T";
  let description = [{
    `weight: [vocab, hidden]`; when it is the embedding table the head is
    tied and the parameter is counted once.

    Constraints: lmhead_c1 weight is rank 2 and its second dim is the last
    dim of input.
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weight);
  let results = (outs Strata_FloatTensor:$logits);
  let assemblyFormat =
      "$input `,` $weight attr-dict `:` type($input) `,` type($weight)";
  let hasVerifier = 0;
}

def Strata_ClassificationHeadOp : Strata_ComputeOp<"classification_head",
    [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "sequence classification head";
  let description = [{
    Pools `[B, S, D]` over the sequence (`last` token, or `mean`) and
    projects to `[B, num_classes]` with `weight: [C, D]` and optional bias.

    Constraints: cls_c1 input is rank 3; cls_c2 weight is [C, D] with
    C >= 1, bias is [C].

    Gradient: `strata.pooling_backward` spreads the logits' gradient over
    the sequence as `[B, S, C]` (to the last token, or `1/S` of it to
    every token), and `strata.linear_backward` of the input and that
    gives the input's, weight's and bias's.
  }];
  let arguments = (ins Strata_FloatTensor:$input, Strata_FloatTensor:$weight,
      Optional<Strata_FloatTensor>:$bias,
      DefaultValuedAttr<Strata_PoolingAttr,
          "::mlir::strata::Pooling::Last">:$pooling);
  let results = (outs Strata_FloatTensor:$logits);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)?
  }];
  let hasVerifier = 0;
}

def Strata_CrossEntropyOp : Strata_ComputeOp<"cross_entropy",
    [DeclareOpInterfaceMethods<StrataGradientOpInterface>]> {
  let summary = "mean token cross-entropy with an ignore index";
  let description = [{
    `mean over labels != ignore_index of -log_softmax(logits)[label]`;
    0 when every label is ignored.

    Constraints: xent_c1 logits have rank labels + 1 and the same leading
    dims; xent_c2 labels are integers.
  }];
  let arguments = (ins Strata_FloatTensor:$logits, Strata_TokenTensor:$labels,
      DefaultValuedAttr<I64Attr, "-100">:$ignore_index);
  let results = (outs Strata_ScalarF32:$loss);
  let assemblyFormat =
      "$logits `,` $labels attr-dict `:` type($logits) `,` type($labels)";
}

#endif // STRATA_HEAD_OPS_TD

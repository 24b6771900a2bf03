//===- StrataBase.td - Strata dialect definition ------------*- tablegen -*-===//
//
// The `strata` dialect: the building blocks of DeepSeek-style models at the
// tensor level. Every op carries the config line that produced it as its
// location; docs/spec.md numbers each op's constraints and the verifiers
// quote those ids in their messages.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_BASE_TD
#define STRATA_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Strata_Dialect : Dialect {
  let name = "strata";
  let cppNamespace = "::mlir::strata";
  let summary = "Building blocks of DeepSeek-style mixture-of-experts models";
  let description = [{
    Ops of the `strata` dialect are the real building blocks of the model
    family: embedding, normalisation, projections, rotary positions,
    attention (grouped KV, causal, sliding window, block-sparse, DeepSeek's
    multi-head latent attention), the top-k router and the routed experts of
    a mixture-of-experts layer, the memory-compression module, task heads and
    losses. Parameters enter the graph through `strata.param`, which names
    them; compute ops take weights as operands, so a parameter that is used
    twice (a tied LM head) is one value.

    Every compute op implements `StrataCostOpInterface`, which reports the
    parameters it reads, the fraction of them a single token activates, and
    its forward FLOPs per token.
  }];
  let useDefaultAttributePrinterParser = 1;
  // The frontend's decode function concatenates KV caches with tensor.concat.
  // Modules carry their device mesh as a shard.grid (see #strata.parallel).
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::shard::ShardDialect"];
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Defined next to the generated attribute storage (StrataAttrs.cpp).
    void registerAttributes();
  }];
}

class Strata_Op<string mnemonic, list<Trait> traits = []>
    : Op<Strata_Dialect, mnemonic, traits>;

class Strata_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Strata_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

// Floating-point activations and weights; the frontend builds f32 and later
// passes choose bf16/int8 storage.
def Strata_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
// What a parameter may hold: a float tensor, or int8 weights that a
// per-output-channel f32 parameter dequantizes (strata-quantize).
def Strata_ParamTensor : RankedTensorOf<[F32, F16, BF16, I8, I32]>;
def Strata_Int8Tensor : RankedTensorOf<[I8]>;
def Strata_F32Tensor : RankedTensorOf<[F32]>;
def Strata_TokenTensor : RankedTensorOf<[I32, I64]>;
def Strata_IndexTensor : RankedTensorOf<[I32]>;
def Strata_ScalarF32 : 0DTensorOf<[F32]>;
// A training step's update number (1-based): what seeds its randomness
// and its schedule.
def Strata_StepTensor : 0DTensorOf<[I32]> {
  let builderCall = "::mlir::RankedTensorType::get({}, $_builder.getI32Type())";
}

#endif // STRATA_BASE_TD

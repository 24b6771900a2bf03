//===- StrataInterfaces.td - Strata op interfaces -----------*- tablegen -*-===//
//
// StrataCostOpInterface: what an op costs. `strata-compile --stats` and, later,
// the sharding and memory planners read parameter counts and FLOPs from it
// rather than from the config, so the numbers describe the IR that runs.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_INTERFACES_TD
#define STRATA_INTERFACES_TD

include "mlir/IR/OpBase.td"

def StrataCostOpInterface : OpInterface<"StrataCostOpInterface"> {
  let cppNamespace = "::mlir::strata";
  let description = [{
    Parameter and FLOP accounting for one op. Parameters are the operands
    produced by `strata.param`; the active part of an operand is what one
    token reads (a routed expert's weights count top_k / num_experts).
    FLOPs count a multiply-add as two and are per token of the forward pass;
    attention reads `contextLength` keys at most, see docs/spec.md.
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/"Elements of parameter operand `operandIndex` that one token "
               "reads in the forward pass.",
      /*retTy=*/"int64_t", /*methodName=*/"getActiveParamElements",
      /*args=*/(ins "unsigned":$operandIndex), /*methodBody=*/"",
      /*defaultImplementation=*/[{
        return ::mlir::strata::detail::getParamElements(
            $_op->getOperand(operandIndex));
      }]>,
    InterfaceMethod<
      /*desc=*/"Forward FLOPs per token for a sequence of `contextLength`.",
      /*retTy=*/"int64_t", /*methodName=*/"getFlopsPerToken",
      /*args=*/(ins "int64_t":$contextLength)>,
  ];
}

def StrataGradientOpInterface : OpInterface<"StrataGradientOpInterface"> {
  let cppNamespace = "::mlir::strata";
  let description = [{
    The op's vector-Jacobian product, for `strata-autodiff`: given the
    gradients flowing into its results, build (at the builder's insertion
    point, after the op) the gradients of its operands. Rules emit strata
    ops — the `*_backward` ops where the backward is more than a
    combination of forward ops — so the backward stays at the model's level
    until codegen lowers it like the forward.
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/"Gradients of the operands from those of the results. "
               "`resultGrads` has one value per result, null where no "
               "gradient flows; `operandGrads` receives one value per "
               "operand, null where the operand is not differentiable "
               "(token ids, labels). Fails with an error at the op when "
               "the rule does not cover the op's configuration.",
      /*retTy=*/"::mlir::LogicalResult", /*methodName=*/"buildVJP",
      /*args=*/(ins "::mlir::OpBuilder &":$builder,
                    "::mlir::ValueRange":$resultGrads,
                    "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

#endif // STRATA_INTERFACES_TD

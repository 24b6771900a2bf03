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

#endif // STRATA_INTERFACES_TD

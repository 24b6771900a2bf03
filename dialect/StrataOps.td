//===- StrataOps.td - Strata op definitions -----------------*- tablegen -*-===//
//
// Entry point for the op families; each family lives in its own file.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_OPS_TD
#define STRATA_OPS_TD

include "dialect/StrataBase.td"
include "dialect/StrataAttrs.td"
include "dialect/StrataInterfaces.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"

/// A compute op: pure, result types inferred from operands, and costed.
class Strata_ComputeOp<string mnemonic, list<Trait> traits = [],
                       list<string> costOverrides = []>
    : Strata_Op<mnemonic, !listconcat([Pure, InferTypeOpAdaptor,
        DeclareOpInterfaceMethods<StrataCostOpInterface, costOverrides>],
        traits)> {
  let hasVerifier = 1;
}

include "dialect/StrataCoreOps.td"
include "dialect/StrataAttentionOps.td"
include "dialect/StrataMoEOps.td"
include "dialect/StrataHeadOps.td"
include "dialect/StrataGradOps.td"
include "dialect/StrataOptimizerOps.td"
include "dialect/StrataQuantOps.td"

#endif // STRATA_OPS_TD

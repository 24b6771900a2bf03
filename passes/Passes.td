//===- Passes.td - Strata passes ----------------------------*- tablegen -*-===//

#ifndef STRATA_PASSES_TD
#define STRATA_PASSES_TD

include "mlir/Pass/PassBase.td"

def StrataPrintStats : Pass<"strata-print-stats", "mlir::ModuleOp"> {
  let summary = "Print parameter counts and forward FLOPs per token";
  let description = [{
    Sums StrataCostOpInterface over the `forward` function (or the first
    function) and prints the totals and a per-layer breakdown, as JSON or a
    table, to stdout. The IR is unchanged. `strata-compile --stats` runs the
    same analysis.
  }];
  let options = [
    Option<"contextLength", "context-length", "int64_t", "2048",
           "Sequence length at which attention FLOPs are counted">,
    Option<"json", "json", "bool", "false", "Print JSON instead of a table">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

def StrataParamsToArguments
    : Pass<"strata-params-to-arguments", "mlir::ModuleOp"> {
  let summary = "Turn strata.param ops into function arguments";
  let description = [{
    Each `strata.param` becomes a trailing argument of its function, in
    order of first appearance, with the argument attributes
    `strata.param = "<name>"` and `strata.init = #strata.init<...>`, so a
    runtime binds weights by name. Parameters shared by several functions
    keep the same name in each. Needed before bufferization: parameters are
    then ordinary memref arguments.
  }];
  let dependentDialects = ["mlir::func::FuncDialect"];
}

#endif // STRATA_PASSES_TD

//===- Passes.td - Strata codegen passes --------------------*- tablegen -*-===//

#ifndef STRATA_CODEGEN_PASSES_TD
#define STRATA_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def StrataConvertToLinalg : Pass<"strata-convert-to-linalg", "mlir::ModuleOp"> {
  let summary = "Lower strata compute ops to linalg, tensor, arith and math";
  let description = [{
    Applies the strata-to-linalg patterns of
    `codegen/Conversion/StrataToLinalg/` (one file per op family). Ops that
    have no lowering yet are an error at their location (naming the config
    line that produced them), unless `allow-partial` is set.
  }];
  let options = [
    Option<"allowPartial", "allow-partial", "bool", "false",
           "Leave ops without a lowering in place instead of failing">,
  ];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
    "mlir::math::MathDialect", "mlir::tensor::TensorDialect",
  ];
}

def StrataCopiesToLinalg : Pass<"strata-copies-to-linalg", "mlir::ModuleOp"> {
  let summary = "Turn memref.copy into linalg.copy";
  let description = [{
    Bufferization copies between strided buffers (the decode function's
    cache extension) as memref.copy, which LLVM lowering turns into calls
    to MLIR's C runner library when layouts are not contiguous. As
    linalg.copy they become loops, and the kernel library stays free of
    dependencies beyond libc and libm.
  }];
  let dependentDialects = ["mlir::linalg::LinalgDialect"];
}

def StrataExportEntryPoints
    : Pass<"strata-export-entry-points", "mlir::ModuleOp"> {
  let summary = "Give the model's functions a C calling interface";
  let description = [{
    Marks every public function with a body (`forward`, `loss`, ...) with
    `llvm.emit_c_interface`, so LLVM lowering adds `_mlir_ciface_<name>`
    wrappers that take memref descriptors by pointer: the stable entry
    points the runtime calls. External declarations (libm) are untouched.
  }];
}

#endif // STRATA_CODEGEN_PASSES_TD

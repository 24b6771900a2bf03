//===- StrataDialect.h - Strata dialect -------------------------*- C++ -*-===//
//
// The dialect class, its enums and attributes.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_DIALECT_STRATADIALECT_H
#define STRATA_DIALECT_STRATADIALECT_H

#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"

namespace mlir {
/// Float attribute parameters (rope theta, YaRN factors) are IEEE doubles;
/// MLIR ships no FieldParser for APFloat.
template <>
struct FieldParser<llvm::APFloat> {
  static FailureOr<llvm::APFloat> parse(AsmParser &parser) {
    double value;
    if (parser.parseFloat(value))
      return failure();
    return llvm::APFloat(value);
  }
};
} // namespace mlir

#include "dialect/StrataDialect.h.inc"
#include "dialect/StrataEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/StrataAttrs.h.inc"

#endif // STRATA_DIALECT_STRATADIALECT_H

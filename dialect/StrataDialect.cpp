//===- StrataDialect.cpp - Strata dialect registration ----------*- C++ -*-===//

#include "dialect/StrataDialect.h"
#include "dialect/StrataOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"


using namespace mlir;
using namespace mlir::strata;

#include "dialect/StrataDialect.cpp.inc"

void StrataDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/StrataOps.cpp.inc"
      >();
  registerAttributes();
}

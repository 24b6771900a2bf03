//===- KernelDialect.h - the strata_kernel dialect --------------*- C++ -*-===//
//
// Kernel-level ops (flash attention, grouped GEMM, expert sort) that the
// code generators lower; see KernelOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_DIALECT_KERNELDIALECT_H
#define STRATA_DIALECT_KERNELDIALECT_H

#include "dialect/StrataDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/KernelDialect.h.inc"

#define GET_OP_CLASSES
#include "dialect/KernelOps.h.inc"

#endif // STRATA_DIALECT_KERNELDIALECT_H

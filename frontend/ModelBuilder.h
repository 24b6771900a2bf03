//===- ModelBuilder.h - ModelSpec to strata IR ------------------*- C++ -*-===//
//
// Builds the tensor-level program of a model: `func.func @forward(tokens)`
// returning the heads' logits and, for language models, `func.func @loss`
// (tokens, labels) returning cross-entropy plus router balance losses.
// Parameter names follow HuggingFace checkpoints so weights load by name.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_FRONTEND_MODELBUILDER_H
#define STRATA_FRONTEND_MODELBUILDER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace strata {

class ConfigFile;
struct StrataConfig;

/// Builds the module for `config`; op locations point into `file`.
mlir::OwningOpRef<mlir::ModuleOp> buildModel(mlir::MLIRContext *ctx,
                                             const ConfigFile &file,
                                             const StrataConfig &config);

} // namespace strata

#endif // STRATA_FRONTEND_MODELBUILDER_H

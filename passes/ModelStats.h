//===- ModelStats.h - parameter and FLOP accounting over IR -----*- C++ -*-===//
//
// Sums StrataCostOpInterface over a function: total parameters, parameters
// one token activates, forward FLOPs per token, and the same per layer
// (ops are grouped by the NameLoc the frontend wraps their location in).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_PASSES_MODELSTATS_H
#define STRATA_PASSES_MODELSTATS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

#include <string>
#include <vector>

namespace mlir::strata {

struct GroupStats {
  std::string name;
  int64_t params = 0;
  int64_t activeParams = 0;
  int64_t flopsPerToken = 0;
};

struct ModelStats {
  int64_t contextLength = 0;
  GroupStats total;
  /// Forward FLOPs per token if every routed expert saw every token: the
  /// dense baseline that computing only the selected experts is measured
  /// against.
  int64_t denseExpertsFlopsPerToken = 0;
  std::vector<GroupStats> groups; ///< In program order: embed, layers.N, head.
  /// The op at which a count first exceeded 2^63 - 1 (a parameter of 2^64
  /// elements): the counts past it are saturated and meaningless, so
  /// callers report an error there instead of printing them.
  Operation *overflow = nullptr;
};

/// The error reported at ModelStats::overflow.
inline constexpr llvm::StringLiteral kStatsOverflow =
    "parameter or FLOP count exceeds 2^63 - 1; no statistics printed";

/// The layer an op belongs to: the name of the NameLoc the frontend wraps
/// its location in ("embed", "layers.3", "head"), else "model".
StringRef groupOf(Operation *op);

/// Accounts `func` for sequences of `contextLength` tokens.
ModelStats computeModelStats(func::FuncOp func, int64_t contextLength);

/// One JSON object: params_total, params_active, flops_per_token,
/// context_length, a `layers` list and, when given, the `plan` report.
void printStatsJson(const ModelStats &stats, llvm::StringRef modelName,
                    llvm::raw_ostream &os,
                    std::optional<llvm::json::Value> plan = std::nullopt);
/// A human-readable table.
void printStatsTable(const ModelStats &stats, llvm::StringRef modelName,
                     llvm::raw_ostream &os);

} // namespace mlir::strata

#endif // STRATA_PASSES_MODELSTATS_H

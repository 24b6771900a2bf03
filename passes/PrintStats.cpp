//===- PrintStats.cpp - the strata-print-stats pass -------------*- C++ -*-===//

#include "passes/ModelStats.h"
#include "passes/Passes.h"
#include "passes/PlanReport.h"

namespace mlir::strata {
#define GEN_PASS_DEF_STRATAPRINTSTATS
#include "passes/Passes.h.inc"
} // namespace mlir::strata

using namespace mlir;
using namespace mlir::strata;

namespace {
struct PrintStatsPass
    : public mlir::strata::impl::StrataPrintStatsBase<PrintStatsPass> {
  using StrataPrintStatsBase::StrataPrintStatsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto func = module.lookupSymbol<func::FuncOp>("forward");
    // Otherwise the first entry point: private functions are layer bodies,
    // counted through their calls.
    if (!func)
      for (auto f : module.getOps<func::FuncOp>())
        if (f.isPublic() && !f.isExternal()) {
          func = f;
          break;
        }
    if (!func) {
      module.emitError("strata-print-stats: the module has no public function");
      return signalPassFailure();
    }
    if (contextLength < 1) {
      module.emitError("strata-print-stats: context-length must be >= 1");
      return signalPassFailure();
    }
    ModelStats stats = computeModelStats(func, contextLength);
    if (stats.overflow) {
      stats.overflow->emitError(kStatsOverflow);
      return signalPassFailure();
    }
    StringRef name = module.getSymName().value_or("model");
    std::optional<PlanReport> report;
    if (plan) {
      report = computePlanReport(module, contextLength, recompute == "layer");
      if (report->overflow) {
        report->overflow->emitError(report->bytesOverflow ? kPlanOverflow
                                                          : kStatsOverflow);
        return signalPassFailure();
      }
    }
    if (json) {
      printStatsJson(stats, name, llvm::outs(),
                     report ? std::optional(planToJson(*report))
                            : std::nullopt);
    } else {
      printStatsTable(stats, name, llvm::outs());
      if (report)
        printPlanTable(*report, llvm::outs());
    }
    markAllAnalysesPreserved();
  }
};
} // namespace

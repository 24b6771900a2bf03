//===- MlirNesting.h - bounding MLIR input's nesting depth -----*- C++ -*-===//
//
// The upstream MLIR parser recurses once per nested type, attribute or
// region, so text nested deep enough (100,000 `tensor<` or `[`) overflows
// the stack: a crash, not an error. The tools that parse MLIR text
// (strata-opt, strata-compile for kernel modules) check its depth first.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_TOOLS_COMMON_MLIRNESTING_H
#define STRATA_TOOLS_COMMON_MLIRNESTING_H

#include <optional>
#include <string>
#include <string_view>

namespace strata::tools {

/// Deepest bracket nesting accepted: far beyond any real module (a few
/// dozen levels), far below what overflows an 8 MiB stack.
constexpr int kMaxMlirNesting = 1000;

/// Where a text first nests ( [ { < deeper than kMaxMlirNesting, 1-based.
struct NestingPosition {
  int line = 0, column = 0;
};

/// The first place `text` nests deeper than kMaxMlirNesting, counting
/// brackets outside string literals and comments ("->" does not close);
/// nullopt when it does not. Unmatched closers only lower the count, so
/// nothing the parser accepts at a lower depth is rejected.
std::optional<NestingPosition> findExcessiveNesting(std::string_view text);

/// "NAME:LINE:COL: error: nesting deeper than ..." for that position.
std::string excessiveNestingMessage(std::string_view name,
                                    NestingPosition where);

} // namespace strata::tools

#endif // STRATA_TOOLS_COMMON_MLIRNESTING_H

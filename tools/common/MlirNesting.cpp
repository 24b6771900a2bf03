//===- MlirNesting.cpp - bounding MLIR input's nesting depth ---*- C++ -*-===//

#include "tools/common/MlirNesting.h"

using namespace strata::tools;

std::optional<NestingPosition>
strata::tools::findExcessiveNesting(std::string_view text) {
  int depth = 0, line = 1;
  size_t lineStart = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      lineStart = i + 1;
    } else if (c == '"') {
      // A string literal ends at its closing quote or, unterminated, at
      // the line's end (an error the parser reports).
      for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\')
          ++i;
      if (i < text.size() && text[i] == '\n')
        --i;
    } else if (c == '/' && text.substr(i, 2) == "//") {
      size_t end = text.find('\n', i);
      i = (end == std::string_view::npos ? text.size() : end) - 1;
    } else if (c == '(' || c == '[' || c == '{' || c == '<') {
      if (++depth > kMaxMlirNesting)
        return NestingPosition{line, static_cast<int>(i - lineStart) + 1};
    } else if ((c == ')' || c == ']' || c == '}' ||
                (c == '>' && (i == 0 || text[i - 1] != '-'))) &&
               depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

std::string strata::tools::excessiveNestingMessage(std::string_view name,
                                                   NestingPosition where) {
  return std::string(name) + ":" + std::to_string(where.line) + ":" +
         std::to_string(where.column) + ": error: nesting deeper than " +
         std::to_string(kMaxMlirNesting) +
         " levels (types, attributes or regions); not parsed";
}

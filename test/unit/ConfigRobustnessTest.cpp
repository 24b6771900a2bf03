//===- ConfigRobustnessTest.cpp - malformed configs never crash -*- C++ -*-===//
//
// Feeds the frontend thousands of deterministic corruptions of real configs
// (every truncation, byte substitutions, deleted and duplicated lines) and
// checks that each one either compiles to IR that verifies or is rejected
// with at least one diagnostic — never a crash, a hang or a silent failure.
// A mutation that passes validation but yields invalid IR would mean the
// frontend let through something the dialect cannot represent.
//
//===----------------------------------------------------------------------===//

#include "dialect/StrataOps.h"
#include "frontend/ConfigFile.h"
#include "frontend/ModelBuilder.h"
#include "frontend/ModelSpec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <random>
#include <string>
#include <unistd.h>

#ifndef STRATA_SOURCE_DIR
#error "STRATA_SOURCE_DIR must point at the repository root"
#endif

namespace {

/// Silences stderr (where config diagnostics go) for the test's duration.
class QuietStderr {
public:
  QuietStderr() {
    llvm::errs().flush();
    saved = dup(STDERR_FILENO);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDERR_FILENO);
    close(null);
  }
  ~QuietStderr() {
    llvm::errs().flush();
    dup2(saved, STDERR_FILENO);
    close(saved);
  }

private:
  int saved;
};

enum class Outcome { Compiled, Rejected };

/// Runs the whole frontend on `text`. Fails the test on a silent rejection
/// or on IR that does not verify.
Outcome compile(const std::string &name, const std::string &text) {
  auto file = strata::ConfigFile::parse(
      name, llvm::MemoryBuffer::getMemBufferCopy(text, name));
  if (!file)
    return Outcome::Rejected;
  strata::StrataConfig config;
  if (!strata::readConfig(*file, config) ||
      !strata::validateParallel(*file, config)) {
    EXPECT_GT(file->errorCount(), 0u) << "rejected without a diagnostic:\n"
                                      << text;
    return Outcome::Rejected;
  }
  mlir::MLIRContext ctx;
  ctx.loadDialect<mlir::strata::StrataDialect, mlir::func::FuncDialect>();
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return mlir::success();
  });
  auto module = strata::buildModel(&ctx, *file, config);
  EXPECT_TRUE(module && mlir::succeeded(mlir::verify(*module)))
      << "config passed validation but built invalid IR: " << diagnostics
      << "\n--- config ---\n"
      << text;
  return Outcome::Compiled;
}

std::string readSource(const std::string &relative) {
  auto buffer =
      llvm::MemoryBuffer::getFile(std::string(STRATA_SOURCE_DIR) + "/" + relative);
  EXPECT_TRUE(static_cast<bool>(buffer)) << relative;
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

class ConfigRobustness : public ::testing::TestWithParam<const char *> {};

/// Tests that every prefix of a config is handled.
TEST_P(ConfigRobustness, EveryTruncation) {
  std::string text = readSource(GetParam());
  ASSERT_EQ(compile(GetParam(), text), Outcome::Compiled);
  QuietStderr quiet;
  for (size_t n = 0; n < text.size(); ++n)
    compile(GetParam(), text.substr(0, n));
}

/// Tests byte substitutions drawn from YAML/JSON's structural characters,
/// digits and signs, with a fixed seed so failures reproduce.
TEST_P(ConfigRobustness, ByteSubstitutions) {
  std::string text = readSource(GetParam());
  const std::string alphabet = "{}[]:,\"'#&*!|>-+.eE0123456789 \n\tax\\";
  std::mt19937 rng(1234);
  QuietStderr quiet;
  int compiled = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string mutated = text;
    int edits = 1 + rng() % 3;
    for (int e = 0; e < edits; ++e)
      mutated[rng() % mutated.size()] = alphabet[rng() % alphabet.size()];
    compiled += compile(GetParam(), mutated) == Outcome::Compiled;
  }
  // Most single-byte edits land in comments or values that stay valid; the
  // point is that none crashed. Make sure the loop exercised both outcomes.
  EXPECT_GT(compiled, 0);
  EXPECT_LT(compiled, 3000);
}

/// Tests deleting and duplicating whole lines (missing and repeated keys).
TEST_P(ConfigRobustness, LineEdits) {
  std::string text = readSource(GetParam());
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(text).split(lines, '\n');
  QuietStderr quiet;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string deleted, duplicated;
    for (size_t j = 0; j < lines.size(); ++j) {
      if (j != i)
        deleted += lines[j].str() + "\n";
      duplicated += lines[j].str() + "\n";
      if (j == i)
        duplicated += lines[j].str() + "\n";
    }
    compile(GetParam(), deleted);
    compile(GetParam(), duplicated);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Configs, ConfigRobustness,
    ::testing::Values("examples/tiny.yaml", "test/configs/hf/deepseek-v3.json",
                      "test/configs/hf/deepseek-v2-lite.json",
                      "test/configs/hf/mixtral-8x7b.json",
                      "test/configs/hf/qwen1.5-moe-a2.7b.json"));

} // namespace

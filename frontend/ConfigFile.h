//===- ConfigFile.h - a config file as a located tree -----------*- C++ -*-===//
//
// Loads a YAML or JSON config into a small tree whose every node remembers
// where it came from, and reads typed values out of it with diagnostics that
// name the file, the line:column, the key and what was expected. All checks
// on malformed input (size, binary data, nesting, syntax, duplicate keys)
// happen here, so the readers above never see a broken document.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_FRONTEND_CONFIGFILE_H
#define STRATA_FRONTEND_CONFIGFILE_H

#include "mlir/IR/Location.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace strata {

/// A double as written in messages: shortest exact form ("0.999", "1e+12").
std::string formatNumber(double v);

/// One node of a parsed config document.
struct ConfigNode {
  enum class Kind { Null, Scalar, Map, Seq };
  Kind kind = Kind::Null;
  llvm::SMLoc loc;
  std::string scalar;  ///< Scalar text (unquoted).
  bool quoted = false; ///< Scalar was a quoted string.
  struct Entry {
    std::string key;
    llvm::SMLoc keyLoc;
    std::unique_ptr<ConfigNode> value;
  };
  std::vector<Entry> entries;                    ///< Map entries, in order.
  std::vector<std::unique_ptr<ConfigNode>> items; ///< Sequence items.

  const Entry *find(llvm::StringRef key) const;
  bool isNull() const { return kind == Kind::Null; }
};

/// A loaded config file: the source buffer, its tree and its diagnostics.
class ConfigFile {
public:
  /// Limits that keep absurd inputs from costing time or stack.
  static constexpr size_t kMaxBytes = 4u << 20;
  static constexpr unsigned kMaxDepth = 32;

  /// Loads and parses `path`; reports problems on stderr and returns null.
  static std::unique_ptr<ConfigFile> load(llvm::StringRef path);
  /// Parses `contents` as if read from `path` (for tests and stdin).
  static std::unique_ptr<ConfigFile>
  parse(llvm::StringRef path, std::unique_ptr<llvm::MemoryBuffer> contents);

  const ConfigNode &root() const { return *rootNode; }
  llvm::StringRef path() const { return filePath; }
  /// The file's contents as read.
  llvm::StringRef text() const {
    return srcMgr.getMemoryBuffer(1)->getBuffer();
  }
  /// True when the file should be read as HuggingFace config.json.
  bool isJson() const { return json; }

  void error(llvm::SMLoc loc, const llvm::Twine &msg);
  void warning(llvm::SMLoc loc, const llvm::Twine &msg);
  unsigned errorCount() const { return errors; }

  /// The config position as an MLIR location (file:line:col).
  mlir::Location toLocation(mlir::MLIRContext *ctx, llvm::SMLoc loc) const;
  std::pair<unsigned, unsigned> lineAndColumn(llvm::SMLoc loc) const;

private:
  ConfigFile() = default;
  bool build(llvm::StringRef text);

  llvm::SourceMgr srcMgr;
  std::string filePath;
  std::unique_ptr<ConfigNode> rootNode;
  bool json = false;
  unsigned errors = 0;
};

/// Reads the keys of one map section (`model`, `model.attention`, ...),
/// remembering which were read so the rest can be reported as unknown.
class SectionReader {
public:
  SectionReader(ConfigFile &file, const ConfigNode *node, std::string path,
                llvm::SMLoc fallback = llvm::SMLoc());

  /// True when the key is present and not null.
  bool has(llvm::StringRef key) const;
  llvm::SMLoc locOf(llvm::StringRef key) const;
  /// Where the section starts; invalid when the section is absent.
  llvm::SMLoc loc() const;
  /// Where to report about the section: its start, or where it would be.
  llvm::SMLoc anchor() const;
  /// Whether the section is present as a map.
  bool present() const { return node != nullptr; }
  const std::string &path() const { return sectionPath; }
  ConfigFile &file() { return cfg; }

  /// Typed reads. A missing or null key leaves `out` unchanged and returns
  /// false; a present key of the wrong type or out of range is an error.
  bool read(llvm::StringRef key, int64_t &out, int64_t min, int64_t max);
  bool read(llvm::StringRef key, double &out, double min, double max,
            bool minExclusive = false);
  bool read(llvm::StringRef key, bool &out);
  bool read(llvm::StringRef key, std::string &out);
  /// Reads a list of integers (HF `mlp_only_layers`, `eos_token_id` lists).
  bool read(llvm::StringRef key, std::vector<int64_t> &out, int64_t min,
            int64_t max);
  /// Reads one of `choices` (exact spelling) into `out`.
  template <typename E>
  bool readEnum(llvm::StringRef key, E &out,
                llvm::ArrayRef<std::pair<llvm::StringRef, E>> choices);
  /// Like read() but a missing key is an error.
  template <typename T, typename... Args>
  bool require(llvm::StringRef key, T &out, Args... args) {
    if (!has(key)) {
      missing(key);
      return false;
    }
    return read(key, out, args...);
  }

  /// A nested section; empty (every read misses) when absent or null.
  SectionReader section(llvm::StringRef key);
  /// Marks keys as known without reading them (documented as ignored).
  void ignore(llvm::ArrayRef<llvm::StringRef> keys);
  /// Warns once for every key that nothing read or ignored.
  void warnUnknownKeys();

  void error(llvm::StringRef key, const llvm::Twine &msg);
  void missing(llvm::StringRef key);

private:
  const ConfigNode::Entry *lookup(llvm::StringRef key) const;
  const ConfigNode *scalarOrError(llvm::StringRef key, llvm::StringRef what);
  std::string qualified(llvm::StringRef key) const;

  ConfigFile &cfg;
  const ConfigNode *node;
  std::string sectionPath;
  llvm::SMLoc fallbackLoc;
  std::vector<std::string> used;
};

template <typename E>
bool SectionReader::readEnum(
    llvm::StringRef key, E &out,
    llvm::ArrayRef<std::pair<llvm::StringRef, E>> choices) {
  std::string text;
  if (!read(key, text))
    return false;
  for (const auto &[name, value] : choices) {
    if (name == text) {
      out = value;
      return true;
    }
  }
  std::string allowed;
  for (const auto &choice : choices)
    allowed += (allowed.empty() ? "" : ", ") + choice.first.str();
  error(key, "expected one of " + allowed + ", got '" + text + "'");
  return false;
}

} // namespace strata

#endif // STRATA_FRONTEND_CONFIGFILE_H

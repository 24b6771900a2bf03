//===- ConfigFile.cpp - a config file as a located tree ---------*- C++ -*-===//

#include "frontend/ConfigFile.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/YAMLParser.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace strata;
using llvm::SMLoc;
using llvm::StringRef;

const ConfigNode::Entry *ConfigNode::find(StringRef key) const {
  for (const Entry &e : entries)
    if (e.key == key)
      return &e;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

std::unique_ptr<ConfigFile> ConfigFile::load(StringRef path) {
  auto fail = [&](const llvm::Twine &msg) -> std::unique_ptr<ConfigFile> {
    llvm::errs() << path << ": error: " << msg << "\n";
    return nullptr;
  };
  if (llvm::sys::fs::is_directory(path))
    return fail("is a directory; expected a YAML or JSON model config");
  // Devices and pipes report size 0 and could be read without end.
  if (llvm::sys::fs::exists(path) && !llvm::sys::fs::is_regular_file(path))
    return fail("is not a regular file; expected a YAML or JSON model config");
  uint64_t size = 0;
  if (std::error_code ec = llvm::sys::fs::file_size(path, size))
    return fail("cannot read config: " + ec.message());
  if (size > kMaxBytes)
    return fail("config is " + llvm::Twine(size) + " bytes; the limit is " +
                llvm::Twine(kMaxBytes) + " (is this really a config?)");
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return fail("cannot read config: " + buffer.getError().message());
  return parse(path, std::move(*buffer));
}

std::unique_ptr<ConfigFile>
ConfigFile::parse(StringRef path, std::unique_ptr<llvm::MemoryBuffer> contents) {
  std::unique_ptr<ConfigFile> file(new ConfigFile());
  file->filePath = path.str();
  StringRef text = contents->getBuffer();
  StringRef ext = llvm::sys::path::extension(path);
  file->json = ext == ".json" || text.ltrim().starts_with("{");
  file->srcMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, path), SMLoc());
  if (!file->build(file->srcMgr.getMemoryBuffer(1)->getBuffer()))
    return nullptr;
  return file;
}

/// Prints a diagnostic with its source line, unless the line is too long to
/// help (a minified or hostile file), in which case only file:line:col shows.
static void printDiagnostic(const llvm::SMDiagnostic &diag) {
  constexpr size_t kMaxShownLine = 200;
  if (diag.getLineContents().size() <= kMaxShownLine) {
    diag.print(nullptr, llvm::errs(), /*ShowColors=*/false);
    return;
  }
  const char *kind =
      diag.getKind() == llvm::SourceMgr::DK_Error ? "error" : "warning";
  llvm::errs() << diag.getFilename() << ":" << diag.getLineNo() << ":"
               << diag.getColumnNo() + 1 << ": " << kind << ": "
               << diag.getMessage() << "\n";
}

void ConfigFile::error(SMLoc loc, const llvm::Twine &msg) {
  ++errors;
  // Every caller passes a position; should one be missing, still name the file.
  if (!loc.isValid()) {
    llvm::errs() << filePath << ": error: " << msg << "\n";
    return;
  }
  printDiagnostic(srcMgr.GetMessage(loc, llvm::SourceMgr::DK_Error, msg));
}

void ConfigFile::warning(SMLoc loc, const llvm::Twine &msg) {
  if (!loc.isValid()) {
    llvm::errs() << filePath << ": warning: " << msg << "\n";
    return;
  }
  printDiagnostic(srcMgr.GetMessage(loc, llvm::SourceMgr::DK_Warning, msg));
}

std::pair<unsigned, unsigned> ConfigFile::lineAndColumn(SMLoc loc) const {
  if (!loc.isValid())
    return {0, 0};
  return srcMgr.getLineAndColumn(loc, 1);
}

mlir::Location ConfigFile::toLocation(mlir::MLIRContext *ctx, SMLoc loc) const {
  auto [line, col] = lineAndColumn(loc);
  return mlir::FileLineColLoc::get(ctx, filePath, line, col);
}

namespace {

/// Finds where flow nesting ([ and {) first exceeds `maxDepth`, skipping
/// quoted strings and comments. Run before any recursive parser sees the text.
const char *findExcessiveNesting(StringRef text, unsigned maxDepth) {
  unsigned depth = 0;
  char quote = 0;
  bool comment = false;
  for (const char *p = text.begin(); p != text.end(); ++p) {
    char c = *p;
    if (comment) {
      comment = c != '\n';
      continue;
    }
    if (quote) {
      if (c == '\\' && quote == '"' && p + 1 != text.end())
        ++p;
      else if (c == quote)
        quote = 0;
      continue;
    }
    if (c == '"' || c == '\'')
      quote = c;
    else if (c == '#')
      comment = true;
    else if ((c == '[' || c == '{') && ++depth > maxDepth)
      return p;
    else if ((c == ']' || c == '}') && depth)
      --depth;
  }
  return nullptr;
}

/// Converts an llvm::yaml node into a ConfigNode, rejecting what a config
/// never needs (aliases, duplicate or non-scalar keys, deep nesting).
class TreeBuilder {
public:
  TreeBuilder(ConfigFile &file, unsigned maxDepth)
      : file(file), maxDepth(maxDepth) {}

  std::unique_ptr<ConfigNode> convert(llvm::yaml::Node *n, unsigned depth) {
    auto out = std::make_unique<ConfigNode>();
    if (!n)
      return out;
    out->loc = n->getSourceRange().Start;
    // Tags (!!str, !custom) would change how a value reads; configs never
    // need them, so they are rejected rather than silently dropped.
    if (!n->getRawTag().empty()) {
      file.error(out->loc, "YAML tags ('" + n->getRawTag() +
                               "') are not supported in configs");
      return nullptr;
    }
    if (depth > maxDepth) {
      file.error(out->loc, "nesting deeper than " + llvm::Twine(maxDepth) +
                               " levels; a model config is never this deep");
      return nullptr;
    }
    if (auto *scalar = llvm::dyn_cast<llvm::yaml::ScalarNode>(n)) {
      llvm::SmallString<64> storage;
      out->kind = ConfigNode::Kind::Scalar;
      out->scalar = scalar->getValue(storage).str();
      char first = scalar->getRawValue().empty() ? 0 : scalar->getRawValue()[0];
      out->quoted = first == '"' || first == '\'';
      // YAML's null spellings; JSON's null reaches us as the plain scalar.
      if (!out->quoted && (out->scalar == "null" || out->scalar == "~" ||
                           out->scalar == "Null" || out->scalar == "NULL"))
        out->kind = ConfigNode::Kind::Null;
      return out;
    }
    if (llvm::isa<llvm::yaml::NullNode>(n))
      return out;
    if (auto *block = llvm::dyn_cast<llvm::yaml::BlockScalarNode>(n)) {
      out->kind = ConfigNode::Kind::Scalar;
      out->scalar = block->getValue().str();
      out->quoted = true;
      return out;
    }
    if (auto *map = llvm::dyn_cast<llvm::yaml::MappingNode>(n)) {
      out->kind = ConfigNode::Kind::Map;
      for (llvm::yaml::KeyValueNode &kv : *map) {
        auto *key = llvm::dyn_cast_or_null<llvm::yaml::ScalarNode>(kv.getKey());
        if (!key) {
          file.error(kv.getKey() ? kv.getKey()->getSourceRange().Start
                                 : out->loc,
                     "map keys must be plain names");
          return nullptr;
        }
        llvm::SmallString<64> storage;
        std::string name = key->getValue(storage).str();
        SMLoc keyLoc = key->getSourceRange().Start;
        if (const ConfigNode::Entry *prev = out->find(name)) {
          auto [line, col] = file.lineAndColumn(prev->keyLoc);
          file.error(keyLoc, "duplicate key '" + name + "' (first at line " +
                                 llvm::Twine(line) + ":" + llvm::Twine(col) +
                                 ")");
          return nullptr;
        }
        auto value = convert(kv.getValue(), depth + 1);
        if (!value)
          return nullptr;
        out->entries.push_back({name, keyLoc, std::move(value)});
      }
      return out;
    }
    if (auto *seq = llvm::dyn_cast<llvm::yaml::SequenceNode>(n)) {
      out->kind = ConfigNode::Kind::Seq;
      for (llvm::yaml::Node &item : *seq) {
        auto value = convert(&item, depth + 1);
        if (!value)
          return nullptr;
        out->items.push_back(std::move(value));
      }
      return out;
    }
    if (auto *alias = llvm::dyn_cast<llvm::yaml::AliasNode>(n))
      out->loc = SMLoc::getFromPointer(alias->getName().data() - 1); // '*'
    file.error(out->loc, "aliases and tags are not supported in configs");
    return nullptr;
  }

private:
  ConfigFile &file;
  unsigned maxDepth;
};

} // namespace

bool ConfigFile::build(StringRef text) {
  SMLoc start = SMLoc::getFromPointer(text.begin());
  if (size_t nul = text.find('\0'); nul != StringRef::npos) {
    error(SMLoc::getFromPointer(text.begin() + nul),
          "NUL byte at offset " + llvm::Twine(nul) +
              ": this is not a text config file");
    return false;
  }
  // An empty document (or one of only comments) has no root to read.
  bool empty = true;
  for (StringRef line : llvm::split(text, '\n')) {
    StringRef t = line.trim();
    if (!t.empty() && !t.starts_with("#")) {
      empty = false;
      break;
    }
  }
  if (empty) {
    error(start, "config is empty; expected a model config (YAML with a "
                 "'model' section, or a HuggingFace config.json)");
    return false;
  }
  if (const char *p = findExcessiveNesting(text, kMaxDepth)) {
    error(SMLoc::getFromPointer(p),
          "nesting deeper than " + llvm::Twine(kMaxDepth) +
              " levels; a model config is never this deep");
    return false;
  }
  if (json) {
    // Strict JSON first: YAML would accept things JSON forbids. A UTF-8
    // byte-order mark is skipped, as the YAML parser does.
    StringRef body = text;
    body.consume_front("\xEF\xBB\xBF");
    auto parsed = llvm::json::parse(body);
    if (!parsed) {
      std::string msg = llvm::toString(parsed.takeError());
      // llvm::json reports "[line:col, byte=N]: message".
      llvm::SmallVector<StringRef, 4> m;
      llvm::Regex re("^\\[([0-9]+):([0-9]+), byte=([0-9]+)\\]: (.*)$");
      SMLoc loc = start;
      if (re.match(msg, &m)) {
        // llvm::json reports the offset just past the offending character,
        // except for trailing text, where it stops on the text itself.
        size_t offset = 0;
        bool onText = m[4] == "Text after end of document";
        if (!m[3].getAsInteger(10, offset) && offset <= body.size())
          loc = SMLoc::getFromPointer(body.begin() +
                                      (offset && !onText ? offset - 1 : offset));
        msg = m[4].str(); // last: m refers into msg
      }
      error(loc, "invalid JSON: " + msg);
      return false;
    }
  }
  unsigned before = errors;
  srcMgr.setDiagHandler(
      [](const llvm::SMDiagnostic &diag, void *ctx) {
        auto *self = static_cast<ConfigFile *>(ctx);
        ++self->errors;
        printDiagnostic(diag);
      },
      this);
  llvm::yaml::Stream stream(text, srcMgr, /*ShowColors=*/false);
  auto doc = stream.begin();
  if (doc == stream.end() || stream.failed()) {
    if (errors == before)
      error(start, "config is not valid YAML");
    return false;
  }
  TreeBuilder builder(*this, kMaxDepth);
  rootNode = builder.convert(doc->getRoot(), 0);
  if (stream.failed() || errors != before || !rootNode)
    return false;
  if (++doc != stream.end()) {
    error(doc->getRoot() ? doc->getRoot()->getSourceRange().Start : start,
          "config holds more than one YAML document; expected one");
    return false;
  }
  if (stream.failed() || errors != before)
    return false;
  srcMgr.setDiagHandler(nullptr);
  if (rootNode->kind != ConfigNode::Kind::Map) {
    error(rootNode->loc, "the top level of a config must be a map of "
                         "sections (model, training, parallel) or "
                         "HuggingFace config keys");
    return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// SectionReader
//===----------------------------------------------------------------------===//

SectionReader::SectionReader(ConfigFile &file, const ConfigNode *node,
                             std::string path, SMLoc fallback)
    : cfg(file), node(node), sectionPath(std::move(path)),
      fallbackLoc(fallback) {}

std::string SectionReader::qualified(StringRef key) const {
  return sectionPath.empty() ? key.str() : sectionPath + "." + key.str();
}

const ConfigNode::Entry *SectionReader::lookup(StringRef key) const {
  if (!node || node->kind != ConfigNode::Kind::Map)
    return nullptr;
  return node->find(key);
}

bool SectionReader::has(StringRef key) const {
  const ConfigNode::Entry *e = lookup(key);
  return e && !e->value->isNull();
}

SMLoc SectionReader::locOf(StringRef key) const {
  const ConfigNode::Entry *e = lookup(key);
  return e ? e->keyLoc : loc();
}

SMLoc SectionReader::loc() const { return node ? node->loc : SMLoc(); }

SMLoc SectionReader::anchor() const { return node ? node->loc : fallbackLoc; }

void SectionReader::error(StringRef key, const llvm::Twine &msg) {
  const ConfigNode::Entry *e = lookup(key);
  SMLoc at = e ? e->value->loc : anchor();
  if (!at.isValid())
    at = locOf(key);
  cfg.error(at, qualified(key) + ": " + msg);
}

void SectionReader::missing(StringRef key) {
  std::string where = sectionPath.empty() ? "the config" : "'" + sectionPath + "'";
  cfg.error(anchor(), qualified(key) + ": required key is missing from " + where);
}

const ConfigNode *SectionReader::scalarOrError(StringRef key, StringRef what) {
  const ConfigNode::Entry *e = lookup(key);
  used.push_back(key.str());
  if (!e || e->value->isNull())
    return nullptr;
  if (e->value->kind != ConfigNode::Kind::Scalar) {
    error(key, "expected " + what + ", got a " +
                   (e->value->kind == ConfigNode::Kind::Map ? "map" : "list"));
    return nullptr;
  }
  return e->value.get();
}

std::string strata::formatNumber(double v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.15g", v);
  return buf;
}

/// Parses a YAML/JSON integer, also accepting integral floats like 1e6.
static std::optional<int64_t> parseInteger(StringRef text) {
  int64_t value;
  if (!text.getAsInteger(10, value))
    return value;
  double d;
  if (!text.getAsDouble(d) && std::isfinite(d) && d == std::floor(d) &&
      std::fabs(d) < 9.0e18)
    return static_cast<int64_t>(d);
  return std::nullopt;
}

bool SectionReader::read(StringRef key, int64_t &out, int64_t min,
                         int64_t max) {
  std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  const ConfigNode *n = scalarOrError(key, "an integer in " + range);
  if (!n)
    return false;
  std::optional<int64_t> value;
  if (n->quoted) {
    error(key, "expected an integer in " + range + ", got the string \"" +
                   n->scalar + "\"; write the number without quotes");
    return false;
  }
  value = parseInteger(n->scalar);
  if (!value) {
    error(key, "expected an integer in " + range + ", got '" + n->scalar + "'");
    return false;
  }
  if (*value < min || *value > max) {
    error(key, "expected an integer in " + range + ", got " + n->scalar);
    return false;
  }
  out = *value;
  return true;
}

bool SectionReader::read(StringRef key, double &out, double min, double max,
                         bool minExclusive) {
  std::string range = (minExclusive ? "(" : "[") + formatNumber(min) + ", " +
                      formatNumber(max) + "]";
  const ConfigNode *n = scalarOrError(key, "a number in " + range);
  if (!n)
    return false;
  double value;
  if (n->quoted) {
    error(key, "expected a number in " + range + ", got the string \"" +
                   n->scalar + "\"; write the number without quotes");
    return false;
  }
  if (StringRef(n->scalar).getAsDouble(value) || !std::isfinite(value)) {
    error(key, "expected a number in " + range + ", got '" + n->scalar + "'");
    return false;
  }
  if (value < min || value > max || (minExclusive && value == min)) {
    error(key, "expected a number in " + range + ", got " + n->scalar);
    return false;
  }
  out = value;
  return true;
}

bool SectionReader::read(StringRef key, bool &out) {
  const ConfigNode *n = scalarOrError(key, "true or false");
  if (!n)
    return false;
  if (!n->quoted && (n->scalar == "true" || n->scalar == "True")) {
    out = true;
    return true;
  }
  if (!n->quoted && (n->scalar == "false" || n->scalar == "False")) {
    out = false;
    return true;
  }
  error(key, "expected true or false, got '" + n->scalar + "'");
  return false;
}

bool SectionReader::read(StringRef key, std::string &out) {
  const ConfigNode *n = scalarOrError(key, "a string");
  if (!n)
    return false;
  out = n->scalar;
  return true;
}

bool SectionReader::read(StringRef key, std::vector<int64_t> &out, int64_t min,
                         int64_t max) {
  const ConfigNode::Entry *e = lookup(key);
  used.push_back(key.str());
  if (!e || e->value->isNull())
    return false;
  std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  auto bad = [&](const ConfigNode &n) {
    if (n.quoted)
      cfg.error(n.loc, qualified(key) + ": expected integers in " + range +
                           ", got the string \"" + n.scalar +
                           "\"; write the number without quotes");
    else
      cfg.error(n.loc, qualified(key) + ": expected integers in " + range +
                           ", got '" + n.scalar + "'");
    return false;
  };
  std::vector<int64_t> values;
  auto one = [&](const ConfigNode &n) {
    if (n.kind != ConfigNode::Kind::Scalar || n.quoted)
      return bad(n);
    std::optional<int64_t> v = parseInteger(n.scalar);
    if (!v || *v < min || *v > max)
      return bad(n);
    values.push_back(*v);
    return true;
  };
  if (e->value->kind == ConfigNode::Kind::Seq) {
    for (const auto &item : e->value->items)
      if (!one(*item))
        return false;
  } else if (!one(*e->value)) {
    return false;
  }
  out = std::move(values);
  return true;
}

SectionReader SectionReader::section(StringRef key) {
  const ConfigNode::Entry *e = lookup(key);
  used.push_back(key.str());
  // An absent section reports missing keys at its parent (or its own key).
  SMLoc fallback = e ? e->keyLoc : anchor();
  if (!e || e->value->isNull())
    return SectionReader(cfg, nullptr, qualified(key), fallback);
  if (e->value->kind != ConfigNode::Kind::Map) {
    error(key, "expected a map of settings");
    return SectionReader(cfg, nullptr, qualified(key), fallback);
  }
  return SectionReader(cfg, e->value.get(), qualified(key), fallback);
}

void SectionReader::ignore(llvm::ArrayRef<StringRef> keys) {
  for (StringRef k : keys)
    used.push_back(k.str());
}

void SectionReader::warnUnknownKeys() {
  if (!node || node->kind != ConfigNode::Kind::Map)
    return;
  for (const ConfigNode::Entry &e : node->entries) {
    if (llvm::is_contained(used, e.key))
      continue;
    std::string where = sectionPath.empty() ? "at the top level"
                                            : "in '" + sectionPath + "'";
    cfg.warning(e.keyLoc, "unknown key '" + e.key + "' " + where + " (ignored)");
  }
}

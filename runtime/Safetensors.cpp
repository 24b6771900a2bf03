//===- Safetensors.cpp - safetensors header parsing -------------*- C++ -*-===//

#include "runtime/Safetensors.h"

#include <cctype>
#include <cstdio>

using namespace strata::runtime;

namespace {

/// A cursor over the header with error reporting.
struct Reader {
  const std::string &text;
  size_t pos = 0;
  std::string &error;
  const char *document = "header";

  bool failAt(const char *what) {
    char buf[160];
    snprintf(buf, sizeof(buf), "%s at byte %zu of the %s", what, pos,
             document);
    error = buf;
    return false;
  }
  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n' ||
                                 text[pos] == '\t' || text[pos] == '\r'))
      ++pos;
  }
  bool expect(char c) {
    skipSpace();
    if (pos >= text.size() || text[pos] != c) {
      char what[32];
      snprintf(what, sizeof(what), "expected '%c'", c);
      return failAt(what);
    }
    ++pos;
    return true;
  }
  bool peek(char c) {
    skipSpace();
    return pos < text.size() && text[pos] == c;
  }
  bool string(std::string &out) {
    if (!expect('"'))
      return false;
    out.clear();
    while (pos < text.size() && text[pos] != '"') {
      char c = text[pos++];
      if (static_cast<unsigned char>(c) < 0x20)
        return failAt("control character in a string");
      if (c == '\\') {
        if (pos >= text.size())
          break;
        char e = text[pos++];
        switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          // Names are ASCII in practice; keep \u escapes verbatim.
          if (pos + 4 > text.size())
            return failAt("truncated \\u escape");
          out += "\\u" + text.substr(pos, 4);
          pos += 4;
          break;
        }
        default:
          return failAt("invalid escape");
        }
      } else {
        out += c;
      }
      if (out.size() > 4096)
        return failAt("string longer than 4096 bytes");
    }
    return expect('"');
  }
  bool integer(uint64_t &out) {
    skipSpace();
    size_t start = pos;
    out = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (out > (UINT64_MAX - 9) / 10)
        return failAt("integer too large");
      out = out * 10 + static_cast<uint64_t>(text[pos++] - '0');
    }
    if (pos == start)
      return failAt("expected a non-negative integer");
    return true;
  }
  bool intList(std::vector<uint64_t> &out, size_t maxItems) {
    if (!expect('['))
      return false;
    out.clear();
    if (peek(']'))
      return expect(']');
    do {
      uint64_t v;
      if (!integer(v))
        return false;
      out.push_back(v);
      if (out.size() > maxItems)
        return failAt("list too long");
    } while (peek(',') && expect(','));
    return expect(']');
  }
  /// Skips any JSON value, nested at most `depth` deep.
  bool skipValue(int depth) {
    if (depth == 0)
      return failAt("nested too deeply");
    skipSpace();
    if (pos >= text.size())
      return failAt("expected a value");
    char c = text[pos];
    std::string ignored;
    if (c == '"')
      return string(ignored);
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++pos;
      if (peek(close))
        return expect(close);
      do {
        if (c == '{' && (!string(ignored) || !expect(':')))
          return false;
        if (!skipValue(depth - 1))
          return false;
      } while (peek(',') && expect(','));
      return expect(close);
    }
    // A number, true, false or null.
    size_t start = pos;
    while (pos < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[pos])) ||
            text[pos] == '-' || text[pos] == '+' || text[pos] == '.'))
      ++pos;
    return pos > start || failAt("expected a value");
  }
  /// Skips a string-to-string map (__metadata__).
  bool stringMap() {
    if (!expect('{'))
      return false;
    if (peek('}'))
      return expect('}');
    std::string k, v;
    do {
      if (!string(k) || !expect(':') || !string(v))
        return false;
    } while (peek(',') && expect(','));
    return expect('}');
  }
};

} // namespace

bool strata::runtime::parseSafetensorsHeader(
    const std::string &header, std::vector<SafetensorsEntry> &entries,
    std::string &error) {
  Reader r{header, 0, error};
  entries.clear();
  if (!r.expect('{'))
    return false;
  // An empty object is a valid (if useless) header; otherwise entries are
  // separated by commas, with none trailing.
  bool more = !r.peek('}');
  while (more) {
    std::string name;
    if (!r.string(name) || !r.expect(':'))
      return false;
    if (name == "__metadata__") {
      if (!r.stringMap())
        return false;
      more = r.peek(',') && r.expect(',');
      continue;
    }
    SafetensorsEntry entry;
    entry.name = name;
    bool haveDtype = false, haveShape = false, haveOffsets = false;
    if (!r.expect('{'))
      return false;
    do {
      std::string key;
      if (!r.string(key) || !r.expect(':'))
        return false;
      if (key == "dtype") {
        if (!r.string(entry.dtype))
          return false;
        haveDtype = true;
      } else if (key == "shape") {
        std::vector<uint64_t> dims;
        if (!r.intList(dims, 16))
          return false;
        for (uint64_t d : dims) {
          if (d > (uint64_t(1) << 40))
            return r.failAt("dimension too large");
          entry.shape.push_back(static_cast<int64_t>(d));
        }
        haveShape = true;
      } else if (key == "data_offsets") {
        std::vector<uint64_t> offsets;
        if (!r.intList(offsets, 2))
          return false;
        if (offsets.size() != 2)
          return r.failAt("data_offsets must hold two integers");
        entry.begin = offsets[0];
        entry.end = offsets[1];
        haveOffsets = true;
      } else {
        return r.failAt("unknown tensor field");
      }
    } while (r.peek(',') && r.expect(','));
    if (!r.expect('}'))
      return false;
    if (!haveDtype || !haveShape || !haveOffsets)
      return r.failAt("tensor entry lacks dtype, shape or data_offsets");
    entries.push_back(std::move(entry));
    if (entries.size() > 1000000)
      return r.failAt("more than a million tensors");
    more = r.peek(',') && r.expect(',');
  }
  if (!r.expect('}'))
    return false;
  r.skipSpace();
  if (r.pos != header.size())
    return r.failAt("text after the header object");
  return true;
}

bool strata::runtime::parseSafetensorsIndex(
    const std::string &text,
    std::vector<std::pair<std::string, std::string>> &weightMap,
    std::string &error) {
  Reader r{text, 0, error, "index"};
  weightMap.clear();
  bool haveMap = false;
  if (!r.expect('{'))
    return false;
  bool more = !r.peek('}');
  while (more) {
    std::string key;
    if (!r.string(key) || !r.expect(':'))
      return false;
    if (key != "weight_map") {
      if (!r.skipValue(16))
        return false;
    } else {
      haveMap = true;
      if (!r.expect('{'))
        return false;
      bool entries = !r.peek('}');
      while (entries) {
        std::string name, file;
        if (!r.string(name) || !r.expect(':') || !r.string(file))
          return false;
        weightMap.emplace_back(std::move(name), std::move(file));
        if (weightMap.size() > 1000000)
          return r.failAt("more than a million tensors");
        entries = r.peek(',') && r.expect(',');
      }
      if (!r.expect('}'))
        return false;
    }
    more = r.peek(',') && r.expect(',');
  }
  if (!r.expect('}'))
    return false;
  r.skipSpace();
  if (r.pos != text.size())
    return r.failAt("text after the index object");
  if (!haveMap)
    return r.failAt("no \"weight_map\" object");
  return true;
}

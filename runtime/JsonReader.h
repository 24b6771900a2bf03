//===- JsonReader.h - a small strict JSON cursor ----------------*- C++ -*-===//
//
// What the runtime reads of JSON — safetensors headers, checkpoint indexes
// and training manifests — is small and fixed; this cursor checks it
// strictly and names the byte where it went wrong.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_JSONREADER_H
#define STRATA_RUNTIME_JSONREADER_H

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace strata::runtime::json {

/// A cursor over a JSON text with error reporting.
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
  /// A JSON number.
  bool number(double &out) {
    skipSpace();
    size_t start = pos;
    while (pos < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[pos])) ||
            text[pos] == '-' || text[pos] == '+' || text[pos] == '.' ||
            text[pos] == 'e' || text[pos] == 'E'))
      ++pos;
    std::string digits = text.substr(start, pos - start);
    char *end = nullptr;
    out = std::strtod(digits.c_str(), &end);
    if (digits.empty() || end != digits.c_str() + digits.size())
      return failAt("expected a number");
    return true;
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


} // namespace strata::runtime::json

#endif // STRATA_RUNTIME_JSONREADER_H

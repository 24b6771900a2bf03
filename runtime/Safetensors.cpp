//===- Safetensors.cpp - safetensors header parsing -------------*- C++ -*-===//

#include "runtime/Safetensors.h"
#include "runtime/JsonReader.h"

using namespace strata::runtime;
using strata::runtime::json::Reader;

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

//===- Safetensors.h - safetensors header parsing ---------------*- C++ -*-===//
//
// A strict reader for safetensors headers: a JSON object mapping tensor
// names to {dtype, shape, data_offsets} (plus an optional __metadata__ map
// of strings). Written for untrusted input: bounded nesting and sizes, no
// recursion on input, every error a message with the byte offset.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_SAFETENSORS_H
#define STRATA_RUNTIME_SAFETENSORS_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace strata::runtime {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; ///< data_offsets, relative to the data
};

/// Parses `header` (the JSON text). On failure returns false and sets
/// `error`.
bool parseSafetensorsHeader(const std::string &header,
                            std::vector<SafetensorsEntry> &entries,
                            std::string &error);

/// Parses a sharded checkpoint's index (model.safetensors.index.json):
/// its "weight_map" object, tensor name -> shard file name, in order.
/// Other members ("metadata") are skipped.
bool parseSafetensorsIndex(
    const std::string &text,
    std::vector<std::pair<std::string, std::string>> &weightMap,
    std::string &error);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_SAFETENSORS_H

//===- TrainData.h - token files and the batches cut from them --*- C++ -*-===//
//
// strata-run train's data: a flat token file (.bin, little-endian uint32)
// or a 1-D numpy array (.npy of int32, uint16 or uint32), cut into
// windows of seq_len + 1 tokens (inputs and their next-token labels),
// visited in a seeded shuffle that changes every epoch. The cursor (epoch,
// position) is all the state: a checkpoint that stores it resumes the
// same sequence of batches.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_TOOLS_STRATA_RUN_TRAINDATA_H
#define STRATA_TOOLS_STRATA_RUN_TRAINDATA_H

#include <cstdint>
#include <string>
#include <vector>

namespace strata::tools {

/// Reads `path` (.bin or .npy) into `tokens`, each checked against the
/// vocabulary. False with `error` naming the file and the offending place.
bool readTokenFile(const std::string &path, int64_t vocab,
                   std::vector<int32_t> &tokens, std::string &error);

/// The seed's DataProcessor over a token stream: window w holds tokens
/// [w*T, w*T + T) as inputs and [w*T + 1, w*T + T + 1) as labels, so every
/// token but the first is a label exactly once per epoch. The last window
/// is padded (`pad` as input, -100 as label: ignored by the loss).
class BatchSampler {
public:
  BatchSampler(const std::vector<int32_t> &tokens, size_t seqLen,
               uint64_t seed, int32_t pad);

  size_t windows() const { return numWindows; }

  /// The next `batch` windows in this epoch's order (the next epoch's
  /// after the last), rows of `seqLen` tokens and labels.
  void next(size_t batch, std::vector<int32_t> &tokens,
            std::vector<int32_t> &labels);

  /// The cursor as JSON: {"epoch":E,"position":P,"windows":W,"seq_len":T,
  /// "seed":S,"tokens":N}.
  std::string cursorJson() const;
  /// Restores a cursor written by cursorJson for the same data, window
  /// length and seed; false with `error` otherwise.
  bool restore(const std::string &json, std::string &error);

private:
  void shuffle();

  const std::vector<int32_t> &data;
  size_t seqLen, numWindows;
  uint64_t seed;
  int32_t pad;
  uint64_t epoch = 0, position = 0;
  std::vector<uint32_t> order;
};

} // namespace strata::tools

#endif // STRATA_TOOLS_STRATA_RUN_TRAINDATA_H

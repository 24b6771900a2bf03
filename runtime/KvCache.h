//===- KvCache.h - keys and values of the tokens seen so far ----*- C++ -*-===//
//
// One buffer per layer and kind in the device's memory, holding the
// [batch, length, width] rows decode reads. A single sequence grows its
// buffers by doubling and appends in place; a batch is re-laid out on each
// append, because decode reads the rows of every sequence contiguously.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_KVCACHE_H
#define STRATA_RUNTIME_KVCACHE_H

#include "runtime/EntryCall.h"

namespace strata::runtime {

class KvCache {
public:
  KvCache(Device &device, int64_t batch, int64_t maxRows)
      : device(device), batch_(batch), maxRows(maxRows) {}
  ~KvCache();
  KvCache(const KvCache &) = delete;
  KvCache &operator=(const KvCache &) = delete;

  int64_t batch() const { return batch_; }
  int64_t length() const { return length_; }

  /// The rows of `layer`'s keys or values, made (empty) on first use.
  strata_status_code rows(bool keys, size_t layer, int64_t width, void *&data,
                          strata_status *status);

  /// Appends a call of `decode`'s new rows — its KeyCache and ValueCache
  /// results, or the whole model's results 1.., keys then values of each
  /// layer, [batch, n, width] — and releases those results.
  strata_status_code append(const strata::fb::EntryPoint *decode,
                            Results &results, int64_t n, strata_status *status);

private:
  struct Rows {
    void *data = nullptr;
    int64_t width = 0;
    int64_t capacity = 0; ///< Rows per sequence the buffer holds.
  };
  strata_status_code appendRows(Rows &rows, const int64_t *result, int64_t n,
                                strata_status *status);

  Device &device;
  int64_t batch_, maxRows, length_ = 0;
  std::vector<Rows> keys, values;
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_KVCACHE_H

//===- KvCache.cpp - keys and values of the tokens seen so far ------------===//

#include "runtime/KvCache.h"

#include <algorithm>

namespace strata::runtime {

KvCache::~KvCache() {
  for (auto *all : {&keys, &values})
    for (Rows &r : *all)
      if (r.data)
        device.release(r.data);
}

strata_status_code KvCache::rows(bool isKeys, size_t layer, int64_t width,
                                 void *&data, strata_status *status) {
  auto &all = isKeys ? keys : values;
  if (all.size() <= layer)
    all.resize(layer + 1);
  Rows &r = all[layer];
  if (!r.data) {
    r.width = width;
    r.capacity = batch_ == 1 ? std::min<int64_t>(16, maxRows) : 0;
    size_t bytes = static_cast<size_t>(batch_ * r.capacity * width) * 4;
    r.data = device.allocate(std::max<size_t>(bytes, 64), status);
    if (!r.data)
      return status ? status->code : STRATA_OUT_OF_MEMORY;
  }
  if (r.width != width)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "decode's cache of layer %zu is %lld wide, then %lld", layer,
                (long long)r.width, (long long)width);
  data = r.data;
  return STRATA_OK;
}

/// `result`: a [batch, n, width] descriptor whose rows of one sequence
/// are contiguous.
strata_status_code KvCache::appendRows(Rows &rows, const int64_t *result,
                                       int64_t n, strata_status *status) {
  const int64_t width = rows.width, *strides = result + 3 + 3;
  const size_t rowBytes = static_cast<size_t>(width) * sizeof(float);
  const float *source = reinterpret_cast<const float *>(result[1]) + result[2];
  int64_t length = length_, grown = length + n;
  if (batch_ == 1 && grown <= rows.capacity)
    return device.copyOnDevice(static_cast<float *>(rows.data) + length * width,
                               source, n * rowBytes, status);
  int64_t capacity =
      batch_ == 1 ? std::max({2 * rows.capacity, grown,
                              std::min<int64_t>(maxRows, 2 * grown)})
                  : grown;
  void *bigger =
      device.allocate(static_cast<size_t>(batch_ * capacity) * rowBytes,
                      status);
  if (!bigger)
    return status ? status->code : STRATA_OUT_OF_MEMORY;
  strata_status_code code = STRATA_OK;
  for (int64_t b = 0; b < batch_ && code == STRATA_OK; ++b) {
    float *to = static_cast<float *>(bigger) + b * capacity * width;
    if (length)
      code = device.copyOnDevice(
          to, static_cast<float *>(rows.data) + b * rows.capacity * width,
          length * rowBytes, status);
    if (code == STRATA_OK && n)
      code = device.copyOnDevice(to + length * width, source + b * strides[0],
                                 n * rowBytes, status);
  }
  if (code != STRATA_OK) {
    device.release(bigger);
    return code;
  }
  device.release(rows.data);
  rows.data = bigger;
  rows.capacity = capacity;
  return STRATA_OK;
}

strata_status_code KvCache::append(const strata::fb::EntryPoint *decode,
                                   Results &results, int64_t n,
                                   strata_status *status) {
  strata_status_code code = STRATA_OK;
  for (size_t r = 0; r < results.offsets.size(); ++r) {
    // A stage's decode names its caches' layers; the whole model's returns
    // the logits, then keys and values of each layer in turn.
    const auto *res = decode->results()->Get(r);
    bool named = res->kind() == strata::fb::ResultKind::KeyCache ||
                 res->kind() == strata::fb::ResultKind::ValueCache;
    if (!named && (r == 0 || res->kind() != strata::fb::ResultKind::Value))
      continue;
    int64_t *d = results.descriptor(r);
    size_t layer = named ? static_cast<size_t>(res->layer()) : (r - 1) / 2;
    bool isKey =
        named ? res->kind() == strata::fb::ResultKind::KeyCache : r % 2 == 1;
    auto &all = isKey ? keys : values;
    int64_t width = d[3 + 2];
    // One sequence's new rows must be one contiguous [n, width] block.
    bool contiguous = d[3 + 3 + 2] == 1 && (n == 1 || d[3 + 3 + 1] == width);
    if (code == STRATA_OK &&
        (layer >= all.size() || all[layer].width != width || !contiguous ||
         d[3] != batch_ || d[4] != n))
      code = fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "decode result %zu does not match its cache", r);
    if (code == STRATA_OK)
      code = appendRows(all[layer], d, n, status);
    device.releaseResult(reinterpret_cast<void *>(d[0]));
    d[0] = d[1] = 0;
  }
  // A batch's buffers are exactly as long as the sequence (see appendRows).
  if (code == STRATA_OK)
    length_ += n;
  return code;
}

} // namespace strata::runtime

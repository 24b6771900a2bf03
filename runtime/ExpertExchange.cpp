//===- ExpertExchange.cpp - an expert-parallel program's all-to-alls ------===//

#include "runtime/ExpertExchange.h"
#include "runtime/Internal.h"
#include "runtime/comm/Communicator.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace strata::runtime {

namespace {

/// The group's shape of one exchange, checked against the buffers.
struct ExchangeShape {
  int64_t ranks, rank, tokens, topK, localExperts;

  /// Whether token `t` of `routing` (global ids) chose an expert of `r`.
  bool chose(const int32_t *routing, int64_t t, int64_t r) const {
    for (int64_t j = 0; j < topK; ++j) {
      int64_t id = routing[t * topK + j];
      if (id >= r * localExperts && id < (r + 1) * localExperts)
        return true;
    }
    return false;
  }
  /// Whether row `row` of the group's localised routing has a local expert.
  bool local(const int32_t *rowIndices, int64_t row) const {
    for (int64_t j = 0; j < topK; ++j)
      if (rowIndices[row * topK + j] >= 0)
        return true;
    return false;
  }
};

strata_status_code mismatch(Communicator &group, strata_status *status,
                            const char *what) {
  return fail(status, STRATA_INTERNAL_ERROR,
              "expert exchange on world rank %d: %s (the expert-parallel "
              "program does not match its group of %d ranks)",
              group.worldRank(group.rank()), what, group.size());
}

strata_status_code shapeOf(Communicator &group, int64_t topK,
                           int64_t numExperts, int64_t pairs, int64_t rowPairs,
                           ExchangeShape &shape, strata_status *status) {
  int64_t g = group.size();
  if (topK < 1 || pairs % topK != 0 || rowPairs != g * pairs)
    return mismatch(group, status, "the routing is not the group's size");
  if (numExperts < g || numExperts % g != 0)
    return mismatch(group, status, "the experts do not divide evenly");
  shape = {g, group.rank(), pairs / topK, topK, numExperts / g};
  return STRATA_OK;
}

} // namespace

strata_status_code expertRoute(Communicator &group, int64_t topK,
                               int64_t numExperts, const float *weights,
                               const int32_t *indices, int64_t pairs,
                               float *rowWeights, int32_t *rowIndices,
                               int64_t rowPairs, strata_status *status) {
  ExchangeShape shape;
  if (strata_status_code code =
          shapeOf(group, topK, numExperts, pairs, rowPairs, shape, status))
    return code;
  size_t bytes = static_cast<size_t>(pairs) * sizeof(float);
  if (strata_status_code code =
          group.allGather(weights, rowWeights, bytes, status))
    return code;
  if (strata_status_code code =
          group.allGather(indices, rowIndices, bytes, status))
    return code;
  int64_t first = shape.rank * shape.localExperts;
  for (int64_t i = 0; i < rowPairs; ++i) {
    int64_t id = rowIndices[i] - first;
    bool mine = id >= 0 && id < shape.localExperts;
    rowIndices[i] = mine ? static_cast<int32_t>(id) : -1;
    if (!mine)
      rowWeights[i] = 0.0f;
  }
  return STRATA_OK;
}

strata_status_code expertExchange(Communicator &group, bool combine,
                                  int64_t width, int64_t topK,
                                  int64_t numExperts, const float *input,
                                  int64_t inputCount, const int32_t *rowIndices,
                                  int64_t rowPairs, const int32_t *indices,
                                  int64_t pairs, float *output,
                                  int64_t outputCount, strata_status *status) {
  ExchangeShape shape;
  if (strata_status_code code =
          shapeOf(group, topK, numExperts, pairs, rowPairs, shape, status))
    return code;
  int64_t t = shape.tokens, g = shape.ranks;
  int64_t tokenFloats = t * width, rowFloats = g * t * width;
  if (width < 1 || inputCount != (combine ? rowFloats : tokenFloats) ||
      outputCount != (combine ? tokenFloats : rowFloats))
    return mismatch(group, status, "the rows are not the routing's size");

  // Which of this rank's tokens go to (dispatch) or come back from
  // (combine) rank r, and which rows of r's block are held here.
  auto mineFor = [&](int64_t r, std::vector<int64_t> &out) {
    out.clear();
    for (int64_t i = 0; i < t; ++i)
      if (shape.chose(indices, i, r))
        out.push_back(i);
  };
  auto heldFor = [&](int64_t r, std::vector<int64_t> &out) {
    out.clear();
    for (int64_t i = 0; i < t; ++i)
      if (shape.local(rowIndices, r * t + i))
        out.push_back(r * t + i);
  };
  // Dispatch sends this rank's tokens and receives rows; combine the other
  // way round.
  std::vector<std::vector<int64_t>> sendRows(g), recvRows(g);
  for (int64_t r = 0; r < g; ++r) {
    mineFor(r, combine ? recvRows[r] : sendRows[r]);
    heldFor(r, combine ? sendRows[r] : recvRows[r]);
  }
  size_t rowBytes = static_cast<size_t>(width) * sizeof(float);
  std::vector<size_t> sendBytes(g), recvBytes(g);
  size_t sendTotal = 0, recvTotal = 0;
  for (int64_t r = 0; r < g; ++r) {
    sendBytes[r] = sendRows[r].size() * rowBytes;
    recvBytes[r] = recvRows[r].size() * rowBytes;
    sendTotal += sendRows[r].size();
    recvTotal += recvRows[r].size();
  }
  std::vector<float> packed(sendTotal * width), received(recvTotal * width);
  float *cursor = packed.data();
  for (int64_t r = 0; r < g; ++r)
    for (int64_t row : sendRows[r]) {
      std::memcpy(cursor, input + row * width, rowBytes);
      cursor += width;
    }
  if (strata_status_code code =
          group.allToAllV(packed.data(), sendBytes.data(), received.data(),
                          recvBytes.data(), status))
    return code;
  std::fill(output, output + outputCount, 0.0f);
  const float *from = received.data();
  for (int64_t r = 0; r < g; ++r)
    for (int64_t row : recvRows[r]) {
      float *to = output + row * width;
      // Combine sums what each rank's experts gave the token, in rank
      // order; dispatch places each row once.
      for (int64_t i = 0; i < width; ++i)
        to[i] += from[i];
      from += width;
    }
  return STRATA_OK;
}

} // namespace strata::runtime

//===- CommCheck.cpp - strata-comm-check: the collectives under mpirun ----===//
//
// Run by lit under mpirun (test/runtime/collectives.test):
//   strata-comm-check collectives      every collective and split, checked
//                                      on every rank; rank 0 prints PASS
//   strata-comm-check hang R SECONDS   rank R never reaches an all_reduce
//                                      the others wait for SECONDS
//   strata-comm-check die R            rank R exits before it
//   strata-comm-check nccl             the collectives over NCCL on each
//                                      rank's GPU (bootstrapped over MPI
//                                      under mpirun, a world of one alone)
// The last two show that a rank that hangs or dies ends the launch with
// an error naming it instead of a wait without end. `collectives` also
// runs an expert-parallel layer's exchanges (runtime/ExpertExchange.h)
// with experts that scale their tokens, against what every rank can
// compute of the others' data.
//
//===----------------------------------------------------------------------===//

#include "runtime/CudaDevice.h"
#include "runtime/ExpertExchange.h"
#include "runtime/comm/Communicator.h"
#include "runtime/comm/NcclCommunicator.h"
#include "runtime/strata.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace strata::runtime;

namespace {

int failures = 0;

void expect(bool condition, int rank, const char *what) {
  if (!condition) {
    std::fprintf(stderr, "rank %d: FAIL: %s\n", rank, what);
    ++failures;
  }
}

bool check(strata_status_code code, const strata_status &status) {
  if (code)
    std::fprintf(stderr, "error: %s\n", status.message);
  return code == STRATA_OK;
}

void collectives(Communicator &world) {
  strata_status status;
  int r = world.rank(), n = world.size();
  // Sums of distinct values per rank and element: a reduction that
  // dropped or doubled a rank shows.
  std::vector<float> f(1000);
  for (size_t i = 0; i < f.size(); ++i)
    f[i] = static_cast<float>((r + 1) * 1000 + i);
  if (!check(world.allReduceSum(f.data(), f.size(), STRATA_COMM_F32, &status),
             status))
    return ++failures, void();
  bool sums = true;
  for (size_t i = 0; i < f.size(); ++i)
    sums &= f[i] == static_cast<float>(1000 * n * (n + 1) / 2 + n * i);
  expect(sums, r, "all_reduce f32");
  int64_t big[2] = {int64_t(1) << 40, r};
  world.allReduceSum(big, 2, STRATA_COMM_I64, &status);
  expect(big[0] == (int64_t(n) << 40) && big[1] == n * (n - 1) / 2, r,
         "all_reduce i64");
  int32_t small = r;
  world.allReduceSum(&small, 1, STRATA_COMM_I32, &status);
  expect(small == n * (n - 1) / 2, r, "all_reduce i32");
  double d = 0.5 * r;
  world.allReduceSum(&d, 1, STRATA_COMM_F64, &status);
  expect(d == 0.25 * n * (n - 1), r, "all_reduce f64");

  // A reduce to the last rank: only it holds the sum.
  std::vector<int32_t> part{r + 1, 10 * (r + 1)};
  world.reduceSum(part.data(), part.size(), STRATA_COMM_I32, n - 1, &status);
  if (r == n - 1)
    expect(part[0] == n * (n + 1) / 2 && part[1] == 5 * n * (n + 1), r,
           "reduce to a root");
  else
    expect(part[0] == r + 1, r, "reduce leaves the senders' data");

  int64_t mine[2] = {r, 100 + r};
  std::vector<int64_t> all(2 * n);
  world.allGather(mine, all.data(), sizeof(mine), &status);
  bool gathered = true;
  for (int k = 0; k < n; ++k)
    gathered &= all[2 * k] == k && all[2 * k + 1] == 100 + k;
  expect(gathered, r, "all_gather in rank order");

  char text[16] = {};
  if (r == n - 1)
    std::strcpy(text, "from the last");
  world.broadcast(text, sizeof(text), n - 1, &status);
  expect(std::strcmp(text, "from the last") == 0, r, "broadcast");
  expect(world.barrier(&status) == STRATA_OK, r, "barrier");

  // Even and odd ranks: two groups, each summing its own.
  std::unique_ptr<Communicator> half;
  if (!check(world.split(r % 2, r, half, &status), status))
    return ++failures, void();
  int expectSize = n / 2 + (r % 2 == 0 ? n % 2 : 0);
  expect(half->size() == expectSize && half->rank() == r / 2, r,
         "split: group size and rank");
  expect(half->worldRank(half->rank()) == r, r, "split: world rank");
  int32_t members = r;
  half->allReduceSum(&members, 1, STRATA_COMM_I32, &status);
  int32_t want = 0;
  for (int k = r % 2; k < n; k += 2)
    want += k;
  expect(members == want, r, "all_reduce over a split group");
}

/// Rank p's token t, slot j: its expert among `experts`, its routing
/// weight and the token's feature c (every rank can compute them all).
int32_t expertOf(int p, int t, int j, int experts) {
  return static_cast<int32_t>((p * 7 + t * 3 + j * 5) % experts);
}
float weightOf(int p, int t, int j) { return 0.25f * (j + 1) + p + 0.5f * t; }
float featureOf(int p, int t, int c) { return 100.0f * p + 10.0f * t + c; }

/// Route, dispatch, "experts" (expert e multiplies its rows by e + 1) and
/// combine over `world`: each token ends with sum_j w_j (e_j + 1) x.
void expertExchanges(Communicator &world) {
  strata_status status;
  const int r = world.rank(), g = world.size();
  const int experts = 2 * g, local = 2, topK = 2, tokens = 5, width = 3;
  std::vector<float> weights(tokens * topK), x(tokens * width);
  std::vector<int32_t> indices(tokens * topK);
  for (int t = 0; t < tokens; ++t) {
    for (int j = 0; j < topK; ++j) {
      indices[t * topK + j] = expertOf(r, t, j, experts);
      weights[t * topK + j] = weightOf(r, t, j);
    }
    for (int c = 0; c < width; ++c)
      x[t * width + c] = featureOf(r, t, c);
  }
  const int64_t pairs = tokens * topK, rowPairs = g * pairs;
  std::vector<float> rowWeights(rowPairs);
  std::vector<int32_t> rowIndices(rowPairs);
  if (!check(expertRoute(world, topK, experts, weights.data(), indices.data(),
                         pairs, rowWeights.data(), rowIndices.data(), rowPairs,
                         &status),
             status))
    return ++failures, void();
  bool routed = true;
  for (int q = 0; q < g; ++q)
    for (int t = 0; t < tokens; ++t)
      for (int j = 0; j < topK; ++j) {
        int32_t id = expertOf(q, t, j, experts) - r * local;
        bool mine = id >= 0 && id < local;
        size_t at = (q * tokens + t) * topK + j;
        routed &= rowIndices[at] == (mine ? id : -1) &&
                  rowWeights[at] == (mine ? weightOf(q, t, j) : 0.0f);
      }
  expect(routed, r, "expert route: the group's routing, localised");

  std::vector<float> rows(g * tokens * width, -1.0f);
  if (!check(expertExchange(world, /*combine=*/false, width, topK, experts,
                            x.data(), x.size(), rowIndices.data(), rowPairs,
                            indices.data(), pairs, rows.data(), rows.size(),
                            &status),
             status))
    return ++failures, void();
  bool dispatched = true;
  for (int q = 0; q < g; ++q)
    for (int t = 0; t < tokens; ++t) {
      bool wanted = false;
      for (int j = 0; j < topK; ++j)
        wanted |= rowIndices[(q * tokens + t) * topK + j] >= 0;
      for (int c = 0; c < width; ++c)
        dispatched &= rows[(q * tokens + t) * width + c] ==
                      (wanted ? featureOf(q, t, c) : 0.0f);
    }
  expect(dispatched, r, "expert dispatch: the tokens choosing local experts");

  // The rank's experts over the rows it received.
  std::vector<float> outRows(rows.size(), 0.0f);
  for (int64_t row = 0; row < g * tokens; ++row)
    for (int j = 0; j < topK; ++j) {
      int32_t id = rowIndices[row * topK + j];
      if (id < 0)
        continue;
      float scale = rowWeights[row * topK + j] * (r * local + id + 1);
      for (int c = 0; c < width; ++c)
        outRows[row * width + c] += scale * rows[row * width + c];
    }
  std::vector<float> y(x.size(), -1.0f);
  if (!check(expertExchange(world, /*combine=*/true, width, topK, experts,
                            outRows.data(), outRows.size(), rowIndices.data(),
                            rowPairs, indices.data(), pairs, y.data(), y.size(),
                            &status),
             status))
    return ++failures, void();
  bool combined = true;
  for (int t = 0; t < tokens; ++t)
    for (int c = 0; c < width; ++c) {
      float want = 0.0f;
      for (int j = 0; j < topK; ++j)
        want += weightOf(r, t, j) * (expertOf(r, t, j, experts) + 1) *
                featureOf(r, t, c);
      combined &= std::fabs(y[t * width + c] - want) <= 1e-4f * std::fabs(want);
    }
  expect(combined, r, "expert combine: every expert's output back, summed");

  // A group the routing was not gathered for is named, not overrun.
  std::vector<float> short_(rows.size() - 1);
  strata_status wrong;
  expect(expertExchange(world, false, width, topK, experts, x.data(), x.size(),
                        rowIndices.data(), rowPairs, indices.data(), pairs,
                        short_.data(), short_.size(),
                        &wrong) == STRATA_INTERNAL_ERROR &&
             std::strstr(wrong.message, "the rows are not the routing's size"),
         r, "expert exchange: buffers of the wrong size refused");
}

/// Reports every rank's failures and prints PASS on rank 0 when none.
int summarise(Communicator &group, const char *what, const char *over) {
  strata_status status;
  int32_t failed = failures;
  group.allReduceSum(&failed, 1, STRATA_COMM_I32, &status);
  if (group.rank() == 0 && failed == 0)
    std::printf("PASS: all_reduce (f32, f64, i32, i64), reduce, all_gather, "
                "broadcast, barrier%s over %d ranks%s\n",
                what, group.size(), over);
  return failed ? 1 : 0;
}

/// The same collectives over NCCL: the library's version, then a GPU.
int ncclCheck() {
  strata_status status;
  int version = 0;
  if (!check(ncclVersion(version, &status), status))
    return 1;
  std::printf("NCCL %d.%d.%d\n", version / 10000, version / 100 % 100,
              version % 100);
  std::fflush(stdout);
  std::unique_ptr<CommBackend> backend;
  std::unique_ptr<Communicator> single;
  Communicator *bootstrap = nullptr;
  if (launchedWorldSize() > 1) {
    if (!check(CommBackend::open("mpi", "", 60.0, backend, &status), status))
      return 1;
    bootstrap = &backend->world();
  } else {
    single = makeSingleCommunicator();
    bootstrap = single.get();
  }
  std::unique_ptr<Device> gpu;
  if (!check(CudaDevice::open(gpu, &status), status))
    return 1;
  std::unique_ptr<Communicator> nccl;
  if (!check(makeNcclCommunicator(*bootstrap, nullptr, *gpu, 60.0, nccl,
                                  &status),
             status))
    return 1;
  collectives(*nccl);
  return summarise(*nccl, " and split", " over NCCL");
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: strata-comm-check collectives | hang RANK "
                         "SECONDS | die RANK | nccl\n");
    return 2;
  }
  std::string mode = argv[1];
  if (mode == "nccl")
    return ncclCheck();
  double timeout = mode == "hang" && argc > 3 ? std::atof(argv[3]) : 60.0;
  std::unique_ptr<CommBackend> backend;
  strata_status status;
  if (!check(CommBackend::open("mpi", "", timeout, backend, &status), status))
    return 1;
  Communicator &world = backend->world();
  int r = world.rank();
  if (mode == "collectives") {
    collectives(world);
    expertExchanges(world);
    return summarise(world, ", split and expert exchanges", "");
  }
  int victim = argc > 2 ? std::atoi(argv[2]) : 1;
  if (r == victim) {
    if (mode == "die")
      std::_Exit(3);
    // Hangs far longer than the others wait: they must not.
    std::this_thread::sleep_for(std::chrono::seconds(120));
    return 0;
  }
  float x = 1.0f;
  auto start = std::chrono::steady_clock::now();
  if (world.allReduceSum(&x, 1, STRATA_COMM_F32, &status) == STRATA_OK)
    return 0; // only if the victim came after all
  double waited = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::fprintf(stderr, "%s (code %d, after %.0f s)\n", status.message,
               static_cast<int>(status.code), waited);
  backend->abortAll(1);
}

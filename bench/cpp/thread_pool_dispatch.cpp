//===- thread_pool_dispatch.cpp - the CPU thread pool's cost per loop -----===//
//
// What one parallel loop costs the runtime's thread pool beyond its work:
// a loop of trivial iterations run on the caller alone against the same
// loop split over the pool, for a range of total work. The difference at
// tiny work is the dispatch overhead (waking or signalling the spinning
// workers, the chunk counter, waiting for them to leave); the work at
// which the split loop starts to win is where ThreadPool::kMinParallelWork
// should sit. Run: build/bin/strata-bench-thread-pool
//
//===----------------------------------------------------------------------===//

#include "runtime/ThreadPool.h"

#include <benchmark/benchmark.h>

#include <vector>

using strata::runtime::ThreadPool;

namespace {

/// About one floating-point operation per element: a[i] = a[i] * 0.5 + 1.
void body(void *captures, int64_t begin, int64_t end) {
  float *a = static_cast<float *>(captures);
  for (int64_t i = begin; i < end; ++i)
    a[i] = a[i] * 0.5f + 1.0f;
}

/// The loop of state.range(0) iterations on the pool with `threads`
/// threads, the split forced (a cost per iteration large enough to pass
/// the pool's threshold), or on the caller alone with threads = 1.
void loop(benchmark::State &state, unsigned threads) {
  int64_t n = state.range(0);
  std::vector<float> data(static_cast<size_t>(n), 1.0f);
  ThreadPool pool(threads);
  for (auto _ : state) {
    pool.parallelFor(body, data.data(), n, ThreadPool::kMinParallelWork);
    benchmark::DoNotOptimize(data.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void Inline(benchmark::State &state) { loop(state, 1); }
void TwoThreads(benchmark::State &state) { loop(state, 2); }

BENCHMARK(Inline)->RangeMultiplier(4)->Range(64, 1 << 20);
BENCHMARK(TwoThreads)->RangeMultiplier(4)->Range(64, 1 << 20);

} // namespace

BENCHMARK_MAIN();

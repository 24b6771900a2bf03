//===- ThreadPool.h - the CPU device's worker threads -----------*- C++ -*-===//
//
// Generated CPU code hands each parallel loop nest to the session's pool
// through the kernel library's `strata_cpu_parallel_for` hook
// (codegen/cpu/ParallelLoops.cpp): a body that runs a range of the nest's
// linearised iterations, the number of iterations and an estimate of the
// operations in one. The calling thread takes part; small loops run on it
// alone, since waking a worker costs more than they do.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_THREADPOOL_H
#define STRATA_RUNTIME_THREADPOOL_H

#include "runtime/abi.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace strata::runtime {

using ParallelBody = strata_parallel_body_fn;

class ThreadPool {
public:
  /// Runs loops on `threads` threads: the caller and threads - 1 workers.
  /// Throws std::system_error when a worker cannot be started.
  explicit ThreadPool(unsigned threads);
  /// Starts the workers with `spawn` (tests make it fail part-way).
  using SpawnFn = std::function<std::thread(std::function<void()>)>;
  ThreadPool(unsigned threads, const SpawnFn &spawn);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned threads() const { return workers_.size() + 1; }

  /// Runs body(captures, b, e) over chunks covering [0, n) and returns when
  /// all have run. Runs on the calling thread alone when the loop is small
  /// (n * costPerIteration below kMinParallelWork) or the pool is busy
  /// (a call from another thread, or from inside a body).
  void parallelFor(ParallelBody body, void *captures, int64_t n,
                   int64_t costPerIteration);

  /// The operations below which a loop is not split.
  static constexpr int64_t kMinParallelWork = 1 << 15;

  /// The CPUs this process may run on (at least 1).
  static unsigned availableCpus();

private:
  void workerLoop();
  /// Stops and joins the workers; idempotent.
  void shutdown();
  void runChunks();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> busy_{false};
  // The current loop; written only while no worker is inside it.
  ParallelBody body_ = nullptr;
  void *captures_ = nullptr;
  int64_t iterations_ = 0;
  int64_t chunk_ = 1;
  std::atomic<int64_t> next_{0};
  std::atomic<unsigned> pending_{0};
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_THREADPOOL_H

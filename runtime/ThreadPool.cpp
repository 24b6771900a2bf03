//===- ThreadPool.cpp - the CPU device's worker threads ---------*- C++ -*-===//

#include "runtime/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <sched.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

using namespace strata::runtime;

namespace {
/// A worker spins this long for the next loop before it sleeps: a forward
/// pass issues loops back to back, and a futex wake-up costs tens of µs.
constexpr auto kSpinTime = std::chrono::microseconds(200);

void relax() {
#if defined(__x86_64__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

thread_local bool insideBody = false;
} // namespace

unsigned ThreadPool::availableCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool::ThreadPool(unsigned threads, const SpawnFn &spawn) {
  try {
    for (unsigned i = 1; i < threads; ++i)
      workers_.push_back(spawn([this] { workerLoop(); }));
  } catch (...) {
    // The members are destroyed after this rethrow: stop the workers that
    // did start, and leave the rest to the members' destructors.
    shutdown();
    throw;
  }
}

ThreadPool::ThreadPool(unsigned threads)
    : ThreadPool(threads, [](std::function<void()> body) {
        return std::thread(std::move(body));
      }) {}

ThreadPool::~ThreadPool() { shutdown(); }

void ThreadPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (std::thread &t : workers_)
    if (t.joinable())
      t.join();
  workers_.clear();
}

void ThreadPool::runChunks() {
  bool outer = insideBody;
  insideBody = true;
  for (;;) {
    int64_t begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
    if (begin >= iterations_)
      break;
    body_(captures_, begin, std::min(iterations_, begin + chunk_));
  }
  insideBody = outer;
}

void ThreadPool::workerLoop() {
  uint64_t seen = 0;
  for (;;) {
    auto until = std::chrono::steady_clock::now() + kSpinTime;
    uint64_t current = generation_.load(std::memory_order_acquire);
    for (unsigned spins = 0; current == seen && !stop_.load(); ++spins) {
      relax();
      if (spins % 64 == 0 && std::chrono::steady_clock::now() > until)
        break;
      current = generation_.load(std::memory_order_acquire);
    }
    if (current == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock,
                 [&] { return stop_.load() || generation_.load() != seen; });
      current = generation_.load(std::memory_order_acquire);
    }
    if (stop_.load())
      return;
    seen = current;
    runChunks();
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallelFor(ParallelBody body, void *captures, int64_t n,
                             int64_t costPerIteration) {
  int64_t cost = std::max<int64_t>(costPerIteration, 1), work;
  bool small = n < 2 || (!__builtin_mul_overflow(n, cost, &work) &&
                         work < kMinParallelWork);
  if (workers_.empty() || small || insideBody ||
      busy_.exchange(true, std::memory_order_acquire)) {
    if (n > 0)
      body(captures, 0, n);
    return;
  }
  // About four chunks per thread for balance, none smaller than a few
  // thousand operations.
  int64_t chunk = std::max<int64_t>(1, n / (4 * int64_t(threads())));
  chunk = std::max(chunk, (kMinParallelWork / 8 + cost - 1) / cost);
  body_ = body;
  captures_ = captures;
  iterations_ = n;
  chunk_ = chunk;
  next_.store(0, std::memory_order_relaxed);
  pending_.store(workers_.size(), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  runChunks();
  // Workers still read the loop's fields until they have left it.
  for (unsigned spins = 0; pending_.load(std::memory_order_acquire) != 0;
       ++spins)
    if (spins < 4096)
      relax();
    else
      std::this_thread::yield();
  busy_.store(false, std::memory_order_release);
}

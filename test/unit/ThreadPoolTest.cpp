//===- ThreadPoolTest.cpp - the CPU device's thread pool
//-------------------===//

#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <system_error>
#include <vector>

using strata::runtime::ThreadPool;

namespace {

struct Marks {
  std::vector<std::atomic<int>> hits;
  std::mutex mutex;
  std::set<std::thread::id> threads;
  explicit Marks(size_t n) : hits(n) {}
};

void mark(void *captures, int64_t begin, int64_t end) {
  auto *m = static_cast<Marks *>(captures);
  {
    std::lock_guard<std::mutex> lock(m->mutex);
    m->threads.insert(std::this_thread::get_id());
  }
  for (int64_t i = begin; i < end; ++i)
    m->hits[i].fetch_add(1);
}

void expectEachOnce(const Marks &m) {
  for (size_t i = 0; i < m.hits.size(); ++i)
    ASSERT_EQ(m.hits[i].load(), 1) << "iteration " << i;
}

TEST(ThreadPool, EveryIterationRunsExactlyOnce) {
  ThreadPool pool(4);
  EXPECT_EQ(pool.threads(), 4u);
  for (int64_t n : {2, 3, 7, 64, 1000, 100003}) {
    Marks m(n);
    pool.parallelFor(&mark, &m, n, ThreadPool::kMinParallelWork);
    expectEachOnce(m);
  }
}

TEST(ThreadPool, LargeLoopsUseTheWorkers) {
  ThreadPool pool(2);
  // Two chunks, each of which waits (up to 10 s) for the other to start:
  // both threads must take part.
  struct Meeting {
    Marks marks{2};
    std::atomic<int> arrived{0};
  } meeting;
  auto meet = [](void *captures, int64_t begin, int64_t end) {
    auto *m = static_cast<Meeting *>(captures);
    m->arrived.fetch_add(1);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (m->arrived.load() < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    mark(&m->marks, begin, end);
  };
  pool.parallelFor(meet, &meeting, 2, ThreadPool::kMinParallelWork);
  expectEachOnce(meeting.marks);
  EXPECT_EQ(meeting.marks.threads.size(), 2u);
}

TEST(ThreadPool, SmallLoopsStayOnTheCaller) {
  ThreadPool pool(4);
  Marks m(100);
  pool.parallelFor(&mark, &m, 100, 1);
  expectEachOnce(m);
  EXPECT_EQ(m.threads.size(), 1u);
  EXPECT_EQ(*m.threads.begin(), std::this_thread::get_id());
}

TEST(ThreadPool, EmptyAndHugeCostsAreHandled) {
  ThreadPool pool(2);
  Marks none(1);
  pool.parallelFor(&mark, &none, 0, 1000);
  EXPECT_EQ(none.hits[0].load(), 0);
  Marks m(8);
  // n * cost overflows int64: still split, still each iteration once.
  pool.parallelFor(&mark, &m, 8, INT64_MAX / 2);
  expectEachOnce(m);
}

TEST(ThreadPool, ConcurrentCallersAreSerialisedOrRunInline) {
  ThreadPool pool(2);
  std::vector<std::thread> callers;
  std::vector<std::unique_ptr<Marks>> marks;
  for (int t = 0; t < 4; ++t)
    marks.push_back(std::make_unique<Marks>(50000));
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&, t] {
      for (int r = 0; r < 20; ++r) {
        Marks m(50000);
        pool.parallelFor(&mark, &m, 50000, 10);
        expectEachOnce(m);
      }
    });
  for (std::thread &c : callers)
    c.join();
}

TEST(ThreadPool, OneThreadRunsInline) {
  ThreadPool pool(1);
  EXPECT_EQ(pool.threads(), 1u);
  Marks m(100000);
  pool.parallelFor(&mark, &m, 100000, 1000);
  expectEachOnce(m);
  EXPECT_EQ(m.threads.size(), 1u);
}

TEST(ThreadPool, AvailableCpusIsPositive) {
  EXPECT_GE(ThreadPool::availableCpus(), 1u);
}

} // namespace

// A worker that cannot start (`ulimit -u`) makes the constructor throw
// after others started: they are stopped and joined once, and nothing is
// freed twice (the sanitizer job runs this under ASan).
TEST(ThreadPool, WorkersThatCannotStartAreReportedCleanly) {
  int started = 0;
  auto spawn = [&](std::function<void()> body) {
    if (++started == 3)
      throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
    return std::thread(std::move(body));
  };
  EXPECT_THROW(ThreadPool(6, spawn), std::system_error);
  EXPECT_EQ(started, 3);
  // A pool made afterwards works.
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  pool.parallelFor([](void *c, int64_t b, int64_t e) {
    static_cast<std::atomic<int64_t> *>(c)->fetch_add(e - b);
  }, &sum, 1 << 20, 1);
  EXPECT_EQ(sum.load(), 1 << 20);
}

//===- FrameArenaTest.cpp - frames of the compiled memory plans -----------===//

#include "runtime/FrameArena.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <set>

using strata::runtime::FrameArena;

namespace {

/// An allocator that counts and can be told to fail.
struct Heap {
  int allocs = 0, frees = 0;
  bool fail = false;
  std::set<void *> live;
};

void *heapAlloc(void *context, size_t bytes) {
  auto *h = static_cast<Heap *>(context);
  if (h->fail)
    return nullptr;
  void *p = std::aligned_alloc(FrameArena::kAlignment, bytes);
  ++h->allocs;
  h->live.insert(p);
  return p;
}

void heapFree(void *context, void *p) {
  auto *h = static_cast<Heap *>(context);
  ++h->frees;
  EXPECT_EQ(h->live.erase(p), 1u) << "freed a block the heap did not give";
  std::free(p);
}

bool aligned(void *p) {
  return reinterpret_cast<uintptr_t>(p) % FrameArena::kAlignment == 0;
}

TEST(FrameArena, NestedFramesAreDisjointAndAligned) {
  Heap heap;
  FrameArena arena(heapAlloc, heapFree, &heap);
  char *outer = static_cast<char *>(arena.push(100));
  char *inner = static_cast<char *>(arena.push(1));
  ASSERT_TRUE(outer && inner);
  EXPECT_TRUE(aligned(outer));
  EXPECT_TRUE(aligned(inner));
  EXPECT_NE(outer, inner);
  EXPECT_EQ(arena.depth(), 2u);
  // Writing every byte of both frames must not trip the allocator's checks.
  for (int i = 0; i < 100; ++i)
    outer[i] = 1;
  inner[0] = 2;
  EXPECT_TRUE(arena.pop(inner));
  EXPECT_TRUE(arena.pop(outer));
  EXPECT_EQ(arena.depth(), 0u);
}

TEST(FrameArena, SteadyStateCallsAllocateNothing) {
  Heap heap;
  FrameArena arena(heapAlloc, heapFree, &heap);
  // A first call (an entry frame and two layer frames in turn) finds no
  // block: its frames are allocated separately, then one block is made.
  auto call = [&] {
    void *entry = arena.push(4096);
    for (int layer = 0; layer < 2; ++layer) {
      void *body = arena.push(8192);
      ASSERT_NE(body, nullptr);
      ASSERT_TRUE(arena.pop(body));
    }
    ASSERT_TRUE(arena.pop(entry));
  };
  call();
  EXPECT_GE(arena.bytesHeld(), 4096u + 8192u);
  int allocs = heap.allocs;
  for (int i = 0; i < 10; ++i)
    call();
  EXPECT_EQ(heap.allocs, allocs);
  // A deeper call outgrows the block once; the next one fits again.
  void *a = arena.push(4096);
  void *b = arena.push(65536);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(arena.pop(b));
  EXPECT_TRUE(arena.pop(a));
  EXPECT_GE(arena.bytesHeld(), 4096u + 65536u);
  allocs = heap.allocs;
  a = arena.push(4096);
  b = arena.push(65536);
  EXPECT_TRUE(arena.pop(b));
  EXPECT_TRUE(arena.pop(a));
  EXPECT_EQ(heap.allocs, allocs);
}

TEST(FrameArena, PopOutOfOrderIsRefused) {
  Heap heap;
  FrameArena arena(heapAlloc, heapFree, &heap);
  void *outer = arena.push(64);
  void *inner = arena.push(64);
  EXPECT_FALSE(arena.pop(outer));
  EXPECT_FALSE(arena.pop(nullptr));
  EXPECT_TRUE(arena.pop(inner));
  EXPECT_TRUE(arena.pop(outer));
  EXPECT_FALSE(arena.pop(outer));
}

TEST(FrameArena, OutOfMemoryAndHugeRequestsGiveNull) {
  Heap heap;
  FrameArena arena(heapAlloc, heapFree, &heap);
  EXPECT_EQ(arena.push(SIZE_MAX), nullptr);
  EXPECT_EQ(arena.push(SIZE_MAX - 10), nullptr);
  heap.fail = true;
  EXPECT_EQ(arena.push(128), nullptr);
  EXPECT_EQ(arena.depth(), 0u);
  heap.fail = false;
  void *p = arena.push(0);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(arena.pop(p));
}

TEST(FrameArena, DestructionFreesEverything) {
  Heap heap;
  {
    FrameArena arena(heapAlloc, heapFree, &heap);
    void *a = arena.push(256);
    arena.pop(a); // makes the block
    arena.push(128);
    arena.push(1 << 20); // outside the block, still held
  }
  EXPECT_EQ(heap.allocs, heap.frees);
  EXPECT_TRUE(heap.live.empty());
}

} // namespace

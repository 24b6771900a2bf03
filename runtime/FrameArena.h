//===- FrameArena.h - stack frames of the compiled memory plans -*- C++ -*-===//
//
// Each compiled function with a memory plan (an entry point, or a layer
// body it calls) asks for one frame when it starts and gives it back before
// it returns, so frames nest like a call stack. The arena serves them from
// one block with a bump pointer; a frame that does not fit gets a block of
// its own, and once the outermost frame is released the block is regrown to
// the deepest total seen, so that steady-state calls allocate nothing.
// Memory comes from a device's allocator (host memory, CUDA memory).
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_FRAMEARENA_H
#define STRATA_RUNTIME_FRAMEARENA_H

#include <cstddef>
#include <vector>

namespace strata::runtime {

class FrameArena {
public:
  /// Allocates `bytes` aligned to kAlignment (null when out of memory).
  using AllocFn = void *(*)(void *context, size_t bytes);
  using FreeFn = void (*)(void *context, void *p);
  static constexpr size_t kAlignment = 64;

  FrameArena(AllocFn alloc, FreeFn release, void *context)
      : alloc(alloc), release(release), context(context) {}
  FrameArena(const FrameArena &) = delete;
  FrameArena &operator=(const FrameArena &) = delete;
  ~FrameArena();

  /// A new innermost frame of `bytes`; null when out of memory.
  void *push(size_t bytes);
  /// Releases the innermost frame, which must be `frame`; false otherwise
  /// (the generated code pairs every push with one pop, in order).
  bool pop(void *frame);
  /// Bytes held: the block plus frames that live outside it.
  size_t bytesHeld() const { return capacity + outside; }
  size_t depth() const { return frames.size(); }

private:
  struct Frame {
    char *base;
    size_t bytes;
    bool ownBlock;
  };

  AllocFn alloc;
  FreeFn release;
  void *context;
  char *block = nullptr;
  size_t capacity = 0, top = 0, outside = 0;
  /// The largest total of frames alive at once.
  size_t highWater = 0, live = 0;
  std::vector<Frame> frames;
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_FRAMEARENA_H

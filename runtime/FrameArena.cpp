//===- FrameArena.cpp - stack frames of the compiled memory plans ---------===//

#include "runtime/FrameArena.h"

using namespace strata::runtime;

FrameArena::~FrameArena() {
  for (const Frame &f : frames)
    if (f.ownBlock)
      release(context, f.base);
  if (block)
    release(context, block);
}

void *FrameArena::push(size_t bytes) {
  size_t size = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (size == 0)
    size = kAlignment;
  if (size < bytes) // wrapped
    return nullptr;
  Frame frame{nullptr, size, false};
  if (block && size <= capacity - top) {
    frame.base = block + top;
    top += size;
  } else {
    frame.base = static_cast<char *>(alloc(context, size));
    if (!frame.base)
      return nullptr;
    frame.ownBlock = true;
    outside += size;
  }
  frames.push_back(frame);
  live += size;
  if (live > highWater)
    highWater = live;
  return frame.base;
}

bool FrameArena::pop(void *p) {
  if (frames.empty() || frames.back().base != p)
    return false;
  Frame frame = frames.back();
  frames.pop_back();
  live -= frame.bytes;
  if (frame.ownBlock) {
    release(context, frame.base);
    outside -= frame.bytes;
  } else {
    top -= frame.bytes;
  }
  // Between calls: one block for the deepest call seen, a quarter more so
  // that a growing sequence does not regrow it at every step.
  if (frames.empty() && highWater > capacity) {
    if (block)
      release(context, block);
    size_t grown = highWater + highWater / 4;
    grown = (grown + kAlignment - 1) / kAlignment * kAlignment;
    block = static_cast<char *>(alloc(context, grown));
    capacity = block ? grown : 0;
    top = 0;
  }
  return true;
}

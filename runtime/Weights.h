//===- Weights.h - a session's parameters, in their own dtype ---*- C++ -*-===//
//
// Every parameter of the executable's table is one host tensor stored in
// the dtype the executable declares for it (f32, bf16, f16; int8 leaves
// room for per-channel scales as parameters of their own). Devices whose
// memory is not the host's get a copy, uploaded again before the next call
// after the host values changed.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_WEIGHTS_H
#define STRATA_RUNTIME_WEIGHTS_H

#include "runtime/Internal.h"

#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

namespace strata::runtime {

class Device;

struct HostTensor {
  strata_dtype dtype = STRATA_F32;
  std::vector<int64_t> shape;
  size_t elements = 0;
  struct Free {
    void operator()(void *p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data;

  size_t bytes() const;
  /// Room for `elements` of `dtype`, 64-byte aligned; false when out of
  /// memory.
  bool allocate();
};

/// Where each of `count` equal slices along dimension `dim` of a row-major
/// tensor of `shape` lies: `outer` runs of `run` elements, one per index
/// of the dims before `dim`, `stride` elements apart; part p's runs start
/// at element `p * run`.
struct SliceRuns {
  size_t outer = 1, run = 1, stride = 1;
};
SliceRuns sliceRuns(const std::vector<int64_t> &shape, int dim, int64_t count);

class Weights {
public:
  /// One tensor per parameter of `exe`, uninitialised, in each
  /// parameter's dtype (or all in `dtype` when given: gradients are f32).
  strata_status_code allocate(const strata::fb::Executable *exe,
                              strata_status *status,
                              std::optional<strata_dtype> dtype = {});
  size_t size() const { return tensors.size(); }
  HostTensor &operator[](size_t i) { return tensors[i]; }
  const HostTensor &operator[](size_t i) const { return tensors[i]; }
  /// Replaces every tensor (a checkpoint read into new buffers, so that a
  /// failure leaves the old values).
  void replace(std::vector<HostTensor> loaded);
  /// The host values changed: device copies and computed parameters are
  /// stale.
  void changed() { deviceStale = derivedStale = true; }
  /// Only float parameters changed (calibrated activation scales): the
  /// int8 weights, hence their row sums, did not.
  void floatsChanged() { deviceStale = slicesStale = true; }

  /// Brings the computed parameters (int8 weights' row sums) and the
  /// device copies up to date; called before every entry point runs.
  strata_status_code sync(Device &device, strata_status *status);
  /// A tensor-parallel program's view of one parameter: part `part` of
  /// `count` equal slices along dimension `dim` (-1: the whole).
  struct Slice {
    int dim = -1;
    int64_t count = 1, part = 0;
  };
  /// A partitioned program's Parameter arguments read these slices (one
  /// per parameter) instead of the whole parameters, copied out of them
  /// whenever the values change (host-memory devices only). The whole
  /// parameters stay: checkpoints and the optimizer see the model, not a rank's
  /// part of it.
  void useSlices(std::vector<Slice> slices);
  /// Where the kernels read parameter `i` (`slice`: its useSlices slice).
  void *kernelPointer(size_t i, Device &device, bool slice = false);
  /// Frees the device copies (before the device goes).
  void releaseDeviceCopies(Device &device);

private:
  strata_status_code copySlices(strata_status *status);
  std::vector<HostTensor> tensors;
  /// Per parameter: the int8 weight it holds the row sums of, else -1.
  std::vector<int> rowSumsOf;
  /// useSlices': per parameter, the slice and its copy (empty: none).
  std::vector<Slice> sliceOf;
  std::vector<HostTensor> sliced;
  std::vector<void *> deviceCopies;
  bool deviceStale = true, derivedStale = true, slicesStale = true;
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_WEIGHTS_H

//===- Device.h - where a session's kernels run and its memory lives -*- C++ -*-===//
//
// A session talks to its device only through this interface: memory,
// copies, the kernel library's hooks, and the bracket around one call.
// Which device runs an executable is decided once, from the executable's
// target, by the table in Device.cpp; a new device is a new file and one
// row there, not a branch in the session.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_DEVICE_H
#define STRATA_RUNTIME_DEVICE_H

#include "runtime/Internal.h"

#include <cstddef>
#include <memory>
#include <string>

namespace strata::runtime {

class Communicator;
class KernelLibrary;

class Device {
public:
  virtual ~Device();

  /// Opens the device that runs `exe` (`requested` must be AUTO or match
  /// the executable's target).
  static strata_status_code open(const strata::fb::Executable *exe,
                                 strata_device_kind requested,
                                 std::unique_ptr<Device> &out,
                                 strata_status *status);

  /// "cpu", "cuda: NVIDIA H200 (sm_90)".
  virtual std::string name() const = 0;

  /// Loads what the device itself needs from `exe` (device modules) and
  /// points `library`'s hooks at this device. Called once, before any call.
  virtual strata_status_code bind(KernelLibrary &library,
                                  const strata::fb::Executable *exe,
                                  strata_status *status) = 0;

  /// Whether allocate() returns host memory: inputs are then passed in
  /// place and results read where the kernels wrote them.
  virtual bool hostMemory() const = 0;

  /// Device memory, at least 64-byte aligned (null and a status when out
  /// of memory).
  virtual void *allocate(size_t bytes, strata_status *status) = 0;
  virtual void release(void *p) = 0;
  virtual strata_status_code upload(void *dst, const void *src, size_t bytes,
                                    strata_status *status) = 0;
  virtual strata_status_code download(void *dst, const void *src, size_t bytes,
                                      strata_status *status) = 0;
  virtual strata_status_code copyOnDevice(void *dst, const void *src,
                                          size_t bytes,
                                          strata_status *status) = 0;
  /// Frees a result buffer the kernels allocated (they use malloc on the
  /// host, the device's allocation hook elsewhere).
  virtual void releaseResult(void *p) = 0;

  /// Bracket one entry-point call: errors the hooks recorded while it ran
  /// are reported by finish().
  virtual strata_status_code begin(strata_status *status) = 0;
  virtual strata_status_code finish(strata_status *status) = 0;

  /// Host threads the kernels' parallel loops use (0: one per CPU).
  virtual strata_status_code setThreads(unsigned threads,
                                        strata_status *status) = 0;
  virtual unsigned threads() const = 0;
  /// Bytes held for the memory plans' frames.
  virtual size_t workspaceBytes() const = 0;
  /// Device time of the last call in milliseconds; -1 where not measured.
  virtual double lastMilliseconds() const = 0;

  /// Where a tensor-parallel program's sums (strata_kernel.all_reduce) go:
  /// `group`, which outlives the calls (null: none, a group of one). A
  /// failed sum fails the call it ran in (finish()). Devices whose kernels
  /// have no such hook refuse a group of more than one.
  virtual strata_status_code useTensorParallelGroup(Communicator *group,
                                                    strata_status *status);
  /// Where an expert-parallel program's all-to-alls
  /// (strata_kernel.expert_route / expert_exchange) go: `group`, ordered
  /// by ep coordinate, which outlives the calls. As useTensorParallelGroup.
  virtual strata_status_code useExpertParallelGroup(Communicator *group,
                                                    strata_status *status);
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_DEVICE_H

//===- CudaDevice.h - the runtime's CUDA device -----------------*- C++ -*-===//
//
// The CUDA driver is opened with dlopen (libcuda.so.1) and used through a
// table of function pointers: the runtime has no link-time dependency on
// CUDA and reports 'no CUDA device' where there is no driver or no GPU.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_CUDADEVICE_H
#define STRATA_RUNTIME_CUDADEVICE_H

#include "runtime/Device.h"

#include <memory>
#include <string>

namespace strata::runtime {

class CudaDevice final : public Device {
public:
  /// Opens the driver and device 0, and creates the session's stream.
  static strata_status_code open(std::unique_ptr<Device> &out,
                                 strata_status *status);
  ~CudaDevice() override;

  std::string name() const override { return "cuda: " + name_; }
  /// Loads the executable's device module (cubin for this device's
  /// architecture, else PTX through the driver's JIT), checks every kernel
  /// of the kernel table against the device's limits, and points the host
  /// library's launch and allocation hooks at this device.
  strata_status_code bind(KernelLibrary &library,
                          const strata::fb::Executable *exe,
                          strata_status *status) override;
  bool hostMemory() const override { return false; }
  void *allocate(size_t bytes, strata_status *status) override;
  void release(void *device) override;
  strata_status_code upload(void *device, const void *host, size_t bytes,
                            strata_status *status) override;
  strata_status_code download(void *host, const void *device, size_t bytes,
                              strata_status *status) override;
  /// Stream-ordered device-to-device copy (no host synchronisation).
  strata_status_code copyOnDevice(void *dst, const void *src, size_t bytes,
                                  strata_status *status) override;
  void releaseResult(void *device) override { release(device); }
  /// Makes the device current on the calling thread; clears the error
  /// the hooks recorded.
  strata_status_code begin(strata_status *status) override;
  /// Waits for the stream and reports the first error a hook recorded.
  strata_status_code finish(strata_status *status) override;
  /// The host code of a CUDA executable has no parallel loops.
  strata_status_code setThreads(unsigned, strata_status *status) override {
    return ok(status);
  }
  unsigned threads() const override { return 1; }
  /// Bytes of the memory plans' device arena (0 before the first call).
  size_t workspaceBytes() const override;
  /// Device time from begin() to finish() of the last call (CUDA events),
  /// in milliseconds; -1 before the first call or after a failed one.
  double lastMilliseconds() const override;

  struct Impl;

private:
  CudaDevice() = default;
  strata_status_code loadKernels(const strata::fb::Executable *exe,
                                 strata_status *status);
  strata_status_code bindHooks(KernelLibrary &library, strata_status *status);
  std::unique_ptr<Impl> impl_;
  /// "NVIDIA H200 (sm_90)".
  std::string name_;
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_CUDADEVICE_H

//===- CudaDevice.h - the runtime's CUDA device -----------------*- C++ -*-===//
//
// The CUDA driver is opened with dlopen (libcuda.so.1) and used through a
// table of function pointers: the runtime has no link-time dependency on
// CUDA and reports 'no CUDA device' where there is no driver or no GPU.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_CUDADEVICE_H
#define STRATA_RUNTIME_CUDADEVICE_H

#include "runtime/Internal.h"

#include <memory>
#include <string>

namespace strata::runtime {

class CudaDevice {
public:
  /// Opens the driver and device 0, and creates the session's stream.
  static strata_status_code open(std::unique_ptr<CudaDevice> &out,
                                 strata_status *status);
  ~CudaDevice();

  /// Loads the executable's device module (cubin for this device's
  /// architecture, else PTX through the driver's JIT) and checks every
  /// kernel of the kernel table against the device's limits.
  strata_status_code loadKernels(const strata::fb::Executable *exe,
                                 strata_status *status);

  /// Points the host library's launch and allocation hooks at this device.
  strata_status_code bindHooks(void *library, strata_status *status);

  /// Device memory (nullptr and a status on failure).
  void *allocate(size_t bytes, strata_status *status);
  void release(void *device);
  strata_status_code upload(void *device, const void *host, size_t bytes,
                            strata_status *status);
  strata_status_code download(void *host, const void *device, size_t bytes,
                              strata_status *status);

  /// Stream-ordered device-to-device copy (no host synchronisation).
  strata_status_code copyOnDevice(void *dst, const void *src, size_t bytes,
                                  strata_status *status);

  /// Makes the device current on the calling thread; clears the error
  /// the hooks recorded.
  strata_status_code begin(strata_status *status);
  /// Waits for the stream and reports the first error a hook recorded.
  strata_status_code finish(strata_status *status);

  /// Device time from begin() to finish() of the last call (CUDA events),
  /// in milliseconds; -1 before the first call or after a failed one.
  double lastMilliseconds() const;
  /// Bytes of the memory plans' device arena (0 before the first call).
  size_t arenaBytes() const;

  /// "NVIDIA H200 (sm_90)".
  const std::string &name() const { return name_; }

  struct Impl;

private:
  CudaDevice() = default;
  std::unique_ptr<Impl> impl_;
  std::string name_;
};

} // namespace strata::runtime

#endif // STRATA_RUNTIME_CUDADEVICE_H

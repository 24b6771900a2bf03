//===- Device.cpp - which device runs an executable -----------------------===//

#include "runtime/Device.h"
#include "runtime/CpuDevice.h"
#include "runtime/CudaDevice.h"
#include "runtime/comm/Communicator.h"

namespace strata::runtime {

Device::~Device() = default;

namespace {
/// The devices, by the target an executable is compiled for.
struct DeviceKind {
  strata::fb::Target target;
  strata_device_kind kind;
  /// "the CPU" / "CPU" / "--target=cpu".
  const char *name, *shortName, *compileFlag;
  strata_status_code (*open)(std::unique_ptr<Device> &, strata_status *);
};
const DeviceKind kDevices[] = {
    {strata::fb::Target::Cpu, STRATA_DEVICE_CPU, "the CPU", "CPU", "--target=cpu",
     &CpuDevice::open},
    {strata::fb::Target::Cuda, STRATA_DEVICE_CUDA, "CUDA", "CUDA", "--target=cuda",
     &CudaDevice::open},
};

const DeviceKind *findKind(strata_device_kind kind) {
  for (const DeviceKind &d : kDevices)
    if (d.kind == kind)
      return &d;
  return nullptr;
}
} // namespace

strata_status_code Device::open(const strata::fb::Executable *exe,
                                strata_device_kind requested,
                                std::unique_ptr<Device> &out,
                                strata_status *status) {
  const DeviceKind *target = nullptr;
  for (const DeviceKind &d : kDevices)
    if (d.target == exe->target())
      target = &d;
  if (!target)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "the executable's target (%d) is no device this runtime has",
                static_cast<int>(exe->target()));
  if (requested != STRATA_DEVICE_AUTO) {
    const DeviceKind *wanted = findKind(requested);
    if (!wanted)
      return fail(status, STRATA_INVALID_ARGUMENT, "unknown device kind %d",
                  static_cast<int>(requested));
    if (wanted != target)
      return fail(status, STRATA_UNSUPPORTED,
                  "this executable targets %s; a %s session runs %s "
                  "executables (compile with %s)",
                  target->name, wanted->shortName, wanted->shortName,
                  wanted->compileFlag);
  }
  return target->open(out, status);
}

} // namespace strata::runtime

strata_status_code
strata::runtime::Device::useTensorParallelGroup(Communicator *group,
                                                strata_status *status) {
  if (group && group->size() > 1)
    return fail(status, STRATA_UNSUPPORTED,
                "tensor parallelism across ranks runs on the CPU only; the "
                "%s device has no tensor-parallel collectives yet",
                name().c_str());
  return ok(status);
}

strata_status_code
strata::runtime::Device::useExpertParallelGroup(Communicator *group,
                                                strata_status *status) {
  if (group && group->size() > 1)
    return fail(status, STRATA_UNSUPPORTED,
                "expert parallelism across ranks runs on the CPU only; the "
                "%s device has no expert all-to-all yet",
                name().c_str());
  return ok(status);
}

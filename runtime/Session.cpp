//===- Session.cpp - a session's life: create, threads, release -*- C++ -*-===//
//
// A session is an executable bound to a device: its own instance of the
// kernel library (KernelLibrary.h), the device that library's hooks call
// back into (Device.h), and the parameters (Weights.h). Sessions share
// nothing, so any number of them — of the same or different executables —
// run concurrently in one process; one session runs one call at a time.
// Calls live in EntryCall.cpp, weights in Weights.cpp and Checkpoint.cpp,
// generation in Generate.cpp.
//
//===----------------------------------------------------------------------===//

#include "runtime/Session.h"
#include "runtime/HostCpu.h"

#include <new>

using strata::runtime::Device;
using strata::runtime::fail;
using strata::runtime::guardApi;
using strata::runtime::KernelLibrary;
using strata::runtime::ok;

extern "C" {

strata_status_code strata_session_create(const strata_executable *exe,
                                         strata_session **out,
                                         strata_status *status) {
  return strata_session_create_on(exe, STRATA_DEVICE_AUTO, out, status);
}

strata_status_code strata_session_create_on(const strata_executable *exe,
                                            strata_device_kind device,
                                            strata_session **out,
                                            strata_status *status) {
  if (!exe || !out)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_create: null argument");
  *out = nullptr;
  const auto *root = exe->root;
  return guardApi(__func__, status, [&] {
    auto session = std::make_unique<strata_session>();
    session->exe = exe;
    if (strata_status_code code =
            Device::open(root, device, session->device, status))
      return code;
    const strata::fb::KernelLibrary *lib = nullptr;
    if (strata_status_code code =
            strata::runtime::selectHostLibrary(root, lib, status))
      return code;
    if (strata_status_code code =
            KernelLibrary::load(lib->data()->data(), lib->data()->size(),
                                session->library, status))
      return code;
    if (strata_status_code code =
            session->device->bind(*session->library, root, status))
      return code;
    session->deviceName = session->device->name();
    if (const auto *plan = root->training(); plan && plan->dynamic_loss_scaling())
      session->training.lossScale =
          static_cast<float>(plan->loss_scale_init());
    if (strata_status_code code = session->weights.allocate(root, status))
      return code;
    *out = session.release();
    return ok(status);
  });
}

void strata_session_release(strata_session *session) { delete session; }

strata_status_code strata_session_set_num_threads(strata_session *session,
                                                  unsigned threads,
                                                  strata_status *status) {
  if (!session)
    return fail(status, STRATA_INVALID_ARGUMENT, "null session");
  if (threads > 1024)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%u threads requested; at most 1024 are supported", threads);
  return guardApi(__func__, status,
                  [&] { return session->device->setThreads(threads, status); });
}

unsigned strata_session_num_threads(const strata_session *session) {
  return session ? session->device->threads() : 1;
}

size_t strata_session_workspace_bytes(const strata_session *session) {
  return session ? session->device->workspaceBytes() : 0;
}

const char *strata_session_device_name(const strata_session *session) {
  return session ? session->deviceName.c_str() : "";
}

double strata_session_last_device_ms(const strata_session *session) {
  return session ? session->device->lastMilliseconds() : -1;
}

} // extern "C"

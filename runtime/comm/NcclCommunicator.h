//===- NcclCommunicator.h - collectives between GPUs over NCCL --*- C++ -*-===//
//
// GPU ranks' collectives go through NCCL, opened with dlopen
// (libnccl.so.2: the runtime links no CUDA library). A group is bootstrapped
// over an existing one (MPI's, or a process alone): its rank 0 makes the
// NCCL unique id and broadcasts it. The runtime's buffers are host memory,
// staged through the device: upload, the NCCL collective on the device's
// default stream, polled against the timeout, download.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_COMM_NCCLCOMMUNICATOR_H
#define STRATA_RUNTIME_COMM_NCCLCOMMUNICATOR_H

#include "runtime/Device.h"
#include "runtime/comm/Communicator.h"

#include <memory>

namespace strata::runtime {

/// NCCL's version (e.g. 22703 for 2.27.3), opening the library if needed.
strata_status_code ncclVersion(int &version, strata_status *status);

/// An NCCL group with the ranks of `bootstrap` (a collective over it), on
/// `device`, which must be a CUDA device that outlives the group.
/// Collectives wait at most `timeoutSeconds`.
/// `keep`, when given, is `bootstrap` itself, which the group then owns.
strata_status_code makeNcclCommunicator(Communicator &bootstrap,
                                        std::unique_ptr<Communicator> keep,
                                        Device &device, double timeoutSeconds,
                                        std::unique_ptr<Communicator> &out,
                                        strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_COMM_NCCLCOMMUNICATOR_H

//===- Training.h - what training steps and checkpoints share ---*- C++ -*-===//

#ifndef STRATA_RUNTIME_TRAINING_H
#define STRATA_RUNTIME_TRAINING_H

#include "runtime/Session.h"

namespace strata::runtime {

/// An uninitialised f32 tensor shaped as training_state[index] says.
strata_status_code allocateStateTensor(const strata_executable *exe,
                                       size_t index, HostTensor &out,
                                       strata_status *status);

/// One uninitialised f32 tensor per entry of the executable's
/// training_state (the optimizer's moments), shaped as the entry says.
strata_status_code allocateTrainingState(const strata_executable *exe,
                                         std::vector<HostTensor> &out,
                                         strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_TRAINING_H

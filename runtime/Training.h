//===- Training.h - what training steps and checkpoints share ---*- C++ -*-===//

#ifndef STRATA_RUNTIME_TRAINING_H
#define STRATA_RUNTIME_TRAINING_H

#include "runtime/Session.h"

namespace strata::runtime {

/// One uninitialised f32 tensor per entry of the executable's
/// training_state (the optimizer's moments), shaped as the entry says.
strata_status_code allocateTrainingState(const strata_executable *exe,
                                         std::vector<HostTensor> &out,
                                         strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_TRAINING_H

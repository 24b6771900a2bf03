//===- EntryCall.h - calling a compiled entry point -------------*- C++ -*-===//
//
// Entry points take memref descriptors (runtime/abi.h): CallFrame builds
// them for the arguments — inputs staged on the device when its memory is
// not the host's, parameters where the weights keep them — runs the entry
// point between the device's begin() and finish(), and brings the results
// to host memory unless told to leave some on the device.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_RUNTIME_ENTRYCALL_H
#define STRATA_RUNTIME_ENTRYCALL_H

#include "runtime/Session.h"
#include "runtime/abi.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

namespace strata::runtime {

using EntryFn = strata_entry_fn;

/// A memref descriptor of rank `rank` as the C interface lays it out:
/// {allocated, aligned, offset, sizes[rank], strides[rank]}, all 8 bytes.
struct Descriptor {
  std::vector<int64_t> words;
  Descriptor(void *data, const std::vector<int64_t> &shape);
  void *pointer() { return words.data(); }
};

/// The result descriptors an entry point filled, back to back.
struct Results {
  std::vector<int64_t> words;
  std::vector<size_t> offsets; ///< Where each result's descriptor starts.

  int64_t *descriptor(size_t r) { return words.data() + offsets[r]; }
  const int64_t *descriptor(size_t r) const {
    return words.data() + offsets[r];
  }
  /// Element [b, s, j] of rank-3 result `r`, honouring its strides.
  float at3(size_t r, int64_t b, int64_t s, int64_t j) const {
    const int64_t *d = descriptor(r);
    return reinterpret_cast<const float *>(
        d[1])[d[2] + b * d[3 + 3] + s * d[3 + 4] + j * d[3 + 5]];
  }
  /// Frees the host buffers results were copied to or the kernels
  /// allocated (results left on a device are cleared by their user).
  ~Results() {
    for (size_t off : offsets)
      std::free(reinterpret_cast<void *>(words[off]));
  }
};

/// `batch` sequences of `seq` tokens: their count (`cells`) without
/// overflow, ids inside the vocabulary, a sequence within the maximum.
strata_status_code checkBatch(const strata::fb::Metadata *meta,
                              const int32_t *tokens, size_t batch, size_t seq,
                              size_t &cells, strata_status *status);

/// Token ids inside the vocabulary and a sequence within the maximum.
strata_status_code checkTokens(const strata::fb::Metadata *meta,
                               const int32_t *tokens, size_t count, size_t seq,
                               strata_status *status);

const strata::fb::EntryPoint *findEntry(const strata_executable *exe,
                                        const char *name);
/// Entry point `name` of the program `session` runs: its stage's, where
/// it runs a partitioned program that has one, else the executable's.
const strata::fb::EntryPoint *findEntry(const strata_session &session,
                                        const char *name);

/// Copies a strided f32 result of `rank` (a memref descriptor) to `out`,
/// row-major.
void copyRowMajor(const int64_t *descriptor, size_t rank, float *out);

/// The arguments of one entry-point call.
class CallFrame {
public:
  CallFrame(strata_session &session, const strata::fb::EntryPoint *ep)
      : session(session), device(*session.device), ep(ep) {}
  ~CallFrame();

  /// Looks up the entry point's function and brings the device's copy of
  /// the parameters up to date. First, before anything is added.
  strata_status_code prepare(strata_status *status);

  /// An input the kernels read: `bytes` of host data, logically `shape`.
  strata_status_code add(const void *data, size_t bytes,
                         std::vector<int64_t> shape, strata_status *status);
  /// Memory already on the device (or the host for host devices).
  void addDevice(void *data, std::vector<int64_t> shape);
  /// A Parameter argument: the whole parameter, or this rank's slice.
  void addParameter(const strata::fb::Argument *arg);

  /// Runs the entry point. Results end up in host memory, except those
  /// `keep` marks on devices with their own memory: their descriptors
  /// keep pointing at device memory, which the caller must release (and
  /// then clear the pointers).
  strata_status_code call(Results &results, strata_status *status,
                          const std::vector<bool> &keep = {});

  /// Adds the arguments of an entry point that takes token ids [batch,
  /// seq] and parameters only (forward, calibrate); another kind of
  /// argument is STRATA_UNSUPPORTED, naming the entry point.
  strata_status_code addTokensAndParameters(const int32_t *tokens,
                                            size_t batch, size_t seq,
                                            strata_status *status);

private:
  strata_status_code resultsToHost(Results &results,
                                   const std::vector<bool> &keep,
                                   strata_status_code code,
                                   strata_status *status);

  strata_session &session;
  Device &device;
  const strata::fb::EntryPoint *ep;
  EntryFn entry = nullptr;
  std::vector<Descriptor> descriptors;
  std::vector<void *> staged;
};

/// Runs entry point `ep`, which takes token ids [batch, seq] and
/// parameters (forward, calibrate), bringing its results to the host.
strata_status_code callWithTokens(strata_session &session,
                                  const strata::fb::EntryPoint *ep,
                                  const int32_t *tokens, size_t batch,
                                  size_t seq, Results &results,
                                  strata_status *status);

} // namespace strata::runtime

#endif // STRATA_RUNTIME_ENTRYCALL_H

//===- Weights.cpp - a session's parameters, in their own dtype -----------===//
//
// Also the C API that fills and saves them: strata_session_init_parameters,
// _load_parameters and _save_parameters(_with).
//
//===----------------------------------------------------------------------===//

#include "runtime/Weights.h"
#include "runtime/Checkpoint.h"
#include "runtime/DType.h"
#include "runtime/Device.h"
#include "runtime/Quantize.h"
#include "runtime/Sampling.h"
#include "runtime/Session.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <system_error>
#include <thread>

namespace strata::runtime {

size_t HostTensor::bytes() const { return elements * dtypeSize(dtype); }

namespace {
/// Runs `work` on up to 16 threads, this one included; `work` takes its
/// items from a shared counter until none are left.
void onEveryCore(const std::function<void()> &work) {
  std::vector<std::thread> threads;
  unsigned extra = std::min(16u, std::thread::hardware_concurrency());
  try {
    threads.reserve(extra);
    for (unsigned t = 1; t < extra; ++t)
      threads.emplace_back(work);
  } catch (const std::system_error &) {
    // Fewer threads than asked: the ones running and this one finish.
  }
  work();
  for (std::thread &t : threads)
    t.join();
}
} // namespace

bool HostTensor::allocate() {
  size_t size = bytes();
  size_t rounded = (std::max<size_t>(size, 1) + 63) & ~size_t(63);
  data.reset(static_cast<uint8_t *>(std::aligned_alloc(64, rounded)));
  return data != nullptr;
}

strata_status_code Weights::allocate(const strata::fb::Executable *exe,
                                     strata_status *status,
                                     std::optional<strata_dtype> dtype) {
  const auto *params = exe->parameters();
  tensors.clear();
  tensors.resize(params->size());
  for (flatbuffers::uoffset_t i = 0; i < params->size(); ++i) {
    const auto *p = params->Get(i);
    HostTensor &t = tensors[i];
    t.dtype = dtype ? *dtype : static_cast<strata_dtype>(p->dtype());
    t.shape.assign(p->shape()->begin(), p->shape()->end());
    int64_t elements = checkedElements(p->shape(), false);
    size_t size = dtypeSize(t.dtype);
    // The loader checked shapes; the byte size must fit as well.
    if (elements < 0 || size == 0 ||
        static_cast<uint64_t>(elements) > SIZE_MAX / size)
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "parameter '%s' has an invalid shape or dtype",
                  p->name()->c_str());
    t.elements = static_cast<size_t>(elements);
    if (!t.allocate())
      return fail(status, STRATA_OUT_OF_MEMORY,
                  "out of memory allocating parameter '%s' (%zu bytes)",
                  p->name()->c_str(), t.bytes());
  }
  // Gradients (all f32) compute nothing.
  rowSumsOf =
      dtype ? std::vector<int>(params->size(), -1) : rowSumsSources(exe);
  deviceStale = derivedStale = true;
  return ok(status);
}

void Weights::replace(std::vector<HostTensor> loaded) {
  tensors.swap(loaded);
  deviceStale = derivedStale = true;
}

strata_status_code Weights::sync(Device &device, strata_status *status) {
  if (derivedStale) {
    // One pass over every int8 weight: spread over the cores.
    std::vector<size_t> sums;
    for (size_t i = 0; i < rowSumsOf.size(); ++i)
      if (rowSumsOf[i] >= 0)
        sums.push_back(i);
    std::atomic<size_t> next{0};
    if (!sums.empty())
      onEveryCore([&] {
        for (size_t k; (k = next.fetch_add(1)) < sums.size();)
          computeRowSums(tensors[rowSumsOf[sums[k]]], tensors[sums[k]]);
      });
    derivedStale = false;
    slicesStale = true;
  }
  if (slicesStale) {
    if (strata_status_code code = copySlices(status))
      return code;
    slicesStale = false;
  }
  if (device.hostMemory() || !deviceStale)
    return STRATA_OK;
  deviceCopies.resize(tensors.size(), nullptr);
  for (size_t i = 0; i < tensors.size(); ++i) {
    size_t bytes = tensors[i].bytes();
    if (!deviceCopies[i] &&
        !(deviceCopies[i] = device.allocate(bytes, status)))
      return status ? status->code : STRATA_OUT_OF_MEMORY;
    if (strata_status_code code = device.upload(
            deviceCopies[i], tensors[i].data.get(), bytes, status))
      return code;
  }
  deviceStale = false;
  return STRATA_OK;
}

void Weights::useSlices(std::vector<Slice> slices) {
  sliceOf = std::move(slices);
  sliced.clear();
  sliced.resize(sliceOf.size());
  derivedStale = true;
}

SliceRuns sliceRuns(const std::vector<int64_t> &shape, int dim, int64_t count) {
  SliceRuns r;
  size_t inner = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    size_t n = static_cast<size_t>(shape[d]);
    if (d < static_cast<size_t>(dim))
      r.outer *= n;
    else if (d > static_cast<size_t>(dim))
      inner *= n;
  }
  r.stride = static_cast<size_t>(shape[dim]) * inner;
  r.run = r.stride / static_cast<size_t>(count);
  return r;
}

/// Copies part `s.part` of `whole` along `s.dim` into `out`.
static void copySlice(const HostTensor &whole, const Weights::Slice &s,
                      HostTensor &out) {
  size_t element = dtypeSize(whole.dtype);
  SliceRuns r = sliceRuns(whole.shape, s.dim, s.count);
  const uint8_t *from =
      whole.data.get() + static_cast<size_t>(s.part) * r.run * element;
  uint8_t *to = out.data.get();
  for (size_t o = 0; o < r.outer; ++o)
    std::memcpy(to + o * r.run * element, from + o * r.stride * element,
                r.run * element);
}

strata_status_code Weights::copySlices(strata_status *status) {
  for (size_t i = 0; i < sliceOf.size() && i < tensors.size(); ++i) {
    const Slice &s = sliceOf[i];
    if (s.dim < 0)
      continue;
    const HostTensor &whole = tensors[i];
    HostTensor &out = sliced[i];
    if (!out.data) {
      out.dtype = whole.dtype;
      out.shape = whole.shape;
      out.shape[s.dim] /= s.count;
      out.elements = whole.elements / static_cast<size_t>(s.count);
      if (!out.allocate())
        return fail(status, STRATA_OUT_OF_MEMORY,
                    "out of memory for parameter %zu's tensor-parallel "
                    "slice (%zu bytes)",
                    i, out.bytes());
    }
    copySlice(whole, s, out);
  }
  return STRATA_OK;
}

void *Weights::kernelPointer(size_t i, Device &device, bool slice) {
  if (slice && i < sliced.size() && sliced[i].data)
    return sliced[i].data.get();
  return device.hostMemory() ? tensors[i].data.get() : deviceCopies[i];
}

void Weights::releaseDeviceCopies(Device &device) {
  for (void *p : deviceCopies)
    if (p)
      device.release(p);
  deviceCopies.clear();
  deviceStale = true;
}

namespace {
uint64_t fnv1a64(const char *s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (; *s; ++s)
    h = (h ^ static_cast<uint8_t>(*s)) * 0x100000001B3ull;
  return h;
}

/// Fills parameter `p` from its initializer. Box-Muller on a splitmix64
/// stream keyed by the seed and the name, so a parameter's values do not
/// depend on the others (and a Python reference can reproduce them:
/// test/e2e/model_reference.py). Values are drawn in f32 and stored in the
/// parameter's dtype.
void initParameter(const strata::fb::Parameter *p, uint64_t seed,
                   HostTensor &t) {
  constexpr size_t kChunk = 4096;
  float values[kChunk];
  uint64_t state = splitmix64(seed ^ fnv1a64(p->name()->c_str()));
  double stddev = p->init_std();
  for (size_t begin = 0; begin < t.elements; begin += kChunk) {
    size_t n = std::min(kChunk, t.elements - begin);
    for (size_t k = 0; k < n; ++k) {
      switch (p->init()) {
      case strata::fb::InitKind::Zeros:
        values[k] = 0.0f;
        continue;
      case strata::fb::InitKind::Ones:
        values[k] = 1.0f;
        continue;
      case strata::fb::InitKind::Normal:
        break;
      }
      state = splitmix64(state);
      double u1 = (static_cast<double>(state >> 11) + 1.0) * 0x1.0p-53;
      state = splitmix64(state);
      double u2 = static_cast<double>(state >> 11) * 0x1.0p-53;
      double normal = std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2);
      values[k] = static_cast<float>(normal * stddev);
    }
    convertElements(STRATA_F32, values, t.dtype,
                    t.data.get() + begin * dtypeSize(t.dtype), n);
  }
}
} // namespace

} // namespace strata::runtime

using namespace strata::runtime;

namespace strata::runtime {
/// Every parameter from its initializer (strata_session_init_parameters).
strata_status_code initParameters(strata_session &session, uint64_t seed,
                                  strata_status *status);
} // namespace strata::runtime

extern "C" {

strata_status_code strata_session_init_parameters(strata_session *session,
                                                  uint64_t seed,
                                                  strata_status *status) {
  if (!session)
    return fail(status, STRATA_INVALID_ARGUMENT, "null session");
  return guardApi(__func__, status,
                  [&] { return initParameters(*session, seed, status); });
}

} // extern "C"

namespace strata::runtime {
strata_status_code initParameters(strata_session &s, uint64_t seed,
                                  strata_status *status) {
  strata_session *session = &s;
  const auto *params = session->exe->root->parameters();
  Weights &weights = session->weights;
  weights.changed();
  // Each parameter's stream is sequential but independent of the others:
  // parameters are spread over the cores, largest first, with identical
  // results whatever the thread count.
  std::vector<flatbuffers::uoffset_t> order(params->size());
  for (flatbuffers::uoffset_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) {
    return weights[a].elements > weights[b].elements;
  });
  // An int8 weight is drawn in f32 and quantized, which fills its scales
  // too: they are no work item of their own. Row sums are computed from
  // the weights before the next call (Weights::sync).
  std::vector<int> scales = weightScales(session->exe->root);
  std::vector<bool> isScale = isWeightScale(scales);
  std::vector<int> rowSums = rowSumsSources(session->exe->root);
  order.erase(
      std::remove_if(order.begin(), order.end(),
                     [&](auto i) { return isScale[i] || rowSums[i] >= 0; }),
      order.end());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (size_t k; (k = next.fetch_add(1)) < order.size();) {
      const strata::fb::Parameter *p = params->Get(order[k]);
      int scale = scales[order[k]];
      if (scale < 0) {
        initParameter(p, seed, weights[order[k]]);
        continue;
      }
      HostTensor values;
      values.shape = weights[order[k]].shape;
      values.elements = weights[order[k]].elements;
      if (!values.allocate()) {
        failed = true;
        continue;
      }
      initParameter(p, seed, values);
      // Drawn values are finite: quantizing them cannot fail.
      (void)quantizeInto(values, weights[order[k]], weights[scale],
                         p->name()->str(), nullptr);
    }
  };
  onEveryCore(work);
  if (failed)
    return fail(status, STRATA_OUT_OF_MEMORY,
                "strata_session_init_parameters: out of memory for an int8 "
                "weight's f32 values");
  // Drawn weights have no calibrated activations (scale 1, zero point 0).
  std::vector<ActivationRole> roles = activationParams(session->exe->root);
  session->uncalibrated =
      std::any_of(roles.begin(), roles.end(), [](auto r) { return r; });
  return ok(status);
}
} // namespace strata::runtime

extern "C" {

strata_status_code strata_session_load_parameters(strata_session *session,
                                                  const char *path,
                                                  strata_status *status) {
  if (!session || !path)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_load_parameters: null argument");
  return guardApi(__func__, status, [&] {
    // New buffers, so a failure leaves the session's weights as they were.
    std::vector<HostTensor> loaded;
    bool uncalibrated = false;
    if (strata_status_code code =
            readCheckpoint(path, session->exe->root, session->weights, loaded,
                           status, &uncalibrated))
      return code;
    session->weights.replace(std::move(loaded));
    session->uncalibrated = uncalibrated;
    return ok(status);
  });
}

void strata_save_options_initialize(strata_save_options *options) {
  if (!options)
    return;
  options->dtype = -1;
  options->max_shard_bytes = 0;
}

strata_status_code strata_session_save_parameters_with(
    strata_session *session, const char *path,
    const strata_save_options *options, strata_status *status) {
  if (!session || !path)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_save_parameters: null argument");
  strata_save_options defaults;
  strata_save_options_initialize(&defaults);
  return guardApi(__func__, status, [&] {
    return writeCheckpoint(path, session->exe->root, session->weights,
                           options ? *options : defaults, status);
  });
}

strata_status_code strata_session_save_parameters(strata_session *session,
                                                  const char *path,
                                                  strata_status *status) {
  return strata_session_save_parameters_with(session, path, nullptr, status);
}

} // extern "C"

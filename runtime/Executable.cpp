//===- Executable.cpp - loading and verifying executables ------*- C++ -*-===//
//
// An executable is untrusted input: after the flatbuffers verifier has
// checked every offset against the buffer, checkExecutable() checks what it
// cannot — versions, enum ranges, names, shapes (non-negative, no overflow),
// every index into another table, kernel bytes — so that the rest of the
// runtime can use the contents without further checks.
//
//===----------------------------------------------------------------------===//

#include "runtime/Internal.h"
#include "runtime/abi.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <vector>

using strata::runtime::checkedElements;
using strata::runtime::fail;
using strata::runtime::ok;

strata_status_code strata::runtime::fail(strata_status *status,
                                         strata_status_code code,
                                         const char *fmt, ...) {
  if (status) {
    status->code = code;
    va_list args;
    va_start(args, fmt);
    vsnprintf(status->message, sizeof(status->message), fmt, args);
    va_end(args);
  }
  return code;
}

strata_status_code strata::runtime::ok(strata_status *status) {
  if (status) {
    status->code = STRATA_OK;
    status->message[0] = '\0';
  }
  return STRATA_OK;
}

/// Elements of `shape` (dynamic dims, -1, allowed when `allowDynamic`), or
/// -1 when the shape is invalid or its size overflows.
int64_t
strata::runtime::checkedElements(const flatbuffers::Vector<int64_t> *shape,
                                 bool allowDynamic) {
  int64_t n = 1;
  for (int64_t d : *shape) {
    if (d == -1 && allowDynamic)
      continue;
    if (d < 0)
      return -1;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      return -1;
    n *= d;
  }
  return n;
}

namespace {

constexpr uint32_t kFormatVersion = STRATA_EXECUTABLE_FORMAT_VERSION;

const char *targetName(strata::fb::Target target) {
  return target == strata::fb::Target::Cuda ? "cuda" : "cpu";
}

/// Strata's checks on a verified buffer. `where` names the input in errors.
/// The plan's degrees agree with each other and with the mesh; enums and
/// counts are in range.
strata_status_code checkPlan(const strata::fb::Executable *exe,
                             const char *where, strata_status *status) {
  using namespace strata::fb;
  auto corrupt = [&](const char *what) {
    return fail(status, STRATA_CORRUPT_EXECUTABLE, "%s: %s", where, what);
  };
  constexpr int64_t kMaxDegree = int64_t(1) << 20;
  if (const ParallelPlan *p = exe->parallel()) {
    for (int64_t d : {p->tp(), p->pp(), p->dp(), p->ep(), p->micro_batches()})
      if (d < 1 || d > kMaxDegree)
        return corrupt("parallel plan has a degree outside [1, 2^20]");
    if (p->dp() % p->ep())
      return corrupt("parallel plan's ep does not divide dp");
    if (p->zero_stage() != 0 && p->zero_stage() != 1)
      return corrupt("parallel plan has a ZeRO stage other than 0 or 1");
    const Mesh *mesh = p->mesh();
    if (mesh->axes()->size() != mesh->shape()->size() ||
        mesh->shape()->size() > STRATA_MAX_MESH_RANK)
      return corrupt("mesh axes and shape disagree");
    int64_t ranks = 1;
    for (int64_t d : *mesh->shape()) {
      if (d < 1 || d > kMaxDegree)
        return corrupt("mesh has an axis outside [1, 2^20]");
      ranks *= d; // at most 8 axes of 2^20 each would overflow: bounded below
      if (ranks > kMaxDegree * kMaxDegree)
        return corrupt("mesh has too many ranks");
    }
    if (ranks != p->tp() * p->pp() * p->dp())
      return corrupt("mesh size is not tp * pp * dp");
  }
  if (const TrainingPlan *t = exe->training()) {
    if (t->optimizer() < Optimizer::MIN || t->optimizer() > Optimizer::MAX ||
        t->schedule() < LrSchedule::MIN || t->schedule() > LrSchedule::MAX ||
        t->precision() < Precision::MIN || t->precision() > Precision::MAX)
      return corrupt("training plan has an unknown optimizer, schedule or "
                     "precision");
    if (!(t->lr() > 0) || !(t->eps() > 0) || t->warmup_steps() < 0 ||
        t->total_steps() < 0 || t->accumulation_steps() < 1 ||
        t->checkpoint_interval() < 0 || t->checkpoint_keep_last() < 0)
      return corrupt("training plan has an out-of-range setting");
  }
  if (const InferencePlan *i = exe->inference())
    if (i->max_batch_size() < 1 || i->max_tokens() < 1)
      return corrupt("inference plan has a limit below 1");
  return ok(status);
}

strata_status_code checkExecutable(const strata::fb::Executable *exe,
                                   const char *where, strata_status *status) {
  using namespace strata::fb;
  auto corrupt = [&](const char *what) {
    return fail(status, STRATA_CORRUPT_EXECUTABLE, "%s: %s", where, what);
  };
  if (exe->version() != kFormatVersion)
    return fail(status, STRATA_UNSUPPORTED,
                "%s: executable format version %u, this runtime reads %u "
                "(recompile with a matching strata-compile)",
                where, exe->version(), kFormatVersion);
  if (exe->target() < Target::MIN || exe->target() > Target::MAX)
    return corrupt("unknown target");
  if (exe->kernels()->size() == 0)
    return corrupt("no kernel library");
  for (const KernelLibrary *lib : *exe->kernels()) {
    if (lib->format() < LibraryFormat::MIN ||
        lib->format() > LibraryFormat::MAX)
      return corrupt("kernel library of unknown format");
    const auto *data = lib->data();
    if (data->size() == 0)
      return corrupt("empty kernel library");
    if (lib->format() == LibraryFormat::ElfSharedObject &&
        (data->size() < 64 || std::memcmp(data->data(),
                                          "\x7f"
                                          "ELF",
                                          4) != 0))
      return corrupt("kernel library is not an ELF shared object");
    if (lib->format() == LibraryFormat::Ptx &&
        std::memchr(data->data(), '\0', data->size()))
      return corrupt("PTX kernel library holds a NUL byte");
  }
  if (exe->kernels()->Get(0)->format() != LibraryFormat::ElfSharedObject)
    return corrupt("kernel library 0 is not the host code (ELF)");
  if (exe->target() == Target::Cuda) {
    if (exe->kernels()->size() < 2 ||
        exe->kernels()->Get(1)->format() != LibraryFormat::Ptx)
      return corrupt("CUDA executable without PTX as kernel library 1");
    if (!exe->gpu_kernels() || exe->gpu_kernels()->size() == 0)
      return corrupt("CUDA executable without a kernel table");
    for (const GpuKernel *k : *exe->gpu_kernels())
      if (k->name()->size() == 0 || k->block()->size() != 3)
        return corrupt("malformed entry in the CUDA kernel table");
  }
  std::set<std::string> names;
  for (const Parameter *p : *exe->parameters()) {
    if (p->name()->size() == 0)
      return corrupt("a parameter has an empty name");
    if (!names.insert(p->name()->str()).second)
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "%s: parameter '%s' appears twice", where,
                  p->name()->c_str());
    if (p->dtype() < DType::MIN || p->dtype() > DType::MAX ||
        p->init() < InitKind::MIN || p->init() > InitKind::MAX)
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "%s: parameter '%s' has an unknown dtype or initializer",
                  where, p->name()->c_str());
    if (checkedElements(p->shape(), /*allowDynamic=*/false) < 0)
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "%s: parameter '%s' has an invalid shape", where,
                  p->name()->c_str());
    if (!(p->init_std() >= 0))
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "%s: parameter '%s' has a negative init std", where,
                  p->name()->c_str());
  }
  if (exe->entry_points()->size() == 0)
    return corrupt("no entry point");
  std::set<std::string> entryNames;
  size_t numParams = exe->parameters()->size();
  for (const EntryPoint *ep : *exe->entry_points()) {
    const char *name = ep->name()->c_str();
    if (ep->name()->size() == 0 || !entryNames.insert(name).second)
      return corrupt("an entry point has an empty or repeated name");
    for (const Argument *arg : *ep->arguments()) {
      if (arg->kind() < ArgumentKind::MIN || arg->kind() > ArgumentKind::MAX)
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "%s: entry point '%s' has an argument of unknown kind",
                    where, name);
      if (checkedElements(arg->shape(), /*allowDynamic=*/true) < 0)
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "%s: entry point '%s' has an argument with an invalid "
                    "shape",
                    where, name);
      if ((arg->kind() == ArgumentKind::KeyCache ||
           arg->kind() == ArgumentKind::ValueCache) &&
          (arg->layer() < 0 || arg->shape()->size() != 3 ||
           arg->shape()->Get(2) < 1))
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "%s: entry point '%s' has a KV-cache argument without a "
                    "layer or a [batch, length, width] shape",
                    where, name);
      if (arg->kind() == ArgumentKind::KeyPadding && arg->shape()->size() != 1)
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "%s: entry point '%s' has a key-padding argument that is "
                    "not [batch]",
                    where, name);
      if (arg->kind() == ArgumentKind::Parameter &&
          (arg->parameter() < 0 ||
           static_cast<size_t>(arg->parameter()) >= numParams))
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "%s: entry point '%s' refers to parameter %d of %zu", where,
                    name, arg->parameter(), numParams);
    }
    if (const auto *plan = ep->memory_plan()) {
      bool valid = plan->buffers() >= 0 &&
                   plan->slot_bytes()->size() <=
                       static_cast<flatbuffers::uoffset_t>(plan->buffers());
      for (int64_t bytes : *plan->slot_bytes())
        valid &= bytes >= -1;
      if (!valid)
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "%s: entry point '%s' has an invalid memory plan", where,
                    name);
    }
    for (const Result *res : *ep->results())
      if (checkedElements(res->shape(), /*allowDynamic=*/true) < 0)
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "%s: entry point '%s' has a result with an invalid shape",
                    where, name);
    if (ep->commands()->size() == 0)
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "%s: entry point '%s' has no commands", where, name);
    for (const Command *cmd : *ep->commands()) {
      if (cmd->kind() != CommandKind::Launch)
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "%s: entry point '%s' has a command of unknown kind", where,
                    name);
      if (cmd->kernel() >= exe->kernels()->size() || cmd->symbol()->size() == 0)
        return fail(status, STRATA_CORRUPT_EXECUTABLE,
                    "%s: entry point '%s' launches kernel %u of %u or an "
                    "empty symbol",
                    where, name, cmd->kernel(), exe->kernels()->size());
    }
  }
  const Metadata *meta = exe->metadata();
  // Kernel modules (compiled from .mlir) take no tokens and have no
  // vocabulary; models must have both sizes.
  bool takesTokens = false;
  for (const EntryPoint *ep : *exe->entry_points())
    for (const Argument *arg : *ep->arguments())
      takesTokens |= arg->kind() == ArgumentKind::Tokens;
  bool kernelModule =
      !takesTokens && meta->vocab_size() == 0 && meta->max_seq_len() == 0;
  if (!kernelModule && (meta->vocab_size() < 1 || meta->max_seq_len() < 1))
    return corrupt("metadata has no vocabulary size or maximum sequence "
                   "length");
  for (int64_t id :
       {meta->bos_token_id(), meta->eos_token_id(), meta->pad_token_id()})
    if (id < -1 || id >= meta->vocab_size())
      return corrupt("metadata has a special token outside the vocabulary");
  return checkPlan(exe, where, status);
}

} // namespace

namespace {
/// Entry point `index`, or null after reporting it is out of range.
const strata::fb::EntryPoint *entryAt(const strata_executable *exe,
                                      size_t index, strata_status *status) {
  const auto *eps = exe->root->entry_points();
  if (index >= eps->size()) {
    fail(status, STRATA_NOT_FOUND, "entry point %zu of %u", index, eps->size());
    return nullptr;
  }
  return eps->Get(static_cast<flatbuffers::uoffset_t>(index));
}
} // namespace

extern "C" {

uint32_t strata_runtime_format_version(void) { return kFormatVersion; }

strata_status_code strata_executable_load_memory(const void *data, size_t size,
                                                 strata_executable **out,
                                                 strata_status *status) {
  if (!out || (!data && size))
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_executable_load_memory: null argument");
  *out = nullptr;
  if (size > STRATA_MAX_EXECUTABLE_BYTES)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "executable of %zu bytes exceeds the %llu-byte limit", size,
                (unsigned long long)STRATA_MAX_EXECUTABLE_BYTES);
  try {
    auto exe = std::make_unique<strata_executable>();
    exe->bytes.assign(static_cast<const uint8_t *>(data),
                      static_cast<const uint8_t *>(data) + size);
    if (size < 8 || !flatbuffers::BufferHasIdentifier(
                        exe->bytes.data(), strata::fb::ExecutableIdentifier()))
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "<memory>: not a Strata executable (no STRX identifier)");
    flatbuffers::Verifier verifier(exe->bytes.data(), exe->bytes.size(),
                                   /*max_depth=*/32,
                                   /*max_tables=*/1u << 22);
    if (!strata::fb::VerifyExecutableBuffer(verifier))
      return fail(status, STRATA_CORRUPT_EXECUTABLE,
                  "<memory>: the executable is truncated or corrupted (its "
                  "structure fails verification)");
    exe->root = strata::fb::GetExecutable(exe->bytes.data());
    if (strata_status_code code =
            checkExecutable(exe->root, "<memory>", status))
      return code;
    *out = exe.release();
    return ok(status);
  } catch (const std::bad_alloc &) {
    return fail(status, STRATA_OUT_OF_MEMORY,
                "out of memory loading an executable of %zu bytes", size);
  }
}

strata_status_code strata_executable_load_file(const char *path,
                                               strata_executable **out,
                                               strata_status *status) {
  if (!path || !out)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_executable_load_file: null argument");
  *out = nullptr;
  try {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file)
      return fail(status, STRATA_IO_ERROR, "%s: cannot open: %s", path,
                  std::strerror(errno));
    std::streamoff size = file.tellg();
    if (size < 0 || static_cast<uint64_t>(size) > STRATA_MAX_EXECUTABLE_BYTES)
      return fail(status, STRATA_IO_ERROR,
                  "%s: not a regular file or larger than the executable limit",
                  path);
    std::vector<char> bytes(static_cast<size_t>(size));
    file.seekg(0);
    if (size && !file.read(bytes.data(), size))
      return fail(status, STRATA_IO_ERROR, "%s: read failed", path);
    strata_status_code code =
        strata_executable_load_memory(bytes.data(), bytes.size(), out, status);
    // Name the file rather than <memory> in the message.
    if (code != STRATA_OK && status) {
      std::string msg = status->message;
      if (msg.rfind("<memory>", 0) == 0)
        msg = std::string(path) + msg.substr(8);
      snprintf(status->message, sizeof(status->message), "%s", msg.c_str());
    }
    return code;
  } catch (const std::bad_alloc &) {
    return fail(status, STRATA_OUT_OF_MEMORY, "%s: out of memory", path);
  }
}

void strata_executable_release(strata_executable *executable) {
  delete executable;
}

strata_status_code strata_executable_get_info(const strata_executable *exe,
                                              strata_executable_info *out,
                                              strata_status *status) {
  if (!exe || !out)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_executable_get_info: null argument");
  const auto *root = exe->root;
  const auto *meta = root->metadata();
  *out = strata_executable_info{};
  out->format_version = root->version();
  out->target = targetName(root->target());
  out->model_name = meta->model_name() ? meta->model_name()->c_str() : "";
  out->cpu = meta->cpu() ? meta->cpu()->c_str() : "";
  out->vocab_size = meta->vocab_size();
  out->hidden_size = meta->hidden_size();
  out->num_layers = meta->num_layers();
  out->max_seq_len = meta->max_seq_len();
  out->bos_token_id = meta->bos_token_id();
  out->eos_token_id = meta->eos_token_id();
  out->pad_token_id = meta->pad_token_id();
  out->num_parameters = root->parameters()->size();
  for (const auto *p : *root->parameters())
    out->total_parameter_elements += checkedElements(p->shape(), false);
  out->num_entry_points = root->entry_points()->size();
  out->num_kernel_libraries = root->kernels()->size();
  return ok(status);
}

strata_status_code strata_executable_get_plan(const strata_executable *exe,
                                              strata_plan_info *out,
                                              strata_status *status) {
  if (!exe || !out)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_executable_get_plan: null argument");
  using namespace strata::fb;
  const auto *root = exe->root;
  *out = strata_plan_info{};
  out->tp = out->pp = out->dp = out->ep = out->micro_batches = 1;
  if (const ParallelPlan *p = root->parallel()) {
    out->has_parallel = 1;
    out->tp = p->tp();
    out->pp = p->pp();
    out->dp = p->dp();
    out->ep = p->ep();
    out->zero_stage = p->zero_stage();
    out->micro_batches = p->micro_batches();
    out->mesh_rank = p->mesh()->shape()->size();
    for (size_t i = 0; i < out->mesh_rank; ++i) {
      out->mesh_shape[i] = p->mesh()->shape()->Get(i);
      out->mesh_axes[i] = p->mesh()->axes()->Get(i)->c_str();
    }
  }
  if (const TrainingPlan *t = root->training()) {
    out->has_training = 1;
    out->optimizer = EnumNameOptimizer(t->optimizer());
    out->lr = t->lr();
    out->weight_decay = t->weight_decay();
    out->beta1 = t->beta1();
    out->beta2 = t->beta2();
    out->eps = t->eps();
    out->schedule = EnumNameLrSchedule(t->schedule());
    out->warmup_steps = t->warmup_steps();
    out->total_steps = t->total_steps();
    out->min_lr_ratio = t->min_lr_ratio();
    out->gradient_clipping = t->gradient_clipping();
    out->accumulation_steps = t->accumulation_steps();
    out->precision = EnumNamePrecision(t->precision());
    out->dynamic_loss_scaling = t->dynamic_loss_scaling();
    out->checkpoint_interval = t->checkpoint_interval();
    out->checkpoint_keep_last = t->checkpoint_keep_last();
    out->batch_size = t->batch_size();
    out->seq_len = t->seq_len();
    out->seed = t->seed();
    out->ignore_index = t->ignore_index();
  }
  out->max_batch_size = 32;
  out->max_tokens = 4096;
  if (const InferencePlan *i = root->inference()) {
    out->has_inference = 1;
    out->max_batch_size = i->max_batch_size();
    out->max_tokens = i->max_tokens();
  }
  return ok(status);
}

strata_status_code strata_executable_get_parameter(const strata_executable *exe,
                                                   size_t index,
                                                   strata_parameter_info *out,
                                                   strata_status *status) {
  if (!exe || !out)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_executable_get_parameter: null argument");
  const auto *params = exe->root->parameters();
  if (index >= params->size())
    return fail(status, STRATA_NOT_FOUND, "parameter %zu of %u", index,
                params->size());
  const auto *p = params->Get(static_cast<flatbuffers::uoffset_t>(index));
  out->name = p->name()->c_str();
  out->shape = p->shape()->data();
  out->rank = p->shape()->size();
  out->dtype = static_cast<strata_dtype>(p->dtype());
  out->num_elements = checkedElements(p->shape(), false);
  return ok(status);
}

strata_status_code
strata_executable_get_entry_point(const strata_executable *exe, size_t index,
                                  const char **name, size_t *num_arguments,
                                  size_t *num_results, strata_status *status) {
  if (!exe || !name || !num_arguments || !num_results)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_executable_get_entry_point: null argument");
  const strata::fb::EntryPoint *ep = entryAt(exe, index, status);
  if (!ep)
    return status ? status->code : STRATA_NOT_FOUND;
  *name = ep->name()->c_str();
  *num_arguments = ep->arguments()->size();
  *num_results = ep->results()->size();
  return ok(status);
}

strata_status_code strata_executable_get_memory_plan(
    const strata_executable *exe, size_t entry, int64_t *buffers,
    int64_t *slots, int64_t *static_bytes, int64_t *dynamic_slots,
    strata_status *status) {
  if (!exe || !buffers || !slots || !static_bytes || !dynamic_slots)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_executable_get_memory_plan: null argument");
  const strata::fb::EntryPoint *ep = entryAt(exe, entry, status);
  if (!ep)
    return status ? status->code : STRATA_NOT_FOUND;
  *buffers = *slots = *static_bytes = *dynamic_slots = 0;
  if (const auto *plan = ep->memory_plan()) {
    *buffers = plan->buffers();
    *slots = plan->slot_bytes()->size();
    for (int64_t bytes : *plan->slot_bytes())
      bytes < 0 ? ++*dynamic_slots : *static_bytes += bytes;
  }
  return ok(status);
}

strata_status_code
strata_executable_get_result_shape(const strata_executable *exe, size_t entry,
                                   size_t result, const int64_t **shape,
                                   size_t *rank, strata_status *status) {
  if (!exe || !shape || !rank)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_executable_get_result_shape: null argument");
  const strata::fb::EntryPoint *ep = entryAt(exe, entry, status);
  if (!ep)
    return status ? status->code : STRATA_NOT_FOUND;
  const auto *results = ep->results();
  if (result >= results->size())
    return fail(status, STRATA_NOT_FOUND, "result %zu of %u", result,
                results->size());
  const auto *dims =
      results->Get(static_cast<flatbuffers::uoffset_t>(result))->shape();
  *shape = dims->data();
  *rank = dims->size();
  return ok(status);
}

} // extern "C"

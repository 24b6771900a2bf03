//===- Executable.cpp - loading and verifying executables ------*- C++ -*-===//
//
// An executable is untrusted input. Its checksums (runtime/Checksum.h) are
// checked first, so that a corrupted file is refused before any of it is
// read; then the flatbuffers verifier checks every offset against the
// buffer, and checkExecutable() checks what it cannot — versions, enum
// ranges, names, shapes (dims >= 1, no overflow), every index into another
// table, kernel bytes — and cross-checks the facts the metadata states
// against the entry points' signatures (logits against the vocabulary,
// parameter arguments against the parameter table, KV caches against
// decode's results, symbols against names, the target against the code),
// so that the rest of the runtime can use the contents without further
// checks. The checksums are for corruption: an executable is code, and
// one that is both well-formed and malicious is not detected.
//
//===----------------------------------------------------------------------===//

#include "runtime/Checksum.h"
#include "runtime/Internal.h"
#include "runtime/abi.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <vector>

using strata::runtime::checkedElements;
using strata::runtime::fail;
using strata::runtime::guardApi;
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

using namespace strata::fb;
using flatbuffers::uoffset_t;

constexpr uint32_t kFormatVersion = STRATA_EXECUTABLE_FORMAT_VERSION;
constexpr const char *kRecompile = "recompile it with strata-compile";

/// The largest parameter table: 2^46 elements (256 TiB as f32), beyond
/// any machine, so that byte counts derived from it cannot overflow.
constexpr int64_t kMaxParameterElements = int64_t(1) << 46;

/// Vocabulary and sequence limits: token ids and positions are int32.
constexpr int64_t kMaxTokenRange = std::numeric_limits<int32_t>::max();

const char *targetName(Target target) {
  return target == Target::Cuda ? "cuda" : "cpu";
}

/// What a kernel library holds, for messages.
const char *libraryRole(LibraryFormat format) {
  switch (format) {
  case LibraryFormat::ElfSharedObject:
    return "host code";
  case LibraryFormat::Ptx:
    return "PTX";
  case LibraryFormat::Cubin:
    return "cubin";
  }
  return "unknown format";
}

/// "[-1, -1, 32]".
std::string shapeText(const flatbuffers::Vector<int64_t> *shape) {
  std::string text = "[";
  for (uoffset_t i = 0; i < shape->size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape->Get(i));
  return text + "]";
}

/// Whether `shape` is exactly `want`.
bool shapeIs(const flatbuffers::Vector<int64_t> *shape,
             std::initializer_list<int64_t> want) {
  return shape->size() == want.size() &&
         std::equal(want.begin(), want.end(), shape->begin());
}

bool sameShape(const flatbuffers::Vector<int64_t> *a,
               const flatbuffers::Vector<int64_t> *b) {
  return a->size() == b->size() && std::equal(a->begin(), a->end(), b->begin());
}

/// Dims of at least 1 (or -1, dynamic, when allowed) whose product does
/// not overflow: the kernels were compiled for no empty tensors.
bool validShape(const flatbuffers::Vector<int64_t> *shape, bool allowDynamic) {
  for (int64_t d : *shape)
    if (d < 1 && !(allowDynamic && d == -1))
      return false;
  return checkedElements(shape, allowDynamic) >= 0;
}

template <typename Enum> bool inRange(Enum value) {
  return value >= Enum::MIN && value <= Enum::MAX;
}

/// Reports corruptions of the executable named `where`.
struct Checker {
  const char *where;
  strata_status *status;

  /// Fails with "<where>: <message>" as STRATA_CORRUPT_EXECUTABLE.
  strata_status_code corrupt(const char *fmt, ...) const
      __attribute__((format(printf, 2, 3))) {
    char what[448];
    va_list args;
    va_start(args, fmt);
    vsnprintf(what, sizeof(what), fmt, args);
    va_end(args);
    return fail(status, STRATA_CORRUPT_EXECUTABLE, "%s: %s", where, what);
  }
};

//===----------------------------------------------------------------------===//
// Integrity: the trailer and the checksums, before anything else is read
//===----------------------------------------------------------------------===//

/// The section a payload whose checksum failed is corrupt in: a kernel
/// library whose own CRC fails, or else the flatbuffer tables.
std::string corruptSection(const uint8_t *data, size_t size) {
  const char *metadata = "the metadata (flatbuffer tables)";
  flatbuffers::Verifier verifier(data, size, /*max_depth=*/32,
                                 /*max_tables=*/1u << 22);
  if (size < 8 ||
      !flatbuffers::BufferHasIdentifier(data, ExecutableIdentifier()) ||
      !VerifyExecutableBuffer(verifier))
    return metadata;
  const auto *kernels = GetExecutable(data)->kernels();
  for (uoffset_t i = 0; i < kernels->size(); ++i) {
    const KernelLibrary *lib = kernels->Get(i);
    if (strata::checksum::crc32c(lib->data()->data(), lib->data()->size()) !=
        lib->crc32c())
      return "kernel library " + std::to_string(i) + " (" +
             libraryRole(lib->format()) + ")";
  }
  return metadata;
}

/// A file without a checksum trailer: not an executable, a truncated or
/// extended one, or one written before checksums.
strata_status_code diagnoseUntrailed(const uint8_t *data, size_t size,
                                     const char *where, strata_status *status) {
  if (size < 8 ||
      !flatbuffers::BufferHasIdentifier(data, ExecutableIdentifier()))
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "%s: not a Strata executable (no STRX identifier)", where);
  flatbuffers::Verifier verifier(data, size, /*max_depth=*/32,
                                 /*max_tables=*/1u << 22);
  if (!VerifyExecutableBuffer(verifier))
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "%s: the executable is truncated or corrupted (it has no "
                "checksum trailer and its structure fails verification): %s",
                where, kRecompile);
  uint32_t version = GetExecutable(data)->version();
  if (version < kFormatVersion)
    return fail(status, STRATA_UNSUPPORTED,
                "%s: executable format version %u, from before checksums; "
                "this runtime reads version %u: %s",
                where, version, kFormatVersion, kRecompile);
  return fail(status, STRATA_CORRUPT_EXECUTABLE,
              "%s: the checksum trailer is missing (a truncated or extended "
              "file?): %s",
              where, kRecompile);
}

/// Checks the trailer at the end of `data` and the CRC-32C of the payload
/// before it, whose size goes to `payload`.
strata_status_code checkIntegrity(const uint8_t *data, size_t size,
                                  const char *where, size_t &payload,
                                  strata_status *status) {
  namespace cs = strata::checksum;
  if (!cs::hasTrailerMagic(data, size))
    return diagnoseUntrailed(data, size, where, status);
  cs::Trailer trailer;
  if (!cs::decodeTrailer(data, size, trailer))
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "%s: the checksum trailer is corrupt: %s", where, kRecompile);
  if (trailer.formatVersion != kFormatVersion)
    return fail(status, STRATA_UNSUPPORTED,
                "%s: executable format version %u, this runtime reads %u: "
                "recompile it with a matching strata-compile",
                where, trailer.formatVersion, kFormatVersion);
  payload = size - cs::kTrailerBytes;
  if (trailer.payloadBytes != payload)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "%s: %zu bytes precede the checksum trailer, which states "
                "%llu (a truncated or spliced file?): %s",
                where, payload, (unsigned long long)trailer.payloadBytes,
                kRecompile);
  if (cs::crc32c(data, payload) != trailer.payloadCrc)
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "%s: %s is corrupt (checksum mismatch): %s", where,
                corruptSection(data, payload).c_str(), kRecompile);
  return STRATA_OK;
}

/// Each kernel library against its own CRC. The file's checksum already
/// held, so a mismatch means the file was edited and checksummed again.
strata_status_code checkLibraryChecksums(const Executable *exe,
                                         const Checker &c) {
  const auto *kernels = exe->kernels();
  for (uoffset_t i = 0; i < kernels->size(); ++i) {
    const KernelLibrary *lib = kernels->Get(i);
    if (strata::checksum::crc32c(lib->data()->data(), lib->data()->size()) !=
        lib->crc32c())
      return c.corrupt("kernel library %u (%s) is corrupt (checksum "
                       "mismatch): %s",
                       i, libraryRole(lib->format()), kRecompile);
  }
  return STRATA_OK;
}

//===----------------------------------------------------------------------===//
// Structure: what the verifier cannot check
//===----------------------------------------------------------------------===//

/// The plan's degrees agree with each other and with the mesh; enums and
/// counts are in range.
strata_status_code checkPlan(const Executable *exe, const Checker &c) {
  constexpr int64_t kMaxDegree = int64_t(1) << 20;
  if (const ParallelPlan *p = exe->parallel()) {
    for (int64_t d : {p->tp(), p->pp(), p->dp(), p->ep(), p->micro_batches()})
      if (d < 1 || d > kMaxDegree)
        return c.corrupt("parallel plan has a degree outside [1, 2^20]");
    if (p->dp() % p->ep())
      return c.corrupt("parallel plan's ep does not divide dp");
    if (p->zero_stage() != 0 && p->zero_stage() != 1)
      return c.corrupt("parallel plan has a ZeRO stage other than 0 or 1");
    const Mesh *mesh = p->mesh();
    if (mesh->axes()->size() != mesh->shape()->size() ||
        mesh->shape()->size() > STRATA_MAX_MESH_RANK)
      return c.corrupt("mesh axes and shape disagree");
    int64_t ranks = 1;
    for (int64_t d : *mesh->shape()) {
      if (d < 1 || d > kMaxDegree)
        return c.corrupt("mesh has an axis outside [1, 2^20]");
      ranks *= d; // at most 8 axes of 2^20 each would overflow: bounded below
      if (ranks > kMaxDegree * kMaxDegree)
        return c.corrupt("mesh has too many ranks");
    }
    if (ranks != p->tp() * p->pp() * p->dp())
      return c.corrupt("mesh size is not tp * pp * dp");
  }
  if (const TrainingPlan *t = exe->training()) {
    if (!inRange(t->optimizer()) || !inRange(t->schedule()) ||
        !inRange(t->precision()))
      return c.corrupt("training plan has an unknown optimizer, schedule or "
                       "precision");
    if (!(t->lr() > 0) || !(t->eps() > 0) || t->warmup_steps() < 0 ||
        t->total_steps() < 0 || t->accumulation_steps() < 1 ||
        t->checkpoint_interval() < 0 || t->checkpoint_keep_last() < 0 ||
        !(t->loss_scale_init() > 0) || !std::isfinite(t->loss_scale_init()) ||
        t->loss_scale_growth_interval() < 1)
      return c.corrupt("training plan has an out-of-range setting");
  }
  if (const InferencePlan *i = exe->inference())
    if (i->max_batch_size() < 1 || i->max_tokens() < 1)
      return c.corrupt("inference plan has a limit below 1");
  return STRATA_OK;
}

/// Kernel libraries: known formats, ELF host code first, NUL-free PTX.
strata_status_code checkKernelLibraries(const Executable *exe,
                                        const Checker &c) {
  const auto *kernels = exe->kernels();
  if (kernels->size() == 0)
    return c.corrupt("no kernel library");
  for (uoffset_t i = 0; i < kernels->size(); ++i) {
    const KernelLibrary *lib = kernels->Get(i);
    if (!inRange(lib->format()))
      return c.corrupt("kernel library %u has an unknown format", i);
    const auto *data = lib->data();
    if (data->size() == 0)
      return c.corrupt("kernel library %u is empty", i);
    bool elf = lib->format() == LibraryFormat::ElfSharedObject;
    if (elf && (data->size() < 64 || std::memcmp(data->data(),
                                                 "\x7f"
                                                 "ELF",
                                                 4) != 0))
      return c.corrupt("kernel library %u is not an ELF shared object", i);
    if (i == 0 && !elf)
      return c.corrupt("kernel library 0 is not the host code (ELF)");
    // A CPU executable may carry the host code again for other CPUs.
    bool variant = exe->target() == strata::fb::Target::Cpu && lib->cpu() &&
                   lib->cpu()->size();
    if (i != 0 && elf && !variant)
      return c.corrupt("kernel library %u is a second host library (ELF)", i);
    if (lib->format() == LibraryFormat::Ptx &&
        std::memchr(data->data(), '\0', data->size()))
      return c.corrupt("PTX kernel library %u holds a NUL byte", i);
  }
  return STRATA_OK;
}

/// The target agrees with the code the file holds: a CUDA executable has
/// PTX (and at most one cubin) for the metadata's compute capability and
/// a kernel table; a CPU one has none of these.
strata_status_code checkTarget(const Executable *exe, const Checker &c) {
  const auto *kernels = exe->kernels();
  const Metadata *meta = exe->metadata();
  bool hasGpuKernels = exe->gpu_kernels() && exe->gpu_kernels()->size();
  if (exe->target() == Target::Cpu) {
    bool deviceCode = false;
    for (const KernelLibrary *lib : *kernels)
      deviceCode |= lib->format() != LibraryFormat::ElfSharedObject;
    if (deviceCode || hasGpuKernels || meta->cuda_sm() != 0)
      return c.corrupt("the target is cpu but the executable holds CUDA "
                       "device code, a kernel table or a compute capability");
    // Variants for other CPUs: each named once.
    for (uoffset_t i = 1; i < kernels->size(); ++i)
      for (uoffset_t j = 0; j < i; ++j)
        if (kernels->Get(j)->cpu() &&
            kernels->Get(j)->cpu()->str() == kernels->Get(i)->cpu()->str())
          return c.corrupt("kernel libraries %u and %u are both for %s", j, i,
                           kernels->Get(i)->cpu()->c_str());
    return STRATA_OK;
  }
  if (kernels->size() < 2 || kernels->Get(1)->format() != LibraryFormat::Ptx)
    return c.corrupt("CUDA executable without PTX as kernel library 1");
  if (kernels->size() > 3 ||
      (kernels->size() == 3 &&
       kernels->Get(2)->format() != LibraryFormat::Cubin))
    return c.corrupt("CUDA executable with kernel libraries beyond host "
                     "code, PTX and one cubin");
  if (meta->cuda_sm() < 1)
    return c.corrupt("CUDA executable without a compute capability");
  for (uoffset_t i = 1; i < kernels->size(); ++i)
    if (kernels->Get(i)->sm() != meta->cuda_sm())
      return c.corrupt("kernel library %u is for sm_%d but the metadata says "
                       "sm_%d",
                       i, kernels->Get(i)->sm(), meta->cuda_sm());
  if (!hasGpuKernels)
    return c.corrupt("CUDA executable without a kernel table");
  for (const GpuKernel *k : *exe->gpu_kernels())
    if (k->name()->size() == 0 || k->block()->size() != 3 ||
        !validShape(k->block(), /*allowDynamic=*/true))
      return c.corrupt("malformed entry in the CUDA kernel table");
  return STRATA_OK;
}

/// The quantization table: each entry an I8 parameter, once, with F32
/// per-channel scales shaped as its dims 0..axis (axis = rank - 2: one per
/// output channel), symmetric, of a known scheme; no I8 parameter left
/// without one.
strata_status_code checkQuantization(const Executable *exe,
                                     const Checker &c) {
  const auto *params = exe->parameters();
  std::vector<bool> quantized(params->size()), scales(params->size()),
      rowSums(params->size());
  if (const auto *table = exe->quantization())
    for (const QuantizedTensor *q : *table) {
      auto valid = [&](int i) {
        return i >= 0 && static_cast<uint32_t>(i) < params->size();
      };
      if (!valid(q->parameter()) || !valid(q->scale()))
        return c.corrupt("a quantized tensor names parameter %d with scales "
                         "%d, not among the %u parameters",
                         q->parameter(), q->scale(), params->size());
      const Parameter *p = params->Get(q->parameter());
      const Parameter *s = params->Get(q->scale());
      const char *name = p->name()->c_str();
      std::string scheme = q->scheme()->str();
      if (p->dtype() != DType::I8 || quantized[q->parameter()])
        return c.corrupt("quantized tensor '%s' is not int8 or is listed "
                         "twice",
                         name);
      if (scheme != "w8a16" && scheme != "w8a8-dynamic" && scheme != "w8a8")
        return c.corrupt("quantized tensor '%s' has scheme '%s'; this "
                         "runtime runs w8a16, w8a8-dynamic and w8a8",
                         name, scheme.c_str());
      // Static w8a8's activation parameters: f32, [1] for a linear's
      // weight, [E] for the experts'.
      for (int a : {q->input_scale(), q->input_zero_point()}) {
        if (a == -1)
          continue;
        int64_t n = p->shape()->size() == 3 ? p->shape()->Get(0) : 1;
        if (scheme != "w8a8" || !valid(a) ||
            params->Get(a)->dtype() != DType::F32 ||
            !shapeIs(params->Get(a)->shape(), {n}) || quantized[a] ||
            scales[a])
          return c.corrupt("quantized tensor '%s' names activation "
                           "parameter %d, which is not an f32 [%lld] "
                           "parameter of a w8a8 executable",
                           name, a, (long long)n);
      }
      if ((q->input_scale() == -1) != (q->input_zero_point() == -1))
        return c.corrupt("quantized tensor '%s' has an activation scale "
                         "without a zero point, or the reverse",
                         name);
      bool rowsMatch = q->axis() >= 0 &&
                       static_cast<uint32_t>(q->axis()) + 2 ==
                           p->shape()->size() &&
                       s->shape()->size() + 1 == p->shape()->size();
      for (uint32_t d = 0; rowsMatch && d < s->shape()->size(); ++d)
        rowsMatch = s->shape()->Get(d) == p->shape()->Get(d);
      if (s->dtype() != DType::F32 || !rowsMatch || q->zero_point() != -1 ||
          scales[q->parameter()] || quantized[q->scale()])
        return c.corrupt("quantized tensor '%s' names scales '%s', which are "
                         "not f32 with one value per row of it",
                         name, s->name()->c_str());
      // Static w8a8's row sums: i32, shaped as the scales, computed here.
      if (int r = q->row_sums(); r != -1) {
        bool sameRows = valid(r) && params->Get(r)->dtype() == DType::I32 &&
                        sameShape(params->Get(r)->shape(), s->shape());
        if (scheme != "w8a8" || !sameRows || rowSums[r] || quantized[r] ||
            scales[r])
          return c.corrupt("quantized tensor '%s' names row sums '%s', which "
                           "are not an i32 parameter of its rows in a w8a8 "
                           "executable",
                           name,
                           valid(r) ? params->Get(r)->name()->c_str() : "?");
        rowSums[r] = true;
      }
      quantized[q->parameter()] = true;
      scales[q->scale()] = true;
    }
  for (uint32_t i = 0; i < params->size(); ++i) {
    if (params->Get(i)->dtype() == DType::I8 && !quantized[i])
      return c.corrupt("int8 parameter '%s' has no scales in the "
                       "quantization table",
                       params->Get(i)->name()->c_str());
    if (params->Get(i)->dtype() == DType::I32 && !rowSums[i])
      return c.corrupt("i32 parameter '%s' is no int8 weight's row sums",
                       params->Get(i)->name()->c_str());
  }
  return STRATA_OK;
}

/// Unique names, known enums, shapes of dims >= 1, sizes without
/// overflow: at most kMaxParameterElements in all.
strata_status_code checkParameters(const Executable *exe, const Checker &c) {
  std::set<std::string> names;
  int64_t total = 0;
  for (const Parameter *p : *exe->parameters()) {
    const char *name = p->name()->c_str();
    if (p->name()->size() == 0)
      return c.corrupt("a parameter has an empty name");
    if (!names.insert(p->name()->str()).second)
      return c.corrupt("parameter '%s' appears twice", name);
    if (!inRange(p->dtype()) || !inRange(p->init()))
      return c.corrupt("parameter '%s' has an unknown dtype or initializer",
                       name);
    int64_t elements = checkedElements(p->shape(), /*allowDynamic=*/false);
    if (!validShape(p->shape(), /*allowDynamic=*/false) ||
        elements > kMaxParameterElements - total)
      return c.corrupt("parameter '%s' has an invalid shape %s (dims must be "
                       "at least 1, all parameters at most 2^46 elements)",
                       name, shapeText(p->shape()).c_str());
    total += elements;
    if (!(p->init_std() >= 0))
      return c.corrupt("parameter '%s' has a negative init std", name);
  }
  return checkQuantization(exe, c);
}

/// Exactly one launch, in the host code, of `strata_entry_<name>`: the
/// runtime looks the entry up by that symbol.
/// `program`: the symbol's prefix after strata_entry_ ("stage0." for
/// stage 0's tensor-parallel program, empty for the executable's own).
strata_status_code checkCommands(const EntryPoint *ep, const Checker &c,
                                 const std::string &program) {
  const char *name = ep->name()->c_str();
  if (ep->commands()->size() != 1)
    return c.corrupt("entry point '%s' has %u commands; it must have one", name,
                     ep->commands()->size());
  const Command *cmd = ep->commands()->Get(0);
  if (cmd->kind() != CommandKind::Launch)
    return c.corrupt("entry point '%s' has a command of unknown kind", name);
  if (cmd->kernel() != 0)
    return c.corrupt("entry point '%s' launches kernel library %u; entry "
                     "points are in the host code (kernel library 0)",
                     name, cmd->kernel());
  std::string symbol = STRATA_ENTRY_PREFIX + program + ep->name()->str();
  if (cmd->symbol()->str() != symbol)
    return c.corrupt("entry point '%s' calls symbol '%s'; its symbol must "
                     "be '%s'",
                     name, cmd->symbol()->c_str(), symbol.c_str());
  return STRATA_OK;
}

/// An expert load (loss_grad's result, optimizer_step's argument): I32 of
/// the shape of its parameter, a rank-1 selection bias with one element per
/// expert.
strata_status_code checkExpertLoad(const Executable *exe, int parameter,
                                   DType dtype,
                                   const flatbuffers::Vector<int64_t> *shape,
                                   const char *name, const Checker &c) {
  size_t n = exe->parameters()->size();
  if (parameter < 0 || static_cast<size_t>(parameter) >= n)
    return c.corrupt("entry point '%s' has the expert load of parameter %d "
                     "of %zu",
                     name, parameter, n);
  const Parameter *p = exe->parameters()->Get(parameter);
  if (dtype != DType::I32 || shape->size() != 1 ||
      !sameShape(shape, p->shape()))
    return c.corrupt("entry point '%s' has an expert load of '%s' that is "
                     "%s %s, not I32 of the bias's shape %s",
                     name, p->name()->c_str(), EnumNameDType(dtype),
                     shapeText(shape).c_str(), shapeText(p->shape()).c_str());
  return STRATA_OK;
}

/// Optimizer state slots per parameter (AdamW has two).
constexpr int kMaxStateSlots = 8;
/// More values than any stage boundary passes (the hidden state, a running
/// sum of balance losses).
constexpr int kMaxBoundaryValues = 64;

/// The ranks a partitioned program's parameters are split over, per mesh
/// axis (1 each: the executable's own entry points, which take whole
/// parameters).
struct Partition {
  int64_t tp = 1, ep = 1;
  bool any() const { return tp > 1 || ep > 1; }
  /// The ranks of the axis an argument's slice is picked by (0: unknown).
  int64_t ranksOf(const Argument *arg) const {
    if (!arg->shard_axis() || arg->shard_axis()->str() == "tp")
      return tp;
    return arg->shard_axis()->str() == "ep" ? ep : 0;
  }
};

/// A partitioned program's Parameter argument: part of `p` along
/// `shard_dim`, in as many equal parts as its axis has ranks.
strata_status_code checkSlice(const EntryPoint *ep, uoffset_t index,
                              const Argument *arg, const Parameter *p,
                              Partition part, const Checker &c) {
  const auto *shape = arg->shape();
  int dim = arg->shard_dim();
  int64_t ranks = part.ranksOf(arg);
  bool valid = ranks > 1 && arg->shard_count() == ranks && dim >= 0 &&
               static_cast<uoffset_t>(dim) < shape->size() &&
               shape->size() == p->shape()->size() &&
               arg->dtype() == p->dtype();
  // Divide, not multiply: a corrupted dim must not overflow into a match.
  for (uoffset_t d = 0; valid && d < shape->size(); ++d)
    valid = d == static_cast<uoffset_t>(dim)
                ? p->shape()->Get(d) % ranks == 0 &&
                      shape->Get(d) == p->shape()->Get(d) / ranks
                : shape->Get(d) == p->shape()->Get(d);
  if (!valid)
    return c.corrupt("argument %u of entry point '%s' takes parameter '%s' "
                     "as %s, part of %lld along dimension %d over axis %s, "
                     "but the parameter is %s and the plan has tp %lld, "
                     "ep %lld",
                     index, ep->name()->c_str(), p->name()->c_str(),
                     shapeText(shape).c_str(), (long long)arg->shard_count(),
                     dim, arg->shard_axis() ? arg->shard_axis()->c_str() : "tp",
                     shapeText(p->shape()).c_str(), (long long)part.tp,
                     (long long)part.ep);
  return STRATA_OK;
}

/// One argument against what the runtime passes for its kind: token ids,
/// labels and positions as i32 [batch, seq], key padding as i32 [batch],
/// KV caches as f32 [batch, length, width], parameters as themselves,
/// a stage's boundary values as f32.
/// `part`: the ranks of a partitioned program (a stage), whose Parameter
/// arguments may be slices.
strata_status_code checkArgument(const Executable *exe, const EntryPoint *ep,
                                 uoffset_t index, const Checker &c,
                                 Partition part) {
  const char *name = ep->name()->c_str();
  const Argument *arg = ep->arguments()->Get(index);
  if (!inRange(arg->kind()) || !inRange(arg->dtype()))
    return c.corrupt("entry point '%s' has an argument of unknown kind or "
                     "dtype",
                     name);
  if (!validShape(arg->shape(), /*allowDynamic=*/true))
    return c.corrupt("entry point '%s' has an argument with an invalid "
                     "shape %s",
                     name, shapeText(arg->shape()).c_str());
  const auto *shape = arg->shape();
  switch (arg->kind()) {
  case ArgumentKind::Tokens:
  case ArgumentKind::Labels:
  case ArgumentKind::Positions:
    if (arg->dtype() != DType::I32 || !shapeIs(shape, {-1, -1}))
      return c.corrupt("argument %u of entry point '%s' (%s) is %s %s; the "
                       "runtime passes I32 [-1, -1]",
                       index, name, EnumNameArgumentKind(arg->kind()),
                       EnumNameDType(arg->dtype()), shapeText(shape).c_str());
    return STRATA_OK;
  case ArgumentKind::KeyPadding:
    if (arg->dtype() != DType::I32 || !shapeIs(shape, {-1}))
      return c.corrupt("entry point '%s' has a key-padding argument that is "
                       "not I32 [batch]",
                       name);
    return STRATA_OK;
  case ArgumentKind::KeyCache:
  case ArgumentKind::ValueCache:
    if (arg->layer() < 0 || arg->dtype() != DType::F32 || shape->size() != 3 ||
        shape->Get(0) != -1 || shape->Get(1) != -1 || shape->Get(2) < 1)
      return c.corrupt("entry point '%s' has a KV-cache argument without a "
                       "layer or an F32 [batch, length, width] shape",
                       name);
    return STRATA_OK;
  case ArgumentKind::Step:
  case ArgumentKind::UpdateCount:
    if (arg->dtype() != DType::I32 || shape->size() != 0)
      return c.corrupt("entry point '%s' has a step or update-count argument "
                       "that is not I32 []",
                       name);
    return STRATA_OK;
  case ArgumentKind::OptimizerState: {
    const auto *state = exe->training_state();
    if (!state || arg->state() < 0 ||
        static_cast<size_t>(arg->state()) >= state->size())
      return c.corrupt("entry point '%s' refers to optimizer state %d of %u",
                       name, arg->state(), state ? state->size() : 0);
    if (arg->dtype() != DType::F32 ||
        !sameShape(shape, state->Get(arg->state())->shape()))
      return c.corrupt("argument %u of entry point '%s' takes optimizer "
                       "state '%s' with another shape or dtype",
                       index, name, state->Get(arg->state())->name()->c_str());
    return STRATA_OK;
  }
  case ArgumentKind::ExpertLoad:
    return checkExpertLoad(exe, arg->parameter(), arg->dtype(), shape, name, c);
  case ArgumentKind::LossScale:
    if (arg->dtype() != DType::F32 || shape->size() != 0)
      return c.corrupt("entry point '%s' has a loss-scale argument that is "
                       "not F32 []",
                       name);
    return STRATA_OK;
  case ArgumentKind::GradNorm:
    if (arg->dtype() != DType::F32 || shape->size() != 0)
      return c.corrupt("entry point '%s' has a grad-norm argument that is "
                       "not F32 []",
                       name);
    return STRATA_OK;
  case ArgumentKind::FlatParameter:
  case ArgumentKind::FlatGradient:
  case ArgumentKind::FlatState:
    if (arg->dtype() != DType::F32 || !shapeIs(shape, {-1}))
      return c.corrupt("argument %u of entry point '%s' (%s) is %s %s; the "
                       "runtime passes F32 [-1]",
                       index, name, EnumNameArgumentKind(arg->kind()),
                       EnumNameDType(arg->dtype()), shapeText(shape).c_str());
    if (arg->kind() == ArgumentKind::FlatState &&
        (arg->state() < 0 || arg->state() >= kMaxStateSlots))
      return c.corrupt("entry point '%s' takes optimizer state slot %d",
                       name, arg->state());
    return STRATA_OK;
  case ArgumentKind::Boundary:
  case ArgumentKind::BoundaryGrad:
    if (arg->dtype() != DType::F32 || arg->index() < 0 ||
        arg->index() >= kMaxBoundaryValues)
      return c.corrupt("argument %u of entry point '%s' (%s) is not F32 or "
                       "has no boundary index",
                       index, name, EnumNameArgumentKind(arg->kind()));
    return STRATA_OK;
  case ArgumentKind::Gradient:
  case ArgumentKind::Parameter:
    break;
  }
  size_t numParams = exe->parameters()->size();
  if (arg->parameter() < 0 ||
      static_cast<size_t>(arg->parameter()) >= numParams)
    return c.corrupt("entry point '%s' refers to parameter %d of %zu", name,
                     arg->parameter(), numParams);
  const Parameter *p = exe->parameters()->Get(arg->parameter());
  if (arg->shard_dim() != -1 || arg->shard_count() != 1) {
    if (arg->kind() != ArgumentKind::Parameter || !part.any())
      return c.corrupt("argument %u of entry point '%s' takes a slice of "
                       "'%s' outside a partitioned program",
                       index, name, p->name()->c_str());
    return checkSlice(ep, index, arg, p, part, c);
  }
  if (!sameShape(shape, p->shape()) || arg->dtype() != p->dtype())
    return c.corrupt("argument %u of entry point '%s' takes parameter '%s' "
                     "as %s %s, but the parameter is %s %s",
                     index, name, p->name()->c_str(),
                     EnumNameDType(arg->dtype()), shapeText(shape).c_str(),
                     EnumNameDType(p->dtype()), shapeText(p->shape()).c_str());
  return STRATA_OK;
}

/// Each input the runtime fills by kind (token ids, labels, positions,
/// key padding) and each parameter at most once: the runtime passes every
/// argument of a kind the same data, so a repeat means a corrupted kind
/// or parameter index.
strata_status_code checkNoRepeats(const Executable *exe, const EntryPoint *ep,
                                  const Checker &c) {
  std::vector<bool> params(exe->parameters()->size(), false);
  std::vector<bool> grads(exe->parameters()->size(), false);
  std::vector<bool> loads(exe->parameters()->size(), false);
  std::set<int> states, slots;
  std::set<ArgumentKind> kinds;
  std::set<std::pair<ArgumentKind, int>> boundary;
  for (const Argument *arg : *ep->arguments()) {
    if (arg->kind() == ArgumentKind::Parameter ||
        arg->kind() == ArgumentKind::Gradient ||
        arg->kind() == ArgumentKind::ExpertLoad) {
      auto &seen = arg->kind() == ArgumentKind::Parameter  ? params
                   : arg->kind() == ArgumentKind::Gradient ? grads
                                                           : loads;
      if (seen[arg->parameter()])
        return c.corrupt(
            "entry point '%s' takes %s '%s' twice", ep->name()->c_str(),
            arg->kind() == ArgumentKind::Parameter  ? "parameter"
            : arg->kind() == ArgumentKind::Gradient ? "the gradient of"
                                                    : "the expert load of",
            exe->parameters()->Get(arg->parameter())->name()->c_str());
      seen[arg->parameter()] = true;
    } else if (arg->kind() == ArgumentKind::OptimizerState) {
      if (!states.insert(arg->state()).second)
        return c.corrupt("entry point '%s' takes optimizer state %d twice",
                         ep->name()->c_str(), arg->state());
    } else if (arg->kind() == ArgumentKind::FlatState) {
      if (!slots.insert(arg->state()).second)
        return c.corrupt("entry point '%s' takes optimizer state slot %d "
                         "twice",
                         ep->name()->c_str(), arg->state());
    } else if (arg->kind() == ArgumentKind::Boundary ||
               arg->kind() == ArgumentKind::BoundaryGrad) {
      if (!boundary.insert({arg->kind(), arg->index()}).second)
        return c.corrupt("entry point '%s' takes %s %d twice",
                         ep->name()->c_str(), EnumNameArgumentKind(arg->kind()),
                         arg->index());
    } else if (arg->kind() != ArgumentKind::KeyCache &&
               arg->kind() != ArgumentKind::ValueCache &&
               !kinds.insert(arg->kind()).second) {
      return c.corrupt("entry point '%s' takes %s twice", ep->name()->c_str(),
                       EnumNameArgumentKind(arg->kind()));
    }
  }
  return STRATA_OK;
}

/// A result the runtime stores (optimizer_step's): its parameter or state
/// exists and has its shape; scalars are F32 [].
strata_status_code checkResultKind(const Executable *exe, const EntryPoint *ep,
                                   const Result *res, const Checker &c) {
  const char *name = ep->name()->c_str();
  switch (res->kind()) {
  case ResultKind::Value:
    return STRATA_OK;
  case ResultKind::Boundary:
  case ResultKind::BoundaryGrad:
    if (res->dtype() != DType::F32 || res->index() < 0 ||
        res->index() >= kMaxBoundaryValues)
      return c.corrupt("entry point '%s' has a %s result that is not F32 "
                       "or has no boundary index",
                       name, EnumNameResultKind(res->kind()));
    return STRATA_OK;
  case ResultKind::KeyCache:
  case ResultKind::ValueCache:
    if (res->dtype() != DType::F32 || res->layer() < 0 ||
        res->shape()->size() != 3)
      return c.corrupt("entry point '%s' has a %s result without a layer or "
                       "an F32 [batch, n, width] shape",
                       name, EnumNameResultKind(res->kind()));
    return STRATA_OK;
  case ResultKind::DroppedTokens:
    if (res->dtype() != DType::I32 || res->shape()->size() != 0)
      return c.corrupt("entry point '%s' has a DroppedTokens result that is "
                       "not I32 []",
                       name);
    return STRATA_OK;
  case ResultKind::ExpertLoad:
    return checkExpertLoad(exe, res->parameter(), res->dtype(), res->shape(),
                           name, c);
  case ResultKind::Activations:
  case ResultKind::ExpertRows:
  case ResultKind::ExpertOffsets: {
    // Calibration: a static w8a8 activation scale parameter, f32 [1] or
    // [E]; expert rows are [P, K] f32, their offsets [E + 1] i32.
    size_t n = exe->parameters()->size();
    const Parameter *p =
        res->parameter() >= 0 && static_cast<size_t>(res->parameter()) < n
            ? exe->parameters()->Get(res->parameter())
            : nullptr;
    bool rows = res->kind() == ResultKind::ExpertRows;
    bool offsets = res->kind() == ResultKind::ExpertOffsets;
    if (const auto *all = res->parameters())
      for (int other : *all) {
        const Parameter *q =
            other >= 0 && static_cast<size_t>(other) < n
                ? exe->parameters()->Get(other)
                : nullptr;
        if (!q || !p || q->dtype() != DType::F32 ||
            !sameShape(q->shape(), p->shape()))
          return c.corrupt("entry point '%s' has a %s result calibrating "
                           "parameter %d, which does not fit it",
                           name, EnumNameResultKind(res->kind()), other);
      }
    if (!p || p->dtype() != DType::F32 || p->shape()->size() != 1 ||
        res->dtype() != (offsets ? DType::I32 : DType::F32) ||
        (offsets && !shapeIs(res->shape(), {p->shape()->Get(0) + 1})) ||
        (rows && res->shape()->size() != 2) || res->shape()->size() < 1)
      return c.corrupt("entry point '%s' has a %s result of parameter %d "
                       "that does not fit it",
                       name, EnumNameResultKind(res->kind()),
                       res->parameter());
    return STRATA_OK;
  }
  case ResultKind::FlatParameter:
  case ResultKind::FlatState:
    if (res->dtype() != DType::F32 || !shapeIs(res->shape(), {-1}) ||
        (res->kind() == ResultKind::FlatState &&
         (res->state() < 0 || res->state() >= kMaxStateSlots)))
      return c.corrupt("entry point '%s' has a %s result that is not F32 "
                       "[-1] of a valid slot",
                       name, EnumNameResultKind(res->kind()));
    return STRATA_OK;
  case ResultKind::LearningRate:
  case ResultKind::GradNorm:
    if (res->dtype() != DType::F32 || res->shape()->size() != 0)
      return c.corrupt("entry point '%s' has a %s result that is not F32 []",
                       name, EnumNameResultKind(res->kind()));
    return STRATA_OK;
  case ResultKind::Parameter: {
    size_t n = exe->parameters()->size();
    if (res->parameter() < 0 || static_cast<size_t>(res->parameter()) >= n)
      return c.corrupt("entry point '%s' updates parameter %d of %zu", name,
                       res->parameter(), n);
    const Parameter *p = exe->parameters()->Get(res->parameter());
    if (!sameShape(res->shape(), p->shape()) || p->dtype() != DType::F32 ||
        res->dtype() != DType::F32)
      return c.corrupt("entry point '%s' updates parameter '%s' with a "
                       "value of another shape or dtype",
                       name, p->name()->c_str());
    return STRATA_OK;
  }
  case ResultKind::OptimizerState: {
    const auto *state = exe->training_state();
    if (!state || res->state() < 0 ||
        static_cast<size_t>(res->state()) >= state->size() ||
        !sameShape(res->shape(), state->Get(res->state())->shape()) ||
        res->dtype() != DType::F32)
      return c.corrupt("entry point '%s' updates optimizer state %d, which "
                       "does not exist or has another shape",
                       name, res->state());
    return STRATA_OK;
  }
  }
  return c.corrupt("entry point '%s' has a result of unknown kind", name);
}

/// The training state: static F32 shapes, unique names, owners in range.
strata_status_code checkTrainingState(const Executable *exe, const Checker &c) {
  const auto *state = exe->training_state();
  if (!state)
    return STRATA_OK;
  std::set<std::string> names;
  for (const StateTensor *t : *state) {
    if (!validShape(t->shape(), /*allowDynamic=*/false) ||
        t->dtype() != DType::F32 || !names.insert(t->name()->str()).second ||
        t->parameter() < -1 ||
        t->parameter() >= static_cast<int>(exe->parameters()->size()))
      return c.corrupt("optimizer state '%s' has an invalid shape, dtype, "
                       "owner or a repeated name",
                       t->name()->c_str());
  }
  return STRATA_OK;
}

strata_status_code checkEntryPoint(const Executable *exe, const EntryPoint *ep,
                                   const Checker &c, Partition part = {},
                                   const std::string &program = "") {
  const char *name = ep->name()->c_str();
  if (strata_status_code code = checkCommands(ep, c,
                                              !program.empty() ? program
                                              : part.any()     ? "stage0."
                                                               : ""))
    return code;
  for (uoffset_t i = 0; i < ep->arguments()->size(); ++i)
    if (strata_status_code code = checkArgument(exe, ep, i, c, part))
      return code;
  if (strata_status_code code = checkNoRepeats(exe, ep, c))
    return code;
  for (const Result *res : *ep->results()) {
    if (!inRange(res->dtype()) || !inRange(res->kind()) ||
        !validShape(res->shape(), /*allowDynamic=*/true))
      return c.corrupt("entry point '%s' has a result with an invalid shape, "
                       "dtype or kind",
                       name);
    if (strata_status_code code = checkResultKind(exe, ep, res, c))
      return code;
  }
  if (const MemoryPlan *plan = ep->memory_plan()) {
    bool valid =
        plan->buffers() >= 0 &&
        plan->slot_bytes()->size() <= static_cast<uoffset_t>(plan->buffers());
    for (int64_t bytes : *plan->slot_bytes())
      valid &= bytes >= -1;
    if (!valid)
      return c.corrupt("entry point '%s' has an invalid memory plan", name);
  }
  return STRATA_OK;
}

/// The entry point `name` among `eps` (the executable's, or a stage's), or
/// null.
const EntryPoint *
findIn(const flatbuffers::Vector<flatbuffers::Offset<EntryPoint>> *eps,
       const char *name) {
  for (const EntryPoint *ep : *eps)
    if (ep->name()->str() == name)
      return ep;
  return nullptr;
}

const EntryPoint *findEntry(const Executable *exe, const char *name) {
  return findIn(exe->entry_points(), name);
}

/// Whether result `index` of `ep` is F32 `want`.
bool resultIs(const EntryPoint *ep, uoffset_t index,
              std::initializer_list<int64_t> want) {
  const Result *res = ep->results()->Get(index);
  return res->dtype() == DType::F32 && shapeIs(res->shape(), want);
}

/// decode's caches: layers 0..L-1 once each for keys and values, and its
/// results the logits and then each layer's new key and value rows, as
/// wide as the cache they are appended to.
strata_status_code checkDecodeCaches(const EntryPoint *decode,
                                     const Checker &c) {
  std::vector<int64_t> widths; // keys of layer l at 2l, values at 2l + 1
  size_t caches = 0;
  for (const Argument *arg : *decode->arguments())
    caches += arg->kind() == ArgumentKind::KeyCache ||
              arg->kind() == ArgumentKind::ValueCache;
  widths.assign(caches, 0);
  for (const Argument *arg : *decode->arguments()) {
    bool key = arg->kind() == ArgumentKind::KeyCache;
    if (!key && arg->kind() != ArgumentKind::ValueCache)
      continue;
    size_t slot = 2 * static_cast<size_t>(arg->layer()) + (key ? 0 : 1);
    if (caches % 2 || slot >= caches || widths[slot])
      return c.corrupt("decode's cache arguments do not hold one key and "
                       "one value cache for each of layers 0 to %zu",
                       caches / 2 ? caches / 2 - 1 : 0);
    widths[slot] = arg->shape()->Get(2);
  }
  if (decode->results()->size() != 1 + caches)
    return c.corrupt("decode has %u results; the logits and %zu cache rows "
                     "for its caches expected",
                     decode->results()->size(), caches);
  for (size_t slot = 0; slot < caches; ++slot)
    if (!resultIs(decode, static_cast<uoffset_t>(1 + slot),
                  {-1, -1, widths[slot]}))
      return c.corrupt(
          "decode result %zu is %s; layer %zu's %s cache is "
          "[-1, -1, %lld]",
          1 + slot,
          shapeText(decode->results()->Get(1 + slot)->shape()).c_str(),
          slot / 2, slot % 2 ? "value" : "key", (long long)widths[slot]);
  return STRATA_OK;
}

/// The metadata's vocabulary against the logits the kernels return: the
/// runtime reads [batch, seq, vocab_size] floats from forward's and
/// decode's first result.
strata_status_code checkLanguageModel(const Executable *exe,
                                      const EntryPoint *forward,
                                      const EntryPoint *decode,
                                      const Checker &c) {
  int64_t vocab = exe->metadata()->vocab_size();
  // A forward whose first result is not rank 3 has no LM head (a
  // classifier); sessions refuse to run it as one.
  if (forward && forward->results()->size() &&
      forward->results()->Get(0)->shape()->size() == 3 &&
      !resultIs(forward, 0, {-1, -1, vocab}))
    return c.corrupt("forward's logits are %s but the vocabulary has %lld "
                     "tokens",
                     shapeText(forward->results()->Get(0)->shape()).c_str(),
                     (long long)vocab);
  if (!decode)
    return STRATA_OK;
  bool tokens = false, positions = false;
  for (const Argument *arg : *decode->arguments()) {
    tokens |= arg->kind() == ArgumentKind::Tokens;
    positions |= arg->kind() == ArgumentKind::Positions;
  }
  if (!tokens || !positions)
    return c.corrupt("decode takes no token ids or no positions");
  if (decode->results()->size() == 0 || !resultIs(decode, 0, {-1, -1, vocab}))
    return c.corrupt("decode's logits are %s but the vocabulary has %lld "
                     "tokens",
                     decode->results()->size()
                         ? shapeText(decode->results()->Get(0)->shape()).c_str()
                         : "missing",
                     (long long)vocab);
  return checkDecodeCaches(decode, c);
}

strata_status_code checkLanguageModel(const Executable *exe, const Checker &c) {
  return checkLanguageModel(exe, findEntry(exe, "forward"),
                            findEntry(exe, "decode"), c);
}

/// Partitioned programs: one stage of a tensor- or expert-parallel plan,
/// or the stages of a pipeline, whose entry points take slices of the
/// parameters in the plan's parts. Ranks take part (their coordinate on
/// the slice's axis) of shard_count: the mesh must have one `name` axis
/// of `ranks`.
strata_status_code checkSliceAxis(const ParallelPlan *plan, const char *name,
                                  int64_t ranks, const Checker &c) {
  const Mesh *mesh = plan->mesh();
  int axes = 0;
  for (uoffset_t i = 0; i < mesh->axes()->size(); ++i)
    if (mesh->axes()->Get(i)->str() == name)
      axes += mesh->shape()->Get(i) == ranks ? 1 : 2;
  if (axes != 1)
    return c.corrupt("the partitioned program's mesh has no single %s axis "
                     "of the plan's %lld ranks",
                     name, (long long)ranks);
  return STRATA_OK;
}

strata_status_code checkTensorAxis(const ParallelPlan *plan, const Checker &c) {
  return checkSliceAxis(plan, "tp", plan->tp(), c);
}

/// A rank holds one slice of each parameter: every entry point of a
/// program takes it alike.
strata_status_code
checkOneSlicing(const Executable *exe,
                const flatbuffers::Vector<flatbuffers::Offset<EntryPoint>> *eps,
                const Checker &c) {
  std::map<int, int> dimOf;
  for (const EntryPoint *ep : *eps)
    for (const Argument *arg : *ep->arguments()) {
      if (arg->kind() != ArgumentKind::Parameter)
        continue;
      auto [it, inserted] =
          dimOf.try_emplace(arg->parameter(), arg->shard_dim());
      if (!inserted && it->second != arg->shard_dim())
        return c.corrupt(
            "the partitioned program takes parameter '%s' "
            "sliced in two ways",
            exe->parameters()->Get(arg->parameter())->name()->c_str());
    }
  return STRATA_OK;
}

/// The values stage `from`'s entry point `out` passes on (Boundary
/// results) against those stage `from + 1`'s `in` takes (Boundary
/// arguments), by index: as many, of the same rank.
strata_status_code checkBoundary(const EntryPoint *out, const EntryPoint *in,
                                 size_t from, const Checker &c) {
  std::map<int, size_t> sent, taken;
  for (const Result *res : *out->results())
    if (res->kind() == ResultKind::Boundary)
      sent[res->index()] = res->shape()->size();
  for (const Argument *arg : *in->arguments())
    if (arg->kind() == ArgumentKind::Boundary)
      taken[arg->index()] = arg->shape()->size();
  if (sent != taken || sent.empty())
    return c.corrupt("pipeline stage %zu's %s passes %zu boundary values "
                     "that stage %zu's %s does not take alike (%zu)",
                     from, out->name()->c_str(), sent.size(), from + 1,
                     in->name()->c_str(), taken.size());
  return STRATA_OK;
}

/// A pipeline-parallel plan's stages: one per pp rank, holding the layers
/// in order, each entry point calling its stage's symbol, and what each
/// stage passes on taken by the next.
strata_status_code checkPipelineStages(const Executable *exe,
                                       const Checker &c) {
  const auto *stages = exe->stages();
  const ParallelPlan *plan = exe->parallel();
  if (plan->ep() != 1 || stages->size() != static_cast<uoffset_t>(plan->pp()))
    return c.corrupt("the executable has %u pipeline stage programs, but "
                     "its plan has pp %lld (with ep 1 expected)",
                     stages->size(), (long long)plan->pp());
  // Stages split over tensor-parallel ranks take slices of parameters.
  if (plan->tp() > 1)
    if (strata_status_code code = checkTensorAxis(plan, c))
      return code;
  int64_t next = 0;
  for (uoffset_t k = 0; k < stages->size(); ++k) {
    const Stage *stage = stages->Get(k);
    if (stage->first_layer() != next || stage->num_layers() < 1)
      return c.corrupt("pipeline stage %u holds layers [%lld, %lld); the "
                       "stages must hold the layers in order, each some",
                       k, (long long)stage->first_layer(),
                       (long long)(stage->first_layer() + stage->num_layers()));
    next += stage->num_layers();
    std::set<std::string> names;
    std::string program = "stage" + std::to_string(k) + ".";
    for (const EntryPoint *ep : *stage->entry_points()) {
      if (!names.insert(ep->name()->str()).second)
        return c.corrupt("pipeline stage %u has entry point '%s' twice", k,
                         ep->name()->c_str());
      if (strata_status_code code =
              checkEntryPoint(exe, ep, c, {plan->tp(), 1}, program))
        return code;
    }
    if (strata_status_code code =
            checkOneSlicing(exe, stage->entry_points(), c))
      return code;
    if (!findIn(stage->entry_points(), "forward"))
      return c.corrupt("pipeline stage %u has no forward", k);
    if (k + 1 == stages->size())
      continue;
    const auto *later = stages->Get(k + 1)->entry_points();
    for (auto [out, in] :
         {std::pair{"forward", "forward"}, std::pair{"decode", "decode"},
          std::pair{"loss_forward", "loss_grad"}}) {
      const EntryPoint *from = findIn(stage->entry_points(), out);
      const EntryPoint *to = findIn(later, in);
      if (!from && !to)
        continue;
      if (!from || !to)
        return c.corrupt("pipeline stage %u has %s '%s' but stage %u %s "
                         "'%s'",
                         k, from ? "an entry point" : "no entry point", out,
                         k + 1, to ? "has" : "has no", in);
      if (strata_status_code code = checkBoundary(from, to, k, c))
        return code;
    }
  }
  if (next != exe->metadata()->num_layers())
    return c.corrupt("the pipeline stages hold %lld layers of %lld",
                     (long long)next, (long long)exe->metadata()->num_layers());
  return checkLanguageModel(
      exe, findIn(stages->Get(stages->size() - 1)->entry_points(), "forward"),
      nullptr, c);
}

strata_status_code checkStages(const Executable *exe, const Checker &c) {
  const auto *stages = exe->stages();
  if (!stages || stages->size() == 0)
    return STRATA_OK;
  const ParallelPlan *plan = exe->parallel();
  if (plan && plan->pp() > 1)
    return checkPipelineStages(exe, c);
  // One program split over tp or over ep (not both yet).
  if (!plan || plan->pp() != 1 || stages->size() != 1 ||
      (plan->tp() > 1) == (plan->ep() > 1))
    return c.corrupt("the executable has %u partitioned programs but its "
                     "plan is not tensor or expert parallelism alone",
                     stages->size());
  Partition part{plan->tp(), plan->ep()};
  if (strata_status_code code = plan->tp() > 1
                                    ? checkTensorAxis(plan, c)
                                    : checkSliceAxis(plan, "ep", plan->ep(), c))
    return code;
  const Stage *stage = stages->Get(0);
  const auto *eps = stage->entry_points();
  if (eps->size() == 0 || stage->first_layer() != 0 ||
      stage->num_layers() != exe->metadata()->num_layers())
    return c.corrupt("the partitioned program has no entry point or "
                     "does not hold every layer");
  std::set<std::string> names;
  for (const EntryPoint *ep : *eps) {
    if (!names.insert(ep->name()->str()).second ||
        !findEntry(exe, ep->name()->c_str()))
      return c.corrupt("the partitioned program's entry point '%s' is "
                       "repeated or not one of the executable's",
                       ep->name()->c_str());
    if (strata_status_code code = checkEntryPoint(exe, ep, c, part))
      return code;
  }
  if (strata_status_code code = checkOneSlicing(exe, eps, c))
    return code;
  return checkLanguageModel(exe, findIn(eps, "forward"), findIn(eps, "decode"),
                            c);
}

strata_status_code checkEntryPoints(const Executable *exe, const Checker &c) {
  if (exe->entry_points()->size() == 0)
    return c.corrupt("no entry point");
  std::set<std::string> names;
  for (const EntryPoint *ep : *exe->entry_points()) {
    if (ep->name()->size() == 0 || !names.insert(ep->name()->str()).second)
      return c.corrupt("an entry point has an empty or repeated name");
    if (strata_status_code code = checkEntryPoint(exe, ep, c))
      return code;
  }
  return STRATA_OK;
}

/// Models have a vocabulary and a maximum length that token ids and
/// positions (int32) can address; kernel modules (compiled from .mlir)
/// take no tokens and have neither.
strata_status_code checkMetadata(const Executable *exe, const Checker &c) {
  const Metadata *meta = exe->metadata();
  bool takesTokens = false;
  for (const EntryPoint *ep : *exe->entry_points())
    for (const Argument *arg : *ep->arguments())
      takesTokens |= arg->kind() == ArgumentKind::Tokens;
  bool kernelModule =
      !takesTokens && meta->vocab_size() == 0 && meta->max_seq_len() == 0;
  if (!kernelModule && (meta->vocab_size() < 1 || meta->max_seq_len() < 1))
    return c.corrupt("metadata has no vocabulary size or maximum sequence "
                     "length");
  if (meta->vocab_size() > kMaxTokenRange ||
      meta->max_seq_len() > kMaxTokenRange || meta->hidden_size() < 0 ||
      meta->num_layers() < 0)
    return c.corrupt("metadata has a size out of range");
  for (int64_t id :
       {meta->bos_token_id(), meta->eos_token_id(), meta->pad_token_id()})
    if (id < -1 || id >= meta->vocab_size())
      return c.corrupt("metadata has a special token outside the vocabulary");
  return STRATA_OK;
}

/// Strata's checks on a verified buffer, so that the rest of the runtime
/// can use the contents without further checks.
strata_status_code checkExecutable(const Executable *exe, const Checker &c) {
  if (exe->version() != kFormatVersion)
    return fail(c.status, STRATA_UNSUPPORTED,
                "%s: executable format version %u, this runtime reads %u "
                "(recompile with a matching strata-compile)",
                c.where, exe->version(), kFormatVersion);
  if (!inRange(exe->target()))
    return c.corrupt("unknown target");
  for (auto check : {checkKernelLibraries, checkTarget, checkParameters,
                     checkTrainingState, checkEntryPoints, checkMetadata,
                     checkLanguageModel, checkPlan, checkStages})
    if (strata_status_code code = check(exe, c))
      return code;
  return STRATA_OK;
}

/// Checks `exe`'s bytes in full: checksums first, then structure.
strata_status_code openExecutable(strata_executable &exe, const char *where,
                                  strata_status *status) {
  const uint8_t *data = exe.bytes.data();
  size_t payload = 0;
  if (strata_status_code code =
          checkIntegrity(data, exe.bytes.size(), where, payload, status))
    return code;
  flatbuffers::Verifier verifier(data, payload, /*max_depth=*/32,
                                 /*max_tables=*/1u << 22);
  if (payload < 8 ||
      !flatbuffers::BufferHasIdentifier(data, ExecutableIdentifier()) ||
      !VerifyExecutableBuffer(verifier))
    return fail(status, STRATA_CORRUPT_EXECUTABLE,
                "%s: the executable's structure fails verification: %s", where,
                kRecompile);
  exe.root = GetExecutable(data);
  Checker checker{where, status};
  if (strata_status_code code = checkLibraryChecksums(exe.root, checker))
    return code;
  return checkExecutable(exe.root, checker);
}

/// Entry point `index`, or null after reporting it is out of range.
const EntryPoint *entryAt(const strata_executable *exe, size_t index,
                          strata_status *status) {
  const auto *eps = exe->root->entry_points();
  if (index >= eps->size()) {
    fail(status, STRATA_NOT_FOUND, "entry point %zu of %u", index, eps->size());
    return nullptr;
  }
  return eps->Get(static_cast<uoffset_t>(index));
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
  return guardApi(__func__, status, [&] {
    auto exe = std::make_unique<strata_executable>();
    exe->bytes.assign(static_cast<const uint8_t *>(data),
                      static_cast<const uint8_t *>(data) + size);
    if (strata_status_code code = openExecutable(*exe, "<memory>", status))
      return code;
    *out = exe.release();
    return ok(status);
  });
}

strata_status_code strata_executable_load_file(const char *path,
                                               strata_executable **out,
                                               strata_status *status) {
  if (!path || !out)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_executable_load_file: null argument");
  *out = nullptr;
  return guardApi(__func__, status, [&] {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file)
      return fail(status, STRATA_IO_ERROR, "%s: cannot open: %s", path,
                  std::strerror(errno));
    std::streamoff size = file.tellg();
    if (size < 0 || static_cast<uint64_t>(size) > STRATA_MAX_EXECUTABLE_BYTES)
      return fail(status, STRATA_IO_ERROR,
                  "%s: not a regular file or larger than the executable limit",
                  path);
    auto exe = std::make_unique<strata_executable>();
    exe->bytes.resize(static_cast<size_t>(size));
    file.seekg(0);
    if (size && !file.read(reinterpret_cast<char *>(exe->bytes.data()), size))
      return fail(status, STRATA_IO_ERROR, "%s: read failed", path);
    if (strata_status_code code = openExecutable(*exe, path, status))
      return code;
    *out = exe.release();
    return ok(status);
  });
}

void strata_executable_release(strata_executable *executable) {
  delete executable;
}

strata_status_code strata_executable_get_info(const strata_executable *exe,
                                              strata_executable_info *out,
                                              strata_status *status) {
  return guardApi(__func__, status, [&] {
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
  });
}

strata_status_code strata_executable_get_plan(const strata_executable *exe,
                                              strata_plan_info *out,
                                              strata_status *status) {
  return guardApi(__func__, status, [&] {
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
      bool staged = root->stages() && root->stages()->size() > 0;
      out->has_tensor_parallel_program = staged && p->pp() == 1 && p->tp() > 1;
      out->has_expert_parallel_program = staged && p->pp() == 1 && p->ep() > 1;
      if (staged && p->pp() > 1) {
        out->pipeline_stages = root->stages()->size();
        for (size_t k = 0; k < out->pipeline_stages && k < STRATA_MAX_STAGES;
             ++k) {
          out->stage_first_layer[k] = root->stages()->Get(k)->first_layer();
          out->stage_num_layers[k] = root->stages()->Get(k)->num_layers();
        }
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
      out->loss_scale_init = t->loss_scale_init();
      out->loss_scale_growth_interval = t->loss_scale_growth_interval();
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
  });
}

strata_status_code strata_executable_get_parameter(const strata_executable *exe,
                                                   size_t index,
                                                   strata_parameter_info *out,
                                                   strata_status *status) {
  return guardApi(__func__, status, [&] {
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
  });
}

strata_status_code
strata_executable_get_entry_point(const strata_executable *exe, size_t index,
                                  const char **name, size_t *num_arguments,
                                  size_t *num_results, strata_status *status) {
  return guardApi(__func__, status, [&] {
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
  });
}

strata_status_code
strata_executable_get_memory_plan(const strata_executable *exe, size_t entry,
                                  int64_t *buffers, int64_t *slots,
                                  int64_t *static_bytes, int64_t *dynamic_slots,
                                  strata_status *status) {
  return guardApi(__func__, status, [&] {
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
  });
}

strata_status_code
strata_executable_get_result_shape(const strata_executable *exe, size_t entry,
                                   size_t result, const int64_t **shape,
                                   size_t *rank, strata_status *status) {
  return guardApi(__func__, status, [&] {
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
  });
}

} // extern "C"

//===- Checkpoint.cpp - weights in and out of safetensors -----------------===//

#include "runtime/Checkpoint.h"
#include "runtime/DType.h"
#include "runtime/OutputFile.h"
#include "runtime/Quantize.h"
#include "runtime/Safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <memory>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace strata::runtime {

namespace {

constexpr uint64_t kMaxHeader = 100u << 20;
constexpr const char *kIndexName = "model.safetensors.index.json";

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text;
  for (int64_t d : shape)
    text += (text.empty() ? "" : ", ") + std::to_string(d);
  return "[" + text + "]";
}

/// A safetensors file mapped read-only, its header checked in full.
class MappedFile {
public:
  static strata_status_code open(const std::string &path,
                                 std::unique_ptr<MappedFile> &out,
                                 strata_status *status);
  ~MappedFile() {
    if (base)
      munmap(base, size);
  }
  const std::string &path() const { return path_; }
  const std::vector<SafetensorsEntry> &entries() const { return entries_; }
  const uint8_t *data(const SafetensorsEntry &e) const {
    return static_cast<const uint8_t *>(base) + 8 + headerSize + e.begin;
  }

private:
  strata_status_code check(strata_status *status);
  std::string path_;
  void *base = nullptr;
  size_t size = 0;
  uint64_t headerSize = 0;
  std::vector<SafetensorsEntry> entries_;
};

strata_status_code MappedFile::open(const std::string &path,
                                    std::unique_ptr<MappedFile> &out,
                                    strata_status *status) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(status, STRATA_IO_ERROR, "%s: cannot open: %s", path.c_str(),
                std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return fail(status, STRATA_IO_ERROR, "%s: not a regular file",
                path.c_str());
  }
  auto file = std::make_unique<MappedFile>();
  file->path_ = path;
  file->size = static_cast<size_t>(st.st_size);
  if (file->size < 8) {
    close(fd);
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%s: truncated: no safetensors header length", path.c_str());
  }
  void *base = mmap(nullptr, file->size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd); // the mapping outlives the descriptor
  if (base == MAP_FAILED)
    return fail(status, STRATA_IO_ERROR, "%s: cannot map: %s", path.c_str(),
                std::strerror(errno));
  file->base = base;
  if (strata_status_code code = file->check(status))
    return code;
  out = std::move(file);
  return STRATA_OK;
}

/// The header: size, strict JSON, known dtypes, byte sizes matching
/// shapes, tensors inside the file, contiguous and not overlapping.
strata_status_code MappedFile::check(strata_status *status) {
  const char *p = path_.c_str();
  std::memcpy(&headerSize, base, 8);
  if (headerSize > kMaxHeader || headerSize > size - 8)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%s: header of %llu bytes does not fit in the file (%llu "
                "bytes) or exceeds the %llu-byte limit",
                p, (unsigned long long)headerSize, (unsigned long long)size,
                (unsigned long long)kMaxHeader);
  std::string header(static_cast<const char *>(base) + 8, headerSize);
  std::string error;
  if (!parseSafetensorsHeader(header, entries_, error))
    return fail(status, STRATA_INVALID_ARGUMENT, "%s: invalid header: %s", p,
                error.c_str());
  uint64_t dataSize = size - 8 - headerSize;
  std::vector<const SafetensorsEntry *> byOffset;
  for (const SafetensorsEntry &e : entries_) {
    strata_dtype dtype;
    uint64_t elementSize = 0;
    if (dtypeFromSafetensors(e.dtype, dtype))
      elementSize = dtypeSize(dtype);
    else if (e.dtype == "F64" || e.dtype == "BOOL")
      elementSize = e.dtype == "F64" ? 8 : 1; // valid, never a parameter
    if (!elementSize)
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: tensor '%s' has unknown dtype '%s'", p, e.name.c_str(),
                  e.dtype.c_str());
    uint64_t n = 1;
    for (int64_t d : e.shape) {
      if (d && n > UINT64_MAX / static_cast<uint64_t>(d) / elementSize)
        return fail(status, STRATA_INVALID_ARGUMENT,
                    "%s: tensor '%s' is too large", p, e.name.c_str());
      n *= static_cast<uint64_t>(d);
    }
    if (e.begin > e.end || e.end > dataSize)
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: tensor '%s' has data_offsets [%llu, %llu] outside "
                  "the %llu data bytes (truncated file?)",
                  p, e.name.c_str(), (unsigned long long)e.begin,
                  (unsigned long long)e.end, (unsigned long long)dataSize);
    if (e.end - e.begin != n * elementSize)
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: tensor '%s' holds %llu bytes but its shape and "
                  "dtype need %llu",
                  p, e.name.c_str(), (unsigned long long)(e.end - e.begin),
                  (unsigned long long)(n * elementSize));
    byOffset.push_back(&e);
  }
  std::sort(byOffset.begin(), byOffset.end(),
            [](auto *a, auto *b) { return a->begin < b->begin; });
  uint64_t expected = 0;
  for (const SafetensorsEntry *e : byOffset) {
    if (e->begin != expected)
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: tensor '%s' starts at byte %llu; tensors must be "
                  "contiguous and not overlap (expected %llu)",
                  p, e->name.c_str(), (unsigned long long)e->begin,
                  (unsigned long long)expected);
    expected = e->end;
  }
  if (expected != dataSize)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%s: %llu data bytes but the tensors cover %llu", p,
                (unsigned long long)dataSize, (unsigned long long)expected);
  return STRATA_OK;
}

bool isDirectory(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}
bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

/// Where each tensor of a checkpoint lives.
struct Checkpoint {
  std::vector<std::unique_ptr<MappedFile>> files;
  std::map<std::string, std::pair<const MappedFile *, const SafetensorsEntry *>>
      tensors;
  /// What to call the checkpoint in messages.
  std::string name;

  strata_status_code addFile(const std::string &path, strata_status *status) {
    std::unique_ptr<MappedFile> file;
    if (strata_status_code code = MappedFile::open(path, file, status))
      return code;
    for (const SafetensorsEntry &e : file->entries())
      tensors[e.name] = {file.get(), &e};
    files.push_back(std::move(file));
    return STRATA_OK;
  }

  /// An index and its shards, which must sit next to it.
  strata_status_code addIndex(const std::string &index, strata_status *status);
  strata_status_code open(const std::string &path, strata_status *status);
};

strata_status_code Checkpoint::addIndex(const std::string &index,
                                        strata_status *status) {
  const char *p = index.c_str();
  std::unique_ptr<FILE, int (*)(FILE *)> f(std::fopen(p, "rb"), &std::fclose);
  if (!f)
    return fail(status, STRATA_IO_ERROR, "%s: cannot open: %s", p,
                std::strerror(errno));
  std::string text;
  char buffer[65536];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), f.get())) > 0;) {
    text.append(buffer, n);
    if (text.size() > kMaxHeader)
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: larger than the %llu-byte limit of an index", p,
                  (unsigned long long)kMaxHeader);
  }
  if (std::ferror(f.get()))
    return fail(status, STRATA_IO_ERROR, "%s: cannot read", p);
  std::vector<std::pair<std::string, std::string>> weightMap;
  std::string error;
  if (!parseSafetensorsIndex(text, weightMap, error))
    return fail(status, STRATA_INVALID_ARGUMENT, "%s: invalid index: %s", p,
                error.c_str());
  std::string dir = index.substr(0, index.rfind('/') + 1);
  std::map<std::string, const MappedFile *> shards;
  for (const auto &[tensor, shard] : weightMap) {
    if (shard.empty() || shard.find('/') != std::string::npos ||
        shard == "." || shard == "..")
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: tensor '%s' is in '%s'; shards must be files next to "
                  "the index",
                  p, tensor.c_str(), shard.c_str());
    if (!shards.count(shard)) {
      if (strata_status_code code = addFile(dir + shard, status))
        return code;
      shards[shard] = files.back().get();
    }
    auto found = tensors.find(tensor);
    if (found == tensors.end() || found->second.first != shards[shard])
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: the index puts tensor '%s' in %s, which does not "
                  "hold it",
                  p, tensor.c_str(), shard.c_str());
  }
  return STRATA_OK;
}

strata_status_code Checkpoint::open(const std::string &path,
                                    strata_status *status) {
  name = path;
  if (!isDirectory(path)) {
    if (endsWith(path, ".json"))
      return addIndex(path, status);
    return addFile(path, status);
  }
  std::string dir = endsWith(path, "/") ? path : path + "/";
  if (exists(dir + kIndexName))
    return addIndex(dir + kIndexName, status);
  if (exists(dir + "model.safetensors"))
    return addFile(dir + "model.safetensors", status);
  return fail(status, STRATA_NOT_FOUND,
              "%s: a directory without %s or model.safetensors", path.c_str(),
              kIndexName);
}

/// Converts tensor `name` of the checkpoint into `dst` (`count` elements
/// of `dtype` from offset `at`), checking its shape.
strata_status_code readTensor(const Checkpoint &ckpt, const std::string &name,
                              const std::vector<int64_t> &shape,
                              HostTensor &dst, size_t at,
                              strata_status *status) {
  const auto &[file, entry] = ckpt.tensors.at(name);
  if (entry->shape != shape)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%s: tensor '%s' has shape %s, the model needs %s",
                file->path().c_str(), name.c_str(),
                shapeText(entry->shape).c_str(), shapeText(shape).c_str());
  strata_dtype from;
  size_t count = 1;
  for (int64_t d : shape)
    count *= static_cast<size_t>(d);
  if (!dtypeFromSafetensors(entry->dtype, from) ||
      !convertElements(from, file->data(*entry), dst.dtype,
                       dst.data.get() + at * dtypeSize(dst.dtype), count))
    return fail(status, STRATA_UNSUPPORTED,
                dst.dtype == STRATA_I8
                    ? "%s: tensor '%s' is %s; the parameter is %s: int8 "
                      "weights load from I8 (with their scales) or are "
                      "quantized from F32, BF16 or F16"
                    : "%s: tensor '%s' is %s; the parameter is %s and "
                      "converts only from F32, BF16 or F16",
                file->path().c_str(), name.c_str(), entry->dtype.c_str(),
                safetensorsName(dst.dtype));
  return STRATA_OK;
}

/// Parameter `name`, or — for routed experts, stacked [E, ...] here —
/// HuggingFace's one tensor per expert:
/// <prefix>.experts.<e>.<proj>.weight (gate/up/down_proj, or Mixtral's
/// w1/w3/w2).
strata_status_code readParameter(const Checkpoint &ckpt,
                                 const std::string &name, HostTensor &dst,
                                 size_t numParameters, strata_status *status) {
  if (ckpt.tensors.count(name))
    return readTensor(ckpt, name, dst.shape, dst, 0, status);
  const std::vector<int64_t> &want = dst.shape;
  size_t cut = name.rfind(".experts.");
  std::string proj = cut == std::string::npos ? "" : name.substr(cut + 9);
  bool perExpert = want.size() == 3 &&
                   (proj == "gate_proj" || proj == "up_proj" ||
                    proj == "down_proj" || proj == "w1" || proj == "w2" ||
                    proj == "w3");
  if (!perExpert)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%s: missing tensor '%s' (the model needs all %zu "
                "parameters)",
                ckpt.name.c_str(), name.c_str(), numParameters);
  std::string prefix = name.substr(0, cut) + ".experts.";
  std::vector<int64_t> slice(want.begin() + 1, want.end());
  size_t sliceElements = static_cast<size_t>(slice[0] * slice[1]);
  for (int64_t e = 0; e < want[0]; ++e) {
    std::string piece = prefix + std::to_string(e) + "." + proj + ".weight";
    if (!ckpt.tensors.count(piece))
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: missing tensor '%s' (or one tensor per expert, "
                  "'%s0.%s.weight' ... '%s%lld.%s.weight')",
                  ckpt.name.c_str(), name.c_str(), prefix.c_str(),
                  proj.c_str(), prefix.c_str(), (long long)(want[0] - 1),
                  proj.c_str());
    if (strata_status_code code =
            readTensor(ckpt, piece, slice, dst, e * sliceElements, status))
      return code;
  }
  return STRATA_OK;
}

std::string jsonEscape(const std::string &text) {
  std::string escaped;
  for (char c : text) {
    if (c == '"' || c == '\\')
      escaped += '\\';
    escaped += c;
  }
  return escaped;
}

/// A safetensors header for `tensors`, named `names`, stored as `dtypes`.
std::string headerFor(const std::vector<std::string> &names,
                      const std::vector<const HostTensor *> &tensors,
                      const std::vector<strata_dtype> &dtypes) {
  std::string header = "{";
  uint64_t offset = 0;
  for (size_t k = 0; k < tensors.size(); ++k) {
    uint64_t bytes = tensors[k]->elements * dtypeSize(dtypes[k]);
    header += (k ? "," : "") + std::string("\"") + jsonEscape(names[k]) +
              "\":{\"dtype\":\"" + safetensorsName(dtypes[k]) +
              "\",\"shape\":[";
    for (size_t d = 0; d < tensors[k]->shape.size(); ++d)
      header += (d ? "," : "") + std::to_string(tensors[k]->shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  while (header.size() % 8)
    header += ' '; // safetensors pads the header to 8 bytes with spaces
  return header;
}

/// One safetensors file of `tensors`, converted to `dtypes`, written
/// atomically.
strata_status_code writeSafetensors(const std::string &path,
                                    const std::vector<std::string> &names,
                                    const std::vector<const HostTensor *> &tensors,
                                    const std::vector<strata_dtype> &dtypes,
                                    strata_status *status) {
  OutputFile file;
  std::string error;
  std::string header = headerFor(names, tensors, dtypes);
  uint64_t headerSize = header.size();
  bool good = file.open(path, error) && file.write(&headerSize, 8, error) &&
              file.write(header.data(), header.size(), error);
  std::vector<uint8_t> converted;
  for (size_t k = 0; good && k < tensors.size(); ++k) {
    const HostTensor &t = *tensors[k];
    if (dtypes[k] == t.dtype) {
      good = file.write(t.data.get(), t.bytes(), error);
      continue;
    }
    converted.resize(t.elements * dtypeSize(dtypes[k]));
    convertElements(t.dtype, t.data.get(), dtypes[k], converted.data(),
                    t.elements);
    good = file.write(converted.data(), converted.size(), error);
  }
  if (!good || !file.commit(error))
    return fail(status, STRATA_IO_ERROR, "%s (nothing was replaced)",
                error.c_str());
  return ok(status);
}

/// Parameters `which` of `weights`, under their names, as one file.
strata_status_code writeFile(const std::string &path,
                             const strata::fb::Executable *exe,
                             const Weights &weights,
                             const std::vector<size_t> &which,
                             const std::vector<strata_dtype> &dtypes,
                             strata_status *status) {
  std::vector<std::string> names;
  std::vector<const HostTensor *> tensors;
  std::vector<strata_dtype> stored;
  for (size_t i : which) {
    names.push_back(exe->parameters()->Get(i)->name()->str());
    tensors.push_back(&weights[i]);
    stored.push_back(dtypes[i]);
  }
  return writeSafetensors(path, names, tensors, stored, status);
}

} // namespace

strata_status_code readCheckpoint(const std::string &path,
                                  const strata::fb::Executable *exe,
                                  const Weights &like,
                                  std::vector<HostTensor> &out,
                                  strata_status *status,
                                  bool *uncalibrated) {
  Checkpoint ckpt;
  if (strata_status_code code = ckpt.open(path, status))
    return code;
  const auto *params = exe->parameters();
  out.clear();
  out.resize(like.size());
  for (size_t i = 0; i < like.size(); ++i) {
    out[i].dtype = like[i].dtype;
    out[i].shape = like[i].shape;
    out[i].elements = like[i].elements;
    if (!out[i].allocate())
      return fail(status, STRATA_OUT_OF_MEMORY,
                  "%s: out of memory for parameter %zu", path.c_str(), i);
  }
  // Int8 weights first: one the file holds in a float dtype is quantized
  // as it loads, which fills its scales (the file's are not read).
  std::vector<bool> filled(like.size());
  std::vector<int> scales = weightScales(exe);
  for (size_t i = 0; i < like.size(); ++i) {
    const strata::fb::Parameter *p = params->Get(i);
    if (scales[i] < 0)
      continue;
    std::string name = p->name()->str();
    auto found = ckpt.tensors.find(name);
    strata_dtype stored;
    // Int8 in the file: read below, with its scales. Anything else (a float
    // tensor, HuggingFace's one tensor per expert, or nothing: readParameter
    // says what is missing) is quantized here.
    if (found != ckpt.tensors.end() &&
        dtypeFromSafetensors(found->second.second->dtype, stored) &&
        stored == STRATA_I8)
      continue;
    HostTensor values;
    values.shape = out[i].shape;
    values.elements = out[i].elements;
    if (!values.allocate())
      return fail(status, STRATA_OUT_OF_MEMORY,
                  "%s: out of memory for parameter '%s'", path.c_str(),
                  name.c_str());
    if (strata_status_code code =
            readParameter(ckpt, name, values, like.size(), status))
      return code;
    if (strata_status_code code =
            quantizeInto(values, out[i], out[scales[i]],
                         (found != ckpt.tensors.end()
                              ? found->second.first->path()
                              : ckpt.name) +
                             ": tensor '" + name + "'",
                         status))
      return code;
    filled[i] = filled[scales[i]] = true;
  }
  // Static w8a8's activation parameters: calibrated values from the file,
  // or (a float checkpoint) none yet.
  std::vector<ActivationRole> roles = activationParams(exe);
  if (uncalibrated)
    *uncalibrated = false;
  for (size_t i = 0; i < like.size(); ++i) {
    if (!roles[i])
      continue;
    std::string name = params->Get(i)->name()->str();
    if (ckpt.tensors.count(name)) {
      if (strata_status_code code =
              readParameter(ckpt, name, out[i], like.size(), status))
        return code;
      if (strata_status_code code = checkLoadedActivations(
              out[i], roles[i], ckpt.name + ": tensor '" + name + "'", status))
        return code;
    } else if (uncalibrated) {
      auto *v = reinterpret_cast<float *>(out[i].data.get());
      std::fill(v, v + out[i].elements, roles[i] == kInputScale ? 1.0f : 0.0f);
      *uncalibrated = true;
    } else {
      return fail(status, STRATA_NOT_FOUND,
                  "%s: no tensor '%s', the calibrated activations of a w8a8 "
                  "model (calibrate with strata-run quantize "
                  "--calibration-data)",
                  ckpt.name.c_str(), name.c_str());
    }
    filled[i] = true;
  }
  // Row sums are computed from their weights (Weights::sync), never read.
  std::vector<int> rowSums = rowSumsSources(exe);
  for (size_t i = 0; i < like.size(); ++i)
    if (rowSums[i] >= 0)
      filled[i] = true;
  for (size_t i = 0; i < like.size(); ++i)
    if (!filled[i])
      if (strata_status_code code =
              readParameter(ckpt, params->Get(i)->name()->str(), out[i],
                            like.size(), status))
        return code;
  // Scales read from the file must be usable.
  for (size_t i = 0; i < like.size(); ++i) {
    int scale = scales[i];
    if (scale >= 0 && !filled[i])
      if (strata_status_code code = checkLoadedScales(
              out[scale],
              ckpt.name + ": tensor '" +
                  params->Get(scale)->name()->str() + "'",
              status))
        return code;
  }
  return STRATA_OK;
}

strata_status_code writeCheckpoint(const std::string &path,
                                   const strata::fb::Executable *exe,
                                   const Weights &weights,
                                   const strata_save_options &options,
                                   strata_status *status) {
  std::vector<strata_dtype> dtypes(weights.size());
  // Int8 weights' scales stay f32 whatever the float dtype asked: rounding
  // them would change every value of their rows.
  std::vector<bool> isScale = isWeightScale(weightScales(exe));
  for (size_t i = 0; i < weights.size(); ++i) {
    dtypes[i] = weights[i].dtype;
    if (options.dtype >= 0) {
      auto wanted = static_cast<strata_dtype>(options.dtype);
      if (!isFloat(wanted))
        return fail(status, STRATA_INVALID_ARGUMENT,
                    "%s: weights are saved as F32, BF16 or F16, not dtype %d",
                    path.c_str(), options.dtype);
      if (isFloat(dtypes[i]) && !isScale[i])
        dtypes[i] = wanted;
    }
  }
  // Everything but the row sums the runtime computes.
  std::vector<int> rowSums = rowSumsSources(exe);
  std::vector<size_t> stored;
  for (size_t i = 0; i < weights.size(); ++i)
    if (rowSums[i] < 0)
      stored.push_back(i);
  bool sharded = options.max_shard_bytes > 0 || isDirectory(path);
  if (!sharded)
    return writeFile(path, exe, weights, stored, dtypes, status);
  if (!isDirectory(path) && mkdir(path.c_str(), 0777) != 0)
    return fail(status, STRATA_IO_ERROR,
                "%s: cannot create the checkpoint directory: %s", path.c_str(),
                std::strerror(errno));
  // Shards in table order, each up to the limit (a larger tensor alone).
  std::vector<std::vector<size_t>> shards(1);
  uint64_t limit = options.max_shard_bytes ? options.max_shard_bytes
                                           : UINT64_MAX,
           filled = 0;
  for (size_t i : stored) {
    uint64_t bytes = weights[i].elements * dtypeSize(dtypes[i]);
    if (!shards.back().empty() && filled + bytes > limit) {
      shards.emplace_back();
      filled = 0;
    }
    shards.back().push_back(i);
    filled += bytes;
  }
  std::string dir = endsWith(path, "/") ? path : path + "/";
  std::string index = "{\"metadata\":{\"format\":\"strata\"},\"weight_map\":{";
  char shardName[64];
  for (size_t s = 0; s < shards.size(); ++s) {
    std::snprintf(shardName, sizeof(shardName),
                  "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    if (strata_status_code code =
            writeFile(dir + shardName, exe, weights, shards[s], dtypes, status))
      return code;
    for (size_t i : shards[s])
      index += std::string(index.back() == '{' ? "" : ",") + "\"" +
               jsonEscape(exe->parameters()->Get(i)->name()->str()) + "\":\"" +
               shardName +
               "\"";
  }
  index += "}}\n";
  // The index goes last: a complete index means complete shards.
  std::string error;
  if (!writeFile(dir + kIndexName, index, error))
    return fail(status, STRATA_IO_ERROR, "%s", error.c_str());
  return ok(status);
}

strata_status_code writeTensors(const std::string &path,
                                const std::vector<std::string> &names,
                                const std::vector<const HostTensor *> &tensors,
                                strata_status *status) {
  std::vector<strata_dtype> dtypes;
  for (const HostTensor *t : tensors)
    dtypes.push_back(t->dtype);
  return writeSafetensors(path, names, tensors, dtypes, status);
}

strata_status_code readTensors(const std::string &path,
                               const std::vector<std::string> &names,
                               std::vector<HostTensor> &out,
                               strata_status *status) {
  Checkpoint ckpt;
  if (strata_status_code code = ckpt.open(path, status))
    return code;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!ckpt.tensors.count(names[i]))
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "%s: missing tensor '%s'", path.c_str(), names[i].c_str());
    if (strata_status_code code =
            readTensor(ckpt, names[i], out[i].shape, out[i], 0, status))
      return code;
  }
  return STRATA_OK;
}

} // namespace strata::runtime

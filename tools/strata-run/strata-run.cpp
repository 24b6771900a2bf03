//===- strata-run.cpp - run Strata executables ------------------*- C++ -*-===//
//
// The runtime's command-line front end. It uses only the C API of
// runtime/strata.h, as an embedding program would.
//
//===----------------------------------------------------------------------===//

#include "runtime/strata.h"
#include "runtime/OutputFile.h"
#include "tools/strata-run/Eval.h"
#include "tools/strata-run/Quantize.h"
#include "tools/strata-run/Ranks.h"
#include "tools/strata-run/Train.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <sys/resource.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using strata::tools::addCollectiveTimeout;
using strata::tools::Ranks;

namespace {

const char *dtypeName(strata_dtype dtype) {
  switch (dtype) {
  case STRATA_F32:
    return "f32";
  case STRATA_BF16:
    return "bf16";
  case STRATA_F16:
    return "f16";
  case STRATA_I32:
    return "i32";
  case STRATA_I64:
    return "i64";
  case STRATA_I8:
    return "i8";
  case STRATA_U8:
    return "u8";
  }
  return "?";
}

/// The parallel, training and inference plan, one line each.
void printPlan(const strata_executable *exe) {
  strata_status status;
  strata_plan_info p;
  if (strata_executable_get_plan(exe, &p, &status) != STRATA_OK)
    return;
  if (p.has_parallel) {
    std::string mesh;
    int64_t ranks = 1;
    for (size_t i = 0; i < p.mesh_rank; ++i) {
      mesh += (i ? " x " : "") + std::string(p.mesh_axes[i]) + " " +
              std::to_string(p.mesh_shape[i]);
      ranks *= p.mesh_shape[i];
    }
    std::printf("parallel: tp %lld, pp %lld, dp %lld, ep %lld, ZeRO stage "
                "%d, %lld micro-batches; mesh %s (%lld ranks)\n",
                (long long)p.tp, (long long)p.pp, (long long)p.dp,
                (long long)p.ep, p.zero_stage, (long long)p.micro_batches,
                mesh.c_str(), (long long)ranks);
    if (p.has_tensor_parallel_program)
      std::printf("tensor-parallel program over %lld tensor-parallel ranks "
                  "(mpirun -np %lld)\n",
                  (long long)p.tp, (long long)ranks);
    if (p.has_expert_parallel_program)
      std::printf("expert-parallel program: routed experts split over %lld "
                  "expert-parallel ranks, tokens exchanged all-to-all "
                  "(mpirun -np %lld)\n",
                  (long long)p.ep, (long long)ranks);
    if (p.pipeline_stages) {
      std::string layers;
      for (size_t k = 0; k < p.pipeline_stages && k < STRATA_MAX_STAGES; ++k) {
        int64_t first = p.stage_first_layer[k];
        int64_t last = first + p.stage_num_layers[k] - 1;
        layers += (k ? ", " : "") + std::to_string(first) +
                  (last > first ? "-" + std::to_string(last) : "");
      }
      std::printf("pipeline program: %zu stages, layers %s (mpirun -np "
                  "%lld)\n",
                  p.pipeline_stages, layers.c_str(), (long long)ranks);
    }
  }
  if (p.has_training) {
    char scaling[128] = "";
    if (p.dynamic_loss_scaling)
      std::snprintf(scaling, sizeof(scaling),
                    " with dynamic loss scaling from %g, doubled after %lld "
                    "steps without an overflow",
                    p.loss_scale_init,
                    (long long)p.loss_scale_growth_interval);
    std::printf("training: %s lr %g, weight decay %g, betas %g/%g, eps %g; "
                "%s schedule, warmup %lld of %lld steps, floor %g x lr; "
                "clip %g; accumulation %lld; %s%s; checkpoint every %lld "
                "steps, keep %lld; batch %lld x %lld, seed %lld, ignore "
                "index %lld\n",
                p.optimizer, p.lr, p.weight_decay, p.beta1, p.beta2, p.eps,
                p.schedule, (long long)p.warmup_steps,
                (long long)p.total_steps, p.min_lr_ratio, p.gradient_clipping,
                (long long)p.accumulation_steps, p.precision,
                scaling,
                (long long)p.checkpoint_interval,
                (long long)p.checkpoint_keep_last, (long long)p.batch_size,
                (long long)p.seq_len, (long long)p.seed,
                (long long)p.ignore_index);
  }
  if (p.has_inference)
    std::printf("inference: batches of up to %lld sequences, %lld tokens\n",
                (long long)p.max_batch_size, (long long)p.max_tokens);
}

/// Prints what an executable holds: model, entry points, parameter table.
int inspect(const std::string &path, bool listParameters) {
  strata_status status;
  strata_executable *exe = nullptr;
  if (strata_executable_load_file(path.c_str(), &exe, &status) != STRATA_OK) {
    std::fprintf(stderr, "error: %s\n", status.message);
    return 1;
  }
  strata_executable_info info;
  strata_executable_get_info(exe, &info, &status);
  std::printf("model %s: format %u, target %s (%s)\n", info.model_name,
              info.format_version, info.target, info.cpu);
  std::printf("vocab %lld, hidden %lld, layers %lld, max sequence %lld, "
              "bos %lld, eos %lld, pad %lld\n",
              (long long)info.vocab_size, (long long)info.hidden_size,
              (long long)info.num_layers, (long long)info.max_seq_len,
              (long long)info.bos_token_id, (long long)info.eos_token_id,
              (long long)info.pad_token_id);
  std::printf("kernel libraries: %zu\n", info.num_kernel_libraries);
  if (const char *cpu = strata_executable_host_cpu(exe); cpu && *cpu)
    std::printf("this machine runs the kernels built for %s\n", cpu);
  for (size_t i = 0; i < info.num_entry_points; ++i) {
    const char *name;
    size_t args, results;
    strata_executable_get_entry_point(exe, i, &name, &args, &results, &status);
    std::printf("entry point %s: %zu arguments, %zu results\n", name, args,
                results);
    int64_t buffers, slots, staticBytes, dynamicSlots;
    if (strata_executable_get_memory_plan(exe, i, &buffers, &slots,
                                          &staticBytes, &dynamicSlots,
                                          &status) == STRATA_OK &&
        buffers > 0)
      std::printf("  memory plan: %lld buffers in %lld arena slots (%lld "
                  "sized by the input shapes, %lld bytes fixed)\n",
                  (long long)buffers, (long long)slots,
                  (long long)dynamicSlots, (long long)staticBytes);
  }
  printPlan(exe);
  std::printf("parameters: %zu (%lld elements)\n", info.num_parameters,
              (long long)info.total_parameter_elements);
  for (size_t i = 0; listParameters && i < info.num_parameters; ++i) {
    strata_parameter_info p;
    strata_executable_get_parameter(exe, i, &p, &status);
    std::string shape;
    for (size_t d = 0; d < p.rank; ++d)
      shape += (d ? ", " : "") + std::to_string(p.shape[d]);
    std::printf("  %-56s [%s] %s\n", p.name, shape.c_str(), dtypeName(p.dtype));
  }
  strata_executable_release(exe);
  return 0;
}

/// Parses "1,2,3" into token ids.
bool parseTokens(const std::string &text, std::vector<int32_t> &tokens) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(
        pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno || v < INT32_MIN || v > INT32_MAX)
      return false;
    tokens.push_back(static_cast<int32_t>(v));
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return !tokens.empty();
}

/// parseTokens with the error message strata-run prints.
bool parseTokensOrReport(const std::string &text,
                         std::vector<int32_t> &tokens) {
  if (parseTokens(text, tokens))
    return true;
  std::fprintf(stderr,
               "error: --tokens: expected comma-separated token ids, "
               "got '%s'\n",
               text.c_str());
  return false;
}

/// Loads an executable and creates a session with seeded weights.
struct Loaded {
  strata_executable *exe = nullptr;
  strata_session *session = nullptr;
  ~Loaded() {
    strata_session_release(session);
    strata_executable_release(exe);
  }
};

/// Where to save the initialised weights (--save-weights), if anywhere.
std::string saveWeightsPath;
/// How to save them: --save-dtype, --shard-size.
std::string saveDtype = "keep";
uint64_t shardBytes = 0;
/// Weights to load (--weights) instead of initialising from the seed.
std::string weightsPath;
/// --no-kv-cache: recompute the sequence at every step.
bool noKvCache = false;
/// --device: auto (the executable's target), cpu or cuda.
std::string deviceName = "auto";
/// --threads: CPU threads for parallel loops (0: one per available CPU).
unsigned numThreads = 0;
/// --collective-timeout: seconds a rank waits for the others.
double collectiveTimeout = 600;

/// --seed and --sample-seed: a decimal integer in [0, 2^64). CLI11 alone
/// reads "-1" as 2^64 - 1.
std::string checkSeed(std::string &text) {
  if (text.empty() ||
      text.find_first_not_of("0123456789") != std::string::npos)
    return "expected an integer from 0 to 2^64 - 1, got '" + text + "'";
  errno = 0;
  std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE)
    return "'" + text + "' is larger than 2^64 - 1";
  return {};
}

strata_device_kind deviceKind() {
  if (deviceName == "cpu")
    return STRATA_DEVICE_CPU;
  if (deviceName == "cuda")
    return STRATA_DEVICE_CUDA;
  return STRATA_DEVICE_AUTO;
}

strata_save_options saveOptions() {
  strata_save_options options;
  strata_save_options_initialize(&options);
  options.dtype = saveDtype == "f32"    ? STRATA_F32
                  : saveDtype == "bf16" ? STRATA_BF16
                  : saveDtype == "f16"  ? STRATA_F16
                                        : -1;
  options.max_shard_bytes = shardBytes;
  return options;
}

bool load(const std::string &path, uint64_t seed, Loaded &out) {
  strata_status status;
  strata_save_options save = saveOptions();
  Ranks &ranks = strata::tools::processRanks();
  if (strata_executable_load_file(path.c_str(), &out.exe, &status) ||
      strata_session_create_on(out.exe, deviceKind(), &out.session, &status)) {
    // The other ranks would wait for this one in the join.
    if (ranks.size() > 1)
      ranks.fail(status);
    std::fprintf(stderr, "error: %s\n", status.message);
    return false;
  }
  if (!ranks.join(out.session))
    return false;
  if (strata_session_set_num_threads(out.session, numThreads, &status) ||
      (weightsPath.empty()
           ? strata_session_init_parameters(out.session, seed, &status)
           : strata_session_load_parameters(out.session, weightsPath.c_str(),
                                            &status)) ||
      (!saveWeightsPath.empty() && ranks.leader() &&
       strata_session_save_parameters_with(
           out.session, saveWeightsPath.c_str(), &save, &status)) ||
      strata_session_use_kv_cache(out.session, !noKvCache, &status)) {
    // Alone on one rank (a weights file another node lacks): the others
    // would wait for it in the next collective.
    if (ranks.size() > 1)
      ranks.fail(status);
    std::fprintf(stderr, "error: %s\n", status.message);
    return false;
  }
  return true;
}

/// Generates for one prompt, or for a batch (one --tokens per sequence,
/// run together with padding); prints each sequence's new tokens on a line.
int infer(const std::string &path, uint64_t seed,
          const std::vector<std::string> &promptTexts, size_t maxNew,
          const strata_sampling_options &sampling, bool verbose) {
  std::vector<std::vector<int32_t>> prompts(promptTexts.size());
  for (size_t b = 0; b < prompts.size(); ++b)
    if (!parseTokensOrReport(promptTexts[b], prompts[b]))
      return 1;
  Loaded loaded;
  if (!load(path, seed, loaded))
    return 1;
  size_t batch = prompts.size();
  std::vector<int32_t> out(batch * maxNew);
  std::vector<size_t> counts(batch, 0);
  std::vector<const int32_t *> starts;
  std::vector<size_t> lengths;
  for (const auto &p : prompts) {
    starts.push_back(p.data());
    lengths.push_back(p.size());
  }
  strata_status status;
  auto start = std::chrono::steady_clock::now();
  strata_status_code code =
      batch == 1 ? strata_session_generate(loaded.session, starts[0],
                                           lengths[0], maxNew, &sampling,
                                           out.data(), &counts[0], &status)
                 : strata_session_generate_batch(
                       loaded.session, starts.data(), lengths.data(), batch,
                       maxNew, &sampling, out.data(), counts.data(), &status);
  if (code) {
    std::fprintf(stderr, "error: %s\n", status.message);
    return 1;
  }
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  size_t total = 0;
  for (size_t c : counts)
    total += c;
  if (verbose)
    std::printf("generated %zu tokens%s in %.1f ms (%.2f ms/token, %s, "
                "%s)\n",
                total,
                batch == 1
                    ? ""
                    : (" for " + std::to_string(batch) + " sequences").c_str(),
                ms, total ? ms / total : 0.0,
                sampling.temperature > 0 ? "sampled" : "greedy",
                strata_session_device_name(loaded.session));
  for (size_t b = 0; b < batch; ++b) {
    for (size_t i = 0; i < counts[b]; ++i)
      std::printf("%s%d", i ? "," : "", out[b * maxNew + i]);
    std::printf("\n");
  }
  return 0;
}

int logits(const std::string &path, uint64_t seed,
           const std::string &tokenText) {
  std::vector<int32_t> tokens;
  if (!parseTokensOrReport(tokenText, tokens))
    return 1;
  Loaded loaded;
  if (!load(path, seed, loaded))
    return 1;
  strata_executable_info info;
  strata_status status;
  strata_executable_get_info(loaded.exe, &info, &status);
  std::vector<float> out(tokens.size() * info.vocab_size);
  if (strata_session_forward(loaded.session, tokens.data(), 1, tokens.size(),
                             out.data(), out.size(), &status)) {
    std::fprintf(stderr, "error: %s\n", status.message);
    return 1;
  }
  size_t nonFinite = 0;
  for (size_t s = 0; s < tokens.size(); ++s) {
    for (int64_t v = 0; v < info.vocab_size; ++v) {
      float x = out[s * info.vocab_size + v];
      nonFinite += !std::isfinite(x);
      // printf writes "-nan" for some NaNs: one spelling for all.
      if (std::isnan(x))
        std::printf("%snan", v ? " " : "");
      else
        std::printf("%s%.9g", v ? " " : "", x);
    }
    std::printf("\n");
  }
  if (nonFinite)
    std::fprintf(stderr,
                 "warning: %zu of %zu logits are NaN or infinite (do the "
                 "weights hold NaN or Inf?)\n",
                 nonFinite, out.size());
  return 0;
}

/// grad: the loss and every parameter's gradient on a batch (one --tokens
/// per sequence, all of one length; labels default to the next tokens),
/// written as a checkpoint under the parameters' names.
int grad(const std::string &path, uint64_t seed,
         const std::vector<std::string> &tokenTexts,
         const std::vector<std::string> &labelTexts,
         const std::string &output) {
  std::vector<int32_t> tokens, labels;
  size_t seq = 0;
  auto gather = [&](const std::vector<std::string> &texts,
                    std::vector<int32_t> &all, const char *what) {
    for (const std::string &text : texts) {
      std::vector<int32_t> row;
      if (!parseTokensOrReport(text, row))
        return false;
      if (seq && row.size() != seq) {
        std::fprintf(stderr,
                     "error: every --%s needs %zu ids (one length per "
                     "batch), got %zu\n",
                     what, seq, row.size());
        return false;
      }
      seq = row.size();
      all.insert(all.end(), row.begin(), row.end());
    }
    return true;
  };
  if (!gather(tokenTexts, tokens, "tokens") ||
      !gather(labelTexts, labels, "labels"))
    return 1;
  if (!labelTexts.empty() && labelTexts.size() != tokenTexts.size()) {
    std::fprintf(stderr, "error: %zu --labels for %zu --tokens\n",
                 labelTexts.size(), tokenTexts.size());
    return 1;
  }
  Loaded loaded;
  if (!load(path, seed, loaded))
    return 1;
  strata_status status;
  float loss = 0;
  strata_save_options save = saveOptions();
  if (strata_session_compute_gradients(
          loaded.session, tokens.data(), labels.empty() ? nullptr : labels.data(),
          tokenTexts.size(), seq, &loss, &status) ||
      strata_session_save_gradients(loaded.session, output.c_str(), &save,
                                    &status)) {
    std::fprintf(stderr, "error: %s\n", status.message);
    return 1;
  }
  std::printf("loss %.9g\n", loss);
  return 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// --output: the results' f32 values back to back, replacing the file only
/// once all of them are written.
bool writeResults(const std::string &path,
                  const std::vector<std::vector<float>> &results) {
  strata::runtime::OutputFile file;
  std::string error;
  bool good = file.open(path, error);
  for (size_t r = 0; good && r < results.size(); ++r)
    good = file.write(results[r].data(), results[r].size() * sizeof(float),
                      error);
  if (good && file.commit(error))
    return true;
  std::fprintf(stderr, "error: %s\n", error.c_str());
  return false;
}

/// Calls an entry point whose arguments are all parameters (a kernel
/// module): prints each result's shape and sum, then the median wall and
/// device times; --output writes the results' f32 values back to back.
int call(const std::string &path, uint64_t seed, const std::string &name,
         size_t repeats, const std::string &outputPath) {
  Loaded loaded;
  if (!load(path, seed, loaded))
    return 1;
  strata_status status;
  strata_executable_info info;
  strata_executable_get_info(loaded.exe, &info, &status);
  size_t entry = info.num_entry_points, numResults = 0;
  for (size_t i = 0; i < info.num_entry_points; ++i) {
    const char *epName;
    size_t numArgs, numRes;
    strata_executable_get_entry_point(loaded.exe, i, &epName, &numArgs, &numRes,
                                      &status);
    if (name == epName)
      entry = i, numResults = numRes;
  }
  if (entry == info.num_entry_points) {
    std::fprintf(stderr, "error: no entry point '%s'\n", name.c_str());
    return 1;
  }
  std::vector<std::vector<float>> results(numResults);
  std::vector<std::vector<int64_t>> shapes(numResults);
  std::vector<float *> outputs;
  std::vector<size_t> capacities;
  for (size_t r = 0; r < numResults; ++r) {
    const int64_t *shape;
    size_t rank;
    strata_executable_get_result_shape(loaded.exe, entry, r, &shape, &rank,
                                       &status);
    size_t elements = 1;
    for (size_t i = 0; i < rank; ++i)
      elements *= shape[i] < 0 ? 0 : static_cast<size_t>(shape[i]);
    shapes[r].assign(shape, shape + rank);
    results[r].resize(elements);
    outputs.push_back(results[r].data());
    capacities.push_back(elements);
  }
  std::vector<double> wall, device;
  for (size_t k = 0; k < repeats; ++k) {
    auto t0 = std::chrono::steady_clock::now();
    if (strata_session_call(loaded.session, name.c_str(), outputs.data(),
                            capacities.data(), numResults, &status)) {
      std::fprintf(stderr, "error: %s\n", status.message);
      return 1;
    }
    wall.push_back(std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - t0)
                       .count());
    device.push_back(strata_session_last_device_ms(loaded.session));
  }
  for (size_t r = 0; r < numResults; ++r) {
    double sum = 0;
    for (float v : results[r])
      sum += v;
    std::printf("result %zu [", r);
    for (size_t i = 0; i < shapes[r].size(); ++i)
      std::printf("%s%lld", i ? "x" : "", (long long)shapes[r][i]);
    std::printf("] sum %.9g\n", sum);
  }
  if (!outputPath.empty() && !writeResults(outputPath, results))
    return 1;
  std::printf("call_ms %.3f device_ms %.3f (%s, median of %zu)\n", median(wall),
              median(device), strata_session_device_name(loaded.session),
              repeats);
  return 0;
}

/// Times forward over a prompt of `length` tokens (prefill) and greedy
/// generation of `steps` tokens (decode), median of `repeats` runs.
/// bench --grad: the loss and every gradient on a [batch, length] batch
/// (loss_grad), median of `repeats`; the process's peak memory after.
int benchGradients(const std::string &path, uint64_t seed, size_t length,
                   size_t batch, size_t repeats) {
  Loaded loaded;
  if (!load(path, seed, loaded))
    return 1;
  strata_executable_info info;
  strata_status status;
  strata_executable_get_info(loaded.exe, &info, &status);
  std::vector<int32_t> tokens(batch * length);
  for (size_t i = 0; i < tokens.size(); ++i)
    tokens[i] = static_cast<int32_t>((i * 7919 + 13) % info.vocab_size);
  std::vector<double> times;
  float loss = 0;
  for (size_t r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    if (strata_session_compute_gradients(loaded.session, tokens.data(),
                                         nullptr, batch, length, &loss,
                                         &status)) {
      std::fprintf(stderr, "error: %s\n", status.message);
      return 1;
    }
    auto t1 = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double ms = median(times);
  std::printf("grad_ms %.3f train_tokens_per_s %.1f loss %.6f "
              "peak_rss_bytes %lld workspace_bytes %zu\n",
              ms, batch * length / (ms / 1000.0), loss,
              static_cast<long long>(usage.ru_maxrss) * 1024,
              strata_session_workspace_bytes(loaded.session));
  return 0;
}

int bench(const std::string &path, uint64_t seed, size_t length, size_t steps,
          size_t repeats) {
  Loaded loaded;
  if (!load(path, seed, loaded))
    return 1;
  strata_executable_info info;
  strata_status status;
  strata_executable_get_info(loaded.exe, &info, &status);
  if (length + steps > static_cast<size_t>(info.max_seq_len)) {
    std::fprintf(stderr,
                 "error: prefill %zu + decode %zu exceeds the "
                 "model's maximum sequence %lld\n",
                 length, steps, (long long)info.max_seq_len);
    return 1;
  }
  std::vector<int32_t> tokens(length);
  for (size_t i = 0; i < length; ++i)
    tokens[i] = static_cast<int32_t>((i * 7919 + 13) % info.vocab_size);
  std::vector<float> logits(length * info.vocab_size);
  std::vector<double> prefill, decode, step;
  std::vector<int32_t> out(steps);
  double lastStepDeviceMs = -1;
  for (size_t r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    if (strata_session_forward(loaded.session, tokens.data(), 1, length,
                               logits.data(), logits.size(), &status)) {
      std::fprintf(stderr, "error: %s\n", status.message);
      return 1;
    }
    auto t1 = std::chrono::steady_clock::now();
    size_t count = 0;
    strata_session_generate_greedy(loaded.session, tokens.data(), length, steps,
                                   out.data(), &count, &status);
    auto t2 = std::chrono::steady_clock::now();
    lastStepDeviceMs = strata_session_last_device_ms(loaded.session);
    // The same generation stopped after its first token: the difference
    // is the cost of the remaining steps alone.
    size_t first = 0;
    strata_session_generate_greedy(loaded.session, tokens.data(), length, 1,
                                   out.data(), &first, &status);
    auto t3 = std::chrono::steady_clock::now();
    prefill.push_back(
        std::chrono::duration<double, std::milli>(t1 - t0).count());
    decode.push_back(
        std::chrono::duration<double, std::milli>(t2 - t1).count() /
        std::max<size_t>(count, 1));
    if (count > first)
      step.push_back(
          (std::chrono::duration<double, std::milli>(t2 - t1).count() -
           std::chrono::duration<double, std::milli>(t3 - t2).count()) /
          static_cast<double>(count - first));
  }
  double p = median(prefill), d = median(decode);
  // The GPU's own time for the last decode step (-1 on the CPU): against
  // the wall time per token, it shows how much is host-side overhead.
  std::printf("prefill_ms %.3f prefill_tokens_per_s %.1f decode_ms_per_token "
              "%.3f last_step_device_ms %.3f decode_step_ms %.3f "
              "workspace_bytes %zu\n",
              p, length / (p / 1000.0), d, lastStepDeviceMs,
              step.empty() ? -1.0 : median(step),
              strata_session_workspace_bytes(loaded.session));
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  strata::runtime::ignoreFileSizeSignal();
  CLI::App app{"strata-run: load and run Strata executables"};
  app.require_subcommand(1);
  std::string path;
  bool listParameters = false;
  CLI::App *inspectCmd = app.add_subcommand(
      "inspect", "Verify an executable and print what it holds");
  inspectCmd->add_option("executable", path, "A .strata file")->required();
  inspectCmd->add_flag("--parameters", listParameters,
                       "List the parameter table");
  uint64_t seed = 0;
  CLI::Validator seedCheck(checkSeed, "SEED");
  std::string tokens;
  size_t maxNew = 16;
  bool verbose = false;
  CLI::App *inferCmd = app.add_subcommand(
      "infer", "Generate tokens (greedy, or sampled with --temperature); "
               "prints the new token ids, comma-separated, one line per "
               "prompt (the last line for one prompt)");
  inferCmd->add_option("executable", path, "A .strata file")->required();
  inferCmd->add_option("--seed", seed, "Initialise the weights from this seed")
      ->check(seedCheck);
  std::vector<std::string> prompts;
  inferCmd
      ->add_option("--tokens", prompts,
                   "Prompt token ids: 1,2,3. Repeat for a batch (run "
                   "together, left-padded; one output line per prompt, in "
                   "order; sequence b samples with --sample-seed + b)")
      ->required();
  inferCmd->add_option("--max-new-tokens", maxNew, "Tokens to generate")
      ->check(CLI::Range(size_t(0), size_t(1) << 24));
  inferCmd->add_flag("--verbose", verbose, "Print timings");
  inferCmd->add_flag("--no-kv-cache", noKvCache,
                     "Recompute the whole sequence at every step");
  strata_sampling_options sampling;
  strata_sampling_options_initialize(&sampling);
  inferCmd
      ->add_option("--temperature", sampling.temperature,
                   "Sampling temperature (0: greedy)")
      ->check(CLI::Range(0.0f, 100.0f));
  inferCmd
      ->add_option("--top-k", sampling.top_k,
                   "Keep the k most likely tokens (0: all)")
      ->check(CLI::Range(0, 1 << 24));
  inferCmd
      ->add_option("--top-p", sampling.top_p,
                   "Keep the smallest set reaching this probability")
      ->check(CLI::Range(1e-9f, 1.0f));
  inferCmd
      ->add_option("--sample-seed", sampling.seed,
                   "Seed of the sampling generator")
      ->check(seedCheck);
  CLI::App *logitsCmd = app.add_subcommand(
      "logits", "Run forward on one sequence and print its logits, one "
                "position per line");
  logitsCmd->add_option("executable", path, "A .strata file")->required();
  logitsCmd
      ->add_option("--seed", seed, "Initialise the weights from this seed")
      ->check(seedCheck);
  logitsCmd->add_option("--tokens", tokens, "Token ids: 1,2,3")->required();
  std::vector<std::string> gradTokens, gradLabels;
  std::string gradOutput;
  CLI::App *gradCmd = app.add_subcommand(
      "grad", "Compute the loss and every parameter's gradient on a batch "
              "(an executable compiled with strata-compile --train) and "
              "write the gradients as a checkpoint");
  gradCmd->add_option("executable", path, "A .strata file")->required();
  gradCmd->add_option("--seed", seed, "Initialise the weights from this seed")
      ->check(seedCheck);
  gradCmd
      ->add_option("--tokens", gradTokens,
                   "Token ids of one sequence: 1,2,3 (repeat for a batch; "
                   "all of one length)")
      ->required();
  gradCmd->add_option("--labels", gradLabels,
                      "Labels of each sequence, -100 ignored (default: the "
                      "next token, the last position ignored)");
  gradCmd->add_option("-o,--output", gradOutput,
                      "Where to write the gradients (safetensors; a "
                      "directory or --shard-size: sharded)")
      ->required();
  for (CLI::App *cmd : {inferCmd, logitsCmd, gradCmd}) {
    cmd->add_option("--save-weights", saveWeightsPath,
                    "Also write the weights to this safetensors file (or, "
                    "with --shard-size or for a directory, a sharded "
                    "checkpoint in this directory)");
    cmd->add_option("--weights", weightsPath,
                    "Load the weights from a safetensors file, a sharded "
                    "checkpoint's index JSON, or a directory holding either "
                    "(default: initialise them from --seed)");
  }
  size_t benchLength = 64, benchSteps = 8, benchRepeats = 5;
  CLI::App *benchCmd = app.add_subcommand(
      "bench", "Time prefill (forward over a prompt) and greedy decode");
  benchCmd->add_option("executable", path, "A .strata file")->required();
  benchCmd->add_option("--seed", seed, "Initialise the weights from this seed")
      ->check(seedCheck);
  benchCmd->add_option("--weights", weightsPath, "Load these weights");
  benchCmd->add_flag("--no-kv-cache", noKvCache,
                     "Decode by recomputing the sequence at every step");
  benchCmd->add_option("--prefill", benchLength, "Prompt length")
      ->check(CLI::Range(size_t(1), size_t(1) << 20));
  benchCmd->add_option("--decode", benchSteps, "Tokens to generate")
      ->check(CLI::Range(size_t(1), size_t(1) << 20));
  benchCmd->add_option("--repeats", benchRepeats, "Runs (median reported)")
      ->check(CLI::Range(size_t(1), size_t(1000)));
  bool benchGrad = false;
  size_t benchBatch = 1;
  benchCmd->add_flag("--grad", benchGrad,
                     "Time loss_grad (the loss and every gradient) on "
                     "--batch sequences of --prefill tokens instead "
                     "(strata-compile --train)");
  benchCmd->add_option("--batch", benchBatch, "Sequences per batch (--grad)")
      ->check(CLI::Range(size_t(1), size_t(1) << 16));
  std::string entryName, outputPath;
  size_t callRepeats = 1;
  CLI::App *callCmd = app.add_subcommand(
      "call", "Call an entry point that takes only parameters (a kernel "
              "module compiled from .mlir) and time it");
  callCmd->add_option("executable", path, "A .strata file")->required();
  callCmd->add_option("--entry", entryName, "Entry point name")->required();
  callCmd->add_option("--seed", seed, "Initialise the weights from this seed")
      ->check(seedCheck);
  callCmd->add_option("--weights", weightsPath, "Load these weights");
  callCmd->add_option("--save-weights", saveWeightsPath,
                      "Also write the weights to this safetensors file");
  callCmd->add_option("--repeats", callRepeats, "Calls (median reported)")
      ->check(CLI::Range(size_t(1), size_t(1000)));
  callCmd->add_option("--output", outputPath,
                      "Write the results' f32 values here, back to back");
  for (CLI::App *cmd : {inferCmd, logitsCmd, callCmd, gradCmd}) {
    cmd->add_option("--save-dtype", saveDtype,
                    "Save float weights as f32, bf16 or f16 (default: keep "
                    "each parameter's dtype)")
        ->check(CLI::IsMember({"keep", "f32", "bf16", "f16"}));
    cmd->add_option("--shard-size", shardBytes,
                    "Save a sharded checkpoint: shards of at most this many "
                    "bytes plus model.safetensors.index.json");
  }
  for (CLI::App *cmd : {inferCmd, logitsCmd, benchCmd, callCmd, gradCmd})
    cmd->add_option("--device", deviceName,
                    "auto (where the executable was compiled for), cpu or "
                    "cuda (fails clearly without a CUDA driver or GPU)")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
        ->default_val("auto");
  for (CLI::App *cmd : {inferCmd, logitsCmd, benchCmd, callCmd, gradCmd})
    cmd->add_option("--threads", numThreads,
                    "CPU threads for the kernels' parallel loops (default 0: "
                    "one per available CPU; the results do not depend on it)")
        ->check(CLI::Range(0u, 1024u));
  for (CLI::App *cmd : {inferCmd, logitsCmd, benchCmd, callCmd, gradCmd})
    addCollectiveTimeout(*cmd, collectiveTimeout);
  strata::tools::TrainOptions trainOptions;
  CLI::App *trainCmd = strata::tools::addTrainCommand(app, trainOptions);
  strata::tools::QuantizeOptions quantizeOptions;
  CLI::App *quantizeCmd =
      strata::tools::addQuantizeCommand(app, quantizeOptions);
  strata::tools::EvalOptions evalOptions;
  CLI::App *evalCmd = strata::tools::addEvalCommand(app, evalOptions);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e);
  }
  // One process each, whatever the launcher.
  if (*quantizeCmd)
    return strata::tools::runQuantize(quantizeOptions);
  if (*evalCmd)
    return strata::tools::runEval(evalOptions);
  if (!*inspectCmd &&
      !strata::tools::processRanks().open(*trainCmd
                                              ? trainOptions.collectiveTimeout
                                              : collectiveTimeout))
    return 1;
  if (*trainCmd)
    return strata::tools::runTrain(trainOptions);
  if (*inspectCmd)
    return inspect(path, listParameters);
  if (*inferCmd)
    return infer(path, seed, prompts, maxNew, sampling, verbose);
  if (*logitsCmd)
    return logits(path, seed, tokens);
  if (*gradCmd)
    return grad(path, seed, gradTokens, gradLabels, gradOutput);
  if (*callCmd)
    return call(path, seed, entryName, callRepeats, outputPath);
  if (*benchCmd && benchGrad)
    return benchGradients(path, seed, benchLength, benchBatch, benchRepeats);
  if (*benchCmd)
    return bench(path, seed, benchLength, benchSteps, benchRepeats);
  return 1;
}

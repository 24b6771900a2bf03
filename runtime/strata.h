/*===- strata.h - the Strata runtime C API ----------------------*- C -*-===*
 *
 * A small C API for programs that embed Strata. Every fallible call returns
 * a status code (STRATA_OK is 0) and, when `status` is not NULL, fills it
 * with a message naming what was wrong and where. Handles are opaque; no C++
 * exception crosses this API.
 *
 *===----------------------------------------------------------------------===*/

#ifndef STRATA_RUNTIME_STRATA_H
#define STRATA_RUNTIME_STRATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The runtime is compiled with hidden visibility; what this header declares
 * is what libstrata_runtime.so exports. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

typedef enum strata_status_code {
  STRATA_OK = 0,
  STRATA_INVALID_ARGUMENT = 1,
  STRATA_IO_ERROR = 2,
  STRATA_CORRUPT_EXECUTABLE = 3,
  STRATA_UNSUPPORTED = 4,
  STRATA_OUT_OF_MEMORY = 5,
  STRATA_NOT_FOUND = 6,
  STRATA_INTERNAL_ERROR = 7, /* a bug in the runtime: please report it */
  /* A collective failed or timed out: another rank died, hangs or
   * disagrees. The launch cannot go on: end it (strata_world_abort). */
  STRATA_COMMUNICATION_ERROR = 8,
} strata_status_code;

/* The outcome of a call: a code and a human-readable message. */
typedef struct strata_status {
  strata_status_code code;
  char message[512];
} strata_status;

/* Largest executable the loader accepts (bytes). */
#define STRATA_MAX_EXECUTABLE_BYTES ((uint64_t)1 << 32)

typedef struct strata_executable strata_executable;

typedef enum strata_dtype {
  STRATA_F32 = 0,
  STRATA_BF16 = 1,
  STRATA_F16 = 2,
  STRATA_I32 = 3,
  STRATA_I64 = 4,
  STRATA_I8 = 5,
  STRATA_U8 = 6
} strata_dtype;

/* A parameter of the executable's parameter table. `shape` points into the
 * executable and lives as long as it. An STRATA_I32 parameter is an int8
 * weight's row sums (static w8a8), which the runtime computes from the
 * weight: weights files neither hold nor need it. */
typedef struct strata_parameter_info {
  const char *name;
  const int64_t *shape;
  size_t rank;
  strata_dtype dtype;
  int64_t num_elements;
} strata_parameter_info;

/* Summary of an executable. Strings live as long as the executable. */
typedef struct strata_executable_info {
  uint32_t format_version;
  const char *target; /* "cpu" or "cuda" */
  const char *model_name;
  const char *cpu;
  int64_t vocab_size, hidden_size, num_layers, max_seq_len;
  int64_t bos_token_id, eos_token_id, pad_token_id;
  size_t num_parameters;
  int64_t total_parameter_elements;
  size_t num_entry_points;
  size_t num_kernel_libraries;
} strata_executable_info;

/* The plan an executable was compiled with: its config's parallel,
 * training and inference sections (absent sections: has_* 0, degrees 1).
 * Strings live as long as the executable. */
#define STRATA_MAX_MESH_RANK 8
/* Pipeline stages strata_plan_info lists the layers of. */
#define STRATA_MAX_STAGES 64
typedef struct strata_plan_info {
  int has_parallel;
  int64_t tp, pp, dp, ep;
  int32_t zero_stage; /* 1: optimizer state sharded over data parallelism */
  int64_t micro_batches;
  /* The device mesh: rank r's coordinates are r's digits in mesh_shape,
   * the last axis fastest; mesh_axes names each axis ("pp", "dp", ...). */
  size_t mesh_rank;
  int64_t mesh_shape[STRATA_MAX_MESH_RANK];
  const char *mesh_axes[STRATA_MAX_MESH_RANK];
  int has_training;
  const char *optimizer; /* "AdamW", "Lion", "Sgd" */
  double lr, weight_decay, beta1, beta2, eps;
  const char *schedule; /* "Constant", "LinearWarmup", ... */
  int64_t warmup_steps, total_steps;
  double min_lr_ratio, gradient_clipping;
  int64_t accumulation_steps;
  const char *precision; /* "F32", "BF16", "F16" */
  int dynamic_loss_scaling;
  /* Dynamic loss scaling: the first scale, and the steps without an
   * overflow after which it doubles (it halves on each overflow). */
  double loss_scale_init;
  int64_t loss_scale_growth_interval;
  int64_t checkpoint_interval, checkpoint_keep_last;
  int64_t batch_size, seq_len, seed, ignore_index;
  int has_inference;
  int64_t max_batch_size, max_tokens;
  /* The executable holds a tensor-parallel program (forward and decode
   * partitioned over the plan's tp ranks), which the ranks of a launch of
   * the mesh's size run; 0: every rank would run the whole model. */
  int has_tensor_parallel_program;
  /* Pipeline-parallel executables: the stage programs (one per pp rank) and
   * the layers each holds, [first, first + count); 0 stages otherwise. */
  size_t pipeline_stages;
  int64_t stage_first_layer[STRATA_MAX_STAGES];
  int64_t stage_num_layers[STRATA_MAX_STAGES];
  /* The executable holds an expert-parallel program (routed experts split
   * over the plan's ep ranks, tokens exchanged all-to-all), which the
   * ranks of a launch of the mesh's size run. */
  int has_expert_parallel_program;
} strata_plan_info;

/* Loads and verifies an executable file (flatbuffers verifier plus Strata's
 * own checks on every offset, size, count and index). */
strata_status_code strata_executable_load_file(const char *path,
                                               strata_executable **out,
                                               strata_status *status);
/* The same from memory; the bytes are copied. */
strata_status_code strata_executable_load_memory(const void *data, size_t size,
                                                 strata_executable **out,
                                                 strata_status *status);
void strata_executable_release(strata_executable *executable);

strata_status_code strata_executable_get_info(const strata_executable *exe,
                                              strata_executable_info *out,
                                              strata_status *status);
strata_status_code strata_executable_get_plan(const strata_executable *exe,
                                              strata_plan_info *out,
                                              strata_status *status);
strata_status_code strata_executable_get_parameter(const strata_executable *exe,
                                                   size_t index,
                                                   strata_parameter_info *out,
                                                   strata_status *status);
/* The name of entry point `index` ("forward", "loss"). */
strata_status_code
strata_executable_get_entry_point(const strata_executable *exe, size_t index,
                                  const char **name, size_t *num_arguments,
                                  size_t *num_results, strata_status *status);

/* Entry point `entry`'s memory plan: how many temporary buffers share how
 * many arena slots (0 and 0 without a plan), and the bytes of the slots
 * whose size does not depend on the input shapes (summed; shape-dependent
 * slots are counted in `dynamic_slots`). */
strata_status_code strata_executable_get_memory_plan(
    const strata_executable *exe, size_t entry, int64_t *buffers,
    int64_t *slots, int64_t *static_bytes, int64_t *dynamic_slots,
    strata_status *status);

/* The shape of result `result` of entry point `entry` (-1 for dynamic
 * dims); the array lives as long as the executable. */
strata_status_code
strata_executable_get_result_shape(const strata_executable *exe, size_t entry,
                                   size_t result, const int64_t **shape,
                                   size_t *rank, strata_status *status);

/*===----------------------------------------------------------------------===*
 * Sessions: weights and calls into the executable's kernels
 *===----------------------------------------------------------------------===*/

/* The CPU build of the kernels a session of `exe` runs on this machine: a
 * portable executable (strata-compile without --cpu) holds builds for
 * x86-64-v2, -v3 and -v4 and runs the best this CPU supports; one built
 * with --cpu has that build only. STRATA_CPU=<name> in the environment
 * picks a build instead. "" for CUDA executables; NULL when STRATA_CPU
 * names no build the executable has. Lives as long as the executable. */
const char *strata_executable_host_cpu(const strata_executable *exe);

typedef struct strata_session strata_session;

/* Loads the executable's kernel library (from memory: no file is left
 * behind) and allocates its parameters, on the device the executable was
 * compiled for (strata_session_create_on with STRATA_DEVICE_AUTO). The
 * executable must outlive the session. */
strata_status_code strata_session_create(const strata_executable *exe,
                                         strata_session **out,
                                         strata_status *status);
void strata_session_release(strata_session *session);

/* Where a session runs. An executable is compiled for one device: AUTO
 * runs it there; CPU or CUDA insist, and fail with a clear message when the
 * executable targets the other one. A CUDA session opens the driver
 * (libcuda.so.1, with dlopen) and device 0; without a driver or a GPU it
 * fails with STRATA_UNSUPPORTED and a message that starts 'no CUDA
 * device'. */
typedef enum strata_device_kind {
  STRATA_DEVICE_AUTO = 0,
  STRATA_DEVICE_CPU = 1,
  STRATA_DEVICE_CUDA = 2
} strata_device_kind;

strata_status_code strata_session_create_on(const strata_executable *exe,
                                            strata_device_kind device,
                                            strata_session **out,
                                            strata_status *status);

/* The threads a CPU session runs parallel loops on: the calling thread and
 * threads - 1 workers of the session's pool; 0 (the default) is one per
 * CPU the process may run on. Loops too small to pay for a hand-off run on
 * the calling thread alone. Results do not depend on the thread count. A
 * CUDA session accepts and ignores the setting. */
strata_status_code strata_session_set_num_threads(strata_session *session,
                                                  unsigned threads,
                                                  strata_status *status);
unsigned strata_session_num_threads(const strata_session *session);

/* Bytes of the session's workspace: the arena in which each entry point's
 * memory plan places its temporary buffers (slots reused by buffers whose
 * lifetimes do not overlap), in host memory on the CPU and device memory
 * on CUDA. It grows to the largest call so far (on CUDA with a quarter to
 * spare) and is reused by later calls; 0 before the first call. */
size_t strata_session_workspace_bytes(const strata_session *session);

/* "cpu", or "cuda: <GPU name> (sm_XY)". Lives as long as the session. */
const char *strata_session_device_name(const strata_session *session);

/* Milliseconds the GPU spent on the last entry-point call (CUDA events
 * around its launches); -1 on the CPU or before a successful call. */
double strata_session_last_device_ms(const strata_session *session);

/* Calls entry point `name` of an executable whose arguments are all
 * parameters (a kernel module compiled from .mlir, see docs/cli.md).
 * Result r, which must have a static shape, is copied row-major into
 * outputs[r], which holds capacities[r] floats. */
strata_status_code strata_session_call(strata_session *session,
                                       const char *name, float *const *outputs,
                                       const size_t *capacities,
                                       size_t num_outputs,
                                       strata_status *status);

/* Fills every parameter from its initializer (normal(0, std), zeros, ones)
 * with a deterministic generator seeded by `seed` and the parameter's name
 * (docs/embedding.md gives the algorithm). */
strata_status_code strata_session_init_parameters(strata_session *session,
                                                  uint64_t seed,
                                                  strata_status *status);

/* Loads every parameter from a checkpoint: a safetensors file, a sharded
 * HuggingFace checkpoint (its model.safetensors.index.json, whose shards
 * sit next to it), or a directory holding either. Files are mapped and
 * each tensor converted straight into the parameter's buffer (F32, BF16
 * and F16 convert to the dtype the executable declares; widening is exact,
 * narrowing rounds to nearest even). Routed experts may be stacked or one
 * tensor per expert. Headers are checked in full (size limit, strict JSON,
 * known dtypes, shapes, offsets inside the file, contiguous and not
 * overlapping) and every parameter of the executable must be present with
 * its exact shape; tensors the executable does not use are ignored. On any
 * error the session's weights are unchanged. */
strata_status_code strata_session_load_parameters(strata_session *session,
                                                  const char *path,
                                                  strata_status *status);

/* How strata_session_save_parameters_with writes a checkpoint. */
typedef struct strata_save_options {
  /* STRATA_F32, STRATA_BF16 or STRATA_F16 to convert float parameters to;
   * -1 (the default) keeps each parameter's own dtype. */
  int dtype;
  /* 0 (the default): one safetensors file at `path`, unless `path` is a
   * directory. Otherwise (or for a directory) `path` is a directory that
   * receives shards model-0000i-of-0000n.safetensors of at most this many
   * bytes each (a larger tensor gets a shard alone) and their
   * model.safetensors.index.json. */
  uint64_t max_shard_bytes;
} strata_save_options;
void strata_save_options_initialize(strata_save_options *options);

/* Writes every parameter (the executable's names and shapes) as `options`
 * say (NULL: the defaults). Each file is written to a temporary name,
 * synced and renamed into place, so an existing file is never left
 * half-written; a symlink is written through, a device node written in
 * place; a sharded checkpoint's index is written last. */
strata_status_code strata_session_save_parameters_with(
    strata_session *session, const char *path,
    const strata_save_options *options, strata_status *status);
/* strata_session_save_parameters_with with the default options. */
strata_status_code strata_session_save_parameters(strata_session *session,
                                                  const char *path,
                                                  strata_status *status);

/* Static w8a8 calibration (executables compiled with strata-compile
 * --quantize=w8a8, which adds the entry point `calibrate`). Each product
 * quantizes its activations to uint8 with a scale and zero point fixed
 * before inference; calibration fits them to sample text. */
typedef enum strata_observer {
  STRATA_OBSERVER_MINMAX = 0,     /* the observed minimum and maximum */
  STRATA_OBSERVER_PERCENTILE = 1, /* the central `percentile` % of values */
  STRATA_OBSERVER_MSE = 2 /* least uint8 rounding + clipping error */
} strata_observer;
typedef struct strata_calibration_options {
  strata_observer observer; /* default STRATA_OBSERVER_MINMAX */
  double percentile;        /* PERCENTILE: in (50, 100], default 99.99 */
} strata_calibration_options;
void strata_calibration_options_initialize(
    strata_calibration_options *options);

/* Runs the model (int8 weights, float activations) on `batch` sequences of
 * `seq` tokens and adds what each w8a8 product reads to its observer (for
 * routed experts, each expert's own rows to that expert's). Calls
 * accumulate until strata_session_calibration_finish. Works on weights
 * whose activation scales are not calibrated yet (drawn, or loaded from a
 * float checkpoint). */
strata_status_code strata_session_calibration_observe(strata_session *session,
                                                      const int32_t *tokens,
                                                      size_t batch, size_t seq,
                                                      strata_status *status);

/* Sets every activation scale and zero point from its observer's range
 * (widened to hold 0), ends the calibration and lets the session run its
 * other entry points. An expert that no observed token was routed to gets
 * the range of all its layer's experts' rows, and `*warnings` (when not
 * NULL; valid until the session's next calibration call) names it, one
 * line per expert; "" when there is none. Fails, leaving the session
 * uncalibrated, when a product saw no values at all. */
strata_status_code strata_session_calibration_finish(
    strata_session *session, const strata_calibration_options *options,
    const char **warnings, strata_status *status);

/* Training (executables compiled with strata-compile --train, which adds
 * the entry point `loss_grad`). Runs it on token ids and labels [batch,
 * seq] (row-major; `labels` NULL: each position's next token, the last
 * position ignored): writes the loss (the mean cross-entropy over labels
 * other than -100, plus the router balance losses the model has) to
 * `*loss` and keeps the gradient of every parameter in the session, in
 * f32, until the next call. Labels must be in the vocabulary or -100.
 * With dynamic loss scaling (float16) the backward runs on the loss times
 * the session's current scale and the gradients are divided by it again:
 * they are the loss's, inf where the scaled ones overflowed. */
strata_status_code strata_session_compute_gradients(
    strata_session *session, const int32_t *tokens, const int32_t *labels,
    size_t batch, size_t seq, float *loss, strata_status *status);

/* Writes the gradients of the last strata_session_compute_gradients under
 * the parameters' names, in the forms strata_session_save_parameters_with
 * writes (NULL options: one F32 file). */
strata_status_code strata_session_save_gradients(
    strata_session *session, const char *path,
    const strata_save_options *options, strata_status *status);

/* Training steps (executables compiled with strata-compile --train, which
 * adds `loss_grad` and `optimizer_step`; the optimizer, its
 * hyper-parameters, the schedule, clipping and accumulation are compiled
 * in from the config's training section and the command line). */
typedef struct strata_train_metrics {
  int64_t step;           /* steps made so far, this one included (a
                             skipped step counts: the schedule moved) */
  float loss;             /* mean over the step's micro-batches */
  float lr;               /* the learning rate this update used */
  float grad_norm;        /* global norm of the gradients, before clipping */
  float loss_scale;       /* the scale this step's backward used; 1
                             without dynamic loss scaling */
  int64_t tokens;         /* labelled (not ignored) tokens in the step */
  int64_t dropped_tokens; /* (token, expert) assignments over the experts'
                             capacity; -1 without a capacity limit */
  int32_t skipped;        /* 1: the gradients were not finite and the
                             parameters and optimizer state were left
                             unchanged (the step still counts) */
} strata_train_metrics;

/* One optimizer step on token ids and labels [batch, seq] (row-major;
 * `labels` NULL: each position's next token, the last position ignored):
 * the batch is split into the plan's accumulation_steps micro-batches
 * (batch must be a multiple), their gradients averaged, then
 * `optimizer_step` updates every parameter and its optimizer state (zeros
 * before the first step). `metrics` may be NULL. Parameters must be F32. */
strata_status_code strata_session_train_step(strata_session *session,
                                             const int32_t *tokens,
                                             const int32_t *labels,
                                             size_t batch, size_t seq,
                                             strata_train_metrics *metrics,
                                             strata_status *status);

/* Steps made so far, skipped ones included (0 before the first step and
 * after loading a checkpoint of step 0). */
int64_t strata_session_train_steps_done(const strata_session *session);

/* Updates the optimizer applied so far: the steps less the skipped ones
 * (non-finite float16 gradients). AdamW's bias correction counts these,
 * as torch's does. */
int64_t strata_session_train_updates_done(const strata_session *session);

/* Bytes of optimizer state this session holds (0 before the first step;
 * under ZeRO stage 1 across ranks, this rank's share). */
size_t strata_session_training_state_bytes(const strata_session *session);

/* Writes a training checkpoint to the directory `path`, which must not
 * exist: model.safetensors (the parameters, loadable as --weights),
 * optimizer.safetensors (the optimizer state, torch's names:
 * <parameter>.exp_avg, ...) and manifest.json (format, step, loss scale,
 * optimizer, and `user_json` — any JSON value, e.g. a data cursor — or
 * null). Everything is written into a temporary sibling directory, synced
 * and renamed to `path`: a crash at any moment leaves either no `path` or
 * a complete one. */
strata_status_code strata_session_save_training_checkpoint(
    strata_session *session, const char *path, const char *user_json,
    strata_status *status);

/* Under ZeRO stage 1 across ranks (strata-compile --zero 1, joined to a
 * world with data parallelism), each data-parallel rank keeps the
 * optimizer state of its share of the parameters only. This collective,
 * called by every rank of the group, gives data-parallel rank 0 the whole
 * state, so that it can save a checkpoint (its next step drops the rest
 * again); saving without it fails. Anywhere else it does nothing. */
strata_status_code
strata_session_gather_training_state(strata_session *session,
                                     strata_status *status);

/* Loads a checkpoint written by strata_session_save_training_checkpoint:
 * parameters, optimizer state and step, so that the next steps equal those
 * of the run that wrote it, bit for bit (same executable, device and
 * threads). Nothing changes unless everything loads. The manifest's user
 * JSON is kept until the next load: strata_session_checkpoint_user_json. */
strata_status_code strata_session_load_training_checkpoint(
    strata_session *session, const char *path, strata_status *status);

/* The user JSON of the last loaded checkpoint ("null" when it had none, or
 * before any load). Lives until the next load or the session's end. */
const char *strata_session_checkpoint_user_json(const strata_session *session);

/* Runs `forward` on token ids [batch, seq] (row-major) and writes the LM
 * logits [batch, seq, vocab] to `logits` (`capacity` floats). Token ids
 * outside the vocabulary and sequences longer than the maximum are errors. */
strata_status_code strata_session_forward(strata_session *session,
                                          const int32_t *tokens, size_t batch,
                                          size_t seq, float *logits,
                                          size_t capacity,
                                          strata_status *status);

/* How the next token is chosen. temperature 0 is greedy; otherwise logits
 * are divided by the temperature, kept to the top_k most likely (0: all)
 * and to the smallest set whose probability reaches top_p (1: all), and a
 * token is drawn with a generator seeded by `seed`. */
typedef struct strata_sampling_options {
  float temperature;
  int32_t top_k;
  float top_p;
  uint64_t seed;
} strata_sampling_options;

/* Greedy defaults: temperature 0, top_k 0, top_p 1, seed 0. */
void strata_sampling_options_initialize(strata_sampling_options *options);

/* Generation for one sequence: appends up to `max_new_tokens` to `prompt`,
 * stopping after the end-of-sequence token. Writes the new tokens to `out`
 * (capacity `max_new_tokens`) and their count to `out_count`. */
strata_status_code
strata_session_generate(strata_session *session, const int32_t *prompt,
                        size_t prompt_length, size_t max_new_tokens,
                        const strata_sampling_options *options, int32_t *out,
                        size_t *out_count, strata_status *status);

/* Generation for a batch of `batch` sequences of different lengths:
 * prompts[b] holds prompt_lengths[b] tokens. The prompts are left-padded to
 * the longest and run together, prefill and then one token per step for
 * the whole batch, with the padding hidden from attention (the executable's
 * `decode` takes each row's padding count). Row b's new tokens go to
 * out[b * max_new_tokens ...] and their count to out_counts[b]; each row
 * stops at its end-of-sequence token, at max_new_tokens or when it fills
 * the model, and samples with seed + b: it gets the tokens
 * strata_session_generate gives it alone (its logits agree to rounding:
 * the padding shifts how softmax sums are split across vector lanes).
 * Executables without a batched
 * decode (block-sparse attention, the KV cache turned off, CUDA sessions
 * for now) run the rows one after another, with the same results. */
strata_status_code strata_session_generate_batch(
    strata_session *session, const int32_t *const *prompts,
    const size_t *prompt_lengths, size_t batch, size_t max_new_tokens,
    const strata_sampling_options *options, int32_t *out, size_t *out_counts,
    strata_status *status);

/* Whether generation keeps a KV cache (default: on when the executable has
 * a `decode` entry point; off recomputes the whole sequence each step). */
strata_status_code strata_session_use_kv_cache(strata_session *session,
                                               int enabled,
                                               strata_status *status);

/* Greedy generation for one sequence: appends up to `max_new_tokens` to
 * `prompt`, stopping after the end-of-sequence token. Writes the new tokens
 * to `out` (capacity `max_new_tokens`) and their count to `out_count`. */
strata_status_code
strata_session_generate_greedy(strata_session *session, const int32_t *prompt,
                               size_t prompt_length, size_t max_new_tokens,
                               int32_t *out, size_t *out_count,
                               strata_status *status);

/* Ranks. A process started alone is a world of one. Launched by mpirun
 * (or another launcher that sets OMPI_COMM_WORLD_SIZE or PMI_SIZE), every
 * rank creates the world, which opens the MPI backend plugin
 * (libstrata_comm_mpi.so, with dlopen: the runtime links no MPI) and joins
 * the others. Collectives that wait longer than `timeout_s` fail with
 * STRATA_COMMUNICATION_ERROR naming the ranks that did not answer. */
typedef struct strata_world strata_world;
typedef struct strata_world_options {
  /* "auto" (mpi when launched with more than one rank, else single),
   * "single" or "mpi". */
  const char *backend;
  double timeout_s; /* per collective; 0: 600 */
  /* Where libstrata_comm_<backend>.so is; NULL: $STRATA_PLUGIN_DIR, else
   * beside the runtime (its directory and ../lib). */
  const char *plugin_dir;
  /* The collectives of CUDA sessions' groups: "auto" (NCCL where
   * libnccl.so.2 loads — $STRATA_NCCL_LIBRARY, the loader's path, the CUDA
   * toolkit's lib64 —, else the world's backend), "nccl" or "mpi". NCCL's
   * unique id is broadcast over the world's backend. */
  const char *gpu_backend;
} strata_world_options;
void strata_world_options_initialize(strata_world_options *options);
strata_status_code strata_world_create(const strata_world_options *options,
                                       strata_world **out,
                                       strata_status *status);
int strata_world_rank(const strata_world *world);
int strata_world_size(const strata_world *world);
const char *strata_world_backend(const strata_world *world); /* "single", "mpi" */
/* Ends every rank of the launch, with `exit_code`; for an error after
 * which others would wait (a failed collective, one rank's bad input).
 * Does not return. */
void strata_world_abort(strata_world *world, int exit_code);
/* Leaves the world (MPI_Finalize) once every session that joined it is
 * released. */
void strata_world_release(strata_world *world);

/* Collective over the world: every rank calls it with the same
 * executable. Checks that every rank loaded the same executable and that
 * the world has as many ranks as the executable's mesh (a world of one runs
 * the whole plan on its own), then gives the session its place in the
 * mesh. Data parallelism: strata_session_train_step then takes the global
 * batch on every rank, trains each data-parallel rank on its share of the
 * rows and averages the gradients over the group; strata_session_generate_
 * batch generates each rank's share of the rows and returns all of them on
 * every rank. The world must outlive the session. */
strata_status_code strata_session_join_world(strata_session *session,
                                             strata_world *world,
                                             strata_status *status);
/* This session's coordinate on each mesh axis (strata_plan_info's
 * mesh_axes order) and its data-parallel rank and group size; all zeros
 * and 1 outside a world. */
typedef struct strata_rank_info {
  int world_rank, world_size;
  size_t mesh_rank;
  int64_t coords[STRATA_MAX_MESH_RANK];
  int dp_rank, dp_size;
} strata_rank_info;
strata_status_code strata_session_get_rank_info(const strata_session *session,
                                                strata_rank_info *out,
                                                strata_status *status);

/* The executable format version this runtime reads. */
uint32_t strata_runtime_format_version(void);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* STRATA_RUNTIME_STRATA_H */

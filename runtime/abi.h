/*===- abi.h - the contract between generated code and the runtime -------===*
 *
 * Plain C, no dependencies: included by the compiler (codegen/), which
 * emits these symbols, and by the runtime, which looks them up with dlsym
 * in a loaded kernel library. A change to a name or a signature here is a
 * change of the executable format: bump STRATA_EXECUTABLE_FORMAT_VERSION.
 *
 *===----------------------------------------------------------------------===*/

#ifndef STRATA_RUNTIME_ABI_H
#define STRATA_RUNTIME_ABI_H

#include <stdint.h>

/* Version 2: memory plans are nested frames (an arena release hook),
 * layers are functions of their own, and entry points read their
 * descriptors through the packed array themselves (no C wrapper).
 * Version 3: the file ends in a checksum trailer (runtime/Checksum.h) and
 * each kernel library records its CRC-32C. */
#define STRATA_EXECUTABLE_FORMAT_VERSION 3

/* Entry points: `void strata_entry_<name>(void **args)`. args[0] points
 * at room for the results' memref descriptors, one after another (3 + 2 *
 * rank 8-byte words each), filled in by the call; args[1 + i] points at
 * the i-th argument's descriptor. A fully static argument is read only for
 * its two pointers: its offset, sizes and strides must match its type. */
#define STRATA_ENTRY_PREFIX "strata_entry_"
typedef void (*strata_entry_fn)(void **args);

/* CPU kernel libraries. Each hook is an exported pointer-sized global the
 * runtime fills in after dlopen; null hooks make the library fall back to
 * running alone (loops on the caller, malloc for arenas).
 *   void *strata_cpu_context;
 *   void (*strata_cpu_parallel_for)(void *ctx,
 *        void (*body)(void *captures, int64_t begin, int64_t end),
 *        void *captures, int64_t iterations, int64_t costPerIteration);
 *   void *(*strata_cpu_arena)(void *ctx, int64_t bytes);  push a frame
 *   void (*strata_cpu_arena_release)(void *ctx, void *frame);  pop it
 *   void (*strata_cpu_all_reduce)(void *ctx, float *data, int64_t count);
 *        a tensor-parallel program's sum of `data` over the session's
 *        tensor-parallel ranks, in place (only libraries with such a
 *        program export it; unset: a group of one, data unchanged)
 *   void (*strata_cpu_expert_route)(void *ctx, int64_t top_k,
 *        int64_t num_experts, const float *weights, int64_t pairs,
 *        const int32_t *indices, int64_t pairs, float *row_weights,
 *        int64_t row_pairs, int32_t *row_indices, int64_t row_pairs);
 *        an expert-parallel program's routing gathered over the session's
 *        expert-parallel group (G = row_pairs / pairs ranks, in rank
 *        order), ids of the rank's experts made local, others -1 / 0
 *   void (*strata_cpu_expert_exchange)(void *ctx, int64_t combine,
 *        int64_t width, int64_t top_k, int64_t num_experts,
 *        const float *input, int64_t count, const int32_t *row_indices,
 *        int64_t row_pairs, const int32_t *indices, int64_t pairs,
 *        float *output, int64_t count);
 *        the program's all-to-all of token rows of `width` floats:
 *        dispatch (combine 0) sends each token to the ranks holding its
 *        experts, combine (1) sends the expert outputs back and sums them
 *        (see strata.expert_dispatch / expert_combine). Only libraries
 *        with such a program export these two; unset, nothing is written.
 * A function with a memory plan pushes one 64-byte aligned frame when it
 * starts and pops it before it returns: frames nest like calls. */
#define STRATA_HOOK_CPU_CONTEXT "strata_cpu_context"
#define STRATA_HOOK_CPU_PARALLEL_FOR "strata_cpu_parallel_for"
#define STRATA_HOOK_CPU_ARENA "strata_cpu_arena"
#define STRATA_HOOK_CPU_ARENA_RELEASE "strata_cpu_arena_release"
#define STRATA_HOOK_CPU_ALL_REDUCE "strata_cpu_all_reduce"
#define STRATA_HOOK_CPU_EXPERT_ROUTE "strata_cpu_expert_route"
#define STRATA_HOOK_CPU_EXPERT_EXCHANGE "strata_cpu_expert_exchange"
typedef void (*strata_parallel_body_fn)(void *captures, int64_t begin,
                                        int64_t end);
typedef void (*strata_cpu_parallel_for_fn)(void *ctx,
                                           strata_parallel_body_fn body,
                                           void *captures, int64_t iterations,
                                           int64_t costPerIteration);
typedef void *(*strata_arena_fn)(void *ctx, int64_t bytes);
typedef void (*strata_arena_release_fn)(void *ctx, void *frame);
typedef void (*strata_all_reduce_fn)(void *ctx, float *data, int64_t count);
typedef void (*strata_expert_route_fn)(
    void *ctx, int64_t top_k, int64_t num_experts, const float *weights,
    int64_t weight_count, const int32_t *indices, int64_t index_count,
    float *row_weights, int64_t row_weight_count, int32_t *row_indices,
    int64_t row_index_count);
typedef void (*strata_expert_exchange_fn)(
    void *ctx, int64_t combine, int64_t width, int64_t top_k,
    int64_t num_experts, const float *input, int64_t input_count,
    const int32_t *row_indices, int64_t row_index_count, const int32_t *indices,
    int64_t index_count, float *output, int64_t output_count);

/* CUDA host libraries: the same for device memory, plus launches.
 *   void *strata_cuda_context;
 *   void (*strata_cuda_launch)(void *ctx, int32_t kernel, int64_t gx,
 *        int64_t gy, int64_t gz, int64_t bx, int64_t by, int64_t bz,
 *        int32_t sharedBytes, void **params, int64_t numParams);
 *   void *(*strata_cuda_alloc)(void *ctx, int64_t bytes);
 *   void (*strata_cuda_free)(void *ctx, void *ptr);
 *   void *(*strata_cuda_arena)(void *ctx, int64_t bytes);
 *   void (*strata_cuda_arena_release)(void *ctx, void *frame); */
#define STRATA_HOOK_CUDA_CONTEXT "strata_cuda_context"
#define STRATA_HOOK_CUDA_LAUNCH "strata_cuda_launch"
#define STRATA_HOOK_CUDA_ALLOC "strata_cuda_alloc"
#define STRATA_HOOK_CUDA_FREE "strata_cuda_free"
#define STRATA_HOOK_CUDA_ARENA "strata_cuda_arena"
#define STRATA_HOOK_CUDA_ARENA_RELEASE "strata_cuda_arena_release"
typedef void (*strata_cuda_launch_fn)(void *ctx, int32_t kernel, int64_t gx,
                                      int64_t gy, int64_t gz, int64_t bx,
                                      int64_t by, int64_t bz,
                                      int32_t sharedBytes, void **params,
                                      int64_t numParams);
typedef void *(*strata_cuda_alloc_fn)(void *ctx, int64_t bytes);
typedef void (*strata_cuda_free_fn)(void *ctx, void *ptr);
/* Hook slots are per loaded library instance, and the runtime loads one
 * instance per session: a session's hooks reach only its own context. */

/* Arena frames and every slot in them are aligned to this many bytes. */
#define STRATA_ARENA_ALIGNMENT 64

#endif /* STRATA_RUNTIME_ABI_H */

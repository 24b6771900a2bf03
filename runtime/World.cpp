//===- World.cpp - launched ranks and a session's place in the mesh -------===//
//
// strata_world_*: the group of every launched rank, a world of one when the
// process was started alone. strata_session_join_world: the agreement
// every rank checks before its first step (same executable, as many ranks
// as the mesh, a plan this runtime can run) and the groups the session's
// parallel steps talk over.
//
//===----------------------------------------------------------------------===//

#include "runtime/Checksum.h"
#include "runtime/Session.h"
#include "runtime/ZeroOptimizer.h"
#include "runtime/comm/Communicator.h"
#include "runtime/comm/NcclCommunicator.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string>

using namespace strata::runtime;

namespace {

constexpr double kDefaultTimeoutSeconds = 600.0;

struct WorldState {
  std::unique_ptr<CommBackend> backend; ///< null: a world of one
  std::unique_ptr<Communicator> single;
  double timeout = kDefaultTimeoutSeconds;
  std::string gpuBackend = "auto";
  Communicator &group() { return backend ? backend->world() : *single; }
};

/// The mesh as text: "pp 1 x dp 2 x ep 1 x tp 1".
std::string meshText(const strata::fb::Mesh *mesh) {
  std::string text;
  for (size_t i = 0; i < mesh->shape()->size(); ++i)
    text += (i ? " x " : "") + mesh->axes()->Get(i)->str() + " " +
            std::to_string(mesh->shape()->Get(i));
  return text;
}

/// What each rank tells the others before they agree to run together.
struct Fingerprint {
  uint32_t executableCrc;
  uint32_t pad = 0;
  uint64_t executableBytes;
};

strata_status_code checkSameExecutable(const strata_executable *exe,
                                       Communicator &world,
                                       strata_status *status) {
  Fingerprint mine{strata::checksum::crc32c(exe->bytes.data(), exe->bytes.size()), 0,
                   exe->bytes.size()};
  std::vector<Fingerprint> all(world.size());
  if (strata_status_code code =
          world.allGather(&mine, all.data(), sizeof(mine), status))
    return code;
  for (int r = 1; r < world.size(); ++r)
    if (all[r].executableCrc != all[0].executableCrc ||
        all[r].executableBytes != all[0].executableBytes)
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "rank %d loaded a different executable than rank 0 (%llu "
                  "bytes, CRC-32C %08x, against %llu bytes, %08x): every "
                  "rank must load the same .strata file",
                  world.worldRank(r), (unsigned long long)all[r].executableBytes,
                  all[r].executableCrc,
                  (unsigned long long)all[0].executableBytes,
                  all[0].executableCrc);
  return STRATA_OK;
}

/// The launched ranks against the mesh, and the axes this runtime runs
/// across ranks (data parallelism, with or without ZeRO-1).
strata_status_code checkPlan(const strata::fb::Executable *exe, int ranks,
                             strata_status *status) {
  const strata::fb::ParallelPlan *plan = exe->parallel();
  if (!plan)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "%d ranks were launched, but the executable has no parallel "
                "plan (a mesh of one rank): compile it with --dp %d, or run "
                "it as one process",
                ranks, ranks);
  int64_t meshSize = 1;
  for (int64_t d : *plan->mesh()->shape())
    meshSize *= d;
  if (meshSize != ranks)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "the executable's mesh (%s) has %lld ranks, but %d were "
                "launched: run it with mpirun -np %lld, or compile it for "
                "%d ranks",
                meshText(plan->mesh()).c_str(), (long long)meshSize, ranks,
                (long long)meshSize, ranks);
  size_t stages = exe->stages() ? exe->stages()->size() : 0;
  if (plan->pp() > 1 && stages != static_cast<size_t>(plan->pp()))
    return fail(status, STRATA_UNSUPPORTED,
                "the executable's plan has --pp %lld, but it holds %zu "
                "pipeline stage programs (CUDA and int8 executables have "
                "none yet), so each rank would compute the whole model: "
                "compile with --pp 1 (data parallelism runs across ranks), "
                "or run it as one process",
                (long long)plan->pp(), stages);
  if (plan->ep() > 1 && (stages == 0 || plan->tp() > 1 || plan->pp() > 1))
    return fail(status, STRATA_UNSUPPORTED,
                "the executable's plan has --ep %lld, but it holds no "
                "expert-parallel program (expert parallelism together with "
                "--tp or --pp, CUDA and int8 executables have none yet), "
                "so each rank would compute every expert: compile with "
                "--ep 1 (data parallelism runs across ranks), or run it as "
                "one process",
                (long long)plan->ep());
  if (plan->tp() > 1 && stages == 0)
    return fail(status, STRATA_UNSUPPORTED,
                "the executable's plan has --tp %lld, but it holds no "
                "tensor-parallel program (CUDA and int8 executables have "
                "none yet), so each rank would compute the whole model: "
                "compile with --tp 1 (data parallelism runs across ranks), "
                "or run it as one process",
                (long long)plan->tp());
  return STRATA_OK;
}

/// Rank r's coordinates: its digits in the mesh shape, the last axis
/// fastest.
std::vector<int64_t> coordinatesOf(int rank, const strata::fb::Mesh *mesh) {
  std::vector<int64_t> coords(mesh->shape()->size());
  int64_t rest = rank;
  for (size_t i = coords.size(); i-- > 0;) {
    coords[i] = rest % mesh->shape()->Get(i);
    rest /= mesh->shape()->Get(i);
  }
  return coords;
}

/// The group of the ranks whose coordinates differ only on the axes
/// `within` names: each rank's color is its coordinates on the others.
int groupColor(const std::vector<int64_t> &coords, const strata::fb::Mesh *mesh,
               std::initializer_list<const char *> within) {
  int64_t color = 0;
  for (size_t i = 0; i < coords.size(); ++i) {
    std::string axis = mesh->axes()->Get(i)->str();
    if (std::any_of(within.begin(), within.end(),
                    [&](const char *name) { return axis == name; }))
      continue;
    color = color * mesh->shape()->Get(i) + coords[i];
  }
  return static_cast<int>(color);
}

/// The data-parallel group (experts are carved out of data-parallel
/// ranks, so the ep axis is in it too).
int dataParallelColor(const std::vector<int64_t> &coords,
                      const strata::fb::Mesh *mesh) {
  return groupColor(coords, mesh, {"dp", "ep"});
}

/// The mesh axis named `name`, or -1.
int axisIndex(const strata::fb::Mesh *mesh, const char *name) {
  for (size_t i = 0; i < mesh->axes()->size(); ++i)
    if (mesh->axes()->Get(i)->str() == name)
      return static_cast<int>(i);
  return -1;
}

/// Partitioned programs run on the CPU only: other devices have no
/// collective hooks in their kernels yet (`lacks` says which).
strata_status_code onHostOnly(const strata_session &s, const char *what,
                              const char *lacks, strata_status *status) {
  if (s.device->hostMemory())
    return STRATA_OK;
  return fail(status, STRATA_UNSUPPORTED,
              "%s parallelism across ranks runs on the CPU only; the %s "
              "device %s yet",
              what, s.device->name().c_str(), lacks);
}

/// The ranks differing from this one only on mesh axis `axis`, into
/// `group`. World ranks grow with each coordinate among ranks sharing the
/// others, so ordering by them puts coordinate k at group rank k.
strata_status_code joinAxisGroup(ParallelPlace &place,
                                 const strata::fb::Mesh *mesh, const char *axis,
                                 std::unique_ptr<Communicator> &group,
                                 strata_status *status) {
  int64_t coordinate = place.coords[axisIndex(mesh, axis)];
  if (strata_status_code code =
          place.world->split(groupColor(place.coords, mesh, {axis}),
                             place.world->rank(), group, status))
    return code;
  if (group->rank() != coordinate)
    return fail(status, STRATA_INTERNAL_ERROR,
                "rank %d of %s coordinate %lld is rank %d of its %s group",
                place.world->rank(), axis, (long long)coordinate, group->rank(),
                axis);
  return STRATA_OK;
}

/// Part `part` of every parameter `stage`'s program takes sliced.
void readSlices(const strata::fb::Executable *exe,
                const strata::fb::Stage *stage, int64_t part,
                std::vector<Weights::Slice> &slices) {
  slices.assign(exe->parameters()->size(), {});
  for (const auto *ep : *stage->entry_points())
    for (const auto *arg : *ep->arguments())
      if (arg->kind() == strata::fb::ArgumentKind::Parameter &&
          arg->shard_dim() >= 0)
        slices[arg->parameter()] = {arg->shard_dim(), arg->shard_count(), part};
}

/// A tensor-parallel launch: the rank runs its stage's program (stage 0's
/// without pipeline stages), its kernels sum over its tensor-parallel
/// group, and its Parameter arguments read part `tp coordinate` of each
/// split parameter. Makes the group and the
/// slices in `place` and `slices`; the session takes them only once the
/// whole join succeeded (useProgram).
strata_status_code
makeTensorParallelProgram(strata_session &s, ParallelPlace &place,
                          std::vector<Weights::Slice> &slices,
                          strata_status *status) {
  if (strata_status_code code =
          onHostOnly(s, "tensor", "has no tensor-parallel collectives", status))
    return code;
  const strata::fb::Executable *exe = s.exe->root;
  const strata::fb::Mesh *mesh = exe->parallel()->mesh();
  if (strata_status_code code =
          joinAxisGroup(place, mesh, "tp", place.tensorParallel, status))
    return code;
  int pp = axisIndex(mesh, "pp");
  place.stage = exe->stages()->Get(
      exe->parallel()->pp() > 1 ? static_cast<size_t>(place.coords[pp]) : 0);
  readSlices(exe, place.stage, place.tensorParallel->rank(), slices);
  return STRATA_OK;
}

/// An expert-parallel launch: the rank runs stage 0's program, its kernels
/// exchange tokens with its expert-parallel group (the ranks differing
/// only in their ep coordinate, in that order), and its Parameter
/// arguments read part `ep coordinate` of each routed expert's weights.
strata_status_code
makeExpertParallelProgram(strata_session &s, ParallelPlace &place,
                          std::vector<Weights::Slice> &slices,
                          strata_status *status) {
  if (strata_status_code code =
          onHostOnly(s, "expert", "has no expert all-to-all", status))
    return code;
  const strata::fb::Executable *exe = s.exe->root;
  if (strata_status_code code = joinAxisGroup(
          place, exe->parallel()->mesh(), "ep", place.expertParallel, status))
    return code;
  place.stage = exe->stages()->Get(0);
  readSlices(exe, place.stage, place.expertParallel->rank(), slices);
  return STRATA_OK;
}

/// A pipeline-parallel launch: the rank runs the stage of its pp
/// coordinate and passes boundary values to the ranks of the other stages
/// that share its other coordinates (its pipeline group, in stage order).
strata_status_code makePipelineProgram(strata_session &s, ParallelPlace &place,
                                       strata_status *status) {
  if (strata_status_code code =
          onHostOnly(s, "pipeline", "does not pass stage boundaries", status))
    return code;
  const strata::fb::Executable *exe = s.exe->root;
  if (strata_status_code code = joinAxisGroup(place, exe->parallel()->mesh(),
                                              "pp", place.pipeline, status))
    return code;
  place.stage = exe->stages()->Get(static_cast<size_t>(place.pipeline->rank()));
  return STRATA_OK;
}

/// The session runs `s.parallel`'s program from now on: its kernels sum
/// over its tensor-parallel group (none: a group of one) and read `slices`.
strata_status_code useProgram(strata_session &s,
                              std::vector<Weights::Slice> slices,
                              strata_status *status) {
  s.weights.useSlices(std::move(slices));
  if (strata_status_code code = s.device->useTensorParallelGroup(
          s.parallel.tensorParallel.get(), status))
    return code;
  return s.device->useExpertParallelGroup(s.parallel.expertParallel.get(),
                                          status);
}

/// A CUDA session's data-parallel group over NCCL, bootstrapped by the
/// group it replaces, when the world's options say so (or may: "auto").
strata_status_code useGpuCollectives(strata_session &s, WorldState &state,
                                     ParallelPlace &place,
                                     strata_status *status) {
  if (state.gpuBackend == "mpi" || place.dataParallel->size() == 1)
    return STRATA_OK;
  // Every rank of the group must take the same path (an NCCL rank's
  // bootstrap broadcast would meet another's gradient all-reduce): they
  // agree on whether all of them can use NCCL.
  int version = 0;
  strata_status local;
  int32_t able = !s.device->hostMemory() &&
                 ncclVersion(version, &local) == STRATA_OK;
  int32_t ables = able;
  if (strata_status_code code = place.dataParallel->allReduceSum(
          &ables, 1, STRATA_COMM_I32, status))
    return code;
  if (ables != place.dataParallel->size()) {
    if (state.gpuBackend != "nccl")
      return STRATA_OK; // auto: the world's backend carries the group
    if (!able && !s.device->hostMemory() && status)
      return fail(status, local.code, "%s", local.message);
    return fail(status, STRATA_UNSUPPORTED,
                "gpu_backend \"nccl\": %d of the %d data-parallel ranks "
                "are CUDA sessions that can load NCCL; every one must be",
                ables, place.dataParallel->size());
  }
  Communicator &bootstrap = *place.dataParallel;
  std::unique_ptr<Communicator> nccl;
  if (strata_status_code code = makeNcclCommunicator(
          bootstrap, std::move(place.dataParallel), *s.device, state.timeout,
          nccl, status))
    return code;
  place.dataParallel = std::move(nccl);
  return STRATA_OK;
}

strata_status_code joinWorld(strata_session &s, WorldState &state,
                             const std::shared_ptr<WorldState> &keep,
                             strata_status *status) {
  Communicator &world = state.group();
  ParallelPlace place;
  place.keepWorld = keep;
  place.world = &world;
  const auto *plan = s.exe->root->parallel();
  if (world.size() == 1) {
    // One process runs the whole plan.
    if (plan)
      place.coords.assign(plan->mesh()->shape()->size(), 0);
    place.dataParallel = makeSingleCommunicator();
    s.parallel = std::move(place);
    if (strata_status_code code = useProgram(s, {}, status))
      return code;
    return ok(status);
  }
  if (strata_status_code code = checkSameExecutable(s.exe, world, status))
    return code;
  if (strata_status_code code = checkPlan(s.exe->root, world.size(), status))
    return code;
  place.coords = coordinatesOf(world.rank(), plan->mesh());
  std::vector<Weights::Slice> slices;
  if (plan->tp() > 1)
    if (strata_status_code code =
            makeTensorParallelProgram(s, place, slices, status))
      return code;
  if (plan->pp() > 1)
    if (strata_status_code code = makePipelineProgram(s, place, status))
      return code;
  if (plan->ep() > 1)
    if (strata_status_code code =
            makeExpertParallelProgram(s, place, slices, status))
      return code;
  if (strata_status_code code = world.split(
          dataParallelColor(place.coords, plan->mesh()), world.rank(),
          place.dataParallel, status))
    return code;
  if (strata_status_code code = useGpuCollectives(s, state, place, status))
    return code;
  s.parallel = std::move(place);
  if (strata_status_code code = useProgram(s, std::move(slices), status))
    return code;
  return assignStateOwners(s, status);
}

} // namespace

struct strata_world {
  std::shared_ptr<WorldState> state;
  std::string backend;
};

extern "C" {

void strata_world_options_initialize(strata_world_options *options) {
  if (!options)
    return;
  *options = strata_world_options{};
  options->backend = "auto";
  options->timeout_s = kDefaultTimeoutSeconds;
  options->gpu_backend = "auto";
}

strata_status_code strata_world_create(const strata_world_options *options,
                                       strata_world **out,
                                       strata_status *status) {
  if (!out)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_world_create: null argument");
  *out = nullptr;
  return guardApi(__func__, status, [&] {
    strata_world_options o;
    strata_world_options_initialize(&o);
    if (options)
      o = *options;
    std::string backend = o.backend ? o.backend : "auto";
    if (backend == "auto")
      backend = launchedWorldSize() > 1 ? "mpi" : "single";
    if (backend != "single" && backend != "mpi")
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "unknown communication backend '%s': use auto, single or "
                  "mpi",
                  backend.c_str());
    double timeout = o.timeout_s > 0 ? o.timeout_s : kDefaultTimeoutSeconds;
    std::string gpu = o.gpu_backend ? o.gpu_backend : "auto";
    if (gpu != "auto" && gpu != "nccl" && gpu != "mpi")
      return fail(status, STRATA_INVALID_ARGUMENT,
                  "unknown GPU communication backend '%s': use auto, nccl "
                  "or mpi",
                  gpu.c_str());
    auto state = std::make_shared<WorldState>();
    state->timeout = timeout;
    state->gpuBackend = gpu;
    if (backend == "single") {
      state->single = makeSingleCommunicator();
    } else if (strata_status_code code = CommBackend::open(
                   backend, o.plugin_dir ? o.plugin_dir : "", timeout,
                   state->backend, status)) {
      return code;
    }
    *out = new strata_world{std::move(state), backend};
    return ok(status);
  });
}

int strata_world_rank(const strata_world *world) {
  return world ? world->state->group().rank() : 0;
}

int strata_world_size(const strata_world *world) {
  return world ? world->state->group().size() : 1;
}

const char *strata_world_backend(const strata_world *world) {
  return world ? world->backend.c_str() : "single";
}

void strata_world_abort(strata_world *world, int exit_code) {
  if (world && world->state->backend)
    world->state->backend->abortAll(exit_code);
  std::_Exit(exit_code);
}

void strata_world_release(strata_world *world) { delete world; }

strata_status_code strata_session_join_world(strata_session *session,
                                             strata_world *world,
                                             strata_status *status) {
  if (!session || !world)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_join_world: null argument");
  return guardApi(__func__, status, [&] {
    return joinWorld(*session, *world->state, world->state, status);
  });
}

strata_status_code strata_session_get_rank_info(const strata_session *session,
                                                strata_rank_info *out,
                                                strata_status *status) {
  if (!session || !out)
    return fail(status, STRATA_INVALID_ARGUMENT,
                "strata_session_get_rank_info: null argument");
  *out = strata_rank_info{};
  const ParallelPlace &p = session->parallel;
  out->world_rank = p.world ? p.world->rank() : 0;
  out->world_size = p.world ? p.world->size() : 1;
  out->mesh_rank = p.coords.size();
  for (size_t i = 0; i < p.coords.size() && i < STRATA_MAX_MESH_RANK; ++i)
    out->coords[i] = p.coords[i];
  out->dp_rank = p.dpRank();
  out->dp_size = p.dpSize();
  return ok(status);
}

} // extern "C"

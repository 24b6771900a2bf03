//===- HostCpu.cpp - which kernel library this CPU runs -------------------===//

#include "runtime/HostCpu.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

namespace strata::runtime {

namespace {
/// The rank of an x86-64 level this CPU runs (higher is better), or -1
/// when it cannot; a CPU name that is not a level (the library built for
/// exactly what the user named) ranks 0, as the fallback.
/// Whether this CPU has `feature`, one a kernel library may add to its
/// level (strata-compile's extended variant); unknown ones it has not.
bool hasFeature(const std::string &feature) {
  if (feature == "avx512vnni")
    return __builtin_cpu_supports("avx512vnni");
  if (feature == "avx512bf16")
    return __builtin_cpu_supports("avx512bf16");
  return false;
}

int rank(const char *cpu) {
  // A level with features added ("x86-64-v4+avx512vnni+avx512bf16") ranks
  // above the level, by how many, where the CPU has them all.
  if (const char *plus = std::strchr(cpu, '+')) {
    int level = rank(std::string(cpu, plus).c_str());
    if (level < 0)
      return -1;
    std::string features(plus + 1);
    int added = 0;
    for (size_t start = 0; start <= features.size(); ++added) {
      size_t end = std::min(features.find('+', start), features.size());
      if (!hasFeature(features.substr(start, end - start)))
        return -1;
      start = end + 1;
    }
    return level + added;
  }
  if (!std::strcmp(cpu, "x86-64-v4"))
    return __builtin_cpu_supports("x86-64-v4") ? 4 : -1;
  if (!std::strcmp(cpu, "x86-64-v3"))
    return __builtin_cpu_supports("x86-64-v3") ? 3 : -1;
  if (!std::strcmp(cpu, "x86-64-v2"))
    return __builtin_cpu_supports("x86-64-v2") ? 2 : -1;
  if (!std::strcmp(cpu, "x86-64"))
    return 1;
  return 0;
}

const char *cpuOf(const strata::fb::KernelLibrary *lib,
                  const strata::fb::Executable *exe) {
  if (lib->cpu() && lib->cpu()->size())
    return lib->cpu()->c_str();
  return exe->metadata()->cpu() ? exe->metadata()->cpu()->c_str() : "";
}
} // namespace

strata_status_code selectHostLibrary(const strata::fb::Executable *exe,
                                     const strata::fb::KernelLibrary *&out,
                                     strata_status *status) {
  const auto *kernels = exe->kernels();
  out = kernels->Get(0);
  if (exe->target() != strata::fb::Target::Cpu)
    return STRATA_OK;
  std::string available;
  const char *forced = std::getenv("STRATA_CPU");
  int best = rank(cpuOf(out, exe));
  for (const auto *lib : *kernels) {
    const char *cpu = cpuOf(lib, exe);
    available += (available.empty() ? "" : ", ") + std::string(cpu);
    if (forced && *forced) {
      if (!std::strcmp(forced, cpu)) {
        out = lib;
        return STRATA_OK;
      }
      continue;
    }
    if (rank(cpu) > best) {
      best = rank(cpu);
      out = lib;
    }
  }
  if (forced && *forced)
    return fail(status, STRATA_UNSUPPORTED,
                "STRATA_CPU=%s, but the executable's kernels are for %s",
                forced, available.c_str());
  // Running kernels the CPU cannot execute would die of SIGILL.
  if (best < 0)
    return fail(status, STRATA_UNSUPPORTED,
                "the executable's kernels are for %s, which this CPU does "
                "not support: compile it without --cpu (kernels for "
                "x86-64-v2, -v3 and -v4, the best picked at load) or with "
                "--cpu for this machine",
                available.c_str());
  return STRATA_OK;
}

} // namespace strata::runtime

extern "C" const char *
strata_executable_host_cpu(const strata_executable *exe) {
  if (!exe)
    return nullptr;
  if (exe->root->target() != strata::fb::Target::Cpu)
    return "";
  const strata::fb::KernelLibrary *lib = nullptr;
  if (strata::runtime::selectHostLibrary(exe->root, lib, nullptr))
    return nullptr;
  if (lib->cpu() && lib->cpu()->size())
    return lib->cpu()->c_str();
  return exe->root->metadata()->cpu() ? exe->root->metadata()->cpu()->c_str()
                                      : "";
}

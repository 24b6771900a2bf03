//===- strata-compile.cpp - config to Strata program ------------*- C++ -*-===//
//
// The compiler driver: reads a model config (the seed's YAML or a
// HuggingFace config.json), validates it and the parallel plan, builds the
// strata IR and verifies it, then prints statistics and/or emits the
// requested stage. Output files are written atomically and only on success.
//
//===----------------------------------------------------------------------===//

#include "codegen/ExecutableWriter.h"
#include "codegen/Passes.h"
#include "codegen/cpu/ObjectEmitter.h"
#include "dialect/KernelDialect.h"
#include "dialect/StrataOps.h"
#include "frontend/ConfigFile.h"
#include "frontend/ModelBuilder.h"
#include "frontend/ModelSpec.h"
#include "passes/ModelStats.h"
#include "passes/Phases.h"
#include "passes/PlanReport.h"
#include "runtime/OutputFile.h"
#include "tools/common/MlirNesting.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Threading.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

#include <CLI/CLI.hpp>

#include <string>

using namespace strata;

namespace {

struct Options {
  std::string config;
  std::string output;
  std::string emit = "mlir";
  std::string target = "cpu";
  /// Empty: a portable executable (x86-64-v2, with -v3 and -v4 variants
  /// the runtime picks from); else exactly this CPU.
  std::string cpu;
  int sm = 90;       ///< --target=cuda
  std::string ptxas; ///< empty: search PATH, then the toolkit
  std::string cudaToolkit = "/usr/local/cuda";
  std::string stats; ///< "", "table" or "json".
  bool statsRequested = false;
  int64_t tp = 0, pp = 0, dp = 0, ep = 0; ///< 0: as the config says.
  int zeroStage = -1; ///< --zero; -1: as the config says.
  int64_t contextLength = 0;
  std::string deviceMemoryText; ///< --device-memory as given.
  int64_t deviceMemory = 0;     ///< Its bytes; 0 = not checked.
  bool printLocations = false;
  /// "flash", "materialized" or "auto" (the target's default).
  std::string attention = "auto";
  bool tensorCores = false; ///< --target=cuda
  unsigned jobs = 0;        ///< -j: threads for LLVM (0: one per core)
  bool timing = false;      ///< --timing: per pass and per step, to stderr
  bool train = false;       ///< --train: add the training entry points
  /// --weights-dtype: the matrix products' weights (bf16, f16, f32, or
  /// auto: the checkpoint's, see resolveWeightsDtype).
  std::string weightsDtype = "auto";
  /// --quantize: none, w8a16, w8a8-dynamic or w8a8; --quantize-lm-head. Unset
  /// (empty, false): the config's quantization section.
  std::string quantize;
  bool quantizeLmHead = false;
  /// --optimizer, --lr, ...: over the config's training section (unset:
  /// as the config says).
  struct {
    std::string optimizer, schedule, precision;
    std::string recompute = "layer";
    std::optional<double> lr, weightDecay, beta1, beta2, eps, clip, minLrRatio;
    std::optional<double> lossScale;
    std::optional<int64_t> warmup, totalSteps, accumulation, lossScaleGrowth;
  } training;
};

/// --train: the train phase (passes/Phases.h): `loss_grad` (the loss and
/// every parameter's gradient) next to `loss`.
mlir::LogicalResult addTrainingEntryPoints(mlir::ModuleOp module,
                                          const std::string &recompute) {
  if (!module.lookupSymbol<mlir::func::FuncOp>("loss")) {
    module.emitError("--train: this model has no loss (no language-model "
                     "or classification head to train)");
    return mlir::failure();
  }
  mlir::PassManager pm(module.getContext());
  mlir::strata::TrainPhaseOptions options;
  options.recompute = recompute;
  // The programs' losses (shard phase) are differentiated too.
  for (auto f : module.getOps<mlir::func::FuncOp>())
    if (f->hasAttr("strata.stage") && f.getName().ends_with(".loss"))
      options.losses.push_back(f.getName().str());
  // The precision comes from the plan; f16's dynamic loss scale makes the
  // gradient take the scale.
  auto plan =
      module->getAttrOfType<mlir::strata::TrainingAttr>("strata.training");
  options.scaledLoss =
      plan && plan.getLossScaling() == mlir::strata::LossScaling::Dynamic;
  mlir::strata::buildTrainPhase(pm, options);
  return pm.run(module);
}

/// The shard phase (passes/Phases.h): with --tp or --pp above 1 (and ep
/// 1), or --ep above 1 alone, the program that ranks of a launch run,
/// beside the whole one. CUDA and int8 executables have none yet: they run
/// the plan as one process (or across data-parallel ranks).
mlir::LogicalResult shardPhase(mlir::ModuleOp module, const Options &opts,
                               const std::string &scheme, int64_t context) {
  auto plan =
      module->getAttrOfType<mlir::strata::ParallelAttr>("strata.parallel");
  if (!plan || (plan.getTp() == 1 && plan.getPp() == 1 && plan.getEp() == 1))
    return mlir::success();
  std::string axes;
  for (auto [flag, degree] :
       {std::pair<const char *, int64_t>{"--pp", plan.getPp()},
        {"--tp", plan.getTp()},
        {"--ep", plan.getEp()}})
    if (degree > 1)
      axes += (axes.empty() ? "" : " ") + std::string(flag) + " " +
              std::to_string(degree);
  // Expert parallelism beside tp or pp has no program yet: the executable
  // runs such a plan with whole experts on every rank.
  if (plan.getEp() > 1 && (plan.getTp() > 1 || plan.getPp() > 1)) {
    llvm::errs() << "note: " << axes << ": expert parallelism together with "
                 << "tensor or pipeline parallelism has no program yet; "
                 << "this one runs as one process\n";
    return mlir::success();
  }
  const char *program = plan.getPp() > 1   ? "pipeline stage programs"
                        : plan.getTp() > 1 ? "tensor-parallel program"
                                           : "expert-parallel program";
  if (opts.target == "cuda" || scheme != "none") {
    llvm::errs() << "note: " << axes << ": "
                 << (opts.target == "cuda" ? "CUDA" : "int8")
                 << " executables hold no " << program
                 << " yet; this one runs as one process\n";
    return mlir::success();
  }
  // The training forward too (mixed precision rounds values, the tensors
  // and their sums stay f32).
  mlir::PassManager pm(module.getContext());
  mlir::strata::buildShardPhase(pm, opts.train, context);
  if (mlir::failed(pm.run(module)))
    return mlir::failure();
  bool made = false;
  for (auto f : module.getOps<mlir::func::FuncOp>())
    made |= f->hasAttr("strata.stage");
  if (!made && plan.getPp() == 1)
    llvm::errs() << "note: " << axes << ": nothing in this model splits "
                 << "over those ranks ("
                 << (plan.getTp() > 1 ? "heads or MLP widths"
                                      : "routed experts")
                 << "); it runs as one process\n";
  return mlir::success();
}

/// --weights-dtype auto: the checkpoint's dtype, so a bf16 or f16
/// checkpoint loads without being widened; f32 for training (it keeps f32
/// master weights, as an explicit bf16 there is an error).
std::string resolveWeightsDtype(const Options &opts,
                                const std::string &checkpointDtype) {
  if (opts.weightsDtype != "auto")
    return opts.weightsDtype;
  if (opts.train)
    return "f32";
  return checkpointDtype;
}

/// The int8 scheme: --quantize, else the config's quantization section
/// (ignored with --train: quantization is post-training), as the CLI
/// spells it.
std::string quantizeScheme(const Options &opts,
                           const QuantizationSpec &config) {
  if (!opts.quantize.empty())
    return opts.quantize;
  if (opts.train)
    return "none";
  switch (config.scheme) {
  case QuantizationSpec::Scheme::W8A16:
    return "w8a16";
  case QuantizationSpec::Scheme::W8A8Dynamic:
    return "w8a8-dynamic";
  case QuantizationSpec::Scheme::W8A8:
    return "w8a8";
  case QuantizationSpec::Scheme::None:
    break;
  }
  return "none";
}

/// --quantize and --weights-dtype: the quantize phase (passes/Phases.h).
mlir::LogicalResult quantizePhase(mlir::ModuleOp module,
                                  const std::string &scheme, bool lmHead,
                                  const std::string &dtype) {
  if (lmHead && scheme == "none") {
    llvm::errs() << "error: --quantize-lm-head needs --quantize (or the "
                    "config's quantization section)\n";
    return mlir::failure();
  }
  if (dtype == "f32" && scheme == "none")
    return mlir::success();
  mlir::PassManager pm(module.getContext());
  mlir::strata::QuantizePhaseOptions options;
  options.weightsDtype = dtype;
  // The pass spells schemes as the dialect's attribute does.
  options.quantize = scheme == "w8a8-dynamic" ? "w8a8_dynamic" : scheme;
  options.quantizeLmHead = lmHead;
  mlir::strata::buildQuantizePhase(pm, options);
  return pm.run(module);
}

/// --train: the training section with the flags applied over it (a config
/// without one trains with its defaults, in f32). False, with an error
/// printed, when the plan cannot be compiled.
bool applyTrainingFlags(const Options &opts, TrainingSpec &t) {
  const auto &f = opts.training;
  if (!t.present) {
    t.present = true;
    t.precision = "float32";
  }
  if (!f.optimizer.empty()) {
    t.optimizer = f.optimizer == "lion"  ? OptimizerKind::Lion
                  : f.optimizer == "sgd" ? OptimizerKind::Sgd
                                         : OptimizerKind::AdamW;
    if (t.optimizer == OptimizerKind::Lion && !f.beta2)
      t.beta2 = 0.99; // Lion's usual default, as in a config
  }
  if (!f.schedule.empty())
    t.schedule = f.schedule;
  if (!f.precision.empty())
    t.precision = f.precision;
  auto set = [](auto &field, const auto &flag) {
    if (flag)
      field = *flag;
  };
  set(t.lr, f.lr);
  set(t.weightDecay, f.weightDecay);
  set(t.beta1, f.beta1);
  set(t.beta2, f.beta2);
  set(t.eps, f.eps);
  set(t.gradientClipping, f.clip);
  set(t.minLrRatio, f.minLrRatio);
  set(t.warmupSteps, f.warmup);
  set(t.totalSteps, f.totalSteps);
  set(t.gradientAccumulationSteps, f.accumulation);
  set(t.lossScaleInit, f.lossScale);
  set(t.lossScaleGrowthInterval, f.lossScaleGrowth);
  auto error = [&](const llvm::Twine &msg) {
    llvm::errs() << "error: " << opts.config << ": " << msg << "\n";
    return false;
  };
  if (t.schedule == "linear_warmup_cosine_decay" &&
      t.totalSteps <= t.warmupSteps)
    return error("the cosine schedule needs total_steps (" +
                 llvm::Twine(t.totalSteps) + ") above warmup_steps (" +
                 llvm::Twine(t.warmupSteps) + "): set --total-steps");
  if (t.beta1 >= 1.0 || t.beta2 >= 1.0 || t.beta1 < 0 || t.beta2 < 0)
    return error("--beta1 and --beta2 must be in [0, 1)");
  return true;
}

/// Applies --tp/--pp/--dp/--ep over the config's parallel section.
void applyParallelFlags(const Options &opts, ParallelSpec &p) {
  auto set = [&](int64_t flag, int64_t &degree, const char *key,
                 const char *name) {
    if (!flag)
      return;
    degree = flag;
    p.fromCommandLine[key] = std::string(name) + "=" + std::to_string(flag);
  };
  set(opts.tp, p.tp, "tensor_parallel_degree", "--tp");
  set(opts.pp, p.pp, "pipeline_parallel_degree", "--pp");
  set(opts.dp, p.dp, "data_parallel_degree", "--dp");
  set(opts.ep, p.ep, "expert_parallel_degree", "--ep");
  if (opts.zeroStage >= 0) {
    p.optimizerSharding = opts.zeroStage == 1;
    p.fromCommandLine["optimizer_sharding"] =
        "--zero=" + std::to_string(opts.zeroStage);
  }
}

/// Writes the emitted stage to `path` (stdout when empty or "-") through
/// tools/common's OutputFile: a temporary file renamed into place only
/// when every write succeeded, so a failed compile or a full disk never
/// leaves a partial output; devices and symlinks are written through.
bool writeOutput(llvm::StringRef path,
                 llvm::function_ref<void(llvm::raw_ostream &)> write) {
  std::string text;
  llvm::raw_string_ostream os(text);
  write(os);
  // What --stats printed goes first.
  llvm::outs().flush();
  std::string error;
  if (strata::runtime::writeFile(path.str(), text, error))
    return true;
  llvm::errs() << "error: " << error << "\n";
  return false;
}

/// ptxas from --ptxas, PATH or the CUDA toolkit; empty when there is none.
std::string findPtxas(const Options &opts) {
  if (!opts.ptxas.empty())
    return opts.ptxas;
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  if (auto found =
          llvm::sys::findProgramByName("ptxas", {opts.cudaToolkit + "/bin"}))
    return *found;
  return "";
}

/// Lowers `module` for the target and writes the requested stage.
/// `contents` carries the metadata.
/// The CPU a library is built for when the user names none.
constexpr const char *kBaselineCpu = "x86-64-v2";
/// A portable executable's faster variants of its kernel library.
constexpr const char *kCpuVariants[] = {"x86-64-v3", "x86-64-v4"};
/// One more where x86-64-v4 lacks what the module's products gain from:
/// AVX-512 VNNI's vpdpbusd for int8 activations (w8a8, w8a8-dynamic), and
/// AVX-512 BF16's vdpbf16ps for bf16 weights.
std::string extendedVariant(mlir::ModuleOp module);

/// Whether `module` multiplies int8 activations (its contractions gain
/// from VNNI).
bool hasInt8Activations(mlir::ModuleOp module) {
  using mlir::strata::QuantScheme;
  auto int8 = [](QuantScheme s) {
    return s == QuantScheme::W8A8 || s == QuantScheme::W8A8Dynamic;
  };
  bool found = false;
  module.walk([&](mlir::Operation *op) {
    if (auto q = llvm::dyn_cast<mlir::strata::QuantizedLinearOp>(op))
      found |= int8(q.getScheme());
    if (auto q = llvm::dyn_cast<mlir::strata::QuantizedMoEExpertsOp>(op))
      found |= int8(q.getScheme());
  });
  return found;
}

/// Whether `module` stores some parameter in bf16 (--weights-dtype).
bool hasBf16Weights(mlir::ModuleOp module) {
  bool found = false;
  module.walk([&](mlir::strata::ParamOp p) {
    found |= p.getType().getElementType().isBF16();
  });
  return found;
}

std::string extendedVariant(mlir::ModuleOp module) {
  std::string features;
  if (hasInt8Activations(module))
    features += "+avx512vnni";
  if (hasBf16Weights(module))
    features += "+avx512bf16";
  return features.empty() ? "" : "x86-64-v4" + features;
}

/// The target's lowering pipeline up to `stop` (`cpu` sizes the CPU's
/// vector tiles).
mlir::LogicalResult buildPipeline(const Options &opts, const std::string &cpu,
                                  const std::string &stop,
                                  mlir::PassManager &pm) {
  if (opts.target == "cuda") {
    mlir::strata::CudaPipelineOptions pipeline;
    pipeline.stopAfter = stop;
    pipeline.sm = opts.sm;
    pipeline.cudaToolkit = opts.cudaToolkit;
    if (opts.attention != "auto")
      pipeline.flashAttention = opts.attention == "flash";
    pipeline.tensorCores = opts.tensorCores;
    return mlir::strata::buildCudaLoweringPipeline(pm, pipeline);
  }
  mlir::strata::CpuPipelineOptions pipeline;
  pipeline.stopAfter = stop;
  pipeline.vectorBits = mlir::strata::vectorBitsForCpu(cpu);
  pipeline.vnni = mlir::strata::cpuHasVnni(cpu);
  pipeline.bf16Dot = mlir::strata::cpuHasBf16(cpu);
  if (opts.attention != "auto")
    pipeline.flashAttention = opts.attention == "flash";
  return mlir::strata::buildCpuLoweringPipeline(pm, pipeline);
}

mlir::strata::CpuObjectOptions objectOptions(const Options &opts,
                                             const std::string &cpu,
                                             bool packaging) {
  mlir::strata::CpuObjectOptions options;
  options.cpu = cpu;
  // A kernel library is linked from as many objects as there are threads;
  // --emit=obj and llvm-ir are one file each.
  options.jobs = packaging ? (opts.jobs ? opts.jobs
                                        : llvm::hardware_concurrency()
                                              .compute_thread_count())
                           : 1;
  return options;
}

/// A portable executable's variant for `cpu`: the module (a copy taken
/// before lowering) lowered and linked again with that CPU's tiles and
/// instructions.
mlir::LogicalResult buildCpuVariant(const Options &opts, mlir::ModuleOp module,
                                    const std::string &cpu, std::string &elf) {
  mlir::PassManager pm(module.getContext());
  llvm::SmallVector<std::string> objects;
  if (mlir::failed(buildPipeline(opts, cpu, "llvm", pm)) ||
      mlir::failed(pm.run(module)) ||
      mlir::failed(mlir::strata::emitCpuObjects(
          module, objectOptions(opts, cpu, true), objects)))
    return mlir::failure();
  return mlir::strata::linkSharedObject(module, objects, elf);
}

int lowerAndWrite(const Options &opts, mlir::ModuleOp module,
                  mlir::strata::ExecutableContents &contents) {
  // Later stages run the target's lowering pipeline, the same builder that
  // `strata-opt --strata-lower-to-{llvm-cpu,nvvm-cuda}` replays.
  bool cuda = opts.target == "cuda";
  bool packaging = opts.emit == "executable";
  // Kernels call libdevice for math functions; without it the PTX would
  // only fail when the driver loads it.
  std::string libdevice = opts.cudaToolkit + "/nvvm/libdevice/libdevice.10.bc";
  if (cuda &&
      !llvm::is_contained({"mlir", "linalg", "loops", "gpu"}, opts.emit) &&
      !llvm::sys::fs::exists(libdevice)) {
    llvm::errs() << "error: --target=cuda needs libdevice, and '" << libdevice
                 << "' does not exist: install the CUDA toolkit or point "
                    "--cuda-toolkit at it\n";
    return 1;
  }
  bool toMachine = opts.emit == "llvm-ir" || opts.emit == "obj" || packaging;
  mlir::DefaultTimingManager timing;
  timing.setEnabled(opts.timing);
  mlir::TimingScope rootTiming = timing.getRootScope();
  bool ptxOnly = opts.emit == "ptx";
  // The parameter table and argument layout are read before lowering, while
  // parameters still carry their names.
  if (packaging &&
      mlir::failed(mlir::strata::collectEntryPoints(module, contents)))
    return 1;
  if (packaging)
    mlir::strata::collectPlan(module, contents);
  // A portable CPU executable carries faster variants too: copies of the
  // module taken before lowering, lowered again for each.
  std::string cpu = opts.cpu.empty() ? kBaselineCpu : opts.cpu;
  llvm::SmallVector<std::pair<std::string, mlir::OwningOpRef<mlir::ModuleOp>>>
      variants;
  if (packaging && !cuda && opts.cpu.empty()) {
    for (const char *variant : kCpuVariants)
      variants.emplace_back(variant, module.clone());
    if (std::string extended = extendedVariant(module); !extended.empty())
      variants.emplace_back(extended, module.clone());
  }
  if (opts.emit != "mlir") {
    mlir::PassManager pm(module.getContext());
    mlir::TimingScope pipelineTiming = rootTiming.nest("lowering pipeline");
    if (opts.timing)
      pm.enableTiming(pipelineTiming);
    std::string stop = toMachine || ptxOnly ? "llvm" : opts.emit;
    mlir::LogicalResult built = buildPipeline(opts, cpu, stop, pm);
    if (mlir::failed(built)) {
      llvm::errs() << "error: --emit=" << opts.emit << " is not a stage of "
                   << "--target=" << opts.target << "\n";
      return 1;
    }
    if (mlir::failed(pm.run(module)))
      return 1;
  }
  if (cuda && (ptxOnly || packaging)) {
    if (mlir::failed(mlir::strata::collectCudaKernels(module, contents)))
      return 1;
    if (ptxOnly)
      return writeOutput(opts.output,
                         [&](llvm::raw_ostream &os) { os << contents.ptx; })
                 ? 0
                 : 1;
  }

  if (packaging &&
      mlir::failed(mlir::strata::collectMemoryPlans(module, contents)))
    return 1;
  if (toMachine) {
    std::string bytes;
    mlir::strata::CpuObjectOptions objects0 =
        objectOptions(opts, cpu, packaging);
    mlir::TimingScope objectTiming = rootTiming.nest("LLVM code generation");
    llvm::SmallVector<std::string> objects;
    if (packaging) {
      if (mlir::failed(
              mlir::strata::emitCpuObjects(module, objects0, objects)))
        return 1;
    } else if (mlir::failed(mlir::strata::emitCpuObject(
                   module, objects0, bytes, opts.emit == "llvm-ir"))) {
      return 1;
    }
    objectTiming.stop();
    if (packaging) {
      mlir::TimingScope linkTiming = rootTiming.nest("linking");
      if (mlir::failed(mlir::strata::linkSharedObject(module, objects,
                                                      contents.kernelLibrary)))
        return 1;
      linkTiming.stop();
      if (cuda) {
        contents.cuda = true;
        contents.sm = opts.sm;
        std::string ptxas = findPtxas(opts);
        if (ptxas.empty())
          llvm::errs() << "note: ptxas not found (PATH, " << opts.cudaToolkit
                       << "/bin); the executable carries PTX only, which "
                          "the driver compiles when loading\n";
        else {
          mlir::TimingScope ptxasTiming = rootTiming.nest("ptxas");
          if (mlir::failed(mlir::strata::assembleCubin(
                  module, ptxas, contents.ptx, opts.sm, contents.cubin)))
            return 1;
        }
      }
      contents.cpu = cpu;
      for (auto &[variant, copy] : variants) {
        mlir::TimingScope variantTiming =
            rootTiming.nest("the " + variant + " variant");
        std::string elf;
        if (mlir::failed(buildCpuVariant(opts, *copy, variant, elf)))
          return 1;
        contents.cpuVariants.emplace_back(variant, std::move(elf));
      }
      bytes = mlir::strata::serializeExecutable(contents);
    }
    return writeOutput(opts.output, [&](llvm::raw_ostream &os) { os << bytes; })
               ? 0
               : 1;
  }

  mlir::OpPrintingFlags printFlags;
  if (opts.printLocations)
    printFlags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false);
  return writeOutput(
             opts.output,
             [&](llvm::raw_ostream &os) { module->print(os, printFlags); })
             ? 0
             : 1;
}

/// A kernel module: MLIR functions on tensors (strata ops, linalg, ...)
/// whose operands are strata.param weights, compiled like a model. Used
/// for kernel benchmarks and tests; it has no vocabulary or tokens.
int runKernelModule(const Options &opts, mlir::MLIRContext &ctx,
                    llvm::SourceMgr &sourceMgr,
                    mlir::strata::ExecutableContents &contents) {
  std::string error;
  auto buffer = mlir::openInputFile(opts.config, &error);
  if (!buffer) {
    llvm::errs() << "error: " << error << "\n";
    return 1;
  }
  if (auto deep = strata::tools::findExcessiveNesting(buffer->getBuffer())) {
    llvm::errs() << strata::tools::excessiveNestingMessage(opts.config, *deep)
                 << "\n";
    return 1;
  }
  contents.configText = buffer->getBuffer().str();
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &ctx);
  if (!module || mlir::failed(mlir::verify(*module)))
    return 1;
  if (opts.statsRequested || opts.deviceMemory) {
    llvm::errs() << "error: "
                 << (opts.statsRequested ? "--stats" : "--device-memory")
                 << " needs a model config, not an MLIR module\n";
    return 1;
  }
  // A kernel module has no checkpoint: auto keeps f32.
  std::string scheme = opts.quantize.empty() ? "none" : opts.quantize;
  if (mlir::failed(quantizePhase(*module, scheme, opts.quantizeLmHead,
                                 resolveWeightsDtype(opts, "f32"))))
    return 1;
  contents.modelName = llvm::sys::path::stem(opts.config).str();
  contents.configPath = opts.config;
  return lowerAndWrite(opts, *module, contents);
}

int run(const Options &opts) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<mlir::strata::StrataDialect,
                  mlir::strata::kernel::StrataKernelDialect>();
  mlir::strata::registerCpuObjectTranslations(registry);
  mlir::strata::registerCodegenExtensions(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadDialect<mlir::strata::StrataDialect, mlir::func::FuncDialect>();
  // Diagnostics from passes print as config file:line:col with the line.
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler diagHandler(sourceMgr, &ctx);
  // The config line says where an op came from; its generic form is noise.
  ctx.printOpOnDiagnostic(false);
  mlir::strata::ExecutableContents contents;
  if (llvm::StringRef(opts.config).ends_with(".mlir"))
    return runKernelModule(opts, ctx, sourceMgr, contents);

  std::unique_ptr<ConfigFile> file = ConfigFile::load(opts.config);
  if (!file)
    return 1;
  StrataConfig config;
  if (!readConfig(*file, config))
    return 1;
  // Flags override the config's parallel section before the plan is checked.
  applyParallelFlags(opts, config.parallel);
  if (opts.train && !applyTrainingFlags(opts, config.training))
    return 1;
  if (!validateParallel(*file, config))
    return 1;
  mlir::OwningOpRef<mlir::ModuleOp> module = buildModel(&ctx, *file, config);
  if (!module || mlir::failed(mlir::verify(*module)))
    return 1;
  std::string scheme = quantizeScheme(opts, config.quantization);
  // The context the stats assume: a training sequence, else the model's.
  int64_t context = opts.contextLength;
  if (!context)
    context = config.training.seqLen ? config.training.seqLen
                                     : config.model.maxSeqLen;
  if (mlir::failed(shardPhase(*module, opts, scheme,
                              opts.contextLength ? opts.contextLength
                              : opts.train       ? context
                                                 : config.model.maxSeqLen)))
    return 1;
  if (opts.train &&
      mlir::failed(addTrainingEntryPoints(*module, opts.training.recompute)))
    return 1;
  if (mlir::failed(quantizePhase(
          *module, scheme,
          opts.quantizeLmHead ||
              (scheme != "none" && config.quantization.lmHead),
          resolveWeightsDtype(opts, config.model.checkpointDtype))))
    return 1;

  std::optional<mlir::strata::PlanReport> plan;
  if (opts.statsRequested || opts.deviceMemory) {
    // Inference sequences grow to the model's length (the KV cache);
    // training ones are training.seq_len long.
    bool trains = module->lookupSymbol("loss_grad") != nullptr;
    int64_t planContext = opts.contextLength ? opts.contextLength
                          : trains           ? context
                                             : config.model.maxSeqLen;
    plan = mlir::strata::computePlanReport(*module, planContext,
                                           opts.training.recompute == "layer");
    if (plan->overflow) {
      plan->overflow->emitError(plan->bytesOverflow
                                    ? mlir::strata::kPlanOverflow
                                    : mlir::strata::kStatsOverflow);
      return 1;
    }
  }
  if (opts.statsRequested) {
    auto forward = module->lookupSymbol<mlir::func::FuncOp>("forward");
    mlir::strata::ModelStats stats =
        mlir::strata::computeModelStats(forward, context);
    if (stats.overflow) {
      stats.overflow->emitError(mlir::strata::kStatsOverflow);
      return 1;
    }
    std::string name = config.model.name.empty() ? "model" : config.model.name;
    if (opts.stats == "json") {
      mlir::strata::printStatsJson(stats, name, llvm::outs(),
                                   mlir::strata::planToJson(*plan));
    } else {
      mlir::strata::printStatsTable(stats, name, llvm::outs());
      mlir::strata::printPlanTable(*plan, llvm::outs());
    }
  }
  if (opts.deviceMemory && mlir::failed(mlir::strata::checkDeviceMemory(
                               *module, *plan, opts.deviceMemory)))
    return 1;
  // With --stats alone nothing else is printed; -o still writes the IR.
  if (opts.statsRequested && opts.output.empty())
    return 0;

  const ModelSpec &m = config.model;
  contents.modelName = m.name.empty() ? "model" : m.name;
  contents.configPath = opts.config;
  contents.configText = file->text().str();
  contents.vocabSize = m.vocabSize;
  contents.hiddenSize = m.hiddenSize;
  contents.numLayers = m.numLayers;
  contents.maxSeqLen = m.maxSeqLen;
  contents.bosTokenId = m.bosTokenId;
  contents.eosTokenId = m.eosTokenId;
  contents.padTokenId = m.padTokenId;
  return lowerAndWrite(opts, *module, contents);
}

} // namespace

int main(int argc, char **argv) {
  strata::runtime::ignoreFileSizeSignal();
  // The lowering pipeline names upstream passes textually.
  mlir::registerAllPasses();
  Options opts;
  CLI::App app{"strata-compile: compile a model config (seed YAML or "
               "HuggingFace config.json) into a Strata program"};
  app.add_option("config", opts.config,
                 "Model config: YAML with model/training/parallel sections, "
                 "or a HuggingFace config.json")
      ->required();
  app.add_option("-o,--output", opts.output,
                 "Output file, written only on success (default: stdout)");
  app.add_option("--emit", opts.emit,
                 "Stage to emit: mlir (strata dialect), linalg (tensors), "
                 "loops (buffers and scf), gpu (cuda: kernels outlined), llvm "
                 "(LLVM dialect; host code on cuda), llvm-ir (optimised LLVM "
                 "IR), obj (x86-64 ELF object), ptx (cuda: the kernels' PTX) "
                 "or executable (the packaged .strata file for strata-run)")
      ->check(CLI::IsMember({"mlir", "linalg", "loops", "gpu", "llvm",
                             "llvm-ir", "obj", "ptx", "executable"}))
      ->default_val("mlir");
  app.add_option("--target", opts.target,
                 "Code generation target: cpu (x86-64) or cuda (PTX kernels, "
                 "x86-64 host code)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->default_val("cpu");
  app.add_option("--sm", opts.sm,
                 "CUDA compute capability to generate for: 80, 89 or 90")
      ->check(CLI::IsMember({80, 89, 90}))
      ->default_val(90);
  app.add_flag("--tensor-cores", opts.tensorCores,
               "cuda: contractions, grouped expert GEMMs and flash attention "
               "on tensor cores (mma.sync, bf16 operands, f32 accumulation; "
               "results within bf16 tolerance of f32)");
  app.add_option("--ptxas", opts.ptxas,
                 "ptxas to assemble the cubin with (default: PATH, then "
                 "the CUDA toolkit's bin/)");
  app.add_option("--cuda-toolkit", opts.cudaToolkit,
                 "CUDA toolkit root: libdevice and ptxas are taken from it")
      ->default_val("/usr/local/cuda");
  app.add_option("--cpu", opts.cpu,
                 "x86-64 CPU to generate code for (llc's -mcpu names)")
      ->default_str("portable: x86-64-v2, -v3 and -v4");
  app.add_option("--attention", opts.attention,
                 "Attention kernels: flash (online softmax, one pass over "
                 "the keys, no score matrix), materialized (scores, "
                 "softmax, then P·V) or auto (flash; the same on both "
                 "targets for now)")
      ->check(CLI::IsMember({"auto", "flash", "materialized"}))
      ->default_val("auto");
  app.add_option("--stats", opts.stats,
                 "Print parameters (total, active per token) and forward "
                 "FLOPs per token, per layer, then the parallel plan's "
                 "memory and communication per rank: 'table' (default) or "
                 "'json'")
      ->expected(0, 1)
      ->default_str("table")
      ->check(CLI::IsMember({"table", "json"}));
  app.add_option("--context-length", opts.contextLength,
                 "Sequence length for attention FLOPs and the plan in "
                 "--stats (default: "
                 "training.seq_len, else the model's max sequence length)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  app.add_option("--device-memory", opts.deviceMemoryText,
                 "Memory of one device (e.g. 80GiB, 141GB, bytes): a plan "
                 "whose rank needs more (weights, gradients, optimizer "
                 "state, activations, KV cache; see --stats) is an error");
  auto degree = CLI::Range(int64_t(1), int64_t(1) << 20);
  app.add_option("--tp", opts.tp, "Tensor-parallel degree (overrides config)")
      ->check(degree);
  app.add_option("--pp", opts.pp, "Pipeline-parallel degree (overrides config)")
      ->check(degree);
  app.add_option("--dp", opts.dp, "Data-parallel degree (overrides config)")
      ->check(degree);
  app.add_option("--ep", opts.ep, "Expert-parallel degree (overrides config)")
      ->check(degree);
  app.add_option("--zero", opts.zeroStage,
                 "ZeRO stage over the data-parallel ranks: 1 shards the "
                 "optimizer state (overrides parallel.optimizer_sharding)")
      ->check(CLI::Range(0, 1));
  app.add_flag("--print-locations", opts.printLocations,
               "Print each op's config line:column in the emitted IR");
  app.add_option("-j,--jobs", opts.jobs,
                 "Threads that optimise and compile the kernel library at "
                 "once (default: one per core)")
      ->check(CLI::Range(1u, 256u));
  app.add_option("--weights-dtype", opts.weightsDtype,
                 "Store the matrix products' weights (linear layers, the "
                 "experts, the LM head) in bf16 or f16: they are widened as "
                 "read and accumulated in f32, and decode reads half the "
                 "bytes. auto: the checkpoint's dtype (a HuggingFace "
                 "config's torch_dtype) where it is bf16 or f16, else f32; "
                 "f32 with --train or --target=cuda")
      ->check(CLI::IsMember({"auto", "f32", "bf16", "f16"}))
      ->default_val("auto");
  app.add_option("--quantize", opts.quantize,
                 "int8 post-training quantization of the linear layers and "
                 "experts (weights int8, symmetric per output channel): w8a16 "
                 "(activations stay float), w8a8-dynamic (activations "
                 "quantized per token as they run) or w8a8 (the seed's "
                 "static scheme: activations uint8, asymmetric per tensor, "
                 "calibrated by strata-run quantize --calibration-data). "
                 "The router's gate, "
                 "norms, embeddings and the LM head stay float "
                 "(docs/quantization.md). Default: the config's "
                 "quantization section, else none")
      ->check(CLI::IsMember({"none", "w8a16", "w8a8-dynamic", "w8a8"}));
  app.add_flag("--quantize-lm-head", opts.quantizeLmHead,
               "--quantize: the LM head too");
  app.add_flag("--train", opts.train,
               "Add the training entry points: loss_grad (the loss and the "
               "gradient of every parameter, by strata-autodiff) and "
               "optimizer_step (schedule, clipping and the optimizer's "
               "update, from the training section and the flags below)");
  auto &t = opts.training;
  auto positive = CLI::PositiveNumber;
  app.add_option("--optimizer", t.optimizer,
                 "--train: the optimizer (default: training.optimizer, "
                 "else adamw)")
      ->check(CLI::IsMember({"adamw", "lion", "sgd"}));
  app.add_option("--lr", t.lr, "--train: peak learning rate")->check(positive);
  app.add_option("--weight-decay", t.weightDecay,
                 "--train: weight decay (decoupled for adamw and lion)")
      ->check(CLI::Range(0.0, 10.0));
  app.add_option("--beta1", t.beta1,
                 "--train: first-moment decay (sgd: the momentum)");
  app.add_option("--beta2", t.beta2, "--train: second-moment decay");
  app.add_option("--eps", t.eps, "--train: adamw's epsilon")->check(positive);
  app.add_option("--schedule", t.schedule,
                 "--train: learning-rate schedule")
      ->check(CLI::IsMember(
          {"constant", "linear_warmup", "linear_warmup_cosine_decay"}));
  app.add_option("--warmup", t.warmup, "--train: warmup steps")
      ->check(CLI::Range(int64_t(0), int64_t(INT32_MAX)));
  app.add_option("--total-steps", t.totalSteps,
                 "--train: steps over which the cosine decays")
      ->check(CLI::Range(int64_t(0), int64_t(INT32_MAX)));
  app.add_option("--min-lr-ratio", t.minLrRatio,
                 "--train: the cosine's floor, as a fraction of --lr")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--clip", t.clip,
                 "--train: global gradient-norm clipping threshold (0: off)")
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--accumulation", t.accumulation,
                 "--train: micro-batches whose gradients one step averages")
      ->check(CLI::Range(int64_t(1), int64_t(1000000)));
  app.add_option("--recompute", t.recompute,
                 "--train: layer (each layer's backward recomputes its "
                 "forward; only the layers' inputs are kept) or none (every "
                 "activation is kept: each layer runs once, more memory)")
      ->check(CLI::IsMember({"layer", "none"}));
  app.add_option("--precision", t.precision,
                 "--train: float32, bfloat16 (bf16 compute, f32 master "
                 "weights) or float16 (f16 compute, dynamic loss scaling)")
      ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
  app.add_option("--loss-scale", t.lossScale,
                 "--train, float16: the dynamic loss scale's start "
                 "(default 65536)")
      ->check(positive);
  app.add_option("--loss-scale-growth-interval", t.lossScaleGrowth,
                 "--train, float16: steps without an overflow before the "
                 "loss scale doubles (default 2000)")
      ->check(CLI::Range(int64_t(1), int64_t(INT32_MAX)));
  app.add_flag("--timing", opts.timing,
               "Print the time of every lowering pass, LLVM code generation, "
               "linking and ptxas to stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e);
  }
  opts.statsRequested = app.count("--stats") > 0;
  for (const char *flag :
       {"--optimizer", "--lr", "--weight-decay", "--beta1", "--beta2", "--eps",
        "--schedule", "--warmup", "--total-steps", "--min-lr-ratio", "--clip",
        "--accumulation", "--precision", "--recompute", "--loss-scale",
        "--loss-scale-growth-interval"})
    if (app.count(flag) && !opts.train) {
      llvm::errs() << "error: " << flag << " sets the training plan: add "
                   << "--train\n";
      return 2;
    }
  // auto resolves to f32 where narrow weights are not supported; only an
  // explicit bf16 or f16 is an error there.
  bool narrowRequested =
      opts.weightsDtype != "f32" && opts.weightsDtype != "auto";
  if (opts.train && narrowRequested) {
    llvm::errs() << "error: --weights-dtype " << opts.weightsDtype
                 << " stores weights the optimizer cannot update (training "
                    "keeps f32 master weights: use --precision bfloat16 for "
                    "bf16 compute)\n";
    return 2;
  }
  bool quantizeAsked = !opts.quantize.empty() && opts.quantize != "none";
  if (quantizeAsked && opts.train) {
    llvm::errs() << "error: --quantize is post-training quantization: "
                    "compile the training executable without it, then a "
                    "quantized one for inference\n";
    return 2;
  }
  if (opts.target != "cuda" && (opts.emit == "gpu" || opts.emit == "ptx")) {
    llvm::errs() << "error: --emit=" << opts.emit << " needs --target=cuda\n";
    return 2;
  }
  if (opts.statsRequested && opts.stats.empty())
    opts.stats = "table";
  if (!opts.deviceMemoryText.empty()) {
    std::optional<int64_t> bytes =
        mlir::strata::parseByteSize(opts.deviceMemoryText);
    if (!bytes) {
      llvm::errs() << "error: --device-memory '" << opts.deviceMemoryText
                   << "' is not a size: give bytes or a number with KB, MB, "
                      "GB, KiB, MiB or GiB (e.g. 80GiB)\n";
      return 2;
    }
    opts.deviceMemory = *bytes;
  }
  int status = run(opts);
  // A full stdout is an error to report, not a crash in llvm::outs()'s
  // destructor ("LLVM ERROR: IO failure on output stream").
  llvm::outs().flush();
  if (std::error_code ec = llvm::outs().error()) {
    llvm::errs() << "error: cannot write to standard output: " << ec.message()
                 << "\n";
    llvm::outs().clear_error();
    return 1;
  }
  return status;
}

//===- ExecutableWriter.cpp - package a compiled model ----------*- C++ -*-===//

#include "codegen/ExecutableWriter.h"

#include "dialect/StrataOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "runtime/Checksum.h"
#include "runtime/abi.h"
#include "runtime/schema/executable_generated.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::strata;

static std::vector<int64_t> shapeOf(RankedTensorType type) {
  std::vector<int64_t> shape;
  for (int64_t d : type.getShape())
    shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return shape;
}

namespace {

/// More pipeline stages than any mesh this runtime checks would hold.
constexpr int64_t kMaxStages = 1 << 16;

/// Index of training state `name` (shaped `shape`), added on first use.
int stateIndex(ExecutableContents &contents, StringRef name,
               const std::vector<int64_t> &shape) {
  for (auto [i, s] : llvm::enumerate(contents.state))
    if (s.name == name)
      return static_cast<int>(i);
  contents.state.push_back({name.str(), shape, -1});
  return static_cast<int>(contents.state.size() - 1);
}

/// An argument strata-optimizer marked with `strata.arg`.
LogicalResult trainingArgument(func::FuncOp func, unsigned i, StringAttr role,
                               ExecutableContents &contents,
                               ExecutableContents::Argument &arg) {
  using Arg = ExecutableContents::Argument;
  auto shape = shapeOf(cast<RankedTensorType>(func.getArgumentTypes()[i]));
  StringRef kind = role.getValue();
  if (kind == "step") {
    arg.kind = Arg::Step;
    return success();
  }
  // A pipeline stage's arguments (strata-pipeline, strata-autodiff).
  auto layer = func.getArgAttrOfType<IntegerAttr>(i, "strata.layer");
  auto index = func.getArgAttrOfType<IntegerAttr>(i, "strata.index");
  std::optional<Arg::Kind> stageKind =
      llvm::StringSwitch<std::optional<Arg::Kind>>(kind)
          .Case("tokens", Arg::Tokens)
          .Case("labels", Arg::Labels)
          .Case("positions", Arg::Positions)
          .Case("key_padding", Arg::KeyPadding)
          .Case("key_cache", layer ? Arg::KeyCache : std::optional<Arg::Kind>())
          .Case("value_cache",
                layer ? Arg::ValueCache : std::optional<Arg::Kind>())
          .Case("boundary", index ? Arg::Boundary : std::optional<Arg::Kind>())
          .Case("boundary_grad",
                index ? Arg::BoundaryGrad : std::optional<Arg::Kind>())
          .Default(std::nullopt);
  if (stageKind) {
    arg.kind = *stageKind;
    arg.layer = layer ? static_cast<int>(layer.getInt()) : -1;
    arg.index = index ? static_cast<int>(index.getInt()) : -1;
    return success();
  }
  if (kind == "update_count") {
    arg.kind = Arg::UpdateCount;
    return success();
  }
  if (kind == "loss_scale") {
    arg.kind = Arg::LossScale;
    return success();
  }
  if (kind == "gradient" && func.getArgAttrOfType<StringAttr>(i, "strata.param")) {
    arg.kind = Arg::Gradient;
    return success();
  }
  if (kind == "expert_load" &&
      func.getArgAttrOfType<StringAttr>(i, "strata.param")) {
    arg.kind = Arg::ExpertLoad;
    return success();
  }
  if (auto name = func.getArgAttrOfType<StringAttr>(i, "strata.state");
      kind == "state" && name) {
    arg.kind = Arg::OptimizerState;
    arg.state = stateIndex(contents, name.getValue(), shape);
    return success();
  }
  // optimizer_update (ZeRO-1): one parameter's slice, whichever it is.
  if (kind == "grad_norm") {
    arg.kind = Arg::GradNorm;
    return success();
  }
  if (kind == "flat_param" || kind == "flat_gradient") {
    arg.kind = kind == "flat_param" ? Arg::FlatParam : Arg::FlatGradient;
    return success();
  }
  if (auto slot = func.getArgAttrOfType<IntegerAttr>(i, "strata.slot");
      kind == "flat_state" && slot) {
    arg.kind = Arg::FlatState;
    arg.state = static_cast<int>(slot.getInt());
    return success();
  }
  return func.emitError("argument ")
         << i << " has strata.arg = \"" << kind
         << "\", which is not step, loss_scale, grad_norm, flat_param, "
            "flat_gradient, tokens, labels, positions, key_padding, "
            "gradient or expert_load (with strata.param), state (with "
            "strata.state), flat_state (with strata.slot), key_cache or "
            "value_cache (with strata.layer), boundary or boundary_grad "
            "(with strata.index)";
}

/// A result strata-optimizer marked with `strata.result`.
LogicalResult trainingResult(func::FuncOp func, unsigned i, StringAttr role,
                             const llvm::StringMap<int> &params,
                             ExecutableContents &contents,
                             ExecutableContents::Result &result) {
  using Result = ExecutableContents::Result;
  StringRef kind = role.getValue();
  if (kind == "lr" || kind == "grad_norm") {
    result.kind = kind == "lr" ? Result::LearningRate : Result::GradNorm;
    return success();
  }
  if (kind == "dropped_tokens") {
    result.kind = Result::DroppedTokens;
    return success();
  }
  // A pipeline stage's results (strata-pipeline, strata-autodiff).
  if (auto index = func.getResultAttrOfType<IntegerAttr>(i, "strata.index");
      index && (kind == "boundary" || kind == "boundary_grad")) {
    result.kind = kind == "boundary" ? Result::Boundary : Result::BoundaryGrad;
    result.index = static_cast<int>(index.getInt());
    return success();
  }
  if (auto layer = func.getResultAttrOfType<IntegerAttr>(i, "strata.layer");
      layer && (kind == "key_cache" || kind == "value_cache")) {
    result.kind = kind == "key_cache" ? Result::KeyCache : Result::ValueCache;
    result.layer = static_cast<int>(layer.getInt());
    return success();
  }
  if (auto name = func.getResultAttrOfType<StringAttr>(i, "strata.param");
      kind == "expert_load" && name) {
    auto it = params.find(name.getValue());
    if (it == params.end())
      return func.emitError("result ")
             << i << " is the expert load of '" << name.getValue()
             << "', which is no parameter of the function";
    result.kind = Result::ExpertLoad;
    result.parameter = it->second;
    return success();
  }
  if (auto name = func.getResultAttrOfType<StringAttr>(i, "strata.param");
      kind == "parameter" && name) {
    auto it = params.find(name.getValue());
    if (it == params.end())
      return func.emitError("result ")
             << i << " updates '" << name.getValue()
             << "', which is no parameter of the function";
    if (contents.parameters[it->second].shape != result.shape)
      return func.emitError("result ")
             << i << " updates '" << name.getValue()
             << "' with a value of another shape";
    result.kind = Result::Param;
    result.parameter = it->second;
    return success();
  }
  if (auto name = func.getResultAttrOfType<StringAttr>(i, "strata.state");
      kind == "state" && name) {
    result.kind = Result::OptimizerState;
    result.state = stateIndex(contents, name.getValue(), result.shape);
    // "<parameter>.<slot>": the state belongs to that parameter.
    auto owner = params.find(name.getValue().rsplit('.').first);
    if (owner != params.end())
      contents.state[result.state].parameter = owner->second;
    return success();
  }
  if (auto name = func.getResultAttrOfType<StringAttr>(i, "strata.param");
      (kind == "activations" || kind == "expert_rows" ||
       kind == "expert_offsets") &&
      name) {
    auto it = params.find(name.getValue());
    if (it == params.end())
      return func.emitError("result ")
             << i << " calibrates '" << name.getValue()
             << "', which is no parameter of the executable";
    result.kind = kind == "activations"   ? Result::Activations
                  : kind == "expert_rows" ? Result::ExpertRows
                                          : Result::ExpertOffsets;
    result.parameter = it->second;
    auto all = func.getResultAttrOfType<ArrayAttr>(i, "strata.params");
    for (auto p : all ? all.getAsRange<StringAttr>()
                      : ArrayAttr::get(func.getContext(), {name})
                            .getAsRange<StringAttr>()) {
      auto at = params.find(p.getValue());
      if (at == params.end())
        return func.emitError("result ")
               << i << " calibrates '" << p.getValue()
               << "', which is no parameter of the executable";
      result.parameters.push_back(at->second);
    }
    return success();
  }
  if (kind == "flat_param") {
    result.kind = Result::FlatParam;
    return success();
  }
  if (auto slot = func.getResultAttrOfType<IntegerAttr>(i, "strata.slot");
      kind == "flat_state" && slot) {
    result.kind = Result::FlatState;
    result.state = static_cast<int>(slot.getInt());
    return success();
  }
  return func.emitError("result ")
         << i << " has strata.result = \"" << kind
         << "\", which is not lr, grad_norm, dropped_tokens, flat_param, "
            "parameter or expert_load (with strata.param), state (with "
            "strata.state) or flat_state (with strata.slot)";
}

} // namespace

/// The schema's dtype of a parameter's element type.
static std::optional<ExecutableContents::DType> paramDType(Type t) {
  if (t.isInteger(8))
    return ExecutableContents::DType::I8;
  if (t.isF32())
    return ExecutableContents::DType::F32;
  if (t.isBF16())
    return ExecutableContents::DType::BF16;
  if (t.isF16())
    return ExecutableContents::DType::F16;
  if (t.isInteger(32))
    return ExecutableContents::DType::I32;
  return std::nullopt;
}

std::string ExecutableContents::EntryPoint::symbol() const {
  return STRATA_ENTRY_PREFIX + (function.empty() ? name : function);
}

LogicalResult mlir::strata::collectEntryPoints(ModuleOp module,
                                               ExecutableContents &contents) {
  llvm::StringMap<int> index;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!func.isPublic() || func.isExternal())
      continue;
    ExecutableContents::EntryPoint entry;
    entry.function = func.getName().str();
    // A stage's entry point is `stage<N>.<name>`; the runtime looks it up
    // by <name> in the stage's program.
    auto stage = func->getAttrOfType<IntegerAttr>("strata.stage");
    entry.name =
        stage ? func.getName().split('.').second.str() : entry.function;
    // Original arguments first: token ids, then labels (the loss), or
    // what `strata.arg` says (optimizer_step). Gradients name their
    // parameter, resolved once the walk below has numbered them.
    SmallVector<std::pair<size_t, StringRef>> namedParams;
    for (auto [i, type] : llvm::enumerate(func.getArgumentTypes())) {
      auto tensor = dyn_cast<RankedTensorType>(type);
      if (!tensor)
        return func.emitError("entry point argument ")
               << i << " is not a ranked tensor";
      using Arg = ExecutableContents::Argument;
      Arg arg;
      bool decode = entry.name == "decode";
      arg.kind = i == 0       ? Arg::Tokens
                 : !decode    ? Arg::Labels
                 : i == 1     ? Arg::Positions
                 : i == 2     ? Arg::KeyPadding
                 : i % 2 == 1 ? Arg::KeyCache
                              : Arg::ValueCache;
      if (arg.kind == Arg::KeyCache || arg.kind == Arg::ValueCache)
        arg.layer = static_cast<int>((i - 3) / 2);
      if (auto role = func.getArgAttrOfType<StringAttr>(i, "strata.arg")) {
        if (failed(trainingArgument(func, i, role, contents, arg)))
          return failure();
        if (arg.kind == Arg::Gradient || arg.kind == Arg::ExpertLoad)
          namedParams.emplace_back(
              entry.arguments.size(),
              func.getArgAttrOfType<StringAttr>(i, "strata.param")
                  .getValue());
      }
      arg.shape = shapeOf(tensor);
      arg.isInteger = tensor.getElementType().isInteger();
      entry.arguments.push_back(arg);
    }
    // Then parameters, in the order strata-params-to-arguments appends them.
    // Each once: the runtime refuses an entry point that takes a parameter
    // twice (a sign of a corrupted parameter index).
    llvm::StringSet<> seen;
    WalkResult walk = func.walk([&](ParamOp param) {
      if (!seen.insert(param.getName()).second) {
        param.emitOpError("parameter '")
            << param.getName()
            << "' appears twice in one function; use one strata.param";
        return WalkResult::interrupt();
      }
      // A tensor-parallel program's slice: the table holds the whole.
      std::vector<int64_t> shape = shapeOf(param.getType());
      int shardDim = -1;
      int64_t shardCount = 1;
      std::string shardAxis;
      if (auto axis = param->getAttrOfType<StringAttr>("strata.shard_axis"))
        shardAxis = axis.str();
      if (auto dim = param->getAttrOfType<IntegerAttr>("strata.shard_dim")) {
        auto count = param->getAttrOfType<IntegerAttr>("strata.shard_count");
        if (!count || dim.getInt() < 0 ||
            dim.getInt() >= static_cast<int64_t>(shape.size()) ||
            count.getInt() < 1) {
          param.emitOpError("has a malformed strata.shard_dim / "
                            "strata.shard_count");
          return WalkResult::interrupt();
        }
        shardDim = static_cast<int>(dim.getInt());
        shardCount = count.getInt();
        shape[shardDim] *= shardCount;
      }
      auto [it, inserted] = index.try_emplace(
          param.getName(), static_cast<int>(contents.parameters.size()));
      std::optional<ExecutableContents::DType> dtype =
          paramDType(cast<RankedTensorType>(param.getType()).getElementType());
      if (!dtype) {
        param.emitOpError("parameter '")
            << param.getName() << "' is not f32, bf16, f16, int8 or i32";
        return WalkResult::interrupt();
      }
      if (inserted)
        contents.parameters.push_back(
            {param.getName().str(), shape, static_cast<int>(param.getInit()),
             param.getStd().convertToDouble(), *dtype,
             param.getScale().value_or("").str(),
             param.getInputScale().value_or("").str(),
             param.getInputZeroPoint().value_or("").str(),
             param.getRowSums().value_or("").str()});
      else if (contents.parameters[it->second].shape != shape ||
               contents.parameters[it->second].dtype != *dtype) {
        param.emitOpError("parameter '")
            << param.getName()
            << "' has different shapes or dtypes in two functions";
        return WalkResult::interrupt();
      }
      ExecutableContents::Argument arg;
      arg.kind = ExecutableContents::Argument::Param;
      arg.parameter = it->second;
      arg.paramDtype = *dtype;
      arg.shape = shapeOf(param.getType());
      arg.shardDim = shardDim;
      arg.shardCount = shardCount;
      arg.shardAxis = shardAxis;
      entry.arguments.push_back(arg);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    for (auto [i, type] : llvm::enumerate(func.getResultTypes())) {
      ExecutableContents::Result result;
      result.shape = shapeOf(cast<RankedTensorType>(type));
      result.isInteger =
          cast<RankedTensorType>(type).getElementType().isInteger();
      if (auto role = func.getResultAttrOfType<StringAttr>(i, "strata.result"))
        if (failed(trainingResult(func, i, role, index, contents, result)))
          return failure();
      entry.results.push_back(std::move(result));
    }
    for (auto [arg, name] : namedParams) {
      auto it = index.find(name);
      if (it == index.end())
        return func.emitError("argument ")
               << arg << " names '" << name
               << "', which is no parameter of the function";
      entry.arguments[arg].parameter = it->second;
    }
    if (stage) {
      if (stage.getInt() < 0 || stage.getInt() >= kMaxStages)
        return func.emitError("has strata.stage = ")
               << stage.getInt() << ", outside [0, " << kMaxStages << ")";
      size_t s = static_cast<size_t>(stage.getInt());
      if (contents.stages.size() <= s)
        contents.stages.resize(s + 1);
      ExecutableContents::Stage &into = contents.stages[s];
      if (auto first = func->getAttrOfType<IntegerAttr>("strata.first_layer"))
        into.firstLayer = first.getInt();
      if (auto count = func->getAttrOfType<IntegerAttr>("strata.num_layers"))
        into.numLayers = count.getInt();
      into.entryPoints.push_back(std::move(entry));
    } else {
      contents.entryPoints.push_back(std::move(entry));
    }
  }
  if (contents.entryPoints.empty())
    return module.emitError("the module has no entry point");
  // An int8 weight's scales: f32, one per output channel (its leading
  // dims), and a parameter of the executable. strata-quantize gives every
  // quantized product of a module one scheme.
  std::optional<QuantScheme> scheme;
  WalkResult schemes = module.walk([&](QuantizedLinearOp op) {
    // Calibration runs static w8a8's products as w8a16.
    if (op->getParentOfType<func::FuncOp>()->hasAttr("strata.calibration"))
      return WalkResult::advance();
    if (scheme && *scheme != op.getScheme()) {
      op.emitOpError("uses scheme ")
          << stringifyQuantScheme(op.getScheme()) << " and another op "
          << stringifyQuantScheme(*scheme)
          << "; an executable holds one int8 scheme";
      return WalkResult::interrupt();
    }
    scheme = op.getScheme();
    return WalkResult::advance();
  });
  if (schemes.wasInterrupted())
    return failure();
  using DType = ExecutableContents::DType;
  // The parameter an int8 weight names, if it has `dtype` and `shape`.
  auto companion = [&](StringRef name, DType dtype,
                       ArrayRef<int64_t> shape) -> std::optional<int> {
    auto it = index.find(name);
    if (it == index.end() || contents.parameters[it->second].dtype != dtype ||
        ArrayRef<int64_t>(contents.parameters[it->second].shape) != shape)
      return std::nullopt;
    return it->second;
  };
  for (auto [i, p] : llvm::enumerate(contents.parameters)) {
    if (p.scaleName.empty())
      continue;
    std::vector<int64_t> rows(p.shape.begin(), p.shape.end() - 1);
    std::optional<int> scales = companion(p.scaleName, DType::F32, rows);
    if (!scales)
      return module.emitError("int8 parameter '")
             << p.name << "' names scales '" << p.scaleName
             << "', which are no f32 parameter of its output channels";
    // The schema spells schemes as the CLI does.
    std::string name =
        scheme ? stringifyQuantScheme(*scheme).str() : std::string("w8a16");
    std::replace(name.begin(), name.end(), '_', '-');
    ExecutableContents::Quantized q{static_cast<int>(i), *scales,
                                    static_cast<int>(p.shape.size()) - 2, name};
    // Static w8a8: per tensor ([1]) for a linear, per expert ([E]).
    std::vector<int64_t> perTensor{p.shape.size() == 3 ? p.shape[0] : 1};
    for (auto [name, out] : {std::pair{&p.inputScaleName, &q.inputScale},
                             std::pair{&p.inputZeroPointName,
                                       &q.inputZeroPoint}}) {
      if (name->empty())
        continue;
      std::optional<int> at = companion(*name, DType::F32, perTensor);
      if (!at)
        return module.emitError("int8 parameter '")
               << p.name << "' names '" << *name
               << "', which is no f32 parameter of its activations' "
                  "quantization";
      *out = *at;
    }
    if (!p.rowSumsName.empty()) {
      std::optional<int> at = companion(p.rowSumsName, DType::I32, rows);
      if (!at)
        return module.emitError("int8 parameter '")
               << p.name << "' names row sums '" << p.rowSumsName
               << "', which are no i32 parameter of its output channels";
      q.rowSums = *at;
    }
    contents.quantized.push_back(q);
  }
  // An i32 parameter is some int8 weight's row sums, computed by the
  // runtime: the loader refuses any other.
  llvm::SmallDenseSet<int> named;
  for (const ExecutableContents::Quantized &q : contents.quantized)
    named.insert(q.rowSums);
  for (auto [i, p] : llvm::enumerate(contents.parameters))
    if (p.dtype == DType::I32 && !named.contains(static_cast<int>(i)))
      return module.emitError("i32 parameter '")
             << p.name
             << "' is no int8 weight's row sums (the only i32 parameters "
                "an executable holds)";
  return success();
}

namespace {
/// Runs `tool` on `inputs`, each written to a temporary file `*.inExt`;
/// `args` gives its arguments from the input and output paths, and what it
/// writes to the `*.outExt` path comes back in `output`. The temporary
/// files are removed whatever happens. Failures are reported on `module`,
/// naming `what` the tool was doing, with its exit code and output.
LogicalResult runOnTemporaryFiles(
    ModuleOp module, StringRef tool, ArrayRef<std::string> inputs,
    StringRef inExt, StringRef outExt, StringRef what,
    function_ref<SmallVector<StringRef>(ArrayRef<SmallString<128>>,
                                        StringRef)>
        args,
    std::string &output) {
  SmallVector<SmallString<128>> inPaths(inputs.size());
  SmallString<128> outPath, logPath;
  llvm::scope_exit cleanup([&] {
    for (const SmallString<128> &in : inPaths)
      if (!in.empty())
        llvm::sys::fs::remove(in);
    llvm::sys::fs::remove(outPath);
    llvm::sys::fs::remove(logPath);
  });
  for (auto [input, inPath] : llvm::zip(inputs, inPaths)) {
    int inFd;
    if (llvm::sys::fs::createTemporaryFile("strata-kernels", inExt, inFd,
                                           inPath))
      return module.emitError("cannot create temporary files for ") << what;
    llvm::raw_fd_ostream os(inFd, /*shouldClose=*/true);
    os << input;
  }
  if (llvm::sys::fs::createTemporaryFile("strata-kernels", outExt, outPath) ||
      llvm::sys::fs::createTemporaryFile("strata-tool", "log", logPath))
    return module.emitError("cannot create temporary files for ") << what;
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(tool, args(inPaths, outPath),
                                     std::nullopt, redirects, 0, 0, &message);
  if (rc != 0) {
    auto log = llvm::MemoryBuffer::getFile(logPath);
    return module.emitError()
           << what << " failed (" << tool << " exited with " << rc << ") "
           << message << (log ? (*log)->getBuffer() : StringRef());
  }
  auto buffer = llvm::MemoryBuffer::getFile(outPath, /*IsText=*/false);
  if (!buffer)
    return module.emitError("cannot read what ") << tool << " wrote";
  output = (*buffer)->getBuffer().str();
  return success();
}
} // namespace

LogicalResult mlir::strata::linkSharedObject(ModuleOp module,
                                             ArrayRef<std::string> objects,
                                             std::string &sharedObject) {
  auto cc = llvm::sys::findProgramByName("cc");
  if (!cc)
    return module.emitError("packaging an executable needs a C compiler "
                            "driver ('cc') to link the kernel library; "
                            "install gcc or clang");
  return runOnTemporaryFiles(
      module, *cc, objects, "o", "so", "linking the kernel library",
      [&](ArrayRef<SmallString<128>> in, StringRef out) {
        SmallVector<StringRef> args{*cc, "-shared", "-o", out};
        llvm::append_range(args, in);
        llvm::append_range(args, ArrayRef<StringRef>{"-lm",
                                                     "-Wl,--build-id=none"});
        return args;
      },
      sharedObject);
}

LogicalResult mlir::strata::collectMemoryPlans(ModuleOp module,
                                               ExecutableContents &contents) {
  SmallVector<ExecutableContents::EntryPoint *> entries;
  for (auto &entry : contents.entryPoints)
    entries.push_back(&entry);
  for (auto &stage : contents.stages)
    for (auto &entry : stage.entryPoints)
      entries.push_back(&entry);
  for (ExecutableContents::EntryPoint *e : entries) {
    ExecutableContents::EntryPoint &entry = *e;
    // strata-export-entry-points gave the lowered function its ABI name.
    Operation *fn = module.lookupSymbol(entry.symbol());
    auto plan =
        fn ? fn->getAttrOfType<DenseI64ArrayAttr>("strata.memory_plan")
           : DenseI64ArrayAttr();
    if (!plan)
      continue;
    ArrayRef<int64_t> record = plan.asArrayRef();
    if (record.size() < 2 || record.size() != 2 + size_t(record[1]))
      return fn->emitError("malformed strata.memory_plan");
    entry.memoryPlan.assign(record.begin(), record.end());
  }
  return success();
}

LogicalResult mlir::strata::collectCudaKernels(ModuleOp module,
                                               ExecutableContents &contents) {
  auto ptx = module->getAttrOfType<StringAttr>("strata.ptx");
  auto kernels = module->getAttrOfType<ArrayAttr>("strata.gpu_kernels");
  if (!ptx || !kernels)
    return module.emitError("the module was not lowered for CUDA (no "
                            "strata.ptx / strata.gpu_kernels)");
  contents.ptx = ptx.getValue().str();
  // An unresolved call (libdevice's math functions when the toolkit lacked
  // it) would only fail when the driver loads the module.
  size_t external = contents.ptx.find(".extern .func");
  if (external != std::string::npos) {
    size_t end = contents.ptx.find('\n', external);
    return module.emitError("the PTX calls a function it does not define (")
           << StringRef(contents.ptx).slice(external, end).trim()
           << "): libdevice was not linked; point --cuda-toolkit at a CUDA "
              "toolkit with nvvm/libdevice/libdevice.10.bc";
  }
  for (Attribute a : kernels) {
    auto dict = dyn_cast<DictionaryAttr>(a);
    auto name = dict ? dict.getAs<StringAttr>("name") : StringAttr();
    auto block =
        dict ? dict.getAs<DenseI64ArrayAttr>("block") : DenseI64ArrayAttr();
    if (!name || !block || block.size() != 3)
      return module.emitError("malformed strata.gpu_kernels entry");
    contents.gpuKernels.push_back(
        {name.getValue().str(),
         std::vector<int64_t>(block.asArrayRef().begin(),
                              block.asArrayRef().end())});
  }
  return success();
}

LogicalResult mlir::strata::assembleCubin(ModuleOp module, StringRef ptxas,
                                          StringRef ptx, int sm,
                                          std::string &cubin) {
  std::string arch = "-arch=sm_" + std::to_string(sm);
  return runOnTemporaryFiles(
      module, ptxas, {ptx.str()}, "ptx", "cubin",
      "assembling the generated PTX for " + arch,
      [&](ArrayRef<SmallString<128>> in, StringRef out) {
        return SmallVector<StringRef>{ptxas, arch, "-O3", in[0], "-o", out};
      },
      cubin);
}

void mlir::strata::collectPlan(ModuleOp module, ExecutableContents &contents) {
  ExecutableContents::Plan &p = contents.plan;
  if (auto par = module->getAttrOfType<ParallelAttr>("strata.parallel")) {
    p.hasParallel = true;
    p.tp = par.getTp();
    p.pp = par.getPp();
    p.dp = par.getDp();
    p.ep = par.getEp();
    p.zeroStage = par.getZeroStage();
    p.microBatches = par.getMicroBatches();
    SmallVector<int64_t> shape = par.getGridShape();
    p.meshShape.assign(shape.begin(), shape.end());
  }
  if (auto t = module->getAttrOfType<TrainingAttr>("strata.training")) {
    p.hasTraining = true;
    // The fb enums list the same cases in the same order as the dialect's.
    p.optimizer = static_cast<int>(t.getOptimizer());
    p.schedule = static_cast<int>(t.getSchedule());
    p.precision = static_cast<int>(t.getPrecision());
    p.dynamicLossScaling = t.getLossScaling() == LossScaling::Dynamic;
    p.lr = t.getLr().convertToDouble();
    p.weightDecay = t.getWeightDecay().convertToDouble();
    p.beta1 = t.getBeta1().convertToDouble();
    p.beta2 = t.getBeta2().convertToDouble();
    p.eps = t.getEps().convertToDouble();
    p.minLrRatio = t.getMinLrRatio().convertToDouble();
    p.gradientClipping = t.getGradientClipping().convertToDouble();
    p.warmupSteps = t.getWarmupSteps();
    p.totalSteps = t.getTotalSteps();
    p.accumulationSteps = t.getAccumulationSteps();
    p.checkpointInterval = t.getCheckpointInterval();
    p.checkpointKeepLast = t.getCheckpointKeepLast();
    p.batchSize = t.getBatchSize();
    p.seqLen = t.getSeqLen();
    p.seed = t.getSeed();
    p.ignoreIndex = t.getIgnoreIndex();
    p.lossScaleInit = t.getLossScaleInit().convertToDouble();
    p.lossScaleGrowthInterval = t.getLossScaleGrowthInterval();
  }
  if (auto inf = module->getAttrOfType<InferenceAttr>("strata.inference")) {
    p.hasInference = true;
    p.maxBatchSize = inf.getMaxBatchSize();
    p.maxTokens = inf.getMaxTokens();
  }
}

namespace {
struct PlanOffsets {
  flatbuffers::Offset<::strata::fb::ParallelPlan> parallel;
  flatbuffers::Offset<::strata::fb::TrainingPlan> training;
  flatbuffers::Offset<::strata::fb::InferencePlan> inference;
};

PlanOffsets serializePlan(flatbuffers::FlatBufferBuilder &b,
                          const ExecutableContents::Plan &p) {
  namespace fb = ::strata::fb;
  PlanOffsets out;
  if (p.hasParallel) {
    auto mesh = fb::CreateMesh(
        b, b.CreateVectorOfStrings({"pp", "dp", "ep", "tp"}),
        b.CreateVector(p.meshShape));
    out.parallel = fb::CreateParallelPlan(b, p.tp, p.pp, p.dp, p.ep,
                                          p.zeroStage, p.microBatches, mesh);
  }
  if (p.hasTraining)
    out.training = fb::CreateTrainingPlan(
        b, static_cast<fb::Optimizer>(p.optimizer), p.lr, p.weightDecay,
        p.beta1, p.beta2, p.eps, static_cast<fb::LrSchedule>(p.schedule),
        p.warmupSteps, p.totalSteps, p.minLrRatio, p.gradientClipping,
        p.accumulationSteps, static_cast<fb::Precision>(p.precision),
        p.dynamicLossScaling, p.checkpointInterval, p.checkpointKeepLast,
        p.batchSize, p.seqLen, p.seed, p.ignoreIndex, p.lossScaleInit,
        p.lossScaleGrowthInterval);
  if (p.hasInference)
    out.inference = fb::CreateInferencePlan(b, p.maxBatchSize, p.maxTokens);
  return out;
}
} // namespace

std::string mlir::strata::serializeExecutable(const ExecutableContents &c) {
  namespace fb = ::strata::fb;
  flatbuffers::FlatBufferBuilder b(1 << 20);
  auto kernelData =
      b.CreateVector(reinterpret_cast<const uint8_t *>(c.kernelLibrary.data()),
                     c.kernelLibrary.size());
  auto crc = [](const std::string &s) {
    return ::strata::checksum::crc32c(s.data(), s.size());
  };
  std::vector<flatbuffers::Offset<fb::KernelLibrary>> kernels{
      fb::CreateKernelLibrary(b, fb::LibraryFormat::ElfSharedObject,
                              kernelData, /*sm=*/0, crc(c.kernelLibrary),
                              c.cuda ? flatbuffers::Offset<flatbuffers::String>()
                                     : b.CreateString(c.cpu))};
  for (const auto &[cpu, elf] : c.cpuVariants)
    kernels.push_back(fb::CreateKernelLibrary(
        b, fb::LibraryFormat::ElfSharedObject,
        b.CreateVector(reinterpret_cast<const uint8_t *>(elf.data()),
                       elf.size()),
        /*sm=*/0, crc(elf), b.CreateString(cpu)));
  std::vector<flatbuffers::Offset<fb::GpuKernel>> gpuKernels;
  if (c.cuda) {
    auto bytes = [&](const std::string &s) {
      return b.CreateVector(reinterpret_cast<const uint8_t *>(s.data()),
                            s.size());
    };
    kernels.push_back(fb::CreateKernelLibrary(b, fb::LibraryFormat::Ptx,
                                              bytes(c.ptx), c.sm, crc(c.ptx)));
    if (!c.cubin.empty())
      kernels.push_back(fb::CreateKernelLibrary(b, fb::LibraryFormat::Cubin,
                                                bytes(c.cubin), c.sm,
                                                crc(c.cubin)));
    for (const auto &k : c.gpuKernels)
      gpuKernels.push_back(fb::CreateGpuKernel(b, b.CreateString(k.name),
                                               b.CreateVector(k.block)));
  }
  std::vector<flatbuffers::Offset<fb::Parameter>> params;
  for (const auto &p : c.parameters)
    params.push_back(fb::CreateParameter(
        b, b.CreateString(p.name), b.CreateVector(p.shape),
        static_cast<fb::DType>(p.dtype),
        static_cast<fb::InitKind>(p.init), p.std));
  std::vector<flatbuffers::Offset<fb::QuantizedTensor>> quantized;
  for (const auto &q : c.quantized)
    quantized.push_back(fb::CreateQuantizedTensor(
        b, q.parameter, b.CreateString(q.scheme), q.scale,
        /*zero_point=*/-1, q.axis, q.inputScale, q.inputZeroPoint, q.rowSums));
  auto serializeEntry = [&](const ExecutableContents::EntryPoint &e) {
    std::vector<flatbuffers::Offset<fb::Argument>> args;
    for (const auto &a : e.arguments) {
      using Arg = ExecutableContents::Argument;
      fb::ArgumentKind kind = fb::ArgumentKind::Tokens;
      switch (a.kind) {
      case Arg::Tokens:
        kind = fb::ArgumentKind::Tokens;
        break;
      case Arg::Labels:
        kind = fb::ArgumentKind::Labels;
        break;
      case Arg::Param:
        kind = fb::ArgumentKind::Parameter;
        break;
      case Arg::Positions:
        kind = fb::ArgumentKind::Positions;
        break;
      case Arg::KeyPadding:
        kind = fb::ArgumentKind::KeyPadding;
        break;
      case Arg::KeyCache:
        kind = fb::ArgumentKind::KeyCache;
        break;
      case Arg::ValueCache:
        kind = fb::ArgumentKind::ValueCache;
        break;
      case Arg::Step:
        kind = fb::ArgumentKind::Step;
        break;
      case Arg::UpdateCount:
        kind = fb::ArgumentKind::UpdateCount;
        break;
      case Arg::Gradient:
        kind = fb::ArgumentKind::Gradient;
        break;
      case Arg::OptimizerState:
        kind = fb::ArgumentKind::OptimizerState;
        break;
      case Arg::ExpertLoad:
        kind = fb::ArgumentKind::ExpertLoad;
        break;
      case Arg::LossScale:
        kind = fb::ArgumentKind::LossScale;
        break;
      case Arg::GradNorm:
        kind = fb::ArgumentKind::GradNorm;
        break;
      case Arg::FlatParam:
        kind = fb::ArgumentKind::FlatParameter;
        break;
      case Arg::FlatGradient:
        kind = fb::ArgumentKind::FlatGradient;
        break;
      case Arg::FlatState:
        kind = fb::ArgumentKind::FlatState;
        break;
      case Arg::Boundary:
        kind = fb::ArgumentKind::Boundary;
        break;
      case Arg::BoundaryGrad:
        kind = fb::ArgumentKind::BoundaryGrad;
        break;
      }
      args.push_back(fb::CreateArgument(
          b, kind, a.parameter, b.CreateVector(a.shape),
          a.isInteger            ? fb::DType::I32
          : a.kind == Arg::Param ? static_cast<fb::DType>(a.paramDtype)
                                 : fb::DType::F32,
          a.layer, a.state, a.shardDim, a.shardCount, a.index,
          a.shardAxis.empty() ? 0 : b.CreateString(a.shardAxis)));
    }
    std::vector<flatbuffers::Offset<fb::Result>> results;
    for (const auto &r : e.results) {
      using Result = ExecutableContents::Result;
      fb::ResultKind kind = fb::ResultKind::Value;
      switch (r.kind) {
      case Result::Value:
        break;
      case Result::Param:
        kind = fb::ResultKind::Parameter;
        break;
      case Result::OptimizerState:
        kind = fb::ResultKind::OptimizerState;
        break;
      case Result::LearningRate:
        kind = fb::ResultKind::LearningRate;
        break;
      case Result::GradNorm:
        kind = fb::ResultKind::GradNorm;
        break;
      case Result::DroppedTokens:
        kind = fb::ResultKind::DroppedTokens;
        break;
      case Result::ExpertLoad:
        kind = fb::ResultKind::ExpertLoad;
        break;
      case Result::FlatParam:
        kind = fb::ResultKind::FlatParameter;
        break;
      case Result::FlatState:
        kind = fb::ResultKind::FlatState;
        break;
      case Result::Activations:
        kind = fb::ResultKind::Activations;
        break;
      case Result::ExpertRows:
        kind = fb::ResultKind::ExpertRows;
        break;
      case Result::ExpertOffsets:
        kind = fb::ResultKind::ExpertOffsets;
        break;
      case Result::Boundary:
        kind = fb::ResultKind::Boundary;
        break;
      case Result::BoundaryGrad:
        kind = fb::ResultKind::BoundaryGrad;
        break;
      case Result::KeyCache:
        kind = fb::ResultKind::KeyCache;
        break;
      case Result::ValueCache:
        kind = fb::ResultKind::ValueCache;
        break;
      }
      results.push_back(fb::CreateResult(
          b, b.CreateVector(r.shape),
          r.isInteger ? fb::DType::I32 : fb::DType::F32, kind, r.parameter,
          r.state, r.parameters.empty() ? 0 : b.CreateVector(r.parameters),
          r.index, r.layer));
    }
    std::vector<flatbuffers::Offset<fb::Command>> commands{fb::CreateCommand(
        b, fb::CommandKind::Launch, 0, b.CreateString(e.symbol()))};
    flatbuffers::Offset<fb::MemoryPlan> plan;
    if (!e.memoryPlan.empty())
      plan = fb::CreateMemoryPlan(
          b, e.memoryPlan[0],
          b.CreateVector(std::vector<int64_t>(e.memoryPlan.begin() + 2,
                                              e.memoryPlan.end())));
    return fb::CreateEntryPoint(b, b.CreateString(e.name), b.CreateVector(args),
                                b.CreateVector(results),
                                b.CreateVector(commands), plan);
  };
  std::vector<flatbuffers::Offset<fb::EntryPoint>> entries;
  for (const auto &e : c.entryPoints)
    entries.push_back(serializeEntry(e));
  std::vector<flatbuffers::Offset<fb::Stage>> stages;
  for (const auto &stage : c.stages) {
    std::vector<flatbuffers::Offset<fb::EntryPoint>> stageEntries;
    for (const auto &e : stage.entryPoints)
      stageEntries.push_back(serializeEntry(e));
    stages.push_back(
        fb::CreateStage(b, stage.firstLayer,
                        stage.numLayers < 0 ? c.numLayers : stage.numLayers,
                        b.CreateVector(stageEntries)));
  }
  auto meta = fb::CreateMetadata(
      b, b.CreateString(c.modelName), b.CreateString(c.configPath),
      b.CreateString(c.configText), c.vocabSize, c.hiddenSize, c.numLayers,
      c.maxSeqLen, c.bosTokenId, c.eosTokenId, c.padTokenId,
      b.CreateString(c.cpu), c.sm);
  auto [parallel, training, inference] = serializePlan(b, c.plan);
  std::vector<flatbuffers::Offset<fb::StateTensor>> state;
  for (const auto &t : c.state)
    state.push_back(fb::CreateStateTensor(b, b.CreateString(t.name),
                                          b.CreateVector(t.shape),
                                          fb::DType::F32, t.parameter));
  auto root = fb::CreateExecutable(
      b, /*version=*/STRATA_EXECUTABLE_FORMAT_VERSION,
      c.cuda ? fb::Target::Cuda : fb::Target::Cpu, b.CreateVector(kernels),
      b.CreateVector(entries), b.CreateVector(params), meta,
      c.cuda ? b.CreateVector(gpuKernels) : 0, parallel, training, inference,
      stages.empty() ? 0 : b.CreateVector(stages),
      state.empty() ? 0 : b.CreateVector(state),
      quantized.empty() ? 0 : b.CreateVector(quantized));
  fb::FinishExecutableBuffer(b, root);
  // The runtime checks the trailer's CRC before it reads anything else.
  std::string bytes(reinterpret_cast<const char *>(b.GetBufferPointer()),
                    b.GetSize());
  uint8_t trailer[::strata::checksum::kTrailerBytes];
  ::strata::checksum::encodeTrailer(bytes.data(), bytes.size(),
                                    STRATA_EXECUTABLE_FORMAT_VERSION, trailer);
  bytes.append(reinterpret_cast<const char *>(trailer), sizeof(trailer));
  return bytes;
}

//===- ExecutableWriter.h - package a compiled model ------------*- C++ -*-===//
//
// Packages the kernel library, the entry points (argument layout and launch
// commands), the parameter table and the model's metadata into the
// flatbuffers executable of runtime/schema/executable.fbs.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_CODEGEN_EXECUTABLEWRITER_H
#define STRATA_CODEGEN_EXECUTABLEWRITER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace mlir::strata {

/// Everything an executable holds, gathered before and after lowering.
struct ExecutableContents {
  /// A tensor's element type, numbered as the schema's DType.
  enum class DType { F32 = 0, BF16 = 1, F16 = 2, I32 = 3, I8 = 5 };
  struct Parameter {
    std::string name;
    std::vector<int64_t> shape;
    int init = 0; ///< InitKind
    double std = 0.02;
    DType dtype = DType::F32; ///< bf16/f16: stored narrow (--weights-dtype)
    /// I8 (--quantize): the parameter of its per-channel f32 scales.
    std::string scaleName;
    /// I8 under static w8a8: the parameters of its products' calibrated
    /// activation scale and zero point (none for an up projection).
    std::string inputScaleName, inputZeroPointName;
    /// I8 under static w8a8: the i32 parameter of its rows' sums, which
    /// the runtime computes (never in a weights file).
    std::string rowSumsName;
  };
  /// An int8 parameter: Executable.quantization's QuantizedTensor.
  struct Quantized {
    int parameter = -1, scale = -1, axis = -1;
    std::string scheme;
    int inputScale = -1, inputZeroPoint = -1;
    int rowSums = -1;
  };
  struct Argument {
    enum Kind {
      Tokens,
      Labels,
      Param,
      Positions,
      KeyCache,
      ValueCache,
      KeyPadding,
      Step,
      Gradient,
      OptimizerState,
      ExpertLoad,
      LossScale,
      GradNorm,
      FlatParam,
      FlatGradient,
      FlatState,
      UpdateCount,
      Boundary,
      BoundaryGrad
    } kind = Tokens;
    int parameter = -1;         ///< Param, Gradient, ExpertLoad
    int state = -1; ///< OptimizerState: index into state; FlatState: slot
    int layer = -1;             ///< KeyCache and ValueCache
    int index = -1;             ///< Boundary, BoundaryGrad
    std::vector<int64_t> shape; ///< -1 for dynamic dims
    bool isInteger = false;
    DType paramDtype = DType::F32; ///< Param: the parameter's dtype
    /// Param of a partitioned program: the slice's dimension and the
    /// number of slices (-1, 1: the whole parameter), and the mesh axis
    /// picking the slice (empty: tp).
    int shardDim = -1;
    int64_t shardCount = 1;
    std::string shardAxis;
  };
  struct Result {
    Result() = default;
    /// A plain value of this shape (-1 for dynamic dims).
    Result(std::initializer_list<int64_t> dims) : shape(dims) {}
    enum Kind {
      Value,
      Param,
      OptimizerState,
      LearningRate,
      GradNorm,
      DroppedTokens,
      ExpertLoad,
      FlatParam,
      FlatState,
      Activations,
      ExpertRows,
      ExpertOffsets,
      Boundary,
      BoundaryGrad,
      KeyCache,
      ValueCache
    } kind = Value;
    bool isInteger = false;
    int parameter = -1;
    int state = -1;
    int index = -1; ///< Boundary, BoundaryGrad
    int layer = -1; ///< KeyCache, ValueCache
    std::vector<int64_t> shape;
    /// Calibration results: every parameter the value calibrates.
    std::vector<int> parameters;
  };
  /// Training state besides the parameters (optimizer moments).
  struct StateTensor {
    std::string name;
    std::vector<int64_t> shape;
    int parameter = -1;
  };
  struct EntryPoint {
    std::string name;
    /// The module's function when not `name` (a stage's entry point:
    /// `stage0.<name>`).
    std::string function;
    /// The kernel library's symbol of the entry point.
    std::string symbol() const;
    std::vector<Argument> arguments;
    std::vector<Result> results;
    /// strata-plan-memory's record: buffers, slots, then each slot's bytes
    /// (-1: shape-dependent); empty without a plan.
    std::vector<int64_t> memoryPlan;
  };
  struct GpuKernel {
    std::string name;
    std::vector<int64_t> block; ///< x, y, z; -1 when dynamic
  };
  std::vector<Parameter> parameters;
  std::vector<Quantized> quantized;
  std::vector<StateTensor> state;
  std::vector<EntryPoint> entryPoints;
  /// Partitioned programs (strata-shard{beside}): stage 0's entry points.
  struct Stage {
    int64_t firstLayer = 0, numLayers = -1; ///< -1: every layer
    std::vector<EntryPoint> entryPoints;
  };
  std::vector<Stage> stages;
  std::string kernelLibrary; ///< ELF shared object bytes (host code on CUDA)
  /// CPU executables: the same kernels compiled for higher x86-64 levels
  /// (cpu name, ELF bytes), alternatives the runtime picks from by CPU.
  std::vector<std::pair<std::string, std::string>> cpuVariants;
  bool cuda = false;
  int sm = 0;        ///< CUDA compute capability
  std::string ptx;   ///< CUDA: the device module
  std::string cubin; ///< CUDA: ptxas output for `sm`, empty without ptxas
  std::vector<GpuKernel> gpuKernels;
  /// The plan, from the module's strata.parallel / training / inference
  /// attributes (collectPlan).
  struct Plan {
    bool hasParallel = false, hasTraining = false, hasInference = false;
    int64_t tp = 1, pp = 1, dp = 1, ep = 1, zeroStage = 0, microBatches = 1;
    std::vector<int64_t> meshShape; ///< pp, dp / ep, ep, tp
    int optimizer = 0, schedule = 0, precision = 0; ///< fb enum values
    bool dynamicLossScaling = false;
    double lr = 0, weightDecay = 0, beta1 = 0, beta2 = 0, eps = 0;
    double minLrRatio = 0, gradientClipping = 0;
    int64_t warmupSteps = 0, totalSteps = 0, accumulationSteps = 1;
    int64_t checkpointInterval = 0, checkpointKeepLast = 0;
    int64_t batchSize = 0, seqLen = 0, seed = 0, ignoreIndex = -100;
    double lossScaleInit = 65536.0;
    int64_t lossScaleGrowthInterval = 2000;
    int64_t maxBatchSize = 32, maxTokens = 4096;
  } plan;
  std::string modelName, configPath, configText, cpu;
  int64_t vocabSize = 0, hiddenSize = 0, numLayers = 0, maxSeqLen = 0;
  int64_t bosTokenId = -1, eosTokenId = -1, padTokenId = -1;
};

/// Reads the parameter table and entry points of a strata-level module
/// (before lowering): arguments in the order the lowered functions take
/// them, parameters shared between functions listed once.
LogicalResult collectEntryPoints(ModuleOp module, ExecutableContents &contents);

/// Reads the plan attributes of `module` (before lowering) into `contents`.
void collectPlan(ModuleOp module, ExecutableContents &contents);

/// Links x86-64 objects into one shared object with the system C compiler
/// driver (`cc`), the only tool the compiler needs beyond itself.
LogicalResult linkSharedObject(ModuleOp module, ArrayRef<std::string> objects,
                               std::string &sharedObject);

/// Reads the memory plans strata-plan-memory recorded on the lowered
/// module's entry functions (CPU) into `contents`' entry points.
LogicalResult collectMemoryPlans(ModuleOp module, ExecutableContents &contents);

/// Reads what strata-cuda-host-calls recorded on a lowered CUDA module: the
/// PTX and the kernel table.
LogicalResult collectCudaKernels(ModuleOp module, ExecutableContents &contents);

/// Assembles `ptx` for sm_`sm` with ptxas (`ptxas` is its path), into
/// `cubin`. ptxas's diagnostics are reported on the module.
LogicalResult assembleCubin(ModuleOp module, StringRef ptxas, StringRef ptx,
                            int sm, std::string &cubin);

/// The executable's bytes: the flatbuffer and its checksum trailer
/// (runtime/Checksum.h); deterministic for the same contents.
std::string serializeExecutable(const ExecutableContents &contents);

} // namespace mlir::strata

#endif // STRATA_CODEGEN_EXECUTABLEWRITER_H

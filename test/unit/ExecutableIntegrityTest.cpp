//===- ExecutableIntegrityTest.cpp - checksums and cross-checks -*- C++ -*-===//
//
// CRC-32C itself; every bit flip of an executable refused, naming the
// section and the fix; a trailer that is missing, damaged or disagrees;
// and each cross-check of the metadata against the entry points, with an
// executable the writer made (so its checksums hold) that breaks it.
//
//===----------------------------------------------------------------------===//

#include "ExecutableTestUtils.h"
#include "codegen/ExecutableWriter.h"
#include "runtime/Checksum.h"
#include "runtime/Internal.h"
#include "runtime/strata.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

using mlir::strata::ExecutableContents;
using strata::test::mutableRoot;
using strata::test::reseal;

namespace {

using Arg = ExecutableContents::Argument;

Arg dataArgument(Arg::Kind kind, std::vector<int64_t> shape,
                 bool isInteger = true, int layer = -1) {
  Arg a;
  a.kind = kind;
  a.shape = std::move(shape);
  a.isInteger = isInteger;
  a.layer = layer;
  return a;
}

Arg parameterArgument(const ExecutableContents &c, int index) {
  Arg a;
  a.kind = Arg::Param;
  a.parameter = index;
  a.shape = c.parameters[index].shape;
  return a;
}

/// A language model as the writer packages one: forward and decode (one
/// layer's KV cache, keys 4 wide and values 2 wide) over two parameters,
/// vocabulary 16.
ExecutableContents modelContents() {
  ExecutableContents c;
  c.parameters.push_back({"embed", {16, 4}, 0, 0.02});
  c.parameters.push_back({"norm", {4}, 2, 0.0});
  ExecutableContents::EntryPoint forward;
  forward.name = "forward";
  forward.arguments.push_back(dataArgument(Arg::Tokens, {-1, -1}));
  forward.arguments.push_back(parameterArgument(c, 0));
  forward.arguments.push_back(parameterArgument(c, 1));
  forward.results.push_back({-1, -1, 16});
  c.entryPoints.push_back(forward);
  ExecutableContents::EntryPoint decode;
  decode.name = "decode";
  decode.arguments.push_back(dataArgument(Arg::Tokens, {-1, -1}));
  decode.arguments.push_back(dataArgument(Arg::Positions, {-1, -1}));
  decode.arguments.push_back(dataArgument(Arg::KeyPadding, {-1}));
  decode.arguments.push_back(
      dataArgument(Arg::KeyCache, {-1, -1, 4}, false, /*layer=*/0));
  decode.arguments.push_back(
      dataArgument(Arg::ValueCache, {-1, -1, 2}, false, /*layer=*/0));
  decode.arguments.push_back(parameterArgument(c, 0));
  decode.arguments.push_back(parameterArgument(c, 1));
  decode.results = {{-1, -1, 16}, {-1, -1, 4}, {-1, -1, 2}};
  c.entryPoints.push_back(decode);
  c.kernelLibrary = std::string("\177ELF") + std::string(252, '\x01');
  c.modelName = "integrity";
  c.cpu = "x86-64-v2";
  c.vocabSize = 16;
  c.hiddenSize = 4;
  c.numLayers = 1;
  c.maxSeqLen = 32;
  c.eosTokenId = 2;
  return c;
}

ExecutableContents cudaContents() {
  ExecutableContents c = modelContents();
  c.cuda = true;
  c.sm = 90;
  c.ptx = ".version 8.0\n.target sm_90\n.address_size 64\n";
  c.cubin = std::string("\177ELF") + std::string(60, '\x02');
  c.gpuKernels.push_back({"forward_kernel", {256, 1, 1}});
  return c;
}

/// Loads `bytes`; on failure `status` holds the message.
strata_status_code load(const std::string &bytes, strata_status &status) {
  strata_executable *exe = nullptr;
  strata_status_code code =
      strata_executable_load_memory(bytes.data(), bytes.size(), &exe, &status);
  EXPECT_EQ(code == STRATA_OK, exe != nullptr);
  strata_executable_release(exe);
  return code;
}

/// Expects `bytes` to be refused as corrupt with `fragment` in the message.
void expectCorrupt(const std::string &bytes, const std::string &fragment) {
  strata_status status;
  EXPECT_EQ(load(bytes, status), STRATA_CORRUPT_EXECUTABLE) << fragment;
  EXPECT_NE(std::string(status.message).find(fragment), std::string::npos)
      << status.message;
}

void expectCorrupt(const ExecutableContents &c, const std::string &fragment) {
  expectCorrupt(mlir::strata::serializeExecutable(c), fragment);
}

/// Where kernel library `index`'s bytes start in `bytes`.
size_t libraryOffset(const std::string &bytes, unsigned index) {
  const auto *data =
      strata::fb::GetExecutable(bytes.data())->kernels()->Get(index)->data();
  return data->data() - reinterpret_cast<const uint8_t *>(bytes.data());
}

/// A kernel module of one parameter-free entry point, `kernel`, whose
/// commands are `commands` (library, symbol), its one library of
/// `format`: the writer always writes one launch of an ELF library 0, so
/// other commands and formats are built here.
std::string
kernelModule(const std::vector<std::pair<uint32_t, std::string>> &commands,
             strata::fb::LibraryFormat format =
                 strata::fb::LibraryFormat::ElfSharedObject) {
  namespace fb = strata::fb;
  flatbuffers::FlatBufferBuilder b;
  std::string elf = std::string("\177ELF") + std::string(60, '\0');
  auto lib = fb::CreateKernelLibrary(
      b, format,
      b.CreateVector(reinterpret_cast<const uint8_t *>(elf.data()), elf.size()),
      0, strata::checksum::crc32c(elf.data(), elf.size()));
  std::vector<flatbuffers::Offset<fb::Command>> cmds;
  for (const auto &[library, symbol] : commands)
    cmds.push_back(fb::CreateCommand(b, fb::CommandKind::Launch, library,
                                     b.CreateString(symbol)));
  std::vector<flatbuffers::Offset<fb::Result>> results{
      fb::CreateResult(b, b.CreateVector(std::vector<int64_t>{2}))};
  std::vector<flatbuffers::Offset<fb::EntryPoint>> entries{fb::CreateEntryPoint(
      b, b.CreateString("kernel"),
      b.CreateVector(std::vector<flatbuffers::Offset<fb::Argument>>{}),
      b.CreateVector(results), b.CreateVector(cmds))};
  auto root = fb::CreateExecutable(
      b, STRATA_EXECUTABLE_FORMAT_VERSION, fb::Target::Cpu,
      b.CreateVector(std::vector<flatbuffers::Offset<fb::KernelLibrary>>{lib}),
      b.CreateVector(entries),
      b.CreateVector(std::vector<flatbuffers::Offset<fb::Parameter>>{}),
      fb::CreateMetadata(b));
  fb::FinishExecutableBuffer(b, root);
  return strata::test::seal(std::string(
      reinterpret_cast<const char *>(b.GetBufferPointer()), b.GetSize()));
}

//===----------------------------------------------------------------------===//
// CRC-32C
//===----------------------------------------------------------------------===//

/// Tests the standard check values and that the hardware and table paths,
/// and a CRC computed in pieces, agree at every length and alignment.
TEST(Crc32c, KnownValuesAndPathsAgree) {
  using namespace strata::checksum;
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  std::mt19937 rng(7);
  std::string data(1000, '\0');
  for (char &ch : data)
    ch = static_cast<char>(rng());
  const auto *bytes = reinterpret_cast<const uint8_t *>(data.data());
  for (size_t start = 0; start < 9; ++start)
    for (size_t n : {0, 1, 7, 8, 9, 63, 64, 65, 500, 990}) {
      uint32_t whole = crc32c(bytes + start, n);
      EXPECT_EQ(~updateSoftware(~0u, bytes + start, n), whole);
      size_t half = n / 3;
      EXPECT_EQ(
          crc32c(bytes + start + half, n - half, crc32c(bytes + start, half)),
          whole);
    }
}

//===----------------------------------------------------------------------===//
// Checksums and the trailer
//===----------------------------------------------------------------------===//

/// Tests that every single-bit flip anywhere in an executable is refused
/// before its contents are used, and that the message names the section
/// the flip is in and the fix.
TEST(ExecutableIntegrity, EveryBitFlipIsRefusedAndNamed) {
  std::string bytes = mlir::strata::serializeExecutable(cudaContents());
  size_t elf = libraryOffset(bytes, 0), ptx = libraryOffset(bytes, 1);
  size_t ptxSize = cudaContents().ptx.size();
  size_t trailer = bytes.size() - strata::checksum::kTrailerBytes;
  strata_status status;
  for (size_t i = 0; i < bytes.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      ASSERT_NE(load(flipped, status), STRATA_OK) << "byte " << i;
      std::string message = status.message;
      ASSERT_EQ(message.rfind("<memory>: ", 0), 0u) << message;
      if (i >= trailer)
        continue; // the trailer's own checks, below
      ASSERT_NE(
          message.find("is corrupt (checksum mismatch): recompile it with "
                       "strata-compile"),
          std::string::npos)
          << "byte " << i << ": " << message;
      if (i >= elf && i < elf + 256) {
        ASSERT_NE(message.find("kernel library 0 (host code)"),
                  std::string::npos)
            << message;
      }
      if (i >= ptx && i < ptx + ptxSize) {
        ASSERT_NE(message.find("kernel library 1 (PTX)"), std::string::npos)
            << message;
      }
    }
  std::string flipped = bytes;
  flipped[trailer + 9] ^= 1; // the payload's CRC
  expectCorrupt(flipped, "the checksum trailer is corrupt: recompile it");
  flipped = bytes;
  flipped[2] ^= 1;
  expectCorrupt(flipped, "<memory>: the metadata (flatbuffer tables) is "
                         "corrupt (checksum mismatch): recompile it with "
                         "strata-compile");
}

/// Tests that a truncated, extended or spliced file is refused by name.
TEST(ExecutableIntegrity, TruncatedOrExtendedFilesAreRefused) {
  std::string bytes = mlir::strata::serializeExecutable(modelContents());
  std::string payload = strata::test::payloadOf(bytes);
  // The flatbuffer alone: its trailer cut off.
  expectCorrupt(payload, "the checksum trailer is missing (a truncated or "
                         "extended file?): recompile it with strata-compile");
  expectCorrupt(bytes + "x", "the checksum trailer is missing");
  expectCorrupt(bytes.substr(0, bytes.size() - 40),
                "no checksum trailer and its structure fails verification");
  // A valid trailer after a payload it does not describe.
  std::string trailer = bytes.substr(payload.size());
  expectCorrupt(payload.substr(8) + trailer,
                "bytes precede the checksum trailer, which states");
}

/// Tests that a kernel library edited and checksummed again as a whole
/// file is still refused by the library's own checksum.
TEST(ExecutableIntegrity, LibraryChecksumIsChecked) {
  std::string bytes = mlir::strata::serializeExecutable(cudaContents());
  std::string edited = bytes;
  edited[libraryOffset(edited, 1)] = ',';
  reseal(edited);
  expectCorrupt(edited, "<memory>: kernel library 1 (PTX) is corrupt "
                        "(checksum mismatch): recompile it with "
                        "strata-compile");
}

/// Tests that a flatbuffer whose checksums hold but whose structure does
/// not verify (a writer's bug, or an edit checksummed again) is refused.
TEST(ExecutableIntegrity, StructureIsVerifiedAfterChecksums) {
  std::string payload = strata::test::payloadOf(
      mlir::strata::serializeExecutable(modelContents()));
  payload[0] = static_cast<char>(0xF0); // the root offset, out of bounds
  expectCorrupt(strata::test::seal(payload),
                "<memory>: the executable's structure fails verification: "
                "recompile it with strata-compile");
}

/// Tests that load_file names the file in integrity errors, and that
/// strata_executable_load_file reads a valid file.
TEST(ExecutableIntegrity, FileErrorsNameTheFile) {
  std::string bytes = mlir::strata::serializeExecutable(modelContents());
  std::string path = testing::TempDir() + "/integrity-flip.strata";
  auto write = [&](const std::string &content) {
    std::ofstream(path, std::ios::binary) << content;
  };
  write(bytes);
  strata_executable *exe = nullptr;
  strata_status status;
  ASSERT_EQ(strata_executable_load_file(path.c_str(), &exe, &status), STRATA_OK)
      << status.message;
  strata_executable_release(exe);
  std::string flipped = bytes;
  flipped[libraryOffset(bytes, 0) + 100] ^= 0x10;
  write(flipped);
  EXPECT_EQ(strata_executable_load_file(path.c_str(), &exe, &status),
            STRATA_CORRUPT_EXECUTABLE);
  EXPECT_EQ(std::string(status.message),
            path + ": kernel library 0 (host code) is corrupt (checksum "
                   "mismatch): recompile it with strata-compile");
  std::remove(path.c_str());
}

//===----------------------------------------------------------------------===//
// Cross-checks: checksums hold, the contents disagree
//===----------------------------------------------------------------------===//

/// Tests that the model loads as written (the cases below each break it
/// in one place).
TEST(ExecutableCrossChecks, ModelLoads) {
  strata_status status;
  EXPECT_EQ(load(mlir::strata::serializeExecutable(modelContents()), status),
            STRATA_OK)
      << status.message;
  EXPECT_EQ(load(mlir::strata::serializeExecutable(cudaContents()), status),
            STRATA_OK)
      << status.message;
}

/// Tests the vocabulary against forward's and decode's logits.
TEST(ExecutableCrossChecks, VocabularyMatchesLogits) {
  ExecutableContents c = modelContents();
  c.vocabSize = 17;
  expectCorrupt(c, "forward's logits are [-1, -1, 16] but the vocabulary "
                   "has 17 tokens");
  c = modelContents();
  c.entryPoints[1].results[0] = {-1, -1, 15};
  expectCorrupt(c, "decode's logits are [-1, -1, 15] but the vocabulary has "
                   "16 tokens");
  c = modelContents();
  c.entryPoints[0].results[0] = {2, -1, 16};
  expectCorrupt(c, "forward's logits are [2, -1, 16]");
  // A classifier's forward (not rank 3) has no logits to check.
  c = modelContents();
  c.entryPoints[0].results[0] = {-1, 4};
  strata_status status;
  EXPECT_EQ(load(mlir::strata::serializeExecutable(c), status), STRATA_OK)
      << status.message;
  // The vocabulary must fit int32 token ids.
  std::string bytes = mlir::strata::serializeExecutable(modelContents());
  ASSERT_TRUE(mutableRoot(bytes)->mutable_metadata()->mutate_vocab_size(
      int64_t(1) << 40));
  reseal(bytes);
  expectCorrupt(bytes, "metadata has a size out of range");
}

/// Tests parameter arguments against the parameter table: shape and dtype.
TEST(ExecutableCrossChecks, ParameterArgumentsMatchParameters) {
  ExecutableContents c = modelContents();
  c.entryPoints[0].arguments[1].shape = {8, 4};
  expectCorrupt(c, "argument 1 of entry point 'forward' takes parameter "
                   "'embed' as F32 [8, 4], but the parameter is F32 [16, 4]");
  c = modelContents();
  c.entryPoints[1].arguments[6].isInteger = true;
  expectCorrupt(c, "argument 6 of entry point 'decode' takes parameter "
                   "'norm' as I32 [4], but the parameter is F32 [4]");
  c = modelContents();
  c.entryPoints[0].arguments[2].parameter = 0;
  c.entryPoints[0].arguments[2].shape = c.parameters[0].shape;
  expectCorrupt(c, "entry point 'forward' takes parameter 'embed' twice");
}

/// Tests shapes: dims of 0 or below -1 and sizes that overflow, or exceed
/// 2^46 elements, are corrupt, never an exception or a huge allocation.
TEST(ExecutableCrossChecks, ShapesAreBoundedAndPositive) {
  for (std::vector<int64_t> shape : {std::vector<int64_t>{0, 4},
                                     {16, -1},
                                     {int64_t(1) << 62},
                                     {int64_t(1) << 47},
                                     {int64_t(1) << 31, int64_t(1) << 31, 4}}) {
    ExecutableContents c = modelContents();
    c.parameters[0].shape = shape;
    c.entryPoints[0].arguments[1].shape = shape;
    c.entryPoints[1].arguments[5].shape = shape;
    expectCorrupt(c, "parameter 'embed' has an invalid shape");
  }
  // Each parameter within the limit, both together beyond it.
  ExecutableContents c = modelContents();
  for (int p = 0; p < 2; ++p) {
    c.parameters[p].shape = {int64_t(1) << 44, 3};
    c.entryPoints[0].arguments[1 + p].shape = c.parameters[p].shape;
    c.entryPoints[1].arguments[5 + p].shape = c.parameters[p].shape;
  }
  expectCorrupt(c, "parameter 'norm' has an invalid shape");
  c = modelContents();
  c.entryPoints[0].results[0] = {-1, 0, 16};
  expectCorrupt(c, "entry point 'forward' has a result with an invalid "
                   "shape");
  c = modelContents();
  c.entryPoints[1].arguments[3].shape = {-1, -1, 0};
  expectCorrupt(c, "entry point 'decode' has an argument with an invalid "
                   "shape [-1, -1, 0]");
}

/// Tests the inputs the runtime supplies by kind: i32 [-1, -1] token ids
/// and positions, each at most once, and decode taking both.
TEST(ExecutableCrossChecks, DataArgumentsMatchWhatTheRuntimePasses) {
  ExecutableContents c = modelContents();
  c.entryPoints[0].arguments[0].shape = {1, 8};
  expectCorrupt(c, "argument 0 of entry point 'forward' (Tokens) is I32 "
                   "[1, 8]; the runtime passes I32 [-1, -1]");
  c = modelContents();
  c.entryPoints[0].arguments[0].isInteger = false;
  expectCorrupt(c, "(Tokens) is F32 [-1, -1]");
  c = modelContents();
  c.entryPoints[1].arguments[1].kind = Arg::Tokens;
  expectCorrupt(c, "entry point 'decode' takes Tokens twice");
  c = modelContents();
  c.entryPoints[1].arguments.erase(c.entryPoints[1].arguments.begin() + 1);
  expectCorrupt(c, "decode takes no token ids or no positions");
  c = modelContents();
  c.entryPoints[1].arguments[2].shape = {-1, -1};
  expectCorrupt(c, "key-padding argument that is not I32 [batch]");
  c = modelContents();
  c.entryPoints[1].arguments[3].shape = {2, -1, 4};
  expectCorrupt(c, "KV-cache argument without a layer or an F32 [batch, "
                   "length, width] shape");
}

/// Tests decode's caches against its results: every layer has one key and
/// one value cache, and decode returns their new rows, as wide.
TEST(ExecutableCrossChecks, DecodeCachesMatchResults) {
  ExecutableContents c = modelContents();
  c.entryPoints[1].results[2] = {-1, -1, 4};
  expectCorrupt(c, "decode result 2 is [-1, -1, 4]; layer 0's value cache "
                   "is [-1, -1, 2]");
  c = modelContents();
  c.entryPoints[1].results.pop_back();
  expectCorrupt(c, "decode has 2 results; the logits and 2 cache rows");
  c = modelContents();
  c.entryPoints[1].arguments[4].layer = 1;
  expectCorrupt(c, "decode's cache arguments do not hold one key and one "
                   "value cache for each of layers 0 to 0");
  c = modelContents();
  c.entryPoints[1].arguments[4].kind = Arg::KeyCache;
  expectCorrupt(c, "decode's cache arguments do not hold one key and one "
                   "value cache");
}

/// Tests entry symbols: each entry point calls strata_entry_<its name> in
/// the host code, so no symbol can point at another entry's code.
TEST(ExecutableCrossChecks, EntrySymbolsMatchNames) {
  ExecutableContents c = modelContents();
  c.entryPoints.push_back(c.entryPoints[0]);
  c.entryPoints[2].name = "logits"; // as long as "decode"
  std::string bytes = mlir::strata::serializeExecutable(c);
  const flatbuffers::String *symbol = mutableRoot(bytes)
                                          ->mutable_entry_points()
                                          ->GetMutableObject(1)
                                          ->mutable_commands()
                                          ->GetMutableObject(0)
                                          ->mutable_symbol();
  ASSERT_STREQ(symbol->c_str(), "strata_entry_decode");
  std::memcpy(const_cast<char *>(symbol->c_str()), "strata_entry_logits",
              symbol->size());
  reseal(bytes);
  expectCorrupt(bytes, "entry point 'decode' calls symbol "
                       "'strata_entry_logits'; its symbol must be "
                       "'strata_entry_decode'");
  strata_status status;
  EXPECT_EQ(load(kernelModule({{0, "strata_entry_kernel"}}), status), STRATA_OK)
      << status.message;
  expectCorrupt(kernelModule({{1, "strata_entry_kernel"}}),
                "entry point 'kernel' launches kernel library 1; entry "
                "points are in the host code (kernel library 0)");
  expectCorrupt(
      kernelModule({{0, "strata_entry_kernel"}, {0, "strata_entry_kernel"}}),
      "entry point 'kernel' has 2 commands; it must have one");
  expectCorrupt(kernelModule({}),
                "entry point 'kernel' has 0 commands; it must have one");
}

/// Tests the kernel libraries' own checks: none empty, known formats,
/// the host code first, enums in range.
TEST(ExecutableCrossChecks, KernelLibrariesAndEnums) {
  ExecutableContents c = cudaContents();
  c.ptx.clear();
  expectCorrupt(c, "kernel library 1 is empty");
  expectCorrupt(kernelModule({{0, "strata_entry_kernel"}},
                             strata::fb::LibraryFormat::Cubin),
                "kernel library 0 is not the host code (ELF)");
  std::string bytes = mlir::strata::serializeExecutable(cudaContents());
  ASSERT_TRUE(
      mutableRoot(bytes)->mutable_kernels()->GetMutableObject(1)->mutate_format(
          static_cast<strata::fb::LibraryFormat>(7)));
  reseal(bytes);
  expectCorrupt(bytes, "kernel library 1 has an unknown format");
  bytes = mlir::strata::serializeExecutable(cudaContents());
  ASSERT_TRUE(mutableRoot(bytes)->mutable_metadata()->mutate_cuda_sm(0));
  reseal(bytes);
  expectCorrupt(bytes, "CUDA executable without a compute capability");
  bytes = mlir::strata::serializeExecutable(modelContents());
  ASSERT_TRUE(mutableRoot(bytes)
                  ->mutable_entry_points()
                  ->GetMutableObject(1)
                  ->mutable_arguments()
                  ->GetMutableObject(2)
                  ->mutate_kind(static_cast<strata::fb::ArgumentKind>(42)));
  reseal(bytes);
  expectCorrupt(bytes, "entry point 'decode' has an argument of unknown "
                       "kind or dtype");
  bytes = mlir::strata::serializeExecutable(modelContents());
  ASSERT_TRUE(mutableRoot(bytes)
                  ->mutable_entry_points()
                  ->GetMutableObject(0)
                  ->mutable_arguments()
                  ->GetMutableObject(0)
                  ->mutate_dtype(static_cast<strata::fb::DType>(12)));
  reseal(bytes);
  expectCorrupt(bytes, "entry point 'forward' has an argument of unknown "
                       "kind or dtype");
}

/// Tests the target against the code the file holds: a CUDA executable
/// edited to claim cpu, or whose device code is not PTX for the metadata's
/// compute capability, is refused. (A CPU file's target is the table's
/// default, absent from the file: no edit in place can make it cuda; one
/// that did would lack PTX, the second case.)
TEST(ExecutableCrossChecks, TargetMatchesTheCode) {
  std::string bytes = mlir::strata::serializeExecutable(cudaContents());
  ASSERT_TRUE(mutableRoot(bytes)->mutate_target(strata::fb::Target::Cpu));
  reseal(bytes);
  expectCorrupt(bytes, "the target is cpu but the executable holds CUDA "
                       "device code");
  bytes = mlir::strata::serializeExecutable(cudaContents());
  ASSERT_TRUE(
      mutableRoot(bytes)->mutable_kernels()->GetMutableObject(1)->mutate_format(
          strata::fb::LibraryFormat::Cubin));
  reseal(bytes);
  expectCorrupt(bytes, "CUDA executable without PTX as kernel library 1");
  bytes = mlir::strata::serializeExecutable(cudaContents());
  ASSERT_TRUE(mutableRoot(bytes)->mutable_metadata()->mutate_cuda_sm(80));
  reseal(bytes);
  expectCorrupt(bytes, "kernel library 1 is for sm_90 but the metadata says "
                       "sm_80");
  bytes = mlir::strata::serializeExecutable(cudaContents());
  ASSERT_TRUE(
      mutableRoot(bytes)->mutable_kernels()->GetMutableObject(2)->mutate_format(
          strata::fb::LibraryFormat::Ptx));
  reseal(bytes);
  expectCorrupt(bytes, "beyond host code, PTX and one cubin");
  bytes = mlir::strata::serializeExecutable(cudaContents());
  ASSERT_TRUE(
      mutableRoot(bytes)->mutable_kernels()->GetMutableObject(2)->mutate_format(
          strata::fb::LibraryFormat::ElfSharedObject));
  reseal(bytes);
  expectCorrupt(bytes, "kernel library 2 is a second host library (ELF)");
  bytes = mlir::strata::serializeExecutable(cudaContents());
  mutableRoot(bytes)
      ->mutable_gpu_kernels()
      ->GetMutableObject(0)
      ->mutable_block()
      ->Mutate(1, 0);
  reseal(bytes);
  expectCorrupt(bytes, "malformed entry in the CUDA kernel table");
}

//===----------------------------------------------------------------------===//
// No exception crosses the C API
//===----------------------------------------------------------------------===//

/// Tests guardApi, which every API function of Executable.cpp runs its
/// body through: exceptions become statuses.
TEST(ExecutableIntegrity, GuardApiMapsExceptions) {
  using strata::runtime::guardApi;
  strata_status status;
  EXPECT_EQ(guardApi("f", &status,
                     []() -> strata_status_code { throw std::bad_alloc(); }),
            STRATA_OUT_OF_MEMORY);
  EXPECT_STREQ(status.message, "f: out of memory");
  EXPECT_EQ(guardApi("g", &status,
                     []() -> strata_status_code {
                       throw std::length_error("vector::_M_default_append");
                     }),
            STRATA_INTERNAL_ERROR);
  EXPECT_STREQ(status.message, "g: internal error: vector::_M_default_append");
  EXPECT_EQ(guardApi("h", nullptr, []() -> strata_status_code { throw 42; }),
            STRATA_INTERNAL_ERROR);
  EXPECT_EQ(guardApi("i", &status, [] { return STRATA_NOT_FOUND; }),
            STRATA_NOT_FOUND);
}

} // namespace

//===- TrainData.cpp - token files and the batches cut from them ----------===//

#include "tools/strata-run/TrainData.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

using namespace strata::tools;

namespace {

constexpr int32_t kIgnoreIndex = -100;

bool readAll(const std::string &path, std::string &bytes, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  std::ostringstream s;
  s << in.rdbuf();
  bytes = s.str();
  return true;
}

/// The value of `key` in a numpy header dict, e.g. 'descr': '<u2'.
std::string npyField(const std::string &header, const std::string &key) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos)
    return {};
  at = header.find(':', at);
  if (at == std::string::npos)
    return {};
  size_t end = at + 1;
  int depth = 0;
  while (end < header.size() && (depth > 0 || (header[end] != ',' &&
                                               header[end] != '}'))) {
    depth += header[end] == '(';
    depth -= header[end] == ')';
    ++end;
  }
  std::string value = header.substr(at + 1, end - at - 1);
  size_t b = value.find_first_not_of(" "), e = value.find_last_not_of(" ");
  return b == std::string::npos ? "" : value.substr(b, e - b + 1);
}

/// Where the elements of a 1-D .npy start, and their type.
bool parseNpy(const std::string &path, const std::string &bytes,
              size_t &offset, std::string &descr, size_t &count,
              std::string &error) {
  auto bad = [&](const std::string &why) {
    error = path + ": " + why;
    return false;
  };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    return bad("not a numpy .npy file (no \\x93NUMPY magic)");
  int major = static_cast<unsigned char>(bytes[6]);
  size_t headerLen, start;
  if (major == 1) {
    headerLen = static_cast<unsigned char>(bytes[8]) |
                static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return bad("truncated header");
    headerLen = 0;
    for (int i = 0; i < 4; ++i)
      headerLen |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i]))
                   << (8 * i);
    start = 12;
  } else {
    return bad("unknown .npy format version " + std::to_string(major));
  }
  if (start + headerLen > bytes.size())
    return bad("truncated header");
  std::string header = bytes.substr(start, headerLen);
  descr = npyField(header, "descr");
  if (npyField(header, "fortran_order") != "False")
    return bad("fortran_order arrays are not read; save a C-ordered array");
  std::string shape = npyField(header, "shape");
  // A 1-D shape prints as "(N,)".
  char *end = nullptr;
  if (shape.size() < 4 || shape.front() != '(' ||
      shape.compare(shape.size() - 2, 2, ",)") != 0)
    return bad("shape " + shape + " is not 1-D: save the tokens as one "
               "flat array");
  errno = 0;
  unsigned long long n = std::strtoull(shape.c_str() + 1, &end, 10);
  if (errno || *end != ',')
    return bad("cannot read the shape " + shape);
  count = static_cast<size_t>(n);
  offset = start + headerLen;
  return true;
}

} // namespace

bool strata::tools::readTokenFile(const std::string &path, int64_t vocab,
                                  std::vector<int32_t> &tokens,
                                  std::string &error) {
  std::string bytes;
  if (!readAll(path, bytes, error))
    return false;
  size_t offset = 0, width = 4, count = 0;
  bool isSigned = false;
  bool npy = path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0;
  if (npy) {
    std::string descr;
    if (!parseNpy(path, bytes, offset, descr, count, error))
      return false;
    if (descr == "'<i4'" || descr == "'|i4'")
      isSigned = true;
    else if (descr == "'<u2'" || descr == "'|u2'")
      width = 2;
    else if (descr != "'<u4'" && descr != "'|u4'") {
      error = path + ": dtype " + descr +
              " is not read: save the tokens as int32, uint16 or uint32";
      return false;
    }
    if (offset + count * width != bytes.size()) {
      error = path + ": holds " + std::to_string(bytes.size() - offset) +
              " data bytes, its header says " + std::to_string(count) +
              " tokens of " + std::to_string(width) + " bytes (truncated?)";
      return false;
    }
  } else {
    if (bytes.size() % 4) {
      error = path + ": " + std::to_string(bytes.size()) +
              " bytes is not a whole number of little-endian uint32 token "
              "ids (truncated?)";
      return false;
    }
    count = bytes.size() / 4;
  }
  if (count < 2) {
    error = path + ": " + std::to_string(count) +
            " tokens; at least 2 are needed (an input and its label)";
    return false;
  }
  tokens.resize(count);
  const auto *p = reinterpret_cast<const unsigned char *>(bytes.data()) + offset;
  for (size_t i = 0; i < count; ++i) {
    uint64_t v = 0;
    for (size_t b = 0; b < width; ++b)
      v |= static_cast<uint64_t>(p[i * width + b]) << (8 * b);
    int64_t id = isSigned ? static_cast<int32_t>(v) : static_cast<int64_t>(v);
    if (id < 0 || id >= vocab) {
      error = path + ": token " + std::to_string(i) + " (" +
              (npy ? "element" : "byte offset " + std::to_string(i * 4) +
                                     ",") +
              " value " + std::to_string(id) +
              ") is outside the model's vocabulary [0, " +
              std::to_string(vocab) + ")";
      return false;
    }
    tokens[i] = static_cast<int32_t>(id);
  }
  return true;
}

BatchSampler::BatchSampler(const std::vector<int32_t> &tokens, size_t seqLen,
                           uint64_t seed, int32_t pad)
    : data(tokens), seqLen(seqLen),
      numWindows((tokens.size() - 1 + seqLen - 1) / seqLen), seed(seed),
      pad(pad) {
  shuffle();
}

namespace {
/// splitmix64: a small, well-mixed generator whose state is one word.
uint64_t splitmix(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
} // namespace

void BatchSampler::shuffle() {
  order.resize(numWindows);
  for (size_t i = 0; i < numWindows; ++i)
    order[i] = static_cast<uint32_t>(i);
  uint64_t state = seed * 0x100000001B3ull ^ (epoch + 1);
  for (size_t i = numWindows; i > 1; --i)
    std::swap(order[i - 1], order[splitmix(state) % i]);
}

void BatchSampler::next(size_t batch, std::vector<int32_t> &tokens,
                        std::vector<int32_t> &labels) {
  tokens.assign(batch * seqLen, pad);
  labels.assign(batch * seqLen, kIgnoreIndex);
  for (size_t b = 0; b < batch; ++b) {
    if (position == numWindows) {
      ++epoch;
      position = 0;
      shuffle();
    }
    size_t start = static_cast<size_t>(order[position++]) * seqLen;
    for (size_t s = 0; s < seqLen && start + s + 1 < data.size(); ++s) {
      tokens[b * seqLen + s] = data[start + s];
      labels[b * seqLen + s] = data[start + s + 1];
    }
  }
}

std::string BatchSampler::cursorJson() const {
  return "{\"epoch\": " + std::to_string(epoch) +
         ", \"position\": " + std::to_string(position) +
         ", \"windows\": " + std::to_string(numWindows) +
         ", \"seq_len\": " + std::to_string(seqLen) +
         ", \"seed\": " + std::to_string(seed) +
         ", \"tokens\": " + std::to_string(data.size()) + "}";
}

namespace {
bool jsonUint(const std::string &json, const char *key, uint64_t &out) {
  std::string quoted = std::string("\"") + key + "\"";
  size_t at = json.find(quoted);
  if (at == std::string::npos)
    return false;
  at = json.find(':', at + quoted.size());
  if (at == std::string::npos)
    return false;
  char *end = nullptr;
  errno = 0;
  out = std::strtoull(json.c_str() + at + 1, &end, 10);
  return errno == 0 && end != json.c_str() + at + 1;
}
} // namespace

bool BatchSampler::restore(const std::string &json, std::string &error) {
  uint64_t e, p, w, t, s, n;
  if (!jsonUint(json, "epoch", e) || !jsonUint(json, "position", p) ||
      !jsonUint(json, "windows", w) || !jsonUint(json, "seq_len", t) ||
      !jsonUint(json, "seed", s) || !jsonUint(json, "tokens", n)) {
    error = "the checkpoint has no data cursor (was it written by "
            "strata-run train?)";
    return false;
  }
  if (n != data.size() || t != seqLen || s != seed || w != numWindows ||
      p > numWindows) {
    error = "the checkpoint was written for " + std::to_string(n) +
            " tokens in windows of " + std::to_string(t) + " with data seed " +
            std::to_string(s) + "; this run has " +
            std::to_string(data.size()) + ", " + std::to_string(seqLen) +
            " and " + std::to_string(seed) +
            ": resume with the same --data, --seq-len and --seed";
    return false;
  }
  epoch = e;
  position = p;
  shuffle();
  return true;
}

//===- Eval.cpp - strata-run eval -----------------------------------------===//
//
// Next-token accuracy on a token file: the model's perplexity, and against
// a reference model (the float model a quantized one came from) how often
// both pick the same top token and the mean KL divergence of the
// reference's next-token distribution to the model's. The file is cut
// into consecutive windows of seq_len + 1 tokens (the last may be
// shorter), in order, so every token but the first is predicted once.
//
//===----------------------------------------------------------------------===//

#include "tools/strata-run/Eval.h"

#include "runtime/OutputFile.h"
#include "runtime/strata.h"
#include "tools/strata-run/TrainData.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace strata::tools {

CLI::App *addEvalCommand(CLI::App &app, EvalOptions &o) {
  CLI::App *cmd = app.add_subcommand(
      "eval", "Perplexity of a model on a token file and, with --reference, "
              "top-1 agreement and mean KL divergence against a second "
              "model (e.g. a quantized model against its float one)");
  cmd->add_option("executable", o.executable, "A .strata file")->required();
  cmd->add_option("--weights", o.weights,
                  "Its weights (default: initialised from --seed)");
  cmd->add_option("--seed", o.seed, "Initialise the weights from this seed");
  cmd->add_option("--data", o.data,
                  "Tokens: a flat .bin (little-endian uint32) or a 1-D .npy "
                  "(int32, uint16 or uint32), as strata-run train reads")
      ->required();
  cmd->add_option("--seq-len", o.seqLen,
                  "Tokens per window (default: the model's max sequence, "
                  "at most 512)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 24));
  cmd->add_option("--max-windows", o.maxWindows,
                  "Evaluate only the first N windows (default: all)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  cmd->add_option("--reference", o.reference,
                  "A second .strata file of the same vocabulary to compare "
                  "with");
  cmd->add_option("--reference-weights", o.referenceWeights,
                  "The reference's weights (default: initialised from "
                  "--seed)");
  cmd->add_option("--json", o.json,
                  "Also write the figures to this file as one JSON object");
  cmd->add_option("--threads", o.threads,
                  "CPU threads for the kernels' parallel loops (default 0: "
                  "one per available CPU)")
      ->check(CLI::Range(0u, 1024u));
  return cmd;
}

namespace {

/// An executable and a session holding its weights.
struct Model {
  strata_executable *exe = nullptr;
  strata_session *session = nullptr;
  strata_executable_info info{};
  ~Model() {
    strata_session_release(session);
    strata_executable_release(exe);
  }

  bool open(const std::string &path, const std::string &weights,
            uint64_t seed, unsigned threads) {
    strata_status status;
    if (strata_executable_load_file(path.c_str(), &exe, &status) ||
        strata_executable_get_info(exe, &info, &status) ||
        strata_session_create(exe, &session, &status) ||
        strata_session_set_num_threads(session, threads, &status) ||
        (weights.empty()
             ? strata_session_init_parameters(session, seed, &status)
             : strata_session_load_parameters(session, weights.c_str(),
                                              &status))) {
      std::fprintf(stderr, "error: %s\n", status.message);
      return false;
    }
    return true;
  }

  /// Log-softmax of the logits of `tokens`, one row of vocab per position.
  bool logProbs(const std::vector<int32_t> &tokens, std::vector<double> &out) {
    size_t vocab = static_cast<size_t>(info.vocab_size);
    std::vector<float> logits(tokens.size() * vocab);
    strata_status status;
    if (strata_session_forward(session, tokens.data(), 1, tokens.size(),
                               logits.data(), logits.size(), &status)) {
      std::fprintf(stderr, "error: %s\n", status.message);
      return false;
    }
    out.resize(logits.size());
    for (size_t s = 0; s < tokens.size(); ++s) {
      const float *row = logits.data() + s * vocab;
      double max = *std::max_element(row, row + vocab), sum = 0;
      for (size_t v = 0; v < vocab; ++v)
        sum += std::exp(double(row[v]) - max);
      double logZ = max + std::log(sum);
      for (size_t v = 0; v < vocab; ++v)
        out[s * vocab + v] = double(row[v]) - logZ;
    }
    return true;
  }
};

struct Totals {
  double nll = 0, refNll = 0, kl = 0;
  int64_t positions = 0, agree = 0, nonFinite = 0;
};

void accumulate(const std::vector<double> &lp, const std::vector<double> *ref,
                const std::vector<int32_t> &labels, size_t vocab, Totals &t) {
  for (size_t s = 0; s < labels.size(); ++s) {
    const double *row = lp.data() + s * vocab;
    double nll = -row[labels[s]];
    if (!std::isfinite(nll)) {
      ++t.nonFinite;
      continue;
    }
    t.nll += nll;
    ++t.positions;
    if (!ref)
      continue;
    const double *r = ref->data() + s * vocab;
    t.refNll += -r[labels[s]];
    t.agree += std::max_element(row, row + vocab) ==
                       row + (std::max_element(r, r + vocab) - r)
                   ? 1
                   : 0;
    double kl = 0;
    for (size_t v = 0; v < vocab; ++v)
      kl += std::exp(r[v]) * (r[v] - row[v]);
    t.kl += kl;
  }
}

/// `v` as JSON with every significant digit a double needs.
std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", v);
  return text;
}

} // namespace

int runEval(const EvalOptions &o) {
  Model model, reference;
  if (!model.open(o.executable, o.weights, o.seed, o.threads))
    return 1;
  bool compare = !o.reference.empty();
  if (!compare && !o.referenceWeights.empty()) {
    std::fprintf(stderr, "error: --reference-weights needs --reference\n");
    return 2;
  }
  if (compare) {
    if (!reference.open(o.reference, o.referenceWeights, o.seed, o.threads))
      return 1;
    if (reference.info.vocab_size != model.info.vocab_size) {
      std::fprintf(stderr,
                   "error: %s has a vocabulary of %lld tokens and the "
                   "reference %s of %lld; eval compares models of one "
                   "vocabulary\n",
                   o.executable.c_str(), (long long)model.info.vocab_size,
                   o.reference.c_str(),
                   (long long)reference.info.vocab_size);
      return 1;
    }
  }
  std::vector<int32_t> data;
  std::string error;
  if (!readTokenFile(o.data, model.info.vocab_size, data, error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  int64_t seqLen = o.seqLen;
  if (!seqLen)
    seqLen = std::min<int64_t>(512, model.info.max_seq_len);
  if (seqLen > model.info.max_seq_len ||
      (compare && seqLen > reference.info.max_seq_len)) {
    std::fprintf(stderr,
                 "error: --seq-len %lld is longer than the models' maximum "
                 "sequence (%lld)\n",
                 (long long)seqLen,
                 (long long)std::min(model.info.max_seq_len,
                                     compare ? reference.info.max_seq_len
                                             : model.info.max_seq_len));
    return 1;
  }
  size_t vocab = static_cast<size_t>(model.info.vocab_size);
  Totals t;
  int64_t windows = 0;
  std::vector<double> lp, refLp;
  for (size_t start = 0; start + 1 < data.size();
       start += static_cast<size_t>(seqLen)) {
    if (o.maxWindows && windows == o.maxWindows)
      break;
    size_t len = std::min<size_t>(seqLen, data.size() - 1 - start);
    std::vector<int32_t> tokens(data.begin() + start,
                                data.begin() + start + len);
    std::vector<int32_t> labels(data.begin() + start + 1,
                                data.begin() + start + 1 + len);
    if (!model.logProbs(tokens, lp) ||
        (compare && !reference.logProbs(tokens, refLp)))
      return 1;
    accumulate(lp, compare ? &refLp : nullptr, labels, vocab, t);
    ++windows;
  }
  if (!t.positions) {
    std::fprintf(stderr,
                 "error: every prediction was NaN or infinite (do the "
                 "weights hold NaN or Inf?)\n");
    return 1;
  }
  double n = static_cast<double>(t.positions);
  double ppl = std::exp(t.nll / n);
  std::printf("eval: %s, %lld predictions in %lld windows of up to %lld "
              "tokens\n",
              o.data.c_str(), (long long)t.positions, (long long)windows,
              (long long)seqLen);
  std::printf("perplexity %.6g (mean NLL %.6g nats per token)\n", ppl,
              t.nll / n);
  std::string json = "{\"tokens\":" + std::to_string(t.positions) +
                     ",\"windows\":" + std::to_string(windows) +
                     ",\"perplexity\":" + number(ppl);
  if (compare) {
    double refPpl = std::exp(t.refNll / n);
    double agree = 100.0 * t.agree / n;
    std::printf("reference perplexity %.6g (%+.3f%% for the model)\n",
                refPpl, 100.0 * (ppl / refPpl - 1));
    std::printf("top-1 agreement %.3f%% (%lld of %lld), mean KL(reference "
                "|| model) %.6g nats\n",
                agree, (long long)t.agree, (long long)t.positions,
                t.kl / n);
    json += ",\"reference_perplexity\":" + number(refPpl) +
            ",\"top1_agreement\":" + number(agree / 100.0) +
            ",\"mean_kl\":" + number(t.kl / n);
  }
  if (t.nonFinite)
    std::fprintf(stderr,
                 "warning: %lld predictions had NaN or infinite "
                 "log-probabilities and were left out\n",
                 (long long)t.nonFinite);
  json += "}\n";
  if (!o.json.empty()) {
    std::string writeError;
    if (!strata::runtime::writeFile(o.json, json, writeError)) {
      std::fprintf(stderr, "error: %s\n", writeError.c_str());
      return 1;
    }
  }
  return 0;
}

} // namespace strata::tools

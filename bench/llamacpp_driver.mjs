// Runs a GGUF model with node-llama-cpp for bench/cpu_vs_llamacpp.py.
//
//   node llamacpp_driver.mjs REQUEST.json
//
// The request names the model, the thread count and what to do:
//   {"mode": "check", "tokens": [...], "generate": N}
//     -> the next-token probabilities after every prompt position (the top
//        entries, for comparing with Strata's softmax of its logits) and N
//        greedy tokens;
//   {"mode": "time", "prefill": [128, 512], "decode": 64, "decodePrompt": 128}
//     -> milliseconds of each prefill (one evaluation of the whole prompt,
//        nothing sampled) and of each decode step after the first (greedy,
//        one token at a time after a decodePrompt-token prompt).
// Prints one JSON object on stdout. node-llama-cpp is imported from the
// request's "install" folder (the pinned copy the bench script installs;
// an ES module does not search NODE_PATH).
import fs from "node:fs";
import path from "node:path";
import {pathToFileURL} from "node:url";

const req = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(
    path.join(req.install, "node_modules", "node-llama-cpp", "dist", "index.js")).href);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error,
                              maxThreads: req.threads});
const model = await llama.loadModel({modelPath: req.model, gpuLayers: 0, useMmap: true});
const longest = Math.max(...(req.prefill ?? [0]), (req.tokens ?? []).length,
                         (req.decodePrompt ?? 0) + (req.decode ?? 0)) + (req.generate ?? 0);
const context = await model.createContext({
  contextSize: Math.max(longest + 16, 256),
  batchSize: Math.max(longest + 16, 512),
  threads: {ideal: req.threads, min: req.threads},
  flashAttention: false,
  sequences: 1,
});
const sequence = context.getSequence();
const greedy = {temperature: 0};

// A prompt of n deterministic token ids in [3, vocab), as the Strata side
// gets from the same formula.
function prompt(n, vocab) {
  const out = [];
  for (let i = 0; i < n; ++i)
    out.push(3 + ((i * 7919 + 17) % (vocab - 3)));
  return out;
}

async function check() {
  const top = req.top ?? 16;
  const items = req.tokens.map(t => [t, {generateNext: {probabilities: true,
      options: {temperature: 1, topK: 0, topP: 1, minP: 0}}}]);
  const out = await sequence.controlledEvaluate(items);
  const probs = out.map(o => [...o.next.probabilities.entries()].slice(0, top));
  const generated = [];
  await sequence.clearHistory();
  const gen = sequence.evaluate(req.tokens, greedy);
  for await (const token of gen) {
    generated.push(token);
    if (generated.length === req.generate)
      break;
  }
  return {probabilities: probs, generated};
}

async function decodeSteps(promptTokens, steps) {
  await sequence.clearHistory();
  await sequence.evaluateWithoutGeneratingNewTokens(promptTokens);
  const stamps = [];
  const gen = sequence.evaluate([promptTokens[promptTokens.length - 1]], greedy);
  for await (const token of gen) {
    void token;
    stamps.push(performance.now());
    if (stamps.length === steps)
      break;
  }
  // Steps after the first: the first also pays for starting the generator.
  return (stamps[stamps.length - 1] - stamps[0]) / (stamps.length - 1);
}

async function time() {
  const vocab = req.vocab;
  const result = {prefill_ms: {}, decode_step_ms: 0};
  // One untimed pass of each shape first: page the weights in, size the buffers.
  for (const n of req.prefill) {
    await sequence.clearHistory();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt(n, vocab));
  }
  await decodeSteps(prompt(req.decodePrompt, vocab), 4);
  for (const n of req.prefill) {
    await sequence.clearHistory();
    const t0 = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt(n, vocab));
    result.prefill_ms[n] = performance.now() - t0;
  }
  result.decode_step_ms = await decodeSteps(prompt(req.decodePrompt, vocab), req.decode);
  return result;
}

const result = req.mode === "check" ? await check() : await time();
process.stdout.write(JSON.stringify(result) + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();

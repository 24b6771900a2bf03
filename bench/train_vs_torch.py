#!/usr/bin/env python3
"""Training benchmark: full optimizer steps in Strata against eager
PyTorch, same model, same initial weights, same batch size, same threads.

Strata: `strata-compile --train` (AdamW, clipping 1.0, the same lr on both
sides), then `strata-run train --steps N` on a token file; the step time
is the median over the steps after the first two, read from --metrics
(tokens_per_s), and the peak RSS is that of the strata-run process alone.
PyTorch: the reference model (test/e2e/model_reference.py) under autograd:
forward, loss.backward(), clip_grad_norm_, torch.optim.AdamW.step(), timed
per step in a fresh process whose peak RSS is read after. Prints both and
the ratios: tokens/s (>1: Strata faster) and peak memory (<1: Strata
smaller). Run from the repository root after a build:

    /usr/bin/python3 bench/train_vs_torch.py [--config bench/configs/train-dense.yaml] [--threads N]
"""
import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LR = 1e-3


def tokens_for(vocab, n):
    return [(i * 7919 + 13) % vocab for i in range(n)]


def torch_steps(config, weights, batch, seq, steps, threads):
    """Runs in a child process: times full training steps, prints the median
    and the peak RSS."""
    import torch
    import torch.nn.functional as F
    import yaml
    sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
    from model_reference import forward, load_safetensors
    torch.set_num_threads(threads)
    cfg = (json.load(open(config)) if config.endswith(".json")
           else yaml.safe_load(open(config)))
    P = {k: v.requires_grad_(True) for k, v in load_safetensors(weights).items()}
    vocab = P["model.embed_tokens.weight"].shape[0]
    data = torch.tensor(tokens_for(vocab, batch * seq + 1))
    tokens = data[:-1].view(batch, seq)
    labels = data[1:].view(batch, seq)
    opt = torch.optim.AdamW(list(P.values()), lr=LR)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = forward(cfg, P, tokens)
        loss = F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0)
        opt.step()
        times.append((time.perf_counter() - t0) * 1000)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"step_ms": statistics.median(times[2:]), "peak_rss_bytes": peak}))


def strata_steps(argv):
    """Runs in a child process: runs strata-run train, prints its peak RSS
    (this process's children: strata-run alone)."""
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    print(json.dumps({"peak_rss_bytes":
                      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default=os.path.join(ROOT, "bench", "configs", "train-dense.yaml"))
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--recompute", default="layer", choices=["layer", "none"])
    p.add_argument("--torch-child", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--strata-child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.torch_child:
        return torch_steps(a.torch_child[0], a.torch_child[1], a.batch, a.seq,
                           a.steps, a.threads)
    if a.strata_child:
        return strata_steps(a.strata_child)
    bin_dir = os.path.join(a.build, "bin")
    tmp = tempfile.mkdtemp()
    exe, weights = os.path.join(tmp, "model.strata"), os.path.join(tmp, "w.safetensors")
    data, metrics = os.path.join(tmp, "data.bin"), os.path.join(tmp, "metrics.jsonl")
    subprocess.run([os.path.join(bin_dir, "strata-compile"), a.config, "--train",
                    "--optimizer", "adamw", "--lr", str(LR), "--schedule", "constant",
                    "--clip", "1.0", "--recompute", a.recompute,
                    # The peer trains in f32 (CPU autocast would change both).
                    "--precision", "float32", "--emit=executable",
                    "-o", exe], check=True)
    subprocess.run([os.path.join(bin_dir, "strata-run"), "logits", exe, "--seed", "1",
                    "--tokens", "1", "--save-weights", weights], check=True,
                   stdout=subprocess.DEVNULL)
    info = subprocess.run([os.path.join(bin_dir, "strata-run"), "inspect", exe],
                          check=True, capture_output=True, text=True).stdout
    vocab = int(info.split("vocab ")[1].split(",")[0])
    ids = tokens_for(vocab, a.batch * a.seq + 1)
    open(data, "wb").write(struct.pack("<%dI" % len(ids), *ids))
    s = json.loads(subprocess.run(
        ["/usr/bin/python3", __file__, "--strata-child",
         os.path.join(bin_dir, "strata-run"), "train", exe, "--data", data,
         "--weights", weights, "--steps", str(a.steps), "--batch", str(a.batch),
         "--seq-len", str(a.seq), "--threads", str(a.threads), "--metrics", metrics,
         "--progress", "none"], check=True, capture_output=True, text=True).stdout)
    rates = [json.loads(line)["tokens_per_s"] for line in open(metrics)][2:]
    tokens = a.batch * a.seq
    s["step_ms"] = statistics.median(tokens / r * 1000 for r in rates)
    t = json.loads(subprocess.run(
        ["/usr/bin/python3", __file__, "--torch-child", a.config, weights,
         "--batch", str(a.batch), "--seq", str(a.seq), "--steps", str(a.steps),
         "--threads", str(a.threads)], check=True, capture_output=True, text=True).stdout)
    print(f"config {os.path.basename(a.config)} batch {a.batch} x {a.seq} tokens, "
          f"{a.threads} thread(s), AdamW steps (median of {a.steps - 2}), "
          f"recompute {a.recompute}")
    print(f"strata  step_ms {s['step_ms']:.1f} tokens_per_s {tokens / s['step_ms'] * 1000:.0f} "
          f"peak_rss_mib {s['peak_rss_bytes'] / 2**20:.1f}")
    print(f"pytorch step_ms {t['step_ms']:.1f} tokens_per_s {tokens / t['step_ms'] * 1000:.0f} "
          f"peak_rss_mib {t['peak_rss_bytes'] / 2**20:.1f}")
    print(f"ratio   tokens_per_s {t['step_ms'] / s['step_ms']:.2f}x (>1: Strata faster) "
          f"peak_memory {s['peak_rss_bytes'] / t['peak_rss_bytes']:.2f}x (<1: Strata smaller)")


if __name__ == "__main__":
    sys.exit(main())

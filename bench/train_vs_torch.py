#!/usr/bin/env python3
"""Training benchmark: one gradient computation (forward, backward, every
parameter's gradient) in Strata against eager PyTorch, same model, same
weights, same batch, same thread count.

Strata: `strata-compile --train`, then `strata-run bench --grad` (median
of --repeats, and the process's peak RSS). PyTorch: the reference model
(test/e2e/model_reference.py) under autograd, loss.backward(), timed the
same way in a fresh process whose peak RSS is read after. Prints both and
the ratios: tokens/s (>1: Strata faster) and peak memory (<1: Strata
smaller). The optimizer is not in the step yet (docs/training.md), so
neither side runs one. Run from the repository root after a build:

    /usr/bin/python3 bench/train_vs_torch.py [--config bench/configs/train-dense.yaml]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_step(config, weights, batch, seq, repeats, threads):
    """Runs in a child process: times forward+backward, prints the median
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
    tokens = torch.tensor([(i * 7919 + 13) % vocab for i in range(batch * seq)]).view(batch, seq)
    labels = torch.cat([tokens[:, 1:], torch.full((batch, 1), -100)], 1)
    times = []
    for _ in range(repeats):
        for p in P.values():
            p.grad = None
        t0 = time.perf_counter()
        logits = forward(cfg, P, tokens)
        loss = F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=-100)
        loss.backward()
        times.append((time.perf_counter() - t0) * 1000)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"grad_ms": statistics.median(times), "loss": loss.item(),
                      "peak_rss_bytes": peak}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default=os.path.join(ROOT, "bench", "configs", "train-dense.yaml"))
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--torch-child", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.torch_child:
        return torch_step(a.torch_child[0], a.torch_child[1], a.batch, a.seq,
                          a.repeats, a.threads)
    bin_dir = os.path.join(a.build, "bin")
    tmp = tempfile.mkdtemp()
    exe, weights = os.path.join(tmp, "model.strata"), os.path.join(tmp, "w.safetensors")
    subprocess.run([os.path.join(bin_dir, "strata-compile"), a.config, "--train",
                    "--emit=executable", "-o", exe], check=True)
    subprocess.run([os.path.join(bin_dir, "strata-run"), "logits", exe, "--seed", "1",
                    "--tokens", "1", "--save-weights", weights], check=True,
                   stdout=subprocess.DEVNULL)
    out = subprocess.run([os.path.join(bin_dir, "strata-run"), "bench", exe, "--grad",
                          "--weights", weights, "--prefill", str(a.seq), "--batch",
                          str(a.batch), "--repeats", str(a.repeats), "--threads",
                          str(a.threads)], check=True, capture_output=True,
                         text=True).stdout.split()
    s = dict(zip(out[0::2], map(float, out[1::2])))
    t = json.loads(subprocess.run(
        ["/usr/bin/python3", __file__, "--torch-child", a.config, weights,
         "--batch", str(a.batch), "--seq", str(a.seq), "--repeats", str(a.repeats),
         "--threads", str(a.threads)], check=True, capture_output=True, text=True).stdout)
    tokens = a.batch * a.seq
    print(f"config {os.path.basename(a.config)} batch {a.batch} x {a.seq} tokens, "
          f"{a.threads} thread(s)")
    print(f"strata  grad_ms {s['grad_ms']:.1f} tokens_per_s {tokens / s['grad_ms'] * 1000:.0f} "
          f"peak_rss_mib {s['peak_rss_bytes'] / 2**20:.1f} loss {s['loss']:.5f}")
    print(f"pytorch grad_ms {t['grad_ms']:.1f} tokens_per_s {tokens / t['grad_ms'] * 1000:.0f} "
          f"peak_rss_mib {t['peak_rss_bytes'] / 2**20:.1f} loss {t['loss']:.5f}")
    print(f"ratio   tokens_per_s {t['grad_ms'] / s['grad_ms']:.2f}x (>1: Strata faster) "
          f"peak_memory {s['peak_rss_bytes'] / t['peak_rss_bytes']:.2f}x (<1: Strata smaller)")


if __name__ == "__main__":
    sys.exit(main())

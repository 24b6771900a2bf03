#!/usr/bin/env python3
"""Data-parallel training benchmark: Strata on two MPI ranks against
PyTorch's DistributedDataParallel (gloo) on two processes, same model, same
initial weights, same global batch, one thread per rank.

Strata: `strata-compile --train --dp 2` (AdamW, clipping 1.0), then
`mpirun -np 2 strata-run train --threads 1`; each rank trains on half the
rows and the gradients are all-reduced through the MPI backend. The same
executable also runs as one process (1 and 2 threads): the scaling rows;
a `--zero 1` build shards the optimizer state over the two ranks.
PyTorch: the reference model (test/e2e/model_reference.py) as an
nn.Module under DDP, forward, loss.backward() (DDP's bucketed all-reduce
overlapping the backward), clip_grad_norm_, AdamW.step(). Step times are
medians over the steps after the first two. Prints each and the ratios
(tokens/s, >1: Strata faster). Run from the repository root after a build:

    /usr/bin/python3 bench/train_data_parallel.py [--config bench/configs/train-dense.yaml]
"""
import argparse
import json
import os
import shutil
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


def torch_rank(rank, world, port, config, weights, batch, seq, steps):
    """One DDP rank: trains on its half of the global batch; rank 0 prints
    the median step time."""
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    import yaml
    sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
    from model_reference import forward, load_safetensors
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    cfg = (json.load(open(config)) if config.endswith(".json")
           else yaml.safe_load(open(config)))
    initial = load_safetensors(weights)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.names = list(initial)
            self.params = torch.nn.ParameterList(
                torch.nn.Parameter(initial[n].clone()) for n in self.names)

        def forward(self, tokens):
            return forward(cfg, dict(zip(self.names, self.params)), tokens)

    model = torch.nn.parallel.DistributedDataParallel(Model())
    vocab = initial["model.embed_tokens.weight"].shape[0]
    data = torch.tensor(tokens_for(vocab, batch * seq + 1))
    rows = batch // world
    tokens = data[:-1].view(batch, seq)[rank * rows:(rank + 1) * rows]
    labels = data[1:].view(batch, seq)[rank * rows:(rank + 1) * rows]
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    times = []
    for _ in range(steps):
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model(tokens)
        loss = F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append((time.perf_counter() - t0) * 1000)
    if rank == 0:
        print(json.dumps({"step_ms": statistics.median(times[2:])}))
    dist.destroy_process_group()


def strata_ms(metrics, tokens):
    rates = [json.loads(line)["tokens_per_s"] for line in open(metrics)][2:]
    return statistics.median(tokens / r * 1000 for r in rates)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default=os.path.join(ROOT, "bench", "configs", "train-dense.yaml"))
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=7)
    p.add_argument("--torch-rank", nargs=3, type=int, help=argparse.SUPPRESS)
    p.add_argument("--weights", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.torch_rank:
        rank, world, port = a.torch_rank
        return torch_rank(rank, world, port, a.config, a.weights, a.batch, a.seq, a.steps)
    bin_dir = os.path.join(a.build, "bin")
    run = os.path.join(bin_dir, "strata-run")
    mpirun = shutil.which("mpirun")
    if not mpirun:
        sys.exit("mpirun not found: ./scripts/setup.sh installs openmpi-bin")
    tmp = tempfile.mkdtemp()
    exe, weights = os.path.join(tmp, "model.strata"), os.path.join(tmp, "w.safetensors")
    data = os.path.join(tmp, "data.bin")
    zero_exe = os.path.join(tmp, "zero.strata")
    for out, extra in ((exe, []), (zero_exe, ["--zero", "1"])):
        subprocess.run([os.path.join(bin_dir, "strata-compile"), a.config, "--train",
                        "--optimizer", "adamw", "--lr", str(LR), "--schedule", "constant",
                        "--clip", "1.0", "--precision", "float32", "--dp", "2",
                        "--emit=executable", "-o", out] + extra, check=True)
    subprocess.run([run, "logits", exe, "--seed", "1", "--tokens", "1",
                    "--save-weights", weights], check=True, stdout=subprocess.DEVNULL)
    info = subprocess.run([run, "inspect", exe], check=True, capture_output=True,
                          text=True).stdout
    vocab = int(info.split("vocab ")[1].split(",")[0])
    ids = tokens_for(vocab, a.batch * a.seq + 1)
    open(data, "wb").write(struct.pack("<%dI" % len(ids), *ids))
    tokens = a.batch * a.seq
    train = ["train", exe, "--data", data, "--weights", weights, "--steps", str(a.steps),
             "--batch", str(a.batch), "--seq-len", str(a.seq), "--progress", "none"]
    results = {}
    mpi = [mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2"]
    for name, prefix, threads in [
            ("strata 1 process, 1 thread", [], 1),
            ("strata 1 process, 2 threads", [], 2),
            ("strata 2 ranks (mpirun), 1 thread each", mpi, 1),
            ("strata 2 ranks, ZeRO-1, 1 thread each", mpi, 1)]:
        metrics = os.path.join(tmp, f"m{len(results)}.jsonl")
        args = list(train)
        if "ZeRO" in name:
            args[1] = zero_exe
        subprocess.run(prefix + [run] + args + ["--threads", str(threads),
                                                "--metrics", metrics],
                       check=True, stdout=subprocess.DEVNULL)
        results[name] = strata_ms(metrics, tokens)
    port = 29500 + os.getpid() % 1000
    ranks = [subprocess.Popen(["/usr/bin/python3", __file__, "--torch-rank", str(r), "2",
                               str(port), "--config", a.config, "--weights", weights,
                               "--batch", str(a.batch), "--seq", str(a.seq),
                               "--steps", str(a.steps)],
                              stdout=subprocess.PIPE, text=True) for r in range(2)]
    out = [r.communicate()[0] for r in ranks]
    if any(r.returncode for r in ranks):
        sys.exit("the PyTorch DDP ranks failed")
    torch_ms = json.loads(out[0])["step_ms"]
    print(f"config {os.path.basename(a.config)}, global batch {a.batch} x {a.seq} tokens, "
          f"AdamW steps (median of {a.steps - 2})")
    for name, ms in results.items():
        print(f"{name:42s} step_ms {ms:8.1f} tokens_per_s {tokens / ms * 1000:8.0f}")
    print(f"{'pytorch DDP (gloo) 2 ranks, 1 thread each':42s} step_ms {torch_ms:8.1f} "
          f"tokens_per_s {tokens / torch_ms * 1000:8.0f}")
    dp = results["strata 2 ranks (mpirun), 1 thread each"]
    one = results["strata 1 process, 1 thread"]
    print(f"ratio   strata dp 2 vs pytorch DDP 2: {torch_ms / dp:.2f}x tokens/s (>1: Strata faster)")
    print(f"scaling strata dp 2 vs 1 process 1 thread: {one / dp:.2f}x "
          f"(2.0 would be perfect), vs 1 process 2 threads: "
          f"{results['strata 1 process, 2 threads'] / dp:.2f}x")


if __name__ == "__main__":
    sys.exit(main())

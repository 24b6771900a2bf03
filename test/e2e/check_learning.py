#!/usr/bin/env python3
"""Asserts that a training run learned its synthetic task.

Reads make_tokens.py's entropies (the loss a perfect model reaches, and
the unigram entropy a model that learned nothing stays at) and the run's
metrics: the mean loss of the last 20 steps must be below half the
unigram entropy and within --margin nats of the conditional entropy."""
import json
import sys

entropies = open(sys.argv[1]).read().split()
floor, unigram = float(entropies[1]), float(entropies[3])
margin = float(sys.argv[3]) if len(sys.argv) > 3 else 0.35
losses = [json.loads(line)["loss"] for line in open(sys.argv[2])]
last = sum(losses[-20:]) / 20
print(f"first loss {losses[0]:.3f}, last 20 mean {last:.3f}, "
      f"floor {floor:.3f}, unigram {unigram:.3f}")
if not (last < unigram / 2 and last < floor + margin):
    print("FAIL: the model did not learn the task")
    sys.exit(1)
print("PASS: learned")

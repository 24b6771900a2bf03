"""Runs `strata-run infer` on a batch of prompts of different lengths and on
each prompt alone, and checks that every sequence gets the same tokens.

Usage: check_batch.py MODEL.strata --seed N --new K [--temperature T]
"""
import argparse
import subprocess
import sys

PROMPTS = ["5", "3,1,4,1,5,9,2,6", "7,7,7", "11,13,17,19,23,29,31,37,41,43,47"]


def run(model, seed, new, temperature, sample_seed, prompts):
    cmd = ["strata-run", "infer", model, "--seed", str(seed),
           "--max-new-tokens", str(new)]
    if temperature:
        cmd += ["--temperature", str(temperature), "--sample-seed",
                str(sample_seed)]
    for p in prompts:
        cmd += ["--tokens", p]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    lines = out.stdout.strip("\n").split("\n")
    return lines[-len(prompts):]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--new", type=int, required=True)
    ap.add_argument("--temperature", type=float, default=0.0)
    args = ap.parse_args()
    batched = run(args.model, args.seed, args.new, args.temperature, 100,
                  PROMPTS)
    failed = False
    for b, prompt in enumerate(PROMPTS):
        alone = run(args.model, args.seed, args.new, args.temperature,
                    100 + b, [prompt])[0]
        if alone != batched[b]:
            print(f"sequence {b} ({prompt}): batched {batched[b]} alone {alone}")
            failed = True
        elif not alone:
            print(f"sequence {b} generated nothing")
            failed = True
    if failed:
        sys.exit(1)
    print(f"batch of {len(PROMPTS)}: every sequence matches its own run")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes token files for the training tests.

  random N VOCAB SEED OUT        N uniform token ids
  pattern N VOCAB P SEED OUT     x[i+1] = x[i] + 1 mod VOCAB with
                                 probability P, else uniform: prints the
                                 data's conditional entropy (the loss a
                                 perfect model reaches) and its unigram
                                 entropy (a model that learned nothing)
  npy DTYPE N VOCAB SEED OUT     a 1-D .npy of DTYPE (<i4, <u2, <u4)
Output: .bin (little-endian uint32) unless OUT ends in .npy.
"""
import math
import random
import struct
import sys


def write(path, ids, dtype="<u4"):
    if path.endswith(".npy"):
        header = "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }" % (dtype, len(ids))
        header += " " * (63 - (len(header) + 10) % 64) + "\n"
        code = {"<i4": "i", "<u2": "H", "<u4": "I"}[dtype]
        with open(path, "wb") as f:
            f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
            f.write(struct.pack("<%d%s" % (len(ids), code), *ids))
    else:
        with open(path, "wb") as f:
            f.write(struct.pack("<%dI" % len(ids), *ids))


def main():
    kind = sys.argv[1]
    if kind == "random":
        n, vocab, seed, out = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        r = random.Random(seed)
        write(out, [r.randrange(vocab) for _ in range(n)])
    elif kind == "pattern":
        n, vocab, p, seed, out = (int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
                                  int(sys.argv[5]), sys.argv[6])
        r = random.Random(seed)
        ids = [r.randrange(vocab)]
        for _ in range(n - 1):
            ids.append((ids[-1] + 1) % vocab if r.random() < p else r.randrange(vocab))
        write(out, ids)
        hit = p + (1 - p) / vocab
        miss = (1 - p) / vocab
        floor = -(hit * math.log(hit) + (vocab - 1) * miss * math.log(miss))
        print(f"conditional_entropy {floor:.6f} unigram_entropy {math.log(vocab):.6f}")
    elif kind == "npy":
        dtype, n, vocab, seed, out = (sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                                      int(sys.argv[5]), sys.argv[6])
        r = random.Random(seed)
        write(out, [r.randrange(vocab) for _ in range(n)], dtype)
    else:
        sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main()

"""A Python reference of the counter-based generator training's
randomness uses (docs/training.md): splitmix64's finaliser over
(seed, salt), then each word of the counter (step, element index, bits of
the input) in turn, as codegen/Conversion/StrataToLinalg/Utils.cpp
computes it."""
import struct

M = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix(z):
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & M
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)


def counter_hash(seed, salt, words):
    h = mix(seed ^ ((salt * GOLDEN) & M))
    for word in words:
        h = mix(((h ^ word) + GOLDEN) & M)
    return h


def f32_bits(v):
    return struct.unpack("<I", struct.pack("<f", v))[0]

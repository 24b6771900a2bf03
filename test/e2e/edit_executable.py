"""Edits an executable's tables and checksums it again, as a careless tool
or a corruption that kept the checksums valid would: the edit then reaches
the loader's cross-checks instead of its checksum.

    edit_executable.py IN OUT STATEMENT...

Each STATEMENT is Python run on `d`, the executable as flatc's JSON (e.g.
"d['metadata']['vocab_size'] = 33"). The flatbuffer goes through flatc
(JSON and back) with runtime/schema/executable.fbs; the trailer is
runtime/Checksum.h's: payload size, CRC-32C, format version, reserved,
the trailer's own CRC-32C, magic STRXCRC1.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "runtime",
                      "schema", "executable.fbs")
TRAILER = 32
MAGIC = b"STRXCRC1"


def crc32c(data, crc=0):
    table = crc32c.table
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


def _table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


crc32c.table = _table()


def seal(payload, version):
    head = struct.pack("<QIII", len(payload), crc32c(payload), version, 0)
    return payload + head + struct.pack("<I", crc32c(head)) + MAGIC


def main():
    source, target, statements = sys.argv[1], sys.argv[2], sys.argv[3:]
    data = open(source, "rb").read()
    assert data.endswith(MAGIC), "no checksum trailer"
    version = struct.unpack_from("<I", data, len(data) - TRAILER + 12)[0]
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "exe.bin")
        open(binary, "wb").write(data[:-TRAILER])
        subprocess.check_call(["flatc", "--json", "--raw-binary",
                               "--strict-json", "-o", tmp, SCHEMA, "--",
                               binary])
        path = os.path.join(tmp, "exe.json")
        d = json.load(open(path))
        for statement in statements:
            exec(statement, {"d": d})
        json.dump(d, open(path, "w"))
        subprocess.check_call(["flatc", "--binary", "-o", tmp, SCHEMA, path])
        # flatc names its output after the schema's file_extension.
        payload = open(os.path.join(tmp, "exe.strata"), "rb").read()
    open(target, "wb").write(seal(payload, version))


if __name__ == "__main__":
    main()

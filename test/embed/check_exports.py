"""Checks libstrata_runtime.so's dynamic symbols and dependencies.

usage: check_exports.py strata.h NM_OUTPUT READELF_DYNAMIC_OUTPUT

The defined dynamic symbols (llvm-nm -D --defined-only) must be exactly the
functions strata.h declares: nothing of the C++ inside leaks, and nothing
the header promises is missing. The library may need only libc, libm,
libdl, libpthread, libstdc++, libgcc_s and the dynamic loader: no MLIR,
LLVM or CUDA (the runtime opens libcuda.so.1 with dlopen).
"""
import re
import sys

ALLOWED_NEEDED = re.compile(
    r"^(libc|libm|libdl|libpthread|libstdc\+\+|libgcc_s|ld-linux[-\w]*)"
    r"\.so(\.\d+)*$")


def declared(header):
    text = open(header).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # A function declaration: the name right before its parameter list.
    # Function-like macros and typedefs of function pointers do not occur.
    return set(re.findall(r"\b(strata_\w+)\s*\(", text))


def exported(nm_output):
    names = set()
    for line in open(nm_output):
        fields = line.split()
        if len(fields) >= 2:
            names.add(fields[-1].split("@")[0])
    return names


def needed(readelf_output):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                      open(readelf_output).read())


def main():
    header, nm_output, readelf_output = sys.argv[1:]
    api, symbols = declared(header), exported(nm_output)
    ok = True
    if len(api) < 20:
        print(f"error: only {len(api)} functions found in {header}")
        ok = False
    for name in sorted(symbols - api):
        print(f"error: exported but not in strata.h: {name}")
        ok = False
    for name in sorted(api - symbols):
        print(f"error: declared in strata.h but not exported: {name}")
        ok = False
    libs = needed(readelf_output)
    if not libs:
        print("error: no NEEDED entries found")
        ok = False
    for lib in libs:
        if not ALLOWED_NEEDED.match(lib):
            print(f"error: the runtime needs {lib}")
            ok = False
    if ok:
        print(f"{len(symbols)} symbols exported, all of strata.h; "
              f"needs {', '.join(libs)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""What the emulated kernel tests share: running strata-opt, comparing with
a numpy reference (and checking that the comparison can fail), and the exit
status. Each check prints one line, `ok: ...` or `FAIL: ...`; the last line
is `PASS: N checks` or `FAIL: K of N checks`, and the exit status is 1 when
any check failed."""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import simt  # noqa: E402


def arguments(description, tools=("strata-opt",), extra=None):
    """Command-line options: a path for each tool (default: the build's
    bin/, else PATH), --keep, and what `extra(parser)` adds."""
    p = argparse.ArgumentParser(description=description)
    for name in tools:
        default = os.path.join(HERE, "..", "..", "..", "build", "bin", name)
        p.add_argument("--" + name, default=default if os.path.exists(default) else name)
    p.add_argument("--keep", help="directory to write the lowered MLIR into")
    if extra:
        extra(p)
    return p.parse_args()


def tool(cmd, input=None, what=None):
    """Runs cmd (a list) and returns its stdout and stderr; exits naming
    `what` when it fails. Retries a few times: the binary may be being
    replaced by a rebuild."""
    why = ""
    for attempt in range(6):
        try:
            r = subprocess.run(cmd, input=input, capture_output=True, text=True)
        except OSError as e:   # being relinked
            why = str(e)
        else:
            if r.returncode == 0:
                return r.stdout, r.stderr
            why = "exit %d:\n%s" % (r.returncode, r.stderr)
        time.sleep(2 * (attempt + 1))
    sys.exit("%s failed: %s" % (what or " ".join(cmd), why))


def lower(opt, text, passes, keep=None, tag="lowered"):
    """`text` through strata-opt with `passes` (a list of flags), in the
    generic op form (retried as `tool` does)."""
    out, _ = tool([opt, "-", *passes, "--mlir-print-op-generic"], input=text,
                  what="strata-opt %s" % " ".join(passes))
    if not out.strip():
        sys.exit("strata-opt %s printed nothing" % " ".join(passes))
    if keep:
        os.makedirs(keep, exist_ok=True)
        with open(os.path.join(keep, tag + ".mlir"), "w") as f:
            f.write(out)
    return out


def bf16(x):
    """x rounded to bf16 (nearest even), as float64."""
    return simt.round_bf16(np.asarray(x, dtype=np.float32)).astype(np.float64)


def _perturbed(ref):
    """A wrong answer near ref: two slices along the last non-trivial axis
    swapped (or, failing that, one element moved)."""
    wrong = np.array(ref, copy=True)
    for axis in reversed(range(wrong.ndim)):
        if wrong.shape[axis] >= 2:
            a = np.take(wrong, 0, axis=axis).copy()
            b = np.take(wrong, 1, axis=axis).copy()
            if not np.array_equal(a, b):
                idx0 = [slice(None)] * wrong.ndim
                idx1 = [slice(None)] * wrong.ndim
                idx0[axis], idx1[axis] = 0, 1
                wrong[tuple(idx0)], wrong[tuple(idx1)] = b, a
                return wrong
    if wrong.size:
        flat = wrong.reshape(-1)
        flat[0] = flat[0] + 1 + abs(flat[0])
    return wrong


class Checker:
    def __init__(self):
        self.count = 0
        self.failures = 0

    def _report(self, ok, msg):
        self.count += 1
        if not ok:
            self.failures += 1
        print(("ok: " if ok else "FAIL: ") + msg, flush=True)
        return ok

    @staticmethod
    def error(got, ref):
        """max |got - ref| relative to max |ref| (NaN/inf: infinite)."""
        got = np.asarray(got, dtype=np.float64)
        ref = np.asarray(ref, dtype=np.float64)
        if got.shape != ref.shape:
            return np.inf
        if got.size == 0:
            return 0.0
        if not np.isfinite(got).all():
            return np.inf
        scale = max(np.abs(ref).max(), 1e-30)
        return float(np.abs(got - ref).max() / scale)

    def close(self, name, got, ref, tol):
        """got within tol of ref (relative to ref's largest magnitude), and
        a wrong answer (ref with two columns swapped) outside it."""
        err = self.error(got, ref)
        ok = err <= tol
        msg = "%s: max error %.2e relative to max |ref| %.3g (tolerance %.0e)" % (
            name, err, np.abs(np.asarray(ref)).max() if np.size(ref) else 0.0, tol)
        if np.size(ref) >= 2:
            wrong_err = self.error(got, _perturbed(ref))
            if wrong_err <= tol:
                ok = False
                msg += "; a wrong reference also passes (error %.2e): the check cannot fail" % wrong_err
        return self._report(ok, msg)

    def equal(self, name, got, ref):
        """Exact equality (ints), and a perturbed ref rejected."""
        got, ref = np.asarray(got), np.asarray(ref)
        ok = got.shape == ref.shape and np.array_equal(got, ref)
        msg = "%s: %s" % (name, "identical" if ok else "differs: got %s, expected %s" % (got.tolist(), ref.tolist()))
        if ref.size >= 2 and np.array_equal(got, _perturbed(ref)):
            ok = False
            msg += "; a wrong reference also passes"
        return self._report(ok, msg)

    def expect(self, name, cond, detail=""):
        return self._report(bool(cond), name + (": " + detail if detail else ""))

    def raises(self, name, fn, *fragments):
        """fn() raises an EmulatorError whose message has all fragments."""
        try:
            fn()
        except simt.EmulatorError as e:
            msg = str(e)
            missing = [f for f in fragments if f not in msg]
            return self._report(not missing, "%s: raised '%s'%s" % (
                name, msg, "" if not missing else " (missing %s)" % missing))
        return self._report(False, name + ": no error raised")

    def finish(self):
        if self.failures:
            print("FAIL: %d of %d checks" % (self.failures, self.count))
            sys.exit(1)
        print("PASS: %d checks" % self.count)


def run(module, func, *args):
    """Runs func on fresh copies of the arrays; returns (outputs, stats of
    this run)."""
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    module.reset_stats()
    results = module.run(func, *copies)
    return copies, results, module.stats

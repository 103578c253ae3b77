"""``ndconv check``: a randomized battery of self-checks.

Every case draws random shapes (kernels sometimes wider than the input, the
two inputs sometimes of equal shape so that wrap and "same" are commutative),
a random legal origin and, now and then, a subset of axes or a non-zero cval,
for one combination of ndim x mode x boundary x dtype x method x workers.  It
then checks

* commutativity (:func:`ndconv.check_commutativity`; a case that is not
  commutative by definition is counted as such, not as a failure), and
* agreement of ``convolve`` and ``correlate`` with scipy (the comparison of
  :func:`ndconv.compare_with_scipy`, untimed), when scipy is installed.
"""
import itertools
import sys
import time

import numpy as np

from .._plan.validation import BOUNDARIES, MODES
from . import verify as _verify
from .progress import Progress

NDIMS_FULL = (1, 2, 3, 4)
NDIMS_QUICK = (1, 2, 3)
DTYPES = ("float32", "float64", "complex64", "complex128")
METHODS = ("direct", "fft", "auto")
WORKERS = (1, 2)
ROUNDS_FULL = 4        # random cases per combination without --quick
# (max input length, max kernel length) per axis, by ndim: a few thousand outputs per case
SIZES = {1: (64, 17), 2: (20, 7), 3: (9, 4), 4: (5, 3)}


def _random_array(rng, shape, dtype):
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def make_case(rng, ndim, mode, boundary, dtype, method, workers):
    """Inputs and keywords of one random case."""
    n_max, k_max = SIZES[ndim]
    x_shape = tuple(int(v) for v in rng.integers(1, n_max + 1, ndim))
    if rng.random() < 0.3:
        k_shape = x_shape                                   # equal sizes: wrap/same commute
    else:
        k_shape = tuple(int(v) for v in rng.integers(1, k_max + 1, ndim))
    if mode == "valid" and not all(k <= n for k, n in zip(k_shape, x_shape)):
        if rng.random() < 0.5:
            k_shape = tuple(min(k, n) for k, n in zip(k_shape, x_shape))
        else:                                               # the kernel covers the input
            k_shape = tuple(max(k, n) for k, n in zip(k_shape, x_shape))
    x = _random_array(rng, x_shape, dtype)
    k = _random_array(rng, k_shape, dtype)
    cval = 0.0
    if boundary == "constant" and rng.random() < 0.5:
        cval = round(float(rng.standard_normal()), 3)
    kw = dict(boundary=boundary, cval=cval, method=method, workers=workers)
    # a subset of axes for the scipy comparison (the kernel loses the other axes)
    k_axes = k
    if ndim >= 2 and rng.random() < 0.25:
        axes = tuple(sorted(rng.choice(ndim, size=int(rng.integers(1, ndim)), replace=False).tolist()))
        k_axes = k[tuple(slice(None) if a in axes else 0 for a in range(ndim))]
        kw["axes"] = axes
    if mode == "same" and rng.random() < 0.5:
        kw["origin"] = [int(rng.integers(-(kk // 2), (kk - 1) // 2 + 1)) for kk in k_axes.shape]
    return x, k, k_axes, kw


def grid(quick, seed):
    """The combinations to run, shuffled: every combination once with ndim 1-3
    (``quick``), else ``ROUNDS_FULL`` times with ndim 1-4."""
    combos = list(itertools.product(NDIMS_QUICK if quick else NDIMS_FULL, MODES, BOUNDARIES,
                                    DTYPES, METHODS, WORKERS))
    combos *= 1 if quick else ROUNDS_FULL
    order = np.random.default_rng(seed).permutation(len(combos))
    return [combos[i] for i in order]


def _scipy_available():
    try:
        _verify._import_scipy()
    except ImportError:
        return False
    return True


def _tally(row, kind, result):
    """Count one check of ``kind`` ("comm" or "scipy") in ``row``; returns whether it passed."""
    row[kind + "_checked"] += 1
    row["worst"] = max(row["worst"], result.error_to_tolerance)
    row[kind + "_ok"] += bool(result.passed)
    return bool(result.passed)


def run(quick=False, seed=0, progress=None, stream=None):
    """Run the battery; returns ``(rows, failures, scipy_checked)``.

    ``rows`` maps ``(mode, boundary)`` to counters; ``failures`` lists one
    line per failed check.
    """
    stream = sys.stdout if stream is None else stream
    cases = grid(quick, seed)
    with_scipy = _scipy_available()
    bar = Progress(len(cases), enabled=progress)
    rows = {(m, b): dict(cases=0, comm_ok=0, comm_checked=0, comm_undefined=0, scipy_ok=0,
                         scipy_checked=0, worst=0.0) for m in MODES for b in BOUNDARIES}
    failures = []
    rng = np.random.default_rng(seed + 1)
    for ndim, mode, boundary, dtype, method, workers in cases:
        x, k, k_axes, kw = make_case(rng, ndim, mode, boundary, dtype, method, workers)
        label = "ndim=%d mode=%s boundary=%s dtype=%s method=%s workers=%d" % (
            ndim, mode, boundary, dtype, method, workers)
        row = rows[mode, boundary]
        row["cases"] += 1
        try:
            c = _verify.check_commutativity(x, k, mode, boundary, cval=kw["cval"], method=method)
        except Exception as exc:  # a crash is a failure to report, not to hide
            failures.append("%s: check_commutativity raised %s: %s" % (label, type(exc).__name__, exc))
        else:
            if c.commutative_by_definition:
                if not _tally(row, "comm", c):
                    failures.append("%s shapes %s, %s: f*g != g*f, max abs error %.3g (%.3g x "
                                    "the tolerance)" % (label, x.shape, k.shape, c.max_abs_error,
                                                        c.error_to_tolerance))
            else:
                row["comm_undefined"] += 1
        if with_scipy:
            for op in ("convolve", "correlate"):
                try:
                    r = _verify.compare(op, (x, k_axes, mode), kw, timed=False)
                except Exception as exc:
                    failures.append("%s: %s vs scipy raised %s: %s" % (label, op, type(exc).__name__, exc))
                    continue
                if not _tally(row, "scipy", r):
                    failures.append("%s x %s k %s %s: %s disagrees with %s, max abs error %.3g "
                                    "at %s (%.3g x the tolerance)"
                                    % (label, x.shape, k_axes.shape, kw, op, r.scipy_function,
                                       r.max_abs_error, r.where_abs, r.error_to_tolerance))
        bar.step(label)
    bar.close()
    return rows, failures, with_scipy


def format_table(rows, with_scipy):
    head = ["mode", "boundary", "cases", "commutative", "not by definition", "scipy agrees",
            "worst error/tol"]
    lines = []
    for (mode, boundary), r in rows.items():
        if not r["cases"]:
            continue
        lines.append([mode, boundary, str(r["cases"]),
                      "%d/%d" % (r["comm_ok"], r["comm_checked"]), str(r["comm_undefined"]),
                      "%d/%d" % (r["scipy_ok"], r["scipy_checked"]) if with_scipy else "-",
                      "%.2g" % r["worst"]])
    return render(head, lines)


def render(head, lines):
    """A plain-text table, numbers right-aligned."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(head)]

    def fmt(cells):
        out = []
        for i, c in enumerate(cells):
            right = i > 0 and any(ch.isdigit() for ch in c[:1] + c[-1:])
            out.append(c.rjust(widths[i]) if right else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(head), rule] + [fmt(line) for line in lines])


def main(quick=False, seed=0, progress=None, stream=None):
    """Run, print the table and failures; returns the exit status (1 on any failure)."""
    stream = sys.stdout if stream is None else stream
    t0 = time.perf_counter()
    rows, failures, with_scipy = run(quick, seed, progress)
    n = sum(r["cases"] for r in rows.values())
    print("ndconv check%s: %d random cases (seed %d), ndim x mode x boundary x dtype x method x "
          "workers" % (" --quick" if quick else "", n, seed), file=stream)
    print(format_table(rows, with_scipy), file=stream)
    if not with_scipy:
        print("scipy is not installed: agreement with scipy was not checked "
              "(pip install scipy)", file=stream)
    if failures:
        print("\n%d FAILED checks:" % len(failures), file=stream)
        for line in failures[:25]:
            print("  " + line, file=stream)
        if len(failures) > 25:
            print("  ... and %d more" % (len(failures) - 25), file=stream)
    print("%s in %.1f s" % ("FAILED" if failures else "all checks passed",
                            time.perf_counter() - t0), file=stream)
    return 1 if failures else 0

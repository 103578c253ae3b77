"""Refit the cost model of ``method="auto"`` on this machine.

Times ndconv's direct and FFT paths on a set of problems (one thread, medians),
fits the constants of ``ndconv/_plan/method.py``'s model by non-negative least
squares, and writes them to ``ndconv/_plan/cost_model.json`` (or prints them with
``--dry-run``): the direct constants of the kernel build this process runs
(``NDCONV_SIMD`` picks it) for this CPU model (``"avx512@AuthenticAMD 25 17"``;
with ``--generic``, the build's own, used on CPUs without an entry of their
own), and the FFT constants unless ``--direct-only``.
Run it on a quiet machine, once per build the CPU can run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/calibrate_auto.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE NDCONV_SIMD=baseline \
        python benchmarks/calibrate_auto.py --direct-only

Takes about three minutes (one for ``--direct-only``).
"""
import argparse
import functools
import json
import math
import os
import time

import numpy as np
from scipy.optimize import nnls

import ndconv
from ndconv._plan import fft as _fft
from ndconv._plan import method as _method
from ndconv._tools import timing as _timing

DIRECT_CASES = [
    ((64,), (3,)), ((32, 32), (3, 3)), ((8, 8, 8), (3, 3, 3)),
    ((1 << 18,), (3,)), ((1 << 18,), (15,)), ((1 << 18,), (63,)), ((1 << 16,), (255,)),
    ((1 << 18,), (511,)), ((4096, 256), (1, 127)),
    ((512, 512), (3, 3)), ((512, 512), (5, 5)), ((512, 512), (9, 9)), ((512, 512), (15, 15)),
    ((1024, 64), (5, 5)), ((64, 1024), (7, 3)), ((2048, 16), (3, 3)),
    ((64, 64, 64), (3, 3, 3)), ((64, 64, 64), (5, 5, 5)), ((32, 32, 32), (7, 7, 7)),
    ((20, 20, 20, 20), (3, 3, 3, 3)), ((128, 128, 128), (5, 5, 5)), ((4096, 50), (5, 5)),
    ((16, 16, 16, 16, 16), (3, 3, 3, 3, 3)),
    ((1024, 1024), (7, 7)), ((2048, 256), (4, 4)), ((256, 1024), (6, 1)), ((1024, 512), (11, 11)),
    ((1024, 1024), (3, 3)), ((1024, 1024), (2, 5)), ((128, 4096), (5, 3)), ((1024, 1024), (3, 1)),
]
FFT_CASES = [
    ((64,), (9,)), ((32, 32), (5, 5)), ((8, 8, 8), (3, 3, 3)),
    ((1 << 16,), (255,)), ((1 << 18,), (1025,)), ((1 << 20,), (4097,)), ((1 << 20,), (1 << 15,)),
    ((256, 256), (31, 31)), ((512, 512), (63, 63)), ((1024, 1024), (33, 33)),
    ((64, 64, 64), (9, 9, 9)), ((128, 128, 128), (7, 7, 7)),
]
DTYPES = ["float32", "float64", "complex64", "complex128"]


def median_time(fn, budget=0.3, reps_max=25):
    """Median seconds per call (ndconv's shared timer, after one warm-up call)."""
    return _timing.median_time(fn, budget, 3, reps_max)[0]


def data(shape, dtype, rng):
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def fft_features(out_shape, w_shape, dtype):
    """[1, sum size*log2(size) (cache-weighted), sum size] over the plan's transforms."""
    _, b, L, B, nb, sizes = _fft.plan(out_shape, w_shape, dtype)
    axes = [a for a in range(len(w_shape)) if w_shape[a] > 1]
    other = math.prod(sizes[a] for a in axes if a != b)
    batch = math.prod(out_shape[a] for a in range(len(out_shape)) if a not in axes)
    size = L * other
    count = 2 * nb * batch + 1
    lf = _fft.FFT_LARGE_FACTOR if _fft.is_large(size, dtype) else 1.0
    return [1.0, count * size * math.log2(size) * lf, count * size]


def fit(rows, times):
    A = np.asarray(rows, dtype=np.float64)
    t = np.asarray(times)
    # relative least squares: every case weighs the same whatever its size
    coef, _ = nnls(A / t[:, None], np.ones_like(t))
    pred = A @ coef
    return coef, float(np.max(np.maximum(pred / t, t / pred)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="print the model, do not write it")
    ap.add_argument("--direct-only", action="store_true",
                    help="refit the direct constants of this build only, keep the FFT ones")
    ap.add_argument("--generic", action="store_true",
                    help="write the build's constants for every CPU without its own entry, "
                         "not this CPU model's")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    model = json.loads(json.dumps(_method.MODEL))
    build = _method.build_name()
    today = time.strftime("%Y-%m-%d")
    cpu = _method.cpu_model()
    entry = build if args.generic or cpu is None else build + "@" + cpu
    print("kernel build:", build, "; writing", entry)
    constants = model["direct"].setdefault(entry, {})
    constants["_calibrated"] = today
    for dt in DTYPES:
        rows, times = [], []
        for xs, ks in DIRECT_CASES:
            if np.dtype(dt).kind == "c" and math.prod(xs) * math.prod(ks) > 2e7:
                continue
            x, k = data(xs, dt, rng), data(ks, dt, rng)
            t = median_time(functools.partial(ndconv.correlate, x, k, "same", method="direct", workers=1))
            rows.append(_method.direct_features(x.shape, k.shape, dt, 1))
            times.append(t)
        (call, per_tap, per_setup, per_row_tap, per_merged, per_roll, per_roll_shift,
         per_roll_out, per_tap_single), worst = fit(rows, times)
        x, k = data((1024, 1024), dt, rng), data((7, 7), dt, rng)
        t1 = median_time(functools.partial(ndconv.correlate, x, k, "same", method="direct", workers=1))
        t2 = median_time(functools.partial(ndconv.correlate, x, k, "same", method="direct", workers=2))
        eff = min(1.0, t1 / t2 / 2)
        constants[dt] = {"call": call, "per_tap": per_tap, "per_setup": per_setup,
                         "per_row_tap": per_row_tap, "per_merged": per_merged,
                         "per_roll": per_roll, "per_roll_shift": per_roll_shift,
                         "per_roll_out": per_roll_out, "per_tap_single": per_tap_single,
                         "thread_eff": round(eff, 3)}
        print("direct %-10s call %.2e s, %.2f Gtap/s, setup %.1f ns, row-tap %.3f ns, merged %.2f G/s, "
              "rolling %.2f G/s, one-row %.2f G/s, 2-thread eff %.2f, worst fit x%.2f"
              % (dt, call, 1e-9 / max(per_tap, 1e-30), per_setup * 1e9, per_row_tap * 1e9,
                 1e-9 / max(per_merged, 1e-30), 1e-9 / max(per_roll, 1e-30),
                 1e-9 / max(per_tap + per_tap_single, 1e-30), eff, worst))
    if not args.direct_only:
        fit_fft(model, rng, today)
    text = json.dumps(model, indent=2)
    if args.dry_run:
        print(text)
        return 0
    path = os.path.join(os.path.dirname(_method.__file__), "cost_model.json")
    with open(path, "w") as f:
        f.write(text + "\n")
    print("wrote", path)
    return 0


def fit_fft(model, rng, today):
    """Refit ``model["fft"]`` from FFT timings of every dtype."""
    per_log = {}
    for dt in DTYPES:
        rows, times = [], []
        for xs, ks in FFT_CASES:
            x, k = data(xs, dt, rng), data(ks, dt, rng)
            t = median_time(functools.partial(ndconv.correlate, x, k, "same", method="fft", workers=1))
            out_shape = x.shape
            rows.append(fft_features(out_shape, k.shape, dt))
            times.append(t)
        (call, a, b), worst = fit(rows, times)
        per_log[dt] = (call, a, b)
        print("fft    %-10s call %.2e s, %.3f ns/(sample*log2), %.2f ns/sample, worst fit x%.2f"
              % (dt, call, a * 1e9, b * 1e9, worst))
    call, a32, b32 = per_log["float32"]
    model["fft"].update({"per_sample_log2": a32, "per_sample": b32, "call": call,
                         "dtype_factor": {dt: (per_log[dt][1] / a32 if a32 else 1.0) for dt in DTYPES}})
    model["fft"]["_calibrated"] = today


if __name__ == "__main__":
    raise SystemExit(main())

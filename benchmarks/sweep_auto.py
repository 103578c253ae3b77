"""How close ``method="auto"`` comes to the best of ndconv's own methods.

Times ``ndconv.convolve(x, k, "same", method=m)`` for m in "direct", "fft" and
"auto" over a size x kernel sweep:

* 1-D: n = 10^3 ... 10^7, k = 3 ... 10^5 (k <= n)
* 2-D: n x n for n = 128 ... 4096, k x k for k = 3 ... 63
* 3-D: n^3 for n = 32 ... 256, k^3 for k = 3 ... 15

For each case it records the fastest own method, auto's choice and auto's time
divided by the fastest method's; the summary is the share of cases within
1.15x and the worst ratio (target: >= 95 % within 1.15x, none above 1.5x).
The three methods are timed in interleaved rounds (order shuffled and rotated each round,
each timed call after an untimed one of the same method), so drifting machine
load and cache state hit them alike.  A direct run longer than ``--limit`` seconds (estimated from
the fastest multiply-add rate measured so far in the same dimension) is not
run: its estimate stands in, and the case is marked ``estimated``.

    python benchmarks/sweep_auto.py --quick                 # a couple of minutes
    python benchmarks/sweep_auto.py --json sweep.json       # the full sweep, ~20 minutes

Run it on an otherwise idle machine, one thread unless ``--workers`` says otherwise.
"""
import argparse
import functools
import json
import os
import sys
import time

import numpy as np

try:
    import ndconv
except ImportError:  # run from a source checkout with an in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import ndconv
from ndconv._tools import bench as _bench  # noqa: E402
from ndconv._tools import timing as _timing  # noqa: E402

METHODS = ("direct", "fft", "auto")

GRIDS = {
    "full": {
        1: ([10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6, 10 ** 7],
            [3, 10, 32, 100, 316, 1000, 3162, 10000, 31623, 100000]),
        2: ([128, 256, 512, 1024, 2048, 4096], [3, 5, 7, 9, 11, 15, 21, 31, 45, 63]),
        3: ([32, 64, 128, 256], [3, 5, 7, 9, 11, 13, 15]),
    },
    "quick": {
        1: ([10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6], [3, 32, 316, 3162, 31623]),
        2: ([128, 512, 1024], [3, 7, 15, 31, 63]),
        3: ([32, 64], [3, 7, 15]),
    },
    "tiny": {  # for the tests: seconds
        1: ([1000], [3, 101]),
        2: ([48], [3, 9]),
        3: ([12], [3]),
    },
}
# (seconds of timed calls per method, min rounds, max rounds, direct-time limit in seconds)
SETTINGS = {"full": (0.4, 3, 15, 3.0), "quick": (0.15, 5, 15, 0.3), "tiny": (0.0, 1, 1, 3.0)}

WITHIN = 1.15   # the target: auto within 1.15x of the best method ...
SHARE = 0.95    # ... in at least 95 % of the cases,
WORST = 1.5     # and never worse than 1.5x.


def cases(size, dims=(1, 2, 3)):
    """``(ndim, n, k)`` in the order they are run: per dimension, by kernel then signal size."""
    out = []
    for nd in dims:
        ns, ks = GRIDS[size][nd]
        for k in ks:
            for n in ns:
                if k <= n:
                    out.append((nd, n, k))
    return out


def auto_choice(x, k, workers):
    """The method ``auto`` picks for this call (ndconv's cost model), or None if
    this version of ndconv does not expose it."""
    try:
        from ndconv import _core as _dispatch
        from ndconv._plan import method as _method
        from ndconv._plan.validation import resolve_workers
        n_threads = resolve_workers(workers, _dispatch.omp_max_threads(), _dispatch.omp_num_procs())
        return _method.choose(x, k, x.shape, n_threads, 0.0)[0]
    except Exception:  # noqa: BLE001 - private API; the sweep still measures without it
        return None


def time_interleaved(fns, budget, min_rounds, max_rounds):
    """Median seconds of each callable of the dict ``fns``, and the rounds:
    ``timing.interleaved``, each timed call of one under 0.2 s preceded by an
    untimed one of the same method (right after another method's call, which a
    long direct run ends with the caches flushed, a call ran up to ~20 % slower,
    which would bias whichever method tends to come next)."""
    names = list(fns)
    timed = _timing.interleaved([fns[n] for n in names], budget, min_rounds, max_rounds,
                                rewarm_below=0.2)
    return {n: t[0] for n, t in zip(names, timed)}, timed[0][4]


def run(size="quick", dims=(1, 2, 3), dtype="float32", boundary="reflect", workers=1, limit=None,
        out=None, seed=0):
    """Run the sweep; returns ``{"meta", "cases", "summary"}``.  ``out`` (a stream)
    gets one line per case as it finishes."""
    budget, min_rounds, max_rounds, default_limit = SETTINGS[size]
    limit = default_limit if limit is None else float(limit)
    rng = np.random.default_rng(seed)
    best_rate = {}  # ndim -> fastest seconds per multiply-add seen for direct
    rows = []
    todo = cases(size, dims)
    if out is not None:
        print("%-3s %9s %7s %8s %9s %9s %9s %7s %6s %s" % ("dim", "n", "k", "auto->", "direct s", "fft s",
                                                           "auto s", "best", "ratio", ""), file=out)
    for i, (nd, n, k) in enumerate(todo):
        x = rng.standard_normal((n,) * nd).astype(dtype)
        w = rng.standard_normal((k,) * nd).astype(dtype)
        macs = float(x.size) * w.size
        choice = auto_choice(x, w, workers)
        est = macs * best_rate[nd] if nd in best_rate else None
        skip_direct = est is not None and est > limit

        def call(m, x=x, w=w):
            return functools.partial(ndconv.convolve, x, w, "same", boundary=boundary, method=m,
                                     workers=workers)
        fns = {"fft": call("fft")}
        if not skip_direct:
            fns["direct"] = call("direct")
        if not (skip_direct and choice == "direct"):
            fns["auto"] = call("auto")
        t, rounds = time_interleaved(fns, budget, min_rounds, max_rounds)
        estimated = []
        if skip_direct:
            t["direct"] = est
            estimated.append("direct")
            if "auto" not in t:
                t["auto"] = est
                estimated.append("auto")
        else:
            rate = t["direct"] / macs
            best_rate[nd] = min(best_rate.get(nd, rate), rate)
        best = min(("direct", "fft"), key=lambda m: t[m])
        ratio = t["auto"] / t[best]
        row = {"ndim": nd, "n": n, "k": k, "shape": [n] * nd, "kshape": [k] * nd,
               "times": {m: t[m] for m in METHODS}, "estimated": estimated, "rounds": rounds,
               "auto_choice": choice, "best": best, "ratio": ratio}
        rows.append(row)
        if out is not None:
            print("%-3d %9d %7d %8s %9.4g %9.4g %9.4g %7s %6.2f %s"
                  % (nd, n, k, choice or "?", t["direct"], t["fft"], t["auto"], best, ratio,
                     ("(estimated: %s)" % ", ".join(estimated)) if estimated else ""), file=out)
            out.flush()
        print("\rsweep %d/%d" % (i + 1, len(todo)), end="", file=sys.stderr) if sys.stderr.isatty() else None
    if sys.stderr.isatty():
        print("\r" + " " * 20 + "\r", end="", file=sys.stderr)
    meta = _bench.machine_info(size=size, dims=list(dims), dtype=dtype, boundary=boundary, workers=workers,
                               direct_limit_s=limit, seed=seed)
    return {"meta": meta, "cases": rows, "summary": summarize(rows)}


def summarize(rows):
    """Share of cases with auto within 1.15x of the best own method, the worst
    ratio, and whether the target (WITHIN, SHARE, WORST) holds."""
    if not rows:
        return {"cases": 0}
    ratios = [r["ratio"] for r in rows]
    worst = max(rows, key=lambda r: r["ratio"])
    within = sum(q <= WITHIN for q in ratios) / len(ratios)
    by_dim = {}
    for nd in sorted({r["ndim"] for r in rows}):
        q = [r["ratio"] for r in rows if r["ndim"] == nd]
        by_dim[str(nd)] = {"cases": len(q), "within": sum(v <= WITHIN for v in q) / len(q), "worst": max(q)}
    return {"cases": len(rows), "within_%.2f" % WITHIN: within, "worst_ratio": worst["ratio"],
            "worst_case": {kk: worst[kk] for kk in ("ndim", "n", "k", "auto_choice", "best", "times")},
            "estimated_cases": sum(bool(r["estimated"]) for r in rows),
            "by_ndim": by_dim, "target_met": within >= SHARE and worst["ratio"] <= WORST}


def format_summary(summary):
    if not summary.get("cases"):
        return "no cases"
    s = summary
    wc = s["worst_case"]
    lines = ["%d cases: auto within %.2fx of the best own method in %.1f %% (target >= %.0f %%); "
             "worst %.2fx (target <= %.1fx) at %d-D n=%d k=%d (auto chose %s, best %s)"
             % (s["cases"], WITHIN, 100 * s["within_%.2f" % WITHIN], 100 * SHARE, s["worst_ratio"], WORST,
                wc["ndim"], wc["n"], wc["k"], wc["auto_choice"], wc["best"])]
    for nd, d in s["by_ndim"].items():
        lines.append("  %s-D: %d cases, %.1f %% within, worst %.2fx"
                     % (nd, d["cases"], 100 * d["within"], d["worst"]))
    if s["estimated_cases"]:
        lines.append("  %d case(s) use an estimated direct time (longer than the limit)"
                     % s["estimated_cases"])
    lines.append("target %s" % ("met" if s["target_met"] else "NOT met"))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="a smaller grid and fewer repeats (a couple of minutes)")
    ap.add_argument("--size", choices=sorted(GRIDS), default=None, help="grid: full (default), quick, tiny")
    ap.add_argument("--dims", default="1,2,3", help="comma-separated dimensions to sweep (default 1,2,3)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--boundary", default="reflect", help="boundary for every case (default reflect)")
    ap.add_argument("--workers", type=int, default=1, help="threads (default 1)")
    ap.add_argument("--limit", type=float, default=None,
                    help="skip direct runs estimated longer than this many seconds (default 3; quick 0.3)")
    ap.add_argument("--json", default=None, metavar="PATH", help="write cases and summary as JSON")
    args = ap.parse_args(argv)
    size = args.size or ("quick" if args.quick else "full")
    dims = tuple(int(d) for d in args.dims.split(",") if d.strip())
    if not dims or any(d not in (1, 2, 3) for d in dims):
        ap.error("--dims takes 1, 2 and/or 3")
    t0 = time.perf_counter()
    res = run(size, dims, args.dtype, args.boundary, args.workers, args.limit, out=sys.stdout)
    res["meta"]["wall_s"] = time.perf_counter() - t0
    res["meta"]["command"] = "python benchmarks/sweep_auto.py " + " ".join(argv if argv is not None
                                                                          else sys.argv[1:])
    print()
    print(format_summary(res["summary"]))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

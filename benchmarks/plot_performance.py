"""Measure and draw the figures and the table of the docs' Performance page.

Two steps, so the docs build never benchmarks:

1. measure (the default): time ndconv and every installed peer library
   (scipy.signal, scipy.ndimage, numpy, OpenCV, torch; one thread) against
   kernel size and against signal size, run ``ndconv bench`` (W1-W9 at 1 and 2
   threads) and ``benchmarks/sweep_auto.py`` (auto's choices), and store all of
   it in ``docs/_static/perf/perf.json``.  ``--bench`` / ``--sweep`` reuse JSON
   files those tools wrote instead of running them again.
2. draw: the PNGs, the W1-W9 table (``workloads.csv``) and the provenance
   notes (``*.inc``) next to the JSON.  ``--replot`` does only this step, from
   the stored JSON.

    python benchmarks/plot_performance.py                 # full: about 30 minutes, idle machine
    python benchmarks/plot_performance.py --size quick    # a few minutes, preliminary figures
    python benchmarks/plot_performance.py --replot        # redraw from docs/_static/perf/perf.json
"""
import argparse
import csv
import importlib.util
import io
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if importlib.util.find_spec("ndconv") is None:  # run from a source checkout with an in-place build
    sys.path.insert(0, ROOT)
from ndconv._tools import bench as _bench  # noqa: E402

sys.path.insert(0, HERE)
import sweep_auto  # noqa: E402

DEFAULT_OUT = os.path.join(ROOT, "docs", "_static", "perf")

# (2-D image side, kernel sides) against kernel size; (1-D sizes, 2-D sides) against signal size
CURVES = {
    "full": {"kernel": (1024, [3, 5, 7, 9, 11, 15, 21, 31]),
             "signal_1d": ([10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6, 10 ** 7], 31),
             "signal_2d": ([128, 256, 512, 1024, 2048, 4096], 7)},
    "quick": {"kernel": (512, [3, 5, 7, 11, 15, 21, 31]),
              "signal_1d": ([10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6], 31),
              "signal_2d": ([128, 256, 512, 1024], 7)},
    "tiny": {"kernel": (40, [3, 5]), "signal_1d": ([500, 2000], 7), "signal_2d": ([24, 48], 3)},
}
# budget per call (s), min reps, max reps, largest multiply-add count of a slow direct peer
TIMING = {"full": (0.3, 3, 11, 2e9), "quick": (0.05, 3, 5, 2e8), "tiny": (0.0, 1, 1, math.inf)}
COLORS = {"ndconv": "black", "scipy.signal": "tab:blue", "scipy.ndimage": "tab:cyan", "numpy": "tab:green",
          "OpenCV": "tab:red", "torch": "tab:orange"}
METHOD_COLORS = {"direct": "tab:blue", "fft": "tab:orange", "separable": "tab:green", None: "0.6"}


# ----------------------------------------------------------------------------- measure
def _point(x, k, boundary, size, rng_note=""):
    """Times of ndconv and of each library's fastest agreeing call for one problem."""
    budget, min_reps, max_reps, max_macs = TIMING[size]
    calls = [_bench.ndconv_call(x, k, boundary)] + _bench.peers(x, k, boundary)
    res = {}
    with _bench.thread_settings(1):
        timed = _bench.time_calls(calls, 1, x.dtype, budget, min_reps, max_reps, max_macs=max_macs)
        for c, r in zip(calls, timed):
            if r["status"] != "ok":
                continue
            best = res.get(c.lib)
            if best is None or r["median_s"] < best["s"]:
                res[c.lib] = {"s": r["median_s"], "call": c.name}
    return res


def measure_curves(size, log=sys.stderr):
    rng = np.random.default_rng(0)
    spec = CURVES[size]
    out = {}
    n, ks = spec["kernel"]
    x = rng.standard_normal((n, n), dtype=np.float32)
    pts = []
    for k in ks:
        print("  kernel size %d on %dx%d" % (k, n, n), file=log)
        kk = rng.standard_normal((k, k), dtype=np.float32)
        pts.append({"k": k, "times": _point(x, kk, "reflect", size)})
    out["kernel"] = {"n": n, "boundary": "reflect", "dtype": "float32", "points": pts}
    ns, k = spec["signal_1d"]
    kk = rng.standard_normal(k, dtype=np.float32)
    pts = []
    for n in ns:
        print("  1-D n=%d, %d taps" % (n, k), file=log)
        pts.append({"n": n, "times": _point(rng.standard_normal(n, dtype=np.float32), kk, "constant", size)})
    out["signal_1d"] = {"k": k, "boundary": "constant", "dtype": "float32", "points": pts}
    ns, k = spec["signal_2d"]
    kk = rng.standard_normal((k, k), dtype=np.float32)
    pts = []
    for n in ns:
        print("  2-D %dx%d, %dx%d" % (n, n, k, k), file=log)
        x = rng.standard_normal((n, n), dtype=np.float32)
        pts.append({"n": n, "times": _point(x, kk, "reflect", size)})
    out["signal_2d"] = {"k": k, "boundary": "reflect", "dtype": "float32", "points": pts}
    return out


def measure(size, bench_json=None, sweep_json=None, log=sys.stderr):
    data = {"meta": _bench.machine_info(size=size), "size": size}
    print("curves (%s)" % size, file=log)
    data["curves"] = measure_curves(size, log)
    if bench_json:
        with open(bench_json) as f:
            data["bench"] = json.load(f)
    else:
        print("ndconv bench (%s)" % size, file=log)
        data["bench"] = _bench.run(size=size, threads=(1, 2), progress=False)
        # its load average then counts this run's own curves, not other work
        data["bench_in_process"] = True
    if sweep_json:
        with open(sweep_json) as f:
            data["sweep"] = json.load(f)
    else:
        print("sweep_auto (%s)" % size, file=log)
        data["sweep"] = sweep_auto.run(size=size)
    return data


# ----------------------------------------------------------------------------- draw
def _libs(points):
    seen = []
    for lib in ["ndconv"] + list(_bench.LIBRARIES):
        if any(lib in p["times"] for p in points):
            seen.append(lib)
    return seen


def _curve(ax, points, xkey, title, xlabel):
    for lib in _libs(points):
        xs = [p[xkey] for p in points if lib in p["times"]]
        ys = [p["times"][lib]["s"] * 1e3 for p in points if lib in p["times"]]
        ax.plot(xs, ys, marker="o", ms=3, color=COLORS[lib], lw=2.2 if lib == "ndconv" else 1.2, label=lib)
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullLocator
    xs = sorted({p[xkey] for p in points})
    ax.set_xticks(xs)
    ax.set_xticklabels([_tick(v) for v in xs])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_ylabel("median time (ms)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)


def plot_kernel(curves, path, plt):
    c = curves["kernel"]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), constrained_layout=True)
    _curve(ax, c["points"], "k", "%dx%d float32 image, k x k kernel, reflect boundary, 1 thread"
           % (c["n"], c["n"]), "kernel side k")
    ax.legend(fontsize="small", ncol=2)
    fig.savefig(path, dpi=96)
    plt.close(fig)


def plot_signal(curves, path, plt):
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.6), constrained_layout=True)
    c1, c2 = curves["signal_1d"], curves["signal_2d"]
    _curve(axes[0], c1["points"], "n", "1-D float32, %d taps, zero boundary" % c1["k"], "signal length n")
    _curve(axes[1], c2["points"], "n", "n x n float32, %dx%d, reflect boundary" % (c2["k"], c2["k"]),
           "image side n")
    axes[1].legend(fontsize="small")
    fig.suptitle("time against signal size (1 thread)", fontsize="medium")
    fig.savefig(path, dpi=96)
    plt.close(fig)


def _tick(v):
    e = round(math.log10(v))
    return "$10^{%d}$" % e if v >= 1000 and 10 ** e == v else str(v)


def plot_auto(sweep, path, plt):
    cases = sweep["cases"]
    dims = sorted({c["ndim"] for c in cases})
    fig, axes = plt.subplots(1, len(dims), figsize=(3.4 * len(dims) + 0.6, 3.4), constrained_layout=True,
                             squeeze=False)
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator
    for ax, nd in zip(axes[0], dims):
        cs = [c for c in cases if c["ndim"] == nd]
        for c in cs:
            bad = c["ratio"] > sweep_auto.WITHIN
            ax.scatter([c["n"]], [c["k"]], s=110, marker="s", color=METHOD_COLORS.get(c["best"], "0.6"),
                       alpha=0.35, edgecolors="red" if bad else "none", linewidths=1.5)
            ax.scatter([c["n"]], [c["k"]], s=22, marker="o", color=METHOD_COLORS.get(c["auto_choice"], "0.6"))
            if bad:
                ax.annotate("%.2f" % c["ratio"], (c["n"], c["k"]), fontsize=6, xytext=(4, 4),
                            textcoords="offset points", color="red")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis, key in ((ax.xaxis, "n"), (ax.yaxis, "k")):
            vals = sorted({c[key] for c in cs})
            axis.set_ticks(vals)
            axis.set_ticklabels([_tick(v) for v in vals])
            axis.set_minor_locator(NullLocator())
        ax.margins(0.12)
        ax.set_xlabel("n (signal side)")
        ax.set_ylabel("k (kernel side)")
        ax.set_title("%d-D" % nd)
        ax.grid(True, which="major", alpha=0.3)
    handles = [Line2D([], [], marker="s", ls="", ms=9, alpha=0.35, color=METHOD_COLORS[m],
                      label="fastest: %s" % m)
               for m in ("direct", "fft")]
    handles += [Line2D([], [], marker="o", ls="", ms=5, color=METHOD_COLORS[m], label="auto: %s" % m)
                for m in ("direct", "fft", "separable") if any(c["auto_choice"] == m for c in cases)]
    handles.append(Line2D([], [], marker="s", ls="", ms=9, mfc="none", mec="red",
                          label="auto > %.2fx slower" % sweep_auto.WITHIN))
    axes[0][-1].legend(handles=handles, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.savefig(path, dpi=96)
    plt.close(fig)


def workloads_csv(bench):
    """The W1-W9 table: ndconv's time and its ratio to each library's fastest call."""
    fams, rows = _bench.table_rows(bench, "%.2f", "%s (%.2f)", "--")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Workload", "Boundary", "Threads", "ndconv (ms)"] + ["/ %s" % f for f in fams]
               + ["Fastest peer call (ms)"])
    w.writerows(rows)
    return buf.getvalue()


def provenance(data, command):
    m = data["meta"]
    bm = data["bench"]["meta"]
    vers = ", ".join("%s %s" % kv for kv in bm.get("versions", m.get("versions", {})).items())
    cfg = m.get("ndconv_config", {})
    lines = ["Measured on %s (%s cores, %s) on %s with ndconv %s (SIMD level %s, FFT by %s); %s."
             % (m["cpu"], m["cores"], m["machine"], m["date"], m["ndconv"], cfg.get("simd", "?"),
                cfg.get("fft", "?"), vers),
             "Regenerate with::", "", "    " + command, ""]
    if m.get("openblas_env"):
        lines.append("This run had %s set, which slows numpy's BLAS; better without them::"
                     % ", ".join("``%s=%s``" % kv for kv in m["openblas_env"].items()))
        lines += ["", "    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE " + command, ""]
    # load averages taken before each measurement started (the bench's own is
    # skipped when it ran after the curves in this process: it counts them)
    loads = [v for v in (m.get("load_average_1min"),
                         None if data.get("bench_in_process") else bm.get("load_average_1min"))
             if v is not None]
    if data["size"] != "full" or (loads and max(loads) > 0.5):
        lines += [".. warning::", "",
                  "   Preliminary: these numbers come from a %s run%s.  Regenerate them on an idle machine"
                  " with ``python benchmarks/plot_performance.py`` (full sizes) before relying on them."
                  % (data["size"] + "-size" if data["size"] != "full" else "full-size",
                     (" on a busy machine (load average %.2f)" % max(loads))
                     if loads and max(loads) > 0.5 else ""),
                  ""]
    return "\n".join(lines) + "\n"


def auto_summary(sweep):
    s = sweep["summary"]
    if not s.get("cases"):
        return "No sweep cases.\n"
    within = s["within_%.2f" % sweep_auto.WITHIN]
    lines = ["In this sweep (%d cases, %s grid, %s, boundary %s, %s thread) ``auto`` was within %.2fx of the"
             " faster of ``direct`` and ``fft`` in %.0f %% of the cases (target: at least %.0f %%); the worst"
             " case was %.2fx (target: at most %.1fx)."
             % (s["cases"], sweep["meta"]["size"], sweep["meta"]["dtype"], sweep["meta"]["boundary"],
                sweep["meta"]["workers"], sweep_auto.WITHIN, 100 * within, 100 * sweep_auto.SHARE,
                s["worst_ratio"], sweep_auto.WORST)]
    return "\n".join(lines) + "\n"


def draw(data, outdir, command):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(outdir, exist_ok=True)
    plot_kernel(data["curves"], os.path.join(outdir, "kernel_size.png"), plt)
    plot_signal(data["curves"], os.path.join(outdir, "signal_size.png"), plt)
    plot_auto(data["sweep"], os.path.join(outdir, "auto_choices.png"), plt)
    with open(os.path.join(outdir, "workloads.csv"), "w") as f:
        f.write(workloads_csv(data["bench"]))
    with open(os.path.join(outdir, "provenance.inc"), "w") as f:
        f.write(provenance(data, command))
    with open(os.path.join(outdir, "auto_summary.inc"), "w") as f:
        f.write(auto_summary(data["sweep"]))


def _command_args(argv):
    """The arguments worth recording (not where the files went)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--outdir":
            skip = True
        elif not a.startswith("--outdir="):
            out.append(a)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(CURVES), default="full",
                    help="problem sizes and repeats: full (default), quick, tiny (for tests)")
    ap.add_argument("--bench", metavar="JSON",
                    help="use this `ndconv bench --json` output for the W1-W9 table")
    ap.add_argument("--sweep", metavar="JSON",
                    help="use this `sweep_auto.py --json` output for auto's choices")
    ap.add_argument("--replot", action="store_true", help="only redraw from OUTDIR/perf.json")
    ap.add_argument("--outdir", default=DEFAULT_OUT,
                    help="where the PNGs, CSV and JSON go (default docs/_static/perf)")
    args = ap.parse_args(argv)
    json_path = os.path.join(args.outdir, "perf.json")
    if args.replot:
        with open(json_path) as f:
            data = json.load(f)
    else:
        t0 = time.perf_counter()
        data = measure(args.size, args.bench, args.sweep)
        data["command"] = " ".join(["python benchmarks/plot_performance.py"] + _command_args(
            argv if argv is not None else sys.argv[1:]))
        # a reused JSON came from another tool: record that command too
        for opt, tool in (("sweep", "python benchmarks/sweep_auto.py --json %s"),
                          ("bench", "ndconv bench --json %s")):
            if getattr(args, opt):
                data["command"] = (tool % getattr(args, opt)) + " && " + data["command"]
        data["wall_s"] = time.perf_counter() - t0
        os.makedirs(args.outdir, exist_ok=True)
        with open(json_path, "w") as f:
            json.dump(data, f, indent=1, default=str)
    draw(data, args.outdir, data.get("command", "python benchmarks/plot_performance.py"))
    print("wrote %s and the figures next to it" % json_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measure and draw the "Data with holes" guide page's table and figure.

Two steps, so the docs build never benchmarks and needs no astropy:

1. measure (the default): ndconv's normalized convolution against
   astropy.convolution.convolve(..., nan_treatment="interpolate") on a 2048^2
   float32 image with a 15x15 Gaussian and 10 % NaN, one thread; the medians,
   their ratio, the machine and its load go to ``docs/_static/holes/holes.json``.
2. draw: the table (``timing.csv``), the provenance note (``provenance.inc``)
   and the figure (``holes.png``: a field with gaps, filled by propagate, by
   ``nan_policy="omit"`` and by astropy) next to the JSON.  ``--replot`` does
   only this step (the figure still needs astropy).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 python benchmarks/holes.py
    python benchmarks/holes.py --replot

astropy is a benchmark-only dependency (``pip install astropy``).
"""
import argparse
import csv
import datetime
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if importlib.util.find_spec("ndconv") is None:  # run from a source checkout with an in-place build
    sys.path.insert(0, ROOT)
import ndconv  # noqa: E402
from ndconv._tools.bench.measure import _cpu_model  # noqa: E402

DEFAULT_OUT = os.path.join(ROOT, "docs", "_static", "holes")
SIDE, KSIDE, SIGMA, HOLES = 2048, 15, 2.5, 0.10


def gaussian(side, sigma):
    g = np.exp(-0.5 * ((np.arange(side) - side // 2) / sigma) ** 2)
    k = np.outer(g, g)
    return k / k.sum()


def _median(f, reps):
    """Median wall and CPU seconds of ``f()`` (one thread: the CPU time is the
    wall time less the waits for a busy machine's CPU)."""
    f()   # warm: imports, plans and caches are not what is measured
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        f()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(wall), "cpu_seconds": statistics.median(cpu)}


def _load():
    try:
        return os.getloadavg()[0]
    except OSError:   # pragma: no cover - platforms without it
        return float("nan")


def measure(reps, astropy_reps, side=SIDE, command=""):
    from astropy import __version__ as astropy_version
    from astropy.convolution import convolve as astropy_convolve

    rng = np.random.default_rng(0)
    x = rng.standard_normal((side, side)).astype(np.float32)
    x[rng.random(x.shape) < HOLES] = np.nan
    k = gaussian(KSIDE, SIGMA)
    k32 = k.astype(np.float32)
    rows = []
    load0 = _load()
    for method in ("auto", "direct", "fft"):
        t = _median(lambda m=method: ndconv.convolve(x, k32, "same", nan_policy="omit",
                                                     method=m, workers=1), reps)
        rows.append(dict(t, library="ndconv", call='convolve(x, k, "same", nan_policy="omit", '
                         'method="%s", workers=1)' % method))
    t = _median(lambda: ndconv.convolve(x, k32, "same", workers=1), reps)
    rows.append(dict(t, library="ndconv", call='convolve(x, k, "same", workers=1)  # NaN spreads'))
    t = _median(lambda: astropy_convolve(x, k, boundary="fill", fill_value=0.0,
                                         nan_treatment="interpolate", normalize_kernel=True),
                astropy_reps)
    rows.append(dict(t, library="astropy %s" % astropy_version,
                     call='convolve(x, k, nan_treatment="interpolate")'))
    return {"command": command, "rows": rows, "side": side, "kernel": KSIDE, "sigma": SIGMA, "holes": HOLES,
            "reps": reps, "astropy_reps": astropy_reps, "load": [load0, _load()],
            "cpu": _cpu_model(), "cores": os.cpu_count(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "versions": {"ndconv": ndconv.__version__, "numpy": np.__version__,
                         "astropy": astropy_version, "python": platform.python_version()}}


def _label(row):
    """A row's call, short enough for a table column (the page gives the calls)."""
    call = row["call"]
    if row["library"] != "ndconv":
        return "%s, interpolate" % row["library"]
    if "nan_policy" not in call:
        return "ndconv, propagate (NaN spreads)"
    return "ndconv, omit, " + call[call.index("method="):].split(",")[0]


def write_table(data, outdir):
    ref = data["rows"][-1]
    with open(os.path.join(outdir, "timing.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["call", "median (ms)", "astropy / it", "CPU median (ms)",
                    "astropy / it (CPU)"])
        for r in data["rows"]:
            w.writerow([_label(r), "%.1f" % (1e3 * r["seconds"]),
                        "%.0fx" % (ref["seconds"] / r["seconds"]),
                        "%.1f" % (1e3 * r["cpu_seconds"]),
                        "%.0fx" % (ref["cpu_seconds"] / r["cpu_seconds"])])
    with open(os.path.join(outdir, "provenance.inc"), "w") as f:
        if data["side"] != SIDE:
            f.write("Preliminary (a %d x %d image, not the stated workload).  "
                    % (data["side"], data["side"]))
        f.write("Measured on %s (%d cores) on %s, one thread, load average %.1f to %.1f "
                "(medians of %d calls, %d for astropy); ndconv %s, numpy %s, astropy %s, "
                "Python %s.  Command: ``%s``.\n"
                % (data["cpu"], data["cores"], data["date"], data["load"][0], data["load"][1],
                   data["reps"], data["astropy_reps"], data["versions"]["ndconv"],
                   data["versions"]["numpy"], data["versions"]["astropy"],
                   data["versions"]["python"], data["command"]))


def field_with_gaps(seed=3):
    """The landscape shipped with ndconv, with the gaps of a scanning sensor:
    dead pixels, two dropped scan lines and a cloud."""
    img = ndconv.datasets.image(as_gray=True).astype(np.float64)
    rng = np.random.default_rng(seed)
    h, w = img.shape
    gaps = rng.random(img.shape) < 0.005
    gaps[60:63, :] = True
    gaps[170:172, :] = True
    yy, xx = np.mgrid[0:h, 0:w]
    gaps |= (yy - 110) ** 2 / 30.0 ** 2 + (xx - 260) ** 2 / 45.0 ** 2 < 1
    x = img.copy()
    x[gaps] = np.nan
    return x


def draw(outdir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from astropy.convolution import convolve as astropy_convolve

    x = field_with_gaps()
    k = gaussian(13, 2.0)
    propagate = ndconv.convolve(x, k, "same", boundary="edge")
    omit = ndconv.convolve(x, k, "same", boundary="edge", nan_policy="omit")
    with warnings.catch_warnings():
        # astropy warns that NaN remains where the cloud is wider than the kernel
        warnings.simplefilter("ignore")
        ref = astropy_convolve(x, k, boundary="extend", nan_treatment="interpolate")
    diff = np.nanmax(np.abs(omit - ref))
    cmap = plt.get_cmap("gray").with_extremes(bad="#d62728")
    panels = [(x, "with gaps (NaN, red)"), (propagate, 'nan_policy="propagate" (default)'),
              (omit, 'nan_policy="omit"'), (ref, "astropy, interpolate (max diff %.0e)" % diff)]
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 3.6 * 2 * x.shape[0] / x.shape[1] + 0.5))
    for ax, (img, title) in zip(axes.flat, panels):
        ax.imshow(img, cmap=cmap, vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    path = os.path.join(outdir, "holes.png")
    fig.savefig(path, dpi=96)
    plt.close(fig)
    # grey levels and one red: a palette of 64 keeps the file small for the repository
    from PIL import Image
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(64)
    small.save(path, optimize=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--replot", action="store_true", help="draw from the stored JSON only")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--astropy-reps", type=int, default=3)
    ap.add_argument("--side", type=int, default=SIDE, help="image side (tests use a small one)")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "holes.json")
    if args.replot:
        with open(path) as f:
            data = json.load(f)
    else:
        command = " ".join(["python benchmarks/holes.py"] + list(sys.argv[1:] if argv is None
                                                                  else argv))
        data = measure(args.reps, args.astropy_reps, args.side, command)
        with open(path, "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
    write_table(data, args.out)
    draw(args.out)
    for r in data["rows"]:
        print("%-14s %8.1f ms (CPU %8.1f ms)  %s" % (r["library"], 1e3 * r["seconds"],
                                                     1e3 * r["cpu_seconds"], r["call"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

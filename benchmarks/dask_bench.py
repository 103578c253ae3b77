"""ndconv on dask arrays against one in-memory call (and dask-image).

Times ``"same"``/reflect convolution of a 4096 x 4096 float32 image with 5x5
and 31x31 random kernels: one in-memory ``ndconv.convolve`` call (all
threads), ``ndconv.dask.convolve`` computed by dask's threaded scheduler at
1024^2 and 512^2 chunks, and ``dask_image.ndfilters.convolve`` (scipy.ndimage
per chunk, mode "mirror" = reflect) on the same chunks where it is installed.
Medians of ``--repeat`` runs after one warm-up; the dask results are checked
bitwise against the in-memory one (``method="direct"``) before timing.
Prints a table and one JSON line; the load average is recorded, because
timings on a shared machine are noisy.  Under three minutes on 2 cores::

    python benchmarks/dask_bench.py [--repeat 5] [--quick]
"""
import argparse
import functools
import json
import os
import statistics
import time

import numpy as np

import ndconv
import ndconv.dask


def median_s(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main(argv=None):
    import dask
    import dask.array as da

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="2048^2 and 3 repeats")
    p.add_argument("--method", default="direct", choices=["direct", "auto"])
    args = p.parse_args(argv)
    n = 2048 if args.quick else 4096
    repeat = 3 if args.quick else args.repeat
    try:
        from dask_image import ndfilters
    except ImportError:
        ndfilters = None

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n)).astype(np.float32)
    rows = []
    load_before = os.getloadavg()
    with dask.config.set(scheduler="threads"):
        for ks in (5, 31):
            k = rng.standard_normal((ks, ks)).astype(np.float32)
            kw = dict(boundary="reflect", method=args.method)
            ref = ndconv.convolve(x, k, "same", **kw)
            t_mem = median_s(functools.partial(ndconv.convolve, x, k, "same", **kw), repeat)
            rows.append({"kernel": ks, "chunks": None, "lib": "ndconv in memory",
                         "median_s": t_mem, "ratio": 1.0})
            for c in (1024, 512):
                xd = da.from_array(x, chunks=c)
                lazy = ndconv.dask.convolve(xd, k, "same", **kw)
                res = lazy.compute()
                exact = bool(np.array_equal(res.view(np.uint8), ref.view(np.uint8)))
                t = median_s(lazy.compute, repeat)
                rows.append({"kernel": ks, "chunks": c, "lib": "ndconv.dask threads",
                             "median_s": t, "ratio": t / t_mem, "bitwise": exact,
                             "tasks": len(lazy.__dask_graph__())})
                if ndfilters is not None and ks <= 5:
                    # scipy.ndimage per chunk: slow for 31x31 (minutes), so 5x5 only
                    lazy_di = ndfilters.convolve(xd, k, mode="mirror")
                    t = median_s(lazy_di.compute, max(1, repeat // 2))
                    rows.append({"kernel": ks, "chunks": c, "lib": "dask_image threads",
                                 "median_s": t, "ratio": t / t_mem})
    out = {"n": n, "dtype": "float32", "method": args.method, "cores": os.cpu_count(),
           "load_before": load_before, "load_after": os.getloadavg(), "rows": rows}
    print("%-7s %-7s %-22s %10s %8s" % ("kernel", "chunks", "", "median", "ratio"))
    for r in rows:
        print("%-7s %-7s %-22s %8.1fms %7.2fx %s" % (
            "%dx%d" % (r["kernel"], r["kernel"]), r["chunks"] or "-", r["lib"],
            1e3 * r["median_s"], r["ratio"], "" if "bitwise" not in r else
            ("bitwise" if r["bitwise"] else "NOT BITWISE")))
    print("load average before/after: %s / %s" % (load_before, out["load_after"]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()

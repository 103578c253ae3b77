"""Low-rank kernels under ``method="auto"``: separable passes per term against
the direct sum and FFT.

Times ``ndconv.correlate(x, k, "same", boundary="symmetric")`` of an n x n
float32 image with a difference of Gaussians (sigma 2 and 4, radius 15: 31 x
31, rank 2) for ``method="direct"``, ``"fft"`` and ``"auto"`` (which runs two
sets of 1-D passes where its cost model says so; the method it took is
printed).  The methods are timed in interleaved rounds; medians are printed
with the load average before and after, since timings on a shared machine
are noisy.  The result of each method is checked against a float64 reference
first.  About a minute on 2 cores::

    python benchmarks/lowrank_bench.py [--n 2048] [--repeat 5] [--workers 1,2]
"""
import argparse
import os
import statistics
import time

import numpy as np

import ndconv
from ndconv import kernels
from ndconv._plan import method as _method

METHODS = ("direct", "fft", "auto")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    x = np.random.default_rng(0).standard_normal((args.n, args.n)).astype(np.float32)
    dog = kernels.gaussian(2.0, ndim=2, radius=15) - kernels.gaussian(4.0, ndim=2, radius=15)
    k = dog.astype(np.float32)
    ref = ndconv.correlate(x.astype(np.float64), dog, "same", boundary="symmetric", method="fft")
    print("load before: %.2f %.2f %.2f" % os.getloadavg())
    for workers in [int(w) for w in args.workers.split(",")]:
        chosen = _method.choose(x, k, x.shape, workers)[0]
        times = {m: [] for m in METHODS}
        for r in range(args.repeat + 1):
            for m in METHODS[r % 3:] + METHODS[:r % 3]:
                t0 = time.perf_counter()
                y = ndconv.correlate(x, k, "same", boundary="symmetric", method=m, workers=workers)
                dt = time.perf_counter() - t0
                if r == 0:     # the warm-up round checks the results
                    err = float(np.abs(y - ref).max() / np.abs(ref).max())
                    assert err < 1e-5, (m, err)
                else:
                    times[m].append(dt)
        med = {m: statistics.median(v) * 1e3 for m, v in times.items()}
        print("%dx%d float32, 31x31 DoG (rank 2), workers=%d: " % (args.n, args.n, workers)
              + ", ".join("%s %.1f ms" % (m, med[m]) for m in METHODS)
              + "  (auto took %s)" % chosen)
    print("load after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()

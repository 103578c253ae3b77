"""Threads on a busy and on a quiet machine: the sweep behind ``ndconv._plan.threads``.

For each problem (1-D to 3-D, 16 samples to 2048^2, and two layer calls) it
times the default ``workers`` against ``workers=1``:

* busy: with one spinning process on every CPU but one (started here), the
  default must never be more than 1.2x slower than one thread;
* quiet: without them, the speed-up of the default (every CPU) over one
  thread, which should stay >= 1.8x on 2 CPUs for the large problems.  Only
  on a machine that is really quiet: where other processes run, the default
  rightly adds threads only for idle CPUs (the count of runnable threads is
  printed).
* beside it, the speed-up of the same work cut into one slab per CPU along
  the first axis (each slab with its halo, on an input padded once
  beforehand) and run as that many independent one-thread calls at once, on
  Python threads (the calls release the GIL): what the machine gives to the
  work without any coordination between the threads -- its memory, its
  last-level cache, its host shared, nothing else.  Not a bound: the parts
  make their own choices (a slab's output is smaller, so it may be written
  through the caches where the whole one streams past them), and the call's
  own split came out 0.84-1.20x of it.  (A 5x5 filter of a 2048^2 float32
  image moves 32 MB for 10^8 multiply-adds: on 2 vCPUs of AMD Zen 4, where two
  cores ran register-only FMAs 2.00x as fast as one, the parts at once ran it
  1.33-1.96x as fast as one call, from one run to the next.)

Each time is the median of alternating runs of calls (default, 1 thread, ...)
over about ``--seconds`` per problem and setting.  The machine's load average
is printed first: on a shared machine the quiet column is only as quiet as
the machine.  Runs in 2-4 minutes::

    python benchmarks/busy_machine.py            # the whole sweep
    python benchmarks/busy_machine.py --seconds 0.2 --only 2-D
"""
import argparse
import concurrent.futures
import functools
import multiprocessing as mp
import os
import statistics
import time

import numpy as np

import ndconv
from ndconv._core import SIMD_LEVEL
from ndconv._plan import threads


def _spin():
    while True:
        pass


def slabs(xp, reach, n):
    """``n`` slabs of the padded ``xp`` along its first axis whose "valid"
    results tile the whole result (each with ``reach`` extra rows)."""
    rows = xp.shape[0] - reach
    cuts = [rows * i // n for i in range(n + 1)]
    return [xp[a:b + reach] for a, b in zip(cuts, cuts[1:])]


def problems(cpus):
    """``(group, label, work, call(workers), parts)`` of every problem: ``parts``
    are ``cpus`` one-thread calls that together do the call's work."""
    rng = np.random.default_rng(0)
    out = []

    def corr(shape, kshape, dtype=np.float32):
        x = rng.standard_normal(shape).astype(dtype)
        k = rng.standard_normal(kshape).astype(dtype)
        label = "x".join(map(str, shape)) + " * " + "x".join(map(str, kshape))
        work = x.size * k.size
        xp = np.pad(x, [((n - 1) // 2, n // 2) for n in kshape], mode="reflect")
        parts = [functools.partial(ndconv.correlate, s, k, "valid", method="direct", workers=1)
                 for s in slabs(xp, kshape[0] - 1, cpus)]
        out.append(("%d-D" % len(shape), label, work,
                    lambda w: ndconv.correlate(x, k, "same", boundary="reflect", method="direct",
                                               workers=w), parts))

    for n, k in ((16, 3), (1024, 15), (65536, 31), (1 << 20, 31), (1 << 22, 63)):
        corr((n,), (k,))
    for n, k in ((16, 3), (128, 5), (256, 7), (512, 7), (1024, 5), (2048, 5), (2048, 9)):
        corr((n, n), (k, k))
    for n, k in ((8, 3), (32, 5), (64, 5), (96, 5), (160, 5)):
        corr((n, n, n), (k, k, k))
    for hw, c in ((32, 16), (64, 32), (128, 64)):
        x = rng.standard_normal((1, hw, hw, c)).astype(np.float32)
        w = rng.standard_normal((3, 3, c, c)).astype(np.float32)
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        # direct sums: the slabs start on any row, Winograd's tiles on even ones
        parts = [functools.partial(ndconv.conv, s[None], w, padding="valid", method="direct",
                                   workers=1)
                 for s in slabs(xp[0], 2, cpus)]
        out.append(("layer", "conv %dx%dx%d, 3x3" % (hw, hw, c), x.size * w.size // c,
                    lambda wk, x=x, w=w: ndconv.conv(x, w, padding="same", method="direct",
                                                     workers=wk), parts))
    return out


def at_once(pool, parts):
    """A call running ``parts`` at once, the first on the calling thread."""
    def run():
        rest = [pool.submit(p) for p in parts[1:]]
        parts[0]()
        for f in rest:
            f.result()
    return run


# The large problems: from this many multiply-adds (milliseconds on one
# thread) the quiet speed-up should reach 1.8x on 2 CPUs, and they get the
# parts' column.  (Handing a part to a Python thread and back costs tens of
# microseconds: against the parts of smaller problems, the column would
# measure that.)
LARGE_WORK = 10 ** 8

# Calls of one setting run in runs of this many: a median is then the steady
# state of repeated calls, as in every other benchmark here.  Alternating single
# calls made each 2-thread call follow a 1-thread one, and pay for the switch:
# the other core's cache cold, the output's lines in the first core's cache,
# the pool's sleeping thread woken (2048^2 5x5, quiet: 2.39 ms alternating
# singly vs 2.22 ms in a run; the 1-thread call 4.03 ms either way).
RUN = 5


def run_medians(fns, seconds):
    """Medians (seconds) of calls of each of ``fns``, in alternating runs of
    ``RUN`` calls (so drifting load hits them alike)."""
    for f in fns:
        f()
    t0 = time.perf_counter()
    fns[0]()
    one = max(time.perf_counter() - t0, 1e-6)
    n = int(min(2000, max(5, seconds / 2 / one)))
    times = [[] for _ in fns]
    for _ in range(-(-n // RUN)):
        for f, ts in zip(fns, times):
            for _ in range(RUN):
                t = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t)
    return tuple(statistics.median(ts) for ts in times)


def fmt(t):
    return "%9.1f us" % (t * 1e6) if t < 1e-3 else "%9.2f ms" % (t * 1e3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=0.6, help="per problem and setting")
    ap.add_argument("--only", default="", help="groups to run (1-D, 2-D, 3-D, layer), comma-separated")
    args = ap.parse_args()
    cpus = os.cpu_count() or 1
    print("load average before: %.2f %.2f %.2f; %d CPUs; ndconv %s, %s build" % (
        *os.getloadavg(), cpus, ndconv.__version__, SIMD_LEVEL))
    todo = [p for p in problems(cpus) if not args.only or p[0] in args.only.split(",")]
    rows = {}
    ctx = mp.get_context("spawn")
    spinners = [ctx.Process(target=_spin, daemon=True) for _ in range(cpus - 1)]
    for s in spinners:
        s.start()
    try:
        time.sleep(0.5)
        print("busy: %d spinning processes (load %.2f; threads runnable besides this one: %s)"
              % (len(spinners), os.getloadavg()[0], threads.runnable_others(float("inf"))))
        for _, label, _, call, _ in todo:
            rows[label] = run_medians([functools.partial(call, None), functools.partial(call, 1)],
                                      args.seconds)
    finally:
        for s in spinners:
            s.terminate()
        for s in spinners:
            s.join()
    time.sleep(1.0)
    # on a machine that is not quiet, the default rightly runs mid-size calls on one thread
    print("quiet: (load %.2f; threads runnable besides this one: %s)"
          % (os.getloadavg()[0], threads.runnable_others(float("inf"))))
    with concurrent.futures.ThreadPoolExecutor(cpus - 1 or 1) as pool:
        for _, label, work, call, parts in todo:
            fns = [functools.partial(call, None), functools.partial(call, 1)]
            if cpus > 1 and work >= LARGE_WORK:
                fns.append(at_once(pool, parts))
            rows[label] += run_medians(fns, args.seconds)
    print()
    print("%-6s %-26s %10s | %12s %12s %7s | %12s %12s %8s %8s %8s" % (
        "", "problem", "mult-adds", "busy: default", "1 thread", "ratio", "quiet: default",
        "1 thread", "speed-up", "parts", "/ parts"))
    worst = 0.0
    large = []
    for group, label, work, _, _ in todo:
        bd, b1, qd, q1, qp = (rows[label] + (None,))[:5]
        worst = max(worst, bd / b1)
        if qp:
            large.append((q1 / qd, q1 / qp, label))
        print("%-6s %-26s %10.3g | %12s %12s %6.2fx | %12s %12s %7.2fx %s" % (
            group, label, work, fmt(bd), fmt(b1), bd / b1, fmt(qd), fmt(q1), q1 / qd,
            "%7.2fx %7.0f%%" % (q1 / qp, 100 * qp / qd) if qp else ""))
    print()
    print("busy: worst default / 1 thread = %.2fx (target <= 1.2x)" % worst)
    if large:
        least = min(large)
        print("quiet, problems of >= %.0e multiply-adds: least speed-up %.2fx (%s; its parts at"
              " once: %.2fx), least speed-up / the parts' %.0f%%"
              % (LARGE_WORK, least[0], least[2], least[1], 100 * min(a / b for a, b, _ in large)))
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()

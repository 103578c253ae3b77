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

Each time is the median of alternating runs of calls (default, 1 thread, ...)
over about ``--seconds`` per problem and setting.  The machine's load average
is printed first: on a shared machine the quiet column is only as quiet as
the machine.  Runs in 2-4 minutes::

    python benchmarks/busy_machine.py            # the whole sweep
    python benchmarks/busy_machine.py --seconds 0.2 --only 2-D
"""
import argparse
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


def problems():
    """``(group, label, work, call(workers))`` of every problem."""
    rng = np.random.default_rng(0)
    out = []

    def corr(shape, kshape, dtype=np.float32):
        x = rng.standard_normal(shape).astype(dtype)
        k = rng.standard_normal(kshape).astype(dtype)
        label = "x".join(map(str, shape)) + " * " + "x".join(map(str, kshape))
        work = x.size * k.size
        out.append(("%d-D" % len(shape), label, work,
                    lambda w: ndconv.correlate(x, k, "same", boundary="reflect", method="direct",
                                               workers=w)))

    for n, k in ((16, 3), (1024, 15), (65536, 31), (1 << 20, 31), (1 << 22, 63)):
        corr((n,), (k,))
    for n, k in ((16, 3), (128, 5), (256, 7), (512, 7), (1024, 5), (2048, 5), (2048, 9)):
        corr((n, n), (k, k))
    for n, k in ((8, 3), (32, 5), (64, 5), (96, 5), (160, 5)):
        corr((n, n, n), (k, k, k))
    for hw, c in ((32, 16), (64, 32), (128, 64)):
        x = rng.standard_normal((1, hw, hw, c)).astype(np.float32)
        w = rng.standard_normal((3, 3, c, c)).astype(np.float32)
        out.append(("layer", "conv %dx%dx%d, 3x3" % (hw, hw, c), x.size * w.size // c,
                    lambda wk, x=x, w=w: ndconv.conv(x, w, padding="same", workers=wk)))
    return out


# Calls of one setting run in runs of this many: a median is then the steady
# state of repeated calls, as in every other benchmark here.  Alternating single
# calls made each 2-thread call follow a 1-thread one, and pay for the switch:
# the other core's cache cold, the output's lines in the first core's cache,
# the pool's sleeping thread woken (2048^2 5x5, quiet: 2.39 ms alternating
# singly vs 2.22 ms in a run; the 1-thread call 4.03 ms either way).
RUN = 5


def paired_medians(fa, fb, seconds):
    """Medians (seconds) of calls of ``fa`` and ``fb``, in alternating runs of
    ``RUN`` calls (so drifting load hits both alike)."""
    fa(), fb()
    t0 = time.perf_counter()
    fa()
    one = max(time.perf_counter() - t0, 1e-6)
    n = int(min(2000, max(5, seconds / 2 / one)))
    ta, tb = [], []
    for _ in range(-(-n // RUN)):
        for f, ts in ((fa, ta), (fb, tb)):
            for _ in range(RUN):
                t = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t)
    return statistics.median(ta), statistics.median(tb)


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
    todo = [p for p in problems() if not args.only or p[0] in args.only.split(",")]
    rows = {}
    ctx = mp.get_context("spawn")
    spinners = [ctx.Process(target=_spin, daemon=True) for _ in range(cpus - 1)]
    for s in spinners:
        s.start()
    try:
        time.sleep(0.5)
        print("busy: %d spinning processes (load %.2f; threads runnable besides this one: %s)"
              % (len(spinners), os.getloadavg()[0], threads.runnable_others(float("inf"))))
        for _, label, _, call in todo:
            rows[label] = paired_medians(functools.partial(call, None), functools.partial(call, 1),
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
    for _, label, _, call in todo:
        rows[label] += paired_medians(functools.partial(call, None), functools.partial(call, 1),
                                      args.seconds)
    print()
    print("%-6s %-26s %10s | %12s %12s %7s | %12s %12s %8s" % (
        "", "problem", "mult-adds", "busy: default", "1 thread", "ratio", "quiet: default",
        "1 thread", "speed-up"))
    worst = 0.0
    for group, label, work, _ in todo:
        bd, b1, qd, q1 = rows[label]
        worst = max(worst, bd / b1)
        print("%-6s %-26s %10.3g | %12s %12s %6.2fx | %12s %12s %7.2fx" % (
            group, label, work, fmt(bd), fmt(b1), bd / b1, fmt(qd), fmt(q1), q1 / qd))
    print()
    print("busy: worst default / 1 thread = %.2fx (target <= 1.2x)" % worst)
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()

"""Small threaded calls and OpenMP's wait policy: the harness behind
``ndconv/_core/wait_policy.py`` and ``tuning.Settings.work_per_thread``.

Times ``ndconv.convolve`` (reflect, "same", float32) on 2048^2 with 5x5 and
256^2 with 3x3 at 1 and 2 threads -- forced, even where ndconv would use one
-- and with ndconv's choice, back to back (median of 15 calls) and after a
20 ms pause before each call (the pattern of a benchmark after a pause, where
a sleeping worker must be woken; ``_plan.threads._after_pause``).  With
``--torch`` it then times a torch conv2d and a 256x256 matmul on 2 threads in
the same process, to see what ndconv's import does to another OpenMP library.
Prints one JSON line.  Compare wait policies by setting the variables for the
run, e.g.::

    python benchmarks/wait_policy.py
    GOMP_SPINCOUNT=300000 python benchmarks/wait_policy.py   # libgomp's default spin
    OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=0 python benchmarks/wait_policy.py

Timings on a shared machine are noisy: the load average is recorded.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np

env_before = dict(os.environ)
import ndconv  # noqa: E402  (after the snapshot of the environment, on purpose)
from ndconv._core import WAIT_POLICY  # noqa: E402
from ndconv._plan import tuning  # noqa: E402


def median_ms(fn, n=15, pause=0.0):
    fn()
    ts = []
    for _ in range(n):
        if pause:
            time.sleep(pause)
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return round(statistics.median(ts) * 1e3, 3)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--torch", action="store_true", help="also time torch after importing ndconv")
    p.add_argument("--label", default="", help="a name for this run in the output")
    args = p.parse_args(argv)
    out = {"label": args.label, "load_1min": os.getloadavg()[0], "wait_policy": WAIT_POLICY,
           "import_changed_environ": dict(os.environ) != env_before}
    rng = np.random.default_rng(0)
    for name, xs, ks in (("2048^2 5x5", (2048, 2048), (5, 5)), ("256^2 3x3", (256, 256), (3, 3))):
        x = rng.standard_normal(xs, dtype=np.float32)
        k = rng.standard_normal(ks).astype(np.float32)
        # t=1, t=2: the thread count forced (neither size nor load nor a pause
        # changes it); default: ndconv's choice
        for t in (1, 2, None):
            def f(x=x, k=k, t=t):
                return ndconv.convolve(x, k, "same", boundary="reflect", workers=t)
            label = "ndconv %s %s" % (name, "default" if t is None else "t=%d" % t)
            with tuning.override(**({} if t is None else dict(work_per_thread=1, load_aware=False))):
                out[label + " ms"] = median_ms(f)
                out[label + " after pause ms"] = median_ms(f, pause=0.02)
    if args.torch:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(2)
        tx, tw, a = torch.randn(1, 1, 2048, 2048), torch.randn(1, 1, 5, 5), torch.randn(256, 256)
        with torch.no_grad():
            out["torch conv2d 2048^2 5x5 t=2 ms"] = median_ms(lambda: F.conv2d(tx, tw, padding=2))
            out["torch conv2d 2048^2 5x5 t=2 after pause ms"] = median_ms(
                lambda: F.conv2d(tx, tw, padding=2), pause=0.02)
            out["torch matmul 256 t=2 ms"] = median_ms(lambda: a @ a, n=50)
            out["torch matmul 256 t=2 after pause ms"] = median_ms(lambda: a @ a, n=30, pause=0.02)
    out["load_1min_end"] = os.getloadavg()[0]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

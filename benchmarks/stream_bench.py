"""Cost per block of ``ndconv.Stream`` against one ``oaconvolve`` call over the same samples.

For each kernel length and block size a mono stream is fed blocks of ``L``
samples (partition ``L``).  Columns: the median time of ``process(block)`` in
steady state against ``scipy.signal.oaconvolve(block, k)`` (one block convolved
on its own, the overlap-add left to the caller); then a whole signal of 2^18
samples streamed in those blocks against one ``oaconvolve`` call over all of
it (the throughput a latency of one block costs).

Run: ``python benchmarks/stream_bench.py [--quick] [--dtype float32,float64]``.
"""
import argparse
import statistics
import time

import numpy as np

import ndconv

N_TOTAL = 1 << 18


def _median(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _case(k, L, rng, reps):
    from scipy.signal import oaconvolve

    dt = k.dtype
    s = ndconv.Stream(k, method="fft", partition=L, workers=1)
    x = rng.standard_normal(L).astype(dt)
    for _ in range(3):
        s.process(x)
    t_block = _median(lambda: s.process(x), reps)
    t_oa = _median(lambda: oaconvolve(x, k), max(3, reps // 3))
    sig = rng.standard_normal(N_TOTAL).astype(dt)

    def whole():
        s.reset()
        for i in range(0, N_TOTAL, L):
            s.process(sig[i:i + L])
        s.flush()

    t_whole = _median(whole, 3)
    t_whole_oa = _median(lambda: oaconvolve(sig, k), 3)
    return t_block, t_oa, s._ola.P, t_whole, t_whole_oa


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer kernels and repetitions")
    ap.add_argument("--dtype", default="float32,float64")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    kernels = [10_000, 100_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    reps = 7 if args.quick else 21
    print("| dtype | taps | block | Stream.process | oaconvolve(block, k) | ratio | partitions | "
          "stream of 2^18 samples | oaconvolve of them | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for dt in args.dtype.split(","):
        for K in kernels:
            k = rng.standard_normal(K).astype(dt)
            for L in (256, 1024, 4096):
                tb, to, P, tw, two = _case(k, L, rng, reps)
                print("| %s | %d | %d | %.3f ms | %.3f ms | %.2f | %d | %.1f ms | %.1f ms | %.2f |"
                      % (dt, K, L, tb * 1e3, to * 1e3, tb / to, P, tw * 1e3, two * 1e3, tw / two))


if __name__ == "__main__":
    main()

"""Method choice: one place decides between the direct and the FFT path.

The cost model estimates seconds for each method from sizes alone; its rates
were measured on the reference machine (2-core Zen 3, AVX2+FMA) and are
recalibrated by ``benchmarks/calibrate_auto.py``.
"""
import math

import numpy as np

from . import _fft

# Direct path: kernel taps (multiply-adds) per second per thread, by dtype.
DIRECT_RATE = {"f": {4: 8.0e9, 8: 4.0e9}, "c": {8: 2.0e9, 16: 1.0e9}}
# FFT path: seconds per (element * log2(element)) of one transform, per thread.
FFT_COST = {4: 1.2e-9, 8: 1.6e-9}
# fixed overhead of an FFT call (planning, allocation), seconds
FFT_OVERHEAD = 5e-5


def estimate(x_shape, w_shape, out_shape, dtype, n_threads):
    """Estimated seconds ``(direct, fft)`` for one call."""
    dtype = np.dtype(dtype)
    taps = math.prod(w_shape)
    n_out = math.prod(out_shape)
    rate = DIRECT_RATE.get(dtype.kind, {}).get(dtype.itemsize, 4.0e9)
    t_direct = n_out * taps / (rate * n_threads)
    axes = [a for a in range(len(w_shape)) if w_shape[a] > 1]
    if not axes:
        return t_direct, math.inf
    real = dtype.kind == "f"
    size = 1
    for a in range(len(x_shape)):
        if a in axes:
            size *= _fft.next_fast_len(out_shape[a] + w_shape[a] - 1, real)
        else:
            size *= out_shape[a]
    component = dtype.itemsize // (2 if dtype.kind == "c" else 1)
    per = FFT_COST[component] * (1.0 if real else 2.0)  # complex input: full, not half, spectra
    # forward of x, forward of w, inverse: three transforms
    t_fft = FFT_OVERHEAD + 3 * per * size * math.log2(max(size, 2))
    t_fft /= max(1.0, 0.85 * n_threads)
    return t_direct, t_fft


def choose(x, w, out_shape, n_threads, cval=0):
    """``"direct"`` or ``"fft"`` for arrays already in the compute dtype.

    FFT is never chosen for integer (exact) computation or when an input holds
    NaN or inf: FFT spreads a non-finite value over the whole output, while the
    direct method keeps it local, as scipy.ndimage does.
    """
    if x.dtype.kind not in "fc":
        return "direct"
    t_direct, t_fft = estimate(x.shape, w.shape, out_shape, x.dtype, n_threads)
    if not t_fft < t_direct:
        return "direct"
    if not (np.isfinite(cval) and np.isfinite(w).all() and np.isfinite(x).all()):
        return "direct"
    return "fft"

"""Method choice: one place decides between the direct and the FFT path.

The cost model estimates seconds for each method from sizes alone; its rates
were measured on the reference machine (2-core Zen 3, AVX2+FMA) and are
recalibrated by ``benchmarks/calibrate_auto.py``.
"""
import math

import numpy as np

from . import _fft, _separable

# Direct path: kernel taps (multiply-adds) per second per thread, by dtype, for
# the register-blocked kernel (AVX2+FMA build), and a fixed per-call cost.
DIRECT_RATE = {"f": {4: 2.4e10, 8: 1.2e10}, "c": {8: 5.0e9, 16: 2.5e9}}
DIRECT_CALL = 3e-5


def estimate(x_shape, w_shape, out_shape, dtype, n_threads):
    """Estimated seconds ``(direct, fft)`` for one call."""
    dtype = np.dtype(dtype)
    taps = math.prod(w_shape)
    n_out = math.prod(out_shape)
    rate = DIRECT_RATE.get(dtype.kind, {}).get(dtype.itemsize, 4.0e9)
    t_direct = DIRECT_CALL + n_out * taps / (rate * n_threads)
    if taps == 1 or dtype.kind not in "fc":
        return t_direct, math.inf
    t_fft, _, _, _, nblocks, _ = _fft.plan(out_shape, w_shape, dtype)
    # scipy.fft threads over batches of transforms, not within one
    batch = nblocks * math.prod(out_shape[a] for a in range(len(w_shape)) if w_shape[a] == 1)
    if batch > 1:
        t_fft /= max(1.0, 0.85 * min(n_threads, batch))
    return t_direct, t_fft + _fft.FFT_CALL


def separable_seconds(out_shape, w_shape, axes, dtype, n_threads):
    """Estimated seconds for one direct 1-D pass per convolved axis."""
    dtype = np.dtype(dtype)
    rate = DIRECT_RATE.get(dtype.kind, {}).get(dtype.itemsize, 4.0e9)
    # passes run last axis first; earlier passes' outputs keep the input's size
    # along the axes not yet convolved (bounded here by the output's size)
    n_out = math.prod(out_shape)
    # a 1-tap-wide pass loses about half the register blocking's efficiency
    return len(axes) * DIRECT_CALL + sum(2 * n_out * w_shape[a] / (rate * n_threads) for a in axes)


def choose(x, w, out_shape, n_threads, cval=0):
    """``(method, factors)``: ``"direct"``, ``"separable"`` (with its 1-D factors) or
    ``"fft"``, for arrays already in the compute dtype.

    FFT is never chosen for integer (exact) computation or when an input holds
    NaN or inf: FFT spreads a non-finite value over the whole output, while the
    direct method keeps it local, as scipy.ndimage does.
    """
    if x.dtype.kind not in "fc":
        return "direct", None
    t_direct, t_fft = estimate(x.shape, w.shape, out_shape, x.dtype, n_threads)
    best, factors = ("direct", t_direct), None
    axes = [a for a in range(w.ndim) if w.shape[a] > 1]
    if _separable.worthwhile(w.shape, axes):
        factors = _separable.factorize(w, axes)
        if factors is not None:
            t_sep = separable_seconds(out_shape, w.shape, axes, x.dtype, n_threads)
            if t_sep < best[1]:
                best = ("separable", t_sep)
    if t_fft < best[1] and np.isfinite(cval) and np.isfinite(w).all() and np.isfinite(x).all():
        return "fft", None
    return best[0], factors

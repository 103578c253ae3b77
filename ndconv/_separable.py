"""Separable kernels: an N-D kernel that is an outer product of 1-D factors runs
as one 1-D pass per axis (sum of K_a taps instead of their product).

Only kernels that are rank 1 *to the rounding of the compute dtype* are split:
every entry must be reproduced by the product of its factors within a couple
of ulps of itself, so the result stays within the direct method's accuracy
contract (each pass adds K_a terms; sum K_a <= prod K_a).
"""
import math

import numpy as np

from . import _direct


def factorize(w, axes):
    """1-D factors ``{axis: vector}`` with ``w == outer(factors)`` to rounding, or None.

    ``w`` has one axis per input axis; ``axes`` are those with more than one tap.
    The factors are the lines of ``w`` through its largest entry, scaled so that
    their product reproduces that entry; for an exactly rank-1 tensor they
    reproduce every entry.  Checked elementwise in float64 after rounding the
    factors to ``w``'s dtype.
    """
    if len(axes) < 2:
        return None
    dtype = w.dtype
    wd = w.astype(np.complex128 if dtype.kind == "c" else np.float64)
    peak = np.unravel_index(np.argmax(np.abs(wd)), wd.shape)
    pval = wd[peak]
    if pval == 0:
        return None
    factors = {}
    for i, a in enumerate(axes):
        line = list(peak)
        line[a] = slice(None)
        v = wd[tuple(line)]
        if i > 0:
            v = v / pval      # the peak value is carried by the first factor only
        factors[a] = v.astype(dtype)
    eps = np.finfo(dtype).eps
    tol = 2 * len(axes) * eps
    # A few sampled entries first: a kernel that is not rank 1 (the usual case)
    # is rejected without building the whole reconstruction.
    for i in range(1, 5):
        # scattered, fixed positions (multiplicative hashing of i and the axis)
        pos = tuple((i * 40503 + a * 7919) % n for a, n in enumerate(wd.shape))
        val = 1.0
        for a, v in factors.items():
            val = val * v[pos[a]].astype(wd.dtype)
        if abs(val - wd[pos]) > tol * abs(wd[pos]):
            return None
    recon = np.ones(wd.shape, dtype=wd.dtype)
    for a, v in factors.items():
        shape = [1] * wd.ndim
        shape[a] = v.shape[0]
        recon = recon * v.astype(wd.dtype).reshape(shape)
    if np.all(np.abs(recon - wd) <= tol * np.abs(wd)):
        return factors
    return None


def worthwhile(w_shape, axes):
    """Passes cost about sum K_a taps per output against prod K_a for the direct sum."""
    taps = [w_shape[a] for a in axes]
    return len(taps) >= 2 and 2 * sum(taps) <= math.prod(taps)


def correlate_separable(x, factors, starts, out_shape, boundary, cval, n_threads, out):
    """One direct 1-D pass per factor; arguments as ``_direct.correlate_direct``.

    The passes compose because every boundary is a per-axis index map: the
    extension of a pass's output along the next axis equals the pass applied to
    the extended input, except that with ``boundary="constant"`` a row that
    lies wholly outside the input holds ``cval`` times the sum of the factors
    applied so far, which is the cval passed on.
    """
    axes = sorted(factors, reverse=True)   # last (contiguous) axis first
    cur = x
    shape = list(x.shape)
    for i, a in enumerate(axes):
        v = factors[a]
        wshape = [1] * x.ndim
        wshape[a] = v.shape[0]
        st = [0] * x.ndim
        st[a] = starts[a]
        shape[a] = out_shape[a]
        dst = out if i == len(axes) - 1 else _direct.empty_like_order(cur, shape, x.dtype)
        _direct.correlate_direct(cur, v.reshape(wshape), st, tuple(shape), boundary, cval, n_threads, dst)
        cval = cval * v.sum(dtype=v.dtype) if boundary == "constant" else cval
        cur = dst
    return out

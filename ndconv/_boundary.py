"""Boundary extension: the one place that knows what each boundary name means.

Every boundary is an index map from positions of the extended axis to positions
of the input (or to "use cval").  The map is numpy.pad's, for any pad width,
also wider than the input, so ``np.pad`` is the specification and the tests
compare against it directly.

    constant   k k k | a b c d | k k k      (cval)
    edge       a a a | a b c d | d d d
    symmetric  c b a | a b c d | d c b      (half-sample: the edge sample repeats)
    reflect    d c b | a b c d | c b a      (whole-sample: the edge sample does not repeat)
    wrap       b c d | a b c d | a b c
"""
import numpy as np

CVAL = -1  # index-table marker: this position takes cval


def extension_indices(n, start, length, boundary):
    """Input index for each of ``length`` extended positions starting at ``start``.

    Position ``t`` stands for input coordinate ``start + t``; coordinates outside
    ``[0, n)`` are mapped by ``boundary`` (``CVAL`` for ``"constant"``).

    Parameters
    ----------
    n : int
        Length of the input axis (>= 1).
    start : int
        Input coordinate of the first position (may be negative).
    length : int
        Number of positions (>= 0).
    boundary : str
        One of ``constant, edge, symmetric, reflect, wrap``.

    Returns
    -------
    ndarray of intp, shape (length,)
    """
    lo = max(0, -start)
    hi = max(0, start + length - n)
    idx = np.arange(n, dtype=np.intp)
    if lo or hi:
        if boundary == "constant":
            idx = np.pad(idx, (lo, hi), mode="constant", constant_values=CVAL)
        else:
            idx = np.pad(idx, (lo, hi), mode=boundary)
    first = start + lo
    return np.ascontiguousarray(idx[first:first + length])


def extend(x, starts, lengths, boundary, cval, axes):
    """Materialise the extended input over the given window (used by the FFT path).

    Returns an array whose axis ``axes[i]`` has ``lengths[i]`` samples, sample
    ``t`` being input coordinate ``starts[i] + t`` extended by ``boundary``.
    """
    for ax, s, L in zip(axes, starts, lengths):
        n = x.shape[ax]
        idx = extension_indices(n, s, L, boundary)
        if s >= 0 and s + L <= n:
            x = x[(slice(None),) * ax + (slice(s, s + L),)]
            continue
        if boundary == "constant":
            # prepend one cval slice, then gather with CVAL -> that slice
            pad = [(0, 0)] * x.ndim
            pad[ax] = (1, 0)
            x = np.take(np.pad(x, pad, mode="constant", constant_values=cval), idx + 1, axis=ax)
        else:
            x = np.take(x, idx, axis=ax)
    return x

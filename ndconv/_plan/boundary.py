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

A boundary may also differ per axis: then it is a tuple with one name per axis
of the input (``on_axis``), and the extension is numpy.pad's applied one axis
at a time in the caller's ``axes`` order.  Index maps compose per axis, so only
``cval`` depends on that order: a position that lies past the edge of several
"constant" axes takes the cval of the last of them (``AxisCvals``).
"""
import numpy as np

CVAL = -1  # index-table marker: this position takes cval

# ------------------------------------------------------------------ the peers' names
# Each boundary in other libraries' words.  scipy.ndimage: the first name is
# the mode that computes the boundary for every size (its plain "wrap" is not
# periodic for every size, "grid-wrap" is); the others are its synonyms for
# filters (the grid-* modes extend like their plain counterparts).
_NDIMAGE = {
    "constant": ("constant", "grid-constant"),
    "edge": ("nearest",),
    "symmetric": ("reflect", "grid-mirror"),
    "reflect": ("mirror",),
    "wrap": ("grid-wrap", "wrap"),
}
TO_NDIMAGE = {b: names[0] for b, names in _NDIMAGE.items()}
FROM_NDIMAGE = {name: b for b, names in _NDIMAGE.items() for name in names}
# scipy.signal.convolve2d's ``boundary`` names
FROM_SIGNAL_2D = {"fill": "constant", "pad": "constant", "wrap": "wrap", "circular": "wrap",
                  "symm": "symmetric", "symmetric": "symmetric"}
# OpenCV's border types (cv2 attribute names) and torch.nn.functional.pad's
# modes, for the boundaries ``ndconv bench`` compares (torch has no
# half-sample, "symmetric", padding)
TO_CV2_BORDER = {"constant": "BORDER_CONSTANT", "reflect": "BORDER_REFLECT_101",
                 "symmetric": "BORDER_REFLECT"}
TO_TORCH_PAD = {"constant": "constant", "reflect": "reflect"}


def index_map(coords, n, boundary):
    """Input index for each input coordinate in ``coords`` (``CVAL`` for constant).

    Closed forms of numpy.pad's extension for any distance from the edge:
    ``symmetric`` is periodic with period ``2n``, ``reflect`` with ``2n - 2``,
    ``wrap`` with ``n``.  ``tests/test_tables.py`` checks them against np.pad.
    """
    c = np.asarray(coords, dtype=np.intp)
    inside = (c >= 0) & (c < n)
    if boundary == "constant":
        return np.where(inside, c, CVAL)
    if boundary == "edge":
        return np.clip(c, 0, n - 1)
    if boundary == "wrap":
        return np.mod(c, n)
    if boundary == "symmetric":
        m = np.mod(c, 2 * n)
        return np.where(m < n, m, 2 * n - 1 - m)
    if boundary == "reflect":
        if n == 1:
            return np.zeros_like(c)
        m = np.mod(c, 2 * n - 2)
        return np.where(m < n, m, 2 * n - 2 - m)
    raise ValueError("unknown boundary %r" % (boundary,))


def on_axis(boundary, axis):
    """The boundary name of axis ``axis``: ``boundary`` itself, or its entry there."""
    return boundary if isinstance(boundary, str) else boundary[axis]


def reads_cval(boundary):
    """True if some axis is extended by cval."""
    return boundary == "constant" if isinstance(boundary, str) else "constant" in boundary


def permute(boundary, perm):
    """``boundary`` for the axes of ``x.transpose(perm)``."""
    return boundary if isinstance(boundary, str) else tuple(boundary[a] for a in perm)


class AxisCvals(tuple):
    """Fill values that differ between "constant" axes: ``(axis, cval)`` pairs in
    the order numpy.pad extends the axes, so the last pair whose axis a position
    lies outside of gives its value.  A tuple subclass, so that a plain scalar
    cval is never mistaken for one."""

    __slots__ = ()


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
    return index_map(np.arange(start, start + length, dtype=np.intp), n, boundary)


def border_bands(n, start, length, boundary):
    """The extension of one axis as interior range plus explicit border bands.

    Returns ``(id_lo, id_hi, band)``: positions ``t`` in ``[id_lo, id_hi)`` read
    input index ``start + t``; the others read ``band[t]`` for ``t < id_lo`` and
    ``band[id_lo + t - id_hi]`` for ``t >= id_hi``.  The work is proportional to
    the border width, not to ``n``.
    """
    id_lo = min(max(0, -start), length)
    id_hi = min(max(id_lo, n - start), length)
    coords = np.concatenate([np.arange(start, start + id_lo, dtype=np.intp),
                             np.arange(start + id_hi, start + length, dtype=np.intp)])
    return id_lo, id_hi, index_map(coords, n, boundary)


def extend(x, starts, lengths, boundary, cval, axes):
    """Materialise the extended input over the given window (used by the FFT path,
    and by every path when ``cval`` is an ``AxisCvals``).

    Returns an array whose axis ``axes[i]`` has ``lengths[i]`` samples, sample
    ``t`` being input coordinate ``starts[i] + t`` extended by ``boundary``
    (``on_axis``).  The axes are extended in the order of ``axes``, as numpy.pad
    does, with ``cval`` a scalar or an ``AxisCvals``.  One copy per extended
    axis at most; none where the window lies inside ``x``.
    """
    fills = dict(cval) if isinstance(cval, AxisCvals) else None
    for ax, s, L in zip(axes, starts, lengths):
        n = x.shape[ax]
        if s >= 0 and s + L <= n:
            x = x[(slice(None),) * ax + (slice(s, s + L),)]
            continue
        name = on_axis(boundary, ax)
        if name == "constant":
            fill = cval if fills is None else fills[ax]
            lo, hi = max(0, -s), max(0, s + L - n)
            inner = x[(slice(None),) * ax + (slice(max(0, s), min(n, s + L)),)]
            pad = [(0, 0)] * x.ndim
            pad[ax] = (lo, hi)
            if inner.shape[ax] == 0:   # window entirely outside x
                pad[ax] = (L, 0)
            x = np.pad(inner, pad, mode="constant", constant_values=fill)
        else:
            x = np.take(x, extension_indices(n, s, L, name), axis=ax)
    return x

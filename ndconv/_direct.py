"""Direct method: turn a validated problem into the core's index tables and run it.

The problem is always "valid correlation of the extended input": output sample
``i`` along an axis reads input coordinates ``start + i + j`` for kernel taps
``j``.  Output modes, origins and axis subsets only change ``start`` and the
output length (``_api.geometry``); boundaries only change the tables
(``_boundary``); strides and memory order are folded into the tables here.
"""
import functools
import math

import numpy as np

from . import _boundary
from ._dispatch import core, unfused_core

# Elements of gather scratch per thread (per chunk, summed over leading taps).
_GATHER_BUDGET = 1 << 18
# Largest run of output columns one work item computes.
_MAX_CHUNK = 2048
_MIN_CHUNK = 64


def memory_order(x):
    """Axis permutation that puts ``x``'s axes from largest to smallest stride.

    The core's inner loop runs along the last axis, so a Fortran-ordered or
    transposed input is processed in its own memory order instead of being
    copied; the output is allocated in the same order.
    """
    shape = x.shape
    if x.flags.c_contiguous and 1 not in shape:
        # strides strictly decrease: the sort below would return the identity
        return tuple(range(x.ndim))
    keys = [(shape[a] != 1, -abs(x.strides[a]), a) for a in range(x.ndim)]
    return tuple(a for _, _, a in sorted(keys))


# Output rows shorter than this leave the register blocks idle.
_SHORT_ROW = 16


def compute_order(x, out_shape):
    """Axis permutation the core runs in: ``memory_order(x)``, except that a
    short last axis is replaced by a long one.

    Channels-last images ``(h, w, 3)`` filtered over ``(h, w)``, or a few
    columns ``(n, 3)`` filtered along axis 0, would otherwise give output rows
    of 3 samples: scalar code, 20x slower.  Running along the longest output
    axis instead reads the input with a stride (gathered rows) and writes the
    output through a temporary when it is not laid out that way -- both cheap
    next to the arithmetic they vectorise.
    """
    perm = list(memory_order(x))
    last = perm[-1]
    if out_shape[last] >= _SHORT_ROW:
        return tuple(perm)
    # the longest output axis, the smallest stride among equals
    best = max(perm, key=lambda a: (out_shape[a], -abs(x.strides[a])))
    if out_shape[best] < 4 * max(1, out_shape[last]):
        return tuple(perm)
    perm.remove(best)
    return tuple(perm) + (best,)


def _flat_span(x):
    """A 1-D view of every element ``x`` can address, from its lowest address,
    and the per-axis element strides relative to that view."""
    item = x.itemsize
    if x.flags.c_contiguous:
        # The span is the array itself.  Only size-1 axes can have odd (even
        # negative or non-element) strides here, and they never move the
        # address: the tables scale their one index, 0, by the stride.
        return x.reshape(-1), [s // item for s in x.strides]
    if any(s % item for s in x.strides):
        # strides that are not a whole number of elements (e.g. fields of a
        # record array) cannot be expressed as element offsets
        x = np.ascontiguousarray(x)
    estr = [s // item for s in x.strides]
    flip = tuple(slice(None, None, -1) if s < 0 else slice(None) for s in estr)
    lowest = x[flip]
    span = 1 + sum((n - 1) * abs(s) for n, s in zip(x.shape, estr))
    flat = np.lib.stride_tricks.as_strided(lowest, shape=(span,), strides=(item,), writeable=False)
    return flat, estr


def _chunks(m, k_last, n_lead):
    """Column chunk boundaries of the last output axis and the chunk width.

    Chunks bound the per-thread gather scratch (``n_lead`` rows of
    ``width + k_last - 1`` samples) and give 1-D signals enough work items to
    share between threads.
    """
    width = _GATHER_BUDGET // max(1, n_lead) - k_last + 1
    width = int(min(_MAX_CHUNK, max(_MIN_CHUNK, width)))
    pieces = max(1, -(-m // width))
    step = -(-m // pieces)  # balanced pieces, each <= width
    bounds = np.minimum(np.arange(0, pieces + 1, dtype=np.intp) * step, m)
    return bounds, width


# Upper bound (sum over axes of output + kernel - 1) on the band entries of a
# geometry whose tables are cached: at most 128 entries of 32 KiB.
_CACHED_EXTENT = 4096


@functools.lru_cache(maxsize=128)
def _tables(shape, estr, oshape, kshape, starts, boundary):
    """The core's index tables for one geometry, in the compute order (read-only).

    ``(out_shape, k_shape, params, bands, bounds, width, c0, c1)``: see
    ``_core.correlate_nd``.
    """
    params = np.empty((len(shape), 5), dtype=np.intp)
    bands = []
    pos = 0
    for a, (n, s, m, k, st) in enumerate(zip(shape, estr, oshape, kshape, starts)):
        lo, hi, idx = _boundary.border_bands(n, st, m + k - 1, boundary)
        shift = (n - 1) * -s if s < 0 else 0
        bands.append(np.where(idx >= 0, idx * s + shift, _boundary.CVAL))
        params[a] = (lo, hi, st * s + shift, s, pos)
        pos += idx.shape[0]
    bands = np.ascontiguousarray(np.concatenate(bands), dtype=np.intp)

    # Columns whose taps all read interior samples of the last axis.
    k_last, m_last = kshape[-1], oshape[-1]
    lo_last, hi_last = int(params[-1, 0]), int(params[-1, 1])
    c0 = min(m_last, lo_last)
    c1 = max(c0, min(m_last, hi_last - k_last + 1))
    # Border columns are computed from gathered rows.  Give them at least one
    # register block (32 outputs) each, and gather short rows whole, so that no
    # output falls to the scalar remainder loop.
    if c0 > 0 or c1 < m_last:
        if m_last <= 64:
            c0 = c1 = 0
        else:
            if c0 > 0:
                c0 = min(max(c0, 32), c1)
            if c1 < m_last:
                c1 = max(c0, min(c1, m_last - 32))
    n_lead = math.prod(kshape) // k_last
    bounds, width = _chunks(m_last, k_last, n_lead)
    arrays = (np.array(oshape, dtype=np.intp), np.array(kshape, dtype=np.intp),
              params, bands, bounds)
    for arr in arrays:
        arr.flags.writeable = False
    return arrays + (width, c0, c1)


def correlate_direct(x, w, starts, out_shape, boundary, cval, n_threads, out, unfused=False):
    """Valid correlation of ``x`` extended by ``boundary`` with ``w``, into ``out``.

    Parameters
    ----------
    x : ndarray
        Input in the compute dtype, native byte order, any strides.
    w : ndarray
        Kernel with ``w.ndim == x.ndim`` (size 1 along axes that are not convolved),
        same dtype; already flipped/conjugated as the operation requires.
    starts : sequence of int
        Input coordinate read by output 0 and tap 0, per axis.
    out_shape : tuple of int
    boundary : str
    cval : scalar of the compute dtype
    n_threads : int
    out : ndarray
        Output of ``out_shape``, compute dtype, written completely; fastest when
        contiguous in ``memory_order(x)`` (see ``empty_like_order``).
    unfused : bool
        Round every product before adding it, in the kernel's tap order (C order),
        as scipy.ndimage does: its integer outputs truncate the float sums, and a
        fused multiply-add moves a sum that lies on an integer by one ulp.
    """
    perm = compute_order(x, out_shape)
    identity = perm == tuple(range(x.ndim))
    op = out if identity else out.transpose(perm)
    if not op.flags.c_contiguous:
        # the kernel writes C-contiguous rows in the compute order; compute
        # there, then copy (one pass over the output)
        tmp = np.empty([out_shape[a] for a in perm], dtype=out.dtype).transpose(_inverse(perm))
        correlate_direct(x, w, starts, out_shape, boundary, cval, n_threads, tmp, unfused)
        out[...] = tmp
        return out
    if identity:
        xp, wp = x, np.ascontiguousarray(w)
        starts, oshape = tuple(starts), tuple(out_shape)
    else:
        xp, wp = x.transpose(perm), np.ascontiguousarray(w.transpose(perm))
        starts = tuple([starts[a] for a in perm])
        oshape = tuple([out_shape[a] for a in perm])

    flat, estr = _flat_span(xp)
    key = (xp.shape, tuple(estr), oshape, wp.shape, starts, boundary)
    # The tables depend on sizes alone; repeated calls of one geometry (the
    # small-call case, where building them costs more than the arithmetic)
    # reuse them.  A gate on the total extended length bounds the cache's memory.
    if sum(oshape) + sum(wp.shape) - len(oshape) <= _CACHED_EXTENT:
        tables = _tables(*key)
    else:
        tables = _tables.__wrapped__(*key)
    oshape_a, kshape_a, params, bands, bounds, width, c0, c1 = tables
    skip_cval = bool(cval == 0)
    (unfused_core() if unfused else core()).correlate_nd(
        flat, op.reshape(-1), wp.reshape(-1), oshape_a, kshape_a, params, bands, bounds, width,
        c0, c1, estr[-1] == 1, cval, skip_cval, int(n_threads))
    return out


def empty_like_order(x, shape, dtype):
    """Uninitialised output of ``shape`` laid out in ``x``'s memory order."""
    perm = memory_order(x)
    if perm == tuple(range(len(perm))):
        return np.empty(shape, dtype=dtype)
    return np.empty([shape[a] for a in perm], dtype=dtype).transpose(_inverse(perm))


def _inverse(perm):
    inv = [0] * len(perm)
    for i, a in enumerate(perm):
        inv[a] = i
    return inv

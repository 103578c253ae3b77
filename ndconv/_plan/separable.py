"""Separable kernels: an N-D kernel that is an outer product of 1-D factors runs
as one 1-D pass per axis (sum of K_a taps instead of their product).

Only kernels that are rank 1 *to the rounding of the compute dtype* are split:
every entry must be reproduced by the product of its factors within a couple
of ulps of itself, so the result stays within the direct method's accuracy
contract (each pass adds K_a terms; sum K_a <= prod K_a).
"""
import functools
import math

import numpy as np

from . import boundary as _boundary
from . import direct as _direct
from . import tuning as _tuning

# Kernels up to this many bytes have their factorization remembered: loops that
# filter many arrays with one kernel decide once.
CACHED_BYTES = 1 << 16

_last_key = b""


def kernel_key(w):
    """``w``'s bytes, as the key of the caches of small kernels: the previous
    call's bytes object when they are the same, whose hash Python keeps (hashing
    a 63x63 float32 kernel's 16 KB took 3.6 us, comparing it 0.2 us; calls
    repeat their kernel as a rule)."""
    global _last_key
    data = np.ascontiguousarray(w).tobytes()
    last = _last_key
    if data == last:
        return last
    _last_key = data
    return data


def factorize(w, axes):
    """As ``_factorize``; remembered for small kernels (keyed by their bytes)."""
    if w.nbytes > CACHED_BYTES:
        return _factorize(w, axes)
    found = _factorize_cached(kernel_key(w), w.shape, w.dtype.str, tuple(axes))
    return None if found is None else dict(found)


@functools.lru_cache(maxsize=64)
def _factorize_cached(data, shape, dtype, axes):
    w = np.frombuffer(data, dtype=dtype).reshape(shape)
    factors = _factorize(w, list(axes))
    if factors is None:
        return None
    for v in factors.values():
        v.flags.writeable = False
    return tuple(factors.items())


def _factorize(w, axes):
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
    eps = np.finfo(dtype).eps
    tol = 2 * len(axes) * eps
    flat = int(np.argmax(np.abs(w)))
    peak = np.unravel_index(flat, w.shape)
    pval = w.item(flat)
    if pval == 0 or not np.isfinite(pval):   # NaN or inf taps stay in the direct sum
        return None
    # A few sampled entries first, in plain Python numbers: a kernel that is not
    # rank 1 (the usual case) is rejected for a few microseconds, before any
    # factor or reconstruction is built.  Loose bound: only a filter, the full
    # check below decides.
    for i in range(1, 5):
        # scattered, fixed positions (multiplicative hashing of i and the axis)
        pos = tuple((i * 40503 + a * 7919) % n for a, n in enumerate(w.shape))
        pred = pval
        for a in axes:
            line = list(peak)
            line[a] = pos[a]
            pred = pred * (w.item(tuple(line)) / pval)
        val = w.item(pos)
        if abs(pred - val) > 4 * tol * abs(val) + 4 * eps * abs(pval):
            return None
    wd = w.astype(np.complex128 if dtype.kind == "c" else np.float64)
    pval = wd[peak]
    factors = {}
    for i, a in enumerate(axes):
        line = list(peak)
        line[a] = slice(None)
        v = wd[tuple(line)]
        if i > 0:
            v = v / pval      # the peak value is carried by the first factor only
        factors[a] = v.astype(dtype)
    recon = np.ones(wd.shape, dtype=wd.dtype)
    for a, v in factors.items():
        shape = [1] * wd.ndim
        shape[a] = v.shape[0]
        recon = recon * v.astype(wd.dtype).reshape(shape)
    if np.all(np.abs(recon - wd) <= tol * np.abs(wd)):
        return factors
    return None


# Most terms of a low-rank kernel run as separable passes: beyond a few, the
# passes' rounding and the extra output-sized sums make them pointless.
MAX_TERMS = 8


def lowrank(w, axes, max_terms):
    """``w`` as a sum of at most ``max_terms`` rank-1 terms, each ``{axis: vector}``
    in ``w``'s dtype, or None.

    The terms are ``ndconv.separate``'s (successive singular value
    decompositions).  They are used only where the passes keep the direct
    method's accuracy contract tap by tap: with the factors rounded to the
    compute dtype, the reconstruction error plus the rounding of the passes
    and of summing the terms (``sum K_a + n_terms`` roundings of the terms'
    absolute products) stays within ``4 * K * eps * |w_j|`` at every tap ``j``.
    Remembered for small kernels, as ``factorize``.
    """
    max_terms = min(max_terms, MAX_TERMS)
    if len(axes) < 2 or max_terms < 2:
        return None
    if w.nbytes > CACHED_BYTES:
        return _lowrank(w, tuple(axes), max_terms)
    found = _lowrank_cached(kernel_key(w), w.shape, w.dtype.str, tuple(axes))
    if found is None or len(found) > max_terms:
        return None
    return [dict(term) for term in found]


@functools.lru_cache(maxsize=64)
def _lowrank_cached(data, shape, dtype, axes):
    w = np.frombuffer(data, dtype=dtype).reshape(shape)
    terms = _lowrank(w, axes, MAX_TERMS)
    if terms is None:
        return None
    for term in terms:
        for v in term.values():
            v.flags.writeable = False
    return tuple(tuple(term.items()) for term in terms)


def _lowrank(w, axes, max_terms):
    # the public decomposition (imported here: ndconv.kernels imports the API)
    from ..kernels import separate, split_rank

    k = w.reshape([w.shape[a] for a in axes])
    if not np.isfinite(k).all():   # NaN or inf taps: the direct sum keeps them local
        return None
    wide = np.complex128 if w.dtype.kind == "c" else np.float64
    eps = np.finfo(w.dtype).eps
    # a kernel in single precision is low-rank to its own rounding, not to
    # double's: terms below it are dropped (the check below bounds the rest)
    rtol = 0.0 if eps <= np.finfo(np.float64).eps else float(eps)
    # the first split's rank bounds the number of terms from below: a kernel
    # of full rank (most kernels) is turned away early -- by a random sketch of
    # max_terms + 1 columns, which has full rank unless the kernel has at most
    # max_terms terms (the threshold is far above any rounding), then by an
    # SVD without vectors
    a = k.reshape(k.shape[0], -1).astype(wide)
    if min(a.shape) > 2 * (max_terms + 1):
        s = np.linalg.svd(a @ _sketch(a.shape[1], max_terms + 1), compute_uv=False)
        if s[-1] > 1e-3 * s[0]:
            return None
    s = np.linalg.svd(a, compute_uv=False)
    if not 2 <= split_rank(s, k.shape[0], rtol) <= max_terms:
        return None
    terms = separate(k, rtol=rtol)
    if not 2 <= len(terms) <= max_terms:
        return None
    recon = np.zeros(k.shape, dtype=wide)
    absolute = np.zeros(k.shape, dtype=np.float64)
    for term in terms:
        prod = np.ones((1,) * k.ndim, dtype=wide)
        for i, v in enumerate(term):
            shape = [1] * k.ndim
            shape[i] = v.shape[0]
            prod = prod * v.astype(wide).reshape(shape)
        recon += prod
        absolute += np.abs(prod)
    rounding = (sum(k.shape) + len(terms)) * eps * absolute
    if not np.all(np.abs(recon - k) + rounding <= 4 * k.size * eps * np.abs(k.astype(wide))):
        return None
    return [dict(zip(axes, term)) for term in terms]


@functools.lru_cache(maxsize=16)
def _sketch(rows, cols):
    """A fixed random Gaussian matrix (the same for every call: choices repeat)."""
    g = np.random.default_rng(0x5eed).standard_normal((rows, cols))
    g.flags.writeable = False
    return g


def correlate_lowrank(x, terms, starts, out_shape, boundary, cval, n_threads, out):
    """The sum of one separable correlation per term (``lowrank``); arguments as
    ``correlate_separable``.  The terms are added in their order into ``out``,
    each pass bitwise independent of the thread count, so the sum is too."""
    correlate_separable(x, terms[0], starts, out_shape, boundary, cval, n_threads, out)
    part = np.empty_like(out)
    for factors in terms[1:]:
        correlate_separable(x, factors, starts, out_shape, boundary, cval, n_threads, part)
        out += part
    return out


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
    applied so far, which is the cval passed on.  With a name per axis, that
    holds for the passes along the other axes too: a pass maps a line of cval
    to a line of the scaled cval whatever its own axis' extension.

    The output is made in strips along the outermost convolved axis (in memory
    order): the inner passes fill a strip-sized intermediate -- extended along
    the outer axis by the same index maps, as a kernel of one tap -- and the
    outer pass reads it in "valid" fashion.  Peak memory is the output plus one
    strip, and the intermediate is still in cache when the outer pass reads it.
    """
    order = _direct.memory_order(x)
    axes = sorted(factors, key=order.index)          # outermost first
    if _fused(x, factors, axes, order, starts, out_shape, boundary, cval, n_threads, out):
        return out
    outer, inner = axes[0], axes[1:]
    k0 = factors[outer].shape[0]
    m0 = out_shape[outer]
    # a strip of the output must be one contiguous block
    strips = all(out_shape[a] == 1 for a in order[:order.index(outer)])
    per_row = x.itemsize * math.prod(out_shape[a] if a in factors else x.shape[a]
                                     for a in range(x.ndim) if a != outer)
    rows = max(8 * (k0 - 1), 1, _tuning.SETTINGS.strip_bytes // max(1, per_row))
    if not strips or rows >= m0:
        _passes(x, factors, axes[::-1], list(starts), out_shape, boundary, cval, n_threads, out)
        return out
    mid_shape = [out_shape[a] if a in factors else x.shape[a] for a in range(x.ndim)]
    mid_shape[outer] = rows + k0 - 1
    mid = _direct.empty_like_order(x, mid_shape, x.dtype)
    cval_outer = cval
    if _boundary.reads_cval(boundary):
        for a in inner:
            cval_outer = cval_outer * factors[a].sum(dtype=x.dtype)
    idx = [slice(None)] * x.ndim
    for r0 in range(0, m0, rows):
        r1 = min(m0, r0 + rows)
        idx[outer] = slice(0, r1 - r0 + k0 - 1)
        slab = mid[tuple(idx)]
        st = list(starts)
        st[outer] = starts[outer] + r0
        _passes(x, {a: factors[a] for a in inner}, inner[::-1], st, slab.shape, boundary, cval,
                n_threads, slab, keep=outer)
        idx[outer] = slice(r0, r1)
        dst = out[tuple(idx)]
        st = [0] * x.ndim
        _direct.correlate_direct(slab, _along(factors[outer], outer, x.ndim), st, dst.shape,
                                 boundary, cval_outer, n_threads, dst)
    return out


# Planes of a batch below this many output samples each take the two-pass
# path, which runs the whole batch in one call.
_FUSED_MIN_PLANE = 1 << 14


def _fused(x, factors, axes, order, starts, out_shape, boundary, cval, n_threads, out):
    """Run two factors as the core's fused passes (``correlate_sep2d``), one
    call per plane of the other axes; returns False where they do not apply.

    They apply to float32/float64 in the builds that have them, when the two
    convolved axes are the last two in memory order (rows of the output are
    then contiguous runs).  One sweep filters each source row horizontally
    into a ring of rows held in L1 and sums the ring vertically, so the
    intermediate never goes to memory; the sums are the two passes' own
    (same taps, same order).
    """
    s = _tuning.SETTINGS
    mod = _direct.core()
    if (not s.sep_fused or len(axes) != 2 or x.dtype.char not in "fd"
            or not hasattr(mod, "correlate_sep2d") or tuple(order[-2:]) != tuple(axes)):
        return False
    outer, inner = axes
    kv, kh = factors[outer].shape[0], factors[inner].shape[0]
    m0, m1 = out_shape[outer], out_shape[inner]
    chunk = s.sep_chunk or mod.sep_chunk(kv, x.itemsize)
    lead = order[:-2]
    n_planes = math.prod(out_shape[a] for a in lead)
    if chunk <= 0 or (n_planes > 1 and m0 * m1 < _FUSED_MIN_PLANE):
        return False
    if n_planes == 0 or m0 == 0 or m1 == 0:
        return True
    n0, n1 = x.shape[outer], x.shape[inner]
    # one name, or one per axis of x (per-axis boundaries)
    b0, b1 = (boundary[outer], boundary[inner]) if isinstance(boundary, tuple) else (boundary,) * 2
    rows_idx = _boundary.index_map(np.arange(starts[outer], starts[outer] + m0 + kv - 1), n0, b0)
    cols_idx = _boundary.index_map(np.arange(starts[inner], starts[inner] + m1 + kh - 1), n1, b1)
    th = s.sep_tile_rows or max(64, 8 * (kv - 1))
    n_chunks = -(-m1 // chunk)
    while th > 16 and -(-m0 // th) * n_chunks * n_planes < 4 * n_threads:
        th //= 2
    wv = np.ascontiguousarray(factors[outer])
    wh = np.ascontiguousarray(factors[inner])
    cv = x.dtype.type(cval)
    xo = x.transpose(order)
    oo = out.transpose(order)
    for pos in np.ndindex(*oo.shape[:-2]):
        xp = xo[pos] if pos else xo
        op = oo[pos] if pos else oo
        item = xp.itemsize
        if (not xp.flags.aligned or any(st < 0 or st % item for st in xp.strides)):
            xp = np.ascontiguousarray(xp)
        s0, s1 = (st // item for st in xp.strides)
        span = 1 + (n0 - 1) * s0 + (n1 - 1) * s1
        flat = np.lib.stride_tricks.as_strided(xp, shape=(span,), strides=(item,), writeable=False)
        vrow = np.where(rows_idx >= 0, rows_idx * s0, -1).astype(np.intp)
        hcol = np.where(cols_idx >= 0, cols_idx * s1, -1).astype(np.intp)
        lin_lo = lin_hi = 0
        if s1 == 1:
            lin_lo = min(max(0, -starts[inner]), m1 + kh - 1)
            lin_hi = min(max(lin_lo, n1 - starts[inner]), m1 + kh - 1)
        dst = op if op.flags.c_contiguous else np.empty(op.shape, dtype=op.dtype)
        mod.correlate_sep2d(flat, dst, wv, wh, vrow, hcol, lin_lo, lin_hi, cv, th, chunk,
                            n_threads)
        if dst is not op:
            op[...] = dst
    return True


def _along(v, a, ndim):
    shape = [1] * ndim
    shape[a] = v.shape[0]
    return v.reshape(shape)


def _passes(x, factors, axes, starts, out_shape, boundary, cval, n_threads, out, keep=None):
    """The 1-D passes of ``factors`` in the order ``axes``, the last into ``out``.

    The first pass also applies the start of axis ``keep`` (extended by the
    index maps as a one-tap kernel), so that its output covers ``out_shape``
    along that axis.
    """
    cur = x
    shape = list(x.shape)
    if keep is not None:
        shape[keep] = out_shape[keep]
    for i, a in enumerate(axes):
        st = [0] * x.ndim
        st[a] = starts[a]
        if i == 0 and keep is not None:
            st[keep] = starts[keep]
        shape[a] = out_shape[a]
        dst = out if i == len(axes) - 1 else _direct.empty_like_order(cur, shape, x.dtype)
        _direct.correlate_direct(cur, _along(factors[a], a, x.ndim), st, tuple(shape), boundary,
                                 cval, n_threads, dst)
        if _boundary.reads_cval(boundary):
            cval = cval * factors[a].sum(dtype=factors[a].dtype)
        cur = dst
    return out

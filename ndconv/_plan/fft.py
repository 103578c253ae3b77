"""FFT method: the same "valid correlation of the extended input" as the direct
path, computed with real (or complex) transforms along the convolved axes only.

scipy.fft is used when importable (faster, threaded, keeps float32), else numpy.fft.
It is imported at the first transform, not with ndconv: importing it costs more
than importing numpy itself, and most calls never take the FFT path.
"""
import contextlib
import functools
import math
import threading

import numpy as np

from . import boundary as _boundary
from . import tuning as _tuning

_sfft = None  # scipy.fft once looked up; False when scipy is not installed

# The most dimensions the FFT path handles: it adds an axis (the blocks of the
# blocked axis), and numpy arrays have at most 64.
MAX_NDIM = 63

# Kernel spectra kept within a ``shared_spectra`` block, per thread.
_shared = threading.local()


@contextlib.contextmanager
def shared_spectra():
    """Within the block, correlations with the same kernel and transform shape
    compute the kernel's spectrum once (normalized convolution transforms the
    data and the present-sample weights with one kernel).  Transforms in the
    block are not trimmed by ``zero_trims``, so that the two calls, whose
    extensions differ (cval 0 and 1), have the same lengths."""
    outer = getattr(_shared, "spectra", None)
    if outer is None:
        _shared.spectra = {}
    try:
        yield
    finally:
        if outer is None:
            _shared.spectra = None


def _kernel_spectrum(fwd, wf, t_shape, t_axes, kw):
    spectra = getattr(_shared, "spectra", None)
    if spectra is None:
        return fwd(wf, s=t_shape, axes=t_axes, **kw)
    key = (fwd, wf.shape, wf.dtype.str, tuple(t_shape), tuple(t_axes),
           np.ascontiguousarray(wf).tobytes())
    spec = spectra.get(key)
    if spec is None:
        spec = spectra[key] = fwd(wf, s=t_shape, axes=t_axes, **kw)
    return spec


def _scipy_fft():
    """The scipy.fft module, imported on first use, or None without scipy."""
    global _sfft
    if _sfft is None:
        try:  # scipy is optional at run time
            import scipy.fft as module
        except ImportError:  # pragma: no cover - exercised in environments without scipy
            module = False
        _sfft = module
    return _sfft or None


def backend():
    """Name of the FFT library in use (imports scipy.fft if it was not yet)."""
    return "scipy.fft" if _scipy_fft() is not None else "numpy.fft"


def next_fast_len(n, real):
    sfft = _scipy_fft()
    if sfft is not None:
        return sfft.next_fast_len(n, real=real)
    # 5-smooth sizes for pocketfft in numpy
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _transforms(real):
    sfft = _scipy_fft()
    if sfft is not None:
        if real:
            return sfft.rfftn, sfft.irfftn, True
        return sfft.fftn, sfft.ifftn, True
    if real:
        return np.fft.rfftn, np.fft.irfftn, False
    return np.fft.fftn, np.fft.ifftn, False


def _group_samples(out_size, budget):
    """Samples per group of blocks (``tuning.Settings.fft_group_samples``)."""
    return max(budget, out_size // 8)


# Cost-model constants (seconds), set from cost_model.json by _method.configure:
# per sample * log2(transform size) of one real float32 transform, the factor for
# transforms too large for cache, the per-sample cost of products/copies/crops,
# and the fixed cost of a call.
FFT_SECONDS = 1.0e-10
FFT_LARGE_BYTES = 1 << 18
FFT_LARGE_FACTOR = 2.5
FFT_PER_SAMPLE = 1.5e-9
FFT_CALL = 8e-5
FFT_DTYPE_FACTOR = {"float32": 1.0, "float64": 1.2, "complex64": 2.0, "complex128": 2.4}
# dtype.char -> the names used in _cost_model.json (dtype.name is slow to compute)
DTYPE_NAMES = {"f": "float32", "d": "float64", "F": "complex64", "D": "complex128"}


def configure(params):
    """Install cost-model constants (a dict as stored in ``cost_model.json``)."""
    global FFT_SECONDS, FFT_LARGE_BYTES, FFT_LARGE_FACTOR, FFT_PER_SAMPLE, FFT_CALL
    FFT_SECONDS = float(params["per_sample_log2"])
    FFT_LARGE_BYTES = int(params["large_bytes"])
    FFT_LARGE_FACTOR = float(params["large_factor"])
    FFT_PER_SAMPLE = float(params["per_sample"])
    FFT_CALL = float(params["call"])
    FFT_DTYPE_FACTOR.update(params["dtype_factor"])
    _plan.cache_clear()


def transform_seconds(size, count, dtype):
    """Estimated seconds for ``count`` transforms of ``size`` samples each."""
    dtype = np.dtype(dtype)
    per = FFT_SECONDS * FFT_DTYPE_FACTOR.get(DTYPE_NAMES.get(dtype.char), 2.0)
    if is_large(size, dtype):
        per *= FFT_LARGE_FACTOR
    return count * size * (per * math.log2(max(2, size)) + FFT_PER_SAMPLE)


def is_large(size, dtype):
    """A transform whose input no longer fits in the L2 cache (with its output),
    slower per sample by ``FFT_LARGE_FACTOR`` (fitted by
    ``benchmarks/calibrate_auto.py``)."""
    return size * np.dtype(dtype).itemsize > FFT_LARGE_BYTES


def block_plan(m, k, other, dtype, max_samples=None, trim=0):
    """Overlap-save block along one axis: ``(seconds, L, B, nblocks)``.

    ``L`` is the transform length, ``B = L - k + 1`` the outputs per block, and
    ``other`` the product of the transform lengths of the other transformed axes.
    The estimated time is minimised over lengths from about ``2k`` up to a
    single block covering all ``m + k - 1 - trim`` samples (the plain FFT; see
    ``zero_trims`` for ``trim``), so short kernels on long signals get
    overlap-save and everything else one transform; blocks of more than
    ``max_samples`` samples (``L * other``) are taken only if no shorter length
    exists, which bounds memory for large outputs.
    """
    real = np.dtype(dtype).kind == "f"
    full = next_fast_len(m + k - 1 - trim, real)
    best = (math.inf, full, m, 1)
    L = next_fast_len(2 * k, real)
    while True:
        L = min(L, full)
        B = m if L >= full else L - k + 1
        nb = -(-m // B)
        # forward and inverse of every block
        t = 2 * transform_seconds(L * other, nb, dtype)
        too_big = max_samples is not None and L * other > max_samples and best[0] < math.inf
        if t < best[0] and not too_big:
            best = (t, L, B, nb)
        if L >= full:
            break
        L = next_fast_len(2 * L, real)
    return best


def zero_trims(n_shape, starts, out_shape, w_shape, boundary, cval):
    """Samples of circular slack per axis that zero extension gives for free.

    The extended window of an axis holds ``p`` zeros, the ``n'`` input samples
    it overlaps, then ``z`` zeros (``W = p + n' + z = m + k - 1``).  A circular
    correlation of length ``L`` of the window started ``t = min(p, z, k - 1)``
    samples in is exact for every output when ``L >= W - t``: the outputs that
    wrap around read only the trailing zeros.  So "full" mode transforms
    ``n + k - 1`` samples, as a plain linear convolution does, instead of
    ``n + 2k - 2``.  Any other extension carries data, hence no slack.
    """
    if cval != 0:
        return (0,) * len(w_shape)
    trims = []
    for a, (n, st, m, k) in enumerate(zip(n_shape, starts, out_shape, w_shape)):
        if _boundary.on_axis(boundary, a) != "constant":
            trims.append(0)
            continue
        end = st + m + k - 1
        p = min(max(0, -st), m + k - 1)
        z = min(max(0, end - n), m + k - 1)
        trims.append(max(0, min(p, z, k - 1)) if k > 1 else 0)
    return tuple(trims)


def plan(out_shape, w_shape, dtype, trims=None):
    """See ``_plan``; cached, since it depends on the shapes and dtype only
    (and the group budget, ``tuning.Settings.fft_group_samples``)."""
    trims = (0,) * len(w_shape) if trims is None else tuple(trims)
    return _plan(tuple(out_shape), tuple(w_shape), np.dtype(dtype).char, trims,
                 _tuning.SETTINGS.fft_group_samples)


@functools.lru_cache(maxsize=256)
def _plan(out_shape, w_shape, dtype, trims, group_budget):
    """The FFT plan: ``(seconds, blocked_axis, L, B, nblocks, sizes)``.

    ``seconds`` covers the transforms on one thread, without the fixed call
    cost ``FFT_CALL``; ``sizes[a]`` is the transform length of every other
    convolved axis ``a``; ``trims`` as from ``zero_trims``.
    """
    real = np.dtype(dtype).kind == "f"
    axes = [a for a in range(len(w_shape)) if w_shape[a] > 1]
    sizes = {a: next_fast_len(out_shape[a] + w_shape[a] - 1 - trims[a], real) for a in axes}
    batch = math.prod(out_shape[a] for a in range(len(out_shape)) if a not in axes)
    max_samples = _group_samples(math.prod(out_shape), group_budget) // max(1, batch)
    best = None
    for b in axes:
        other = math.prod(sizes[a] for a in axes if a != b)
        t, L, B, nb = block_plan(out_shape[b], w_shape[b], other, dtype, max_samples, trims[b])
        t = t * batch + transform_seconds(L * other, 1, dtype)
        if best is None or t < best[0]:
            best = (t, b, L, B, nb, sizes)
    return best


def correlate_fft(x, w, starts, out_shape, boundary, cval, n_threads, axes=None):
    """Valid correlation of ``x`` (extended by ``boundary``) with ``w`` by FFT.

    Arguments as in ``_direct.correlate_direct``; returns a new array of the
    compute dtype.  Transforms run only along the convolved axes, real
    transforms for real data, with overlap-save blocking along the convolved
    axis where it pays most (long signals, short kernels).  ``axes`` names the
    convolved axes when ``w`` also varies along others: a batch of kernels,
    whose spectra multiply the input's by broadcasting (``out_shape`` is the
    broadcast there).
    """
    dtype = np.result_type(x, w)
    if axes is None:
        axes = [a for a in range(x.ndim) if w.shape[a] > 1]
    w_conv = tuple(w.shape[a] if a in axes else 1 for a in range(x.ndim))
    axes = [a for a in axes if w.shape[a] > 1]
    if not axes:  # a 1-tap kernel (per batch index): a scaling
        return np.asarray(x * w, dtype=dtype)
    lengths = [out_shape[a] + w.shape[a] - 1 for a in axes]
    real = dtype.kind == "f"
    fwd, inv, has_workers = _transforms(real)
    kw = {"workers": n_threads} if has_workers else {}
    trims = [0] * len(w.shape)
    if getattr(_shared, "spectra", None) is None:
        trims = list(zero_trims(x.shape, starts, out_shape, w_conv, boundary, cval))
    _, b, L, B, nb, sizes = plan(out_shape, w_conv, dtype, trims)
    if nb > 1:
        trims[b] = 0  # overlap-save blocks are not circular
    batch = math.prod(out_shape[a] for a in range(x.ndim) if a not in axes)
    kb, mb = w.shape[b], out_shape[b]
    ib = axes.index(b)

    # w: flipped along the convolved axes (correlation = convolution with flip(w)),
    # axis b moved last and a broadcast axis left in its place
    wf = w[tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(w.ndim))]
    wf = np.expand_dims(np.moveaxis(wf, b, -1), b)
    t_axes = [a for a in axes if a != b] + [x.ndim]
    t_shape = [sizes[a] for a in axes if a != b] + [L]
    wspec = _kernel_spectrum(fwd, wf, t_shape, t_axes, kw)

    out = np.empty(out_shape, dtype=dtype)
    crop = [slice(None)] * (x.ndim + 1)
    for a in axes:
        if a != b:
            crop[a] = slice(w.shape[a] - 1 - trims[a], w.shape[a] - 1 - trims[a] + out_shape[a])
    crop[-1] = slice(kb - 1 - trims[b], kb - 1 - trims[b] + B)
    zero_fill = not isinstance(cval, _boundary.AxisCvals) and cval == 0
    per_block = max(1, batch * math.prod(t_shape))
    # at least one block per thread: scipy.fft parallelises over the blocks of a group
    group = max(n_threads, _group_samples(math.prod(out_shape), _tuning.SETTINGS.fft_group_samples)
                // per_block)
    for g0 in range(0, nb, group):
        g1 = min(nb, g0 + group)
        # the extended input of this group only: blocks g0..g1-1 cover samples
        # [g0*B, (g1-1)*B + L) of the extended axis b (zeros past its end)
        st = [starts[a] + trims[a] for a in axes]
        ln = [n - trims[a] for a, n in zip(axes, lengths)]
        st[ib] = starts[b] + trims[b] + g0 * B
        ln[ib] = min((g1 - g0 - 1) * B + L, lengths[ib] - trims[b] - g0 * B)
        if nb == 1:
            # one block, which the transform zero-pads to its lengths: zeros
            # that a zero fill would append need not be copied in (a 30k-sample
            # signal's full convolution then transforms a view of it)
            for i, a in enumerate(axes):
                if (zero_fill and _boundary.on_axis(boundary, a) == "constant"
                        and st[i] < x.shape[a] < st[i] + ln[i]):
                    ln[i] = x.shape[a] - st[i]
        xe = _boundary.extend(x, st, ln, boundary, cval, axes)
        if nb == 1:
            seg = np.expand_dims(np.moveaxis(xe, b, -1), b)
        else:
            need = (g1 - g0 - 1) * B + L
            if xe.shape[b] < need:
                pad = [(0, 0)] * xe.ndim
                pad[b] = (0, need - xe.shape[b])
                xe = np.pad(xe, pad)
            seg = np.lib.stride_tricks.sliding_window_view(xe, L, axis=b)
            sl = [slice(None)] * seg.ndim
            sl[b] = slice(0, (g1 - g0 - 1) * B + 1, B)
            seg = seg[tuple(sl)]                       # (..., blocks at b, ..., L)
        spec = fwd(seg, s=t_shape, axes=t_axes, **kw)
        del xe, seg
        if all(n >= m for n, m in zip(spec.shape, wspec.shape)):
            spec *= wspec
        else:     # x broadcast against a batch of kernels
            spec = spec * wspec
        res = inv(spec, s=t_shape, axes=t_axes, **kw)
        del spec
        res = np.moveaxis(res[tuple(crop)], -1, b + 1)  # (..., blocks, B, ...)
        lo, hi = g0 * B, min(mb, g1 * B)
        dst = [slice(None)] * out.ndim
        dst[b] = slice(lo, hi)
        shp = res.shape[:b] + ((g1 - g0) * B,) + res.shape[b + 2:]
        src = [slice(None)] * out.ndim
        src[b] = slice(0, hi - lo)
        out[tuple(dst)] = res.reshape(shp)[tuple(src)]
    return out

"""FFT method: the same "valid correlation of the extended input" as the direct
path, computed with real (or complex) transforms along the convolved axes only.

scipy.fft is used when importable (faster, threaded, keeps float32), else numpy.fft.
"""
import numpy as np

from . import _boundary

try:  # scipy is optional at run time
    import scipy.fft as _sfft
except ImportError:  # pragma: no cover - exercised in environments without scipy
    _sfft = None


def backend():
    """Name of the FFT library in use."""
    return "scipy.fft" if _sfft is not None else "numpy.fft"


def next_fast_len(n, real):
    if _sfft is not None:
        return _sfft.next_fast_len(n, real=real)
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
    if _sfft is not None:
        if real:
            return _sfft.rfftn, _sfft.irfftn, True
        return _sfft.fftn, _sfft.ifftn, True
    if real:
        return np.fft.rfftn, np.fft.irfftn, False
    return np.fft.fftn, np.fft.ifftn, False


def correlate_fft(x, w, starts, out_shape, boundary, cval, n_threads):
    """Valid correlation of ``x`` (extended by ``boundary``) with ``w`` by FFT.

    Arguments as in ``_direct.correlate_direct``; returns a new array of the
    compute dtype.
    """
    dtype = np.result_type(x, w)
    axes = [a for a in range(x.ndim) if w.shape[a] > 1]
    if not axes:  # a 1-tap kernel: a scaling
        return (x * w.reshape(()) if w.ndim == 0 else x * w.reshape(-1)[0]).astype(dtype, copy=False)
    lengths = [out_shape[a] + w.shape[a] - 1 for a in axes]
    xe = _boundary.extend(x, [starts[a] for a in axes], lengths, boundary, cval, axes)
    real = dtype.kind == "f"
    shape = [next_fast_len(L, real) for L in lengths]
    fwd, inv, has_workers = _transforms(real)
    kw = {"workers": n_threads} if has_workers else {}
    wf = w[tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(w.ndim))]
    spec = fwd(xe, s=shape, axes=axes, **kw)
    spec *= fwd(wf, s=shape, axes=axes, **kw)
    full = inv(spec, s=shape, axes=axes, **kw)
    sl = [slice(None)] * x.ndim
    for a in axes:
        k = w.shape[a]
        sl[a] = slice(k - 1, k - 1 + out_shape[a])
    return np.asarray(full[tuple(sl)], dtype=dtype)

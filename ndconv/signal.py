"""Drop-in replacements for scipy.signal's convolution functions.

``from ndconv import signal`` instead of ``from scipy import signal`` for
``convolve``, ``correlate``, ``fftconvolve``, ``oaconvolve``, ``convolve2d``,
``correlate2d``, ``choose_conv_method`` and ``correlation_lags``: the same
arguments, defaults, result shapes and dtypes (exact integer results), the same
exceptions.  Each function adds one keyword, ``workers=``, with the meaning it
has in :func:`ndconv.convolve`.
"""
from __future__ import annotations

import inspect
import numbers
import operator
import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._api import _batched_fft, correlate_nd, geometry
from ._core import omp_max_threads, omp_num_procs
from ._plan import boundary as _boundaries
from ._plan import dropin as _dropin
from ._plan import method as _method
from ._plan.validation import resolve_workers, warn_fft_nonfinite

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike, NDArray

    from ._plan.validation import Method, Mode

    Axes = int | Sequence[int] | None
    Boundary2d = Literal["fill", "pad", "wrap", "circular", "symm", "symmetric"]

__all__ = ["convolve", "correlate", "fftconvolve", "oaconvolve", "convolve2d", "correlate2d",
           "choose_conv_method", "correlation_lags"]

_MODES = ("valid", "same", "full")
_METHODS = ("auto", "direct", "fft")
_MODE_ERROR = "Acceptable mode flags are 'valid', 'same', or 'full'."
_METHOD_ERROR = "Acceptable method flags are 'auto', 'direct', or 'fft'."
_VALID_ERROR = ("For 'valid' mode, one must be at least as large as the other in every "
                "dimension")


# One description per parameter, shared by every function below that takes it
# (``{in2}`` and ``{op}`` are filled in per function).
_PARAMS = {
    "in1": """in1 : array_like
    First input.""",
    "in2": """in2 : array_like
    Second input, {in2}.""",
    "mode": """mode : {{'full', 'valid', 'same'}}, optional
    ``'full'`` (default) the full discrete linear convolution; ``'valid'``
    only the elements that do not rely on zero-padding (one input must be at
    least as large as the other in every dimension); ``'same'`` the size of
    ``in1``, centred with respect to ``'full'``.""",
    "method": """method : {{'auto', 'direct', 'fft'}}, optional
    ``'direct'`` sums the products, ``'fft'`` uses transforms, ``'auto'``
    (default) picks the faster by ndconv's cost model (never FFT for input
    holding NaN or inf).  Integer and bool results are always exact.""",
    "axes": """axes : int or array_like of ints or None, optional
    Axes to convolve over (default all).  Along the other axes the inputs
    must have equal sizes or size 1, and broadcast.""",
    "boundary": """boundary : {{'fill', 'wrap', 'symm'}}, optional
    How ``in1`` is extended: ``'fill'`` (or ``'pad'``) with ``fillvalue``,
    ``'wrap'`` (or ``'circular'``) periodically, ``'symm'`` (or
    ``'symmetric'``) mirrored with the edge sample repeated.""",
    "fillvalue": """fillvalue : scalar, optional
    Value for ``boundary='fill'``.  Default 0.""",
    "workers": """workers : int, optional
    Threads, as in :func:`ndconv.{op}` (``None`` all OpenMP allows, ``-1``
    every core, ``n`` exactly ``n``).  Not in scipy.""",
}


def _document(func, summary, params, returns, examples, *, notes="", **fill):
    """Set ``func.__doc__`` (numpydoc) from its own summary, returns, notes and
    examples, and the shared descriptions of ``params``."""
    fill.setdefault("op", "correlate" if "correlate" in func.__name__ else "convolve")
    described = "\n".join(_PARAMS[name].format(**fill) for name in params)
    func.__doc__ = "\n\n".join(part for part in (
        inspect.cleandoc(summary), "Parameters\n----------\n" + described,
        "Returns\n-------\n" + returns.strip(), notes.strip(),
        "Examples\n--------\n" + examples.strip()) if part) + "\n"


def _check_mode(mode, message=_MODE_ERROR):
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(message)


def _valid_swap(mode, s1, s2, axes=None):
    """scipy's rule for 'valid': True when ``in2`` is the larger input, ValueError
    when neither is at least as large as the other along every axis."""
    if mode != "valid" or not s1:
        return False
    axes = range(len(s1)) if axes is None else axes
    ok1 = all(s1[i] >= s2[i] for i in axes)
    ok2 = all(s2[i] >= s1[i] for i in axes)
    if not (ok1 or ok2):
        raise ValueError(_VALID_ERROR)
    return not ok1


def _inputs(in1, in2, allow_object=False):
    in1 = np.asarray(in1)
    in2 = np.asarray(in2)
    _dropin.check_numeric(in1, "in1", allow_object)
    _dropin.check_numeric(in2, "in2", allow_object)
    return in1, in2


def _warn_nonfinite(method, *arrays):
    """scipy.signal's warning for method='fft' on input holding NaN or inf."""
    if method == "fft":
        warn_fft_nonfinite(arrays, stacklevel=3)


def _convolve_or_correlate(in1, in2, mode, method, workers, correlation):
    in1, in2 = _inputs(in1, in2, allow_object=True)
    if in1.ndim == in2.ndim == 0:
        if correlation and in2.dtype.kind == "c":
            return in1 * np.conj(in2)
        return in1 * in2
    if in1.ndim != in2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality" if correlation
                         else "volume and kernel should have the same dimensionality")
    _check_mode(mode)
    _valid_swap(mode, in1.shape, in2.shape)
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(_METHOD_ERROR)
    if in1.size == 0 or in2.size == 0:
        raise ValueError("in1 and in2 must not be empty (shapes %s and %s)"
                         % (in1.shape, in2.shape))
    result = np.result_type(in1, in2)
    if result.kind == "O":
        return _dropin.run_object(in1, in2, mode, flip=not correlation)
    _warn_nonfinite(method, in1, in2)
    return _dropin.run(in1, in2, mode, result, flip=not correlation,
                       conj=correlation, method=method, workers=workers)


def convolve(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", method: Method = "auto", *,
             workers: int | None = None) -> NDArray[Any]:
    return _convolve_or_correlate(in1, in2, mode, method, workers, False)


def correlate(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", method: Method = "auto", *,
              workers: int | None = None) -> NDArray[Any]:
    return _convolve_or_correlate(in1, in2, mode, method, workers, True)


_document(
    convolve,
    """Convolve two N-dimensional arrays, as ``scipy.signal.convolve``.""",
    ("in1", "in2", "mode", "method", "workers"), in2="with as many dimensions as ``in1``",
    returns="""\
ndarray
    In ``np.result_type(in1, in2)``; integer results wrap like integer
    arithmetic, bool results are bool.  Two 0-d inputs give their product.""",
    notes="""\
Warns
-----
RuntimeWarning
    ``method='fft'`` on input holding NaN or inf.""",
    examples="""\
>>> from ndconv import signal
>>> signal.convolve([1, 2, 3], [0, 1, 0.5])
array([0. , 1. , 2.5, 4. , 1.5])
>>> signal.convolve([1, 2, 3], [1, 1], mode="valid")
array([3, 5])""")

_document(
    correlate,
    """Cross-correlate two N-dimensional arrays, as ``scipy.signal.correlate``.

    ``z[k] = sum_l in1[l] * conj(in2[l - k + N - 1])`` (per axis, ``N`` the size
    of ``in2``), with the output extents of :func:`convolve`.""",
    ("in1", "in2", "mode", "method", "workers"), in2="with as many dimensions as ``in1``",
    returns="""\
ndarray
    In ``np.result_type(in1, in2)`` (exact for integer and bool results).""",
    examples="""\
>>> from ndconv import signal
>>> signal.correlate([1, 2, 3], [0, 1, 0.5])
array([0.5, 2. , 3.5, 3. , 0. ])""")


def correlation_lags(in1_len: int, in2_len: int, mode: Mode = "full") -> NDArray[np.int_]:
    """Lag indices for 1-D cross-correlation, as ``scipy.signal.correlation_lags``.

    Parameters
    ----------
    in1_len, in2_len : int
        Sizes of the first and second input.
    mode : {'full', 'valid', 'same'}, optional
        The output extent of the correlation.

    Returns
    -------
    ndarray
        The lag of each element of ``correlate(in1, in2, mode)``.

    Examples
    --------
    >>> from ndconv import signal
    >>> signal.correlation_lags(5, 3, "same")
    array([-1,  0,  1,  2,  3])
    """
    if mode == "full":
        return np.arange(-in2_len + 1, in1_len)
    if mode == "same":
        lags = np.arange(-in2_len + 1, in1_len)
        mid = lags.size // 2
        half = in1_len // 2
        return lags[mid - half:mid + half + (in1_len % 2)]
    if mode == "valid":
        d = in1_len - in2_len
        return np.arange(d + 1) if d >= 0 else np.arange(d, 1)
    raise ValueError(f"Mode {mode} is invalid")


# ---------------------------------------------------------------- FFT family

def _freq_axes(in1, in2, axes):
    """scipy's axes normalisation for fftconvolve/oaconvolve, with its errors."""
    ndim = in1.ndim
    if axes is None:
        axes = list(range(ndim))
    else:
        if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
            axes = [axes]
        try:
            axes = [operator.index(a) for a in np.atleast_1d(axes).tolist()] \
                if not isinstance(axes, (list, tuple)) else [operator.index(a) for a in axes]
        except TypeError:
            raise ValueError("axes must be a scalar or iterable of integers") from None
        if not axes:
            raise ValueError("when provided, axes cannot be empty")
        if any(a >= ndim or a < -ndim for a in axes):
            raise ValueError("axes exceeds dimensionality of input")
        axes = [a % ndim for a in axes]
        if len(set(axes)) != len(axes):
            raise ValueError("all axes must be unique")
    s1, s2 = in1.shape, in2.shape
    # size-1 axes need no transform: they broadcast like the other axes
    axes = sorted(a for a in axes if s1[a] != 1 and s2[a] != 1)
    if not all(s1[a] == s2[a] or s1[a] == 1 or s2[a] == 1 for a in range(ndim) if a not in axes):
        raise ValueError(f"incompatible shapes for in1 and in2: {s1} and {s2}")
    return axes


def _fft_result_dtype(*arrays):
    """The dtype scipy's FFT convolutions return: integers and bool transform as
    float64, float16 as float32, and the product's dtype follows."""
    def spectral(a):
        k = a.dtype.kind
        if k in "biu":
            return np.dtype(np.float64)
        if k == "f" and a.dtype.itemsize < 4:
            return np.dtype(np.float32)
        return a.dtype
    return np.result_type(*(spectral(a) for a in arrays))


def _centered(arr, newshape):
    start = [(c - n) // 2 for c, n in zip(arr.shape, newshape)]
    return arr[tuple(slice(s, s + n) for s, n in zip(start, newshape))]


def _apply_mode(ret, s1, s2, mode, axes):
    """Cut the full result to ``mode`` as scipy does (copies, never views)."""
    if mode == "full":
        return ret.copy()
    if mode == "same":
        return _centered(ret, s1).copy()
    shape = [ret.shape[a] if a not in axes else s1[a] - s2[a] + 1 for a in range(ret.ndim)]
    return _centered(ret, shape).copy()


def _freq_convolve(in1, in2, mode, axes, workers):
    """fftconvolve / oaconvolve: the semantics are scipy's, the transforms ndconv's."""
    in1, in2 = _inputs(in1, in2)
    if in1.ndim == in2.ndim == 0:
        return in1 * in2
    if in1.ndim != in2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    if in1.size == 0 or in2.size == 0:
        return np.asarray([])
    axes = _freq_axes(in1, in2, axes)
    _check_mode(mode, "acceptable mode flags are 'valid', 'same', or 'full'")
    if _valid_swap(mode, in1.shape, in2.shape, axes):
        in1, in2 = in2, in1
    s1, s2 = in1.shape, in2.shape
    if not axes:
        return _apply_mode(in1 * in2, s1, s2, mode, axes)
    result = _fft_result_dtype(in1, in2)
    cdt = _dropin.compute_dtype_for(result)
    others = [d for d in range(in1.ndim) if d not in axes]
    kshape = [s2[a] for a in axes]
    if all(s2[d] == 1 for d in others):
        # one kernel for every slice: the unified API's own case, in scipy's geometry
        res = correlate_nd(in1, in2.reshape(kshape), mode, "constant", 0, 0, axes, "fft",
                           workers, None, flip=True, compute_dtype=cdt)
        return _dropin.from_compute(res, result)
    if all(s1[d] == 1 for d in others):
        # convolution commutes: in1 is the kernel of every slice of in2
        ret = correlate_nd(in2, in1.reshape([s1[a] for a in axes]), "full", "constant", 0, 0,
                           axes, "fft", workers, None, flip=True, compute_dtype=cdt)
    else:
        # both vary along other axes: a batch of kernels (in2's other axes first)
        batch = np.moveaxis(in2, axes, list(range(in2.ndim - len(axes), in2.ndim)))
        ret = _batched_fft(in1, batch, "full", "constant", 0, 0, axes, workers, True, False, cdt,
                           warn_nonfinite=False)
    return _dropin.from_compute(_apply_mode(ret, s1, s2, mode, axes), result)


def fftconvolve(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", axes: Axes = None, *,
                workers: int | None = None) -> NDArray[Any]:
    return _freq_convolve(in1, in2, mode, axes, workers)


def oaconvolve(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", axes: Axes = None, *,
               workers: int | None = None) -> NDArray[Any]:
    return _freq_convolve(in1, in2, mode, axes, workers)


_document(
    fftconvolve,
    """Convolve two N-dimensional arrays using FFT, as ``scipy.signal.fftconvolve``.""",
    ("in1", "in2", "mode", "axes", "workers"), in2="with as many dimensions as ``in1``",
    returns="""\
ndarray
    Float results as scipy's: integer and bool inputs give float64, float16
    float32, complex inputs complex.  Empty inputs give an empty array,
    two 0-d inputs their product.""",
    examples="""\
>>> import numpy as np
>>> from ndconv import signal
>>> np.round(signal.fftconvolve([1.0, 2.0, 3.0], [1.0, 1.0, 0.5]), 12)
array([1. , 3. , 5.5, 4. , 1.5])""")

_document(
    oaconvolve,
    """Convolve two N-dimensional arrays, as ``scipy.signal.oaconvolve``.

    The result is :func:`fftconvolve`'s: ndconv's FFT path already splits long
    signals into overlap-save blocks when that is faster, which is the purpose
    of scipy's overlap-add function.""",
    ("in1", "in2", "mode", "axes", "workers"), in2="with as many dimensions as ``in1``",
    returns="""\
ndarray
    As :func:`fftconvolve`.""",
    examples="""\
>>> import numpy as np
>>> from ndconv import signal
>>> np.round(signal.oaconvolve(np.ones(6), [1.0, 1.0], mode="valid"), 12)
array([2., 2., 2., 2., 2.])""")


def choose_conv_method(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", measure: bool = False, *,
                       workers: int | None = None) -> str | tuple[str, dict[str, float]]:
    """The faster method of :func:`convolve` / :func:`correlate` for these inputs.

    As ``scipy.signal.choose_conv_method``, but the answer is ndconv's: its cost
    model (the one ``method='auto'`` uses), or with ``measure=True`` timings of
    ndconv's two methods.  Integer and bool results are always computed
    directly (exactly), so they give ``'direct'``.

    Parameters
    ----------
    in1, in2 : array_like
        The inputs that will be passed to :func:`convolve` or :func:`correlate`.
    mode : {'full', 'valid', 'same'}, optional
        As in :func:`convolve`.
    measure : bool, optional
        Time both methods and return the times too.
    workers : int, optional
        Threads assumed (or used, with ``measure``).  Not in scipy.

    Returns
    -------
    method : str
        ``'fft'`` or ``'direct'``.
    times : dict, optional
        With ``measure=True``: seconds per call of each method.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv import signal
    >>> signal.choose_conv_method(np.ones(10), np.ones(3))
    'direct'
    """
    volume = np.asarray(in1)
    kernel = np.asarray(in2)
    if measure:
        # imported here: most calls never time
        from ._tools.timing import median_time

        times = {}
        for m in ("fft", "direct"):
            times[m] = median_time(lambda m=m: convolve(volume, kernel, mode=mode, method=m,
                                                        workers=workers), budget=0.05)[0]
        return ("fft" if times["fft"] < times["direct"] else "direct"), times
    _check_mode(mode, "Acceptable mode flags are 'valid', 'same', or 'full', not mode=%s" % (mode,))
    if (volume.ndim != kernel.ndim or volume.ndim == 0 or volume.size == 0 or kernel.size == 0
            or volume.dtype.kind not in "biufc" or kernel.dtype.kind not in "biufc"):
        return "direct"
    result = np.result_type(volume, kernel)
    if result.kind not in "fc":
        return "direct"
    try:
        _valid_swap(mode, volume.shape, kernel.shape)
    except ValueError:
        return "direct"
    cdt = _dropin.compute_dtype_for(result)
    x = np.asarray(volume, dtype=cdt)
    w = np.asarray(kernel, dtype=cdt)
    _, out_shape = geometry(x.shape, w.shape, mode, [0] * x.ndim)
    n_threads = resolve_workers(workers, omp_max_threads(), omp_num_procs())
    method, _ = _method.choose(x, w, out_shape, n_threads)
    return "fft" if method == "fft" else "direct"


# ---------------------------------------------------------------- 2-D

_BOUNDARIES = _boundaries.FROM_SIGNAL_2D


def _fillvalue(fillvalue, dtype):
    """scipy's conversion of ``fillvalue`` to the result dtype, with its errors."""
    if isinstance(fillvalue, (np.ndarray, np.generic)) and not np.can_cast(
            np.asarray(fillvalue).dtype, dtype, "safe"):
        ok = False
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fill = np.array(fillvalue, dtype=dtype)
            ok = True
        except (TypeError, ValueError, OverflowError):
            ok = False
    if not ok:
        # like scipy: retry through complex (raising its errors), then refuse
        np.array(fillvalue, dtype=np.complex128)
        raise ValueError("could not cast `fillvalue` directly to the output type (it was "
                         "first converted to complex).")
    if fill.size != 1:
        if fill.size == 0:
            raise ValueError("`fillvalue` cannot be an empty array.")
        raise ValueError("`fillvalue` must be scalar or an array with one element.")
    return fill.reshape(())[()]


def _conv2d(in1, in2, mode, boundary, fillvalue, workers, correlation):
    name = "correlate2d" if correlation else "convolve2d"
    in1 = np.asarray(in1)
    in2 = np.asarray(in2)
    if not in1.ndim == in2.ndim == 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays")
    swapped = _valid_swap(mode, in1.shape, in2.shape)
    if swapped:
        in1, in2 = in2, in1
    _check_mode(mode)
    if not isinstance(boundary, str) or boundary not in _BOUNDARIES:
        if boundary == "reflect":
            raise ValueError("Incorrect boundary value.")
        raise ValueError("Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and "
                         "'symmetric' (or 'symm').")
    bnd = _BOUNDARIES[boundary]
    try:
        result = np.result_type(in1, in2)
    except TypeError:
        result = np.dtype(object)
    # scipy's 2-D code has no bool, float16 or non-numeric kernel
    if result.kind not in "iufc" or result == np.float16:
        raise ValueError("convolve2d not available for this type.")
    fill = _fillvalue(fillvalue, result) if bnd == "constant" else result.type(0)
    if in1.size == 0 or in2.size == 0:
        return _empty2d(in1.shape, in2.shape, mode, result)
    cdt = _dropin.compute_dtype_for(result)
    if cdt.kind == "i":
        fill = np.asarray(fill).astype(np.int64)[()]  # wraps like the result type
    if cdt.kind == "i" and abs(int(fill)) > 2 ** 53:
        # the core reads cval through a Python complex (53 bits): pad explicitly
        k0, k1 = in2.shape
        x = np.pad(np.asarray(in1, dtype=np.int64), ((k0 - 1, k0 - 1), (k1 - 1, k1 - 1)),
                   constant_values=fill)
        # offsets of the mode's window in the valid result of the padded input;
        # correlate2d centres even kernels one sample later than convolve2d
        same = (k0 // 2, k1 // 2) if correlation else ((k0 - 1) // 2, (k1 - 1) // 2)
        geo = {"full": (0, 0), "same": same, "valid": (k0 - 1, k1 - 1)}
        res = _dropin.run(x, in2, "valid", result, flip=not correlation, conj=correlation,
                          workers=workers)
        r0, r1 = geo[mode]
        n0, n1 = _out2d(in1.shape, in2.shape, mode)
        return res[r0:r0 + n0, r1:r1 + n1].copy()
    if correlation:
        k = np.conj(in2) if in2.dtype.kind == "c" else in2
        # scipy correlates the swapped inputs and reverses, without conjugating
        # scipy's 2-D correlation centres even kernels at (n - 1) // 2, not n // 2
        origin = [-(1 - n % 2) for n in in2.shape] if mode == "same" else 0
        res = _dropin.run(in1, k, mode, result, boundary=bnd, cval=fill, origin=origin,
                          workers=workers)
        return res[::-1, ::-1].copy() if swapped else res
    return _dropin.run(in1, in2, mode, result, flip=True, boundary=bnd, cval=fill,
                       workers=workers)


def _out2d(s1, s2, mode):
    if mode == "full":
        return tuple(a + b - 1 for a, b in zip(s1, s2))
    if mode == "same":
        return tuple(s1)
    return tuple(a - b + 1 for a, b in zip(s1, s2))


def _empty2d(s1, s2, mode, dtype):
    shape = _out2d(s1, s2, mode)
    if any(n < 0 for n in shape):
        raise ValueError("no part of the output is valid, use option 1 (same) or 2 "
                         "(full) for third argument")
    return np.zeros(shape, dtype=dtype)


def convolve2d(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", boundary: Boundary2d = "fill",
               fillvalue: complex = 0, *, workers: int | None = None) -> NDArray[Any]:
    return _conv2d(in1, in2, mode, boundary, fillvalue, workers, False)


def correlate2d(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", boundary: Boundary2d = "fill",
                fillvalue: complex = 0, *, workers: int | None = None) -> NDArray[Any]:
    return _conv2d(in1, in2, mode, boundary, fillvalue, workers, True)


for _func, _verb, _in2 in ((convolve2d, "Convolve", "2-D as well"),
                          (correlate2d, "Cross-correlate", "2-D as well (conjugated when complex)")):
    _document(
        _func,
        "%s two 2-D arrays, as ``scipy.signal.%s``." % (_verb, _func.__name__),
        ("in1", "in2", "mode", "boundary", "fillvalue", "workers"), in2=_in2,
        returns="""\
ndarray
    In ``np.result_type(in1, in2)``, integers exact.""",
        notes="""\
Raises
------
ValueError
    Inputs not 2-D, bad ``mode``/``boundary``/``fillvalue``, bool or float16
    inputs (as scipy), 'valid' with neither input the larger.""",
        examples="""\
>>> from ndconv import signal
>>> signal.%s([[1, 2], [3, 4]], [[1, 1]])
array([[1, 3, 2],
       [3, 7, 4]])""" % _func.__name__)
del _func, _verb, _in2

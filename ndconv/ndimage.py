"""Drop-in replacements for scipy.ndimage's ``convolve``, ``correlate``,
``convolve1d`` and ``correlate1d``.

``from ndconv import ndimage`` instead of ``from scipy import ndimage``: the same
arguments, defaults, modes, origins, ``axes``, ``output`` (dtype or array), the
same result dtypes and integer casting, the same exceptions.  Each function adds
one keyword, ``workers=``, with the meaning it has in :func:`ndconv.convolve`.

Like scipy.ndimage, the sums are computed in float64 (complex128 for complex
data) and then stored in the output dtype, integers truncated toward zero.
"""
from __future__ import annotations

import numbers
import operator
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._api import correlate_nd
from ._plan import boundary as _boundaries
from ._plan import dropin as _dropin
from ._plan.compat import normalize_axis_index

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike, DTypeLike, NDArray

    Output = NDArray[Any] | DTypeLike | None
    Axes = int | Sequence[int] | None
    Mode = Literal["reflect", "grid-mirror", "mirror", "nearest", "wrap", "grid-wrap", "constant",
                   "grid-constant"]

__all__ = ["convolve", "correlate", "convolve1d", "correlate1d"]

# scipy.ndimage's extension modes as numpy.pad boundaries.
MODES = _boundaries.FROM_NDIMAGE

# dtypes scipy.ndimage's C code reads and writes on its real path
_SUPPORTED = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
    np.uint64, np.float32, np.float64))


def _boundary(mode, sequence_message):
    if not isinstance(mode, str) and isinstance(mode, Iterable):
        raise RuntimeError(sequence_message)
    try:
        return MODES[mode]
    except (KeyError, TypeError):
        raise RuntimeError("boundary mode not supported") from None


def _check_supported(arr):
    if arr.dtype not in _SUPPORTED:
        if arr.dtype.kind in "biufc":
            raise RuntimeError("array type %r not supported" % (arr.dtype,))
        raise RuntimeError("array type not supported")


def _real_cval(cval):
    """cval as scipy.ndimage's C code reads it: a real number."""
    if isinstance(cval, (complex, np.complexfloating)) or isinstance(cval, (str, bytes)):
        raise TypeError("must be real number, not %s" % type(cval).__name__)
    try:
        return float(cval)
    except (TypeError, ValueError):
        raise TypeError("must be real number, not %s" % type(cval).__name__) from None


# type codes that ``np.dtype(dt.name)`` maps to themselves
_CANONICAL = frozenset("?bBhHiIlLefdgFDG")


def _get_output(output, input, complex_output=False):
    """The output array, as scipy.ndimage allocates or checks it."""
    shape = input.shape
    if output is None:
        if not complex_output:
            dt = input.dtype
            # by name, as scipy: native byte order and the canonical type
            # (``dtype.name`` is slow; these types already are canonical)
            if not (dt.isnative and dt.char in _CANONICAL):
                dt = dt.name
            return np.zeros(shape, dtype=dt)
        return np.zeros(shape, dtype=np.promote_types(input.dtype, np.complex64))
    if isinstance(output, (type, np.dtype)):
        if complex_output and np.dtype(output).kind != "c":
            warnings.warn("promoting specified output dtype to complex", stacklevel=4)
            output = np.promote_types(output, np.complex64)
        return np.zeros(shape, dtype=output)
    if isinstance(output, str):
        dt = np.dtype(output)
        if complex_output and dt.kind != "c":
            raise RuntimeError("output must have complex dtype")
        if not issubclass(dt.type, np.number):
            raise RuntimeError("output must have numeric dtype")
        return np.zeros(shape, dtype=dt)
    output = np.asarray(output)
    if output.shape != shape:
        raise RuntimeError("output shape not correct")
    if complex_output and output.dtype.kind != "c":
        raise RuntimeError("output must have complex dtype")
    return output


def _normalize_sequence(value, rank):
    if not isinstance(value, str) and np.iterable(value):
        value = list(value)
        if len(value) != rank:
            raise RuntimeError("sequence argument must have length equal to input rank")
        return value
    return [value] * rank


def _check_axes(axes, ndim):
    """Filtered axes as scipy.ndimage normalises them (and with its errors)."""
    if axes is None:
        return tuple(range(ndim))
    if np.isscalar(axes):
        return (operator.index(axes),)
    if isinstance(axes, Iterable):
        axes = tuple(axes)
        for ax in axes:
            ax = operator.index(ax)
            if ax < -ndim or ax > ndim - 1:
                raise ValueError(f"specified axis: {ax} is out of range")
        axes = tuple(operator.index(ax) % ndim for ax in axes)
    else:
        raise ValueError("axes must be an integer, iterable of integers, or None")
    if len(set(axes)) != len(axes):
        raise ValueError("axes must be unique")
    return axes


def _invalid_origin(origin, lenw):
    return origin < -(lenw // 2) or origin > (lenw - 1) // 2


def _compute(input, weights, origins, boundary, cval, output, workers, conj, nd_filter):
    """Correlate ``input`` with ``weights`` (one axis per input axis) into ``output``.

    The sum runs in float64 (complex128 when complex); the result is stored in
    ``output`` with scipy.ndimage's casting, that of its N-D filters if
    ``nd_filter`` (negative values to unsigned types through their magnitude),
    else that of its 1-D filters.  Integer and bool outputs use the
    direct method only, without fused multiply-adds: their truncation must see
    the same sums as scipy's, not FFT, factorised-kernel or FMA rounding around
    integers.
    """
    if input.size == 0:
        return output
    complex_ = output.dtype.kind == "c"
    cdt = np.dtype(np.complex128 if complex_ else np.float64)
    method = "direct" if output.dtype.kind in "biu" else "auto"
    x, w, org = input, weights, origins
    if input.ndim == 0:  # the core works on arrays of at least one axis
        x, w, org = input.reshape(1), weights.reshape(1), [0]
    direct_out = output.dtype == cdt and input.ndim > 0
    res = correlate_nd(x, w, "same", boundary, cval, org, None, method, workers,
                       output if direct_out else None, conj=conj, compute_dtype=cdt,
                       unfused=method == "direct")
    if not direct_out:
        with np.errstate(invalid="ignore", over="ignore"):
            output[...] = _dropin.c_cast(res, output.dtype,
                                         unsigned_by_magnitude=nd_filter).reshape(output.shape)
    return output


def _complex_cval(cval, input_complex):
    if not input_complex and np.iscomplexobj(cval):
        raise ValueError("Cannot provide a complex-valued cval when the input is real.")
    if isinstance(cval, (str, bytes)):
        raise TypeError("must be real number, not %s" % type(cval).__name__)
    try:
        return complex(cval)
    except (TypeError, ValueError):
        raise TypeError("must be real number, not %s" % type(cval).__name__) from None


def _prepare(input, weights, output, cval):
    """The arrays, whether the data are complex, and for complex data the output
    and cval (scipy checks these first; real outputs are checked later)."""
    input = np.asarray(input)
    weights = np.asarray(weights)
    is_complex = input.dtype.kind == "c" or weights.dtype.kind == "c"
    if is_complex:
        output = _get_output(output, input, complex_output=True)
        cval = _complex_cval(cval, input.dtype.kind == "c")
    return input, weights, is_complex, output, cval


def _correlate_or_convolve(input, weights, output, mode, cval, origin, convolution, axes,
                           workers):
    input, weights, is_complex, output, cval = _prepare(input, weights, output, cval)
    axes = _check_axes(axes, input.ndim)
    weights = np.asarray(weights, dtype=np.complex128 if is_complex else np.float64)
    num_axes = len(axes)
    if num_axes < input.ndim:
        if weights.ndim != num_axes:
            raise RuntimeError(f"weights.ndim ({weights.ndim}) must match len(axes) ({num_axes})")
        # weight axes go to the filtered axes in increasing order, origins in
        # the order of ``axes`` (as scipy.ndimage)
        weights = np.expand_dims(weights, tuple(ax for ax in range(input.ndim) if ax not in axes))
        origins = [0] * input.ndim
        for o, ax in zip(_normalize_sequence(origin, num_axes), axes):
            origins[ax] = o
    else:
        origins = _normalize_sequence(origin, num_axes)
    wshape = [n for n in weights.shape if n > 0]
    if len(wshape) != input.ndim:
        raise RuntimeError(f"weights.ndim ({len(wshape)}) must match len(axes) ({len(axes)})")
    origins = [operator.index(o) for o in origins]
    if convolution:
        # convolving is correlating with the flipped kernel, whose centre
        # moves by one for even sizes
        origins = [-o - (1 - n % 2) for o, n in zip(origins, weights.shape)]
        weights = weights[(slice(None, None, -1),) * weights.ndim]
    for o, n in zip(origins, wshape):
        if _invalid_origin(o, n):
            raise ValueError("Invalid origin; origin must satisfy "
                             "-(weights.shape[k] // 2) <= origin[k] <= "
                             "(weights.shape[k]-1) // 2")
    if not is_complex:
        output = _get_output(output, input)
    boundary = _boundary(mode, "A sequence of modes is not supported")
    return _finish(input, weights, origins, boundary, cval, output, workers, is_complex,
                   conj=not convolution, nd_filter=True)


def _finish(input, weights, origins, boundary, cval, output, workers, is_complex, conj, nd_filter):
    """The dtype checks scipy's C code makes, then the computation."""
    if is_complex:
        # scipy computes complex data as real convolutions of the parts
        _check_supported(input.real if input.dtype.kind == "c" else input)
        _check_supported(output.real)
    else:
        _check_supported(input)
        _check_supported(output)
        cval = _real_cval(cval)
    return _compute(input, weights, origins, boundary, cval, output, workers, conj, nd_filter)


def _correlate1d(input, weights, axis, output, mode, cval, origin, workers, conj):
    input, weights, is_complex, output, cval = _prepare(input, weights, output, cval)
    if not is_complex:
        output = _get_output(output, input)
    weights = np.asarray(weights, dtype=np.complex128 if is_complex else np.float64)
    if weights.ndim != 1 or weights.shape[0] < 1:
        raise RuntimeError("no filter weights given")
    axis = normalize_axis_index(axis, input.ndim)
    if not isinstance(origin, numbers.Integral) or isinstance(origin, bool):
        origin = operator.index(origin)
    if _invalid_origin(origin, len(weights)):
        raise ValueError("Invalid origin; origin must satisfy "
                         "-(len(weights) // 2) <= origin <= "
                         "(len(weights)-1) // 2")
    boundary = _boundary(mode, "boundary mode not supported")
    shape = [1] * input.ndim
    shape[axis] = weights.shape[0]
    origins = [0] * input.ndim
    origins[axis] = int(origin)
    return _finish(input, weights.reshape(shape), origins, boundary, cval, output, workers,
                   is_complex, conj, nd_filter=False)


_DOC_OUTPUT = """    output : array or dtype, optional
        The array in which to place the output, or the dtype of the returned
        array.  By default an array of the same dtype as ``input`` (complex
        when ``input`` or ``weights`` is).  Integer outputs receive the float64
        sums truncated toward zero, as scipy.ndimage stores them.
    mode : str, optional
        How ``input`` is extended past its edges (default ``'reflect'``), one of::

            'reflect'   (d c b a | a b c d | d c b a)   numpy.pad 'symmetric'
            'mirror'    (d c b | a b c d | c b a)       numpy.pad 'reflect'
            'nearest'   (a a a a | a b c d | d d d d)   numpy.pad 'edge'
            'wrap'      (a b c d | a b c d | a b c d)   numpy.pad 'wrap'
            'constant'  (k k k k | a b c d | k k k k)   k = cval

        ``'grid-mirror'``, ``'grid-wrap'`` and ``'grid-constant'`` are synonyms of
        ``'reflect'``, ``'wrap'`` and ``'constant'`` for filters.
    cval : scalar, optional
        Value past the edges for ``'constant'``.  Default 0.0.
"""  # noqa: E501  (numpydoc keeps a parameter's type on one line)

_DOC_WORKERS = """    workers : int, optional
        Threads, as in :func:`ndconv.convolve`: ``None`` all that OpenMP allows,
        ``-1`` every core, ``n >= 1`` exactly ``n``.  Not in scipy.ndimage.

    Returns
    -------
    ndarray
        The result, in ``output``.
"""

_DOC_INPUT = """
    Parameters
    ----------
    input : array_like
        The input array.
"""

_DOC_WEIGHTS_1D = _DOC_INPUT + """    weights : array_like
        One-dimensional weights (at least one).
    axis : int, optional
        The axis of ``input`` to filter along.  Default -1.
"""

_DOC_WEIGHTS_ND = _DOC_INPUT + """    weights : array_like
        Weights, with as many dimensions as ``input`` (or as ``axes``).
"""


def correlate(input: ArrayLike, weights: ArrayLike, output: Output = None, mode: Mode = "reflect",
              cval: complex = 0.0, origin: int | Sequence[int] = 0, *, axes: Axes = None,
              workers: int | None = None) -> NDArray[Any]:
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, False, axes,
                                  workers)


def convolve(input: ArrayLike, weights: ArrayLike, output: Output = None, mode: Mode = "reflect",
             cval: complex = 0.0, origin: int | Sequence[int] = 0, *, axes: Axes = None,
             workers: int | None = None) -> NDArray[Any]:
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, True, axes,
                                  workers)


def correlate1d(input: ArrayLike, weights: ArrayLike, axis: int = -1, output: Output = None,
                mode: Mode = "reflect", cval: complex = 0.0, origin: int = 0, *,
                workers: int | None = None) -> NDArray[Any]:
    return _correlate1d(input, weights, axis, output, mode, cval, origin, workers, conj=True)


def convolve1d(input: ArrayLike, weights: ArrayLike, axis: int = -1, output: Output = None,
               mode: Mode = "reflect", cval: complex = 0.0, origin: int = 0, *,
               workers: int | None = None) -> NDArray[Any]:
    weights = np.asarray(weights)[::-1]
    origin = -operator.index(origin) - (1 - weights.shape[0] % 2)
    return _correlate1d(input, weights, axis, output, mode, cval, origin, workers, conj=False)


correlate.__doc__ = """Multidimensional correlation, as ``scipy.ndimage.correlate``.

    ``result[i] = sum_j conj(weights[j]) * input_ext[i + j - c]`` with the centre
    ``c = weights.shape // 2 + origin`` and ``input_ext`` extended by ``mode``.
""" + _DOC_WEIGHTS_ND + _DOC_OUTPUT + """    origin : int or sequence of int, optional
        Shifts the filter: ``-(n // 2) <= origin <= (n - 1) // 2`` per axis.
    axes : tuple of int or None, optional
        Axes filtered (default all); ``weights`` and sequence ``origin`` then
        have one entry per filtered axis.
""" + _DOC_WORKERS + """
    Raises
    ------
    RuntimeError
        Wrong ``weights`` dimensions, unknown or sequence ``mode``, wrong
        ``output`` shape, unsupported dtypes (float16, long double), as
        scipy.ndimage.
    ValueError
        An ``origin`` outside the kernel, bad ``axes``.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv import ndimage
    >>> a = np.arange(25).reshape(5, 5)
    >>> k = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    >>> ndimage.correlate(a, k)[2, 2]
    np.int64(60)
"""

convolve.__doc__ = """Multidimensional convolution, as ``scipy.ndimage.convolve``.

    ``result[i] = sum_j weights[j] * input_ext[i + c - j]``: correlation with the
    flipped kernel, whose centre moves by one along even-sized axes, never
    conjugated.
""" + _DOC_WEIGHTS_ND + _DOC_OUTPUT + """    origin : int or sequence of int, optional
        Shifts the filter (positive values to the right).
    axes : tuple of int or None, optional
        Axes filtered (default all).
""" + _DOC_WORKERS + """
    Raises
    ------
    RuntimeError, ValueError
        As :func:`correlate`.

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv import ndimage
    >>> a = np.array([[1, 2, 0, 0], [5, 3, 0, 4], [0, 0, 0, 7], [9, 3, 0, 0]])
    >>> k = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]])
    >>> ndimage.convolve(a, k, mode="constant", cval=0.0)
    array([[11, 10,  7,  4],
           [10,  3, 11, 11],
           [15, 12, 14,  7],
           [12,  3,  7,  0]])
"""

correlate1d.__doc__ = """One-dimensional correlation along ``axis``, as
    ``scipy.ndimage.correlate1d``.
""" + _DOC_WEIGHTS_1D + _DOC_OUTPUT + """    origin : int, optional
        Shifts the filter: ``-(len(weights) // 2) <= origin <= (len(weights) - 1) // 2``.
""" + _DOC_WORKERS + """
    Examples
    --------
    >>> from ndconv import ndimage
    >>> ndimage.correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([ 8, 26,  8, 12,  7, 28, 36,  9])
"""

convolve1d.__doc__ = """One-dimensional convolution along ``axis``, as
    ``scipy.ndimage.convolve1d``.
""" + _DOC_WEIGHTS_1D + _DOC_OUTPUT + """    origin : int, optional
        Shifts the filter (positive values to the right).
""" + _DOC_WORKERS + """
    Examples
    --------
    >>> from ndconv import ndimage
    >>> ndimage.convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([14, 24,  4, 13, 12, 36, 27,  0])
"""

"""Argument checking and canonicalisation shared by every public function.

One helper per concern, each raising a ValueError or TypeError that names the
argument and, for names, lists the valid values.
"""
import numbers
import operator
import warnings
from typing import Literal, get_args

import numpy as np

from .. import _core
from .boundary import AxisCvals, on_axis

# The valid names, once: the Literal types annotate the public API and the tuples check calls.
Mode = Literal["full", "same", "valid"]
Boundary = Literal["constant", "edge", "symmetric", "reflect", "wrap"]
# correlate/convolve also take "missing", which is no extension: the
# normalized-convolution path (missing.py) maps it before any extension
BoundaryOrMissing = Literal[Boundary, "missing"]
Method = Literal["auto", "direct", "fft"]
NanPolicy = Literal["propagate", "omit", "raise"]
MODES = get_args(Mode)
BOUNDARIES = get_args(Boundary)
METHODS = get_args(Method)

# dtypes the core computes natively
NATIVE = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.complex64),
          np.dtype(np.complex128), np.dtype(np.int64))


def check_choice(value, name, choices):
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError("%s must be one of %s, got %r"
                         % (name, ", ".join(repr(c) for c in choices), value))
    return value


def as_array(a, name):
    """``np.asarray`` with a TypeError naming the argument for unsupported dtypes."""
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged lists and the like
        raise TypeError("%s could not be converted to an array: %s" % (name, exc)) from None
    if arr.dtype.kind not in "biufc":
        raise TypeError("%s has dtype %s; ndconv computes with bool, integer, float and "
                        "complex arrays only" % (name, arr.dtype))
    return arr


def result_dtype(*arrays):
    """The dtype the computation runs in: ``np.result_type`` of the inputs, with
    bool and integers promoted to float64 and float16 to float32.

    long double inputs are computed in float64 (complex128 for complex); the
    core has no extended-precision kernel, so this is stated in the docs.
    """
    dt = arrays[0].dtype
    # np.result_type costs as much as a small convolution's arithmetic; it
    # is needed only when the dtypes differ
    for a in arrays[1:]:
        if a.dtype is not dt and a.dtype != dt:
            dt = np.result_type(*arrays)
            break
    native = core_dtype(dt, np.float64)
    if native is None:
        raise TypeError("unsupported dtype %s" % dt)
    return native


def core_dtype(dt, integers):
    """The dtype of the core's kernels for data of dtype ``dt``: float32 or
    float64, complex64 or complex128 (long double rounds to the double kinds);
    ``integers`` for bool and integer data; None for any other kind."""
    if dt.kind in "biu":
        return np.dtype(integers)
    if dt.kind == "f":
        return np.dtype(np.float32) if dt.itemsize <= 4 else np.dtype(np.float64)
    if dt.kind == "c":
        return np.dtype(np.complex64) if dt.itemsize <= 8 else np.dtype(np.complex128)
    return None


def normalize_axes(axes, x_ndim, k_ndim):
    """Return the convolved axes of ``x`` as a tuple of non-negative ints.

    ``axes=None`` convolves every axis and needs ``k.ndim == x.ndim``; otherwise
    ``k.ndim == len(axes)`` and kernel axis ``i`` runs along ``x`` axis ``axes[i]``.
    """
    if axes is None:
        if k_ndim != x_ndim:
            raise ValueError("k.ndim (%d) must equal x.ndim (%d) when axes is None; pass "
                             "axes= to convolve over a subset of x's axes" % (k_ndim, x_ndim))
        return tuple(range(x_ndim))
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
        axes = (axes,)
    try:
        # a bool is an int to operator.index, but axes=(True,) is a mistake, not axis 1
        if any(isinstance(a, (bool, np.bool_)) for a in axes):
            raise TypeError
        axes = tuple(operator.index(a) for a in axes)
    except TypeError:
        raise TypeError("axes must be an int or a sequence of ints, got %r" % (axes,)) from None
    out = []
    for a in axes:
        if not -x_ndim <= a < x_ndim:
            raise ValueError("axes entry %d is out of range for x with %d dimensions" % (a, x_ndim))
        out.append(a % x_ndim)
    if len(set(out)) != len(out):
        raise ValueError("axes must not repeat an axis, got %r" % (axes,))
    if len(out) != k_ndim:
        raise ValueError("k.ndim (%d) must equal len(axes) (%d)" % (k_ndim, len(out)))
    if not out:
        raise ValueError("axes must name at least one axis")
    return tuple(out)


def normalize_origin(origin, kshape, mode):
    """Per-convolved-axis origins, range-checked against the kernel sizes."""
    n = len(kshape)
    if type(origin) is int or (isinstance(origin, numbers.Integral)
                               and not isinstance(origin, bool)):
        origins = (int(origin),) * n
    else:
        try:
            origins = tuple(operator.index(o) for o in origin)
        except TypeError:
            raise TypeError("origin must be an int or a sequence of ints, got %r" % (origin,)) from None
        if len(origins) != n:
            raise ValueError("origin must have one entry per convolved axis (%d), got %d"
                             % (n, len(origins)))
    if mode != "same" and any(origins):
        raise ValueError("origin applies to mode='same' only; got origin=%r with mode=%r"
                         % (origin, mode))
    for o, k in zip(origins, kshape):
        if not -(k // 2) <= o <= (k - 1) // 2:
            raise ValueError("origin %d is out of range for a kernel of size %d along its axis: "
                             "need %d <= origin <= %d" % (o, k, -(k // 2), (k - 1) // 2))
    return origins


def normalize_cval(cval, dtype):
    """``cval`` as a scalar of the compute dtype.

    For exact integer computation an integer ``cval`` is kept exactly (wrapping
    modulo 2**64 like the arithmetic itself); a non-integral one is a ValueError.
    A string is a TypeError (``complex("1")`` would take it), a number beyond
    the float range a ValueError.
    """
    if isinstance(cval, (str, bytes)):
        raise TypeError("cval must be a number, got %r" % (cval,))
    try:
        return _cval(cval, dtype)
    except OverflowError:
        raise ValueError("cval %r is too large for the computation's dtype %s"
                         % (cval, dtype)) from None


def _cval(cval, dtype):
    if dtype.kind in "iu":
        if isinstance(cval, (bool, np.bool_)):
            cval = int(cval)
        if isinstance(cval, (numbers.Integral, np.integer)):
            wrapped = int(cval) & 0xFFFFFFFFFFFFFFFF
            return np.array(wrapped, dtype=np.uint64).view(np.int64)[()].astype(dtype)
        try:
            c = complex(cval)
        except (TypeError, ValueError):
            raise TypeError("cval must be a number, got %r" % (cval,)) from None
        if c.imag != 0 or c.real != int(c.real):
            raise ValueError("cval %r is not an integer, but the computation is exact integer "
                             "arithmetic" % (cval,))
        return _cval(int(c.real), dtype)
    if type(cval) is float or type(cval) is int:
        # the common case, without the complex() round trip (same rounding:
        # both go through a double)
        return dtype.type(float(cval))
    try:
        c = complex(cval)
    except (TypeError, ValueError):
        raise TypeError("cval must be a number, got %r" % (cval,)) from None
    if dtype.kind != "c":
        if c.imag != 0:
            raise ValueError("cval %r is complex but the inputs are real" % (cval,))
        return dtype.type(c.real)
    return dtype.type(c)


def normalize_boundary(boundary, axes, x_ndim, valid=BOUNDARIES):
    """``boundary`` as one name (str) or one name per axis of ``x`` (tuple).

    A sequence names the convolved axes in ``axes`` order; a dict maps axes of
    ``x`` (negative ones counted from the end) to names, its convolved axes
    without an entry taking ``"constant"``.  Per-axis names that all agree
    collapse to that name.  Axes that are not convolved are never extended;
    they get ``"constant"``.  ``valid``: the names allowed (the missing-data
    path adds ``"missing"``).
    """
    if isinstance(boundary, str):
        return check_choice(boundary, "boundary", valid)
    if isinstance(boundary, dict):
        names = {a: "constant" for a in axes}
        for key, name in boundary.items():
            if isinstance(key, (bool, np.bool_)) or not isinstance(key, numbers.Integral):
                raise TypeError("boundary keys must be axes (ints), got %r" % (key,))
            a = int(key) % x_ndim if -x_ndim <= key < x_ndim else None
            if a not in names:
                raise ValueError("boundary has an entry for axis %d, which is not one of the "
                                 "convolved axes %s" % (key, axes))
            names[a] = name
        seq = [names[a] for a in axes]
    elif isinstance(boundary, (list, tuple)):
        seq = list(boundary)
        if len(seq) != len(axes):
            raise ValueError("boundary must be one name, or one per convolved axis (%d), got %d "
                             "names" % (len(axes), len(seq)))
    else:
        raise TypeError("boundary must be a name, a sequence of names (one per convolved axis) "
                        "or a dict {axis: name}, got %r" % (boundary,))
    for name in seq:
        check_choice(name, "boundary", valid)
    if len(set(seq)) == 1:
        return seq[0]
    per_axis = ["constant"] * x_ndim
    for a, name in zip(axes, seq):
        per_axis[a] = name
    return tuple(per_axis)


def normalize_cvals(cval, boundary, axes, dtype):
    """``cval`` (a scalar, or one per convolved axis in ``axes`` order) as what the
    paths take: a scalar of the compute dtype where every "constant" axis has
    the same one (the others never read it), else a ``boundary.AxisCvals``."""
    values = cval_per_axis(cval, len(axes))
    if values is None:
        return normalize_cval(cval, dtype)
    values = [normalize_cval(c, dtype) for c in values]
    pairs = [(a, c) for a, c in zip(axes, values) if on_axis(boundary, a) == "constant"]
    # equal as bits: a scalar serves them all (-0.0 and 0.0, or NaNs, differ)
    if not pairs:
        return values[0]
    if all(np.array(c).tobytes() == np.array(pairs[0][1]).tobytes() for _, c in pairs):
        return pairs[0][1]
    return AxisCvals(pairs)


def cval_per_axis(cval, n_axes):
    """``cval`` given per convolved axis (a sequence, or a 1-D array) as a list
    of its ``n_axes`` values; None for a scalar."""
    if not (isinstance(cval, (list, tuple)) or (isinstance(cval, np.ndarray) and cval.ndim == 1)):
        return None
    values = list(cval)
    if len(values) != n_axes:
        raise ValueError("cval must be a scalar, or one value per convolved axis (%d), got %d "
                         "values" % (n_axes, len(values)))
    return values


def check_out_memory(out, name="out"):
    """Reject an output array whose elements share memory (a zero or otherwise
    overlapping stride, as ``as_strided`` or ``broadcast_to`` make): results
    written to one element would overwrite another."""
    if out.size <= 1:
        return
    # Sorted by stride, each axis must step past everything the axes before it
    # span.  A few exotic interleaved layouts that do not overlap fail this
    # too; they are rejected as well (the message says how to get a plain one).
    end = out.itemsize
    for stride, n in sorted((abs(st), n) for st, n in zip(out.strides, out.shape) if n > 1):
        if stride < end:
            raise ValueError("%s has elements that share memory (strides %s for shape %s): "
                             "pass an array with its own memory for each element, such as "
                             "one from numpy.empty" % (name, out.strides, out.shape))
        end = stride * (n - 1) + end


def warn_fft_nonfinite(arrays, stacklevel):
    """scipy.signal's warning for method='fft' on input holding NaN or inf (the
    transforms smear a NaN or inf over the whole output)."""
    if any(a.dtype.kind in "fc" and not np.isfinite(a).all() for a in arrays):
        warnings.warn("Use of fft convolution on input with NAN or inf results in NAN or inf "
                      "output. Consider using method='direct' instead.",
                      category=RuntimeWarning, stacklevel=stacklevel + 1)


def resolve_workers(workers, max_threads, num_procs):
    """Thread count for one call.

    ``None``: every thread OpenMP would use now (``OMP_NUM_THREADS``, threadpoolctl);
    ``-1``: every processor; ``n >= 1``: ``n`` threads.  Anything else is a ValueError.
    The count is then capped at ``ndconv._core.max_threads()``: four per CPU
    available to the process, one in a process forked from one that imported
    ndconv.
    """
    cap = _core.max_threads()
    if workers is None:
        # every call passes here: the common case without max()/min() calls
        n = int(max_threads)
        return n if 0 < n <= cap else max(1, min(n, cap))
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral):
        raise ValueError("workers must be None, -1 or a positive int, got %r" % (workers,))
    workers = int(workers)
    if workers == -1:
        return max(1, min(int(num_procs), cap))
    if workers < 1:
        raise ValueError("workers must be None, -1 or a positive int, got %d" % workers)
    return min(workers, cap)

"""Shared machinery of the drop-in namespaces ``ndconv.signal``, ``ndconv.ndimage``
and ``ndconv.numpy``.

The peers (scipy.signal, scipy.ndimage, numpy) differ from the unified API in
two ways that are not about geometry: the dtype of the result (integer and bool
results, float16 and long double) and how a float result is turned into an
integer one.  Both live here, once:

* :func:`run` computes with ``ndconv._api.correlate_nd`` in the dtype that gives
  the peer's values and returns the peer's result dtype: exact wrapping int64
  arithmetic for integer results (the low bits of an int64 sum equal those of
  the same sum in any narrower integer type), int64 then ``!= 0`` for bool
  results (a sum of products of 0/1 values is non-zero exactly when one
  product is), float32 for float16 results, float64 for long double results
  (the core has no extended-precision kernel).
* :func:`c_cast` reproduces the C conversion of a double to an integer type that
  scipy.ndimage applies to its results (truncation toward zero, with the
  x86-64 results for values that do not fit).
"""
import numpy as np

from .._api import correlate_nd, geometry
from .validation import core_dtype


class UnsupportedDtypeError(TypeError, ValueError):
    """An input dtype ndconv cannot compute with (object, string, datetime...).

    The peers raise TypeError or ValueError for such inputs depending on the
    function and method; this error is both, so code catching either keeps
    working.
    """


def check_numeric(arr, name, allow_object=False):
    """Raise :class:`UnsupportedDtypeError` unless ``arr`` is bool, integer, float or
    complex (or object, where the caller has the object path)."""
    if arr.dtype.kind not in ("biufcO" if allow_object else "biufc"):
        raise UnsupportedDtypeError("%s has dtype %s; ndconv computes with bool, integer, float "
                                    "and complex arrays only" % (name, arr.dtype))


def compute_dtype_for(result):
    """The dtype ndconv's core computes in to produce a result of dtype ``result``."""
    result = np.dtype(result)
    # integers exactly, in int64 arithmetic
    native = core_dtype(result, np.int64)
    if native is None:
        raise UnsupportedDtypeError("unsupported result dtype %s" % result)
    return native


def from_compute(res, result):
    """Convert the core's result ``res`` to the peer's result dtype ``result``."""
    result = np.dtype(result)
    if result.kind == "b":
        return res != 0
    if res.dtype == result:
        return res
    return res.astype(result)


def run(x, k, mode, result, *, flip=False, conj=False, method="auto", workers=None,
        boundary="constant", cval=0.0, origin=0, axes=None):
    """``correlate_nd`` returning the peer's values in the peer's result dtype ``result``.

    Integer and bool results are computed exactly (int64, direct method), so
    ``method`` only applies to float and complex results.
    """
    cdt = compute_dtype_for(result)
    if cdt.kind == "i":
        method = "direct"
    res = correlate_nd(x, k, mode, boundary, cval, origin, axes, method, workers, None,
                       flip=flip, conj=conj, compute_dtype=cdt)
    return from_compute(res, result)


def run_object(x, k, mode, *, flip=False):
    """Correlation (zero extension) of object arrays with Python arithmetic.

    numpy and scipy.signal accept object arrays (Decimal, Fraction, Python
    ints of any size) and compute with their operators; the compiled core
    has no such kernel, so this path does it tap by tap, one whole-array
    product per tap.  Object data are never conjugated, as in the peers.
    """
    x = np.asarray(x, dtype=object)
    k = np.asarray(k, dtype=object)
    if flip:
        k = k[(slice(None, None, -1),) * k.ndim]
    starts, out_shape = geometry(x.shape, k.shape, mode, [0] * x.ndim)
    ext = [m + n - 1 for m, n in zip(out_shape, k.shape)]
    xe = np.zeros(ext, dtype=object)
    src, dst = [], []
    for n, s, e in zip(x.shape, starts, ext):
        lo, hi = max(0, s), min(n, s + e)
        src.append(slice(lo, max(lo, hi)))
        dst.append(slice(lo - s, lo - s + max(0, hi - lo)))
    xe[tuple(dst)] = x[tuple(src)]
    acc = None
    for idx in np.ndindex(*k.shape):
        term = xe[tuple(slice(i, i + m) for i, m in zip(idx, out_shape))] * k[idx]
        acc = term if acc is None else acc + term
    return acc


# x86-64 conversions of a double to an integer (cvttsd2si): truncation toward
# zero, and the "integer indefinite" value (the most negative one) for NaN and
# for values outside the 32- or 64-bit signed range.  C compilers convert to
# the narrow types through a 32-bit conversion, to uint32 through a 64-bit one,
# and to uint64 by subtracting 2**63 from values at or above it first.
def _to_signed(v, bits):
    lo = -(2.0 ** (bits - 1))
    ok = (v >= lo) & (v < -lo)     # False for NaN
    out = np.full(v.shape, -(2 ** (bits - 1)), dtype=np.int64)
    np.trunc(v, out=v, where=ok)
    out[ok] = v[ok].astype(np.int64)
    return out


def c_cast(values, dtype):
    """``values`` (float64) converted to ``dtype`` as scipy.ndimage's C code does.

    Float and complex targets round to nearest like ``astype``; integer and
    bool targets truncate toward zero, wrap modulo the type's range within the
    range of the intermediate C conversion and take the x86-64 value for NaN,
    infinities and larger magnitudes.
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "biu":
        return values.astype(dtype)
    v = np.array(values, dtype=np.float64, copy=True)
    if dtype.kind == "u" and dtype.itemsize == 8:
        big = v >= 2.0 ** 63
        low = _to_signed(np.where(big, 0.0, v), 64)
        high = _to_signed(np.where(big, v - 2.0 ** 63, 0.0), 64) ^ np.int64(-2 ** 63)
        return np.where(big, high, low).view(np.uint64).reshape(v.shape)
    if dtype.itemsize == 8 or (dtype.kind == "u" and dtype.itemsize == 4):
        wide = _to_signed(v, 64)
    else:
        wide = _to_signed(v, 32)
    if dtype.kind == "b":  # npy_bool is an unsigned char
        return wide.astype(np.uint8) != 0
    return wide.astype(dtype)

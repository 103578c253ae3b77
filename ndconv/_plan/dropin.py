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
  scipy.ndimage applies to its results (truncation toward zero; for values
  that do not fit, what the conversion instruction of this machine gives).
"""
import platform

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


# How C code converts a double to an integer type on this machine: truncation
# toward zero in every case; values that do not fit are left undefined by C and
# take whatever the conversion instruction gives, so scipy.ndimage's integer
# results for them differ between machines.  Compilers convert to the types
# narrower than 32 bits through a 32-bit conversion and keep its low bits.
#
# x86-64 (cvttsd2si): signed conversions only.  NaN and values outside the 32-
# or 64-bit signed range give the "integer indefinite" value, the most negative
# one.  uint32 goes through the 64-bit conversion; uint64 subtracts 2**63 from
# values at or above it first.  So negative values wrap into unsigned types.
# aarch64 (fcvtzs, fcvtzu): signed types through the signed conversion, unsigned
# types (bool included: numpy's bool is an unsigned char) through the unsigned
# one, both saturating: values past either end give that end, NaN gives 0, and
# negative values give 0 in unsigned types.
_X86 = ("x86_64", "amd64", "i386", "i486", "i586", "i686", "x86")
_AARCH64 = ("aarch64", "arm64", "armv8l", "armv8b", "aarch64_be")
CAST_RULES = "aarch64" if platform.machine().lower() in _AARCH64 else "x86-64"


def _trunc_in(v, lo, hi):
    """int64 of trunc(v) where lo <= v < hi (exact: both bounds within +-2**63), a
    mask of those places.  NaN is outside every range."""
    ok = (v >= lo) & (v < hi)
    out = np.zeros(v.shape, dtype=np.int64)
    out[ok] = np.trunc(v[ok]).astype(np.int64)
    return out, ok


def _x86_signed(v, bits):
    lo = -(2.0 ** (bits - 1))
    out, ok = _trunc_in(v, lo, -lo)
    out[~ok] = -(2 ** (bits - 1))
    return out


def _saturating(v, bits, signed):
    """fcvtzs (signed) or fcvtzu: the bit pattern of the bits-wide result, as int64."""
    lo, hi = (-(2.0 ** (bits - 1)), 2.0 ** (bits - 1)) if signed else (0.0, 2.0 ** bits)
    if bits == 64 and not signed:
        # [2**63, 2**64) does not fit int64: convert v - 2**63 and set the top bit
        out, ok = _trunc_in(v, 0.0, 2.0 ** 63)
        top, ok_top = _trunc_in(v - 2.0 ** 63, 0.0, 2.0 ** 63)
        out[ok_top] = top[ok_top] ^ np.int64(-2 ** 63)
        ok |= ok_top
    else:
        out, ok = _trunc_in(v, lo, hi)
    out[~ok & (v >= hi)] = 2 ** (bits - 1) - 1 if signed else (2 ** bits - 1 if bits < 64 else -1)
    out[~ok & (v < lo)] = -(2 ** (bits - 1)) if signed else 0
    return out   # NaN: neither above nor below, stays 0


def _convert(v, dtype, rules):
    """The C conversion of the doubles ``v`` to ``dtype`` under ``rules``: the bit pattern
    of the intermediate conversion's result (32 or 64 bits), as int64."""
    bits = 64 if dtype.itemsize == 8 else 32
    if rules == "aarch64":
        return _saturating(v, bits, signed=dtype.kind == "i")
    if dtype.kind == "u" and dtype.itemsize == 8:
        big = v >= 2.0 ** 63
        low = _x86_signed(np.where(big, 0.0, v), 64)
        high = _x86_signed(np.where(big, v - 2.0 ** 63, 0.0), 64) ^ np.int64(-2 ** 63)
        return np.where(big, high, low)
    return _x86_signed(v, 64 if dtype.kind == "u" and dtype.itemsize == 4 else bits)


def c_cast(values, dtype, rules=None, unsigned_by_magnitude=False):
    """``values`` (float64) converted to ``dtype`` as scipy.ndimage's C code does.

    Float and complex targets round to nearest like ``astype``; integer and
    bool targets truncate toward zero and wrap modulo the type's range within
    the range of the intermediate C conversion.  NaN, infinities and larger
    magnitudes get what that conversion gives on this machine (``rules=None``,
    :data:`CAST_RULES`), or on the one named: ``"x86-64"`` (the most negative
    value of the intermediate type) or ``"aarch64"`` (saturation, NaN to 0).
    Other machines follow the x86-64 rules.

    ``unsigned_by_magnitude``: convert values at or below -1 to unsigned and bool
    types as minus the conversion of their magnitude, ``-(T)(-v)``, as scipy's
    N-D filters (``correlate``, ``convolve``) do to avoid C's undefined
    negative-to-unsigned conversion; its 1-D filters convert directly.  The
    two differ where the direct conversion saturates (aarch64: negative values
    give 0) and for uint64 below -2**63.
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "biu":
        return values.astype(dtype)
    rules = CAST_RULES if rules is None else rules
    if rules not in ("x86-64", "aarch64"):
        raise ValueError("rules must be 'x86-64' or 'aarch64', got %r" % (rules,))
    v = np.asarray(values, dtype=np.float64)
    ctype = np.dtype(np.uint8) if dtype.kind == "b" else dtype   # numpy's bool: unsigned char
    if unsigned_by_magnitude and ctype.kind == "u":
        flip = ~(v > -1.0)           # NaN included, as in C's `v > -1. ? ... : ...`
        wide = _convert(np.where(flip, -v, v), ctype, rules)
        wide = np.where(flip, np.negative(wide), wide)   # modulo 2**64, then narrowed
    else:
        wide = _convert(v, ctype, rules)
    if dtype.kind == "b":
        return wide.astype(np.uint8) != 0
    if dtype.kind == "u" and dtype.itemsize == 8:
        return wide.view(np.uint64)
    return wide.astype(dtype)

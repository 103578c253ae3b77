"""The output dtype policy: ``dtype=`` and ``casting=`` of the unified API.

The sums are computed exactly where the inputs allow it and converted once at
the end: integer inputs and kernels accumulate in int64 (exact while the sums
stay within +-2**63), anything else in the usual compute dtype.  An integer
output is then rounded half to even and brought into range by ``casting``:

    saturate   clip to the dtype's range (OpenCV's saturate_cast), the default
    raise      OverflowError saying how many outputs are out of range, and where the first is
    wrap       modulo 2**bits, as C and numpy's integer casts do
"""
from typing import Literal, get_args

import numpy as np

from .validation import check_choice

Casting = Literal["saturate", "raise", "wrap"]
CASTINGS = get_args(Casting)


def output_dtype(dtype):
    """``dtype`` as a numpy dtype the policy can produce, or a TypeError naming it."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError("dtype must be a numpy dtype, got %r" % (dtype,)) from None
    if dt.kind not in "biufc" or dt.byteorder not in "=|":
        raise TypeError("dtype must be a native bool, integer, float or complex dtype, got %s"
                        % dt)
    return dt


def compute_dtype(dt, x_dtype, k_dtype):
    """The dtype to accumulate in for output dtype ``dt``: for an integer output
    int64 when both inputs are integers (exact sums), else the widest float
    (complex) dtype; None (the usual rule) for other outputs."""
    if dt.kind not in "biu":
        return None
    if x_dtype.kind in "biu" and k_dtype.kind in "biu":
        return np.dtype(np.int64)
    if "c" in (x_dtype.kind, k_dtype.kind):
        return np.dtype(np.complex128)
    return np.dtype(np.float64)


def check_casting(casting, dt):
    """``casting`` checked; None means the default, ``"saturate"``."""
    if casting is None:
        return "saturate"
    check_choice(casting, "casting", CASTINGS)
    if dt.kind not in "biu":
        raise ValueError("casting applies to integer dtypes only; dtype is %s" % dt)
    return casting


def convert(y, dt, casting):
    """The result ``y`` (compute dtype, a fresh array this function may
    overwrite) as ``dt``: rounded half to even and brought into range by
    ``casting`` for integers, cast otherwise."""
    if dt.kind not in "biu":
        if dt.kind != "c" and y.dtype.kind == "c":
            raise TypeError("dtype %s cannot hold the complex result (compute dtype %s)"
                            % (dt, y.dtype))
        return y.astype(dt, copy=False)
    if y.dtype.kind == "c":
        raise TypeError("dtype %s cannot hold the complex result (compute dtype %s)"
                        % (dt, y.dtype))
    if dt.kind == "b":
        return y != 0
    info = np.iinfo(dt)
    if y.dtype.kind == "f":
        # one reduction finds NaN (an overflowing sum only sends us to the exact check)
        with np.errstate(over="ignore", invalid="ignore"):
            suspect = np.isnan(np.add.reduce(y, axis=None))
        if suspect and np.isnan(y).any():
            bad = np.isnan(y)
            first = np.unravel_index(int(np.argmax(bad)), y.shape)
            raise ValueError("%d outputs are NaN, which dtype %s cannot hold; the first at "
                             "index %s" % (int(bad.sum()), dt, tuple(int(i) for i in first)))
        np.rint(y, out=y)
    if casting == "wrap":
        if y.dtype.kind == "f":
            # modulo 2**bits in float64 is exact for |y| < 2**53; past that
            # the sums themselves are no longer exact integers
            span = float(2 ** (8 * dt.itemsize))
            np.mod(y, span, out=y)
            if info.min < 0:
                y[y > info.max] -= span
        return y.astype(dt)        # integer casts wrap
    if casting == "raise":
        over = (y < info.min) | (y > info.max)
        if over.any():
            first = np.unravel_index(int(np.argmax(over)), y.shape)
            raise OverflowError("%d outputs are outside the range of %s (%d..%d); the first "
                                "at index %s is %s" % (int(over.sum()), dt, info.min, info.max,
                                                       tuple(int(i) for i in first),
                                                       y[first]))
        return y.astype(dt)
    # saturate: clip in the compute dtype, then the cast is in range
    if y.dtype.kind == "f":
        np.clip(y, *_float_bounds(info), out=y)
        return y.astype(dt)
    lo, hi = max(info.min, np.iinfo(y.dtype).min), min(info.max, np.iinfo(y.dtype).max)
    np.clip(y, lo, hi, out=y)
    return y.astype(dt)


def _float_bounds(info):
    """The dtype's range as floats that convert back into it (2**63 - 1 rounds
    up to 2**63 in float64, one past int64's range: take the float below)."""
    lo, hi = float(info.min), float(info.max)
    if hi > info.max:
        hi = float(np.nextafter(hi, 0.0))
    return lo, hi

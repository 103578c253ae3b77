"""Missing samples: normalized convolution.

A missing sample (NaN under ``nan_policy="omit"``, False in ``mask``, or past
the edge with ``boundary="missing"``) contributes nothing, and each output is
rescaled to the whole kernel::

    out = (sum k * x over present taps) * (sum k) / (sum k over present taps)

The two sums are two ordinary correlations through the unified API: of ``x``
with its missing samples set to 0 (the numerator), and of the present-sample
indicator as a real array (the weights).  Both take the same method, plan and
threads as any call of their size; the FFT path computes the kernel's spectrum
once for both (``_fft.shared_spectra``).  The same code runs on dask arrays
(``lazy=True``: numpy functions that dispatch, expressions instead of the
in-place passes over the numpy path's own arrays), so ``ndconv.dask`` is
lazy and, on the direct method, bitwise the in-memory result.

Past the edges the extension carries the samples' missingness with their
values (the same index map): ``"constant"`` is present (cval; 1 in the
weights), ``"missing"`` and a NaN cval under ``"omit"`` absent (0 in both).
"""
import math
import numbers

import numpy as np

from . import fft as _fft
from .boundary import on_axis
from .validation import (
    BOUNDARIES,
    as_array,
    check_choice,
    cval_per_axis,
    normalize_axes,
    normalize_boundary,
)

NAN_POLICIES = ("propagate", "omit", "raise")
MISSING = "missing"


def requested(nan_policy, mask, min_weight, preserve_nan, boundary):
    """True when a call uses any missing-data keyword with a non-default value
    (such calls take this module's path, never the plain path's caches)."""
    return (mask is not None or preserve_nan is not False
            or not (type(nan_policy) is str and nan_policy == "propagate")
            or not (type(min_weight) is float and min_weight == 0.0)
            or names_missing(boundary))


def names_missing(boundary):
    """True if ``boundary`` (a name, a sequence of names or a dict) says
    ``"missing"`` for some axis."""
    if isinstance(boundary, str):
        return boundary == MISSING
    if isinstance(boundary, dict):
        boundary = boundary.values()
    elif not isinstance(boundary, (list, tuple)):
        return False
    return any(isinstance(name, str) and name == MISSING for name in boundary)


def check_keywords(nan_policy, min_weight, preserve_nan, mode):
    """Validate the scalar keywords; returns ``min_weight`` as a float."""
    check_choice(nan_policy, "nan_policy", NAN_POLICIES)
    if not isinstance(preserve_nan, (bool, np.bool_)):
        raise TypeError("preserve_nan must be True or False, got %r" % (preserve_nan,))
    if preserve_nan and mode != "same":
        raise ValueError("preserve_nan=True needs mode='same' (an output sample per input "
                         "sample), got mode=%r" % (mode,))
    if isinstance(min_weight, (bool, np.bool_)) or not isinstance(min_weight, numbers.Real):
        raise TypeError("min_weight must be a real number, got %r" % (min_weight,))
    min_weight = float(min_weight)
    if not 0.0 <= min_weight <= 1.0:
        raise ValueError("min_weight must lie in [0, 1] (a fraction of the kernel's weight), "
                         "got %r" % (min_weight,))
    return min_weight


def check_mask(mask, shape):
    """``mask`` as a boolean array broadcast to ``shape`` (a read-only view), or None."""
    if mask is None:
        return None
    if not hasattr(mask, "dtype"):
        mask = as_array(mask, "mask")
    if mask.dtype.kind != "b":
        raise TypeError("mask must be a boolean array (False = missing), got dtype %s"
                        % mask.dtype)
    try:
        return np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError("mask of shape %s does not broadcast to x's shape %s"
                         % (tuple(mask.shape), tuple(shape))) from None


def _is_nan(value):
    return isinstance(value, numbers.Number) and value != value


def edge_rules(boundary, cval, axes, ndim, omit):
    """How the data and the weights are extended past the edges.

    Returns ``(data, weights, missing)``: the ``(boundary, cval)`` of the
    data's correlation and of the weights', and whether the extension of
    some axis is missing.  Per axis (``axes``, the convolved axes of an
    ``ndim``-dimensional ``x``): a missing extension (``"missing"``, or under
    ``omit`` a NaN fill) is 0 in both; ``"constant"`` is the cval in the data
    and 1 (present) in the weights; the other rules extend both by the same
    index map.  The extensions are numpy.pad's one axis at a time in ``axes``
    order, in the data and the weights alike, so at a corner the later axis
    decides a sample's value and its presence together.
    """
    values = None if axes is None else cval_per_axis(cval, len(axes))
    if isinstance(boundary, str) and values is None:
        check_choice(boundary, "boundary", BOUNDARIES + (MISSING,))
        if boundary == MISSING or (omit and boundary == "constant" and _is_nan(cval)):
            return ("constant", 0.0), ("constant", 0.0), True
        return (boundary, cval), (boundary, 1.0 if boundary == "constant" else cval), False
    names = normalize_boundary(boundary, axes, ndim, BOUNDARIES + (MISSING,))
    names = [on_axis(names, a) for a in axes]
    if values is None:
        values = [cval] * len(axes)
    gone = [name == MISSING or (omit and name == "constant" and _is_nan(c))
            for name, c in zip(names, values)]
    if not any(gone):
        return (boundary, cval), (boundary, 1.0), False
    data_names = ["constant" if g else name for name, g in zip(names, gone)]
    return ((data_names, [0.0 if g else c for c, g in zip(values, gone)]),
            (data_names, [0.0 if g else 1.0 for g in gone]), True)


def weights_kernel(k, flip):
    """The kernel the weights are taken from: real and finite, with a sum that is
    not zero; returned as a float array, flipped for convolution.

    Normalized convolution divides by the kernel's sum over the present taps,
    which for a kernel summing to zero (a derivative such as Sobel) is
    meaningless: that is an error, not a NaN image.
    """
    k = as_array(k, "k")
    if k.dtype.kind == "c":
        raise TypeError("k must be real with nan_policy='omit', a mask or boundary='missing' "
                        "(the present weight is a real fraction of the kernel); got dtype %s"
                        % k.dtype)
    kf = k.astype(np.float64)
    if kf.size == 0:
        raise ValueError("k is empty (shape %s)" % (k.shape,))
    if not np.isfinite(kf).all():
        raise ValueError("k must be finite with nan_policy='omit', a mask or boundary='missing'")
    total, scale = float(np.sum(kf)), float(np.sum(np.abs(kf)))
    # a sum within the float64 rounding of its own terms is zero (a Laplacian
    # built from floats sums to 1e-17, not 0)
    if scale == 0 or abs(total) <= 4 * kf.size * np.finfo(np.float64).eps * scale:
        raise ValueError("k sums to zero, and normalized convolution (nan_policy='omit', a "
                         "mask, boundary='missing') rescales by that sum: use a kernel with a "
                         "sum, such as a smoothing one, or nan_policy='propagate'")
    if flip:
        kf = kf[(slice(None, None, -1),) * kf.ndim]
    return kf


def kernel_sum(kf, dtype):
    """The sum of the taps in C order, one at a time, in ``dtype``: the weights'
    correlation adds them in that order on the direct path, so an output whose
    every tap is present gets a scale of exactly 1 (the plain result's bits)."""
    return np.cumsum(kf.reshape(-1).astype(dtype))[-1]


def zero_weight(fft_possible, kf, dtype, size):
    """The weight below which an output counts as having none present.

    Exactly zero for sums the direct method computes (every product is then
    0 * k); the FFT's rounding (the accuracy contract's bound, scaled by the
    kernel's absolute sum) where FFT may compute them, whose sums over no
    present tap are rounding noise, not 0.
    """
    if not fft_possible:
        return 0.0
    eps = float(np.finfo(dtype).eps)
    return 8 * eps * math.log2(max(2, size)) * float(np.sum(np.abs(kf)))


def normalized(correlate, x, k, mode, boundary, cval, nan_policy, mask, min_weight,
               preserve_nan, *, flip, dtype, fft_possible, axes=None, lazy=False, out=None,
               one_pass=None):
    """A call with missing-data keywords, on a numpy array (``lazy=False``) or a
    dask array (``lazy=True``: nothing is computed; ``"raise"`` is checked by
    the caller).

    ``correlate(a, boundary, cval, out)`` is the plain operation with every
    other argument bound (``axes`` among them: the call's, as given);
    ``dtype`` the compute dtype of ``x`` with ``k``; ``fft_possible(present)``
    tells whether the weights' correlation may take the FFT path (then their
    zero is the FFT's rounding, see ``zero_weight``).

    ``one_pass(a, boundary, cval, (ksum, limit, strict), preserve_nan, out)``: the direct
    kernel that computes the whole ratio in one pass over ``a`` (NaN samples
    and a NaN cval missing, see ``one_pass_edges``), or returns None where it
    does not apply or would be slower; its result is bitwise the two passes'.
    """
    # the convolved axes, where the rules are per axis
    per_axis = not isinstance(boundary, str) or isinstance(cval, (list, tuple, np.ndarray))
    conv = normalize_axes(axes, x.ndim, np.ndim(k)) if per_axis else None
    (data_bnd, data_cval), (weight_bnd, weight_cval), edge_missing = edge_rules(
        boundary, cval, conv, x.ndim, nan_policy == "omit")
    min_weight = check_keywords(nan_policy, min_weight, preserve_nan, mode)
    mask = check_mask(mask, x.shape)
    normalize = nan_policy == "omit" or mask is not None or edge_missing
    floating = x.dtype.kind in "fc"
    xnan = None
    if floating and (nan_policy != "propagate" or preserve_nan):
        xnan = np.isnan(x)
        if nan_policy == "raise" and not lazy and xnan.any():
            raise ValueError("x holds NaN and nan_policy='raise'")
    kf = weights_kernel(k, flip) if normalize else None

    missing = xnan if nan_policy == "omit" else None
    if mask is not None:
        missing = ~mask if missing is None else (missing | ~mask)
    if not normalize or (not lazy and not edge_missing
                         and (missing is None or not missing.any())):
        # nothing is missing: the plain operation, bit for bit
        res = correlate(x, boundary, cval, out)
        if preserve_nan and xnan is not None:
            res = finish(res, None, None, None, None, xnan, not lazy)
        return res

    real = np.finfo(dtype).dtype
    if one_pass is not None and not lazy and nan_policy != "propagate" and dtype.kind == "f":
        res = _one_pass(one_pass, x, kf, boundary, cval, conv, nan_policy == "omit", missing,
                        mask, min_weight, preserve_nan, dtype, out)
        if res is not None:
            return res
    if missing is None:
        xz = x.astype(dtype)
        present = np.ones_like(x, dtype=real)
    elif lazy:
        xz = np.where(missing, np.zeros((), dtype=dtype), x)
        present = np.subtract(1, missing, dtype=real)
    else:
        xz = np.empty(x.shape, dtype=dtype)
        present = np.empty(x.shape, dtype=real)

        one = real.type(1)

        def fill(xz, present, x, missing):
            np.copyto(xz, x, casting="unsafe")
            zero_where(xz, missing)
            np.subtract(one, missing, out=present)
        by_blocks(fill, xz, present, x, missing)
    with _fft.shared_spectra():
        num = correlate(xz, data_bnd, data_cval, out)
        den = correlate(present, weight_bnd, weight_cval, None)
    ksum = kernel_sum(kf, den.dtype)
    zero = zero_weight(fft_possible(present), kf, den.dtype, x.size)
    return finish(num, den, ksum, min_weight, zero, xnan if preserve_nan else None, not lazy)


def one_pass_edges(boundary, cval, axes, ndim):
    """The data's ``(boundary, cval)`` for the one-pass kernel, in which a NaN
    (sample or cval) is missing: a ``"missing"`` axis becomes ``"constant"``
    with a NaN cval, whose extension the kernel then finds missing as it
    reads it, as ``edge_rules`` rules.  None where that takes a cval per axis
    (a ``"constant"`` axis with a number and a ``"missing"`` one, or a
    sequence of cvals): the two passes serve those."""
    if isinstance(cval, (list, tuple, np.ndarray)):
        return None
    if isinstance(boundary, str):
        return ("constant", np.nan) if boundary == MISSING else (boundary, cval)
    names = normalize_boundary(boundary, axes, ndim, BOUNDARIES + (MISSING,))
    names = [on_axis(names, a) for a in axes]
    if MISSING not in names:
        return boundary, cval
    if "constant" in names and not _is_nan(cval):
        return None
    return ["constant" if name == MISSING else name for name in names], np.nan


def _one_pass(one_pass, x, kf, boundary, cval, axes, omit, missing, mask, min_weight,
              preserve_nan, dtype, out):
    """``normalized`` by the one-pass kernel (``one_pass``), or None.

    A mask takes one pass of its own first: a copy of ``x`` with NaN where
    the mask is False (only under ``"omit"``/``"raise"``, where every NaN of
    ``x`` is missing too).  ``preserve_nan`` is the kernel's own test of each
    output's input sample: x's NaN, so not with a mask (whose missing samples
    it does not preserve)."""
    edges = one_pass_edges(boundary, cval, axes, x.ndim)
    if edges is None or (not omit and _is_nan(cval)) or (preserve_nan and mask is not None):
        # without omit, a NaN cval is a value (it propagates)
        return None
    src = x
    if mask is not None:
        src = np.array(x, dtype=dtype, order="C")
        by_blocks(nan_where, src, missing)
    ksum = kernel_sum(kf, dtype)
    # finish's test, with its numbers rounded as numpy compares them with an
    # array of the compute dtype (and a zero weight of 0: direct sums)
    limit = min_weight * abs(float(ksum))
    strict = limit > 0.0
    return one_pass(src, edges[0], edges[1],
                    (float(ksum), float(dtype.type(limit)), strict), bool(preserve_nan), out)


def finish(num, den, ksum, min_weight, zero, xnan, in_place):
    """``num * ksum / den``, NaN where the present fraction ``den / ksum`` is
    below ``min_weight`` (negative fractions too) or the weight is zero
    (``|den| <= zero``), and NaN where ``xnan`` is set (``preserve_nan``).
    ``den=None``: only the last step.  ``in_place``: numpy arrays, ``num`` and
    ``den`` overwritten; otherwise dask arrays, the same steps per block."""
    nan = np.asarray(np.nan, dtype=num.dtype)
    if den is None:
        if in_place:
            num[xnan] = nan
            return num
        return np.where(xnan, nan, num)
    # the present fraction den / ksum below min_weight, negative, or a weight
    # within ``zero``: one comparison of den (with ksum's sign) with a threshold
    limit = min_weight * abs(float(ksum))

    def signed_bad(den):
        signed = den if ksum > 0 else -den
        return signed < limit if limit > zero else signed <= zero

    def rescale(num, den, xnan):
        bad = signed_bad(den)
        if xnan is not None:
            bad |= xnan
        # ksum / den is exactly 1 where every tap is present (see
        # kernel_sum), and NaN where the output is to be NaN
        scale = np.divide(ksum, den, out=den)
        nan_where(scale, bad)
        np.multiply(num, scale, out=num)

    if in_place:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            by_blocks(rescale, num, den, xnan)
        return num

    def block(num, den, xnan):
        # a task's own copies (dask may hand the same block to other tasks),
        # and the division's warnings silenced where it runs: when computed
        num = np.array(num, dtype=num.dtype, order="C")
        den = np.array(den, dtype=den.dtype, order="C")
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            rescale(num, den, xnan)
        return num

    if xnan is not None:
        xnan = xnan.rechunk(num.chunks)   # x's chunks: the output's may be merged ones
    return num.map_blocks(block, den.rechunk(num.chunks), xnan, dtype=num.dtype)


# Masked writes (``np.copyto(..., where=)``) branch on every element, and on
# scattered holes mispredict: 20 ms for 2048^2 float32 with 10 % holes, against
# about 2 ms for a pass of bit operations.
# So samples are zeroed by ANDing their bits with 0 or all ones, and outputs
# made NaN by ORing a quiet NaN's bits into their scale.
_QUIET_NAN = {4: np.uint32(0x7FC00000), 8: np.uint64(0x7FF8000000000000)}


def _bits(a):
    """A C-contiguous float or complex array's bits as unsigned integers, one
    row per element (a column per real and imaginary part); None otherwise."""
    if not a.flags.c_contiguous:
        return None
    part = a.itemsize // 2 if a.dtype.kind == "c" else a.itemsize
    return a.view(np.dtype("u%d" % part)).reshape(a.size, -1)


def zero_where(a, where):
    """``a[where] = 0`` (in place), branch-free where ``a`` allows."""
    bits = _bits(a)
    if bits is None:
        np.copyto(a, 0, where=where)
        return
    np.bitwise_and(bits, np.subtract(where.reshape(-1, 1), 1, dtype=bits.dtype), out=bits)


def nan_where(a, where):
    """``a[where] = NaN`` for a real float array (in place), branch-free where
    ``a`` allows."""
    bits = _bits(a)
    if bits is None:
        np.copyto(a, np.nan, where=where)
        return
    nan = _QUIET_NAN[a.itemsize]
    np.bitwise_or(bits, np.multiply(where.reshape(-1, 1), nan, dtype=bits.dtype), out=bits)


# Elements per block of the elementwise passes over the whole arrays: the
# block's pieces of every array stay in cache between the passes, so each
# array crosses memory once (2048^2 float32, one thread: 5-10 % less CPU time
# for the whole call than whole-array passes; 1 << 13 costs more in calls).
_BLOCK = 1 << 17


def by_blocks(fn, *arrays):
    """``fn(*arrays)`` one block of ``_BLOCK`` elements at a time where every
    array (None passes as None) is C-contiguous and of one size, else at once."""
    given = [a for a in arrays if a is not None]
    size = given[0].size
    if size <= _BLOCK or not all(a.flags.c_contiguous and a.size == size for a in given):
        fn(*arrays)
        return
    flat = [None if a is None else a.reshape(-1) for a in arrays]
    for i in range(0, size, _BLOCK):
        fn(*[None if a is None else a[i:i + _BLOCK] for a in flat])

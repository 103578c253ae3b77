"""Missing samples: nan_policy, mask, min_weight, preserve_nan and boundary="missing".

References written here, sharing no code with ndconv: the input and its
present-sample indicator extended with ``numpy.pad``, a direct sum over
sliding windows in float64 (numerator and weights), the ratio; and the same
ratio from two scipy.ndimage correlations.  astropy.convolution (where
installed) for its interpolation of NaN.
"""
import itertools

import numpy as np
import pytest
from conftest import per_axis_geometry
from hypothesis import given, settings
from hypothesis import strategies as st

import ndconv

ndi = pytest.importorskip("scipy.ndimage")

MODES = ["full", "same", "valid"]
BOUNDARIES = ["constant", "edge", "symmetric", "reflect", "wrap", "missing"]


# ----------------------------------------------------------------------------- references
def _widths(n, K, mode):
    if mode == "full":
        return K - 1, K - 1
    if mode == "same":
        return K // 2, K - 1 - K // 2
    return 0, 0


def _pad(a, widths, boundary, cval):
    if boundary == "constant":
        return np.pad(a, widths, mode="constant", constant_values=cval)
    return np.pad(a, widths, mode=boundary)


def naive(x, k, mode, boundary, present, cval=0.0, op="correlate"):
    """``(num, den, ksum)`` of normalized correlation in float64/complex128 by a
    direct sum over every window of the padded input.  ``present`` is the
    present-sample indicator of ``x``; ``x`` holds 0 where it is False."""
    cdt = np.complex128 if np.iscomplexobj(x) else np.float64
    x = np.where(present, x, 0).astype(cdt)
    p = present.astype(np.float64)
    k = np.asarray(k, dtype=np.float64)
    if op == "convolve":
        k = k[(slice(None, None, -1),) * k.ndim]
    if mode == "valid":
        assert all(n >= K for n, K in zip(x.shape, k.shape))
        xe, pe = x, p
    else:
        widths = [_widths(n, K, mode) for n, K in zip(x.shape, k.shape)]
        if boundary == "missing":
            xe, pe = _pad(x, widths, "constant", 0), _pad(p, widths, "constant", 0)
        else:
            xe = _pad(x, widths, boundary, cval)
            pe = _pad(p, widths, boundary, 1.0)
    wx = np.lib.stride_tricks.sliding_window_view(xe, k.shape)
    wp = np.lib.stride_tricks.sliding_window_view(pe, k.shape)
    axes = tuple(range(x.ndim, 2 * x.ndim))
    num = np.sum(wx * k, axis=axes)
    den = np.sum(wp * k, axis=axes)
    return num, den, float(k.sum())


def ratio(num, den, ksum, min_weight=0.0):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num * ksum / den
        frac = den / ksum
    out[(den == 0) | (frac < min_weight)] = np.nan
    return out


def _case(rng, ndim, mode, dtype, hole_fraction=0.25):
    top = {1: 30, 2: 12, 3: 7}[ndim]
    xs = tuple(int(v) for v in rng.integers(3, top + 1, ndim))
    ks = tuple(int(v) for v in rng.integers(1, 5, ndim))
    if mode == "valid":
        ks = tuple(min(a, b) for a, b in zip(xs, ks))
    x = rng.standard_normal(xs) + 2.0
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(xs)
    x = x.astype(dtype)
    holes = rng.random(xs) < hole_fraction
    k = rng.random(ks) + 0.1       # positive taps: every tap carries weight
    return x, k, holes


def _check(res, ref, den, ksum, dtype, K, *, absnum, fft=False):
    """Agreement within the accumulation error; the NaN positions as the
    reference's.

    An output is ``num * ksum / den``.  The direct sums ``num`` (``K`` products)
    and ``den`` (``K`` positive weights) are each within ``K eps`` of the sum of
    their terms' absolute values -- ``absnum`` for ``num`` (the reference's sums
    of ``|k| |x|``: a numerator that cancels keeps the error of its terms), ``den``
    itself for ``den`` -- and the ratio adds two roundings, so an output is
    within ``K eps (|ksum / den| absnum + |ref|)`` to first order; 8x that.  The
    FFT's errors spread over the whole output: scaled by the largest ``absnum``,
    64x."""
    eps = np.finfo(np.dtype(dtype)).eps
    ref_nan = np.isnan(ref)
    if fft:
        # where the weight is tiny the FFT's rounding decides; elsewhere the same
        assert np.isnan(res[ref_nan]).all()
        sure = ~ref_nan & (np.abs(den) > 1e-3 * abs(ksum))
    else:
        assert np.array_equal(np.isnan(res), ref_nan)
        sure = ~ref_nan
    if not sure.any():
        return
    gain = np.abs(ksum / den[sure])
    terms = np.abs(absnum[sure])
    if fft:
        terms = np.full_like(terms, np.max(terms))
    tol = (64 if fft else 8) * K * eps * (gain * terms + np.abs(ref[sure]))
    np.testing.assert_array_less(np.abs(res[sure] - ref[sure]), tol + 1e-300)


# ----------------------------------------------------------------------------- the grid
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
def test_omit_against_naive(rng, ndim, mode, boundary, dtype):
    for trial in range(2):
        x, k, holes = _case(rng, ndim, mode, dtype)
        op = ("correlate", "convolve")[trial]
        xn = x.copy()
        xn[holes] = np.nan
        num, den, ksum = naive(x, k, mode, boundary, ~holes, cval=0.5, op=op)
        absnum = naive(np.abs(x), np.abs(k), mode, boundary, ~holes, cval=0.5, op=op)[0]
        ref = ratio(num, den, ksum)
        for method in ("direct", "fft"):
            res = getattr(ndconv, op)(xn, k.astype(np.result_type(dtype, np.float32).char.lower()
                                                   if dtype != "complex64" else np.float32),
                                      mode, boundary=boundary, cval=0.5, nan_policy="omit",
                                      method=method)
            assert res.dtype == np.dtype(dtype)
            _check(res, ref, den, ksum, dtype, k.size, absnum=absnum, fft=method == "fft")


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_mask_against_ndimage(rng, boundary):
    """The hand-rolled ratio users write with scipy.ndimage, for "same"."""
    x = rng.standard_normal((40, 33))
    mask = rng.random(x.shape) > 0.3
    k = rng.random((5, 4)) + 0.2
    xz = np.where(mask, x, 0)
    names = {"constant": "constant", "edge": "nearest", "symmetric": "reflect",
             "reflect": "mirror", "wrap": "grid-wrap", "missing": "constant"}
    mode = names[boundary]
    num = ndi.correlate(xz, k, mode=mode, cval=0.0)
    den = ndi.correlate(mask.astype(float), k, mode=mode,
                        cval=0.0 if boundary == "missing" else 1.0)
    ref = num * k.sum() / den
    x_given = x.copy()
    res = ndconv.correlate(x, k, "same", boundary=boundary, mask=mask, method="direct")
    np.testing.assert_allclose(res, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    assert np.array_equal(x, x_given)          # nothing the caller passed changes


def test_axes_and_origin(rng):
    x = rng.standard_normal((6, 20, 3))
    holes = rng.random(x.shape) < 0.2
    xn = np.where(holes, np.nan, x)
    k = rng.random(5) + 0.1
    res = ndconv.convolve(xn, k, "same", axes=1, nan_policy="omit", boundary="reflect")
    for i, j in itertools.product(range(6), range(3)):
        num, den, ksum = naive(x[i, :, j], k, "same", "reflect", ~holes[i, :, j], op="convolve")
        np.testing.assert_allclose(res[i, :, j], ratio(num, den, ksum), rtol=1e-12, atol=1e-12)


def test_min_weight(rng):
    x = rng.standard_normal((30, 30))
    holes = rng.random(x.shape) < 0.5
    xn = np.where(holes, np.nan, x)
    k = rng.random((5, 5)) + 0.1
    for mw in (0.0, 0.3, 0.6, 1.0):
        num, den, ksum = naive(x, k, "same", "missing", ~holes)
        ref = ratio(num, den, ksum, mw)
        res = ndconv.correlate(xn, k, "same", boundary="missing", nan_policy="omit",
                               min_weight=mw, method="direct")
        # the fraction compared in the compute dtype may round across mw
        # only when it lies within a few ulps of it
        close = np.abs(den / ksum - mw) < 1e-12
        assert np.array_equal(np.isnan(res)[~close], np.isnan(ref)[~close])
        ok = ~np.isnan(ref) & ~close
        np.testing.assert_allclose(res[ok], ref[ok], rtol=1e-12, atol=1e-12)


def test_zero_weight_is_nan():
    x = np.full(12, np.nan)
    x[0] = 1.0
    res = ndconv.convolve(x, np.ones(3), "same", nan_policy="omit", boundary="missing")
    assert np.array_equal(np.isnan(res), np.arange(12) > 1)
    # a mixed-sign kernel: a negative present weight is NaN under min_weight=0
    k = np.array([-1.0, 3.0, -1.0])
    y = np.array([1.0, np.nan, 1.0, 2.0, 3.0])
    res = ndconv.correlate(y, k, "same", nan_policy="omit", boundary="missing")
    assert np.isnan(res[1]) and np.isfinite(res[3])


def test_preserve_nan(rng):
    x = rng.standard_normal((20, 20)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    k = np.ones((3, 3), np.float32)
    res = ndconv.convolve(x, k, "same", nan_policy="omit", preserve_nan=True)
    assert np.array_equal(np.isnan(res), np.isnan(x))
    plain = ndconv.convolve(x, k, "same", nan_policy="omit")
    keep = ~np.isnan(x)
    assert np.array_equal(res[keep], plain[keep])
    # with propagate, preserve_nan only restates where NaN was
    res = ndconv.convolve(x, k, "same", preserve_nan=True)
    assert np.isnan(res[np.isnan(x)]).all()
    with pytest.raises(ValueError, match="preserve_nan"):
        ndconv.convolve(x, k, "full", nan_policy="omit", preserve_nan=True)


def test_propagate_with_mask_keeps_nan(rng):
    x = rng.standard_normal(25)
    x[7] = np.nan
    mask = np.ones(25, bool)
    mask[15] = False
    k = np.array([1.0, 2.0, 1.0])
    res = ndconv.convolve(x, k, "same", mask=mask, method="direct")
    assert np.isnan(res[6:9]).all() and np.isfinite(np.delete(res, [6, 7, 8])).all()
    # the masked sample is skipped even when it is NaN
    x[15] = np.nan
    res2 = ndconv.convolve(x, k, "same", mask=mask, method="direct")
    np.testing.assert_array_equal(res, res2)


def test_broadcast_mask(rng):
    x = rng.standard_normal((8, 10))
    cols = rng.random(10) > 0.3
    k = np.ones((3, 3))
    res = ndconv.correlate(x, k, "same", mask=cols, boundary="edge", method="direct")
    ref = ndconv.correlate(x, k, "same", mask=np.broadcast_to(cols, x.shape).copy(),
                           boundary="edge", method="direct")
    np.testing.assert_array_equal(res, ref)


def test_raise():
    x = np.array([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="nan_policy"):
        ndconv.convolve(x, [1.0, 1.0], nan_policy="raise")
    np.testing.assert_array_equal(ndconv.convolve(x[[0, 2]], [1.0, 1.0], nan_policy="raise"),
                                  ndconv.convolve(x[[0, 2]], [1.0, 1.0]))


# ----------------------------------------------------------------------------- dtypes, threads, out
def test_dtypes(rng):
    x32 = rng.standard_normal((16, 16)).astype(np.float32)
    x32[3, 4] = np.nan
    k32 = np.ones((3, 3), np.float32)
    assert ndconv.convolve(x32, k32, "same", nan_policy="omit").dtype == np.float32
    xi = rng.integers(0, 100, (10, 10)).astype(np.int16)
    mask = rng.random(xi.shape) > 0.2
    res = ndconv.convolve(xi, np.ones((3, 3)), "same", mask=mask)
    assert res.dtype == np.float64
    num, den, ksum = naive(xi.astype(float), np.ones((3, 3)), "same", "constant", mask)
    np.testing.assert_allclose(res, ratio(num, den, ksum), rtol=1e-13)


def test_threads_bitwise(rng):
    x = rng.standard_normal((300, 257)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    k = rng.random((7, 6)).astype(np.float32)
    one = ndconv.correlate(x, k, "same", nan_policy="omit", method="direct", workers=1)
    two = ndconv.correlate(x, k, "same", nan_policy="omit", method="direct", workers=2)
    assert np.array_equal(one, two, equal_nan=True)


def test_out(rng):
    x = rng.standard_normal((12, 12))
    x[2, 2] = np.nan
    k = np.ones((3, 3))
    out = np.empty((14, 14))
    res = ndconv.convolve(x, k, nan_policy="omit", out=out, method="direct")
    assert res is out
    np.testing.assert_array_equal(out, ndconv.convolve(x, k, nan_policy="omit", method="direct"))


def test_plain_cache_not_used(rng):
    """Repeated small calls of one shape are planned once; a call with a mask
    of that shape must still take the mask into account."""
    x = rng.standard_normal(9)
    k = np.ones(3)
    for _ in range(3):
        plain = ndconv.correlate(x, k, "same", method="direct")
    mask = np.ones(9, bool)
    mask[4] = False
    res = ndconv.correlate(x, k, "same", method="direct", mask=mask)
    assert res[4] == pytest.approx((x[3] + x[5]) * 3 / 2)
    assert res[0] == plain[0]


def test_auto_may_use_fft(rng):
    x = rng.standard_normal((300, 300))
    x[rng.random(x.shape) < 0.1] = np.nan
    k = rng.random((41, 41)) + 0.1
    res = ndconv.correlate(x, k, "same", nan_policy="omit", boundary="missing")
    ref = ndconv.correlate(x, k, "same", nan_policy="omit", boundary="missing", method="direct")
    np.testing.assert_allclose(res, ref, rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kw, exc, word", [
    ({"nan_policy": "ignore"}, ValueError, "nan_policy"),
    ({"nan_policy": None}, ValueError, "nan_policy"),
    ({"mask": np.ones(5)}, TypeError, "mask"),
    ({"mask": np.ones(4, bool)}, ValueError, "mask"),
    ({"min_weight": 1.5}, ValueError, "min_weight"),
    ({"min_weight": "0.5"}, TypeError, "min_weight"),
    ({"min_weight": float("nan")}, ValueError, "min_weight"),
    ({"preserve_nan": 1}, TypeError, "preserve_nan"),
    ({"boundary": "mising"}, ValueError, "boundary"),
    ({"boundary": "mising", "nan_policy": "omit"}, ValueError, "'missing'"),
])
def test_errors_name_the_argument(kw, exc, word):
    with pytest.raises(exc, match=word):
        ndconv.convolve(np.ones(5), np.ones(3), "same", **kw)


def test_zero_sum_kernel_is_an_error():
    sobel = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])
    x = np.ones((8, 8))
    x[3, 3] = np.nan
    for kw in ({"nan_policy": "omit"}, {"mask": np.ones((8, 8), bool)},
               {"boundary": "missing"}):
        with pytest.raises(ValueError, match="sums to zero"):
            ndconv.convolve(x, sobel, "same", **kw)
    with pytest.raises(TypeError, match="real"):
        ndconv.convolve(x, np.ones((3, 3)) * 1j, "same", nan_policy="omit")
    with pytest.raises(ValueError, match="finite"):
        ndconv.convolve(x, np.array([[1.0, np.inf]]), "same", nan_policy="omit")


# ----------------------------------------------------------------------------- properties
def _holey(draw, ndim_max=3):
    ndim = draw(st.integers(1, ndim_max))
    shape = tuple(draw(st.lists(st.integers(1, 8), min_size=ndim, max_size=ndim)))
    kshape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return shape, kshape, np.random.default_rng(seed)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(BOUNDARIES), st.sampled_from(["float32", "float64"]),
       st.sampled_from(["direct", "fft"]))
def test_constant_with_holes_stays_constant(data, boundary, dtype, method):
    shape, kshape, rng = _holey(data.draw)
    c = float(data.draw(st.floats(-1e3, 1e3)))
    x = np.full(shape, c, dtype=dtype)
    x[rng.random(shape) < 0.3] = np.nan
    k = (rng.random(kshape) + 0.05).astype(dtype)
    res = ndconv.convolve(x, k, "same", boundary=boundary, cval=c, nan_policy="omit",
                          method=method)
    ok = ~np.isnan(res)
    eps = np.finfo(dtype).eps
    # every finite output is what the constant gives without holes, c * sum(k):
    # the weights' sum over present taps cancels; rounding of the two sums
    # (and the FFT's) scaled by the rescaling
    want = c * float(k.astype(np.float64).sum())
    tol = (400 if method == "fft" else 8) * k.size * eps * abs(want) + 1e-30
    assert np.all(np.abs(res[ok] - want) <= tol * 4)
    if not np.isnan(x).all() and boundary != "missing" and method == "direct":
        assert ok.any()


@settings(max_examples=60, deadline=None)
@given(st.data(), st.sampled_from(BOUNDARIES[:5]), st.sampled_from(MODES),
       st.sampled_from(["float32", "float64"]))
def test_no_holes_is_propagate_bitwise(data, boundary, mode, dtype):
    shape, kshape, rng = _holey(data.draw)
    if mode == "valid":
        kshape = tuple(min(a, b) for a, b in zip(shape, kshape))
    x = rng.standard_normal(shape).astype(dtype)
    k = (rng.random(kshape) + 0.05).astype(dtype)
    plain = ndconv.convolve(x, k, mode, boundary=boundary, cval=0.25, method="direct")
    omit = ndconv.convolve(x, k, mode, boundary=boundary, cval=0.25, nan_policy="omit",
                           method="direct")
    full = ndconv.convolve(x, k, mode, boundary=boundary, cval=0.25,
                           mask=np.ones(shape, bool), method="direct")
    assert np.array_equal(plain, omit) and np.array_equal(plain, full)
    # holes elsewhere: outputs whose taps are all present keep the plain bits
    # too, where the weights are summed tap by tap (the direct plain path)


# ----------------------------------------------------------------------------- per axis
def nan_pad_reference(x, k, mode, names, cvals, axes, op="correlate"):
    """``(num, den, ksum)`` with a boundary per convolved axis: ``x`` (NaN =
    missing) padded by numpy.pad one convolved axis at a time in ``axes``
    order -- NaN past the edges of a ``"missing"`` axis, the cval past a
    ``"constant"`` one, the rule elsewhere -- then, over every window, the
    sums of k * x and of k over the taps that are not NaN (float64)."""
    x = np.asarray(x, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if op == "convolve":
        k = k[(slice(None, None, -1),) * k.ndim]
    # the kernel with one axis per axis of x (extent 1 where not convolved)
    full = [1] * x.ndim
    for i, a in enumerate(axes):
        full[a] = k.shape[i]
    kk = np.transpose(k, np.argsort(axes)).reshape(full)
    xe = x
    if mode != "valid":
        for a, name, c in zip(axes, names, cvals):
            width = [(0, 0)] * x.ndim
            width[a] = _widths(x.shape[a], full[a], mode)
            if name in ("missing", "constant"):
                fill = np.nan if name == "missing" else c
                xe = np.pad(xe, width, mode="constant", constant_values=fill)
            else:
                xe = np.pad(xe, width, mode=name)
    present = ~np.isnan(xe)
    windows = tuple(range(x.ndim, 2 * x.ndim))
    num = np.sum(np.lib.stride_tricks.sliding_window_view(np.where(present, xe, 0), kk.shape)
                 * kk, axis=windows)
    den = np.sum(np.lib.stride_tricks.sliding_window_view(present, kk.shape) * kk, axis=windows)
    return num, den, float(k.sum())


def _abs_sums(x, k, mode, names, cvals, axes, op="correlate"):
    """``nan_pad_reference``'s numerator over absolute values (``|k| |x|``, the
    fills' too): the scale of its rounding error (``_check``)."""
    return nan_pad_reference(np.abs(x), np.abs(k), mode, names, np.abs(np.asarray(cvals, float)),
                             axes, op)[0]


# (shape, kernel shape, axes, names, cvals); the fill of a "missing" axis is never read
PER_AXIS = [
    ((11, 9), (4, 3), (0, 1), ["missing", "wrap"], [9.0, 0.0]),
    ((11, 9), (3, 4), (0, 1), ["reflect", "missing"], [0.0, -4.0]),
    ((10, 12), (3, 5), (0, 1), ["missing", "constant"], [6.0, 2.5]),
    ((10, 12), (5, 2), (0, 1), ["constant", "missing"], [-1.5, 8.0]),
    ((7, 6, 8), (3, 2, 4), (0, 1, 2), ["symmetric", "missing", "edge"], [0.0, 5.0, 0.0]),
    ((7, 6, 8), (4, 3), (2, 0), ["missing", "wrap"], [3.0, 0.0]),
    ((7, 6, 8), (2, 3), (1, 2), ["constant", "missing"], [3.0, 0.0]),
    ((40,), (6,), (0,), ["missing"], [2.0]),
]


@pytest.mark.parametrize("case", PER_AXIS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_missing_per_axis_against_nan_pad(rng, case, mode, method, dtype):
    """"missing" as one axis' boundary: past that axis' edges samples are
    missing, the other axes extend by their rule (the data and whether it is
    present alike), numpy.pad one axis at a time."""
    shape, kshape, axes, names, cvals = case
    x = rng.standard_normal(shape) + 2.0
    x[rng.random(shape) < 0.2] = np.nan
    k = rng.random(kshape) + 0.1
    for op in ("correlate", "convolve"):
        num, den, ksum = nan_pad_reference(x, k, mode, names, cvals, axes, op)
        absnum = _abs_sums(x, k, mode, names, cvals, axes, op)
        ref = ratio(num, den, ksum)
        res = getattr(ndconv, op)(x.astype(dtype), k.astype(dtype), mode, boundary=names,
                                  cval=cvals, axes=axes, nan_policy="omit", method=method)
        assert res.dtype == np.dtype(dtype)
        _check(res, ref, den, ksum, dtype, k.size, absnum=absnum, fft=method == "fft")
        # a dict {axis: name} says the same
        res2 = getattr(ndconv, op)(x.astype(dtype), k.astype(dtype), mode,
                                   boundary=dict(zip(axes, names)), cval=cvals, axes=axes,
                                   nan_policy="omit", method=method)
        assert np.array_equal(res, res2, equal_nan=True)


def test_missing_per_axis_mask_min_weight_preserve_nan(rng):
    x = rng.standard_normal((13, 10)) + 1.0
    holes = rng.random(x.shape) < 0.25
    nans = rng.random(x.shape) < 0.1
    k = rng.random((5, 4)) + 0.1
    names = ["wrap", "missing"]
    xn = np.where(nans, np.nan, x)
    # a mask and NaN under "omit": both missing; the reference sees NaN for both
    num, den, ksum = nan_pad_reference(np.where(holes | nans, np.nan, x), k, "same", names,
                                       [0, 0], (0, 1), "convolve")
    absnum = _abs_sums(np.where(holes | nans, np.nan, x), k, "same", names, [0, 0], (0, 1),
                       "convolve")
    for method in ("direct", "fft"):
        res = ndconv.convolve(xn, k, "same", boundary=names, mask=~holes, nan_policy="omit",
                              min_weight=0.6, preserve_nan=True, method=method)
        ref = ratio(num, den, ksum, min_weight=0.6)
        ref[nans] = np.nan
        _check(res, ref, den, ksum, "float64", k.size, absnum=absnum, fft=method == "fft")
    assert np.isnan(ref).sum() > nans.sum()      # min_weight decided some outputs


def test_nan_fill_per_axis_is_missing_under_omit(rng):
    """A NaN cval of one "constant" axis: missing samples past that axis'
    edges under "omit" (as a NaN cval is for every axis), NaN spreading under
    "propagate"."""
    x = rng.standard_normal((9, 11))
    k = rng.random((3, 3)) + 0.1
    names, cvals = ["constant", "edge"], [np.nan, 0.0]
    num, den, ksum = nan_pad_reference(x, k, "same", names, cvals, (0, 1))
    absnum = _abs_sums(x, k, "same", names, cvals, (0, 1))
    for method in ("direct", "fft"):
        res = ndconv.correlate(x, k, "same", boundary=names, cval=cvals, nan_policy="omit",
                               method=method)
        _check(res, ratio(num, den, ksum), den, ksum, "float64", k.size, absnum=absnum,
               fft=method == "fft")
        same = ndconv.correlate(x, k, "same", boundary=["missing", "edge"], nan_policy="omit",
                                method=method)
        assert np.array_equal(res, same)
    res = ndconv.correlate(x, k, "same", boundary=names, cval=cvals, method="direct")
    assert np.isnan(res[[0, -1]]).all() and not np.isnan(res[1:-1]).any()
    # under "omit" with both axes constant, the fill of the other axis is a present sample
    num, den, ksum = nan_pad_reference(x, k, "full", ["constant", "constant"], [2.0, np.nan],
                                       (0, 1))
    absnum = _abs_sums(x, k, "full", ["constant", "constant"], [2.0, np.nan], (0, 1))
    res = ndconv.correlate(x, k, "full", cval=[2.0, np.nan], nan_policy="omit", method="direct")
    _check(res, ratio(num, den, ksum), den, ksum, "float64", k.size, absnum=absnum)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_missing_per_axis_without_holes_keeps_plain_bits(rng, dtype):
    """No sample missing in x: outputs all of whose taps lie inside the
    "missing" axes are the plain result bit for bit (direct); per-axis names
    without "missing" under "omit" are the plain call."""
    x = rng.standard_normal((16, 14)).astype(dtype)
    k = (rng.random((5, 4)) + 0.1).astype(dtype)
    res = ndconv.correlate(x, k, "same", boundary=["missing", "wrap"], cval=[0.0, 0.0],
                           nan_policy="omit", method="direct")
    plain = ndconv.correlate(x, k, "same", boundary=["constant", "wrap"], method="direct")
    assert np.array_equal(res[2:-2], plain[2:-2])
    assert not np.array_equal(res[:2], plain[:2])
    for names in (["reflect", "wrap"], {1: "edge"}):
        a = ndconv.correlate(x, k, "full", boundary=names, cval=[1.0, 2.0], nan_policy="omit",
                             method="direct")
        b = ndconv.correlate(x, k, "full", boundary=names, cval=[1.0, 2.0], method="direct")
        assert np.array_equal(a, b)


def test_missing_per_axis_errors():
    x = np.ones((4, 5))
    k = np.ones((2, 2))
    with pytest.raises(ValueError, match="boundary must be one of"):
        ndconv.correlate(x, k, "same", boundary=["missing", "nearest"])
    with pytest.raises(ValueError, match="boundary must be one name, or one per convolved axis"):
        ndconv.correlate(x, k, "same", boundary=["missing"])
    with pytest.raises(ValueError, match="cval must be a scalar, or one value per convolved"):
        ndconv.correlate(x, k, "same", boundary=["missing", "wrap"], cval=[1.0])
    with pytest.raises(ValueError, match="sums to zero"):
        ndconv.correlate(x, [[1.0, -1.0]] * 2, "same", boundary={0: "missing"})
    with pytest.raises(ValueError, match="boundary has an entry for axis 3"):
        ndconv.correlate(x, k, "same", boundary={3: "missing"})
    # the layer and the drop-ins have no missing samples
    with pytest.raises(ValueError, match="boundary must be one of"):
        ndconv.conv(np.ones((1, 4, 4, 1)), np.ones((2, 2, 1, 1)), padding=1,
                    boundary=["missing", "wrap"])


@st.composite
def per_axis_problems(draw):
    return (*per_axis_geometry(draw, st, BOUNDARIES, 4, [0.0, 1.0, -2.5]),
            draw(st.integers(0, 2 ** 16)))


@settings(max_examples=80, deadline=None)
@given(per_axis_problems(), st.sampled_from(["direct", "fft"]))
def test_property_missing_per_axis_is_nan_pad(p, method):
    shape, kshape, axes, mode, names, cvals, seed = p
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) + 2.0
    x[rng.random(shape) < 0.2] = np.nan
    k = rng.random(kshape) + 0.1
    num, den, ksum = nan_pad_reference(x, k, mode, names, cvals, axes)
    absnum = _abs_sums(x, k, mode, names, cvals, axes)
    res = ndconv.correlate(x, k, mode, boundary=names, cval=cvals, axes=axes, nan_policy="omit",
                           method=method)
    _check(res, ratio(num, den, ksum), den, ksum, "float64", k.size, absnum=absnum,
           fft=method == "fft")


# ----------------------------------------------------------------------------- astropy
@pytest.mark.parametrize("boundary, ours", [("fill", "constant"), ("extend", "edge"),
                                            ("wrap", "wrap")])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_astropy_interpolate(rng, boundary, ours, ndim):
    conv = pytest.importorskip("astropy.convolution")
    shape = {1: (200,), 2: (40, 37), 3: (12, 11, 10)}[ndim]
    kshape = {1: (9,), 2: (5, 7), 3: (3, 5, 3)}[ndim]
    x = rng.standard_normal(shape)
    x[rng.random(shape) < 0.15] = np.nan
    k = rng.random(kshape) + 0.1
    k /= k.sum()   # astropy normalizes the kernel: the two agree for kernels summing to 1
    for fill in (0.0, 1.5, np.nan):
        if boundary != "fill" and fill != 0.0:
            continue
        ref = conv.convolve(x, k, boundary=boundary, fill_value=fill, nan_treatment="interpolate",
                            normalize_kernel=True)
        res = ndconv.convolve(x, k, "same", boundary=ours, cval=fill, nan_policy="omit")
        np.testing.assert_allclose(res, ref, rtol=1e-10, atol=1e-12)
    # without normalize_kernel astropy rescales to the whole kernel, as ndconv does
    ref = conv.convolve(x, 3 * k, boundary=boundary, nan_treatment="interpolate",
                        normalize_kernel=False)
    res = ndconv.convolve(x, 3 * k, "same", boundary=ours, nan_policy="omit")
    np.testing.assert_allclose(res, ref, rtol=1e-10, atol=1e-12)
    ref = conv.convolve(x, k, boundary=boundary, nan_treatment="interpolate", preserve_nan=True)
    res = ndconv.convolve(x, k, "same", boundary=ours, nan_policy="omit", preserve_nan=True)
    np.testing.assert_allclose(res, ref, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- dask
@pytest.mark.parametrize("kw", [{"nan_policy": "omit"},
                                {"nan_policy": "omit", "boundary": "missing", "preserve_nan": True},
                                {"mask": "random", "boundary": "reflect"},
                                {"nan_policy": "omit", "min_weight": 0.5, "boundary": "wrap"}])
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_dask_equals_in_memory(rng, kw, method):
    da = pytest.importorskip("dask.array")
    x = rng.standard_normal((60, 50))
    x[rng.random(x.shape) < 0.2] = np.nan
    if "mask" in kw:
        kw = dict(kw, mask=rng.random(x.shape) > 0.3)
        x = np.nan_to_num(x)      # propagate: no NaN, or FFT would spread it everywhere
    k = rng.random((5, 4)) + 0.1
    ref = ndconv.convolve(x, k, "same", method=method, **kw)
    lazy = ndconv.convolve(da.from_array(x, chunks=20), k, "same", method=method, **kw)
    assert isinstance(lazy, da.Array)
    res = lazy.compute()
    if method == "direct":
        # the same sums in the same order, block by block
        assert np.array_equal(res, ref, equal_nan=True)
    else:
        assert np.array_equal(np.isnan(res), np.isnan(ref))
        np.testing.assert_allclose(res, ref, rtol=1e-9, atol=1e-9)


def test_dask_raise_is_lazy(rng):
    da = pytest.importorskip("dask.array")
    import ndconv.dask

    x = da.from_array(np.array([1.0, np.nan, 2.0, 3.0]), chunks=2)
    lazy = ndconv.dask.convolve(x, np.ones(3), "same", nan_policy="raise")
    with pytest.raises(ValueError, match="nan_policy"):
        lazy.compute()


# ----------------------------------------------------------------------------- the docs' script
def test_benchmark_script_small(tmp_path):
    pytest.importorskip("astropy.convolution")
    pytest.importorskip("matplotlib")
    pytest.importorskip("PIL")
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "holes.py")
    spec = importlib.util.spec_from_file_location("holes_bench", path)
    holes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(holes)
    args = ["--side", "64", "--reps", "1", "--astropy-reps", "1", "--out", str(tmp_path)]
    assert holes.main(args) == 0
    assert (tmp_path / "holes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = (tmp_path / "timing.csv").read_text().splitlines()
    assert rows[0] == ("call,median (ms),astropy / it,CPU median (ms),astropy / it (CPU)")
    assert len(rows) == 6 and rows[1].startswith('"ndconv, omit, method=""auto""",')
    prov = (tmp_path / "provenance.inc").read_text()
    assert prov.startswith("Preliminary") and "--side 64" in prov
    os.remove(tmp_path / "holes.png")
    assert holes.main(["--replot", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "holes.png").exists()


def test_fft_transforms_the_kernel_once(rng, monkeypatch):
    from ndconv._plan import fft as _fft

    calls, made = [], {}
    real = _fft._transforms

    def counting(is_real):
        if is_real not in made:   # one function per kind, as the real ones are
            fwd, inv, has_workers = real(is_real)

            def fwd_counted(a, *args, **kw):
                calls.append(a.shape)
                return fwd(a, *args, **kw)
            made[is_real] = fwd_counted, inv, has_workers
        return made[is_real]

    monkeypatch.setattr(_fft, "_transforms", counting)
    x = rng.standard_normal((64, 64))
    x[rng.random(x.shape) < 0.1] = np.nan
    k = rng.random((9, 9)) + 0.1
    res = ndconv.correlate(x, k, "same", nan_policy="omit", method="fft", boundary="missing")
    # one transform of the data, one of the weights, one of the kernel
    assert len(calls) == 3
    calls.clear()
    # zero and one past the edges: the same transform lengths all the same
    ndconv.correlate(x, k, "same", nan_policy="omit", method="fft")
    assert len(calls) == 3
    calls.clear()
    ndconv.correlate(np.nan_to_num(x), k, "same", method="fft")
    assert len(calls) == 2       # outside a normalized call nothing is kept
    ref = ndconv.correlate(x, k, "same", nan_policy="omit", boundary="missing", method="direct")
    np.testing.assert_allclose(res, ref, rtol=1e-10, atol=1e-10)


def test_four_dimensions(rng):
    x = rng.standard_normal((5, 4, 6, 3))
    holes = rng.random(x.shape) < 0.2
    k = rng.random((2, 3, 2, 3)) + 0.1
    num, den, ksum = naive(x, k, "same", "symmetric", ~holes, op="convolve")
    res = ndconv.convolve(np.where(holes, np.nan, x), k, "same", boundary="symmetric",
                          nan_policy="omit")
    np.testing.assert_allclose(res, ratio(num, den, ksum), rtol=1e-12, atol=1e-12)

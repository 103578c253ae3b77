"""The one-pass direct kernel for missing samples (``_core.correlate_nd``'s
``missing``; ``_plan.missing.normalized``'s ``one_pass``).

Its invariant is bitwise: the same sums in the same order as the two plain
correlations of the two-pass path, then the same finish, so the result must
equal the two-pass result bit for bit (NaN where it has NaN) for every
geometry it accepts.  Because both could share a mistake, the results are
also compared with an independent float64 reference (numpy.pad and a direct
sum written here) within the rounding bound of a float sum, and, where no
tap is missing, with the plain ("propagate") correlation bit for bit.
"""
import itertools

import numpy as np
import pytest

import ndconv
from ndconv._plan import direct as _direct
from ndconv._plan import tuning


@pytest.fixture
def one_pass_calls(monkeypatch):
    """Counts the direct runs that took the one-pass kernel."""
    calls = []
    run = _direct.DirectPlan.run

    def counted(self, x, w, cval, out, missing=None, **given):
        if missing is not None:
            calls.append(missing)
        return run(self, x, w, cval, out, missing, **given)

    monkeypatch.setattr(_direct.DirectPlan, "run", counted)
    return calls


def _both(fn, *args, **kw):
    """``fn(*args, **kw)`` by the one-pass kernel and by the two passes."""
    with tuning.override(missing_one_pass=True):
        one = fn(*args, **kw)
    with tuning.override(missing_one_pass=False):
        two = fn(*args, **kw)
    return one, two


def assert_bitwise(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    na, nb = np.isnan(a), np.isnan(b)
    np.testing.assert_array_equal(na, nb)
    u = np.dtype("u%d" % a.itemsize)
    np.testing.assert_array_equal(np.where(na, 0, a).view(u), np.where(nb, 0, b).view(u))


def _holes(rng, shape, fraction, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    if fraction >= 1.0:
        x[...] = np.nan
    elif fraction > 0:
        x[rng.random(shape) < fraction] = np.nan
    return x


KERNELS = [(1, 1), (1, 9), (9, 1), (2, 4), (3, 3), (4, 2), (5, 5)]
BOUNDARIES = [
    ("constant", 0.0), ("constant", 2.5), ("constant", np.nan), ("missing", 0.0),
    ("edge", 0.0), ("symmetric", 0.0), ("reflect", 0.0), ("wrap", 0.0),
    (["missing", "wrap"], 0.0), (["reflect", "missing"], np.nan), ({1: "missing"}, np.nan),
    (["edge", "constant"], 1.5),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("boundary,cval", BOUNDARIES)
@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.9, 1.0])
def test_bitwise_two_pass_2d(rng, one_pass_calls, dtype, mode, boundary, cval, fraction):
    """Kernel sizes odd, even and 1 wide; short rows (the narrow blocks) and
    long ones (the widest blocks and gathered borders); convolve and correlate."""
    for shape, ks, op in [((13, 11), KERNELS[:4], "correlate"),
                          ((9, 300), KERNELS[3:], "convolve")]:
        x = _holes(rng, shape, fraction, dtype)
        for kshape in ks:
            k = rng.random(kshape).astype(dtype) + 0.1
            n = len(one_pass_calls)
            one, two = _both(getattr(ndconv, op), x, k, mode, boundary=boundary, cval=cval,
                             nan_policy="omit", method="direct")
            assert_bitwise(one, two)
            # where nothing is missing, normalize returns the plain result first
            used = len(one_pass_calls) > n
            assert used or (fraction == 0 and "missing" not in str(boundary))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitwise_options(rng, one_pass_calls, dtype):
    """min_weight, preserve_nan, origins, masks, kernels summing below zero,
    3-D inputs with axes subsets, strided and Fortran-ordered x, thread counts."""
    x = _holes(rng, (10, 12, 40), 0.2, dtype)
    strided = _holes(rng, (10, 12, 80), 0.2, dtype)[::-1, :, ::2]
    cases = [
        dict(min_weight=0.5), dict(min_weight=1.0), dict(preserve_nan=True, min_weight=0.3),
        dict(origin=-1), dict(origin=(0, -1, 1)), dict(axes=(0, 2)), dict(axes=(2, 1)),
        dict(mask=rng.random(x.shape[1:]) > 0.3),
        dict(mask=rng.random(x.shape) > 0.5, boundary="missing", min_weight=0.3),
        dict(boundary="missing", preserve_nan=True, origin=(0, -1, 1)),
        dict(boundary=["wrap", "missing", "symmetric"], min_weight=0.2),
        dict(workers=2), dict(workers=1),
    ]
    for kw, (kshape, sign) in itertools.product(cases, [((3, 2, 5), 1), ((2, 3, 3), -1)]):
        nk = len(kw["axes"]) if "axes" in kw else 3
        k = sign * (rng.random(kshape[:nk]) + 0.1)
        mode = "same" if kw.get("preserve_nan") or "origin" in kw else "full"
        kw = dict({"nan_policy": "omit"}, **kw)
        for xx in (x, strided, np.asfortranarray(x)):
            n = len(one_pass_calls)
            with tuning.override(work_per_thread=1):
                one, two = _both(ndconv.convolve, xx, k, mode, method="direct", **kw)
            assert_bitwise(one, two)
            assert len(one_pass_calls) > n, kw


def test_threads_and_blocks_bitwise(rng, one_pass_calls):
    """1 and 2 threads, and the two passes on the one-row blocks or the
    row-sharing ones: one set of bits."""
    x = _holes(rng, (70, 530), 0.1, np.float32)
    k = rng.random((3, 4)).astype(np.float32)
    res = []
    for workers, sharing in [(1, True), (2, True), (1, False)]:
        mod = _direct.core()
        prev = mod.use_row_sharing(sharing)
        try:
            with tuning.override(work_per_thread=1, load_aware=False):
                res.extend(_both(ndconv.correlate, x, k, "same", nan_policy="omit",
                                 method="direct", workers=workers))
        finally:
            mod.use_row_sharing(prev)
    for r in res[1:]:
        assert_bitwise(r, res[0])
    assert len(one_pass_calls) == 3


def _reference(x, present, k, mode, boundary, cval, min_weight):
    """Normalized correlation in float64 by a direct sum over numpy.pad's
    extension (2-D, one boundary name): ``(out, bound)``, ``bound`` the
    rounding bound of a float sum in x's dtype."""
    x = np.where(present, x, 0).astype(np.float64)
    p = present.astype(np.float64)
    k = k.astype(np.float64)
    if mode == "same":
        widths = [(K // 2, K - 1 - K // 2) for K in k.shape]
    else:
        widths = [(K - 1, K - 1) for K in k.shape]
    if boundary == "missing":
        xe, pe = np.pad(x, widths), np.pad(p, widths)
    elif boundary == "constant":
        xe = np.pad(x, widths, constant_values=cval)
        pe = np.pad(p, widths, constant_values=1.0)
    else:
        xe, pe = np.pad(x, widths, mode=boundary), np.pad(p, widths, mode=boundary)
    m = [n - K + 1 for n, K in zip(xe.shape, k.shape)]
    num, den, mag = np.zeros(m), np.zeros(m), np.zeros(m)
    for i, j in itertools.product(range(k.shape[0]), range(k.shape[1])):
        num += k[i, j] * xe[i:i + m[0], j:j + m[1]]
        mag += abs(k[i, j] * xe[i:i + m[0], j:j + m[1]])
        den += k[i, j] * pe[i:i + m[0], j:j + m[1]]
    ksum = k.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num * ksum / den
        bad = (den <= 0) | (den < min_weight * ksum)
    out[bad] = np.nan
    # num and den are sums of k.size terms: each within k.size * eps of the
    # sum of their magnitudes (den's terms are all >= 0 here), and the finish
    # adds two roundings; the ratio's relative error is the sum of the parts'
    eps = np.finfo(np.float32).eps
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (k.size + 2) * eps * (mag * ksum / den + np.abs(out)) * 2
    return out, bound


@pytest.mark.parametrize("boundary,cval", [("constant", 3.0), ("missing", 0.0),
                                           ("symmetric", 0.0), ("wrap", 0.0)])
@pytest.mark.parametrize("mode", ["same", "full"])
def test_against_reference(rng, one_pass_calls, boundary, cval, mode):
    """float32 against a float64 sum within a rounding bound (and NaN in the
    same places): positive kernels, so each den term is a weight >= 0."""
    x = _holes(rng, (40, 150), 0.3, np.float32)
    for kshape in [(3, 3), (2, 5), (1, 9), (6, 1)]:
        k = (rng.random(kshape) + 0.05).astype(np.float32)
        with tuning.override(missing_one_pass=True):
            got = ndconv.correlate(x, k, mode, boundary=boundary, cval=cval, nan_policy="omit",
                                   min_weight=0.25, method="direct")
        ref, bound = _reference(x, ~np.isnan(x), k, mode, boundary, cval, 0.25)
        # outputs at the threshold may round either way: leave them out
        frac = _reference(np.ones_like(x), ~np.isnan(x), k, mode, boundary, 1.0, 0.0)[0]
        frac = np.where(np.isnan(frac), 0, 1 / np.where(np.isnan(frac), 1, frac))
        clear = np.abs(frac - 0.25) > 1e-5
        np.testing.assert_array_equal(np.isnan(got)[clear], np.isnan(ref)[clear])
        ok = ~np.isnan(ref) & ~np.isnan(got)
        assert np.all(np.abs(got[ok] - ref[ok]) <= bound[ok])
    assert one_pass_calls


@pytest.mark.parametrize("boundary", ["constant", "missing", "reflect"])
def test_valid_with_the_kernel_longer(rng, one_pass_calls, boundary):
    """"valid" with k longer than x reads past x's edges (a zero extension in the
    plain call, whatever the boundary): there the samples are missing in both
    sums -- the "full" result with missing edges, cut to the "valid" part."""
    x = _holes(rng, (5, 7), 0.3, np.float32)
    k = (rng.random((9, 12)) + 0.05).astype(np.float32)
    one, two = _both(ndconv.correlate, x, k, "valid", boundary=boundary, nan_policy="omit",
                     method="direct")
    assert_bitwise(one, two)
    ref, bound = _reference(x, ~np.isnan(x), k, "full", "missing", 0.0, 0.0)
    ref, bound = ref[4:9, 6:12], bound[4:9, 6:12]
    assert one.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(one), np.isnan(ref))
    ok = ~np.isnan(ref)
    assert np.all(np.abs(one[ok] - ref[ok]) <= bound[ok])
    assert one_pass_calls


def test_complete_windows_keep_plain_bits(rng, one_pass_calls):
    """An output none of whose taps is missing is the plain correlation's
    value bit for bit (the kernel's sum over its weight is exactly 1)."""
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((50, 200)).astype(dtype)
        x[20:23, 50:55] = np.nan
        x[40, 150] = np.nan
        k = rng.random((5, 4)).astype(dtype)
        with tuning.override(missing_one_pass=True):
            got = ndconv.correlate(x, k, "same", boundary="reflect", nan_policy="omit",
                                   method="direct")
        plain = ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
        fine = ~np.isnan(plain)
        assert fine.sum() > 0.9 * x.size and (~fine).sum() > 20
        assert_bitwise(got[fine], plain[fine])
        assert not np.isnan(got).any()
    assert len(one_pass_calls) == 2


def test_out_and_aliasing(rng, one_pass_calls):
    x = _holes(rng, (30, 80), 0.2, np.float32)
    k = rng.random((3, 3)).astype(np.float32)
    kw = dict(nan_policy="omit", method="direct", boundary="missing")
    with tuning.override(missing_one_pass=False):
        want = ndconv.correlate(x, k, "same", **kw)
    with tuning.override(missing_one_pass=True):
        out = np.empty((80, 30), np.float32).T
        res = ndconv.correlate(x, k, "same", out=out, **kw)
        assert res is out
        assert_bitwise(out, want)
        xx = x.copy()
        res = ndconv.correlate(xx, k, "same", out=xx, **kw)
        assert res is xx
        assert_bitwise(xx, want)
    assert len(one_pass_calls) == 2


@pytest.mark.parametrize("kw", [
    dict(nan_policy="propagate", mask="m"),     # a NaN at a present sample must propagate
    dict(nan_policy="omit", method="fft"),
    dict(nan_policy="omit", cval=[1.0, np.nan], boundary="constant"),
    dict(nan_policy="omit", boundary=["constant", "missing"], cval=2.0),
    dict(nan_policy="raise", mask="m", boundary="constant", cval=np.nan),
    dict(nan_policy="omit", mask="m", preserve_nan=True),   # preserves x's NaN, not the mask's
])
def test_two_passes_where_one_does_not_apply(rng, one_pass_calls, kw):
    x = rng.standard_normal((20, 30))
    if kw.get("nan_policy") != "raise":
        x[3, 4] = np.nan
    kw = dict(kw)
    if kw.get("mask") == "m":
        kw["mask"] = rng.random(x.shape) > 0.2
    kw.setdefault("method", "direct")
    with tuning.override(missing_one_pass=True):
        ndconv.correlate(x, np.ones((3, 3)), "same", **kw)
    assert not one_pass_calls


def test_complex_and_integer(rng, one_pass_calls):
    """Complex data keep the two passes; integer data with a mask take one."""
    z = rng.standard_normal((12, 14)) + 1j * rng.standard_normal((12, 14))
    z[2, 3] = np.nan
    with tuning.override(missing_one_pass=True):
        ndconv.correlate(z, np.ones((3, 3)), nan_policy="omit", method="direct")
    assert not one_pass_calls
    i = rng.integers(-50, 50, (12, 14))
    m = rng.random(i.shape) > 0.3
    one, two = _both(ndconv.correlate, i, np.ones((2, 3)), mask=m, nan_policy="omit",
                     method="direct")
    assert_bitwise(one, two)
    assert len(one_pass_calls) == 1


def test_auto_takes_it_by_size(rng, one_pass_calls):
    x = _holes(rng, (64, 64), 0.1, np.float32)
    k = rng.random((3, 3)).astype(np.float32)
    with tuning.override(missing_one_pass=True):
        one = ndconv.correlate(x, k, nan_policy="omit")
    with tuning.override(missing_one_pass=False):
        two = ndconv.correlate(x, k, nan_policy="omit")
    assert_bitwise(one, two)
    assert len(one_pass_calls) == 1


def test_dask_equals_in_memory(rng, one_pass_calls):
    """ndconv.dask runs two lazy passes per block: the one-pass in-memory
    result is bitwise theirs."""
    da = pytest.importorskip("dask.array")
    import ndconv.dask as ndask
    x = _holes(rng, (37, 45), 0.15, np.float32)
    k = rng.random((4, 3)).astype(np.float32)
    for kw in [dict(nan_policy="omit"), dict(nan_policy="omit", boundary="missing",
                                             min_weight=0.4, preserve_nan=True),
               dict(mask=rng.random(x.shape) > 0.3, nan_policy="omit",
                    boundary=["reflect", "missing"])]:
        with tuning.override(missing_one_pass=True):
            mem = ndconv.convolve(x, k, "same", method="direct", **kw)
        lazy = ndask.convolve(da.from_array(x, chunks=(10, 17)), k, "same", method="direct",
                              **kw).compute()
        assert_bitwise(lazy, mem)
    assert len(one_pass_calls) == 3


@pytest.mark.parametrize("shape,kshape,origin", [((50,), (4,), -1), ((50,), (1,), 0),
                                                  ((5, 4, 6, 30), (2, 1, 3, 3), (0, 0, -1, 1))])
def test_preserve_nan_other_dimensions(rng, one_pass_calls, shape, kshape, origin):
    """preserve_nan is the kernel's own test of the tap that reads each
    output's sample: 1-D (no leading taps) and 4-D with origins."""
    x = _holes(rng, shape, 0.2, np.float64)
    k = rng.random(kshape) + 0.1
    one, two = _both(ndconv.correlate, x, k, "same", origin=origin, nan_policy="omit",
                     preserve_nan=True, min_weight=0.2, method="direct")
    assert_bitwise(one, two)
    assert np.isnan(one[np.isnan(x)]).all()
    assert len(one_pass_calls) == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kshape", [(2, 3), (3, 3), (5, 4), (7, 1), (15, 2), (2, 2, 3)])
@pytest.mark.parametrize("boundary,cval", [("missing", 0.0), ("reflect", 0.0),
                                           ("constant", 1.5), ("wrap", np.nan)])
def test_four_row_blocks(rng, one_pass_calls, dtype, kshape, boundary, cval):
    """Rows long enough for the four-row blocks (and borders gathered), tall
    enough for many quads: the one-pass kernel on them, on one row at a
    time, and the two passes agree bit for bit (preserve_nan too)."""
    shape = (41, 263) if len(kshape) == 2 else (9, 23, 263)
    x = _holes(rng, shape, 0.1, dtype)
    x[5:9, 100:140] = np.nan          # a hole wider than the kernel
    k = rng.random(kshape).astype(dtype) + 0.05
    kw = dict(boundary=boundary, cval=cval, nan_policy="omit", method="direct",
              preserve_nan=True, min_weight=0.3)
    one, two = _both(ndconv.correlate, x, k, "same", **kw)
    mod = _direct.core()
    prev = mod.use_row_sharing(False)
    try:
        with tuning.override(missing_one_pass=True):
            single = ndconv.correlate(x, k, "same", **kw)
    finally:
        mod.use_row_sharing(prev)
    assert_bitwise(one, two)
    assert_bitwise(single, two)
    assert len(one_pass_calls) == 2

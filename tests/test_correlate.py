"""The unified API against the oracle (np.pad + scipy.signal direct, float64) over a grid.

Grid: ndim 1-4 x mode x boundary x dtype, random odd/even kernel sizes including
kernels wider than the input, methods direct and fft, workers 1 and 2.
"""
import itertools
import math

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal as ss
from conftest import assert_contract, oracle, random_array

import ndconv

MODES = ["full", "same", "valid"]
BOUNDARIES = ["constant", "edge", "symmetric", "reflect", "wrap"]
DTYPES = ["float32", "float64", "complex64", "complex128"]


def _shapes(rng, ndim, mode):
    top = {1: 24, 2: 9, 3: 6, 4: 4}[ndim]
    xs = tuple(int(v) for v in rng.integers(1, top + 1, ndim))
    ks = tuple(int(v) for v in rng.integers(1, top // 2 + 3, ndim))
    if mode == "valid" and not (all(a >= b for a, b in zip(xs, ks)) or all(a <= b for a, b in zip(xs, ks))):
        ks = tuple(min(a, b) for a, b in zip(xs, ks))
    return xs, ks


def _fft_size(xs, ks):
    return math.prod(a + 2 * b for a, b in zip(xs, ks))


@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_grid(rng, ndim, mode, boundary, dtype):
    for _ in range(3):
        xs, ks = _shapes(rng, ndim, mode)
        x = random_array(rng, xs, dtype)
        k = random_array(rng, ks, dtype)
        cval = 0.0 if rng.random() < 0.5 else 1.25
        for op in ("correlate", "convolve"):
            fn = getattr(ndconv, op)
            ref, absconv = oracle(x, k, mode, boundary, cval, op=op)
            r1 = fn(x, k, mode, boundary=boundary, cval=cval, method="direct", workers=1)
            r2 = fn(x, k, mode, boundary=boundary, cval=cval, method="direct", workers=2)
            assert r1.dtype == np.dtype(dtype)
            # each output has one writer and a fixed summation order
            np.testing.assert_array_equal(r1, r2)
            assert_contract(r1, ref, absconv, k.size, dtype)
            rf = fn(x, k, mode, boundary=boundary, cval=cval, method="fft", workers=2)
            assert rf.dtype == np.dtype(dtype)
            assert_contract(rf, ref, absconv, k.size, dtype, "fft", _fft_size(xs, ks))


@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("op", ["correlate", "convolve"])
def test_every_origin_1d(rng, K, op):
    x = rng.standard_normal(11)
    k = rng.standard_normal(K)
    fn = getattr(ndconv, op)
    for origin in range(-(K // 2), (K - 1) // 2 + 1):
        for boundary in BOUNDARIES:
            ref, absconv = oracle(x, k, "same", boundary, 0.5, origin, op=op)
            res = fn(x, k, "same", boundary=boundary, cval=0.5, origin=origin, method="direct")
            assert_contract(res, ref, absconv, K, "float64")
            res = fn(x, k, "same", boundary=boundary, cval=0.5, origin=origin, method="fft")
            assert_contract(res, ref, absconv, K, "float64", "fft", 64)


def test_every_origin_2d_matches_ndimage(rng):
    x = rng.standard_normal((9, 10))
    k = rng.standard_normal((4, 3))
    nd_modes = {"constant": "constant", "edge": "nearest", "symmetric": "reflect", "reflect": "mirror",
                "wrap": "wrap"}
    for o0 in range(-2, 2):
        for o1 in range(-1, 2):
            for b, m in nd_modes.items():
                res = ndconv.correlate(x, k, "same", boundary=b, cval=-1.0, origin=(o0, o1))
                ref = ndi.correlate(x, k, mode=m, cval=-1.0, origin=(o0, o1))
                # both sum 12 products in float64
                np.testing.assert_allclose(res, ref, rtol=0,
                                           atol=4 * 12 * 2.2e-16 * np.abs(ref).max() + 1e-300)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["correlate", "convolve"])
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_zero_boundary_equals_scipy_signal(rng, mode, op, dtype):
    """With a zero boundary ndconv's modes are scipy.signal's, centring included."""
    for xs, ks in [((10,), (4,)), ((10,), (5,)), ((7, 8), (2, 3)), ((5, 6, 4), (3, 2, 4)), ((3,), (8,)),
                   ((4, 5), (6, 7))]:
        x = random_array(rng, xs, dtype)
        k = random_array(rng, ks, dtype)
        ref = getattr(ss, op)(x, k, mode, method="direct")
        for method in ("direct", "fft"):
            res = getattr(ndconv, op)(x, k, mode, method=method)
            np.testing.assert_allclose(res, ref, rtol=0, atol=1e-12 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_kernel_much_wider_than_input(rng, boundary):
    """Extensions wider than the input follow numpy.pad (repeated reflection/wrap)."""
    x = rng.standard_normal((3, 2))
    k = rng.standard_normal((9, 11))
    for mode in ("full", "same"):
        ref, absconv = oracle(x, k, mode, boundary, 2.0)
        for method in ("direct", "fft"):
            res = ndconv.correlate(x, k, mode, boundary=boundary, cval=2.0, method=method)
            assert_contract(res, ref, absconv, k.size, "float64", method, 4096)


@pytest.mark.parametrize("axes", [(0,), (1,), (-1,), (2,), (0, 2), (2, 0), (1, 2), (2, 1, 0)])
@pytest.mark.parametrize("mode", MODES)
def test_axes_subsets(rng, axes, mode):
    x = rng.standard_normal((5, 6, 7))
    k = rng.standard_normal(tuple(range(2, 2 + len(axes))))
    for boundary in ("constant", "reflect", "wrap"):
        ref, absconv = oracle(x, k, mode, boundary, 0.0, axes=axes, op="convolve")
        for method in ("direct", "fft"):
            res = ndconv.convolve(x, k, mode, boundary=boundary, axes=axes, method=method)
            assert_contract(res, ref, absconv, k.size, "float64", method, 4096)


def test_axes_stereo_and_stack(rng):
    """``axes`` for its two typical uses: stereo audio with a 1-D kernel, an image stack
    with a 2-D kernel."""
    stereo = rng.standard_normal((2, 1000)).astype(np.float32)
    fir = rng.standard_normal(31).astype(np.float32)
    res = ndconv.convolve(stereo, fir, "same", axes=-1)
    for c in range(2):
        ref = ss.convolve(stereo[c].astype(np.float64), fir.astype(np.float64), "same")
        np.testing.assert_allclose(res[c], ref, atol=4 * 31 * 1.2e-7 * np.abs(ref).max())
    stack = rng.standard_normal((3, 20, 21))
    k = rng.standard_normal((3, 5))
    res = ndconv.correlate(stack, k, "same", boundary="symmetric", axes=(1, 2))
    for b in range(3):
        ref = ndi.correlate(stack[b], k, mode="reflect")
        np.testing.assert_allclose(res[b], ref, atol=1e-13 * np.abs(ref).max())


LAYOUTS = {
    "transposed": lambda a: a.T,
    "fortran": lambda a: np.asfortranarray(a),
    "step2": lambda a: a[::2, ::2],
    "negative": lambda a: a[::-1, ::-1],
    "neg-step": lambda a: a[::-2, 1::3],
    "readonly": lambda a: _readonly(a),
    "bigendian": lambda a: a.astype(a.dtype.newbyteorder(">")),
    "broadcast": lambda a: np.broadcast_to(a[:1], a.shape),
    "mixed": lambda a: np.asfortranarray(a)[:, ::-1],
}


def _readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_layouts(rng, layout, dtype):
    base = random_array(rng, (13, 17), dtype)
    x = LAYOUTS[layout](base)
    before = x.copy()
    k = random_array(rng, (3, 4), dtype)
    for mode, boundary in itertools.product(MODES, ["constant", "symmetric", "wrap"]):
        ref, absconv = oracle(np.ascontiguousarray(x), k, mode, boundary, 0.0)
        for w in (1, 2):
            res = ndconv.correlate(x, k, mode, boundary=boundary, method="direct", workers=w)
            assert_contract(res, ref, absconv, k.size, dtype)
    np.testing.assert_array_equal(x, before)


def test_3d_layouts(rng):
    base = rng.standard_normal((6, 7, 8))
    k = rng.standard_normal((2, 3, 3))
    for x in (base.transpose(2, 0, 1), base[:, ::-1, ::2], np.asfortranarray(base), base.swapaxes(0, 1)):
        ref, absconv = oracle(np.ascontiguousarray(x), k, "same", "reflect")
        res = ndconv.convolve(x, k[::-1, ::-1, ::-1], "same", boundary="reflect")
        # convolve with the flipped kernel == correlate with k, up to the origin of even sizes
        res2 = ndconv.correlate(x, k, "same", boundary="reflect")
        assert_contract(res2, ref, absconv, k.size, "float64")
        assert res.shape == ref.shape


@pytest.mark.parametrize("boundary", ["constant", "edge", "symmetric", "reflect", "wrap"])
def test_short_last_axis_runs_along_a_long_one(rng, boundary):
    """Channels-last images and a few columns filtered along axis 0: the core runs
    along the long axis (strided reads, output through a temporary)."""
    from ndconv._plan import direct as _direct
    image = random_array(rng, (40, 70, 3), "float32")
    assert _direct.compute_order(image, image.shape)[-1] == 1
    k = random_array(rng, (3, 4), "float32")
    cols = random_array(rng, (300, 2), "float64")
    fir = random_array(rng, 9, "float64")
    for mode in MODES:
        ref, absconv = oracle(image, k, mode, boundary, 1.5, axes=(0, 1))
        for w in (1, 2):
            res = ndconv.correlate(image, k, mode, boundary=boundary, cval=1.5, axes=(0, 1),
                                   method="direct", workers=w)
            assert_contract(res, ref, absconv, k.size, "float32")
            assert res.flags.c_contiguous
        ref, absconv = oracle(cols, fir, mode, boundary, 0.0, axes=0, op="convolve")
        res = ndconv.convolve(cols, fir, mode, boundary=boundary, axes=0, method="direct")
        assert_contract(res, ref, absconv, fir.size, "float64")
        out = np.empty_like(res)
        assert ndconv.convolve(cols, fir, mode, boundary=boundary, axes=0, out=out) is out
        assert_contract(out, ref, absconv, fir.size, "float64")


def test_large_chunked_rows(rng):
    """Rows longer than one column chunk, and a 1-D signal split across threads."""
    x = rng.standard_normal(50_000).astype(np.float32)
    k = rng.standard_normal(101).astype(np.float32)
    ref, absconv = oracle(x, k, "same", "reflect")
    for w in (1, 2):
        res = ndconv.correlate(x, k, "same", boundary="reflect", method="direct", workers=w)
        assert_contract(res, ref, absconv, k.size, "float32")
    x2 = rng.standard_normal((3, 5000))
    k2 = rng.standard_normal((2, 700))
    ref, absconv = oracle(x2, k2, "full", "wrap")
    res = ndconv.correlate(x2, k2, "full", boundary="wrap", method="direct")
    assert_contract(res, ref, absconv, k2.size, "float64")


@pytest.mark.parametrize("dtype", [bool, np.int8, np.uint8, np.int32, np.int64, np.uint64, np.float16])
def test_promotion(rng, dtype):
    x = random_array(rng, (6, 7), dtype)
    k = random_array(rng, (3, 2), dtype)
    res = ndconv.convolve(x, k, "same", method="direct")
    expect = np.float32 if dtype == np.float16 else np.float64
    assert res.dtype == expect
    ref, absconv = oracle(x.astype(np.float64), k.astype(np.float64), "same", op="convolve")
    assert_contract(res, ref, absconv, k.size, expect)


def test_mixed_dtypes():
    x = np.ones(5, np.float32)
    assert ndconv.convolve(x, np.ones(2, np.float64)).dtype == np.float64
    assert ndconv.convolve(x, np.ones(2, np.complex64)).dtype == np.complex64
    # np.result_type's rule first (int8 fits float32), then ints-only -> float64
    assert ndconv.convolve(x, np.ones(2, np.int8)).dtype == np.float32
    assert ndconv.convolve(x, np.ones(2, np.int32)).dtype == np.float64
    assert ndconv.convolve(np.ones(5, np.int8), np.ones(2, np.uint8)).dtype == np.float64
    assert ndconv.convolve(x, np.ones(2, np.float16)).dtype == np.float32


def test_correlate_conjugates_convolve_does_not(rng):
    x = random_array(rng, (20,), "complex128")
    k = random_array(rng, (4,), "complex128")
    np.testing.assert_allclose(ndconv.correlate(x, k), np.correlate(x, k, "full"), atol=1e-12)
    np.testing.assert_allclose(ndconv.convolve(x, k), np.convolve(x, k, "full"), atol=1e-12)


def test_int64_exact_core():
    """compute_dtype=int64 is exact (wrapping) integer arithmetic on the direct path."""
    from ndconv._api import correlate_nd
    x = np.array([2 ** 62, 3, -5, 7], dtype=np.int64)
    k = np.array([2, 1], dtype=np.int64)
    res = correlate_nd(x, k, "full", "constant", 0, 0, None, "direct", 1, None, compute_dtype=np.int64)
    with np.errstate(over="ignore"):
        ref = np.array([x[0] * 1, x[0] * 2 + x[1], x[1] * 2 + x[2], x[2] * 2 + x[3], x[3] * 2],
                       dtype=np.int64)
    np.testing.assert_array_equal(res, ref)


def test_nan_stays_local_in_auto():
    """auto never uses FFT on non-finite input: a NaN only reaches outputs whose window holds it."""
    x = np.zeros((300, 300))
    x[150, 150] = np.nan
    k = np.ones((41, 41))
    res = ndconv.convolve(x, k, "same")
    bad = np.isnan(res)
    assert bad.sum() == 41 * 41
    assert bad[130:171, 130:171].all()


def test_auto_matches_methods(rng):
    x = rng.standard_normal((200, 200))
    for ks in (3, 31):
        k = rng.standard_normal((ks, ks))
        ref, absconv = oracle(x, k, "same", "reflect")
        res = ndconv.correlate(x, k, "same", boundary="reflect")
        assert_contract(res, ref, absconv, k.size, "float64", "fft", 400 * 400)


def test_out_argument(rng):
    x = rng.standard_normal((8, 9))
    k = rng.standard_normal((3, 3))
    expect = ndconv.convolve(x, k, "same")
    out = np.empty((8, 9))
    r = ndconv.convolve(x, k, "same", out=out)
    assert r is out
    np.testing.assert_array_equal(out, expect)
    # Fortran-ordered out, and out aliasing the input
    outf = np.empty((8, 9), order="F")
    np.testing.assert_array_equal(ndconv.convolve(x, k, "same", out=outf), expect)
    xc = x.copy()
    r = ndconv.convolve(xc, k, "same", out=xc)
    assert r is xc
    np.testing.assert_array_equal(xc, expect)
    # out aliasing a reversed view of the input
    xc = x.copy()
    ndconv.convolve(xc, k, "same", out=xc[::-1])
    np.testing.assert_array_equal(xc[::-1], expect)
    xc = x.copy()
    r = ndconv.convolve(xc, k, "same", method="fft", out=xc)
    np.testing.assert_allclose(xc, expect, atol=1e-12)


# (x's shape, kernel, where out lies in a larger array, that array's shape)
ROWS_OF_A_LARGER_ARRAY = [
    ((40, 37), (5, 5), np.s_[3:43, 2:39], (46, 41)),              # short rows: merged, a copy
    ((40, 150), (5, 5), np.s_[2:42, 3:153], (44, 160)),
    ((70, 300), (3, 3), np.s_[0:70, 100:400], (70, 420)),       # rows wider than a block
    ((6, 9, 33), (3, 3, 3), np.s_[:, :, 4:37], (6, 9, 40)),     # leading axes whole
    ((6, 7, 33), (3, 3, 3), np.s_[:, 1:8, 4:37], (6, 9, 40)),   # they are not: a copy
    ((3, 200), (1, 31), np.s_[1:4, 7:207], (5, 260)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("case", ROWS_OF_A_LARGER_ARRAY)
def test_out_whose_rows_are_part_of_a_larger_array(rng, case, dtype):
    """An ``out`` whose rows are parts of a larger array's rows (a dask
    block's place in its result) is written in place, with the bits of a
    fresh output, at any thread count, and nothing between its rows is
    touched."""
    xs, ks, where, big_shape = case
    x = random_array(rng, xs, dtype)
    k = random_array(rng, ks, dtype)
    for workers in (1, 2):
        expect = ndconv.correlate(x, k, "same", boundary="reflect", method="direct",
                                  workers=workers)
        big = np.full(big_shape, 7, dtype=dtype)
        out = big[where]
        assert ndconv.correlate(x, k, "same", boundary="reflect", method="direct",
                                workers=workers, out=out) is out
        assert np.array_equal(np.ascontiguousarray(out).view(np.uint8), expect.view(np.uint8))
        outside = np.ones(big_shape, dtype=bool)
        outside[where] = False
        assert np.all(big[outside] == 7)


@pytest.mark.parametrize("workers", [1, 2])
def test_out_rows_in_place_with_missing_samples(rng, workers):
    """The one-pass kernel for missing samples writes such rows in place too."""
    x = rng.standard_normal((60, 90)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    k = rng.random((5, 3)).astype(np.float32)
    expect = ndconv.correlate(x, k, "same", nan_policy="omit", method="direct", workers=workers)
    big = np.full((64, 100), 3, np.float32)
    out = big[2:62, 5:95]
    ndconv.correlate(x, k, "same", nan_policy="omit", method="direct", workers=workers, out=out)
    assert np.array_equal(np.ascontiguousarray(out).view(np.uint8), expect.view(np.uint8))
    big[2:62, 5:95] = 3
    assert np.all(big == 3)


def test_out_rows_in_place_need_no_copy(rng):
    """The direct path writes such an ``out`` itself: no output-sized array is
    allocated (numpy reports its allocations to tracemalloc)."""
    import tracemalloc

    from ndconv._plan import direct
    x = rng.standard_normal((300, 500)).astype(np.float32)
    k = rng.standard_normal((5, 5)).astype(np.float32)
    expect = ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
    big = np.zeros((300, 800), np.float32)
    # several threads, and one (a planned call), x in place or a view of a larger array
    xv = np.zeros((300, 600), np.float32)[:, 50:550]
    xv[...] = x
    for workers, xs in ((None, x), (1, x), (1, xv), (1, xv)):
        big[...] = 0
        tracemalloc.start()
        try:
            ndconv.correlate(xs, k, "same", boundary="reflect", method="direct", workers=workers,
                             out=big[:, 200:700])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < expect.nbytes // 4, (workers, peak)
        np.testing.assert_array_equal(big[:, 200:700], expect)
        assert not big[:, :200].any() and not big[:, 700:].any()
    assert direct.writable_in_place(big[:, 200:700]) and not direct.writable_in_place(big[:, ::2])


def test_core_checks_the_output_pitch(rng):
    """The core's entry re-checks a pitch: rows may not overlap, and the span
    must hold every row."""
    from ndconv._plan import direct
    x = rng.standard_normal((20, 30))
    w = rng.standard_normal((3, 3))
    plan = direct.DirectPlan(x, w.shape, (0, 0), (18, 28), "constant", 1)
    flat = direct._flat_span(x)[0]
    for span, pitch in ((18 * 28, 27), (17 * 40 + 27, 40), (17 * 40 + 29, 40)):
        with pytest.raises(ValueError, match="overlap|mismatch"):
            plan.mod.correlate_nd(plan.tables, flat, np.empty(span), w.reshape(-1), 0.0,
                                  False, 1, None, pitch)
    good = np.full(17 * 40 + 28, 5.0)
    plan.mod.correlate_nd(plan.tables, flat, good, w.reshape(-1), 0.0, False, 1, None, 40)
    rows = np.lib.stride_tricks.as_strided(good, (18, 28), (40 * 8, 8))
    np.testing.assert_array_equal(rows, ndconv.correlate(x, w, "valid", method="direct"))
    assert np.all(np.lib.stride_tricks.as_strided(good[28:], (17, 12), (40 * 8, 8)) == 5.0)


def test_inputs_not_modified(rng):
    x = rng.standard_normal((10, 10))
    k = rng.standard_normal((3, 3)) + 0j
    xc, kc = x.copy(), k.copy()
    for method in ("direct", "fft"):
        ndconv.correlate(x, k, "same", boundary="reflect", method=method)
        ndconv.convolve(x, k, "full", method=method)
    np.testing.assert_array_equal(x, xc)
    np.testing.assert_array_equal(k, kc)


def test_list_inputs():
    np.testing.assert_allclose(ndconv.convolve([1, 2, 3], [1, 1]), [1, 3, 5, 3])
    np.testing.assert_allclose(ndconv.correlate([1.0, 2.0, 3.0], [0.0, 1.0, 0.5], "same"), [2.0, 3.5, 3.0])


@pytest.mark.parametrize("boundary", ["constant", "reflect", "wrap"])
def test_fft_overlap_save_blocks(rng, boundary, tuned):
    """Long signals with short kernels go through overlap-save blocks (and groups of
    blocks under a small memory budget); the result is the same correlation."""
    from ndconv._plan import fft as _fft
    x = rng.standard_normal(20_000)
    k = rng.standard_normal(37)
    _, L, B, nb = _fft.block_plan(20_000, 37, 1, np.float64)
    assert nb > 1  # the plan really blocks this case
    tuned(fft_group_samples=1000)
    for mode in ("full", "same", "valid"):
        ref, absconv = oracle(x, k, mode, boundary, 0.5 if boundary == "constant" else 0.0)
        res = ndconv.correlate(x, k, mode, boundary=boundary, cval=0.5 if boundary == "constant" else 0.0,
                               method="fft")
        assert_contract(res, ref, absconv, k.size, "float64", "fft", 2 * L)
    x2 = rng.standard_normal((3, 6000)).astype(np.float32)
    k2 = rng.standard_normal((2, 9)).astype(np.float32)
    ref, absconv = oracle(x2, k2, "same", boundary)
    res = ndconv.convolve(x2, k2[::-1, ::-1], "same", boundary=boundary, method="fft")
    # convolve with the flipped kernel is correlate with k, up to even-size centring: compare correlate
    res = ndconv.correlate(x2, k2, "same", boundary=boundary, method="fft")
    assert_contract(res, ref, absconv, k2.size, "float32", "fft", 4 * 8192)
    xc = (rng.standard_normal(9000) + 1j * rng.standard_normal(9000)).astype(np.complex64)
    kc = (rng.standard_normal(21) + 1j * rng.standard_normal(21)).astype(np.complex64)
    ref, absconv = oracle(xc, kc, "full", boundary)
    res = ndconv.correlate(xc, kc, "full", boundary=boundary, method="fft")
    assert_contract(res, ref, absconv, kc.size, "complex64", "fft", 4 * 8192)


def test_fft_zero_extension_uses_short_circular_transforms(rng):
    """With zero extension the FFT path transforms n + k - 1 samples in "full" mode
    (circular wrap-around lands on zeros), and every mode stays exact."""
    from ndconv._plan import fft as _fft
    n, K = 1000, 301
    trims = _fft.zero_trims((n,), (-(K - 1),), (n + K - 1,), (K,), "constant", 0.0)
    assert trims == (K - 1,)
    _, _, L, _, nb, _ = _fft.plan((n + K - 1,), (K,), np.float64, trims)
    assert nb == 1 and L == _fft.next_fast_len(n + K - 1, True)
    assert _fft.zero_trims((n,), (-(K - 1),), (n + K - 1,), (K,), "constant", 1.0) == (0,)
    assert _fft.zero_trims((n,), (-(K - 1),), (n + K - 1,), (K,), "wrap", 0.0) == (0,)
    for _trial in range(60):
        nd = int(rng.integers(1, 4))
        xs = tuple(int(v) for v in rng.integers(1, 25, nd))
        ks = tuple(int(v) for v in rng.integers(1, 12, nd))
        x = rng.standard_normal(xs)
        k = rng.standard_normal(ks)
        for mode in MODES:
            if mode == "valid" and any(a < b for a, b in zip(xs, ks)) and any(a > b for a, b in zip(xs, ks)):
                continue  # neither contains the other: scipy's valid has no answer
            ref, absconv = oracle(x, k, mode)
            res = ndconv.correlate(x, k, mode, method="fft")
            assert_contract(res, ref, absconv, k.size, "float64", "fft", 4 * max(1, res.size))


def test_int64_cval_is_exact():
    from ndconv._api import correlate_nd
    res = correlate_nd(np.zeros(1, np.int64), np.array([1, 0], np.int64), "full", "constant", 2 ** 62 + 1,
                       0, None, "direct", 1, None, compute_dtype=np.int64)
    np.testing.assert_array_equal(res, [2 ** 62 + 1, 0])
    # uint64's largest value wraps to -1, as the arithmetic does
    res = correlate_nd(np.zeros(1, np.int64), np.array([1, 0], np.int64), "full", "constant",
                       2 ** 64 - 1, 0, None, "direct", 1, None, compute_dtype=np.int64)
    np.testing.assert_array_equal(res, [-1, 0])
    with pytest.raises(ValueError, match="not an integer"):
        correlate_nd(np.zeros(1, np.int64), np.ones(2, np.int64), "full", "constant", 0.5, 0, None,
                     "direct", 1, None, compute_dtype=np.int64)


@pytest.mark.parametrize("shape,kshape", [((40,), (5,)), ((30, 90), (3, 5)), ((6, 7, 40), (3, 1, 3))])
def test_nonfinite_weight_times_zero_padding_is_nan(shape, kshape):
    # inf * 0 = nan where a kernel tap meets the padding, as numpy.pad + a
    # direct sum and scipy.ndimage give (cval rows may only be skipped for
    # finite kernels)
    import scipy.ndimage as ndi
    x = np.ones(shape)
    k = np.ones(kshape)
    k.flat[0] = np.inf
    res = ndconv.correlate(x, k, "same", boundary="constant", method="direct")
    ref = ndi.correlate(x, k, mode="constant")
    np.testing.assert_array_equal(np.isnan(res), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(res), np.isinf(ref))
    assert np.isnan(res).any()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unfused_core_rounds_every_product(rng, dtype):
    # The build the ndimage drop-in's integer outputs run: each product rounded
    # before it is added, taps in row-major order, so an output is bitwise what
    # a numpy loop (separate multiply and add) gives.  A compiler that contracts
    # a*b + c into fused multiply-adds (gcc on aarch64 does by default) breaks
    # this for some row widths and not others: 9..301 outputs per row reach the
    # scalar tail, the 8-wide block and every register block.
    from ndconv._api import correlate_nd
    for xs, ks in [((7, 301), (3, 5)), ((9, 40), (3, 5)), ((4, 10), (3, 5)), ((700,), (9,)),
                   ((5, 6, 90), (2, 3, 4))]:
        x, k = random_array(rng, xs, dtype), random_array(rng, ks, dtype)
        out_shape = tuple(m - n + 1 for m, n in zip(xs, ks))
        expected = np.zeros(out_shape, dtype)
        for idx in np.ndindex(*ks):
            expected = expected + k[idx] * x[tuple(slice(i, i + m) for i, m in zip(idx, out_shape))]
        res = correlate_nd(x, k, "valid", "constant", 0.0, 0, None, "direct", 1, None, unfused=True)
        assert res.dtype == expected.dtype
        np.testing.assert_array_equal(res, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_row_width_gives_the_same_sums(rng, dtype):
    # Narrow rows run the 8-wide block and the scalar tail, wide rows the
    # register blocks; every block adds the taps in the same order with the
    # same (fused or not, by build) multiply-add, so an output is bitwise the
    # same whatever the width of the row around it.  (Rows of a few outputs
    # with many rows run along the columns instead: another tap order.)
    k = random_array(rng, (3, 5), dtype)
    for n in (9, 13, 20, 31, 40, 70):
        x = random_array(rng, (12, n + 300), dtype)
        narrow = ndconv.correlate(x[:, :n], k, "valid", method="direct", workers=1)
        wide = ndconv.correlate(x, k, "valid", method="direct", workers=1)
        np.testing.assert_array_equal(narrow, wide[:, :n - 4])

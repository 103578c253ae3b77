"""ndconv.signal against scipy.signal (the reference)."""
import warnings

import numpy as np
import pytest

scipy_signal = pytest.importorskip("scipy.signal")

from ndconv import signal  # noqa: E402

# scipy's and numpy's semantics over grids of tiny calls: the library's own thread
# rule (the threaded schedule is checked by test_correlate and test_threads)
pytestmark = pytest.mark.library_threads

RNG = np.random.default_rng(4321)

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128]
MIXED = [(np.int8, np.uint8), (np.uint64, np.int64), (np.int32, np.float32),
         (np.float32, np.float64), (np.float16, np.int8), (np.complex64, np.float64),
         (np.uint8, np.complex64), (np.bool_, np.int16)]
PAIRS = [(d, d) for d in DTYPES] + MIXED
SHAPES_1D = [((1,), (1,)), ((1,), (4,)), ((6,), (1,)), ((7,), (3,)), ((4,), (4,)),
             ((3,), (8,)), ((10,), (4,))]
SHAPES_ND = [((1, 1), (1, 1)), ((5, 6), (3, 2)), ((3, 4), (5, 6)), ((4, 1), (2, 1)),
             ((2, 7), (2, 3)), ((1, 5), (1, 8)), ((3, 2, 4), (2, 2, 3))]
MODES = ["full", "same", "valid"]


def sample(shape, dtype, rng=RNG):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        # full range: integer results overflow and must wrap exactly like scipy's
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def valid_ok(s1, s2):
    return all(a >= b for a, b in zip(s1, s2)) or all(a <= b for a, b in zip(s1, s2))


def compute_eps(dtype):
    dtype = np.dtype(dtype)
    single = dtype.itemsize <= (8 if dtype.kind == "c" else 4)
    return np.finfo(np.float32 if single else np.float64).eps


def assert_close(got, ref, absconv, taps, fft=False, eps=None, fft_scale=None):
    """Exact for integer/bool results; float results within the accumulation error.

    Direct sums of ``taps`` products err by at most ``taps * eps`` times the same
    operation on absolute values (``absconv``) on each side; FFT results by
    about ``eps * log2(N)`` times the largest such value of the whole transformed
    result (``fft_scale``, default ``absconv``'s largest): rounding noise of the
    largest products reaches every output, also a small output cropped from a
    larger full result.  The bound below adds
    both sides with a factor 4 for complex products, plus one rounding of the
    result dtype (float16 results are rounded from float32 sums by both).
    """
    assert got.dtype == ref.dtype, (got.dtype, ref.dtype)
    assert got.shape == ref.shape
    if ref.dtype.kind in "biuO":
        np.testing.assert_array_equal(got, ref)
        return
    eps = compute_eps(ref.dtype) if eps is None else eps
    tol = 8 * taps * eps * absconv
    if fft:
        n = max(2, absconv.size)
        scale = absconv.max(initial=0) if fft_scale is None else max(fft_scale, absconv.max(initial=0))
        tol = tol + 16 * eps * np.log2(n) * scale
    tol = tol + np.finfo(ref.dtype).eps * np.abs(ref.astype(np.complex128))
    err = np.abs(got.astype(np.complex128) - ref.astype(np.complex128))
    assert np.all(err <= tol + 1e-300), float((err - tol).max())


def abs_conv(a, b, mode, correlation=False):
    a = np.abs(np.asarray(a)).astype(np.float64)
    b = np.abs(np.asarray(b)).astype(np.float64)
    f = scipy_signal.correlate if correlation else scipy_signal.convolve
    return f(a, b, mode, method="direct")


def exact_bool_reference(op, a, b, mode):
    """scipy computes N-D bool inputs only by FFT (rounding noise makes zeros
    True), so the reference for bool results is the exact integer result != 0."""
    return op(a.astype(np.int64), b.astype(np.int64), mode, method="direct") != 0


@pytest.mark.parametrize("op_name", ["convolve", "correlate"])
@pytest.mark.parametrize("method", ["auto", "direct", "fft"])
@pytest.mark.parametrize("dts", PAIRS, ids=lambda p: "%s-%s" % (np.dtype(p[0]), np.dtype(p[1])))
def test_convolve_correlate_grid(op_name, method, dts):
    ours, ref = getattr(signal, op_name), getattr(scipy_signal, op_name)
    for s1, s2 in SHAPES_1D + SHAPES_ND:
        a, b = sample(s1, dts[0]), sample(s2, dts[1])
        a0, b0 = a.copy(), b.copy()
        for mode in MODES:
            if mode == "valid" and not valid_ok(s1, s2):
                continue
            got = ours(a, b, mode, method)
            result = np.result_type(a, b)
            if result.kind == "b":
                expected = exact_bool_reference(ref, a, b, mode)
            elif result == np.float16:
                # scipy's N-D direct path has no float16 (it raises); its FFT
                # path computes in float32 and rounds, which is the reference
                expected = ref(a.astype(np.float32), b.astype(np.float32), mode,
                               method="direct").astype(np.float16)
            else:
                # scipy's direct method is the reference: its integer results are
                # exact, and its FFT path transforms float32 inputs in single
                # precision even when the result is float64
                with warnings.catch_warnings():
                    # scipy's N-D direct path warns on some mixed-dtype casts
                    warnings.simplefilter("ignore", RuntimeWarning)
                    expected = ref(a, b, mode, method="direct")
            assert_close(got, expected, abs_conv(a, b, mode, op_name == "correlate"),
                         min(a.size, b.size), fft=method != "direct",
                         fft_scale=abs_conv(a, b, "full", op_name == "correlate").max(initial=0))
        np.testing.assert_array_equal(a, a0)
        np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize("op_name", ["convolve", "correlate"])
def test_zero_d_inputs(op_name):
    ours, ref = getattr(signal, op_name), getattr(scipy_signal, op_name)
    for a, b in [(np.int8(3), np.int8(100)), (np.complex64(3 + 1j), np.complex64(1 + 1j)),
                 (2.0, 3.0)]:
        got, expected = ours(a, b), ref(a, b)
        assert type(got) is type(expected)
        assert np.asarray(got).dtype == np.asarray(expected).dtype
        assert got == expected


@pytest.mark.parametrize("op_name", ["convolve", "correlate"])
def test_non_contiguous(op_name):
    ours, ref = getattr(signal, op_name), getattr(scipy_signal, op_name)
    a = RNG.standard_normal((9, 12))[::2, ::-3]
    b = np.asfortranarray(RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4)))[:, ::2]
    for mode in MODES:
        np.testing.assert_allclose(ours(a, b, mode), ref(a, b, mode, method="direct"),
                                   rtol=1e-12, atol=1e-12)


def test_longdouble_keeps_dtype():
    a = np.arange(1, 8, dtype=np.longdouble) / 3
    b = np.array([1, -1, 2], dtype=np.longdouble)
    got, ref = signal.convolve(a, b), scipy_signal.convolve(a, b)
    assert got.dtype == ref.dtype
    np.testing.assert_allclose(got.astype(float), ref.astype(float), rtol=1e-15)


def test_fft_warns_on_nan_like_scipy():
    x = np.ones(50)
    x[10] = np.nan
    with pytest.warns(RuntimeWarning, match="Use of fft convolution"):
        signal.convolve(x, np.ones(7), "same", method="fft")
    # auto never picks FFT for non-finite input: NaN stays local, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = signal.convolve(x, np.ones(7), "same")
    assert np.isnan(r[7:14]).all() and np.isfinite(r[:7]).all() and np.isfinite(r[14:]).all()


# ---------------------------------------------------------------- fftconvolve / oaconvolve

FREQ_CASES = [
    ((8,), (3,), None), ((3,), (9,), None), ((1,), (5,), None), ((6, 7), (3, 2), None),
    ((6, 7), (6, 2), 1), ((6, 7), (1, 3), [1]), ((6, 1), (1, 4), None),
    ((5, 6), (5, 3), -1), ((1, 6), (4, 3), [1]), ((4, 6), (1, 3), [1]),
    ((3, 5, 6), (3, 2, 4), (0, 2)), ((2, 5, 6), (2, 1, 4), [2, 1]),
    ((1, 5, 6), (3, 1, 4), [2]), ((4, 5), (4, 5), None), ((40,), (5,), None),
    ((3, 40), (3, 6), [1]),
]
FREQ_DTYPES = [np.bool_, np.int8, np.uint16, np.int64, np.float16, np.float32, np.float64,
               np.complex64, np.complex128, (np.int8, np.float32), (np.float32, np.complex128),
               (np.float16, np.float64)]


@pytest.mark.parametrize("op_name", ["fftconvolve", "oaconvolve"])
@pytest.mark.parametrize("dt", FREQ_DTYPES, ids=str)
def test_freq_convolve_grid(op_name, dt):
    ours, ref = getattr(signal, op_name), getattr(scipy_signal, op_name)
    d1, d2 = dt if isinstance(dt, tuple) else (dt, dt)
    for s1, s2, axes in FREQ_CASES:
        a = sample(s1, d1)
        b = sample(s2, d2)
        if np.dtype(d1).kind in "iu":  # keep FFT products well inside float64's integers
            a = (a % 50).astype(d1)
        if np.dtype(d2).kind in "iu":
            b = (b % 50).astype(d2)
        for mode in MODES:
            try:
                expected = ref(a, b, mode, axes=axes)
            except ValueError:
                with pytest.raises(ValueError):
                    ours(a, b, mode, axes=axes)
                continue
            got = ours(a, b, mode, axes=axes)
            # the absolute-value convolution bounds every output's error
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
                absconv = scipy_signal.fftconvolve(np.abs(a).astype(float),
                                                   np.abs(b).astype(float), mode, axes=axes)
            # scipy transforms each input in its own precision (float32 stays
            # single even when the result is float64): its error sets the bound
            eps = max(compute_eps(a.dtype if a.dtype.kind in "fc" else np.float64),
                      compute_eps(b.dtype if b.dtype.kind in "fc" else np.float64))
            assert_close(got, expected, np.abs(absconv), 1, fft=True, eps=eps)


def test_freq_convolve_special_inputs():
    for op, ref in ((signal.fftconvolve, scipy_signal.fftconvolve),
                    (signal.oaconvolve, scipy_signal.oaconvolve)):
        got, expected = op(np.int8(3), np.int8(100)), ref(np.int8(3), np.int8(100))
        assert got == expected and np.asarray(got).dtype == np.asarray(expected).dtype
        for a, b in [(np.zeros((0, 3)), np.ones((2, 2))), (np.ones(3), np.zeros(0))]:
            got, expected = op(a, b), ref(a, b)
            assert got.shape == expected.shape and got.dtype == expected.dtype
        # no axis left to transform: a broadcast product in numpy's dtype
        a, b = np.ones((3, 1), np.int8), np.full((1, 4), 3, np.int8)
        for mode in MODES:
            got, expected = op(a, b, mode), ref(a, b, mode)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------- 2-D

SHAPES_2D = [((1, 1), (1, 1)), ((5, 6), (3, 2)), ((3, 4), (5, 6)), ((4, 7), (4, 2)),
             ((2, 3), (9, 11)), ((6, 5), (2, 4)), ((1, 5), (1, 3))]
BOUNDS = [("fill", 0), ("fill", 2), ("pad", -1), ("wrap", 0), ("circular", 0), ("symm", 0),
          ("symmetric", 0)]
DT_2D = [np.int8, np.uint8, np.int32, np.uint64, np.int64, np.float32, np.float64, np.complex64,
         np.complex128, (np.int8, np.uint8), (np.float32, np.complex64), (np.int16, np.float64)]


@pytest.mark.parametrize("op_name", ["convolve2d", "correlate2d"])
@pytest.mark.parametrize("dt", DT_2D, ids=str)
def test_2d_grid(op_name, dt):
    ours, ref = getattr(signal, op_name), getattr(scipy_signal, op_name)
    d1, d2 = dt if isinstance(dt, tuple) else (dt, dt)
    for s1, s2 in SHAPES_2D:
        a, b = sample(s1, d1), sample(s2, d2)
        for mode in MODES:
            if mode == "valid" and not valid_ok(s1, s2):
                continue
            for bnd, fill in BOUNDS:
                try:
                    # scipy retries a fill value it cannot cast through complex; on
                    # aarch64 that negative-to-unsigned cast sets the FP invalid flag
                    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
                        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
                        # numpy 1.x wraps -1 into unsigned types with this warning
                        # (an error under pytest, which makes scipy refuse the fill)
                        warnings.filterwarnings("ignore", "NumPy will stop allowing",
                                                DeprecationWarning)
                        expected = ref(a, b, mode, bnd, fill)
                except ValueError:  # e.g. fill -1 for unsigned results
                    with pytest.raises(ValueError):
                        ours(a, b, mode, bnd, fill)
                    continue
                got = ours(a, b, mode, bnd, fill)
                # loose float bound: the extension repeats values, so use the
                # largest possible absolute sum
                absmax = np.abs(a).astype(float).max() * np.abs(b).astype(float).sum() + abs(fill)
                assert_close(got, expected, np.full(expected.shape, absmax), 1)


def test_2d_non_contiguous_and_big_kernel():
    a = RNG.standard_normal((12, 14))[::2, ::-2]
    b = RNG.standard_normal((5, 21))[:, ::2]
    for op, ref in ((signal.convolve2d, scipy_signal.convolve2d),
                    (signal.correlate2d, scipy_signal.correlate2d)):
        for bnd in ("fill", "wrap", "symm"):
            for mode in ("full", "same"):
                np.testing.assert_allclose(op(a, b, mode, bnd, 1.5), ref(a, b, mode, bnd, 1.5),
                                           rtol=1e-12, atol=1e-12)


def test_2d_fillvalue_conversion_like_scipy():
    a = np.array([[1, 2, 3], [3, 4, 5]])
    for fill in (1.5, [3], [[3]], np.int8(4)):
        np.testing.assert_array_equal(signal.convolve2d(a, a, fillvalue=fill),
                                      scipy_signal.convolve2d(a, a, fillvalue=fill))
    u8 = a.astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fill in (1j, 300, -1, np.nan, [1, 2], [], "x"):
            if fill in (300, -1) and np.lib.NumpyVersion(np.__version__) < "2.0.0":
                # numpy 1.x wraps out-of-range Python integers into uint8 (numpy 2
                # refuses them): both then give the wrapped fill's result
                np.testing.assert_array_equal(signal.convolve2d(u8, u8, fillvalue=fill),
                                              scipy_signal.convolve2d(u8, u8, fillvalue=fill))
                continue
            with pytest.raises(ValueError):
                scipy_signal.convolve2d(u8, u8, fillvalue=fill)
            with pytest.raises(ValueError):
                signal.convolve2d(u8, u8, fillvalue=fill)
    # the fill value of the result dtype, here the largest uint64, exactly
    big = np.array([[1, 2], [3, 4]], np.uint64)
    np.testing.assert_array_equal(signal.convolve2d(big, big, fillvalue=2**64 - 1),
                                  scipy_signal.convolve2d(big, big, fillvalue=2**64 - 1))


# ---------------------------------------------------------------- the rest

def test_correlation_lags():
    for n1 in range(1, 9):
        for n2 in range(1, 9):
            for mode in MODES:
                np.testing.assert_array_equal(signal.correlation_lags(n1, n2, mode),
                                              scipy_signal.correlation_lags(n1, n2, mode))
    with pytest.raises(ValueError, match="Mode x is invalid"):
        signal.correlation_lags(3, 3, "x")


def test_choose_conv_method():
    assert signal.choose_conv_method(np.ones(10), np.ones(3)) == "direct"
    # a large non-separable kernel: FFT by ndconv's cost model
    assert signal.choose_conv_method(np.ones((400, 400)), RNG.standard_normal((81, 81))) == "fft"
    # exact integer results never use FFT
    assert signal.choose_conv_method(np.ones((400, 400), int), np.ones((41, 41), int)) == "direct"
    method, times = signal.choose_conv_method(np.ones(50), np.ones(5), measure=True)
    assert method in ("fft", "direct") and set(times) == {"fft", "direct"}
    assert method == min(times, key=times.get)
    with pytest.raises(ValueError):
        signal.choose_conv_method(np.ones(3), np.ones(3), mode="bogus")


def test_workers_keyword():
    a, b = RNG.standard_normal((30, 40)), RNG.standard_normal((5, 5))
    r1 = signal.convolve(a, b, method="direct", workers=1)
    np.testing.assert_array_equal(r1, signal.convolve(a, b, method="direct", workers=-1))
    np.testing.assert_allclose(signal.fftconvolve(a, b, workers=2), r1, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(signal.convolve2d(a, b, workers=2),
                                  signal.convolve2d(a, b, workers=1))
    with pytest.raises(ValueError, match="workers"):
        signal.convolve(a, b, workers=0)


def same_exception(ours, ref, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as expected:
            ref(*args, **kwargs)
    with pytest.raises(type(expected.value)):
        ours(*args, **kwargs)


BAD = [
    ("convolve", (np.ones(3), np.ones((3, 3))), {}),
    ("convolve", (np.ones((2, 3)), np.ones((3, 2))), {"mode": "valid"}),
    ("convolve", (np.ones(3), np.ones(3)), {"mode": "bogus"}),
    ("convolve", (np.ones(3), np.ones(3)), {"method": "bogus"}),
    ("convolve", (np.zeros(0), np.ones(3)), {}),
    ("convolve", (np.array(["a"]), np.array(["b"])), {}),
    ("correlate", (np.ones(3), np.ones((3, 3))), {}),
    ("correlate", (np.ones((2, 3)), np.ones((3, 2))), {"mode": "valid"}),
    ("correlate", (np.ones(3), np.ones(3)), {"mode": 1}),
    ("correlate", (np.ones(3), np.ones(3)), {"method": "bogus"}),
    ("correlate", (np.zeros(0), np.ones(3)), {"method": "direct"}),
    ("fftconvolve", (np.ones(3), np.ones((3, 3))), {}),
    ("fftconvolve", (np.ones((4, 5)), np.ones((3, 2))), {"axes": 1}),
    ("fftconvolve", (np.ones((4, 5)), np.ones((3, 2))), {"axes": []}),
    ("fftconvolve", (np.ones((4, 5)), np.ones((3, 2))), {"axes": (0, 0)}),
    ("fftconvolve", (np.ones((4, 5)), np.ones((3, 2))), {"axes": 2}),
    ("fftconvolve", (np.ones((4, 5)), np.ones((3, 2))), {"axes": 1.5}),
    ("fftconvolve", (np.ones((4, 5)), np.ones((4, 2))), {"mode": "x"}),
    ("fftconvolve", (np.ones((2, 3)), np.ones((3, 2))), {"mode": "valid"}),
    ("oaconvolve", (np.ones(30), np.ones(4)), {"mode": "x"}),
    ("oaconvolve", (np.ones((2, 3)), np.ones((3, 2))), {"mode": "valid"}),
    ("oaconvolve", (np.ones(3), np.ones((3, 3))), {}),
    ("convolve2d", (np.ones(3), np.ones(3)), {}),
    ("convolve2d", (np.ones((2, 3)), np.ones((3, 2))), {"mode": "valid"}),
    ("convolve2d", (np.ones((2, 2)), np.ones((2, 2))), {"mode": "x"}),
    ("convolve2d", (np.ones((2, 2)), np.ones((2, 2))), {"boundary": "x"}),
    ("convolve2d", (np.ones((2, 2)), np.ones((2, 2))), {"boundary": "reflect"}),
    ("convolve2d", (np.ones((2, 2), bool), np.ones((2, 2), bool)), {}),
    ("convolve2d", (np.ones((2, 2), np.float16), np.ones((2, 2), np.float16)), {}),
    ("convolve2d", (np.ones((2, 2)), np.ones((2, 2))), {"fillvalue": 1j}),
    ("correlate2d", (np.ones((2, 2, 1)), np.ones((2, 2))), {}),
    ("correlate2d", (np.ones((2, 2)), np.ones((2, 2))), {"fillvalue": [1, 2]}),
    ("correlate2d", (np.ones((2, 2)), np.ones((2, 2))), {"fillvalue": []}),
    ("correlate2d", (np.ones((2, 2)), np.ones((2, 2))), {"boundary": 0}),
    ("choose_conv_method", (np.ones(3), np.ones(3)), {"mode": "x"}),
    ("correlation_lags", (3, 3), {"mode": "x"}),
]


@pytest.mark.parametrize("name,args,kwargs", BAD, ids=[b[0] for b in BAD])
def test_same_exception_types(name, args, kwargs):
    if name == "correlation_lags" and not _scipy_lags_checks_mode():
        # older scipy (1.11 included) fails with UnboundLocalError on a bad mode;
        # ndconv raises the ValueError of later scipy
        with pytest.raises(ValueError, match="Mode"):
            signal.correlation_lags(*args, **kwargs)
        return
    same_exception(getattr(signal, name), getattr(scipy_signal, name), *args, **kwargs)


def _scipy_lags_checks_mode():
    try:
        scipy_signal.correlation_lags(3, 3, mode="x")
    except ValueError:
        return True
    except UnboundLocalError:
        return False
    raise AssertionError("scipy.signal.correlation_lags accepted mode='x'")


def test_signatures_match_scipy():
    import inspect
    for name in signal.__all__:
        ours = inspect.signature(getattr(signal, name)).parameters
        ref = inspect.signature(getattr(scipy_signal, name)).parameters
        extra = [p for p in ours if p not in ref]
        assert extra in ([], ["workers"]), name
        assert [(p.name, p.default, p.kind) for p in ref.values()] == \
            [(p.name, p.default, p.kind) for p in list(ours.values())[:len(ref)]], name

"""ndconv.ndimage against scipy.ndimage (the reference)."""
import inspect
import platform
import warnings

import numpy as np
import pytest

ndi = pytest.importorskip("scipy.ndimage")

from ndconv import ndimage  # noqa: E402
from ndconv._plan import dropin  # noqa: E402
from ndconv._plan.dropin import c_cast  # noqa: E402

# scipy's and numpy's semantics over grids of tiny calls: the library's own thread
# rule (the threaded schedule is checked by test_correlate and test_threads)
pytestmark = pytest.mark.library_threads

RNG = np.random.default_rng(777)

# Two behaviours ndconv follows that the oldest supported scipy (1.11) lacks:
# ``axes`` for correlate/convolve, and refusing a bool ``output``.
SCIPY_HAS_AXES = "axes" in inspect.signature(ndi.correlate).parameters


def _scipy_refuses_bool_output():
    try:
        ndi.correlate(np.zeros(3), np.ones(1), output="?")
    except RuntimeError:
        return True
    return False

MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-constant", "grid-mirror",
         "grid-wrap"]
INPUT_DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                np.uint64, np.float32, np.float64, np.complex64, np.complex128]
# (input shape, weights shape, axes)
CASES = [((1,), (1,), None), ((7,), (3,), None), ((5,), (4,), None), ((3,), (8,), None),
         ((1,), (5,), None), ((5, 6), (3, 2), None), ((4, 1), (2, 3), None),
         ((2, 3), (5, 4), None), ((3, 4, 5), (2, 3, 2), None), ((4, 5, 3), (3, 2), (0, 2)),
         ((4, 5, 3), (3,), 1), ((4, 5, 3), (2, 3), (2, 0)), ((5, 4), (3, 2), (1, 0))]


def sample(shape, dtype, rng=RNG):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -100), min(info.max, 100)
        return rng.integers(lo, hi, shape, dtype=dtype, endpoint=True)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def origins_for(wshape):
    """Scalar origin 0, the extreme origins and a mixed per-axis origin."""
    lo = [-(n // 2) for n in wshape]
    hi = [(n - 1) // 2 for n in wshape]
    out = [0]
    if min(hi) == max(hi):
        out.append(hi[0])
    if min(lo) == max(lo):
        out.append(lo[0])
    out.append([low if i % 2 else high for i, (low, high) in enumerate(zip(lo, hi))])
    return out


def assert_matches(got, ref, absconv):
    """Integer and bool outputs exactly; float outputs within accumulation error.

    Both compute the sums in float64 (K taps: error <= K * eps * the same sum
    of absolute values, per side) and then round to the output dtype (one
    rounding each, at most one unit apart).  Integer results are compared
    exactly: the weights used with them are small integers or dyadic
    fractions, so every float64 sum is exact and scipy's truncation is
    reproduced bit for bit.
    """
    assert got.dtype == ref.dtype and got.shape == ref.shape
    if ref.dtype.kind in "biu":
        np.testing.assert_array_equal(got, ref)
        return
    K = absconv[1]
    # scipy computes complex data as real partial correlations, each rounded to
    # the output precision before they are added: two roundings of the output
    # dtype relative to the absolute sums
    tol = 4 * K * np.finfo(np.float64).eps * absconv[0] \
        + np.finfo(ref.dtype).eps * (np.abs(ref.astype(np.complex128)) + 2 * absconv[0])
    err = np.abs(got.astype(np.complex128) - ref.astype(np.complex128))
    assert np.all(err <= tol + 1e-300), float((err - tol).max())


def weights_for(wshape, input_dtype):
    """Dyadic weights (k / 4, exact in binary) so that integer outputs truncate
    identical float64 sums; complex inputs get complex weights too."""
    w = RNG.integers(-8, 9, wshape) / 4.0
    if np.dtype(input_dtype).kind == "c":
        w = w + 1j * RNG.integers(-8, 9, wshape) / 4.0
    return w


@pytest.mark.parametrize("op_name", ["correlate", "convolve"])
@pytest.mark.parametrize("dtype", INPUT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_grid_against_scipy(op_name, dtype):
    ours, ref = getattr(ndimage, op_name), getattr(ndi, op_name)
    for shape, wshape, axes in CASES:
        if axes is not None and not SCIPY_HAS_AXES:
            continue
        ax = {} if axes is None else {"axes": axes}   # older scipy has no axes keyword
        x = sample(shape, dtype)
        w = weights_for(wshape, dtype)
        x0 = x.copy()
        absx = np.abs(x).astype(np.float64)
        for mode in MODES:
            for origin in origins_for(wshape):
                cval = 1.25 if mode in ("constant", "grid-constant") else 0.0
                kw = dict(mode=mode, cval=cval, origin=origin, **ax)
                expected = ref(x, w, **kw)
                got = ours(x, w, **kw)
                absconv = (ref(absx, np.abs(w), mode=mode, cval=abs(cval), origin=origin, **ax),
                           w.size)
                assert_matches(got, expected, absconv)
        np.testing.assert_array_equal(x, x0)


OUTPUTS = [np.uint8, np.int16, np.int32, np.uint32, np.int64, np.uint64, np.float32, np.bool_]


@pytest.mark.parametrize("output", OUTPUTS, ids=lambda d: np.dtype(d).name)
def test_output_dtype_and_array(output):
    # float input, wide range: the results overflow, go negative and fractional,
    # so the C conversion scipy applies (truncation, wrapping, saturation) shows
    x = RNG.uniform(-3e4, 3e4, (6, 7)).round(2)
    w = np.array([[0.5, -1.25], [3.0, 0.75]])
    for op in ("correlate", "convolve"):
        for mode in ("reflect", "constant", "wrap"):
            expected = getattr(ndi, op)(x, w, output=output, mode=mode, cval=-7.5)
            got = getattr(ndimage, op)(x, w, output=output, mode=mode, cval=-7.5)
            assert got.dtype == expected.dtype
            if np.dtype(output).kind == "f":
                np.testing.assert_allclose(got, expected, rtol=1e-6)
            else:
                np.testing.assert_array_equal(got, expected)
            out_arr = np.zeros(x.shape, dtype=output)
            res = getattr(ndimage, op)(x, w, output=out_arr, mode=mode, cval=-7.5)
            assert res is out_arr
            if np.dtype(output).kind == "f":
                np.testing.assert_allclose(out_arr, expected, rtol=1e-6)
            else:
                np.testing.assert_array_equal(out_arr, expected)


def test_c_cast_of_out_of_range_values():
    # scipy's N-D filters convert negative values to unsigned types through their
    # magnitude, its 1-D filters directly.  The 1-D filters run on lines of one
    # value here: on aarch64 scipy's vectorised loops convert the values of longer
    # lines to narrow types through a 64-bit conversion (wrapping, not saturating),
    # some positions of a line and not others; ndconv follows the C conversion.
    v = np.array([np.nan, np.inf, -np.inf, 3e9, -3e9, 1e19, 2**63 + 2.0**20, 0.5, -0.5,
                  2.0**32 + 5, -2.0**32 - 5, 1e30, -1e30, 255.7, 256.2, -1.9, 70000.5, -1e19, -5e9])
    for dt in (np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
               np.uint64, np.bool_):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            nd = ndi.correlate(v, np.ones(1), output=dt, mode="constant")
            one_d = ndi.correlate1d(v[:, None], [1.0], axis=1, output=dt, mode="constant")
        np.testing.assert_array_equal(c_cast(v, dt, unsigned_by_magnitude=True), nd)
        np.testing.assert_array_equal(ndimage.correlate(v, np.ones(1), output=dt, mode="constant"), nd)
        np.testing.assert_array_equal(c_cast(v, dt), one_d[:, 0])
        np.testing.assert_array_equal(
            ndimage.correlate1d(v[:, None], [1.0], axis=1, output=dt, mode="constant"), one_d)


# C conversions of doubles that do not fit, as gcc -O2 compiles `(T)d` for each machine
# (cvttsd2si on x86-64; fcvtzs/fcvtzu on aarch64, run under qemu): one row per value, columns
# int8 uint8 int16 uint16 int32 uint32 int64 uint64.
CAST_VALUES = [-5.5, 300.7, 70000.5, -70000.5, 3e9, -3e9, 5e9, 1e19, 2e19, -1e19, np.inf, -np.inf,
               np.nan]
CAST_TYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
I32, I64, U64 = 2**31, 2**63, 2**64
CAST_TABLES = {
    "x86-64": [
        [-5, 251, -5, 65531, -5, 2**32 - 5, -5, U64 - 5],
        [44, 44, 300, 300, 300, 300, 300, 300],
        [112, 112, 4464, 4464, 70000, 70000, 70000, 70000],
        [-112, 144, -4464, 61072, -70000, 2**32 - 70000, -70000, U64 - 70000],
        [0, 0, 0, 0, -I32, 3000000000, 3000000000, 3000000000],
        [0, 0, 0, 0, -I32, 2**32 - 3000000000, -3000000000, U64 - 3000000000],
        [0, 0, 0, 0, -I32, 5000000000 - 2**32, 5000000000, 5000000000],
        [0, 0, 0, 0, -I32, 0, -I64, 10**19],
        [0, 0, 0, 0, -I32, 0, -I64, 0],
        [0, 0, 0, 0, -I32, 0, -I64, I64],
        [0, 0, 0, 0, -I32, 0, -I64, 0],
        [0, 0, 0, 0, -I32, 0, -I64, I64],
        [0, 0, 0, 0, -I32, 0, -I64, I64],
    ],
    "aarch64": [
        [-5, 0, -5, 0, -5, 0, -5, 0],
        [44, 44, 300, 300, 300, 300, 300, 300],
        [112, 112, 4464, 4464, 70000, 70000, 70000, 70000],
        [-112, 0, -4464, 0, -70000, 0, -70000, 0],
        [-1, 0, -1, 24064, I32 - 1, 3000000000, 3000000000, 3000000000],
        [0, 0, 0, 0, -I32, 0, -3000000000, 0],
        [-1, 255, -1, 65535, I32 - 1, 2**32 - 1, 5000000000, 5000000000],
        [-1, 255, -1, 65535, I32 - 1, 2**32 - 1, I64 - 1, 10**19],
        [-1, 255, -1, 65535, I32 - 1, 2**32 - 1, I64 - 1, U64 - 1],
        [0, 0, 0, 0, -I32, 0, -I64, 0],
        [-1, 255, -1, 65535, I32 - 1, 2**32 - 1, I64 - 1, U64 - 1],
        [0, 0, 0, 0, -I32, 0, -I64, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
    ],
}


@pytest.mark.parametrize("rules", sorted(CAST_TABLES))
def test_c_cast_rules_of_each_machine(rules):
    v = np.array(CAST_VALUES)
    v0 = v.copy()
    for col, dt in enumerate(CAST_TYPES):
        got = c_cast(v, dt, rules=rules)
        assert got.dtype == dt
        assert [int(g) for g in got] == [row[col] for row in CAST_TABLES[rules]], np.dtype(dt).name
    # bool is an unsigned char in numpy's C API: the uint8 conversion, then != 0
    np.testing.assert_array_equal(c_cast(v, np.bool_, rules=rules),
                                  [row[1] != 0 for row in CAST_TABLES[rules]])
    # -(T)(-v) for v <= -1 (scipy's N-D filters): wraps like x86-64's direct
    # conversion while the magnitude converts exactly, differs past that
    neg = np.array([-5.5, -0.5, -1.0, -3e9, -5e9, -1e19, -np.inf])
    got = {dt: [int(g) for g in c_cast(neg, dt, rules=rules, unsigned_by_magnitude=True)]
           for dt in (np.uint8, np.uint32, np.uint64)}
    sat = rules == "aarch64"
    assert got[np.uint8] == [251, 0, 255, 0, 1 if sat else 0, 1 if sat else 0, 1 if sat else 0]
    assert got[np.uint32] == [2**32 - 5, 0, 2**32 - 1, 2**32 - 3000000000,
                              1 if sat else 2**32 - (5000000000 - 2**32), 1 if sat else 0, 1 if sat else 0]
    assert got[np.uint64] == [U64 - 5, 0, U64 - 1, U64 - 3000000000, U64 - 5000000000, U64 - 10**19,
                              1 if sat else 0]
    np.testing.assert_array_equal(c_cast(neg, np.bool_, rules=rules, unsigned_by_magnitude=True),
                                  np.array(got[np.uint8]) != 0)
    np.testing.assert_array_equal(v, v0)


def test_c_cast_rules_follow_this_machine():
    expected = "aarch64" if platform.machine().lower() in ("aarch64", "arm64") else "x86-64"
    assert dropin.CAST_RULES == expected
    v = np.array(CAST_VALUES)
    for dt in CAST_TYPES:
        np.testing.assert_array_equal(c_cast(v, dt), c_cast(v, dt, rules=expected))
    with pytest.raises(ValueError, match="rules"):
        c_cast(v, np.int8, rules="sparc")


@pytest.mark.parametrize("op_name", ["correlate1d", "convolve1d"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32, np.float64, np.complex128],
                         ids=lambda d: np.dtype(d).name)
def test_1d_grid(op_name, dtype):
    ours, ref = getattr(ndimage, op_name), getattr(ndi, op_name)
    x = sample((5, 6, 4), dtype)
    for n in (1, 2, 3, 4, 7, 12):
        w = weights_for((n,), dtype)
        for axis in (-1, 0, 1, 2, -3):
            for mode in MODES:
                for origin in sorted({0, -(n // 2), (n - 1) // 2}):
                    kw = dict(axis=axis, mode=mode, cval=-2.5, origin=origin)
                    expected = ref(x, w, **kw)
                    got = ours(x, w, **kw)
                    assert got.dtype == expected.dtype
                    if expected.dtype.kind in "iu":
                        np.testing.assert_array_equal(got, expected)
                    else:
                        # n taps of float64 sums of values below ~10: 4 n eps
                        # relative to the largest sum, plus one output rounding
                        scale = np.abs(x).max() * np.abs(w).sum() + 2.5
                        tol = 4 * n * np.finfo(np.float64).eps * scale \
                            + np.finfo(expected.dtype).eps * np.abs(expected)
                        assert np.all(np.abs(got - expected) <= tol)


def test_non_contiguous_in_place_and_zero_d():
    x = RNG.standard_normal((10, 12))[::2, ::-3]
    w = RNG.standard_normal((3, 2))
    for op in ("correlate", "convolve"):
        expected = getattr(ndi, op)(x, w, mode="mirror")
        np.testing.assert_allclose(getattr(ndimage, op)(x, w, mode="mirror"), expected,
                                   rtol=1e-12, atol=1e-12)
        y = x.copy()
        assert getattr(ndimage, op)(y, w, output=y, mode="mirror") is y   # output is input
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    for a, b in [(np.float64(3), np.float64(2)), (np.int16(7), 0.5)]:
        got, expected = ndimage.correlate(a, b), ndi.correlate(a, b)
        assert got.shape == expected.shape == () and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    for x in (np.zeros((0, 3)), np.zeros((2, 0), np.int8)):
        got, expected = ndimage.correlate(x, np.ones((2, 2))), ndi.correlate(x, np.ones((2, 2)))
        assert got.shape == expected.shape and got.dtype == expected.dtype


def test_complex_conventions():
    x = sample((6, 5), np.complex64)
    w = weights_for((3, 2), np.complex128)
    for op in ("correlate", "convolve"):
        for cval in (0, 1 + 2j):
            expected = getattr(ndi, op)(x, w, mode="constant", cval=cval)
            got = getattr(ndimage, op)(x, w, mode="constant", cval=cval)
            assert got.dtype == expected.dtype == np.complex64
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        # real input, complex weights: complex128 output; a dtype output is promoted
        xr = x.real.astype(np.float64)
        with pytest.warns(UserWarning, match="promoting"):
            got = getattr(ndimage, op)(xr, w, output=np.float32)
        with pytest.warns(UserWarning, match="promoting"):
            expected = getattr(ndi, op)(xr, w, output=np.float32)
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def same_exception(ours, ref, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as expected:
            ref(*args, **kwargs)
    with pytest.raises(type(expected.value)):
        ours(*args, **kwargs)


X2 = np.zeros((4, 3))
W2 = np.ones((3, 3))
BAD = [
    ("correlate", (X2, np.ones(3)), {}),
    ("correlate", (X2, np.ones((0, 2))), {}),
    ("correlate", (X2, W2), {"mode": "foo"}),
    ("correlate", (X2, W2), {"mode": ["reflect", "reflect"]}),
    ("correlate", (X2, W2), {"origin": 2}),
    ("correlate", (X2, W2), {"origin": (0, 0, 0)}),
    ("correlate", (X2, np.ones(3)), {"axes": 5}),
    ("correlate", (X2, np.ones(3)), {"axes": (5,)}),
    ("correlate", (X2, W2), {"axes": (0, 0)}),
    ("correlate", (X2, W2), {"cval": 1j, "mode": "constant"}),
    ("correlate", (X2, W2), {"cval": "a", "mode": "constant"}),
    ("correlate", (X2, W2 * 1j), {"cval": 1j}),
    ("correlate", (X2, W2 * 1j), {"output": "f8"}),
    ("correlate", (X2, W2 * 1j), {"output": np.zeros((4, 3))}),
    ("correlate", (X2, W2), {"output": np.zeros((3, 3))}),
    ("correlate", (X2, W2), {"output": "?"}),
    ("correlate", (X2, W2), {"output": np.float16}),
    ("correlate", (X2, W2), {"output": np.complex64}),
    ("correlate", (X2.astype(np.float16), W2), {}),
    ("correlate", (X2.astype(np.longdouble), W2), {}),
    ("correlate", (X2.astype(object), W2), {}),
    ("correlate", (np.float64(3), [2.0]), {}),
    ("convolve", (X2, W2), {"origin": -2}),
    ("convolve", (X2, np.ones((2, 2))), {"origin": 1}),
    ("convolve", (X2, np.ones(3)), {}),
    ("correlate1d", (X2, []), {}),
    ("correlate1d", (X2, np.ones((2, 2))), {}),
    ("correlate1d", (X2, np.ones(3)), {"axis": 2}),
    ("correlate1d", (np.float64(3), [2.0]), {}),
    ("correlate1d", (X2, np.ones(3)), {"origin": 2}),
    ("correlate1d", (X2, np.ones(3)), {"mode": "x"}),
    ("correlate1d", (X2, np.ones(3)), {"mode": ["reflect", "reflect"]}),
    ("correlate1d", (X2, np.ones(3)), {"output": np.zeros(3)}),
    ("convolve1d", (X2, np.ones(4)), {"origin": 2}),
    ("convolve1d", (X2, np.float64(1)), {}),
]


@pytest.mark.parametrize("name,args,kwargs", BAD, ids=[b[0] for b in BAD])
def test_same_exception_types(name, args, kwargs):
    if "axes" in kwargs and not SCIPY_HAS_AXES:
        pytest.skip("this scipy's ndimage functions have no axes argument")
    output = kwargs.get("output")
    if isinstance(output, str) and output == "?" and not _scipy_refuses_bool_output():
        # this scipy writes bool outputs; later scipy refuses them, as ndconv does
        with pytest.raises(RuntimeError, match="numeric"):
            getattr(ndimage, name)(*args, **kwargs)
        return
    same_exception(getattr(ndimage, name), getattr(ndi, name), *args, **kwargs)


def test_signatures_match_scipy():
    for name in ndimage.__all__:
        ours = inspect.signature(getattr(ndimage, name)).parameters
        ref = inspect.signature(getattr(ndi, name)).parameters
        extra = ["workers"] if SCIPY_HAS_AXES or "1d" in name else ["axes", "workers"]
        assert [p for p in ours if p not in ref] == extra, name
        assert [(p.name, p.default, p.kind) for p in ref.values()] == \
            [(p.name, p.default, p.kind) for p in list(ours.values())[:len(ref)]], name


def test_workers_keyword():
    x, w = RNG.standard_normal((40, 50)), RNG.standard_normal((5, 4))
    r1 = ndimage.correlate(x, w, workers=1)
    np.testing.assert_allclose(ndimage.correlate(x, w, workers=2), r1, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="workers"):
        ndimage.convolve(x, w, workers=0)

"""ndconv.numpy against numpy.convolve / numpy.correlate (the references)."""
import warnings
from fractions import Fraction

import numpy as np
import pytest

from ndconv import numpy as npc

# scipy's and numpy's semantics over grids of tiny calls: the library's own thread
# rule (the threaded schedule is checked by test_correlate and test_threads)
pytestmark = pytest.mark.library_threads

RNG = np.random.default_rng(1234)

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.float16, np.float32, np.float64, np.complex64, np.complex128]
PAIRS = [(d, d) for d in DTYPES] + [
    (np.int8, np.uint8), (np.uint64, np.int64), (np.int32, np.float32), (np.float32, np.float64),
    (np.float16, np.int8), (np.complex64, np.float64), (np.bool_, np.int16),
    (np.uint8, np.complex64)]
LENGTHS = [(1, 1), (1, 4), (5, 1), (5, 3), (4, 4), (3, 8), (8, 4), (13, 6)]
MODES = ["full", "same", "valid", 0, 1, 2]


def sample(n, dtype, rng=RNG):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, n).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        # the full range, so integer results overflow and must wrap like numpy's
        return rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    if dtype.kind == "c":
        return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dtype)
    return rng.standard_normal(n).astype(dtype)


def assert_matches(got, ref, a, v, mode, op):
    """Integer and bool results exactly; float results within accumulation error.

    numpy sums ``K = min(len(a), len(v))`` products per output; each side's
    float error is at most ``K * eps`` of its compute precision times the same
    operation on absolute values, so the two differ by at most twice that (4x
    for slack from complex products).  float16 results are computed in float32
    by both and then rounded, so they may also sit one float16 rounding apart.
    """
    assert got.dtype == ref.dtype
    assert got.shape == ref.shape
    if ref.dtype.kind in "biuO":
        np.testing.assert_array_equal(got, ref)
        return
    K = min(len(a), len(v))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        absconv = op(np.abs(a).astype(np.float64), np.abs(v).astype(np.float64), mode)
    eps_c = np.finfo(np.float32 if ref.dtype.itemsize <= (8 if ref.dtype.kind == "c" else 4)
                     else np.float64).eps
    tol = 8 * K * eps_c * absconv + np.finfo(ref.dtype).eps * np.abs(ref.astype(np.complex128))
    err = np.abs(got.astype(np.complex128) - ref.astype(np.complex128))
    assert np.all(err <= tol + 1e-300), (err - tol).max()


@pytest.mark.parametrize("op_name", ["convolve", "correlate"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dts", PAIRS, ids=lambda p: "%s-%s" % (np.dtype(p[0]), np.dtype(p[1])))
def test_grid_against_numpy(op_name, mode, dts):
    ours, ref = getattr(npc, op_name), getattr(np, op_name)
    for n, m in LENGTHS:
        a, v = sample(n, dts[0]), sample(m, dts[1])
        a0, v0 = a.copy(), v.copy()
        got = ours(a, v, mode)
        expected = ref(a, v, mode)
        assert_matches(got, expected, a, v, mode, ref)
        np.testing.assert_array_equal(a, a0)   # inputs untouched
        np.testing.assert_array_equal(v, v0)


@pytest.mark.parametrize("op_name", ["convolve", "correlate"])
def test_defaults_and_keywords(op_name):
    ours, ref = getattr(npc, op_name), getattr(np, op_name)
    a, v = np.arange(7.0), np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(ours(a, v), ref(a, v), rtol=1e-14)      # default mode
    np.testing.assert_allclose(ours(a=a, v=v, mode="same"), ref(a=a, v=v, mode="same"),
                               rtol=1e-14)
    np.testing.assert_allclose(ours(a, v, workers=1), ours(a, v, workers=None), rtol=0)
    np.testing.assert_allclose(ours([1, 2, 3], [0.5, 1]), ref([1, 2, 3], [0.5, 1]), rtol=1e-15)


@pytest.mark.parametrize("op_name", ["convolve", "correlate"])
def test_non_contiguous_and_reversed(op_name):
    ours, ref = getattr(npc, op_name), getattr(np, op_name)
    a = RNG.standard_normal(40)[::3]
    v = (RNG.standard_normal(10) + 1j * RNG.standard_normal(10))[::-2]
    for mode in ("full", "same", "valid"):
        np.testing.assert_allclose(ours(a, v, mode), ref(a, v, mode), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(ours(v, a, mode), ref(v, a, mode), rtol=1e-13, atol=1e-13)


def test_complex_conventions():
    # correlate conjugates v; with v longer the result is reversed and conjugated
    a = np.array([1 + 1j, 2, -1j])
    v = np.array([1j, 1 - 2j, 3, 0.5j, 2])
    for mode in ("full", "same", "valid"):
        np.testing.assert_allclose(npc.correlate(a, v, mode), np.correlate(a, v, mode),
                                   rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(npc.correlate(v, a, mode), np.correlate(v, a, mode),
                                   rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(npc.convolve(a, v, mode), np.convolve(a, v, mode),
                                   rtol=1e-14, atol=1e-14)


def test_zero_d_and_size_one():
    for a, v in [(np.int8(2), np.int8(100)), (2.0, 3), (np.float32(2), [1.0, 2.0]),
                 ([5], [7])]:
        got, ref = npc.convolve(a, v), np.convolve(a, v)
        assert got.dtype == ref.dtype and got.shape == ref.shape
        np.testing.assert_array_equal(got, ref)
    got, ref = npc.correlate([3], [4], "full"), np.correlate([3], [4], "full")
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


def test_longdouble_keeps_dtype():
    # computed in float64 (no extended-precision kernel), returned as long double
    a = np.arange(1, 6, dtype=np.longdouble) / 3
    v = np.array([1, -1, 2], dtype=np.longdouble)
    for op in ("convolve", "correlate"):
        got, ref = getattr(npc, op)(a, v, "full"), getattr(np, op)(a, v, "full")
        assert got.dtype == ref.dtype
        np.testing.assert_allclose(got.astype(float), ref.astype(float), rtol=1e-15)


def test_object_arrays():
    a = np.array([Fraction(1, 3), Fraction(2), Fraction(5, 7), Fraction(-1)], dtype=object)
    v = np.array([Fraction(1, 2), Fraction(3), Fraction(1, 9)], dtype=object)
    for op in ("convolve", "correlate"):
        for mode in ("full", "same", "valid"):
            for x, y in ((a, v), (v, a)):
                got, ref = getattr(npc, op)(x, y, mode), getattr(np, op)(x, y, mode)
                assert got.dtype == object
                assert list(got) == list(ref)


BAD = [
    ((np.array([]), [1.0]), {}),
    (([1.0], []), {}),
    (([[1.0, 2.0]], [1.0]), {}),
    (([1.0], [[1.0]]), {}),
    (([1.0, 2.0], [1.0]), {"mode": "bogus"}),
    (([1.0, 2.0], [1.0]), {"mode": "f"}),
    (([1.0, 2.0], [1.0]), {"mode": 3}),
    (([1.0, 2.0], [1.0]), {"mode": None}),
    (([1.0, 2.0], [1.0]), {"mode": 1.5}),
    ((np.array(["a", "b"]), [1.0]), {}),
    ((np.array(["2020-01-01"], dtype="datetime64[D]"), [1]), {}),
]


@pytest.mark.parametrize("op_name", ["convolve", "correlate"])
@pytest.mark.parametrize("args,kwargs", BAD)
def test_same_exception_types(op_name, args, kwargs):
    if kwargs.get("mode") == "f" and np.lib.NumpyVersion(np.__version__) < "2.0.0":
        # numpy 1.x accepts abbreviated modes with a DeprecationWarning; ndconv
        # follows numpy 2, which refuses them
        with pytest.raises(ValueError, match="valid"):
            getattr(npc, op_name)(*args, **kwargs)
        return
    with pytest.raises(Exception) as ref:
        getattr(np, op_name)(*args, **kwargs)
    with pytest.raises(type(ref.value)):
        getattr(npc, op_name)(*args, **kwargs)


def test_correlate_rejects_0d_like_numpy():
    with pytest.raises(ValueError):
        np.correlate(2.0, [1.0])
    with pytest.raises(ValueError):
        npc.correlate(2.0, [1.0])


def test_bad_workers():
    with pytest.raises(ValueError, match="workers"):
        npc.convolve([1.0, 2.0], [1.0], workers=0)

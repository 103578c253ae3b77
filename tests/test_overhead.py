"""The shortcuts that keep small calls cheap give the same answers as the long way."""
import numpy as np
import pytest

import ndconv
from ndconv._plan import direct as _direct
from ndconv._plan import validation as _validation


def _sorted_order(x):
    """``memory_order`` by its definition (the sort), without the fast path."""
    keys = [(x.shape[a] != 1, -abs(x.strides[a]), a) for a in range(x.ndim)]
    return tuple(a for _, _, a in sorted(keys))


def test_table_cache_is_read_only_and_reused():
    _direct._tables.cache_clear()
    x, k = np.arange(40.0).reshape(5, 8), np.ones((3, 2))
    ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
    assert _direct._tables.cache_info().currsize == 1
    # the key of that call: shape, element strides, output shape, kernel shape, starts,
    # boundary, register block width
    block = _direct._block(_direct.core(), "d")
    tables = _direct._tables((5, 8), (8, 1), (5, 8), (3, 2), (-1, -1), "reflect", block)
    assert _direct._tables.cache_info().currsize == 1
    for arr in tables[:5]:
        assert isinstance(arr, np.ndarray) and not arr.flags.writeable
        with pytest.raises(ValueError):
            arr.reshape(-1)[0] = 7
    ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
    assert _direct._tables.cache_info().hits >= 2


@pytest.mark.parametrize("boundary", ["constant", "edge", "symmetric", "reflect", "wrap"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_cold_and_warm_cache_agree(rng, boundary, mode):
    x = rng.standard_normal((9, 13))
    views = [x, x[::-1, ::2], x.T, np.asfortranarray(x), x[:, None, :]]
    k = rng.standard_normal((3, 4))
    for v in views:
        kk = k[:, None, :] if v.ndim == 3 else k
        v0 = v.copy()
        _direct._tables.cache_clear()
        cold = ndconv.correlate(v, kk, mode, boundary=boundary, cval=1.5, method="direct")
        warm = ndconv.correlate(v, kk, mode, boundary=boundary, cval=1.5, method="direct")
        np.testing.assert_array_equal(cold, warm)
        np.testing.assert_array_equal(v, v0)
        # the cache is keyed by geometry only: another input of the same
        # geometry must not see the first one's data
        other = ndconv.correlate(v * 2, kk, mode, boundary=boundary, cval=3.0, method="direct")
        np.testing.assert_allclose(other, 2 * cold, rtol=1e-12, atol=1e-12)


def test_wide_geometry_bypasses_cache(rng):
    _direct._tables.cache_clear()
    x = rng.standard_normal(_direct._CACHED_EXTENT + 10)
    ndconv.convolve(x, np.ones(3), method="direct")
    assert _direct._tables.cache_info().currsize == 0


@pytest.mark.parametrize("shape", [(4, 5), (1, 5), (4, 1), (1, 1), (3, 1, 4), (2, 3, 4)])
def test_memory_order_fast_path_matches_sort(shape):
    a = np.zeros(shape)
    for v in (a, a.T, np.asfortranarray(a), a[..., ::-1], a.reshape(shape + (1,))):
        assert _direct.memory_order(v) == _sorted_order(v)


def test_flat_span_of_c_contiguous_input_is_the_array():
    x = np.arange(12.0).reshape(3, 4)
    flat, estr = _direct._flat_span(x)
    assert estr == [4, 1] and np.shares_memory(flat, x)
    np.testing.assert_array_equal(flat, x.ravel())


@pytest.mark.parametrize("a, b", [("f4", "f4"), ("f4", "f8"), ("i2", "f4"), (">f8", ">f8"),
                                  (">f4", "<f4"), ("c8", "f8"), ("?", "?"), ("f2", "f2"),
                                  ("u1", "i8")])
def test_result_dtype_same_as_result_type_rule(a, b):
    x, k = np.zeros(2, dtype=a), np.zeros(2, dtype=b)
    dt = np.result_type(x, k)
    if dt.kind in "biu":
        expected = "f8"
    elif dt.kind == "f":
        expected = "f4" if dt.itemsize <= 4 else "f8"
    else:
        expected = "c8" if dt.itemsize <= 8 else "c16"
    assert _validation.result_dtype(x, k) == np.dtype(expected)
    assert _validation.result_dtype(x, k).isnative


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("cval", [0, 2, 1.25, -3.5])
def test_cval_fast_path(dtype, cval):
    got = _validation.normalize_cval(cval, np.dtype(dtype))
    want = dtype(complex(cval)) if np.dtype(dtype).kind == "c" else dtype(float(cval))
    assert type(got) is np.dtype(dtype).type and got == want

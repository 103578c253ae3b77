"""Bad input: a ValueError or TypeError naming the argument; nothing crashes."""
import numpy as np
import pytest

import ndconv

X = np.ones((5, 5))
K = np.ones((3, 3))


@pytest.mark.parametrize("fn", [ndconv.convolve, ndconv.correlate])
@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((X, K, "bogus"), {}, ValueError, "mode must be one of 'full', 'same', 'valid'"),
    ((X, K, None), {}, ValueError, "mode must be one of"),
    ((X, K), {"boundary": "mirror"}, ValueError, "boundary must be one of 'constant', 'edge'"),
    ((X, K), {"method": "fast"}, ValueError, "method must be one of 'auto', 'direct', 'fft'"),
    ((X, np.ones(3)), {}, ValueError, r"k.ndim \(1\) must equal x.ndim \(2\)"),
    ((X, np.ones((3, 3, 3))), {}, ValueError, "k.ndim"),
    ((X, np.ones(3)), {"axes": (0, 1)}, ValueError, r"k.ndim \(1\) must equal len\(axes\) \(2\)"),
    # more kernel axes than convolved ones: a batch, which must broadcast
    ((X, K), {"axes": (0,)}, ValueError, r"k's batch shape \(3,\) does not broadcast"),
    ((X, K), {"axes": (0, 0)}, ValueError, "axes must not repeat"),
    ((X, K), {"axes": (0, 2)}, ValueError, "axes entry 2 is out of range"),
    ((X, K), {"axes": "ab"}, TypeError, "axes must be an int or a sequence"),
    ((np.ones(()), np.ones(())), {}, ValueError, "x must have at least one dimension"),
    ((np.ones(3), np.ones(())), {}, ValueError, "k must have at least one dimension"),
    ((np.ones((0, 3)), K), {}, ValueError, "x is empty"),
    ((X, np.ones((0, 3))), {}, ValueError, "k is empty"),
    ((np.array(["a", "b"]), np.ones(1)), {}, TypeError, "x has dtype <U1"),
    ((np.ones(3), np.array([object()])), {}, TypeError, "k has dtype object"),
    ((np.array(["2020-01-01"], dtype="datetime64[D]"), np.ones(1)), {}, TypeError, "x has dtype datetime64"),
    ((X, K, "same"), {"origin": 2}, ValueError, "origin 2 is out of range .* size 3"),
    ((X, K, "same"), {"origin": -2}, ValueError, "origin -2 is out of range"),
    ((X, K, "same"), {"origin": (0, 0, 0)}, ValueError, "origin must have one entry per convolved axis"),
    ((X, K, "full"), {"origin": 1}, ValueError, "origin applies to mode='same' only"),
    ((X, K, "same"), {"origin": 0.5}, TypeError, "origin must be an int"),
    ((X, K), {"workers": 0}, ValueError, "workers must be None, -1 or a positive int"),
    ((X, K), {"workers": -2}, ValueError, "workers must be None, -1 or a positive int"),
    ((X, K), {"workers": 1.5}, ValueError, "workers must be"),
    ((X, K), {"workers": True}, ValueError, "workers must be"),
    ((X, K), {"cval": "a"}, TypeError, "cval must be a number"),
    ((X, K), {"cval": 1j}, ValueError, "cval .* is complex but the inputs are real"),
    ((X, K), {"out": np.empty((5, 5))}, ValueError,
     r"out has shape \(5, 5\) but the result has shape \(7, 7\)"),
    ((X, K), {"out": np.empty((7, 7), np.float32)}, ValueError,
     "out has dtype float32 but the result has dtype float64"),
    ((X, K), {"out": [0.0]}, TypeError, "out must be a numpy.ndarray"),
    ((np.ones((5, 2)), np.ones((3, 3)), "valid"), {}, ValueError, "mode='valid' needs x at least as large"),
    (([[1, 2], [3]], K), {}, TypeError, "x could not be converted"),
])
def test_bad_input(fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_readonly_out():
    out = np.empty((7, 7))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        ndconv.convolve(X, K, out=out)


def test_fft_refuses_exact_integer():
    from ndconv._api import correlate_nd
    with pytest.raises(ValueError, match="method='fft' is not available for exact integer"):
        correlate_nd(np.ones(4, np.int64), np.ones(2, np.int64), "full", "constant", 0, 0, None, "fft",
                     1, None, compute_dtype=np.int64)


def test_core_entry_point_rejects_out_of_range_maps():
    """The compiled entry point re-checks everything that would make it read past x."""
    from ndconv._core import core
    x = np.zeros(4)
    w = np.ones(2)
    oshape, kshape = np.array([3]), np.array([2])
    bounds = np.array([0, 3])
    good = np.array([[0, 4, 0, 1, 0]])   # interior positions 0..3, offsets 0..3
    out = np.zeros(3)
    tables = core().Tables(oshape, kshape, good, np.zeros(0, np.intp), bounds, 3, 0, 3, True)
    core().correlate_nd(tables, x, out, w, 0.0, True, 1)
    np.testing.assert_array_equal(out, 0)

    def call(params, bands=(), out=None, b=bounds, c=(0, 0), unit=False):
        out = np.zeros(3) if out is None else out
        tables = core().Tables(oshape, kshape, np.asarray(params), np.asarray(bands, np.intp), b, 3,
                               c[0], c[1], unit)
        core().correlate_nd(tables, x, out, w, 0.0, True, 1)

    with pytest.raises(ValueError, match="past the end"):
        call([[0, 4, 1, 1, 0]])            # interior reaches offset 4
    with pytest.raises(ValueError, match="out of range"):
        call([[0, 4, -1, 1, 0]])           # negative interior offset
    with pytest.raises(ValueError, match="out of range"):
        call([[1, 4, 0, 1, 0]], [7])       # band entry past x
    with pytest.raises(ValueError, match="out of range"):
        call([[1, 4, 0, 1, 0]], [])        # band shorter than the border
    with pytest.raises(ValueError, match="size mismatch"):
        call(good, out=np.zeros(2))
    with pytest.raises(ValueError, match="chunk"):
        call(good, b=np.array([0, 2]))
    with pytest.raises(ValueError, match="interior columns"):
        # in-place reads claimed for columns that reach the border band
        call([[1, 4, 0, 1, 0]], [0], c=(0, 3), unit=True)
    with pytest.raises(ValueError, match="interior columns"):
        call(good, c=(2, 1))


def _self_aliasing(shape, dtype=np.float64):
    """A writeable array whose rows are all the same memory (zero row stride)."""
    row = np.zeros(shape[-1], dtype=dtype)
    return np.lib.stride_tricks.as_strided(row, shape, (0,) * (len(shape) - 1) + (row.itemsize,),
                                           writeable=True)


def test_out_whose_elements_share_memory_is_rejected():
    out = _self_aliasing((5, 5))
    with pytest.raises(ValueError, match="out has elements that share memory"):
        ndconv.convolve(X, K, "same", out=out)
    # overlapping (not zero) strides as well
    base = np.zeros(40)
    out = np.lib.stride_tricks.as_strided(base, (5, 5), (16, 8), writeable=True)
    with pytest.raises(ValueError, match="out has elements that share memory"):
        ndconv.correlate(X, K, "same", out=out)
    assert not base.any()  # nothing was written
    x = np.ones((1, 4, 4, 2))
    w = np.ones((3, 3, 2, 3))
    with pytest.raises(ValueError, match="out has elements that share memory"):
        ndconv.conv(x, w, padding=1, out=_self_aliasing((1, 4, 4, 3)))


def test_out_with_its_own_memory_per_element_is_accepted():
    """Negative, sliced and transposed outputs are fine; so is a 1-element one."""
    ref = ndconv.convolve(X, K, "same")
    for out in (np.zeros((5, 5))[::-1], np.zeros((10, 5))[::2], np.zeros((5, 5)).T,
                np.zeros((5, 10))[:, ::2]):
        np.testing.assert_array_equal(ndconv.convolve(X, K, "same", out=out), ref)
    one = np.lib.stride_tricks.as_strided(np.zeros(1), (1, 1), (0, 0), writeable=True)
    assert ndconv.convolve(np.ones((1, 1)), np.ones((1, 1)), out=one)[0, 0] == 1


@pytest.mark.parametrize("fn", [
    lambda **kw: ndconv.convolve(X, K, "same", **kw),
    lambda **kw: ndconv.conv(np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 2)), padding=1, **kw),
])
def test_cval_beyond_the_float_range_and_strings(fn):
    with pytest.raises(ValueError, match="cval .* too large"):
        fn(cval=10**400)
    with pytest.raises(TypeError, match="cval must be a number, got '1'"):
        fn(cval="1")
    with pytest.raises(TypeError, match="cval must be a number"):
        fn(cval=b"1")


def test_integer_cval_beyond_int64_wraps_as_before():
    """Exact integer computation keeps wrapping a big integer cval modulo 2**64
    (only the float range is an error)."""
    from ndconv._plan.validation import normalize_cval

    assert normalize_cval(2**64 + 5, np.dtype(np.int64)) == 5
    assert normalize_cval(10**400, np.dtype(np.int64)) == 10**400 % 2**64 - 2**64 * (
        10**400 % 2**64 >= 2**63)


@pytest.mark.parametrize("axes", [(True,), (0, False), np.bool_(True), [np.True_]])
def test_bool_axes_are_rejected(axes):
    with pytest.raises(TypeError, match="axes must be an int or a sequence of ints"):
        ndconv.convolve(X, np.ones(3), axes=axes)


def test_forced_fft_on_nonfinite_input_warns_as_scipy_signal():
    x = X.copy()
    x[2, 2] = np.nan
    for fn in (ndconv.convolve, ndconv.correlate):
        with pytest.warns(RuntimeWarning, match="NAN or inf") as rec:
            fn(x, K, method="fft")
        assert rec[0].filename == __file__   # points at the caller
        with pytest.warns(RuntimeWarning, match="NAN or inf"), np.errstate(invalid="ignore"):
            fn(X, np.array([[1.0, np.inf]]), method="fft")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ndconv.convolve(X, K, method="fft")          # finite: silent
        ndconv.convolve(x, K, method="direct")       # direct: silent
        ndconv.convolve(x, K)                        # auto never picks FFT here


@pytest.mark.skipif(int(np.__version__.split(".")[0]) < 2,
                    reason="numpy 1.x arrays have at most 32 dimensions")
def test_fft_beyond_63_dimensions_gets_ndconv_message():
    x = np.ones((1,) * 63 + (4,))
    k = np.ones((1,) * 63 + (2,))
    with pytest.raises(ValueError, match="method='fft' handles at most 63 dimensions, x has 64"):
        ndconv.convolve(x, k, method="fft")
    # auto takes the direct path there
    np.testing.assert_array_equal(ndconv.convolve(x, k).reshape(-1), [1, 2, 2, 2, 1])

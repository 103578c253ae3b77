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
    ((X, K), {"axes": (0,)}, ValueError, r"k.ndim \(2\) must equal len\(axes\) \(1\)"),
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

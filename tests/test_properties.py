"""Property tests from the chapter: translation equivariance, locality, commutativity,
linearity, and the delta kernel as identity."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ndconv

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)


def shapes(ndim_max=3, side_max=9):
    return st.integers(1, ndim_max).flatmap(
        lambda d: st.tuples(*[st.integers(1, side_max)] * d))


@st.composite
def pair(draw, same_ndim=True):
    xs = draw(shapes())
    ks = tuple(draw(st.integers(1, 5)) for _ in xs)
    x = draw(arrays(np.float64, xs, elements=finite))
    k = draw(arrays(np.float64, ks, elements=finite))
    return x, k


def tol(x, k):
    # float64 sums of k.size products; bound by the accumulation error of the larger side
    return 8 * k.size * np.finfo(float).eps * (np.abs(x).max() * np.abs(k).sum() + 1e-300)


@settings(max_examples=60, deadline=None)
@given(pair(), st.data())
def test_translation_equivariance(xk, data):
    """Shifting X shifts H (exactly, with the periodic boundary)."""
    x, k = xk
    shift = tuple(data.draw(st.integers(-n, n)) for n in x.shape)
    axes = tuple(range(x.ndim))
    h = ndconv.correlate(x, k, "same", boundary="wrap", method="direct")
    h_shifted = ndconv.correlate(np.roll(x, shift, axes), k, "same", boundary="wrap", method="direct")
    np.testing.assert_allclose(h_shifted, np.roll(h, shift, axes), rtol=0, atol=tol(x, k))


@settings(max_examples=60, deadline=None)
@given(pair(), st.data())
def test_locality(xk, data):
    """Changing X outside the kernel window of output i leaves H[i] unchanged (bitwise)."""
    x, k = xk
    i = tuple(data.draw(st.integers(0, n - 1)) for n in x.shape)
    h = ndconv.correlate(x, k, "same", method="direct")
    window = tuple(slice(max(0, ii - kk // 2), ii - kk // 2 + kk) for ii, kk in zip(i, k.shape))
    mask = np.ones(x.shape, bool)
    mask[window] = False
    x2 = np.where(mask, x + 1000.0, x)
    h2 = ndconv.correlate(x2, k, "same", method="direct")
    assert h2[i] == h[i]


@settings(max_examples=60, deadline=None)
@given(pair())
def test_commutativity_full_zero(xk):
    x, k = xk
    a = ndconv.convolve(x, k, "full", method="direct")
    b = ndconv.convolve(k, x, "full", method="direct")
    scale = (8 * max(x.size, k.size) * np.finfo(float).eps * np.abs(x).max() * np.abs(k).max()
             * min(x.size, k.size))
    np.testing.assert_allclose(a, b, rtol=0, atol=scale + 1e-300)


@settings(max_examples=60, deadline=None)
@given(pair(), st.floats(-3, 3), st.floats(-3, 3),
       st.sampled_from(["constant", "edge", "symmetric", "reflect", "wrap"]))
def test_linearity(xk, a, b, boundary):
    x, k = xk
    y = np.cos(x) * 10
    lhs = ndconv.correlate(a * x + b * y, k, "same", boundary=boundary, method="direct")
    rhs = a * ndconv.correlate(x, k, "same", boundary=boundary, method="direct") + \
        b * ndconv.correlate(y, k, "same", boundary=boundary, method="direct")
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=4 * tol(np.abs(x) * 3 + 30, k))


@settings(max_examples=60, deadline=None)
@given(pair(), st.sampled_from(["constant", "edge", "symmetric", "reflect", "wrap"]))
def test_delta_kernel_is_identity(xk, boundary):
    x, k = xk
    delta = np.zeros(tuple(2 * (s // 2) + 1 for s in k.shape))
    delta[tuple(s // 2 for s in delta.shape)] = 1.0
    for method in ("direct",):
        np.testing.assert_array_equal(ndconv.convolve(x, delta, "same", boundary=boundary, method=method), x)
        np.testing.assert_array_equal(ndconv.correlate(x, delta, "same", boundary=boundary, method=method), x)

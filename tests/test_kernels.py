"""ndconv.kernels: each builder reproduces scipy.ndimage's filter of the same name
through ndconv.correlate, and rejects bad arguments by name."""
import numpy as np
import pytest

import ndconv
from ndconv import kernels

ndi = pytest.importorskip("scipy.ndimage")


def _bound(x, k):
    """Two sums of the same products in different orders (ndconv's taps, scipy's
    separable passes) differ by at most twice the accuracy contract of either:
    ``4 * taps * eps * max(|k| (*) |x|)`` each."""
    taps = k.size
    scale = ndconv.correlate(np.abs(x), np.abs(k), "same", boundary="symmetric").max()
    return 8 * taps * np.finfo(np.float64).eps * scale


def _same(x, k):
    return ndconv.correlate(x, k, "same", boundary="symmetric")


@pytest.fixture
def image(rng):
    return rng.standard_normal((41, 38))


@pytest.mark.parametrize("sigma, order", [(2.0, 0), (0.7, 0), ((1.5, 2.5), (1, 2)),
                                          ((1.0, 3.0), (0, 1)), (1.2, 3)])
def test_gaussian_is_gaussian_filter(image, sigma, order):
    k = kernels.gaussian(sigma, ndim=2, order=order)
    want = ndi.gaussian_filter(image, sigma, order=order, mode="reflect")
    np.testing.assert_allclose(_same(image, k), want, rtol=0, atol=_bound(image, k))


@pytest.mark.parametrize("kw", [{"truncate": 2.0}, {"radius": 3}, {"radius": (1, 4)}])
def test_gaussian_extent(image, kw):
    k = kernels.gaussian(1.5, ndim=2, **kw)
    want = ndi.gaussian_filter(image, 1.5, mode="reflect", **kw)
    np.testing.assert_allclose(_same(image, k), want, rtol=0, atol=_bound(image, k))


def test_gaussian_shapes_and_sums():
    assert kernels.gaussian(2.0).shape == (17,)
    assert kernels.gaussian((1.0, 2.0, 0.5)).shape == (9, 17, 5)
    assert kernels.gaussian(1.0, order=(0, 1)).shape == (9, 9)
    assert kernels.gaussian(2.0, ndim=3).sum() == pytest.approx(1.0, abs=1e-14)
    # an odd derivative is antisymmetric and sums to 0
    d = kernels.gaussian(2.0, order=1)
    np.testing.assert_allclose(d, -d[::-1], rtol=0, atol=1e-17)
    # correlating a ramp with the first-derivative kernel gives its slope (x 3)
    ramp = 3.0 * np.arange(60.0)
    np.testing.assert_allclose(ndconv.correlate(ramp, d, "valid"), 3.0, rtol=1e-3)


def test_gaussian_1d_is_gaussian_filter1d(rng):
    x = rng.standard_normal(300)
    for order in range(4):
        k = kernels.gaussian(3.0, order=order)
        want = ndi.gaussian_filter1d(x, 3.0, order=order, mode="reflect")
        np.testing.assert_allclose(_same(x, k), want, rtol=0, atol=_bound(x, k))


@pytest.mark.parametrize("size", [1, 3, 4, (2, 5), (6, 3)])
def test_uniform_is_uniform_filter(image, size):
    k = kernels.uniform(size, ndim=None if isinstance(size, tuple) else 2)
    want = ndi.uniform_filter(image, size, mode="reflect")
    np.testing.assert_allclose(_same(image, k), want, rtol=0, atol=_bound(image, k))


@pytest.mark.parametrize("name", ["sobel", "prewitt"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_derivatives_are_the_filters(image, name, axis):
    k = getattr(kernels, name)(axis, 2)
    want = getattr(ndi, name)(image, axis, mode="reflect")
    np.testing.assert_allclose(_same(image, k), want, rtol=0, atol=_bound(image, k))


def test_derivatives_in_3d(rng):
    vol = rng.standard_normal((9, 10, 11))
    for axis in range(3):
        k = kernels.sobel(axis, 3)
        want = ndi.sobel(vol, axis, mode="reflect")
        np.testing.assert_allclose(_same(vol, k), want, rtol=0, atol=_bound(vol, k))


def test_scharr_by_its_definition():
    np.testing.assert_array_equal(kernels.scharr(1), np.outer([3, 10, 3], [-1, 0, 1]))
    np.testing.assert_array_equal(kernels.scharr(0), np.outer([-1, 0, 1], [3, 10, 3]))


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_laplace_is_laplace(rng, ndim):
    x = rng.standard_normal((12,) * ndim)
    k = kernels.laplace(ndim)
    np.testing.assert_allclose(_same(x, k), ndi.laplace(x, mode="reflect"), rtol=0,
                               atol=_bound(x, k))


@pytest.mark.parametrize("sigma", [1.0, (1.2, 2.0)])
def test_gaussian_laplace_is_gaussian_laplace(image, sigma):
    k = kernels.gaussian_laplace(sigma, 2)
    want = ndi.gaussian_laplace(image, sigma, mode="reflect")
    # scipy adds two filtered images; the kernel adds the two terms first
    np.testing.assert_allclose(_same(image, k), want, rtol=0, atol=2 * _bound(image, k))


@pytest.mark.parametrize("radius, ndim", [(0, 2), (1, 2), (2.5, 2), (3, 3), (4, 1)])
def test_disk_by_a_loop(radius, ndim):
    r = int(np.floor(radius))
    want = np.zeros((2 * r + 1,) * ndim)
    for idx in np.ndindex(want.shape):
        if sum((i - r) ** 2 for i in idx) <= radius ** 2:
            want[idx] = 1.0
    np.testing.assert_array_equal(kernels.disk(radius, ndim, normalize=False), want)
    assert kernels.disk(radius, ndim).sum() == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: kernels.gaussian(0.0), ValueError, "sigma"),
    (lambda: kernels.gaussian(float("nan")), ValueError, "sigma"),
    (lambda: kernels.gaussian("2"), TypeError, "sigma"),
    (lambda: kernels.gaussian(1.0, order=-1), ValueError, "order"),
    (lambda: kernels.gaussian(1.0, order=1.5), TypeError, "order"),
    (lambda: kernels.gaussian((1.0, 2.0), ndim=3), ValueError, "sigma"),
    (lambda: kernels.gaussian(1.0, truncate=0), ValueError, "truncate"),
    (lambda: kernels.gaussian(1.0, radius=-1), ValueError, "radius"),
    (lambda: kernels.gaussian(1e12), ValueError, "radius"),
    (lambda: kernels.uniform(0), ValueError, "size"),
    (lambda: kernels.uniform(3, ndim=0), ValueError, "ndim"),
    (lambda: kernels.uniform(3, ndim=True), ValueError, "ndim"),
    (lambda: kernels.sobel(2, 2), ValueError, "axis"),
    (lambda: kernels.sobel(1.0, 2), TypeError, "axis"),
    (lambda: kernels.laplace(0), ValueError, "ndim"),
    (lambda: kernels.disk(-1), ValueError, "radius"),
    (lambda: kernels.disk(1000, 4), ValueError, "too many"),
])
def test_bad_arguments_are_named(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_kernels_is_reachable_from_the_package():
    import subprocess
    import sys

    from conftest import subprocess_env

    out = subprocess.run([sys.executable, "-c", "import ndconv, sys; "
                          "print('ndconv.kernels' in sys.modules); print(ndconv.kernels.laplace(1))"],
                         capture_output=True, text=True, env=subprocess_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "False"        # not imported by ``import ndconv``
    assert "[ 1. -2.  1.]" in out.stdout


def _rebuild(terms, shape, dtype):
    out = np.zeros(shape, dtype=dtype)
    for factors in terms:
        term = np.ones((), dtype=dtype)
        for f in factors:
            assert f.ndim == 1
            term = np.multiply.outer(term, f)
        out = out + term
    return out


@pytest.mark.parametrize("shape", [(7,), (5, 6), (3, 4, 5), (2, 3, 2, 3)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int32])
def test_separate_reproduces_any_kernel(rng, shape, dtype):
    k = rng.standard_normal(shape) * 10
    if np.dtype(dtype).kind == "c":
        k = k + 1j * rng.standard_normal(shape)
    k = k.astype(dtype)
    k0 = k.copy()
    terms = ndconv.separate(k)
    out_dtype = np.float64 if np.dtype(dtype).kind == "i" else dtype
    assert all(f.dtype == out_dtype and len(t) == len(shape) for t in terms for f in t)
    eps = np.finfo(out_dtype).eps
    bound = 4 * max(1, len(terms)) * len(shape) * eps * np.abs(k).max()
    np.testing.assert_allclose(_rebuild(terms, shape, np.complex128 if np.dtype(dtype).kind == "c"
                                        else np.float64), k, rtol=0, atol=bound)
    np.testing.assert_array_equal(k, k0)


@pytest.mark.parametrize("k, n", [
    (kernels.gaussian((1.0, 2.0)), 1),
    (kernels.uniform((3, 5, 2)), 1),
    (kernels.sobel(0, 3), 1),
    (kernels.laplace(2), 2),
    (kernels.gaussian(1.0, ndim=2) - kernels.gaussian(2.0, ndim=2, radius=4), 2),
    (np.zeros((3, 3)), 0),
])
def test_separate_finds_the_rank(k, n):
    assert len(ndconv.separate(k)) == n


def test_separate_with_rtol_drops_small_terms(rng):
    main = np.outer(rng.standard_normal(9), rng.standard_normal(9))
    noise = 1e-6 * rng.standard_normal((9, 9))
    k = main + noise
    assert len(ndconv.separate(k)) == 9
    terms = ndconv.separate(k, rtol=1e-3)
    assert len(terms) == 1
    # dropped part below rtol of the norm
    err = np.linalg.norm(_rebuild(terms, k.shape, np.float64) - k)
    assert err <= 1e-3 * np.linalg.norm(k)


@pytest.mark.parametrize("arg, kw, exc, match", [
    (np.ones(()), {}, ValueError, "dimension"),
    (np.ones((0, 3)), {}, ValueError, "dimension"),
    (np.array([1.0, np.nan]), {}, ValueError, "NaN"),
    (np.array(["a"]), {}, TypeError, "numeric"),
    (np.ones(3), {"rtol": -0.1}, ValueError, "rtol"),
    (np.ones(3), {"rtol": 1.0}, ValueError, "rtol"),
])
def test_separate_rejects_bad_input(arg, kw, exc, match):
    with pytest.raises(exc, match=match):
        ndconv.separate(arg, **kw)

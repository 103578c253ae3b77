"""Separable kernels: detection and the 1-D pass path against the oracle."""
import numpy as np
import pytest
from conftest import assert_contract, oracle, random_array

import ndconv
from ndconv._plan import method as _method
from ndconv._plan import separable as _separable

BOUNDARIES = ["constant", "edge", "symmetric", "reflect", "wrap"]


def _outer(*vs):
    k = np.ones(())
    for v in vs:
        k = np.multiply.outer(k, v)
    return k


def test_factorize_detects_rank_one_only(rng):
    u, v, z = rng.standard_normal(5), rng.standard_normal(7), rng.standard_normal(3)
    k = _outer(u, v, z)
    f = _separable.factorize(k, [0, 1, 2])
    assert f is not None
    np.testing.assert_allclose(_outer(f[0], f[1], f[2]), k, rtol=1e-14)
    k2 = k + 1e-6 * rng.standard_normal(k.shape)          # rank > 1
    assert _separable.factorize(k2, [0, 1, 2]) is None
    assert _separable.factorize(np.zeros((3, 3)), [0, 1]) is None
    assert _separable.factorize(rng.standard_normal((4, 4)), [0, 1]) is None


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_separable_path_matches_oracle(rng, boundary, mode, dtype):
    from ndconv._api import geometry
    x = random_array(rng, (40, 37), dtype)
    u = random_array(rng, (9,), dtype)
    v = random_array(rng, (6,), dtype)
    k = np.multiply.outer(u, v).astype(dtype)
    cval = 0.75 if boundary == "constant" else 0.0
    for op in ("correlate", "convolve"):
        # the kernel the core correlates with: flipped for convolve, conjugated for correlate
        w = k[::-1, ::-1] if op == "convolve" else np.conj(k)
        factors = _separable.factorize(np.ascontiguousarray(w), [0, 1])
        assert factors is not None
        ref, absconv = oracle(x, k, mode, boundary, cval, op=op)
        starts, out_shape = geometry(x.shape, w.shape, mode, (0, 0))
        for workers in (1, 2):
            out = np.empty(ref.shape, dtype)
            _separable.correlate_separable(x, factors, starts, out_shape, boundary,
                                           x.dtype.type(cval), workers, out)
            assert_contract(out, ref, absconv, k.size, dtype)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_separable_3d_and_axes(rng, boundary):
    x = rng.standard_normal((14, 15, 16))
    k = _outer(rng.standard_normal(5), rng.standard_normal(4), rng.standard_normal(6))
    ref, absconv = oracle(x, k, "same", boundary, 1.5)
    factors = _separable.factorize(k, [0, 1, 2])
    out = np.empty(x.shape)
    starts = [-(s // 2) for s in k.shape]
    _separable.correlate_separable(x, factors, starts, x.shape, boundary, 1.5, 2, out)
    assert_contract(out, ref, absconv, k.size, "float64")
    # stack of images, kernel on axes (1, 2): the auto path
    k2 = np.outer(rng.standard_normal(7), rng.standard_normal(7))
    ref, absconv = oracle(x, k2, "same", boundary, 0.0, axes=(1, 2))
    res = ndconv.correlate(x, k2, "same", boundary=boundary, axes=(1, 2))
    assert_contract(res, ref, absconv, k2.size, "float64", "fft", 4096)


def test_gaussian_uses_separable():
    g = np.exp(-np.arange(-7, 8) ** 2 / 10.0)
    k = np.outer(g, g).astype(np.float32)
    x = np.zeros((512, 512), np.float32)
    assert _method.choose(x, k, x.shape, 1)[0] == "separable"
    x[256, 256] = 1
    res = ndconv.convolve(x, k, "same", boundary="reflect")
    np.testing.assert_allclose(res[249:264, 249:264], k, rtol=4 * 30 * 1.2e-7)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_separable_strips(rng, boundary, mode, tuned):
    """Output made in strips along the outermost convolved axis (a tiny strip
    budget forces several strips, a last short one, and strips of the minimum
    height): the same correlation as the oracle, for C and Fortran order, 2-D
    and 3-D, cval carried through the inner passes, 1 and 2 threads."""
    tuned(strip_bytes=64)
    cval = -1.25 if boundary == "constant" else 0.0
    cases = [
        (random_array(rng, (61, 23), "float64"), _outer(rng.standard_normal(4), rng.standard_normal(5))),
        (np.asfortranarray(random_array(rng, (29, 58), "float32")),
         _outer(rng.standard_normal(3), rng.standard_normal(6)).astype(np.float32)),
        (random_array(rng, (45, 9, 11), "float64"),
         _outer(rng.standard_normal(3), rng.standard_normal(2), rng.standard_normal(4))),
    ]
    for x, k in cases:
        axes = list(range(x.ndim))
        factors = _separable.factorize(k, axes)
        assert factors is not None
        ref, absconv = oracle(x, k, mode, boundary, cval)
        from ndconv._api import geometry
        starts, out_shape = geometry(x.shape, k.shape, mode, (0,) * x.ndim)
        for workers in (1, 2):
            out = np.full(ref.shape, np.nan, x.dtype)
            _separable.correlate_separable(x, factors, starts, out_shape, boundary,
                                           x.dtype.type(cval), workers, out)
            assert_contract(out, ref, absconv, k.size, x.dtype)

"""Separable kernels: detection and the 1-D pass path against the oracle."""
import numpy as np
import pytest
from conftest import assert_contract, oracle, random_array

import ndconv
from ndconv._api import geometry
from ndconv._plan import method as _method
from ndconv._plan import separable as _separable
from ndconv._plan import tuning

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
    tuned(strip_bytes=64, sep_fused=False)
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
        starts, out_shape = geometry(x.shape, k.shape, mode, (0,) * x.ndim)
        for workers in (1, 2):
            out = np.full(ref.shape, np.nan, x.dtype)
            _separable.correlate_separable(x, factors, starts, out_shape, boundary,
                                           x.dtype.type(cval), workers, out)
            assert_contract(out, ref, absconv, k.size, x.dtype)


def _dog(dtype, s1=2.0, s2=4.0, radius=15, ndim=2):
    from ndconv import kernels
    return (kernels.gaussian(s1, ndim=ndim, radius=radius)
            - kernels.gaussian(s2, ndim=ndim, radius=radius)).astype(dtype)


def test_lowrank_detects_few_terms_only(rng):
    k = _dog(np.float32)
    terms = _separable.lowrank(k, [0, 1], 8)
    assert terms is not None and len(terms) == 2
    assert _separable.lowrank(k, [0, 1], 1) is None                 # two terms needed
    assert _separable.lowrank(rng.standard_normal((9, 9)), [0, 1], 8) is None   # full rank
    # rank 2, no tap near zero (where the decomposition's absolute error would
    # exceed the direct contract's per-tap bound, which the check refuses)
    u, v = rng.uniform(0.5, 1.5, (2, 7)), rng.uniform(0.5, 1.5, (2, 5))
    k3 = np.outer(u[0], v[0]) + np.outer(u[1], v[1]) + np.outer(u[0], v[1])
    terms = _separable.lowrank(k3, [0, 1], 8)
    assert terms is not None and len(terms) == 2
    np.testing.assert_allclose(sum(np.outer(t[0], t[1]) for t in terms), k3, rtol=0,
                               atol=1e-14 * np.abs(k3).max())
    # kernels wide enough for the random sketch that turns full rank away early
    assert _separable.lowrank(rng.standard_normal((31, 40)), [0, 1], 8) is None
    u3, v3 = rng.uniform(0.5, 1.5, (3, 31)), rng.uniform(0.5, 1.5, (3, 40))
    k5 = sum(np.outer(a, b) for a, b in zip(u3, v3))
    terms = _separable.lowrank(k5, [0, 1], 8)
    assert terms is not None and len(terms) == 3
    assert _separable.lowrank(k5, [0, 1], 2) is None
    # still rank 2, but a row of taps 1e-9 of the others: the terms reproduce
    # them to the rounding of the largest, not of their own
    u[0, 0], u[1, 0] = 1e-9, 0.0
    k4 = np.outer(u[0], v[0]) + np.outer(u[1], v[1])
    assert np.linalg.matrix_rank(k4) == 2
    assert _separable.lowrank(k4, [0, 1], 8) is None


@pytest.mark.parametrize("boundary", BOUNDARIES + [("wrap", "symmetric")])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_lowrank_path_matches_oracle_bitwise_across_threads(rng, boundary, mode, tuned):
    """Two separable terms summed: within the direct contract of the oracle,
    and the same bits for every thread count (strips forced small, too)."""
    from ndconv._api import geometry
    tuned(load_aware=False)
    x = random_array(rng, (70, 53), "float32")
    k = _dog(np.float32, 2.0, 4.0, radius=8)
    cval = 0.5 if boundary == "constant" else 0.0
    terms = _separable.lowrank(k, [0, 1], 8)
    assert terms is not None
    ref, absconv = oracle(x, k, mode, boundary if isinstance(boundary, str) else "wrap", cval)
    if not isinstance(boundary, str):
        from test_edges import reference
        ref = reference(x, k, mode, list(boundary), [cval] * 2, None)
    starts, out_shape = geometry(x.shape, k.shape, mode, (0, 0))
    results = []
    for strip_bytes, workers in [(None, 1), (None, 2), (None, 3), (256, 2)]:
        if strip_bytes:
            tuned(strip_bytes=strip_bytes)
        out = np.empty(out_shape, np.float32)
        _separable.correlate_lowrank(x, terms, starts, out_shape, boundary, np.float32(cval),
                                     workers, out)
        assert_contract(out, ref, absconv, k.size, "float32")
        results.append(out)
    for r in results[1:3]:
        assert np.array_equal(r.view(np.uint32), results[0].view(np.uint32))


def test_lowrank_kernel_with_nan_or_inf_stays_direct(rng):
    """A NaN or inf tap is no decomposition's business: auto sums it directly,
    as the oracle does (NaN where the tap reads, finite elsewhere)."""
    x = random_array(rng, (300, 300), "float32")
    for bad in (np.nan, np.inf):
        k = _dog(np.float32)
        k[3, 4] = bad
        assert _separable.lowrank(k, [0, 1], 8) is None
        res = ndconv.correlate(x, k, "valid", method="auto")
        assert not np.isfinite(res).all()


def test_auto_runs_a_difference_of_gaussians_as_two_passes(rng):
    x = random_array(rng, (512, 512), "float32")
    k = _dog(np.float32)
    method, terms = _method.choose(x, k, x.shape, 1)
    if method != "lowrank":
        pytest.skip("this build's cost model prefers %s here" % method)
    assert len(terms) == 2
    ref, absconv = oracle(x, k, "same", "symmetric")
    res = ndconv.correlate(x, k, "same", boundary="symmetric", workers=1)
    assert_contract(res, ref, absconv, k.size, "float32")
    res2 = ndconv.correlate(x, k, "same", boundary="symmetric", workers=2)
    assert np.array_equal(res.view(np.uint32), res2.view(np.uint32))


def _sep_run(x, factors, starts, out_shape, boundary, cval, workers):
    out = np.full(out_shape, np.nan, x.dtype)
    _separable.correlate_separable(x, factors, starts, out_shape, boundary, x.dtype.type(cval),
                                   workers, out)
    return out


def _fused_calls(monkeypatch):
    """Count the planner's fused calls that ran (``_fused`` returned True)."""
    calls = []
    orig = _separable._fused

    def counting(*args):
        done = orig(*args)
        calls.append(done)
        return done

    monkeypatch.setattr(_separable, "_fused", counting)
    return calls


@pytest.mark.skipif(ndconv._core.core().sep_chunk(3, 4) == 0,
                    reason="this build has no fused separable passes")
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_passes(rng, boundary, dtype, tuned, monkeypatch):
    """The fused passes (one sweep, an L1 ring of filtered rows) against the
    oracle, and bit for bit the same whatever the work items' rows and
    columns (one row, a column of a few samples, items wider than the
    output), the threads, the memory order and the strides of the input; the
    same bits as the two separate passes where no row of cval is filtered
    (those pass cval times the factors' sum on instead of filtering it)."""
    calls = _fused_calls(monkeypatch)
    cval = -1.25 if boundary == "constant" else 0.0
    base = random_array(rng, (70, 131), dtype)
    # rows wider than the AVX-512 horizontal pass's blocks (192 float32 outputs), which shift
    # lanes for half the taps, with kernels longer than a vector
    wide = random_array(rng, (19, 437), dtype)
    inputs = [base, np.asfortranarray(base), base[::-1, ::2], base[3:50, 7:9], wide]
    for x in inputs:
        for kv, kh, mode in ((15, 15, "same"), (3, 8, "full"), (7, 2, "valid"), (2, 1, "same"),
                             (3, 33, "same"), (2, 17, "valid")):
            if mode == "valid" and (x.shape[0] < kv or x.shape[1] < kh):
                continue
            factors = {0: random_array(rng, (kv,), dtype), 1: random_array(rng, (kh,), dtype)}
            w = np.outer(factors[0], factors[1])
            ref, absconv = oracle(x, w, mode, boundary, cval)
            starts, out_shape = geometry(x.shape, w.shape, mode, (0, 0))
            first = _sep_run(x, factors, starts, out_shape, boundary, cval, 1)
            assert calls.pop()
            assert_contract(first, ref, absconv, kv + kh, dtype)
            for rows, cols, workers in ((1, 1, 2), (3, 5, 1), (17, 16, 2), (10 ** 6, 10 ** 6, 2)):
                with tuning.override(sep_tile_rows=rows, sep_chunk=cols):
                    again = _sep_run(x, factors, starts, out_shape, boundary, cval, workers)
                np.testing.assert_array_equal(again, first)
            if boundary != "constant":
                with tuning.override(sep_fused=False):
                    two = _sep_run(x, factors, starts, out_shape, boundary, cval, 2)
                np.testing.assert_array_equal(two, first)


@pytest.mark.skipif(ndconv._core.core().sep_chunk(3, 4) == 0,
                    reason="this build has no fused separable passes")
def test_fused_passes_planes(rng, monkeypatch):
    """A stack of images filtered over its last two axes runs the fused
    passes plane by plane (the channels-last layout keeps the two passes)."""
    calls = _fused_calls(monkeypatch)
    x = rng.standard_normal((3, 130, 140))
    k = np.outer(rng.standard_normal(9), rng.standard_normal(9))
    ref, absconv = oracle(x, k, "same", "reflect", 0.0, axes=(1, 2))
    factors = _separable.factorize(k[None], [1, 2])
    out = _sep_run(x, factors, (0, -4, -4), x.shape, "reflect", 0.0, 2)
    assert calls == [True]
    assert_contract(out, ref, absconv, 18, "float64")
    xl = np.ascontiguousarray(np.moveaxis(x, 0, 2))
    outl = _sep_run(xl, {0: factors[1], 1: factors[2]}, (-4, -4, 0), xl.shape, "reflect", 0.0, 2)
    assert calls == [True, False]
    assert_contract(np.moveaxis(outl, 2, 0), ref, absconv, 18, "float64")


@pytest.mark.skipif(ndconv._core.core().sep_chunk(3, 4) == 0,
                    reason="this build has no fused separable passes")
def test_fused_core_checks_its_tables():
    """The core entry point refuses tables that would read outside x."""
    mod = ndconv._core.core()
    x = np.zeros(100)
    out = np.zeros((8, 8))
    w = np.ones(3)
    good_rows = np.arange(10, dtype=np.intp) * 10
    good_cols = np.arange(10, dtype=np.intp)
    mod.correlate_sep2d(x, out, w, w, good_rows, good_cols, 0, 10, 0.0, 4, 8, 1)
    for rows, cols, lo, hi in ((good_rows + 1, good_cols, 0, 10),      # last row past the end
                               (good_rows, good_cols + 91, 0, 0),      # column past the end
                               (good_rows[:-1], good_cols, 0, 10),     # too few rows
                               (good_rows, good_cols, 0, 11),          # range past the table
                               (good_rows, good_cols[::-1].copy(), 0, 10)):   # not linear
        with pytest.raises(ValueError):
            mod.correlate_sep2d(x, out, w, w, rows, cols, lo, hi, 0.0, 4, 8, 1)

"""ndconv.dask with missing samples (nan_policy, mask, min_weight, preserve_nan,
boundary "missing", also per axis): the in-memory result, bit for bit with
method="direct", within the FFT's accuracy with method="fft".

The reference is ``ndconv.convolve``/``correlate`` on the whole numpy array,
itself checked against numpy.pad and a NaN-aware direct sum by
``test_missing.py``.  Chunk grids: uneven, all of one sample, shorter than
the kernel's reach, one chunk.
"""
import warnings

import numpy as np
import pytest

import ndconv

da = pytest.importorskip("dask.array")
ndask = pytest.importorskip("ndconv.dask")

SHAPE = (31, 23)
# uneven; shorter than the kernel's reach (5); one sample; one chunk
CHUNKS = [((10, 3, 14, 4), (23,)), (4, 3), ((1,) * 31, (2,) * 11 + (1,)), SHAPE]
CASES = [
    {"nan_policy": "omit"},
    {"nan_policy": "omit", "boundary": "missing", "min_weight": 0.3, "preserve_nan": True},
    {"nan_policy": "omit", "boundary": ["missing", "wrap"], "cval": [4.0, 0.0]},
    {"nan_policy": "omit", "boundary": {1: "missing"}, "cval": 2.5, "min_weight": 0.5},
    {"nan_policy": "omit", "boundary": "constant", "cval": [np.nan, 1.0]},
    {"mask": "numpy", "boundary": ["reflect", "missing"]},
    {"mask": "dask", "boundary": "edge", "preserve_nan": True},
    {"mask": "row", "nan_policy": "omit", "boundary": "symmetric"},
]


def same_bits(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(np.uint8),
                                                                        b.view(np.uint8))


def _inputs(rng, kw, dtype="float64"):
    """``x`` with NaN holes and the keywords of ``kw``, a mask made as it says."""
    x = rng.standard_normal(SHAPE) + 1.0
    x[rng.random(SHAPE) < 0.25] = np.nan
    kw = dict(kw)
    if "mask" in kw:
        shape = (1, SHAPE[1]) if kw["mask"] == "row" else SHAPE   # "row": broadcast
        kw["mask"] = rng.random(shape) > 0.3
        if kw.get("nan_policy", "propagate") == "propagate" and not kw.get("preserve_nan"):
            x = np.nan_to_num(x)       # NaN would propagate: none, to compare finite values
    return x.astype(dtype), kw


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("case, mode", [(c, "same") for c in range(len(CASES))]
                         + [(c, m) for c in (0, 2, 5) for m in ("full", "valid")])
def test_direct_is_in_memory_bitwise(rng, chunks, case, mode):
    x, kw = _inputs(rng, CASES[case])
    lazy_kw = dict(kw)
    if CASES[case].get("mask") == "dask":
        lazy_kw["mask"] = da.from_array(kw["mask"], chunks=(7, 11))   # not x's chunks
    k = rng.random((6, 5)) + 0.1
    for op in ("convolve", "correlate"):
        ref = getattr(ndconv, op)(x, k, mode, method="direct", **kw)
        lazy = getattr(ndask, op)(da.from_array(x, chunks=chunks), k, mode, method="direct",
                                  **lazy_kw)
        assert isinstance(lazy, da.Array) and lazy.dtype == ref.dtype
        with warnings.catch_warnings():
            warnings.simplefilter("error")     # no division warning while computing
            res = lazy.compute()
        assert same_bits(res, ref), (op, np.nanmax(np.abs(res - ref)))


@pytest.mark.parametrize("chunks", CHUNKS[:3])
@pytest.mark.parametrize("case", [0, 1, 2, 5])
def test_fft_within_bound(rng, chunks, case):
    """Each block takes the FFT of its own size: within the transforms' rounding
    of the in-memory result (the FFT bound, scaled by the rescaling)."""
    x, kw = _inputs(rng, CASES[case])
    k = rng.random((6, 5)) + 0.1
    ref = ndconv.convolve(x, k, "same", method="direct", **kw)
    res = ndask.convolve(da.from_array(x, chunks=chunks), k, "same", method="fft",
                         **kw).compute()
    # positive taps of at least 0.1: a present weight is 0 or at least 0.1 /
    # sum(k), far above the FFT's zero, so the NaN outputs are the same
    assert np.array_equal(np.isnan(res), np.isnan(ref))
    ok = ~np.isnan(ref)
    eps = np.finfo(np.float64).eps
    bound = 8 * eps * np.log2(x.size) * np.abs(k).sum() * np.nanmax(np.abs(x)) * (k.sum() / 0.1)
    np.testing.assert_array_less(np.abs(res[ok] - ref[ok]), 4 * bound)


def test_float32_and_three_dimensions(rng):
    x = (rng.standard_normal((9, 12, 10)) + 2.0).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    k = (rng.random((3, 4)) + 0.1).astype(np.float32)
    kw = dict(axes=(2, 0), boundary=["missing", "reflect"], nan_policy="omit", min_weight=0.2)
    ref = ndconv.correlate(x, k, "same", method="direct", **kw)
    lazy = ndask.correlate(da.from_array(x, chunks=(2, 5, 3)), k, "same", method="direct", **kw)
    res = lazy.compute()
    assert res.dtype == np.float32 and same_bits(res, ref)
    # the unified API sends a dask array to ndconv.dask
    via = ndconv.correlate(da.from_array(x, chunks=(4, 12, 7)), k, "same", method="direct", **kw)
    assert isinstance(via, da.Array) and same_bits(via.compute(), ref)


def test_nothing_is_computed_until_asked(rng):
    calls = []

    def counted(block):
        if block.size:       # dask calls it on empty arrays to learn the result's type
            calls.append(block.shape)
        return block

    x = da.from_array(rng.standard_normal((20, 20)), chunks=5).map_blocks(counted, dtype=float)
    mask = da.from_array(rng.random((20, 20)) > 0.2, chunks=10).map_blocks(counted, dtype=bool)
    lazy = ndask.convolve(x, np.ones((3, 3)), "same", mask=mask, boundary=["missing", "edge"],
                          min_weight=0.5)
    assert calls == []
    ref = ndconv.convolve(x.compute(), np.ones((3, 3)), "same", mask=mask.compute(),
                          boundary=["missing", "edge"], min_weight=0.5)
    np.testing.assert_allclose(lazy.compute(), ref, rtol=1e-12, atol=1e-12)


def test_bad_masks_name_the_argument(rng):
    x = da.from_array(rng.standard_normal((8, 6)), chunks=4)
    with pytest.raises(TypeError, match="mask must be a boolean array"):
        ndask.convolve(x, np.ones(3), axes=1, mask=da.ones((8, 6), chunks=4))
    with pytest.raises(ValueError, match="mask of shape"):
        ndask.convolve(x, np.ones(3), axes=1, mask=np.ones((5, 6), bool))
    with pytest.raises(ValueError, match="boundary must be one of"):
        ndask.convolve(x, np.ones((2, 2)), boundary=["missing", "mirror"], nan_policy="omit")

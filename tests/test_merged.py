"""The merged direct path: short rows, and kernels over two or more leading axes.

``_direct._merge_plan`` sends these shapes to the core's ``correlate_merged``,
which copies cache-sized tiles of the extended input and runs the trailing axes
``g0..`` of each tile as one long row.  Every choice of ``g0`` is run, with
tiles small enough that most are partial, against the oracle, against the plain
path, across thread counts, and with NaN (which must not leak through the
positions the path computes and drops).
"""
import numpy as np
import pytest
import scipy.ndimage as ndi
from conftest import assert_contract, oracle, random_array

import ndconv
from ndconv._plan import direct as _direct
from ndconv._plan import tuning

BOUNDARIES = ["constant", "edge", "symmetric", "reflect", "wrap"]
# (x shape, kernel shape): C-contiguous, rows >= 16 so the compute order is the
# identity, and each one takes the merged path (checked below)
CASES = [
    ((130, 40), (5, 4)),            # 2-D, short rows
    ((16, 17, 18), (3, 4, 5)),      # 3-D, even and odd kernel sizes
    ((9, 10, 8, 17), (3, 2, 3, 3)),  # 4-D
    ((20, 24, 30), (1, 3, 3)),      # first axis not convolved
]


@pytest.fixture
def small_tiles(tuned):
    # 4 KiB tiles: many tiles per call, and a partial one at the end of axis g0
    tuned(tile_bytes=4096)


def _plan(xs, ks):
    return _direct._merge_plan(xs, ks, 8, 1)


@pytest.mark.parametrize("xs,ks", CASES)
def test_cases_take_the_merged_path(xs, ks):
    assert _plan(xs, ks) is not None


@pytest.mark.parametrize("xs,ks", CASES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex128"])
def test_every_g0_against_oracle(rng, tuned, small_tiles, xs, ks, boundary, dtype):
    x = random_array(rng, xs, dtype)
    k = random_array(rng, ks, dtype)
    # any valid origin per axis: -(K // 2) .. (K - 1) // 2
    origin = [int(rng.integers(-(kk // 2), (kk - 1) // 2 + 1)) for kk in ks]
    ref, absconv = oracle(x, k, "same", boundary, cval=0.5, origin=origin)
    for g0 in range(len(xs)):
        tuned(force_g0=g0)
        for workers in (1, 2):
            res = ndconv.correlate(x, k, "same", boundary=boundary, cval=0.5, origin=origin,
                                   method="direct", workers=workers)
            assert_contract(res, ref, absconv, k.size, dtype)


@pytest.mark.parametrize("mode", ["full", "valid"])
def test_full_and_valid(rng, small_tiles, mode):
    x = random_array(rng, (12, 14, 40), "float64")
    k = random_array(rng, (3, 5, 4), "float64")
    ref, absconv = oracle(x, k, mode, op="convolve")
    res = ndconv.convolve(x, k, mode, method="direct", workers=2)
    assert_contract(res, ref, absconv, k.size, "float64")


def test_strided_and_reversed_input(rng, small_tiles):
    base = random_array(rng, (34, 20, 60), "float64")
    x = base[::-2, :, 1::2]          # negative and non-unit strides, not contiguous
    k = random_array(rng, (3, 3, 3), "float64")
    assert _plan(x.shape, k.shape) is not None
    ref, absconv = oracle(x, k, "same", "reflect")
    res = ndconv.correlate(x, k, "same", boundary="reflect", method="direct", workers=2)
    assert_contract(res, ref, absconv, k.size, "float64")


@pytest.mark.parametrize("xs,ks", CASES)
def test_bitwise_across_threads_and_close_to_plain_path(rng, tuned, xs, ks):
    x = random_array(rng, xs, "float64")
    k = random_array(rng, ks, "float64")
    runs = [ndconv.correlate(x, k, "same", boundary="reflect", method="direct", workers=w)
            for w in (1, 2, 3)]
    # each output has one writer and a fixed tap order, whatever the threads
    assert all(np.array_equal(runs[0], r) for r in runs[1:])
    tuned(merged=False)
    plain = ndconv.correlate(x, k, "same", boundary="reflect", method="direct", workers=1)
    ref, absconv = oracle(x, k, "same", "reflect")
    assert_contract(plain, ref, absconv, k.size, "float64")
    # same tap order on both paths: equal up to the contract, usually bitwise
    assert_contract(runs[0], plain.astype(np.float64), absconv, k.size, "float64")


@pytest.mark.parametrize("g0", [0, 1, 2])
def test_nan_does_not_leak_through_dropped_positions(tuned, small_tiles, g0):
    tuned(force_g0=g0)
    x = np.ones((16, 18, 20))
    x[5, 0, 19] = np.nan       # the edge of a row: dropped positions sit right after it
    x[9, 17, 0] = np.inf
    k = np.ones((3, 3, 3))
    res = ndconv.correlate(x, k, "same", boundary="constant", method="direct")
    ref = ndi.correlate(x, k, mode="constant")
    np.testing.assert_array_equal(np.isnan(res), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(res), np.isinf(ref))
    fin = np.isfinite(ref)
    np.testing.assert_array_equal(res[fin], ref[fin])   # sums of ones: exact


def test_ndimage_integer_output_matches_scipy(rng):
    # the drop-in's integer outputs run the unfused build: tap order and
    # rounding as scipy's, on the merged path as on the plain one
    x = rng.integers(0, 256, (24, 20, 30)).astype(np.uint8)
    k = rng.random((3, 3, 3))
    np.testing.assert_array_equal(ndconv.ndimage.correlate(x, k, mode="mirror"),
                                  ndi.correlate(x, k, mode="mirror"))


def test_plan_keeps_long_2d_rows_on_the_plain_path():
    assert _direct._merge_plan((2048, 2048), (7, 7), 4, 2) is None
    assert _direct._merge_plan((20, 30), (3, 3), 4, 1) is None   # tiny: not worth a copy
    for xs, ks in [((256,) * 3, (5,) * 3), ((48,) * 4, (3,) * 4), ((4096, 50), (5, 5))]:
        g0, rows, _ = _direct._merge_plan(xs, ks, 4, 2)
        inner = np.prod([m + kk - 1 for m, kk in zip(xs[g0 + 1:], ks[g0 + 1:])])
        tile = np.prod(ks[:g0]) * (rows + ks[g0] - 1) * inner * 4
        assert tile <= 2 * tuning.SETTINGS.tile_bytes

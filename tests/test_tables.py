"""Boundary index tables against numpy.pad, the specification of every boundary."""
import numpy as np
import pytest

from ndconv._plan import boundary as _boundary

BOUNDARIES = ["constant", "edge", "symmetric", "reflect", "wrap"]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_extension_indices_match_np_pad(boundary, n):
    data = np.arange(10, 10 + n)
    for lo in range(0, 3 * n + 3):
        for hi in range(0, 3 * n + 3, 2):
            kw = {"constant_values": -99} if boundary == "constant" else {}
            expect = np.pad(data, (lo, hi), mode=boundary, **kw)
            idx = _boundary.extension_indices(n, -lo, n + lo + hi, boundary)
            got = np.where(idx >= 0, data[np.clip(idx, 0, n - 1)], -99)
            np.testing.assert_array_equal(got, expect)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_extension_window_inside_and_past(boundary):
    n = 6
    data = np.arange(n) * 3 + 1
    kw = {"constant_values": -1} if boundary == "constant" else {}
    padded = np.pad(data, (20, 20), mode=boundary, **kw)
    for start in range(-15, 15):
        for length in (0, 1, 4, 12):
            idx = _boundary.extension_indices(n, start, length, boundary)
            got = np.where(idx >= 0, data[np.clip(idx, 0, n - 1)], -1)
            np.testing.assert_array_equal(got, padded[20 + start:20 + start + length])


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_extend_matches_np_pad(boundary):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5))
    kw = {"constant_values": 2.5} if boundary == "constant" else {}
    expect = np.pad(x, ((3, 6), (7, 1)), mode=boundary, **kw)
    got = _boundary.extend(x, [-3, -7], [13, 13], boundary, 2.5, [0, 1])
    np.testing.assert_array_equal(got, expect)

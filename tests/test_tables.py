"""Boundary index tables against numpy.pad, the specification of every boundary."""
import numpy as np
import pytest

from ndconv._plan import boundary as _boundary

BOUNDARIES = ["constant", "edge", "symmetric", "reflect", "wrap"]
# numpy.pad before 2.1 drops values when "reflect"/"symmetric" fold back more than
# once (numpy issue 25926); there the folds are written out below instead.
NP_PAD_FOLDS_RIGHT = np.lib.NumpyVersion(np.__version__) >= "2.1.0"


def padded(data, lo, hi, boundary, **kw):
    """``np.pad(data, (lo, hi), boundary)``, or its definition where numpy.pad is wrong."""
    n = data.size
    if NP_PAD_FOLDS_RIGHT or boundary not in ("reflect", "symmetric") or max(lo, hi) < n:
        return np.pad(data, (lo, hi), mode=boundary, **kw)
    out = []
    for i in range(-lo, n + hi):
        if boundary == "reflect":  # mirrored about the edge samples: period 2n - 2
            j = i % (2 * n - 2) if n > 1 else 0
            j = j if j < n else 2 * n - 2 - j
        else:  # mirrored about the edges themselves: period 2n
            j = i % (2 * n)
            j = j if j < n else 2 * n - 1 - j
        out.append(data[j])
    return np.array(out)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_extension_indices_match_np_pad(boundary, n):
    data = np.arange(10, 10 + n)
    for lo in range(0, 3 * n + 3):
        for hi in range(0, 3 * n + 3, 2):
            kw = {"constant_values": -99} if boundary == "constant" else {}
            expect = padded(data, lo, hi, boundary, **kw)
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

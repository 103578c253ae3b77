"""Threading: results independent of the thread count, thread-safe concurrent calls."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ndconv
from ndconv import _core as _dispatch


def test_workers_bitwise_identical():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((301, 517)).astype(np.float32)
    k = rng.standard_normal((7, 5)).astype(np.float32)
    ref = ndconv.correlate(x, k, "same", boundary="reflect", method="direct", workers=1)
    for w in (2, 3, 4, 7, -1, None):
        np.testing.assert_array_equal(
            ndconv.correlate(x, k, "same", boundary="reflect", method="direct", workers=w), ref)
    x1 = rng.standard_normal(200_003)
    k1 = rng.standard_normal(33)
    ref = ndconv.convolve(x1, k1, "full", method="direct", workers=1)
    np.testing.assert_array_equal(ndconv.convolve(x1, k1, "full", method="direct", workers=2), ref)


def test_threadpoolctl_limit_is_honoured():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _dispatch.openmp_enabled():
        pytest.skip("built without OpenMP")
    before = _dispatch.omp_max_threads()
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert _dispatch.omp_max_threads() == 1
        from ndconv._plan.validation import resolve_workers
        assert resolve_workers(None, _dispatch.omp_max_threads(), 2) == 1
        rng = np.random.default_rng(0)
        x = rng.standard_normal((64, 64))
        k = rng.standard_normal((3, 3))
        np.testing.assert_array_equal(ndconv.convolve(x, k, method="direct"),
                                      ndconv.convolve(x, k, method="direct", workers=2))
    assert _dispatch.omp_max_threads() == before


def test_concurrent_calls_from_threads():
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal((128, 140)) for _ in range(8)]
    k = rng.standard_normal((5, 5))
    expect = [ndconv.convolve(x, k, "same", boundary="wrap", method="direct", workers=1) for x in xs]
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda x: ndconv.convolve(x, k, "same", boundary="wrap", method="direct",
                                                    workers=2), xs * 3))
    for i, g in enumerate(got):
        np.testing.assert_array_equal(g, expect[i % 8])


def test_resolve_workers():
    from ndconv._plan.validation import resolve_workers
    assert resolve_workers(None, 3, 8) == 3
    assert resolve_workers(-1, 3, 8) == 8
    assert resolve_workers(5, 3, 8) == 5

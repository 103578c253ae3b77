"""The shortcuts that keep small calls cheap give the same answers as the long way."""
import time

import numpy as np
import pytest

import ndconv
from ndconv._plan import direct as _direct
from ndconv._plan import validation as _validation


def _sorted_order(x):
    """``memory_order`` by its definition (the sort), without the fast path."""
    keys = [(x.shape[a] != 1, -abs(x.strides[a]), a) for a in range(x.ndim)]
    return tuple(a for _, _, a in sorted(keys))


def test_table_cache_is_read_only_and_reused():
    _direct._tables.cache_clear()
    x, k = np.arange(40.0).reshape(5, 8), np.ones((3, 2))
    ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
    assert _direct._tables.cache_info().currsize == 1
    # the key of that call: shape, element strides, output shape, kernel shape, starts,
    # boundary, register block width
    block = _direct._block(_direct.core(), "d")
    tables = _direct._tables((5, 8), (8, 1), (5, 8), (3, 2), (-1, -1), "reflect", block)
    assert _direct._tables.cache_info().currsize == 1
    for arr in tables[:5]:
        assert isinstance(arr, np.ndarray) and not arr.flags.writeable
        with pytest.raises(ValueError):
            arr.reshape(-1)[0] = 7
    # a new plan of the same geometry (the call's own plan dropped) takes its tables
    # from the cache
    ndconv._api._CALLS.clear()
    ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
    assert _direct._tables.cache_info().hits >= 2


@pytest.mark.parametrize("boundary", ["constant", "edge", "symmetric", "reflect", "wrap"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_cold_and_warm_cache_agree(rng, boundary, mode):
    x = rng.standard_normal((9, 13))
    views = [x, x[::-1, ::2], x.T, np.asfortranarray(x), x[:, None, :]]
    k = rng.standard_normal((3, 4))
    for v in views:
        kk = k[:, None, :] if v.ndim == 3 else k
        v0 = v.copy()
        _direct._tables.cache_clear()
        cold = ndconv.correlate(v, kk, mode, boundary=boundary, cval=1.5, method="direct")
        warm = ndconv.correlate(v, kk, mode, boundary=boundary, cval=1.5, method="direct")
        np.testing.assert_array_equal(cold, warm)
        np.testing.assert_array_equal(v, v0)
        # the cache is keyed by geometry only: another input of the same
        # geometry must not see the first one's data
        other = ndconv.correlate(v * 2, kk, mode, boundary=boundary, cval=3.0, method="direct")
        np.testing.assert_allclose(other, 2 * cold, rtol=1e-12, atol=1e-12)


def test_wide_geometry_bypasses_cache(rng):
    _direct._tables.cache_clear()
    x = rng.standard_normal(_direct._CACHED_EXTENT + 10)
    ndconv.convolve(x, np.ones(3), method="direct")
    assert _direct._tables.cache_info().currsize == 0


@pytest.mark.parametrize("shape", [(4, 5), (1, 5), (4, 1), (1, 1), (3, 1, 4), (2, 3, 4)])
def test_memory_order_fast_path_matches_sort(shape):
    a = np.zeros(shape)
    for v in (a, a.T, np.asfortranarray(a), a[..., ::-1], a.reshape(shape + (1,))):
        assert _direct.memory_order(v) == _sorted_order(v)


def test_flat_span_of_c_contiguous_input_is_the_array():
    x = np.arange(12.0).reshape(3, 4)
    flat, estr = _direct._flat_span(x)
    assert estr == [4, 1] and np.shares_memory(flat, x)
    np.testing.assert_array_equal(flat, x.ravel())


@pytest.mark.parametrize("a, b", [("f4", "f4"), ("f4", "f8"), ("i2", "f4"), (">f8", ">f8"),
                                  (">f4", "<f4"), ("c8", "f8"), ("?", "?"), ("f2", "f2"),
                                  ("u1", "i8")])
def test_result_dtype_same_as_result_type_rule(a, b):
    x, k = np.zeros(2, dtype=a), np.zeros(2, dtype=b)
    dt = np.result_type(x, k)
    if dt.kind in "biu":
        expected = "f8"
    elif dt.kind == "f":
        expected = "f4" if dt.itemsize <= 4 else "f8"
    else:
        expected = "c8" if dt.itemsize <= 8 else "c16"
    assert _validation.result_dtype(x, k) == np.dtype(expected)
    assert _validation.result_dtype(x, k).isnative


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("cval", [0, 2, 1.25, -3.5])
def test_cval_fast_path(dtype, cval):
    got = _validation.normalize_cval(cval, np.dtype(dtype))
    want = dtype(complex(cval)) if np.dtype(dtype).kind == "c" else dtype(float(cval))
    assert type(got) is np.dtype(dtype).type and got == want


# ---------------------------------------------------------------- call plans
# Plans serve single-threaded calls: these tests run with the library's default
# threshold for sharing a call between threads (the suite lowers it to 1).

@pytest.fixture
def default_threads(tuned):
    from ndconv._plan import tuning

    tuned(work_per_thread=tuning.Settings.work_per_thread)

def _uncached(f, x, k, *args, **kw):
    """The same call through the planning path every time (no plan looked up or kept)."""
    from unittest import mock

    n = len(ndconv._api._CALLS)
    with mock.patch.object(ndconv._api, "_key", lambda *a: None):
        res = f(x, k, *args, **kw)
    assert len(ndconv._api._CALLS) == n
    return res


def _naive_full_1d(x, k):
    """numpy.convolve's definition, as a loop: the independent reference."""
    out = np.zeros(len(x) + len(k) - 1, dtype=np.result_type(x, k, np.float64))
    for i in range(len(x)):
        for j in range(len(k)):
            out[i + j] += x[i] * k[j]
    return out


CASES = [
    # (x, k, args, kw): small calls of every kind a plan can serve
    ((16,), (3,), ("full",), {}),
    ((16,), (4,), ("same",), {"boundary": "reflect", "origin": 1}),
    ((16,), (5,), ("valid",), {}),
    ((9, 13), (3, 4), ("same",), {"boundary": "wrap"}),
    ((9, 13), (3,), ("same",), {"axes": 0, "boundary": "edge"}),
    ((9, 13), (3,), ("same",), {"axes": -1, "cval": 2.5}),
    ((5, 6, 7), (3, 2, 2), ("full",), {"boundary": "symmetric", "method": "direct"}),
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("dtype", ["f4", "f8", "c16", "i2"])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("op", ["convolve", "correlate"])
def test_planned_calls_equal_unplanned(default_threads, rng, case, dtype, layout, op):
    xs, ks, args, kw = CASES[case]
    f = getattr(ndconv, op)
    base = rng.standard_normal(tuple(2 * n for n in xs))
    x = (base[tuple(slice(None, None, 2) for _ in xs)] if layout == "strided"
         else np.asarray(base[tuple(slice(n) for n in xs)], order=layout))
    k = rng.standard_normal(ks)
    if dtype == "c16":
        x, k = x + 1j * x[::-1], k - 0.5j
    x, k = x.astype(dtype), k.astype(dtype)
    x0, k0 = x.copy(), k.copy()
    ndconv._api._CALLS.clear()
    want = _uncached(f, x, k, *args, **kw)
    first, again = f(x, k, *args, **kw), f(x, k, *args, **kw)
    assert len(ndconv._api._CALLS) == 1          # planned once, then reused
    for got in (first, again):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    # another input of the same layout gets its own answer, not the first one's
    x2 = (x * 3).astype(dtype)
    np.testing.assert_array_equal(f(x2, k, *args, **kw), _uncached(f, x2, k, *args, **kw))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(k, k0)


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("dtype", ["f4", "c16", "i2"])
@pytest.mark.parametrize("where", ["C", "F", "x"])
def test_planned_calls_into_out(default_threads, rng, case, dtype, where):
    """Calls with ``out=`` are planned too (the out's layout in the key): the
    result is written into ``out`` and returned, equal to the unplanned call's,
    whether the core writes ``out`` itself (C order), copies into it (another
    order) or computes apart first (``out`` is ``x``: the kernel reads x as it
    writes)."""
    xs, ks, args, kw = CASES[case]
    f = ndconv.correlate
    x = rng.standard_normal(xs)
    k = rng.standard_normal(ks)
    if dtype == "c16":
        x, k = x + 1j * x[::-1], k - 0.5j
    x, k = x.astype(dtype), k.astype(dtype)
    want = _uncached(f, x, k, *args, **kw)
    if where == "x":
        if want.shape != x.shape or want.dtype != x.dtype:
            pytest.skip("out can be x only for a same-shape result of x's dtype")
        outs = [x.copy() for _ in range(3)]
    else:
        outs = [np.empty(want.shape, want.dtype, order=where) for _ in range(3)]
    ndconv._api._CALLS.clear()
    for out in outs:
        src = out if where == "x" else x
        before = src.copy()
        res = f(src, k, *args, out=out, **kw)
        assert res is out
        np.testing.assert_array_equal(out, want)
        if where != "x":
            np.testing.assert_array_equal(src, before)
    assert len(ndconv._api._CALLS) == 1          # planned once, then reused
    (plan,) = ndconv._api._CALLS.values()
    assert plan.into == (outs[0].flags.c_contiguous and plan.fast is not None)
    # the plan does not serve an out of another layout
    other = np.empty(want.shape, want.dtype, order="F" if where == "C" else "C")
    np.testing.assert_array_equal(f(x, k, *args, out=other, **kw), want)
    assert len(ndconv._api._CALLS) == (1 if other.strides == outs[0].strides else 2)


def test_planned_out_calls_still_check_out(default_threads):
    x, k = np.arange(16.0), np.ones(3)
    out = np.empty(18)
    ndconv._api._CALLS.clear()
    ndconv.convolve(x, k, out=out)
    for bad, err in [(np.empty(17), ValueError), (np.empty(18, "f4"), ValueError),
                     (np.empty(36)[::2], None), (out.reshape(2, 9), ValueError), ([0.0] * 18, TypeError)]:
        if err is None:   # strided: correct, through a copy
            np.testing.assert_array_equal(ndconv.convolve(x, k, out=bad), np.convolve(x, k))
            continue
        with pytest.raises(err):
            ndconv.convolve(x, k, out=bad)
    ro = np.empty(18)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ndconv.convolve(x, k, out=ro)


def test_planned_call_matches_a_naive_loop(default_threads, rng):
    x, k = rng.standard_normal(16), rng.standard_normal(3)
    ndconv._api._CALLS.clear()
    for _ in range(3):
        # float64 sums of 3 products: a few ulp of the largest partial sum
        np.testing.assert_allclose(ndconv.convolve(x, k), _naive_full_1d(x, k), rtol=0, atol=1e-14)
        np.testing.assert_allclose(ndconv.correlate(x, k), _naive_full_1d(x, k[::-1]), rtol=0,
                                   atol=1e-14)


def test_inf_weights_are_not_skipped_by_a_plan(default_threads):
    # a zero boundary band times an inf weight is nan (numpy.pad + a direct sum),
    # whichever kernel values the planned call sees
    x = np.ones(8)
    ndconv._api._CALLS.clear()
    ndconv.convolve(x, np.array([1.0, 2.0, 3.0]))
    got = ndconv.convolve(x, np.array([1.0, np.inf, 3.0]))
    want = np.convolve(np.pad(x, 2), [1.0, np.inf, 3.0], "valid")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


@pytest.mark.parametrize("kw", [{"origin": True}, {"axes": True}, {"workers": True},
                                {"cval": True}, {"origin": [0]}, {"axes": [0]}])
def test_plans_never_serve_a_call_validation_would_treat_differently(default_threads, kw):
    # equal to a planned call's values (True == 1, [0] ~ (0,)) but validated on their own
    x, k = np.arange(8.0), np.ones(3)
    plain = {key: (1 if value is True else value[0]) for key, value in kw.items()}
    mode = "same"
    ndconv._api._CALLS.clear()
    try:
        ndconv.convolve(x, k, mode, **plain)
        ndconv.convolve(x, k, mode, **plain)
    except ValueError:
        pass
    try:
        cold_result = ndconv.convolve(x, k, mode, out=np.empty(8), **kw)
    except (TypeError, ValueError) as e:
        with pytest.raises(type(e)):
            ndconv.convolve(x, k, mode, **kw)
    else:
        np.testing.assert_array_equal(ndconv.convolve(x, k, mode, **kw), cold_result)


def test_unaligned_input_after_an_aligned_one_of_the_same_layout(default_threads):
    buf = np.zeros(8 * 17 + 1, dtype=np.uint8)
    aligned = np.arange(16.0)
    unaligned = np.frombuffer(buf[1:1 + 8 * 16].data, dtype=np.float64)
    unaligned[...] = np.arange(16.0)[::-1]
    assert not unaligned.flags.aligned and unaligned.strides == aligned.strides
    k = np.array([1.0, -2.0, 0.5])
    ndconv._api._CALLS.clear()
    ndconv.convolve(aligned, k)
    np.testing.assert_array_equal(ndconv.convolve(unaligned, k),
                                  ndconv.convolve(unaligned.copy(), k))


def test_plans_follow_the_settings_and_the_build(default_threads):
    from ndconv import _core
    from ndconv._plan import tuning

    x, k = np.arange(16.0), np.array([1.0, 2.0, 3.0])
    ndconv._api._CALLS.clear()
    ndconv.convolve(x, k)
    with tuning.override(merged=False):
        ndconv.convolve(x, k)           # another generation of settings: its own plan
    assert len(ndconv._api._CALLS) == 2
    for level, module in _core.builds().items():
        with _core.use(level):
            got = ndconv.convolve(x, k)
            plans = [p for key, p in ndconv._api._CALLS.items()
                     if key[-2:] == (module, tuning.generation())]
        assert len(plans) == 1 and plans[0].direct.mod is module
        np.testing.assert_allclose(got, np.convolve(x, k), rtol=0, atol=1e-13)


def test_plan_cache_is_bounded(default_threads):
    ndconv._api._CALLS.clear()
    k = np.ones(3)
    for n in range(4, 4 + ndconv._api._CALLS_MAX + 20):
        ndconv.convolve(np.ones(n), k)
    assert len(ndconv._api._CALLS) == ndconv._api._CALLS_MAX


def test_no_plan_for_calls_whose_method_depends_on_values(default_threads, rng):
    ndconv._api._CALLS.clear()
    x = rng.standard_normal(1 << 16)
    ndconv.convolve(x, rng.standard_normal(1025))                 # FFT by size
    ndconv.convolve(x.reshape(256, 256), np.ones((9, 9)))        # separable once factorised
    ndconv.convolve(x, rng.standard_normal(3), method="fft")
    assert ndconv._api._CALLS == {}


def test_threaded_calls_are_planned_and_take_the_idle_cpus(default_threads, rng, monkeypatch,
                                                          core_threads):
    """A threaded direct call keeps a plan too; each call of it takes as many
    threads as the machine has idle then (the load decides, as unplanned), and
    every count gives the same bits."""
    from ndconv._plan import threads

    ndconv._api._CALLS.clear()
    x = rng.standard_normal((256, 256))
    k = rng.standard_normal((9, 9))
    want = _uncached(ndconv.convolve, x, k, "same", method="direct", workers=1)
    del core_threads[:]
    idle, ran, told = [2], core_threads, []

    def threads_for(n, work, seconds=0.0):
        told.append(seconds)
        return min(n, idle[0])

    monkeypatch.setattr(threads, "threads_for", threads_for)
    per_call, took = [], []
    for idle[0] in (2, 2, 1, 2, 1):
        del told[:]
        t = time.perf_counter()
        got = ndconv.convolve(x, k, "same", method="direct", workers=2)
        took.append(time.perf_counter() - t)
        per_call.append(told[-1])
        np.testing.assert_array_equal(got, want)
    assert ran == [2, 2, 1, 2, 1]
    # the plan tells the rule what its call took on one thread (the rule's
    # estimate for a call after a pause) once it ran on one: the fourth and
    # fifth calls the third's time, no more than that whole call took
    plan, = ndconv._api._CALLS.values()
    assert per_call[:3] == [0.0, 0.0, 0.0]
    assert 0 < per_call[3] == per_call[4] <= took[2]
    assert 0 < plan.seconds <= took[4]
    assert len(ndconv._api._CALLS) == 1
    # one thread: the plan's compiled one-thread call, not a threaded plan
    assert plan.by_size == 2 and plan.fast is None and plan.one is not None
    assert {n: d.n_threads for n, d in plan.threaded.items()} == {2: 2}


def test_a_plan_hands_factorizable_kernels_back(default_threads, rng):
    # 128^2 with a 7x7 kernel: direct unless the kernel factorizes (separable
    # passes are estimated faster), so the plan checks each call's kernel
    from ndconv._plan import method as _method
    from ndconv._plan import separable as _separable

    x = rng.standard_normal((128, 128))
    dense, gauss = rng.standard_normal((7, 7)), ndconv.kernels.gaussian(1.0, ndim=2, radius=3)
    ok, axes = _method.direct_for_any_values(x, dense, (128, 128), 1)
    if not (ok and axes == [0, 1]):
        pytest.skip("this build's cost model does not weigh separable passes at 128^2 7x7")
    ndconv._api._CALLS.clear()
    for k in (dense, gauss, dense, gauss):
        got = ndconv.convolve(x, k, "same", boundary="reflect")
        want = _uncached(ndconv.convolve, x, k, "same", boundary="reflect")
        np.testing.assert_array_equal(got, want)
    assert len(ndconv._api._CALLS) == 1
    # the kernel's values decide, not the array: the plan remembers the last
    # kernel that did not factorize by its bytes, so one array changed in place
    # between calls takes each time the method its values take
    kk = dense.copy()
    for v in (dense, gauss, dense, dense, gauss):
        kk[...] = v
        got = ndconv.convolve(x, kk, "same", boundary="reflect")
        np.testing.assert_array_equal(got, _uncached(ndconv.convolve, x, kk, "same",
                                                     boundary="reflect"))
    assert len(ndconv._api._CALLS) == 1
    # and the separable answer is the separable method's, within its accuracy contract
    factors = _separable.factorize(np.ascontiguousarray(gauss[::-1, ::-1]), [0, 1])
    assert factors is not None
    ref = ndconv.convolve(x, gauss, "same", boundary="reflect", method="direct")
    np.testing.assert_allclose(ndconv.convolve(x, gauss, "same", boundary="reflect"), ref,
                               rtol=0, atol=4 * 49 * np.finfo(float).eps * np.abs(x).max())


def _kernel_views(k):
    """``k`` laid out every way a caller may pass it: the core copies each."""
    big = np.repeat(k[..., None], 3, axis=-1)
    yield k
    yield np.asfortranarray(k)
    yield big[..., 1]                                     # strided
    yield np.flip(k).copy()[tuple(slice(None, None, -1) for _ in k.shape)]   # negative strides
    if k.ndim == 1:
        yield np.broadcast_to(k[:1], k.shape)             # zero stride


def _exact(op, x, k, axes, out=None):
    """``op`` in exact integer arithmetic (the drop-ins' integer path)."""
    return ndconv._api.correlate_nd(x, k, "same", "constant", 0, 0, axes, "direct", None, out,
                                    flip=op == "convolve", conj=op == "correlate",
                                    compute_dtype=np.int64)


@pytest.mark.parametrize("dtype", ["f4", "f8", "c8", "c16", "i8"])
@pytest.mark.parametrize("op", ["convolve", "correlate"])
@pytest.mark.parametrize("ks, axes", [((3,), None), ((4, 3), None), ((3,), 0), ((3,), -1),
                                      ((2, 3), None)])
def test_core_planned_calls_copy_any_kernel_layout(default_threads, rng, dtype, op, ks, axes):
    # the core's plan (FlatCall) flips, conjugates and reorders the kernel
    # itself: bitwise the long way's answer
    f = getattr(ndconv, op)
    x = rng.standard_normal((6, 9) if len(ks) == 2 or axes is not None else (17,))
    k = rng.standard_normal(ks)
    if dtype[0] == "c":
        x, k = x - 0.5j * x[::-1], k + 0.25j
    if dtype == "i8":
        x, k = np.round(8 * x), np.round(4 * k)
    x, k = x.astype(dtype), k.astype(dtype)
    kw = {"axes": axes, "method": "direct"}
    if dtype == "i8":
        kw = {"axes": axes}   # integers: exact, through the compute dtype below
    for kv in _kernel_views(k):
        ndconv._api._CALLS.clear()
        k0 = kv.copy()
        if dtype == "i8":
            want = _uncached(_exact, op, x, kv, axes)
            first, again = _exact(op, x, kv, axes), _exact(op, x, kv, axes)
        else:
            want = _uncached(f, x, kv, "same", **kw)
            first, again = f(x, kv, "same", **kw), f(x, kv, "same", **kw)
        (plan,) = ndconv._api._CALLS.values()
        assert plan.fast is not None
        for got in (first, again):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(kv, k0)


def test_core_plan_rechecks_what_keeps_it_in_bounds(default_threads):
    x, k = np.arange(16.0), np.ones(3)
    ndconv._api._CALLS.clear()
    ndconv.convolve(x, k)
    (plan,) = ndconv._api._CALLS.values()
    for bad_x, bad_k in [(np.arange(15.0), k), (np.arange(32.0), k), (x[::2], k),
                         (np.arange(16, dtype="f4"), k), (x, np.ones(4)), (x, np.ones((3, 1)))]:
        with pytest.raises(ValueError):
            plan.fast.run(bad_x, bad_k)


def test_plans_keep_no_input_alive(default_threads):
    import gc
    import weakref

    x, k = np.arange(64.0), np.ones(3)
    ndconv._api._CALLS.clear()
    for _ in range(2):
        ndconv.convolve(x, k)
    refs = weakref.ref(x), weakref.ref(k)
    del x, k
    gc.collect()
    assert all(r() is None for r in refs)


def test_planned_calls_from_many_threads(default_threads, rng):
    # one shared plan, eight threads, each with its own data
    import threading

    x = rng.standard_normal((8, 40))
    ks = rng.standard_normal((8, 5))
    want = [np.convolve(x[i], ks[i]) for i in range(8)]
    ndconv._api._CALLS.clear()
    ndconv.convolve(x[0].copy(), ks[0].copy())
    errors = []
    start = threading.Barrier(8)

    def worker(i):
        xi, ki = x[i].copy(), ks[i].copy()
        start.wait()
        for _ in range(200):
            got = ndconv.convolve(xi, ki)
            # float64 sums of 5 products: a few ulp of the largest partial sum
            if not np.allclose(got, want[i], rtol=0, atol=1e-13):
                errors.append(i)
                return

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(ndconv._api._CALLS) == 1

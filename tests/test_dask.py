"""ndconv on dask arrays: lazy, and bitwise the in-memory result (method="direct").

The reference is ``ndconv.convolve``/``correlate`` on the whole array, itself
checked against the independent oracle (numpy.pad + scipy) by the rest of the
suite and here where the FFT path is compared.  Chunk grids are random
(seeded): uneven chunks, chunks of 1, chunks shorter than the kernel's reach,
kernels wider than a chunk or than the array.
"""
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from conftest import assert_contract, oracle, random_array, subprocess_env

import ndconv

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
ndask = pytest.importorskip("ndconv.dask")

MODES = ["full", "same", "valid"]
BOUNDARIES = ["constant", "edge", "symmetric", "reflect", "wrap"]
DTYPES = ["float32", "float64", "complex64", "complex128", "int16", "bool"]


def same_bits(a, b):
    """Bitwise equality (NaN payloads and signed zeros included)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a.view(np.uint8),
                                                                        b.view(np.uint8))


def random_chunks(rng, n):
    """Uneven chunks of ``n``: sometimes all 1, sometimes one, else random sizes."""
    r = rng.random()
    if r < 0.15:
        return (1,) * n
    if r < 0.25:
        return (n,)
    out, left = [], n
    while left:
        c = min(left, int(rng.integers(1, max(2, n // 2) + 1)))
        out.append(c)
        left -= c
    return tuple(out)


def random_case(rng):
    nd = int(rng.integers(1, 4))
    shape = (int(rng.integers(1, 200)),) if nd == 1 else tuple(int(rng.integers(1, 24)) for _ in range(nd))
    naxes = int(rng.integers(1, nd + 1))
    axes = tuple(int(a) for a in rng.permutation(nd)[:naxes])   # any order, not only sorted
    # kernels up to twice the axis: wider than chunks and than the array
    kshape = tuple(int(rng.integers(1, 2 * shape[a] + 2)) if rng.random() < 0.2
                   else int(rng.integers(1, 8)) for a in axes)
    return shape, axes, kshape


def both(op, x, k, chunks, **kw):
    ref = getattr(ndconv, op)(x, k, **kw)
    lazy = getattr(ndask, op)(da.from_array(x, chunks=chunks), k, **kw)
    return ref, lazy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_bitwise_random_grid(rng, dtype, mode):
    n_cases = 0
    while n_cases < 20:
        shape, axes, kshape = random_case(rng)
        x = random_array(rng, shape, dtype)
        k = random_array(rng, kshape, "float64" if rng.random() < 0.5 else dtype)
        if k.dtype.kind == "b":
            k = k.astype(np.float32)
        boundary = BOUNDARIES[n_cases % len(BOUNDARIES)]
        origin = 0
        if mode == "same":
            origin = [int(rng.integers(-(kk // 2), (kk - 1) // 2 + 1)) for kk in kshape]
        kw = dict(mode=mode, boundary=boundary, cval=1.5 if x.dtype.kind != "b" else 1, origin=origin,
                  axes=axes, method="direct")
        op = "convolve" if rng.random() < 0.5 else "correlate"
        try:
            ref = getattr(ndconv, op)(x, k, **kw)
        except ValueError:   # "valid" with x and k each larger somewhere
            continue
        chunks = tuple(random_chunks(rng, n) for n in shape)
        lazy = getattr(ndask, op)(da.from_array(x, chunks=chunks), k, **kw)
        assert lazy.dtype == ref.dtype and lazy.shape == ref.shape
        res = lazy.compute(scheduler="threads")
        assert same_bits(res, ref), (op, shape, chunks, kshape, axes, kw)
        n_cases += 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["full", "same"])
def test_bitwise_per_axis_boundary(rng, dtype, mode):
    """A boundary and a fill per axis (one shared fill, or fills of their own
    whose corners the later axis takes): bitwise the in-memory result."""
    n_cases = 0
    while n_cases < 12:
        shape, axes, kshape = random_case(rng)
        x = random_array(rng, shape, dtype)
        k = random_array(rng, kshape, "float64" if rng.random() < 0.5 else dtype)
        if k.dtype.kind == "b":
            k = k.astype(np.float32)
        names = [BOUNDARIES[int(i)] for i in rng.integers(0, len(BOUNDARIES), len(axes))]
        cval = [float(c) for c in rng.integers(-3, 4, len(axes))] if n_cases % 2 else 2.0
        if x.dtype.kind == "b":
            cval = [1] * len(axes) if n_cases % 2 else 1
        boundary = dict(zip(axes, names)) if n_cases % 3 == 0 else names
        kw = dict(mode=mode, boundary=boundary, cval=cval, axes=axes, method="direct")
        op = "convolve" if rng.random() < 0.5 else "correlate"
        ref = getattr(ndconv, op)(x, k, **kw)
        chunks = tuple(random_chunks(rng, n) for n in shape)
        lazy = getattr(ndask, op)(da.from_array(x, chunks=chunks), k, **kw)
        assert lazy.dtype == ref.dtype and lazy.shape == ref.shape
        res = lazy.compute(scheduler="threads")
        assert same_bits(res, ref), (op, shape, chunks, kshape, axes, kw)
        n_cases += 1


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_nan_and_inf_stay_local_and_bitwise(rng, boundary):
    x = rng.standard_normal((37, 29))
    x[3, 4] = np.nan
    x[20, 28] = np.inf
    x[36, 0] = -np.inf
    k = rng.standard_normal((5, 4))
    for mode in MODES:
        ref, lazy = both("convolve", x, k, ((10, 1, 26), (7, 7, 7, 8)), mode=mode,
                         boundary=boundary, method="direct", cval=np.nan if mode == "full" else 0)
        assert same_bits(lazy.compute(), ref)
        assert np.isfinite(ref).any()


@pytest.mark.parametrize("xs,chunks,ks", [
    ((1000, 20), (100, 10), (3, 3)),        # blocks with short rows: the whole's axis order
    ((40, 30, 50), (7, 11, 13), (3, 4, 5)),  # the merged path (3-D kernel)
    ((64, 64, 64), (32, 32, 9), (3, 3, 3)),
    ((300, 3), (10, 3), (5, 3)),            # the whole runs its rows along axis 0
])
def test_bitwise_axis_order_and_merged_paths(rng, xs, chunks, ks):
    x = random_array(rng, xs, "float32")
    k = random_array(rng, ks, "float32")
    for boundary in ("constant", "reflect"):
        ref, lazy = both("correlate", x, k, chunks, mode="same", boundary=boundary, cval=0.25,
                         method="direct")
        assert same_bits(lazy.compute(), ref)


def test_long_signal_many_core_chunks(rng):
    # rows of several of the core's 2048-column work items, uneven dask chunks
    x = random_array(rng, (2, 23_000), "float32")
    k = random_array(rng, (255,), "float32")
    chunks = ((1, 1), (3000, 5000, 1021, 7000, 6979))
    for mode in MODES:
        ref, lazy = both("convolve", x, k, chunks, mode=mode, boundary="symmetric", axes=1,
                         method="direct")
        assert same_bits(lazy.compute(), ref)


def test_auto_keeps_nan_local(rng):
    x = rng.standard_normal((240, 240))
    x[10, 180] = np.nan
    k = rng.standard_normal((21, 21))
    lazy = ndask.correlate(da.from_array(x, chunks=80), k, "same", method="auto")
    assert lazy.numblocks == (3, 3)
    res = lazy.compute()
    ref = ndconv.correlate(x, k, "same", method="direct")
    np.testing.assert_array_equal(np.isnan(res), np.isnan(ref))   # no FFT where NaN is read
    exact, absconv = oracle(np.nan_to_num(x), k, "same")
    fin = np.isfinite(ref)
    assert_contract(res[fin], exact[fin], absconv[fin], k.size, "float64", method="fft",
                    fft_size=res.size)


def test_wrap_across_the_whole_array(rng):
    # a kernel wider than the array: wrap reads it round several times
    x = rng.standard_normal(23)
    k = rng.standard_normal(60)
    for mode in ("full", "same"):
        ref, lazy = both("convolve", x, k, 5, mode=mode, boundary="wrap", method="direct")
        assert same_bits(lazy.compute(), ref)
        exact, absconv = oracle(x, k, mode, "wrap", op="convolve")
        assert_contract(ref, exact, absconv, k.size, "float64")


@pytest.mark.parametrize("method", ["fft", "auto"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_fft_and_auto_within_the_fft_bound(rng, method, boundary):
    x = random_array(rng, (90, 70), "float64")
    k = random_array(rng, (15, 9), "float64")
    for mode in MODES:
        lazy = ndask.convolve(da.from_array(x, chunks=(40, 33)), k, mode, boundary=boundary,
                              method=method)
        exact, absconv = oracle(x, k, mode, boundary, op="convolve")
        assert_contract(lazy.compute(), exact, absconv, k.size, "float64", method="fft")


def test_large_kernels_merge_chunks_and_stay_exact(rng):
    x = random_array(rng, (200, 64), "float64")
    k = random_array(rng, (41, 3), "float64")
    lazy = ndask.convolve(da.from_array(x, chunks=(20, 16)), k, "same", boundary="reflect",
                          method="direct")
    # reach 40 along axis 0: chunks of at least 160 (here the whole axis); axis 1 keeps 16
    assert lazy.chunks == ((200,), (16,) * 4)
    assert same_bits(lazy.compute(), ndconv.convolve(x, k, "same", boundary="reflect",
                                                     method="direct"))
    lazy = ndask.convolve(da.from_array(x, chunks=(100, 16)), k, "full", method="direct")
    # full: the first chunk grows by (K-1)//2... as centred; chunks of 100 >= 4 * 40? no: merged
    assert all(c >= 160 for c in lazy.chunks[0]) and sum(lazy.chunks[0]) == 240
    # per-block FFT: each block's window is an ordinary in-memory problem
    lazy = ndask.convolve(da.from_array(x, chunks=(20, 16)), k, "same", method="fft")
    exact, absconv = oracle(x, k, "same", op="convolve")
    assert_contract(lazy.compute(), exact, absconv, k.size, "float64", method="fft")


def test_output_chunks_follow_the_input():
    x = da.zeros((100, 50), chunks=((30, 30, 40), (25, 25)))
    k = np.ones((5, 3))
    assert ndask.convolve(x, k, "same").chunks == x.chunks
    # full: the first chunk grows by ceil((K-1)/2) ... per axis, the last by the rest
    assert ndask.convolve(x, k, "full").chunks == ((32, 30, 42), (26, 26))
    assert ndask.convolve(x, k, "valid").chunks == ((28, 30, 38), (24, 24))


def test_lazy_and_graph_size():
    calls = []

    def source(block):
        if block.size:   # map_blocks calls it on empty arrays for the dtype
            calls.append(1)
        return block

    x = da.ones((64, 64, 64), chunks=16).map_blocks(source)
    calls.clear()   # map_blocks ran it once to infer the dtype
    k = np.ones((3, 3, 3))
    lazy = ndconv.convolve(x, k, "same", boundary="reflect")
    assert calls == []
    n_chunks = 4 ** 3
    graph = dict(lazy.__dask_graph__())
    # blocks + their halo slices + the kernel: a few per chunk, never per element
    assert len(graph) <= 30 * n_chunks
    own = [key for key in graph if isinstance(key, tuple) and key[0] == lazy.name]
    assert len(own) == n_chunks


def test_kernel_is_one_key():
    k = np.random.default_rng(0).standard_normal((32, 32))
    lazy = ndask.correlate(da.ones((256, 256), chunks=64), k, "same")
    graph = dict(lazy.__dask_graph__())
    kernel_keys = [key for key, v in graph.items() if isinstance(v, np.ndarray) and v.shape == k.shape]
    assert len(kernel_keys) == 1
    for key in graph:
        if isinstance(key, tuple) and key[0] == lazy.name:
            task = graph[key]
            assert len(pickle.dumps(task)) < k.nbytes // 4   # refers to the kernel by key


def test_numpy_input_is_wrapped(rng):
    x = rng.standard_normal((50, 40))
    k = rng.standard_normal((3, 3))
    lazy = ndask.correlate(x, k, "same", method="direct")
    assert isinstance(lazy, da.Array)
    assert same_bits(lazy.compute(), ndconv.correlate(x, k, "same", method="direct"))


def test_unified_api_dispatches_dask(rng):
    x = rng.standard_normal((30, 20)).astype(np.float32)
    k = rng.standard_normal((4, 3))
    lazy = ndconv.convolve(da.from_array(x, chunks=7), k, "valid", method="direct")
    assert isinstance(lazy, da.Array) and lazy.dtype == np.float64
    assert same_bits(lazy.compute(), ndconv.convolve(x, k, "valid", method="direct"))
    with pytest.raises(TypeError, match="out is not supported for dask arrays"):
        ndconv.correlate(da.from_array(x), k, out=np.empty((32, 22)))
    # other dask objects convert as numpy converts them
    delayed = dask.delayed(x)
    with pytest.raises(TypeError):
        ndconv.convolve(delayed, k)


BAD_CALLS = [
    dict(mode="nope"),
    dict(boundary="mirror"),
    dict(method="gpu"),
    dict(axes=(0, 0)),
    dict(axes=5),
    dict(origin=3, mode="same"),
    dict(origin=1, mode="full"),
    dict(cval=1j),
    dict(workers=0),
    dict(mode="valid", k_shape=(3, 40)),
    dict(k_shape=(3,)),
    dict(k_shape=(0, 2)),
]


@pytest.mark.parametrize("kw", BAD_CALLS, ids=[str(c) for c in BAD_CALLS])
def test_errors_at_call_time_as_in_memory(kw):
    kw = dict(kw)
    k = np.ones(kw.pop("k_shape", (3, 3)))
    x = np.ones((20, 10))
    with pytest.raises((ValueError, TypeError)) as in_memory:
        ndconv.convolve(x, k, **kw)
    with pytest.raises(in_memory.type) as lazy:
        ndconv.convolve(da.from_array(x, chunks=4), k, **kw)
    assert str(lazy.value) == str(in_memory.value)


def test_dtype_and_shape_errors_as_in_memory():
    for x in (np.array(["a", "b"]), np.array(1.0), np.ones((0, 3))):
        with pytest.raises((ValueError, TypeError)) as in_memory:
            ndconv.convolve(x, np.ones(1) if x.ndim < 2 else np.ones((1, 1)))
        with pytest.raises(in_memory.type) as lazy:
            ndask.convolve(da.from_array(x), np.ones(1) if x.ndim < 2 else np.ones((1, 1)))
        assert str(lazy.value) == str(in_memory.value)


def test_import_ndconv_does_not_import_dask(tmp_path):
    code = "import sys, numpy, ndconv; ndconv.convolve(numpy.ones(5), numpy.ones(2)); " \
           "print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env=subprocess_env(), timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def _runnable_threads(skip):
    """Threads of this process in state R (running or waiting for a core), but ``skip``."""
    n = 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) in skip:
            continue
        try:
            with open("/proc/self/task/%s/stat" % tid) as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] == "R":
            n += 1
    return n


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_thread_policy_keeps_the_total_at_the_core_count(rng):
    cores = len(os.sched_getaffinity(0))
    # the per-task share: the pool runs one task per core
    seen = da.zeros((8,), chunks=1).map_blocks(
        lambda b: np.full(b.shape, ndask.task_threads(None))).compute(scheduler="threads")
    assert seen.max() == max(1, ndconv._core.omp_max_threads() // dask.system.CPU_COUNT)
    assert (da.zeros((4,), chunks=1).map_blocks(lambda b: np.full(b.shape, ndask.task_threads(3)))
            .compute(scheduler="threads") == 3).all()
    assert ndask.task_threads(None) == ndconv._core.omp_max_threads()   # sync: all of them

    x = da.from_array(rng.standard_normal((2048, 1024)).astype(np.float32), chunks=256)
    lazy = ndask.convolve(x, np.ones((9, 9), np.float32), "same", method="direct")
    # compute() runs the blocks on the calling thread and helpers of ndconv's;
    # dask.compute on dask's pool, whose calling thread (the main one here)
    # schedules them, running between tasks and computing nothing
    for compute, scheduling in ((lambda: lazy.compute(scheduler="threads"), set()),
                                (lambda: dask.compute(lazy, scheduler="threads"), {os.getpid()})):
        samples, alive, done = [], [], threading.Event()
        before = len(os.listdir("/proc/self/task"))

        def sample(samples=samples, alive=alive, done=done, scheduling=scheduling):
            skip = {threading.get_native_id()} | scheduling     # not this sampler
            while not done.is_set():
                samples.append(_runnable_threads(skip))
                alive.append(len(os.listdir("/proc/self/task")) - 1)
                time.sleep(0.001)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            compute()
        finally:
            done.set()
            sampler.join()
        # the threads running blocks, each running ndconv on one thread (a
        # stray sample may catch a thread of an earlier test's OpenMP team
        # still spinning)
        assert 1 <= np.percentile(samples, 90) <= cores, sorted(samples)
        # no OpenMP team beside the threads running blocks
        assert max(alive) <= before + dask.system.CPU_COUNT, (before, max(alive))


def test_distributed_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    script = textwrap.dedent("""
        import numpy as np, dask.array as da, ndconv, ndconv.dask
        from dask.distributed import Client, LocalCluster
        if __name__ == "__main__":
            rng = np.random.default_rng(0)
            x = rng.standard_normal((300, 200))
            k = rng.standard_normal((7, 5))
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                lazy = ndconv.dask.correlate(da.from_array(x, chunks=(70, 60)), k, "same",
                                             boundary="reflect", method="direct")
                kernel = [key for key in dict(lazy.__dask_graph__())
                          if isinstance(key, str) and key.startswith("ndconv-kernel")]
                res = lazy.compute()
                ref = ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
                # one ndconv thread per task on each worker
                threads = client.run(lambda: ndconv.dask.task_threads(None))
                # the kernel is one key: made on one worker, fetched by the other at most once
                fetched = client.run(lambda dask_worker: [
                    str(key) for d in dask_worker.transfer_incoming_log for key in d["keys"]])
                print(np.array_equal(res.view(np.uint8), ref.view(np.uint8)),
                      sorted(threads.values()), len(kernel),
                      sum(kernel[0] in key for keys in fetched.values() for key in keys))
    """)
    path = tmp_path / "cluster.py"
    path.write_text(script)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                         cwd=tmp_path, env=subprocess_env(), timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    words = out.stdout.split()
    exact, threads, n_kernels, kernel_fetches = words[0], " ".join(words[1:3]), words[3], words[4]
    assert (exact, threads, n_kernels) == ("True", "[1, 1]", "1"), out.stdout
    assert int(kernel_fetches) <= 1, out.stdout


def test_one_halo_task_per_input_chunk():
    # each input chunk's parts that other windows read are one task (a tuple of
    # views), whatever the number of neighbours reading it
    x = da.ones((64, 64, 64), chunks=16)
    lazy = ndask.convolve(x, np.ones((3, 3, 3)), "same", boundary="reflect", method="direct")
    graph = dict(lazy.__dask_graph__())
    n_chunks = 4 ** 3
    halo = [key for key in graph if isinstance(key, tuple) and str(key[0]).startswith("ndconv-halo")]
    own = [key for key in graph if isinstance(key, tuple) and key[0] == lazy.name]
    assert len(own) == n_chunks and 0 < len(halo) <= n_chunks
    # the input's tasks, one per block and per chunk's halo, the kernel
    assert len(graph) <= len(dict(x.__dask_graph__())) + 2 * n_chunks + 1
    assert same_bits(lazy.compute(), ndconv.convolve(np.ones((64, 64, 64)), np.ones((3, 3, 3)),
                                                     "same", boundary="reflect", method="direct"))


@pytest.mark.parametrize("boundary", ["reflect", "symmetric", "wrap", "constant"])
def test_window_reads_several_parts_of_one_chunk(rng, boundary):
    # one chunk, extended at both ends from itself: its window is the chunk
    # and two reflected (or wrapped) parts of it, all from one halo task
    x = rng.standard_normal(12)
    k = rng.standard_normal(9)
    ref, lazy = both("convolve", x, k, (12,), mode="full", boundary=boundary, method="direct")
    assert same_bits(lazy.compute(), ref)
    ref, lazy = both("correlate", x, k, (3, 9), mode="same", boundary=boundary,
                     method="direct", origin=2)
    assert same_bits(lazy.compute(), ref)


@pytest.mark.parametrize("mode", MODES)
def test_bitwise_with_large_and_small_blocks(rng, mode):
    # blocks of 2 MiB and more (aligned output) next to smaller ones
    x = rng.standard_normal((1100, 700))
    k = rng.standard_normal((5, 4))
    # float64 blocks of 800 x 350 (2.1 MiB), 800 x 200, 300 x 150 ...
    ref, lazy = both("convolve", x, k, ((800, 300), (350, 200, 150)), mode=mode,
                     boundary="reflect", method="direct")
    graph = dict(lazy.__dask_graph__())
    blocks = dask.get(graph, [key for key in graph
                              if isinstance(key, tuple) and key[0] == lazy.name])
    assert any(b.nbytes >= 2 << 20 for b in blocks) and any(b.nbytes < 2 << 20 for b in blocks)
    # on huge pages (ndconv._plan.placement: within a page past a 2 MiB boundary)
    assert all(b.ctypes.data % (2 << 20) < 4096 for b in blocks if b.nbytes >= 2 << 20)
    assert same_bits(lazy.compute(), ref)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("dtype", ["float32", "complex128", "int16"])
def test_bitwise_when_chunks_are_separate_arrays(rng, mode, boundary, dtype):
    # chunks that are arrays of their own (as read from a store): windows are
    # assembled, extended by the core at the array's edges where it reads the
    # same samples, by the assembly elsewhere
    x = random_array(rng, (70, 45), dtype)
    k = random_array(rng, (5, 4), dtype)
    xd = da.from_array(x, chunks=((20, 30, 20), (15, 15, 15))).map_blocks(np.copy)
    assert xd.chunks == ndask.convolve(xd, k, "same").chunks   # 3 x 3 blocks
    for origin in (0, (1, -1)) if mode == "same" else (0,):
        ref = ndconv.convolve(x, k, mode, boundary=boundary, origin=origin, method="direct")
        lazy = ndask.convolve(xd, k, mode, boundary=boundary, origin=origin, method="direct")
        assert same_bits(lazy.compute(), ref)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_windows_of_an_array_in_memory_are_views(rng, monkeypatch, boundary):
    # chunks of da.from_array are parts of one array: a window is a view of it
    # (extended by the core at the edges), never a copy -- except "wrap" at the
    # edges, whose window joins the array's two ends
    x = rng.standard_normal((60, 50)).astype(np.float32)
    k = rng.standard_normal((5, 3)).astype(np.float32)
    copies = []
    real = ndask._window_buffer

    def counted(shape, dtype):
        copies.append(shape)
        return real(shape, dtype)
    monkeypatch.setattr(ndask, "_window_buffer", counted)
    ref = ndconv.convolve(x, k, "same", boundary=boundary, method="direct")
    lazy = ndask.convolve(da.from_array(x, chunks=(20, 25)), k, "same", boundary=boundary,
                          method="direct")
    with dask.config.set(scheduler="sync"):
        assert same_bits(lazy.compute(), ref)
    # 3 x 2 blocks: with wrap every block touches an edge of the array
    assert len(copies) == (6 if boundary == "wrap" else 0)


@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_windows_of_an_array_in_memory_are_made_with_the_graph(rng, dtype):
    # the windows of an array in memory are views of it, made once when the
    # graph is built: its block tasks then depend on the kernel alone (none on
    # chunks or halo parts); where the compute dtype differs from the array's
    # (int16 -> float64) or the chunks are not data in the graph, windows are
    # still assembled in the tasks
    x = random_array(rng, (60, 50), dtype)
    k = random_array(rng, (5, 3), dtype)
    for source, held in ((da.from_array(x, chunks=(20, 25)), dtype == "float32"),
                         (da.from_array(x, chunks=(20, 25)).map_blocks(np.copy), False)):
        lazy = ndask.convolve(source, k, "same", boundary="reflect", method="direct")
        graph = dict(lazy.__dask_graph__())
        tasks = [graph[key] for key in graph if isinstance(key, tuple) and key[0] == lazy.name]
        specs = [task[2] for task in tasks]
        assert len(tasks) == 6
        assert all(len(task) == 3 for task in tasks) == held
        chunks = [v for v in dict(source.__dask_graph__()).values() if type(v) is np.ndarray]
        assert all(spec.window is not None and any(np.shares_memory(spec.window, c)
                                                   for c in chunks)
                   for spec in specs) == held
        assert any(str(key[0]).startswith("ndconv-halo") for key in graph
                   if isinstance(key, tuple)) != held
        ref = ndconv.convolve(x, k, "same", boundary="reflect", method="direct")
        for scheduler in ("sync", "threads"):
            assert same_bits(lazy.compute(scheduler=scheduler), ref)


# ------------------------------------------------------- compute() gathers in place
def no_copying_gather(monkeypatch):
    """Make dask's own gather (one copy of every block) fail: a compute() that
    then passes handed over the array its blocks were written into."""
    import dask.array.core as dac

    def copying(results):
        raise AssertionError("dask's gather copied the blocks")
    monkeypatch.setattr(dac, "finalize", copying)


@pytest.mark.parametrize("scheduler", ["threads", "sync"])
@pytest.mark.parametrize("case", [
    ((90, 70), (5, 5), (32, 25), "direct"),     # 2-D blocks: rows of the result, in place
    ((9, 12, 40), (3, 1, 5), (4, 5, 17), "direct"),  # 3-D blocks: written from a buffer
    ((90, 70), (9, 9), (45, 35), "fft"),
    ((1100, 600), (5, 5), (512, 256), "direct"),    # a result of 2 MiB and more is placed
])
def test_compute_writes_blocks_into_the_result(rng, monkeypatch, scheduler, case):
    shape, kshape, chunks, method = case
    x = rng.standard_normal(shape).astype(np.float32)
    k = rng.standard_normal(kshape).astype(np.float32)
    ref = ndconv.convolve(x, k, "same", boundary="reflect", method=method)
    lazy = ndask.convolve(da.from_array(x, chunks=chunks), k, "same", boundary="reflect",
                          method=method)
    assert isinstance(lazy, da.Array)
    no_copying_gather(monkeypatch)
    res = lazy.compute(scheduler=scheduler)
    if method == "direct":
        assert same_bits(res, ref)
    else:
        np.testing.assert_allclose(res, ref, rtol=0, atol=1e-4)   # float32 FFT of 9x9
    assert res.flags.c_contiguous and res.flags.writeable
    assert same_bits(np.asarray(lazy), res)
    assert ndask._gathers == {}


@pytest.mark.parametrize("scheduler", ["threads", "sync"])
def test_gathered_blocks_stream_as_the_whole_result_would(rng, monkeypatch, scheduler):
    # blocks written into the gathered result are told its size, so that the
    # kernel's stores stream when the whole result would (tuning.stream_bytes),
    # though each block alone stays in cache; the bits are the same either way
    from ndconv._plan import direct as _direct
    from ndconv._plan import tuning
    x = rng.standard_normal((256, 200)).astype(np.float32)
    k = rng.standard_normal((5, 5)).astype(np.float32)
    ref = ndconv.convolve(x, k, "same", boundary="reflect", method="direct")
    seen = []
    real = ndask._block_plan

    def told(spec, win, w_shape, n_threads, written):
        seen.append(written)
        return real(spec, win, w_shape, n_threads, written)
    monkeypatch.setattr(ndask, "_block_plan", told)
    lazy = ndask.convolve(da.from_array(x, chunks=(64, 100)), k, "same", boundary="reflect",
                          method="direct")
    with tuning.override(stream_bytes=x.nbytes // 2):
        assert _direct._residence((64, 100), 4, written=x.nbytes) == (True, True)
        assert _direct._residence((64, 100), 4) == (False, False)
        assert same_bits(lazy.compute(scheduler=scheduler), ref)
        assert len(seen) == 8 and all(w >= x.nbytes for w in seen)
        # blocks that are results of their own (stored, persisted) are not told
        seen.clear()
        target = np.empty_like(ref)
        da.store(lazy, target, scheduler=scheduler)
        assert same_bits(target, ref) and seen == [0] * 8


def test_blocks_keep_their_plans_between_computations(rng):
    """A block plans its call once (``_block_plan``) and later computations
    reuse the plan; a change of settings, of thread count or of where the
    block is written plans again, and a pickled block (a graph shipped to
    dask.distributed) carries no plan.  The bits stay the in-memory call's."""
    from ndconv._plan import tuning
    x = rng.standard_normal((96, 80)).astype(np.float32)
    k = rng.standard_normal((5, 3)).astype(np.float32)
    ref = ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
    lazy = ndask.correlate(da.from_array(x, chunks=(40, 30)), k, "same", boundary="reflect",
                           method="direct")
    graph = dict(lazy.__dask_graph__())
    specs = [task[2] for key, task in graph.items()
             if isinstance(key, tuple) and key[0] == lazy.name]
    assert len(specs) == 9 and all(spec.plans == {} for spec in specs)
    assert same_bits(lazy.compute(scheduler="threads"), ref)
    first = [dict(spec.plans) for spec in specs]
    assert all(len(plans) == 1 for plans in first)
    assert same_bits(lazy.compute(scheduler="threads"), ref)
    assert all(spec.plans.keys() == plans.keys()
               and all(spec.plans[key] is plan for key, plan in plans.items())
               for spec, plans in zip(specs, first))
    # new settings plan again (their tiles may differ), and give the same bits
    with tuning.override(window_tile_rows=5, alone_tile_bytes=4096):
        assert same_bits(lazy.compute(scheduler="threads"), ref)
    assert all(len(spec.plans) == 2 for spec in specs)
    # stored, each block is written on its own (another plan); one task at a
    # time on both threads (another); no block keeps more than _KEEP_PLANS
    target = np.empty_like(ref)
    da.store(lazy, target, scheduler="threads")
    assert same_bits(target, ref) and all(len(spec.plans) == 3 for spec in specs)
    assert same_bits(lazy.compute(scheduler="sync"), ref)
    # (tasks in the calling thread take every thread: the same count as in
    # the pool's on a one-core machine)
    threads = {key[2] for spec in specs for key in spec.plans}
    assert all(len(spec.plans) == 2 + len(threads) for spec in specs)
    with tuning.override(alone_tile_bytes=8192):
        assert same_bits(lazy.compute(scheduler="threads"), ref)
    assert all(len(spec.plans) == 1 for spec in specs) and ndask._KEEP_PLANS == 4
    shipped = pickle.loads(pickle.dumps(specs[4]))
    assert shipped.plans == {} and shipped.win_shape == specs[4].win_shape
    window = specs[4].window
    out = ndask._compute_block(graph[next(key for key in graph if isinstance(key, str)
                                          and key.startswith("ndconv-kernel"))], shipped)
    assert window is not None and same_bits(out, ref[40:80, 30:60])
    assert len(shipped.plans) == 1


@pytest.mark.parametrize("shape, chunks, kshape, in_place", [
    ((90, 70), (32, 25), (5, 5), True),             # rows of the result, at a pitch
    ((90, 70), (20, 70), (3, 3), True),             # whole rows: contiguous parts
    ((300, 3), (100, 3), (3, 3), False),            # computed along axis 0: a buffer
    ((9, 12, 40), (4, 12, 17), (3, 1, 5), True),    # 3-D, the middle axis whole: rows
    ((9, 12, 40), (4, 5, 17), (3, 1, 5), False),    # 3-D, parts of the middle axis
    ((5, 600, 4), (5, 200, 4), (1, 3, 1), False),   # computed along axis 1
    ((500,), (128,), (7,), True),                   # 1-D: contiguous
])
def test_a_blocks_rows_are_those_of_its_part_of_the_result(rng, shape, chunks, kshape,
                                                          in_place):
    """The rows a block's kernel writes in the gathered result (``_place``,
    made once per block and kept) are exactly those that ``DirectPlan.run``
    finds for its part of the array (``_row_pitch``, ``_row_span``), or none
    where the part's rows in the block's compute order are not rows of the
    array; the bits are the in-memory call's either way."""
    from ndconv._plan import direct as _direct
    from ndconv._plan import placement
    x = rng.standard_normal(shape).astype(np.float32)
    k = rng.standard_normal(kshape).astype(np.float32)
    ref = ndconv.convolve(x, k, "same", boundary="reflect", method="direct")
    lazy = ndask.convolve(da.from_array(x, chunks=chunks), k, "same", boundary="reflect",
                          method="direct")
    specs = [task[2] for key, task in dict(lazy.__dask_graph__()).items()
             if isinstance(key, tuple) and key[0] == lazy.name]
    assert [spec.number for spec in specs] == list(range(len(specs)))
    assert same_bits(lazy.compute(), ref)
    slab = placement.empty(ref.shape, ref.dtype)
    flat = slab.reshape(-1)
    written = 0
    for spec in specs:
        assert spec.place is not None      # kept by the computation
        box, first, length, pitch = spec.place
        assert box == tuple(slice(o, o + n) for o, n in zip(spec.origin, spec.out_shape))
        op = slab[box].transpose(spec.order)
        if op.flags.c_contiguous:
            assert (pitch, length) == (-1, op.size)
            expect = op.reshape(-1)
        elif _direct._row_pitch(op) is None:
            assert (first, length, pitch) == (None, None, None)
            continue
        else:
            assert pitch == _direct._row_pitch(op)
            expect = _direct._row_span(op, pitch)
        rows = flat[first:first + length]
        assert rows.shape == expect.shape
        assert (rows.__array_interface__["data"][0] == expect.__array_interface__["data"][0])
        written += 1
    assert written == (len(specs) if in_place else 0)


def test_a_kept_window_span_is_the_windows_own_memory(rng):
    """A block whose window the graph holds keeps the window's span for the
    kernel (``_block_plan``) only when it is the window's own memory, never a
    copy, so that later values of that memory are read: scaled by -2 in place,
    the block is exactly -2 times what it was (every product and sum scales
    exactly).  An unaligned window, which the kernel reads from a copy made
    per call, keeps none."""
    x = rng.standard_normal((60, 50))
    k = rng.standard_normal((3, 5))
    lazy = ndask.correlate(da.from_array(x, chunks=(25, 20)), k, "same", boundary="reflect",
                           method="direct")
    graph = dict(lazy.__dask_graph__())
    w = next(v for key, v in graph.items() if isinstance(key, str)
             and key.startswith("ndconv-kernel"))
    specs = [task[2] for key, task in graph.items()
             if isinstance(key, tuple) and key[0] == lazy.name]
    ref = ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
    assert same_bits(lazy.compute(), ref)
    for spec in specs:
        (plan, span), = spec.plans.values()
        assert spec.window is not None and np.may_share_memory(span, spec.window)
    spec = specs[4]
    box = tuple(slice(o, o + n) for o, n in zip(spec.origin, spec.out_shape))
    for aligned in (True, False):
        win = spec.window
        reach = sum((n - 1) * st for n, st in zip(win.shape, win.strides)) + win.itemsize
        raw = np.empty(reach + 8, dtype=np.uint8)
        # the window's layout, at an address that is, or is not, a multiple of 8
        moved = np.ndarray(win.shape, win.dtype, buffer=raw, offset=0 if aligned else 1,
                           strides=win.strides)
        moved[...] = win
        assert moved.flags.aligned is aligned
        spec.window, spec.plans = moved, {}
        first = ndask._compute_block(w, spec)
        assert same_bits(first, ref[box])
        (plan, span), = spec.plans.values()
        assert (span is not None and np.may_share_memory(span, moved)) if aligned else span is None
        moved *= -2.0
        assert same_bits(ndask._compute_block(w, spec), -2.0 * first)
        spec.window = win


def test_a_graph_whose_blocks_hold_their_windows_leaves_out_the_input(rng):
    # blocks that hold their windows (an input in memory) read no task of
    # the input's, whose layers are then not in the result's graph (nothing
    # for dask to cull on every compute()); an input that dask computes stays
    x = rng.standard_normal((40, 30))
    k = rng.standard_normal((3, 3))
    ref = ndconv.convolve(x, k, "same", method="direct")
    held = da.from_array(x, chunks=(20, 15))
    computed = held * 1
    for d, alone in ((held, True), (computed, False)):
        lazy = ndask.convolve(d, k, "same", method="direct")
        layers = set(lazy.__dask_graph__().layers)
        assert (layers == {lazy.name}) is alone and (d.name in layers) is not alone
        both = dask.compute(d, lazy)
        assert same_bits(both[0], x) and same_bits(both[1], ref)
        assert same_bits(lazy.compute(), ref)


def test_compute_hands_a_thread_its_blocks_in_runs(rng, monkeypatch):
    # dask's local schedulers hand out one task at a time unless given a
    # chunksize; compute() of a result whose tasks are all its blocks (the input
    # in memory), where dask computes it (here: a callback watches the tasks),
    # hands a thread its blocks in runs of half its share (16 blocks, 2
    # threads: runs of 4), unless the caller chose a chunksize, and the bits
    # are the in-memory call's either way
    import dask
    import dask.local
    from dask.callbacks import Callback
    batches = []
    real = dask.local.batch_execute_tasks

    def spy(args):
        batches.append(len(args))
        return real(args)
    monkeypatch.setattr(dask.local, "batch_execute_tasks", spy)
    x = rng.standard_normal((64, 64)).astype(np.float32)
    k = rng.standard_normal((3, 3)).astype(np.float32)
    ref = ndconv.convolve(x, k, "same", boundary="reflect", method="direct")
    lazy = ndask.convolve(da.from_array(x, chunks=16), k, "same", boundary="reflect",
                          method="direct")
    for workers, chosen, runs in ((2, None, 4), (4, None, 2), (1, None, 8),
                                  (2, {"chunksize": 1}, 1), (2, {"config": 3}, 3)):
        batches.clear()
        config = {"scheduler": "threads", "num_workers": workers}
        kwargs = {}
        if chosen and "config" in chosen:
            config["chunksize"] = chosen["config"]
        elif chosen:
            kwargs = chosen
        with dask.config.set(config), Callback():
            assert same_bits(lazy.compute(**kwargs), ref)
        # the 16 blocks, and the gather's task
        assert sum(batches) == 17 and max(batches) == runs, (workers, chosen, batches)
    # dask.compute, and a result whose input dask computes, take dask's own
    # default: one task at a time
    for res_of in (lambda: dask.compute(lazy)[0],
                   lambda: ndask.convolve(da.from_array(x, chunks=16) * 1, k, "same",
                                          boundary="reflect", method="direct").compute()):
        batches.clear()
        with dask.config.set(scheduler="threads", num_workers=2):
            assert same_bits(res_of(), ref)
        assert max(batches) == 1


def _spy_blocks(monkeypatch):
    """Record, per block computed, (its number, the thread, its call's
    threads), and make dask's local schedulers fail: a compute() that then
    passes ran its blocks itself."""
    import dask.local
    import dask.threaded
    seen = []
    real = ndask._block_plan

    def spy(spec, win, w_shape, n_threads, written):
        seen.append((spec.number, threading.get_ident(), n_threads))
        return real(spec, win, w_shape, n_threads, written)

    def scheduled(*args, **kwargs):
        raise AssertionError("dask scheduled the blocks")
    monkeypatch.setattr(ndask, "_block_plan", spy)
    monkeypatch.setattr(dask.local, "get_async", scheduled)
    monkeypatch.setattr(dask.threaded, "get_async", scheduled)
    return seen


@pytest.mark.parametrize("shape, chunks", [((64, 60), (16, 15)), ((9, 12, 40), (3, 5, 17)),
                                           ((300,), (7,))])
def test_compute_runs_the_blocks_itself(rng, monkeypatch, shape, chunks):
    """compute() of a result whose tasks are all its blocks, under dask's
    threaded scheduler (num_workers threads) or its synchronous one, with
    nothing watching the tasks, computes every block once, on the calling
    thread (alone, synchronous) and at most num_workers - 1 others, each block's call taking its
    share of the threads, into one array that it returns (no copy)."""
    x = rng.standard_normal(shape).astype(np.float32)
    k = rng.standard_normal((3,) * len(shape)).astype(np.float32)
    ref = ndconv.convolve(x, k, "same", boundary="reflect", method="direct")
    lazy = ndask.convolve(da.from_array(x, chunks=chunks), k, "same", boundary="reflect",
                          method="direct")
    seen = _spy_blocks(monkeypatch)
    no_copying_gather(monkeypatch)
    me = threading.get_ident()
    for config, kwargs, runners in (({"scheduler": "threads", "num_workers": 3}, {}, 3),
                                    ({"scheduler": "threads"}, {"num_workers": 2}, 2),
                                    ({"scheduler": "threads"}, {}, dask.system.CPU_COUNT),
                                    ({}, {}, dask.system.CPU_COUNT),     # the array default
                                    ({"scheduler": "sync"}, {}, 1),
                                    ({}, {"scheduler": "single-threaded"}, 1),
                                    ({"num_workers": 2}, {"optimize_graph": False}, 2)):
        seen.clear()
        with dask.config.set(config):
            res = lazy.compute(**kwargs)
        assert same_bits(res, ref), (config, kwargs)
        assert sorted(n for n, _, _ in seen) == list(range(lazy.npartitions))
        threads = {t for _, t, _ in seen}
        # (helpers already awake may leave the calling thread no block)
        assert len(threads) <= runners and (runners > 1 or threads == {me}), (config, kwargs)
        share = max(1, ndconv._core.omp_max_threads() // runners)
        assert {n for _, _, n in seen} == {share}
        assert res.flags.c_contiguous and res.flags.writeable
        assert ndask._gathers == {}
    # numpy.asarray computes the same way
    seen.clear()
    assert same_bits(np.asarray(lazy), ref) and len(seen) == lazy.npartitions


def test_compute_leaves_to_dask_what_it_would_not_run_alike(rng, monkeypatch):
    """Where dask's computation would differ -- a callback watching the
    tasks, a pool or scheduler of the caller's, a keyword for the scheduler,
    dask.compute, a graph with tasks besides the blocks -- dask computes the
    blocks, with the same bits."""
    from concurrent.futures import ThreadPoolExecutor

    import dask.local
    from dask.callbacks import Callback
    x = rng.standard_normal((64, 60)).astype(np.float32)
    k = rng.standard_normal((3, 3)).astype(np.float32)
    ref = ndconv.convolve(x, k, "same", boundary="reflect", method="direct")
    lazy = ndask.convolve(da.from_array(x, chunks=(16, 15)), k, "same", boundary="reflect",
                          method="direct")
    import dask.threaded
    calls = []
    real = dask.local.get_async

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(dask.local, "get_async", counted)
    monkeypatch.setattr(dask.threaded, "get_async", counted)
    starts = []
    pool = ThreadPoolExecutor(2)
    try:
        for config, compute in (
                ({}, lambda: lazy.compute(scheduler="threads", chunksize=2)),
                ({"scheduler": "threads", "pool": pool}, lazy.compute),
                ({}, lambda: lazy.compute(scheduler=pool)),
                ({}, lambda: lazy.compute(
                    scheduler=lambda dsk, keys, **kw: dask.local.get_sync(dsk, keys, **kw))),
                ({}, lambda: dask.compute(lazy)[0]),
                ({}, lambda: (lazy * 1).compute()),
                ({}, lambda: ndask.convolve(da.from_array(x, chunks=(16, 15)) + 0, k, "same",
                                            boundary="reflect", method="direct").compute())):
            calls.clear()
            with dask.config.set(config):
                assert same_bits(compute(), ref)
            assert calls, (config, compute)
        calls.clear()
        with Callback(start=lambda dsk: starts.append(len(dsk))):
            assert same_bits(lazy.compute(), ref)
        assert calls and starts
        # a thread count dask's pool refuses: dask's own error
        for bad in (-1, 1.5):
            with pytest.raises((ValueError, TypeError)) as theirs:
                dask.compute(lazy, scheduler="threads", num_workers=bad)
            with pytest.raises(type(theirs.value), match=str(theirs.value)):
                lazy.compute(scheduler="threads", num_workers=bad)
    finally:
        pool.shutdown()


def test_compute_shares_blocks_and_stops_on_an_error(rng, monkeypatch):
    """The threads of compute() take the blocks of their own stretch, then the
    rest of the others' from their ends; the first error (a block's, or Ctrl-C
    in the calling thread) stops them taking more, and is raised; the next
    compute() is exact and gathers without a copy."""
    import gc
    share = ndask._Stretches(10, 3)
    alone = list(share.taken_by(0))    # the others never start
    assert alone == [0, 1, 2, 9, 5, 8, 4, 7, 3, 6]   # the longest stretch left first
    assert list(share.taken_by(1)) == list(share.taken_by(2)) == []
    share = ndask._Stretches(10, 2)
    a, b = share.taken_by(0), share.taken_by(1)
    assert [next(a), next(b), next(a), next(b)] == [0, 5, 1, 6]
    assert list(a) == [2, 3, 4, 9, 8, 7] and list(b) == []
    share = ndask._Stretches(2, 3)     # more threads than items
    assert sorted(list(share.taken_by(2)) + list(share.taken_by(1))) == [0, 1]
    # many threads at once: each item taken once
    share, got = ndask._Stretches(5000, 4), [[] for _ in range(4)]
    workers = [threading.Thread(target=lambda r: got[r].extend(share.taken_by(r)), args=(r,))
               for r in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert sorted(sum(got, [])) == list(range(5000))

    x = rng.standard_normal((64, 60)).astype(np.float32)
    k = rng.standard_normal((3, 3)).astype(np.float32)
    ref = ndconv.convolve(x, k, "same", boundary="reflect", method="direct")
    lazy = ndask.convolve(da.from_array(x, chunks=(8, 15)), k, "same", boundary="reflect",
                          method="direct")
    real = ndask._block_plan
    me = threading.get_ident()
    for error, here in ((ZeroDivisionError, True), (ZeroDivisionError, False),
                        (KeyboardInterrupt, True)):
        ran = []

        def failing(spec, *args, ran=ran, error=error, here=here):
            mine = threading.get_ident() == me
            ran.append(spec.number)
            if mine == here and (len(ran) > 3 or not mine):
                raise error("block %d" % spec.number)
            # the failing thread's partner is slow: the error stops it early
            time.sleep(0.002)
            return real(spec, *args)
        monkeypatch.setattr(ndask, "_block_plan", failing)
        with pytest.raises(error, match="block"), dask.config.set(scheduler="threads",
                                                                  num_workers=2):
            lazy.compute()
        stopped = len(ran)
        time.sleep(0.05)
        assert len(ran) <= stopped + 1 < lazy.npartitions    # the other finishes its block
        monkeypatch.setattr(ndask, "_block_plan", real)
        gc.collect()
        assert ndask._gathers == {}
        with monkeypatch.context() as m:
            no_copying_gather(m)
            with dask.config.set(scheduler="threads", num_workers=2):
                assert same_bits(lazy.compute(), ref)


def test_gathered_result_never_aliases_another(rng):
    """Where a block's memory is also another result's (a slice, the block
    itself), or two computations run at once, dask's copying gather runs and
    no two results share memory; a stored or persisted result gathers nothing."""
    import gc
    x = rng.standard_normal((80, 60))
    k = rng.standard_normal((5, 3))
    ref = ndconv.correlate(x, k, "same", boundary="edge", method="direct")
    lazy = ndask.correlate(da.from_array(x, chunks=(30, 20)), k, "same", boundary="edge",
                           method="direct")
    for other, expect in ((lazy[:5], ref[:5]), (lazy.blocks[1, 1], ref[30:60, 20:40])):
        whole, part = dask.compute(lazy, other)
        assert same_bits(whole, ref) and same_bits(part, expect)
        assert not np.shares_memory(whole, part)
    results = []

    def compute():
        for _ in range(5):
            results.append(lazy.compute())
    threads = [threading.Thread(target=compute) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 10 and all(same_bits(r, ref) for r in results)
    assert not any(np.shares_memory(a, b) for i, a in enumerate(results) for b in results[:i])
    target = np.zeros_like(ref)
    da.store(lazy, target, lock=False)
    assert same_bits(target, ref) and same_bits(lazy.persist().compute(), ref)
    # a computation that fails leaves nothing behind once it is gone
    bad = da.from_array(x, chunks=(30, 20)).map_blocks(
        lambda b: b if b.shape[0] == 30 else 1 / 0, dtype=x.dtype)
    with pytest.raises(ZeroDivisionError):
        ndask.correlate(bad, k, "same", method="direct").compute()
    gc.collect()
    assert ndask._gathers == {}
    # pickled (as dask.distributed ships a graph), a gather owns nothing
    gather = pickle.loads(pickle.dumps(ndask._Gather("name", ((2, 2),), np.float64)))
    assert gather.slab is None and gather.finalize([np.ones(2), np.ones(2)]).tolist() == [1] * 4


def test_gather_checks_that_nothing_else_holds_the_result(rng):
    """The gather hands over its array only when the blocks given to it are
    its views and nothing else refers to that memory: here the blocks come
    from another computation of the same graph while the gather is alive."""
    x = rng.standard_normal((40, 30))
    k = rng.standard_normal((3, 3))
    lazy = ndask.correlate(da.from_array(x, chunks=(20, 15)), k, "same", method="direct")
    ref = ndconv.correlate(x, k, "same", method="direct")
    for hold in (False, True):
        finalize, _ = lazy.__dask_postcompute__()
        blocks = dask.compute(lazy.to_delayed().tolist(), scheduler="sync")[0]
        assert all(b.base is not None for row in blocks for b in row)   # views of one array
        extra = blocks[1][0][3:5] if hold else None
        res = finalize(blocks)
        assert same_bits(res, ref)
        assert np.shares_memory(res, blocks[0][0]) is not hold
        del finalize, blocks, extra, res
    # a block that is not the view this gather gave its task (here a copy of
    # it): dask's gather copies them all
    finalize, _ = lazy.__dask_postcompute__()
    blocks = dask.compute(lazy.to_delayed().tolist(), scheduler="sync")[0]
    blocks[1][1] = blocks[1][1].copy()
    res = finalize(blocks)
    assert same_bits(res, ref) and not np.shares_memory(res, blocks[0][0])
    del finalize, blocks, res
    assert ndask._gathers == {}

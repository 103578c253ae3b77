"""``workers`` beyond the machine's means, and threads after ``fork()``."""
import inspect
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import subprocess_env

import ndconv
import ndconv.ndimage
import ndconv.numpy
import ndconv.signal
from ndconv import _core
from ndconv._plan.validation import resolve_workers

HUGE = (10**9, 10**20)


def _data():
    rng = np.random.default_rng(11)
    x2 = rng.standard_normal((70, 90))
    k2 = rng.standard_normal((5, 4))
    x1 = rng.standard_normal(3000)
    k1 = rng.standard_normal(31)
    xl = rng.standard_normal((2, 12, 13, 6))
    wl = rng.standard_normal((3, 3, 6, 8))
    gl = rng.standard_normal((2, 12, 13, 8))
    return x2, k2, x1, k1, xl, wl, gl


# Every public function taking ``workers``, called on small data: ``name:
# call(workers)``.  test_every_entry_point_is_listed keeps the list complete.
def _calls():
    x2, k2, x1, k1, xl, wl, gl = _data()
    return {
        "ndconv.convolve": lambda w: ndconv.convolve(x2, k2, "same", method="direct", workers=w),
        "ndconv.correlate": lambda w: ndconv.correlate(x2, k2, boundary="wrap", workers=w),
        "ndconv.convolve[fft]": lambda w: ndconv.convolve(x1, k1, method="fft", workers=w),
        "ndconv.convolve[separable]": lambda w: ndconv.convolve(
            x2, np.outer(k1[:9], k1[:9]), "same", workers=w),
        "ndconv.conv": lambda w: ndconv.conv(xl, wl, padding="same", workers=w),
        "ndconv.conv_grad": lambda w: ndconv.conv_grad(xl, wl, gl, padding="same", workers=w),
        "ndconv.match_template": lambda w: ndconv.match_template(x2, x2[3:9, 4:12], workers=w),
        "ndconv.signal.convolve": lambda w: ndconv.signal.convolve(x1, k1, workers=w),
        "ndconv.signal.correlate": lambda w: ndconv.signal.correlate(x2, k2, workers=w),
        "ndconv.signal.fftconvolve": lambda w: ndconv.signal.fftconvolve(x2, k2, workers=w),
        "ndconv.signal.oaconvolve": lambda w: ndconv.signal.oaconvolve(x1, k1, workers=w),
        "ndconv.signal.convolve2d": lambda w: ndconv.signal.convolve2d(x2, k2, workers=w),
        "ndconv.signal.correlate2d": lambda w: ndconv.signal.correlate2d(x2, k2, "same",
                                                                         "symm", workers=w),
        "ndconv.signal.choose_conv_method": lambda w: ndconv.signal.choose_conv_method(
            x2, k2, workers=w),
        "ndconv.ndimage.convolve": lambda w: ndconv.ndimage.convolve(x2, k2, workers=w),
        "ndconv.ndimage.correlate": lambda w: ndconv.ndimage.correlate(x2, k2, workers=w),
        "ndconv.ndimage.convolve1d": lambda w: ndconv.ndimage.convolve1d(x2, k1[:7], workers=w),
        "ndconv.ndimage.correlate1d": lambda w: ndconv.ndimage.correlate1d(x2, k1[:7], 0,
                                                                           workers=w),
        "ndconv.numpy.convolve": lambda w: ndconv.numpy.convolve(x1, k1, workers=w),
        "ndconv.numpy.correlate": lambda w: ndconv.numpy.correlate(x1, k1, workers=w),
        "ndconv.Stream": lambda w: _stream(x2, k1[:5], "direct", w),
        "ndconv.Stream[fft]": lambda w: _stream(x2, k1[:40], "fft", w),
    }


def _stream(x, k, method, workers):
    """Two blocks and the tail of a stream along x's last axis."""
    s = ndconv.Stream(k, method=method, workers=workers, partition=8)
    return np.concatenate([s.process(x[:, :7]), s.process(x[:, 7:]), s.flush()], axis=-1)


def test_every_entry_point_is_listed():
    listed = {name.split("[")[0] for name in _calls()}
    found = set()
    for mod in (ndconv, ndconv.signal, ndconv.ndimage, ndconv.numpy):
        for name in mod.__all__:
            f = getattr(mod, name)
            if callable(f) and "workers" in inspect.signature(f).parameters:
                found.add("%s.%s" % (mod.__name__, name))
    assert found == listed


@pytest.mark.parametrize("name", sorted(_calls()))
@pytest.mark.parametrize("workers", HUGE)
def test_absurd_workers_are_capped(name, workers):
    """A request for more threads than the machine has runs on the capped count
    (no crash, no OverflowError) and gives the 1-thread result: bitwise where
    the method is fixed, else to float64 rounding (the cost model may pick
    another method for another thread count; float64 sums of at most 100 terms
    of unit size agree to far better than 1e-10)."""
    call = _calls()[name]
    ref = call(1)
    res = call(workers)
    for a, b in zip(ref if isinstance(ref, tuple) else (ref,), res if isinstance(res, tuple) else (res,)):
        if name in ("ndconv.convolve", "ndconv.conv", "ndconv.conv_grad"):
            np.testing.assert_array_equal(a, b)
        elif isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * np.abs(a).max())
        else:
            assert a == b


def test_the_cap_rule():
    cap = _core.THREADS_PER_CPU * _core.cpus_available()
    assert _core.max_threads() == cap
    if hasattr(os, "sched_getaffinity"):
        assert _core.cpus_available() == len(os.sched_getaffinity(0))
    for w in HUGE + (cap + 1,):
        assert resolve_workers(w, 2, 2) == cap
    assert resolve_workers(cap, 2, 2) == cap
    assert resolve_workers(None, 10**6, 2) == cap      # OMP_NUM_THREADS=1000000
    assert resolve_workers(-1, 10**6, 10**6) == cap
    assert resolve_workers(3, 2, 2) == min(3, cap)


# ----------------------------------------------------------------------------- fork
FORK_CHILD = textwrap.dedent("""
    import multiprocessing as mp, os, sys
    import numpy as np
    import ndconv
    from ndconv import _core

    rng = np.random.default_rng(3)
    x = rng.standard_normal((600, 700)).astype(np.float32)
    k = rng.standard_normal((9, 9)).astype(np.float32)
    xl = rng.standard_normal((2, 40, 40, 16)).astype(np.float32)
    wl = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)

    try:
        import dask
        import dask.array
        import ndconv.dask
    except ImportError:
        dask = None

    def calls():
        # 2-thread calls, each above the library's threshold for threads; and
        # ndconv.dask's blocks under the synchronous scheduler, whose task
        # takes every thread a call may use, and run by compute() on the
        # calling thread and ndconv's helper (a child makes its own helpers).
        # (Not dask's threaded scheduler: its pool, started in the parent, has
        # no threads in a child.)
        out = (ndconv.convolve(x, k, "same", method="direct", workers=2),
               ndconv.conv(xl, wl, padding="same", workers=2))
        if dask is not None:
            lazy = ndconv.dask.convolve(dask.array.from_array(x, chunks=(300, 350)), k, "same",
                                        method="direct")
            out += dask.compute(lazy, scheduler="sync")
            out += (lazy.compute(scheduler="threads", num_workers=2),)
        return out

    def child_ok():
        assert _core.forked() and _core.max_threads() == 1
        return all(np.array_equal(a, b) for a, b in zip(calls(), ref))

    def work(_):
        return child_ok()

    ref = [ndconv.convolve(x, k, "same", method="direct", workers=1),
           ndconv.conv(xl, wl, padding="same", workers=1)]
    if dask is not None:
        ref += ref[:1] * 2
    if sys.argv[1] == "threads-first":
        calls()      # the parent's OpenMP runtime has started its worker threads
    assert not _core.forked()
    if sys.argv[2] == "multiprocessing":
        with mp.get_context("fork").Pool(2) as pool:
            ok = pool.map(work, range(4))
        assert ok == [True] * 4, ok
    else:
        pid = os.fork()
        if pid == 0:
            os._exit(0 if child_ok() else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
    # the parent keeps its threads
    assert not _core.forked() and all(np.array_equal(a, b) for a, b in zip(calls(), ref))
    print("ok")
""")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
@pytest.mark.parametrize("how", ["multiprocessing", "os.fork"])
@pytest.mark.parametrize("before", ["threads-first", "no-threads-first"])
def test_forked_children_compute_and_never_hang(tmp_path, how, before):
    """A child made by fork, after the parent ran (or did not run) a 2-thread
    call, computes the parent's results; a hang fails by the timeout."""
    try:
        proc = subprocess.run([sys.executable, "-c", FORK_CHILD, before, how], cwd=tmp_path,
                              env=subprocess_env(), capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("a forked child hung (%s, %s)" % (how, before))
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


# ----------------------------------------------------------------------------- busy machine
@pytest.fixture
def machine(monkeypatch, tuned):
    """``machine(cpus, others)``: pretend the machine has ``cpus`` CPUs and
    ``others`` runnable threads besides the caller (no threaded call just
    before), with the library's busy-machine threshold in force."""
    from ndconv._plan import threads

    tuned(load_aware=True)

    def set_state(cpus, others):
        # the workers awake (the rule for calls after a pause has tests of its own)
        monkeypatch.setattr(threads, "_after_pause", lambda n, work, now, seconds=0.0: n)
        monkeypatch.setattr(threads, "_CPUS", cpus)
        monkeypatch.setattr(threads, "runnable_others", lambda now, fresh=False: others)
        monkeypatch.setattr(threads, "_own_until", (-1.0, 1))
        monkeypatch.setattr(threads, "own_runnable", lambda: 0)
        monkeypatch.setattr(threads, "_seen", threads.collections.deque(maxlen=32))
    return set_state


def test_busy_machine_calls_use_only_idle_cpus(machine):
    from ndconv._plan.threads import threads_for

    machine(2, 1)              # the other CPU is busy
    assert threads_for(2, 10**6) == 1
    assert threads_for(2, 1 << 40) == 1        # large calls as well
    machine(2, 0)
    assert threads_for(2, 10**6) == 2
    machine(8, 5)
    assert threads_for(8, 10**6) == 3
    assert threads_for(1, 10**6) == 1
    machine(4, 40)
    assert threads_for(4, 10**6) == 1


def test_long_calls_ignore_a_burst_but_not_steady_load(machine, monkeypatch):
    """A long call that finds one other thread runnable takes every thread if
    the machine was idle at an instant of the last _STEADY_SECONDS (a burst),
    not if every recent count saw the load; short calls follow the instant."""
    from ndconv._plan import threads

    big, small = threads._STEADY_WORK, threads._STEADY_WORK // 2
    machine(2, 1)
    assert threads.threads_for(2, big) == 1          # steady so far: every count busy
    assert threads.threads_for(2, big) == 1
    machine(2, 0)
    assert threads.threads_for(2, small) == 2        # an idle instant
    monkeypatch.setattr(threads, "runnable_others", lambda now, fresh=False: 1)
    monkeypatch.setattr(threads, "_own_until", (-1.0, 1))
    assert threads.threads_for(2, small) == 1        # short calls: the instant
    assert threads.threads_for(2, big) == 2          # long calls: a burst
    # the idle instant ages out of the window: the load is steady again
    # (and the call just made has surely ended: its workers are not counted)
    monkeypatch.setattr(threads, "_own_until", (-1.0, 1))
    now = time.monotonic()
    monkeypatch.setattr(threads, "_seen", threads.collections.deque(
        [(now - 2 * threads._STEADY_SECONDS, 0), (now - 0.01, 1)], maxlen=32))
    assert threads.threads_for(2, big) == 1
    machine(8, 7)                                    # a burst on a larger machine
    monkeypatch.setattr(threads, "_seen", threads.collections.deque(
        [(time.monotonic(), 5)], maxlen=32))
    assert threads.threads_for(8, big) == 3          # the least recent count: 5 others


def test_own_spinning_workers_are_not_load(machine, monkeypatch):
    """Right after a call chose threads, its workers still spin and count as
    runnable: they are not taken for another process's load."""
    from ndconv._plan import threads

    machine(2, 0)
    assert threads.threads_for(2, 10**6) == 2
    monkeypatch.setattr(threads, "runnable_others", lambda now, fresh=False: 1)   # our worker, spinning
    assert threads.threads_for(2, 10**6) == 2
    monkeypatch.setattr(threads, "_own_until", (-1.0, 1))            # long ended: load
    assert threads.threads_for(2, 10**6) == 1
    # a long threaded call: its workers are its own until it has surely ended
    monkeypatch.setattr(threads, "runnable_others", lambda now, fresh=False: 0)
    assert threads.threads_for(2, 10**10) == 2
    monkeypatch.setattr(threads, "runnable_others", lambda now, fresh=False: 1)
    assert threads.threads_for(2, 10**6) == 2
    assert threads._own_until[0] - time.monotonic() > 4


def test_runnable_threads_of_this_process_are_not_load(machine, monkeypatch):
    """OpenMP workers of this process still spinning after another library's
    parallel region (one libgomp serves every library of the process) are
    not another process's load, for calls large enough to look."""
    from ndconv._plan import threads

    machine(2, 1)
    monkeypatch.setattr(threads, "own_runnable", lambda: 1)     # the one runnable is ours
    assert threads.threads_for(2, 1 << 30) == 2
    machine(2, 1)
    monkeypatch.setattr(threads, "own_runnable", lambda: 1)
    assert threads.threads_for(2, 10**6) == 1                  # small calls do not look
    machine(4, 3)
    monkeypatch.setattr(threads, "own_runnable", lambda: 1)
    assert threads.threads_for(4, 1 << 30) == 2                # two others are not ours


def test_a_thread_gone_to_sleep_is_counted_again(machine, monkeypatch):
    """A thread runnable at the first count and asleep at the second (a pool
    going to sleep after its own call) is not load; one runnable at both is."""
    from ndconv._plan import threads

    for counts, want in (([1, 0], 2), ([1, 1], 1), ([0], 2)):
        machine(2, None)
        seq = iter(counts)
        monkeypatch.setattr(threads, "runnable_others", lambda now, fresh=False, seq=seq: next(seq))
        assert threads.threads_for(2, 1 << 30) == want, counts
    # calls too small to look take the first count
    machine(2, None)
    seq = iter([1, 0])
    monkeypatch.setattr(threads, "runnable_others", lambda now, fresh=False: next(seq))
    assert threads.threads_for(2, 10**6) == 1


class _Regions:
    """A stand-in for the core's ``region_times``: the last region ended
    ``since`` seconds ago, its workers ready ``ready`` seconds late."""

    def __init__(self):
        self.since, self.ready = -1.0, 0.0

    def region_times(self):
        return self.since, self.ready


@pytest.fixture
def after_pause(monkeypatch):
    """``threads._after_pause`` against a stand-in of the core's region times,
    its learnt state fresh."""
    from ndconv._plan import threads

    regions = _Regions()
    monkeypatch.setattr(threads._core, "core", lambda: regions)
    monkeypatch.setattr(threads, "_wakes", threads.collections.deque(maxlen=4))
    monkeypatch.setattr(threads, "_woke", -1.0)
    monkeypatch.setattr(threads, "_rent", (0.0, -1.0))
    return regions


def test_a_call_after_a_pause_learns_the_wake_up(after_pause):
    """Workers still spinning are used; asleep, a call wakes them until one
    has measured the wake-up, and from then on a call shorter than the
    wake-up would make it wait runs on one thread, a longer one wakes them."""
    from ndconv._plan import threads

    regions, rate = after_pause, threads._FAST_RATE
    small = int(0.0001 * rate)                     # 0.1 ms on one thread, at best
    regions.since = 0.001                          # a region just ended: awake
    assert threads._after_pause(2, small, 100.0) == 2
    assert threads._woke < 0                       # nothing was woken
    regions.since = -1.0                           # no region yet: nothing learnt
    assert threads._after_pause(2, small, 100.0) == 2
    assert threads._woke == 100.0
    # that call's region ended after it began: its workers' lateness is learnt
    regions.since, regions.ready = 0.5, 0.002
    assert threads._after_pause(2, small, 101.0) == 1
    assert list(threads._wakes) == [0.002]
    # a region that ended before the waking call began teaches nothing
    threads._woke = 200.0
    regions.since = 5.0
    assert threads._after_pause(2, 10**12, 201.0) == 2
    assert list(threads._wakes) == [0.002]
    threads._woke = -1.0
    regions.since = 1.0
    # 2 ms late, twice over (start and end): calls under 4 ms stay on one thread
    assert threads._after_pause(2, int(0.0035 * rate), 300.0) == 1
    assert threads._after_pause(2, int(0.0045 * rate), 400.0) == 2
    assert threads._after_pause(3, 10**12, 500.0) == 3
    # the same 3.5 ms of work, measured at 5 ms on one thread: worth waking for
    assert threads._after_pause(2, int(0.0035 * rate), 600.0, 0.005) == 2
    assert threads._after_pause(2, int(0.0035 * rate), 700.0, 0.003) == 1


def test_calls_back_to_back_share_the_wake_up(after_pause):
    """Short calls in a burst run on one thread until together they have spent
    what waking the workers costs, then wake them; a pause starts over."""
    from ndconv._plan import threads

    regions, rate = after_pause, threads._FAST_RATE
    threads._wakes.append(0.001)                   # waking costs 2 x 1 ms
    regions.since = 1.0
    work = int(0.0005 * rate)                      # 0.5 ms each
    now, chosen = 10.0, []
    for _ in range(6):
        chosen.append(threads._after_pause(2, work, now))
        # a call on two threads leaves its workers awake for the next one
        regions.since = 0.0001 if chosen[-1] == 2 else regions.since
        now += 0.0005
    assert chosen == [1, 1, 1, 2, 2, 2]            # the 4th pays for the wake-up
    regions.since, now, chosen = 1.0, now + 1.0, []   # a pause: a new burst
    for _ in range(4):
        chosen.append(threads._after_pause(2, work, now))
        now += 0.0005
    assert chosen == [1, 1, 1, 2]


@pytest.mark.skipif(not ndconv._core.openmp_enabled(), reason="no OpenMP in this build")
def test_the_core_records_its_regions():
    """Every build records when its last parallel region ended and how late its
    workers were ready (what ``threads._after_pause`` learns from)."""
    from ndconv import _core
    from ndconv._plan import tuning

    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 96))
    for name, mod in _core.builds().items():
        with tuning.override(work_per_thread=1, load_aware=False, kernels=mod):
            ndconv.correlate(x, x[:5, :5], "same", method="direct", workers=2)
            since, ready = mod.region_times()
            assert 0 <= since < 5, name
            assert 0 <= ready < 5, name
            time.sleep(0.05)
            assert mod.region_times()[0] >= 0.05, name


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="no /proc/self/task")
def test_own_runnable_counts_a_busy_thread():
    """A thread of this process that keeps a CPU busy (hashing releases the
    GIL) counts as runnable while it runs, and not after."""
    import hashlib
    import threading

    from ndconv._plan import threads

    data = bytes(1 << 24)
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            hashlib.sha256(data).digest()

    t = threading.Thread(target=busy)
    t.start()
    try:
        seen = max(threads.own_runnable() for _ in range(200))
    finally:
        stop.set()
        t.join()
    assert seen >= 1
    assert threads.own_runnable() >= 0


def test_busy_machine_reaches_the_core(machine, core_threads):
    """A mid-size direct call and a layer call on a busy machine reach the core
    with one thread, and compute the same result."""
    seen = core_threads
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 300))
    k = rng.standard_normal((7, 7))
    machine(2, 0)
    quiet = ndconv.convolve(x, k, "same", method="direct", workers=2)
    machine(2, 1)
    busy = ndconv.convolve(x, k, "same", method="direct", workers=2)
    machine(2, 0)
    again = ndconv.convolve(x, k, "same", method="direct", workers=2)
    assert seen == [2, 1, 2]
    np.testing.assert_array_equal(again, quiet)
    machine(2, 1)
    np.testing.assert_array_equal(busy, quiet)
    import ndconv._layer as layer
    p = layer._setup(rng.standard_normal((1, 40, 40, 8)), rng.standard_normal((3, 3, 8, 8)), None,
                     1, 0, 1, 1, "constant", 0.0, "channels_last", 2)
    assert layer._threads(p, 10**6) == 1
    machine(2, 0)
    assert layer._threads(p, 10**6) == 2


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="no /proc/loadavg")
def test_runnable_count_is_read_from_the_kernel():
    from ndconv._plan import threads

    n = threads.runnable_others(float("inf"))
    with open("/proc/loadavg") as f:
        total = int(f.read().split()[3].split("/")[1])
    assert isinstance(n, int) and 0 <= n < total

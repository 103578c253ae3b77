"""Ctrl-C: every long path stops soon after SIGINT, and the next call is right.

One child process runs the long calls one after another; for each, the test
sends SIGINT shortly after the call starts and times the KeyboardInterrupt from
the moment of the signal.  The child then repeats a smaller call of the same
path (large enough to install the SIGINT handler) and compares it bitwise with
the same call made before the interruption.
"""
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import subprocess_env

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGINT") or sys.platform == "win32",
                       reason="needs POSIX signals"),
    # latencies and "the call is still running 0.3 s in" mean nothing when every
    # instruction is emulated (tools/test_aarch64.sh sets it)
    pytest.mark.skipif(bool(os.environ.get("NDCONV_EMULATED")),
                       reason="timings under instruction emulation"),
]

# Seconds from the signal to the KeyboardInterrupt, at most.
LIMIT = 0.5
# Seconds between the start of a call and the signal: the call is under way.
DELAY = 0.3

# name: (long call, smaller call of the same path).  The long calls take
# several seconds on 2 threads of a current CPU; each smaller one at least
# _ARM_WORK multiply-adds, so it runs armed as well.
CHILD = textwrap.dedent("""
    import signal, sys, time
    import numpy as np
    import ndconv

    # Python's own handler, as in any interactive session: a CI job started in
    # the background inherits SIGINT ignored, and ndconv leaves an ignored
    # SIGINT alone
    signal.signal(signal.SIGINT, signal.default_int_handler)

    rng = np.random.default_rng(0)

    def r(*shape, dtype=np.float64):
        return rng.standard_normal(shape).astype(dtype)

    def big(*shape, dtype=np.float64):
        # the long calls' values do not matter (they are stopped): skip the generator
        return np.full(shape, 0.5, dtype=dtype)

    def case(name):
        f32 = np.float32
        if name == "direct-2d":      # rolling rows / one-row blocks
            x, k = big(5000, 5000, dtype=f32), r(61, 61, dtype=f32)
            xs = r(300, 300, dtype=f32)
            return (lambda: ndconv.convolve(x, k, "same", method="direct"),
                    lambda: ndconv.convolve(xs, k, "same", method="direct"))
        if name == "missing":        # the one-pass kernel for NaN under "omit"
            x, k = big(5000, 5000, dtype=f32), r(61, 61, dtype=f32) ** 2
            x[::7, ::5] = np.nan
            xs = r(300, 300, dtype=f32)
            xs[::7, ::5] = np.nan
            return (lambda: ndconv.convolve(x, k, "same", method="direct", nan_policy="omit"),
                    lambda: ndconv.convolve(xs, k, "same", method="direct", nan_policy="omit"))
        if name == "direct-3d":
            x, k = r(200, 200, 200), r(21, 21, 21)
            xs = r(40, 40, 40)
            return (lambda: ndconv.convolve(x, k, "same", method="direct"),
                    lambda: ndconv.convolve(xs, k, "same", method="direct"))
        if name == "direct-1d":
            x, k = r(3_000_000), r(40_001)
            xs = r(100_000)
            return (lambda: ndconv.convolve(x, k, "same", method="direct"),
                    lambda: ndconv.convolve(xs, k, "same", method="direct"))
        if name == "separable":
            v = np.hanning(151).astype(f32)
            x, k = big(8000, 8000, dtype=f32), np.outer(v, v)
            xs = r(600, 600, dtype=f32)
            return (lambda: ndconv.correlate(x, k, "same", boundary="reflect"),
                    lambda: ndconv.correlate(xs, k, "same", boundary="reflect"))
        if name == "merged":
            x, k = r(200_000, 8, 8), r(41, 7, 7)
            xs = r(3000, 8, 8)
            return (lambda: ndconv.convolve(x, k, "same", method="direct"),
                    lambda: ndconv.convolve(xs, k, "same", method="direct"))
        if name.startswith("conv"):
            x, w = big(8, 160, 160, 256, dtype=f32), r(3, 3, 256, 256, dtype=f32)
            g = big(8, 160, 160, 256, dtype=f32)
            xs, gs = r(1, 16, 160, 256, dtype=f32), r(1, 16, 160, 256, dtype=f32)
            if name == "conv":      # method="auto": Winograd
                return (lambda: ndconv.conv(x, w, padding="same"),
                        lambda: ndconv.conv(xs, w, padding="same"))
            if name == "conv-direct":
                return (lambda: ndconv.conv(x, w, padding="same", method="direct"),
                        lambda: ndconv.conv(xs, w, padding="same", method="direct"))
            return (lambda: ndconv.conv_grad(x, w, g, padding="same"),
                    lambda: ndconv.conv_grad(xs, w, gs, padding="same"))
        if name == "dask":           # compute() of ndconv.dask: blocks on this thread and a helper
            import dask.array as da
            from ndconv import dask as lazily
            x, k = big(6000, 6000, dtype=f32), r(61, 61, dtype=f32)
            xs = r(600, 600, dtype=f32)
            lazy = lazily.convolve(da.from_array(x, chunks=2000), k, "same", method="direct")
            small = lazily.convolve(da.from_array(xs, chunks=200), k, "same", method="direct")
            return (lambda: lazy.compute(scheduler="threads"),
                    lambda: small.compute(scheduler="threads"))
        if name == "fft":
            x, k = big(8000, 8000, dtype=f32), r(301, 301, dtype=f32)
            xs = r(500, 500, dtype=f32)
            return (lambda: ndconv.convolve(x, k, "same", method="fft"),
                    lambda: ndconv.convolve(xs, k, "same", method="fft"))
        raise ValueError(name)

    def flat(res):
        return res if isinstance(res, tuple) else (res,)

    for name in sys.argv[1:]:
        long_call, small_call = case(name)
        before = flat(small_call())
        print("ready", name, flush=True)
        t = time.perf_counter()
        try:
            long_call()
            print("finished", name, time.perf_counter() - t, flush=True)
        except KeyboardInterrupt:
            print("stopped", name, flush=True)
        after = flat(small_call())
        same = len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after))
        print("next", name, same, flush=True)
        del long_call, small_call
""")

PATHS = ["direct-2d", "missing", "direct-3d", "direct-1d", "separable", "merged", "conv", "conv-direct",
         "conv_grad", "fft"] + (["dask"] if importlib.util.find_spec("dask") else [])


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """``{path: (seconds from SIGINT to KeyboardInterrupt or None, next call bitwise equal)}``."""
    cwd = tmp_path_factory.mktemp("interrupt")
    results = {}
    with subprocess.Popen([sys.executable, "-c", CHILD] + PATHS, stdout=subprocess.PIPE,
                          text=True, cwd=cwd, env=subprocess_env()) as proc:
        _read_results(proc, results)
    return results


def _read_results(proc, results):
    try:
        for name in PATHS:
            line = proc.stdout.readline().split()
            assert line == ["ready", name], line
            time.sleep(DELAY)
            t0 = time.perf_counter()
            proc.send_signal(signal.SIGINT)
            line = proc.stdout.readline().split()
            latency = time.perf_counter() - t0 if line[:1] == ["stopped"] else None
            assert line[1] == name, line
            line = proc.stdout.readline().split()
            assert line[:2] == ["next", name], line
            results[name] = (latency, line[2] == "True")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("path", PATHS)
def test_sigint_stops_the_call_soon(interrupted, path):
    latency, _ = interrupted[path]
    assert latency is not None, "the %s call ended before the signal: not a long call" % path
    assert latency < LIMIT, "%s: KeyboardInterrupt %.3f s after SIGINT" % (path, latency)


@pytest.mark.parametrize("path", PATHS)
def test_next_call_after_interrupt_is_bitwise_equal(interrupted, path):
    assert interrupted[path][1]


HANDLER_CHILD = textwrap.dedent("""
    import os, signal, threading, time
    import numpy as np
    import ndconv

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2000, 2000)).astype(np.float32)
    k = rng.standard_normal((25, 25)).astype(np.float32)
    # each call lasts well over the signals' period on a fast, quiet machine
    # too (1500^2 took 12-15 ms on two threads of an Intel Xeon: a call that
    # ended before the first signal, 10 ms in, failed one run in twenty)
    xl = rng.standard_normal((16, 64, 64, 64)).astype(np.float32)
    wl = rng.standard_normal((3, 3, 64, 64)).astype(np.float32)
    gl = rng.standard_normal((16, 64, 64, 64)).astype(np.float32)
    calls = {"convolve": lambda: (ndconv.convolve(x, k, "same", method="direct"),),
             "conv_grad": lambda: ndconv.conv_grad(xl, wl, gl, padding="same")}
    seen = []
    signal.signal(signal.SIGINT, lambda *a: seen.append(1))
    for name, call in calls.items():
        ref = call()
        seen.clear()
        done = threading.Event()

        def keep_interrupting():
            # SIGINT at once, then every 10 ms for as long as the call runs
            os.kill(os.getpid(), signal.SIGINT)
            while not done.wait(0.01):
                os.kill(os.getpid(), signal.SIGINT)

        t = threading.Thread(target=keep_interrupting)
        t.start()
        try:
            res = call()
        finally:
            done.set()
            t.join()
        same = all(np.array_equal(a, b) for a, b in zip(res, ref))
        print(name, len(seen) > 0, same, flush=True)
    # the handler in force after the calls is the user's
    print("restored", signal.getsignal(signal.SIGINT) is not signal.default_int_handler, flush=True)
""")


def test_a_handler_that_does_not_raise_gets_a_complete_result(tmp_path):
    """A user's SIGINT handler that returns, and signals every 10 ms: the calls
    still end (computed once more, to the end, after the first stop) and return
    the whole, correct result."""
    try:
        out = subprocess.run([sys.executable, "-c", HANDLER_CHILD], capture_output=True, text=True,
                             cwd=tmp_path, env=subprocess_env(), timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail("a call kept restarting under repeated signals")
    lines = out.stdout.split("\n")
    assert out.returncode == 0, out.stderr[-2000:]
    assert lines[:3] == ["convolve True True", "conv_grad True True", "restored True"], out.stdout


def test_handler_is_restored_after_a_long_call(request):
    """The handler an armed call installs is gone afterwards: Python's is back."""
    import ndconv

    # Python's own handler (the suite may run with SIGINT ignored, as background jobs do)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, inherited))
    before = signal.getsignal(signal.SIGINT)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((400, 400))
    k = rng.standard_normal((15, 15))
    ndconv.convolve(x, k, "same", method="direct")
    assert signal.getsignal(signal.SIGINT) is before
    # and Python's C-level handler still works: a signal raised now is Python's
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
        time.sleep(0.1)   # the handler runs at the next bytecode boundary

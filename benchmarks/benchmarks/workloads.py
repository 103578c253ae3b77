"""The reference workloads W1-W9 of ``ndconv bench``, at their full sizes.

Each class times ndconv (``method="auto"``, default options) and, in the same
class, the best-known call of each installed peer library for the same
problem and boundary convention (``ndconv._tools.bench.peers``): scipy.signal,
scipy.ndimage and numpy always, OpenCV and torch when installed.  Parameters:
workload, boundary (numpy.pad names), library, threads.  Combinations that do
not exist (a library without that convention or dimension, a peer with no
thread control at 2 threads) are skipped.
"""
import contextlib

from ndconv._tools import bench as _bench

LIBS = ["ndconv"] + list(_bench.LIBRARIES)
THREADS = [1, 2]
MAX_SECONDS = 10.0  # leave out peers whose single call is estimated longer


class _Workload:
    params = None
    param_names = ["workload", "boundary", "lib", "threads"]
    timeout = 300
    # the slow baselines take seconds per call: a few samples are enough
    repeat = (1, 5, 20.0)
    number = 1

    def setup(self, wid, boundary, lib, threads):
        w = _bench.workload(wid)
        if boundary not in w.boundaries:
            raise NotImplementedError("%s has no %s case" % (wid, boundary))
        # import only this library: every benchmark runs in a fresh process
        mods = _bench.peer_modules([] if lib == "ndconv" else [lib])
        x, k, factors = w.data("full")
        if lib == "ndconv":
            peer = _bench.ndconv_call(x, k, boundary, w.mode)
        else:
            cands = [p for p in _bench.peers(x, k, boundary, w.mode, factors, mods) if p.lib == lib]
            if not cands:
                raise NotImplementedError("%s: no %s call for %s" % (wid, lib, boundary))
            peer = cands[0]
            if threads > 1 and not peer.threaded:
                raise NotImplementedError("%s ignores thread settings" % peer.name)
            est = _bench.estimate_seconds(peer)
            if est is not None and est > MAX_SECONDS:
                # torch's direct conv1d with 2^14-2^16 taps takes minutes
                raise NotImplementedError("%s: estimated %.0f s per call" % (peer.name, est))
        self.fn = peer.call
        self.threads = threads
        self._ctx = contextlib.ExitStack()
        self._ctx.enter_context(_bench.thread_settings(threads, mods))

    def teardown(self, *params):
        ctx = getattr(self, "_ctx", None)
        if ctx is not None:
            ctx.close()

    def time_convolve(self, wid, boundary, lib, threads):
        self.fn(self.threads)


def _params(ids):
    bnds = []
    for wid in ids:
        for b in _bench.workload(wid).boundaries:
            if b not in bnds:
                bnds.append(b)
    return [ids, bnds, LIBS, THREADS]


class W1FIR(_Workload):
    """1-D FIR, 2^20 samples, 31 taps, zero boundary."""
    params = _params(["W1"])


class W2LongFIR(_Workload):
    """1-D long FIR, 2^20 samples, 2^14 and 2^16 taps, full output."""
    params = _params(["W2a", "W2b"])


class W3SmallKernels(_Workload):
    """2048^2 float32 image, 3x3 and 5x5, both reflecting conventions."""
    params = _params(["W3a", "W3b"])


class W4LargeKernels(_Workload):
    """2048^2 float32 image, 15x15 random and 15x15 Gaussian (separable)."""
    params = _params(["W4a", "W4b"])


class W5Volume(_Workload):
    """256^3 float32 volume, 5x5x5."""
    params = _params(["W5"])


class W7Float64(_Workload):
    """1024^2 float64 image, 7x7."""
    params = _params(["W7"])


class W8FourD(_Workload):
    """48^4 float32, 3^4, zero boundary."""
    params = _params(["W8"])


class W9SmallCalls(_Workload):
    """Small calls, where the cost of a call shows: 256^2 float32 with 3x3 and
    7x7, 4096 samples with 31 taps."""
    params = _params(["W9a", "W9b", "W9c"])
    repeat = (5, 20, 5.0)
    number = 20

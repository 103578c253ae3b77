"""Timing ndconv and the peers on the workloads, and the record of the machine."""
import functools
import math
import os
import platform
import sys
import time

import numpy as np

from ..progress import Progress
from ..timing import interleaved, median_time
from .libraries import ndconv_call, peer_modules, peers, thread_settings
from .workloads import SIZES, select


def to_numpy(y):
    if hasattr(y, "detach"):  # torch tensor
        y = y.detach().numpy()
    return np.asarray(y)


def relative_error(y, ref):
    """``max|y - ref| / max|ref|`` (inf when the shapes differ)."""
    y = to_numpy(y)
    if y.shape != ref.shape:
        return math.inf
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(y.astype(np.float64) - ref))) / scale


def agreement_tolerance(dtype):
    """Largest relative difference from ndconv's result that still counts as the
    same computation.  This checks conventions (a wrong boundary or centring
    gives O(1) differences), not accuracy: float32 FFT and DFT paths of the
    peers differ from a direct sum by about eps*log2(N)*sqrt(K) relative to the
    largest output, far below 1e-3 for these sizes."""
    return 1e-3 if np.dtype(dtype).itemsize <= 4 else 1e-9


# size -> (budget s per call, min reps, max reps, max MACs of a slow direct peer, probe limit s)
_SETTINGS = {
    "full": (0.5, 5, 15, math.inf, 10.0),
    "quick": (0.08, 3, 9, 3e8, 2.0),
    "tiny": (0.0, 1, 1, math.inf, 2.0),
}


def run(size="full", threads=(1, 2), only="", budget=None, progress=None, seed=0, verbose=None,
        mods=None):
    """Time ndconv and every installed peer on the workloads.

    Returns a dict: ``meta`` (machine, versions, settings) and ``rows``, one per
    (workload, boundary, threads, call) with ``median_s``, ``status`` ("ok",
    "mismatch", "skipped: ...", "error: ...") and, for ok peer calls,
    ``ratio`` = ndconv's median / this call's median.  ``mods`` are the peer
    libraries' modules as :func:`peer_modules` gives them (the default: every
    installed one); a dict with fewer runs without the others.
    """
    if size not in SIZES:
        raise ValueError("size must be one of %s, got %r" % (", ".join(map(repr, SIZES)), size))
    threads = [int(t) for t in threads]
    if not threads or min(threads) < 1:
        raise ValueError("threads must be positive integers, got %r" % (threads,))
    b_default, min_reps, max_reps, max_macs, probe_limit = _SETTINGS[size]
    budget = b_default if budget is None else float(budget)
    mods = peer_modules() if mods is None else mods
    chosen = [w for w in select(only) if w.sizes.get(size) is not None]

    plans = []  # (workload, arrays, [(boundary, [calls])])
    for w in chosen:
        x, k, factors = w.data(size, seed)
        per_b = []
        for b in w.boundaries:
            calls = [ndconv_call(x, k, b, w.mode)] + peers(x, k, b, w.mode, factors, mods)
            per_b.append((b, calls))
        plans.append((w, per_b))
    total = sum(len(calls) * len(threads) for _, per_b in plans for _, calls in per_b)
    bar = Progress(total, enabled=progress)

    rows = []
    single = {}  # results of calls that ignore thread settings, by (wid, boundary, name)
    for w, per_b in plans:
        for b, calls in per_b:
            for t in threads:
                todo, rows_t = [], []
                for c in calls:
                    bar.update("%s %s t=%d %s" % (w.wid, b, t, c.name))
                    row = {"wid": w.wid, "workload": w.describe(size), "boundary": b, "threads": t,
                           "lib": c.lib, "family": c.family if c.lib != "ndconv" else "ndconv",
                           "call": c.name, "threaded": c.threaded, "size": size,
                           "shape": list(w.sizes[size][0]), "kshape": list(w.sizes[size][1]),
                           "dtype": w.dtype.name}
                    key = (w.wid, b, c.name)
                    if not c.threaded and key in single:
                        row.update({kk: v for kk, v in single[key].items()
                                    if kk in ("median_s", "reps", "status", "rel_err")})
                        row["reused"] = True
                    else:
                        todo.append((c, row))
                    rows_t.append(row)
                with thread_settings(t, mods):
                    timed = time_calls([c for c, _ in todo], t, w.dtype, budget, min_reps,
                                       max_reps, max_macs, probe_limit)
                for (c, row), r in zip(todo, timed):
                    row.update(r)
                    if not c.threaded:
                        single[(w.wid, b, c.name)] = row
                t_nd = next((row["median_s"] for c, row in zip(calls, rows_t)
                             if c.lib == "ndconv" and row["status"] == "ok"), None)
                for c, row in zip(calls, rows_t):
                    if row["status"] == "ok" and c.lib != "ndconv" and t_nd:
                        row["ratio"] = t_nd / row["median_s"]
                    rows.append(row)
                    bar.step()
                    if verbose:
                        _print_row(row, verbose)
    bar.close()
    return {"meta": machine_info(size=size, threads=threads, budget=budget, seed=seed,
                                 only=only, mods=mods), "rows": rows}


# A peer whose first run took more than this many times the fastest call's is
# timed on its own: it cannot be the fastest, and in the rounds it would leave
# the fast calls a few timed runs each.
_SOLO = 20.0


def _skip(c, max_macs, probe_limit):
    """``{"status": "skipped: ..."}`` for a peer not to be run at this size, else
    ``{}`` (with ``estimate_s`` where the peer has a probe)."""
    out = {}
    if c.lib != "ndconv" and c.macs > max_macs:
        out["status"] = "skipped: %.1e multiply-adds (slow direct path; not in this run size)" % c.macs
        return out
    try:
        est = estimate_seconds(c)
    except Exception as exc:  # noqa: BLE001 - one failing peer must not stop the run
        out["status"] = "error: %s: %s" % (type(exc).__name__, str(exc)[:100])
        return out
    if est is not None:
        out["estimate_s"] = est
        if est > probe_limit:
            out["status"] = "skipped: estimated %.0f s per call" % est
    return out


def estimate_seconds(peer):
    """Estimated seconds of one call of a peer with a ``probe`` (long 1-D direct
    calls), from a small slice; None for other peers."""
    if peer.probe is None:
        return None
    fn, scale = peer.probe
    fn()
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * scale


def time_calls(calls, t, dtype, budget, min_reps=3, max_reps=15, max_macs=math.inf,
               probe_limit=math.inf):
    """Time :class:`Peer` calls of one problem at ``t`` threads (inside
    :func:`thread_settings`), in the same interleaved rounds
    (:func:`..timing.interleaved`) but for those far slower than the fastest,
    timed on their own.

    Returns one dict per call: ``status`` ("ok", "mismatch", "skipped: ...",
    "error: ...") and, when it ran, ``median_s``, ``reps`` and (peers) ``rel_err``
    against ndconv's result (the call of lib "ndconv" among ``calls``, if any).
    """
    out = [_skip(c, max_macs, probe_limit) for c in calls]
    first, ys = {}, {}
    for i, c in enumerate(calls):
        if "status" in out[i]:
            continue
        try:
            t0 = time.perf_counter()
            ys[i] = to_numpy(c.call(t))
            first[i] = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - one failing peer must not stop the run
            out[i]["status"] = "error: %s: %s" % (type(exc).__name__, str(exc)[:100])
    # a first call pays for plans, caches and threads, so ndconv's always takes
    # part; a peer whose first call misleads is timed on its own, no less exactly
    fastest = min(first.values(), default=0.0)
    together = [i for i in first if first[i] <= _SOLO * fastest or calls[i].lib == "ndconv"]
    try:
        timed = interleaved([functools.partial(calls[i].call, t) for i in together], budget,
                            min_reps, max_reps)
    except Exception:  # noqa: BLE001 - a call failed in the rounds: each on its own below
        timed = None
    else:
        for i, (med, _, _, _, reps) in zip(together, timed):
            out[i].update(median_s=med, reps=reps, status="ok")
    for i in first:
        if timed is None or i not in together:
            try:
                med, reps, _ = median_time(functools.partial(calls[i].call, t), budget,
                                           min_reps, max_reps)
            except Exception as exc:  # noqa: BLE001 - one failing peer must not stop the run
                out[i]["status"] = "error: %s: %s" % (type(exc).__name__, str(exc)[:100])
                ys.pop(i)
                continue
            out[i].update(median_s=med, reps=reps, status="ok")
    ref = next((ys[i].astype(np.float64) for i in ys if calls[i].lib == "ndconv"), None)
    for i in ys:
        if calls[i].lib != "ndconv" and ref is not None:
            err = relative_error(ys[i], ref)
            out[i]["rel_err"] = err
            if not err <= agreement_tolerance(dtype):
                out[i]["status"] = "mismatch"
    return out


def _print_row(row, stream):
    stream = sys.stderr if stream is True else stream
    if row["status"] == "ok":
        extra = "  x%.2f" % row["ratio"] if "ratio" in row else ""
        print("  %-5s %-9s t=%d  %-52s %9.3f ms%s" % (row["wid"], row["boundary"], row["threads"],
                                                       row["call"][:52], row["median_s"] * 1e3, extra),
              file=stream)
    else:
        print("  %-5s %-9s t=%d  %-52s %s" % (row["wid"], row["boundary"], row["threads"], row["call"][:52],
                                              row["status"]), file=stream)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(mods=None, **settings):
    """Machine, library versions and ndconv's configuration, for the record."""
    import ndconv

    from ..._config import config
    mods = peer_modules() if mods is None else mods
    versions = {"numpy": np.__version__}
    for name, mod in (("scipy", "scipy.signal"), ("OpenCV", "cv2"), ("torch", "torch")):
        m = mods.get(mod)
        if m is not None:
            versions[name] = getattr(sys.modules.get(mod.split(".")[0]), "__version__", "?")
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": _cpu_model(), "cores": os.cpu_count(),
            "machine": platform.machine(), "python": platform.python_version(),
            "ndconv": ndconv.__version__, "ndconv_config": config(), "versions": versions,
            "load_average_1min": load,
            # these slow numpy's OpenBLAS (peerbench warns about them too)
            "openblas_env": {v: os.environ[v] for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                             if v in os.environ}}
    meta.update(settings)
    return meta


# ----------------------------------------------------------------------------- report

"""OpenMP's wait policy for ndconv's own runtime, without touching the process.

libgomp reads its wait policy once, when it is loaded.  Its default spins
threads for 300,000 rounds at every barrier; on a 2-core machine with one other
busy process a spinning thread starves the one still working, and 2-thread
calls ran 10-20x slower than 1-thread ones.  Purely passive waiting (spin 0)
has the opposite problem on an idle VM: the worker sleeps between calls, its
vCPU halts, and waking it costs 50 us to milliseconds, so 2-thread calls of
1-4 ms ran no faster than 1-thread ones.  A short spin bridges the gap between
back-to-back calls and then sleeps.  ``benchmarks/wait_policy.py`` times
small 1- and 2-thread calls, back to back and after a pause, under any policy.

The variables are set only while ndconv's runtime loads, and the environment is
restored right after: OpenMP runtimes loaded later in the process (torch's,
scikit-learn's, each a copy of its own) and subprocesses see the caller's
environment.  Values the user sets for either variable are kept (PASSIVE with
``GOMP_SPINCOUNT=0`` is the setting for a shared, busy machine).
"""
import os

POLICY = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "100000"}


def _openmp_runtimes():
    """Paths of the OpenMP runtimes mapped into this process, or None where the
    platform does not say (no ``/proc``)."""
    try:
        with open("/proc/self/maps") as f:
            return {line.split(None, 5)[-1].strip() for line in f
                    if "libgomp" in line or "libomp" in line or "libiomp" in line}
    except OSError:
        return None


def load(import_core):
    """Call ``import_core()`` (which loads ndconv's OpenMP runtime) with the wait
    policy in the environment, then restore the environment exactly.

    Returns ``(module, description)``: what ``import_core`` returned, and the
    policy ndconv's runtime got, for ``show_config``.
    """
    user = {k: os.environ[k] for k in POLICY if k in os.environ}
    before = _openmp_runtimes()
    if not user:
        os.environ.update(POLICY)
    try:
        module = import_core()
    finally:
        if not user:
            for k in POLICY:
                del os.environ[k]
    after = _openmp_runtimes()
    if before is not None and after == before and after:
        # nothing new was mapped: ndconv's runtime was already loaded, with the
        # settings in force then
        return module, "as the OpenMP runtime was loaded before ndconv (unknown here)"
    described = ", ".join("%s=%s" % kv for kv in (user or POLICY).items())
    return module, described + ("" if user else " (ndconv's OpenMP runtime only)")

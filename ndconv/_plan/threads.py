"""Threads on a busy machine.

When every other CPU is running something, a worker thread woken for a call
waits for a scheduler slice before it starts, and the call waits for it at its
end: 2-thread calls of a millisecond ran 10-30x slower than 1-thread ones next
to one spinning process on 2 cores.  So calls below
``tuning.Settings.busy_work`` multiply-adds first count the runnable threads
of the machine (the kernel's instantaneous count in ``/proc/loadavg``, a few
microseconds to read, reused for ``_LOAD_TTL`` seconds) and add only as many
threads as there are idle CPUs.  Larger calls take every thread asked for:
their work items are handed out dynamically, so a worker sharing a CPU only
takes fewer of them, and it still adds speed.

The count is the whole machine's (a container sees its host's), so it is
compared with the machine's CPUs (``os.cpu_count``), not with the CPUs this
process may use.  ``benchmarks/busy_machine.py`` measures the rule.
"""
import os
import time

from . import tuning as _tuning

_LOAD_TTL = 0.002
# After a threaded call its workers spin for a while (``_core.wait_policy``)
# and count as runnable: for this long after a call chose threads, that many
# runnable threads are this process's own, not load.
_SPIN_SECONDS = 0.005
_CPUS = os.cpu_count() or 1
_load_fd = None              # /proc/loadavg, kept open; False where it cannot be read
_load = (-1.0, 0)            # (when read, runnable threads besides the caller)
_last_threaded = (-1.0, 1)   # (when a call chose threads, how many)


def runnable_others(now):
    """Runnable threads on the machine besides the caller (read at most every
    ``_LOAD_TTL`` seconds), or None where the OS does not say."""
    global _load_fd, _load
    if now - _load[0] < _LOAD_TTL:
        return _load[1]
    if _load_fd is False:
        return None
    try:
        if _load_fd is None:
            _load_fd = os.open("/proc/loadavg", os.O_RDONLY)
        # "0.12 0.34 0.56 running/total last_pid": running includes the caller
        running = int(os.pread(_load_fd, 128, 0).split()[3].split(b"/")[0])
    except (OSError, IndexError, ValueError):
        _load_fd = False
        return None
    _load = (now, max(0, running - 1))
    return _load[1]


def threads_for(n_threads, work):
    """Threads for a call of ``work`` multiply-adds that may use ``n_threads``:
    below ``tuning.Settings.busy_work``, no more than the idle CPUs plus the
    caller's own."""
    global _last_threaded
    if n_threads <= 1 or work >= _tuning.SETTINGS.busy_work:
        return n_threads
    now = time.monotonic()
    others = runnable_others(now)
    if others is None:
        return n_threads
    if now - _last_threaded[0] < _SPIN_SECONDS:
        others = max(0, others - (_last_threaded[1] - 1))
    n = max(1, min(n_threads, _CPUS - others))
    if n > 1:
        _last_threaded = (now, n)
    return n

"""Threads on a busy machine.

When every other CPU is running something, a worker thread woken for a call
waits for a scheduler slice before it starts, and the call waits for it at its
end: 2-thread calls of a millisecond ran 10-30x slower than 1-thread ones next
to one spinning process on 2 cores, and large calls gained nothing from the
worker (0.97-1.03x) or lost up to 1.24x.  So a call that may use several
threads first counts the runnable threads of the machine (the kernel's
instantaneous count in ``/proc/loadavg``, a few microseconds to read, reused for
``_LOAD_TTL`` seconds) and adds only as many threads as there are idle CPUs.
Calls that run on one thread anyway (small ones) do not look.

The count is the whole machine's (a container sees its host's), so it is
compared with the machine's CPUs (``os.cpu_count``), not with the CPUs this
process may use.  ``tuning.Settings.load_aware`` turns the rule off (tests).
``benchmarks/busy_machine.py`` measures it.

The machine's count includes this process's own threads.  After a threaded
call, the OpenMP workers spin for a while and count as runnable: for ndconv's
own calls a time window (``_own_until``) accounts for them.  But libgomp is
one runtime per process, found by its soname: with torch (which ships a
``libgomp.so.1``) imported before or after ndconv, torch's and ndconv's
parallel regions share one pool of workers, and after torch's calls those
workers spin -- under libgomp's default policy, when torch loaded it first,
for tens of milliseconds.  They are the very threads ndconv's next call
would run on, yet they looked like another process's load, so 2-thread layer
calls ran on one thread (21.9 ms instead of 12.3 ms, W6 of peerbench, right
after torch's timing loop).  So a call large enough to afford it
(``_OWN_CHECK_WORK``) that would lose threads to the load counts the runnable
threads of its own process (``own_runnable``) and does not count them as load.

One count is one instant.  On a machine that is quiet but for short bursts
(a shell, a monitor, another program waking now and then: a tenth of a CPU
or so), an instant now and then finds one of them runnable, and a long call
that starts then ran its whole length on one thread for a burst of a
millisecond: 2-thread runs of 2048^2 15x15 (tens of milliseconds) came out
nearly as slow as 1-thread ones, while libraries that always take every
thread got their full speed-up.  Sustained load is another matter: it shows
in every count.  So a long call (``_STEADY_WORK``) takes the least count seen
over the last ``_STEADY_SECONDS``: a burst is ignored if an idle instant came
shortly before, a busy process is not.  ``benchmarks/busy_machine.py``
measures both sides.
"""
import collections
import os
import time

from . import tuning as _tuning

_LOAD_TTL = 0.002
# After a threaded call its workers spin for a while (``_core.wait_policy``)
# and count as runnable.  Until a call that chose threads has surely ended
# (its work at _SLOW_RATE multiply-adds per second, plus the spin), that many
# runnable threads are this process's own, not load.
_SPIN_SECONDS = 0.005
_SLOW_RATE = 1e9
_CPUS = os.cpu_count() or 1
_load_fd = None              # /proc/loadavg, kept open; False where it cannot be read
_load = (-1.0, 0)            # (when read, runnable threads besides the caller)
# Multiply-adds (tens of milliseconds) from which a call takes the least count
# of the last _STEADY_SECONDS (the counts calls have seen, own workers taken off)
_STEADY_WORK = 1 << 27
_STEADY_SECONDS = 0.1
_seen = collections.deque(maxlen=32)   # (when, runnable threads of other processes)
_own_until = (-1.0, 1)       # (until when, how many threads) of the last threaded call


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


# Multiply-adds (a few milliseconds) from which a call that would lose threads
# to the load looks at its own process's threads: reading a /proc file per
# thread took 30-60 us here (120 us through Python file objects), which cost a
# 1.4 ms call (1-D 2^20 x 31 on one CPU next to a busy one) up to 8 % while it
# could only run on one thread anyway; from 2^26 it is at most 2 %.
_OWN_CHECK_WORK = 1 << 26


def own_runnable():
    """Runnable threads of this process besides the caller (``/proc/self/task``),
    or 0 where the OS does not say."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0
    n = 0
    for t in tasks:
        # os.open/os.read: a Python file object per thread doubled the cost
        try:
            fd = os.open("/proc/self/task/" + t + "/stat", os.O_RDONLY)
        except OSError:
            continue    # the thread has ended
        try:
            stat = os.read(fd, 512)
        except OSError:
            stat = b""
        finally:
            os.close(fd)
        # "pid (comm) S ...": the state follows the last ')' (comm may hold one)
        end = stat.rfind(b")")
        if stat[end + 2:end + 3] == b"R":
            n += 1
    return max(0, n - 1)     # the caller is running


def threads_for(n_threads, work):
    """Threads for a call of ``work`` multiply-adds that may use ``n_threads``:
    no more than the idle CPUs plus the caller's own."""
    global _own_until
    if n_threads <= 1 or not _tuning.SETTINGS.load_aware:
        return n_threads
    now = time.monotonic()
    others = runnable_others(now)
    if others is None:
        return n_threads
    if now < _own_until[0]:
        others = max(0, others - (_own_until[1] - 1))
    _seen.append((now, others))
    if others > _CPUS - n_threads and work >= _STEADY_WORK:
        others = min(o for t, o in _seen if now - t <= _STEADY_SECONDS)
    if others > _CPUS - n_threads and work >= _OWN_CHECK_WORK:
        others = max(0, others - own_runnable())
    n = max(1, min(n_threads, _CPUS - others))
    if n > 1:
        # a shorter call does not end the window of a longer one still running
        _own_until = (max(_own_until[0], now + work / (_SLOW_RATE * n) + _SPIN_SECONDS), n)
    return n

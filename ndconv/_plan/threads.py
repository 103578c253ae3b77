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
in every count.  So a call of a millisecond or more (``_STEADY_WORK``) takes
the least count seen over the last ``_STEADY_SECONDS``: a burst is ignored if
an idle instant came shortly before, a busy process is not.  ``benchmarks/busy_machine.py``
measures both sides.

An idle machine has one more cost.  A worker whose spin has run out sleeps,
and waking it costs what the machine makes it cost: on a virtual machine the
host may have descheduled the idle vCPU (a worker ready 1.3 ms late, and the
caller, done with a small call's work long before, waiting as long again at
the region's end: 2.6 ms for a 0.03 ms call on an Intel Xeon with 2 vCPUs,
5 ms on an AMD EPYC), on a real one a few tens of microseconds.  So a call
that finds the workers asleep (``_ASLEEP`` after the core's last parallel
region ended) runs on one thread when that is likely to take less time than
the wake-up it would wait for (``_after_pause``).  Its one-thread time is
bounded below by its work at the fastest rate a thread reaches; a planned call
that ran on one thread before knows it (the unified API's plans time their
one-thread runs): the bound alone kept a 2048^2 3x3 filter, 0.75 ms at that
rate but 2.6 ms in fact, on one thread after every pause against a 0.6 ms
wake-up.  The wake-up is learnt: the
core records, per region, how late its workers were ready (``region_times``),
and the calls that did wake the workers give the estimate (the largest of the
last few, twice over: the caller waits for them at the region's end as well).
Calls that come back to back share the wake-up: they run on one thread until,
together, they would have paid for it (the rule of renting skis until their
price is spent), and then wake the workers, which stay awake for the calls
that follow.
``benchmarks/wait_policy.py`` times calls after pauses.
"""
import collections
import os
import time

from .. import _core
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
# Multiply-adds (a millisecond or so) from which a call takes the least count
# of the last _STEADY_SECONDS (the counts calls have seen, own workers taken
# off).  From 2^27 (tens of milliseconds) at first; calls of 1-3 ms (2^25-2^26:
# a 1-D 2^20 x 31 filter, a 1024^2 7x7 one) then ran on one thread in a quarter
# of the rounds of ndconv bench, where another library's pool had just gone
# to sleep or a kernel thread ran at that instant (an idle 2-vCPU machine:
# another thread runnable in 0.6 % of instants).
_STEADY_WORK = 1 << 24
_STEADY_SECONDS = 0.1
_seen = collections.deque(maxlen=32)   # (when, runnable threads of other processes)
_own_until = (-1.0, 1)       # (until when, how many threads) of the last threaded call


def runnable_others(now, fresh=False):
    """Runnable threads on the machine besides the caller (read at most every
    ``_LOAD_TTL`` seconds, or now if ``fresh``), or None where the OS does
    not say."""
    global _load_fd, _load
    if not fresh and now - _load[0] < _LOAD_TTL:
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


# Multiply-adds (half a millisecond or so) from which a call that would lose
# threads to the load looks at its own process's threads and counts again:
# reading a /proc file per thread took 30-60 us on an AMD EPYC (120 us through
# Python file objects), 23 us with 6 threads on an Intel Xeon, which cost a
# 1.4 ms call (1-D 2^20 x 31 on one CPU next to a busy one) up to 8 % while it
# could only run on one thread anyway (with the second count, 1024^2 5x5 on
# an Intel Xeon next to a busy process: 0.76 against 0.70 ms).  From 2^26
# at first: calls as common as a 2048^2 3x3 filter (2^25.2), a 1024^2 7x7 one
# (2^25.6) and a 1-D 2^20 x 31 one (2^24.95) ran on one thread whenever
# another library's pool in this process still spun or was going to sleep
# (OpenCV's, torch's), at their one-thread time: 1.6-1.9x their two-thread one.
_OWN_CHECK_WORK = 1 << 24


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


# After a pause.  From this long after the last region ended, its workers may
# sleep (libgomp's spin, GOMP_SPINCOUNT=100000: a worker was still awake 4 ms
# after a region and asleep 5 ms after, on an Intel Xeon).
_ASLEEP = 0.003
# One thread's multiply-adds per second at best (the AVX-512 rolling rows,
# float32): a call's one-thread time is at least its work over this.
_FAST_RATE = 5e10
# How late woken workers were ready, per call that woke them: the last few.
# The largest of them is the estimate: on a virtual machine one wake-up took
# 0.1 ms and the next 1.3-5 ms, and a call that guessed low waits for the
# slow one, while one that guessed high loses at most half its own time.
_wakes = collections.deque(maxlen=4)
# A call that wakes the workers waits for them twice: they start late, and
# the caller, done with its share, waits at the region's end for a vCPU the
# host resumes as late again (a 0.03 ms call: workers ready after 1.3 ms,
# the call over after 2.6-2.8 ms).
_WAKE_WAITS = 2
_woke = -1.0                 # when the last call that woke them started (-1: none since)
_rent = (0.0, -1.0)          # (one-thread seconds of this burst's calls, when its last ends)


def _after_pause(n, work, now, seconds=0.0):
    """``n``, or 1 if the workers are asleep and waking them would cost this
    call (and the calls just before it) more than running on one thread: its
    one-thread time is at least its work at ``_FAST_RATE``, and ``seconds``
    where that was measured."""
    global _woke, _rent
    since_end, ready = _core.core().region_times()
    if _woke >= 0:
        # how late the workers of the last call that woke them were ready, if
        # its region is the last one (a call may end up without a region)
        if 0 <= since_end <= now - _woke:
            _wakes.append(ready)
        _woke = -1.0
    if 0 <= since_end < _ASLEEP:
        return n
    t1 = max(work / _FAST_RATE, seconds)
    spent, until = _rent
    if now > until + _ASLEEP:
        spent = 0.0          # a new burst
    if spent + t1 < _WAKE_WAITS * max(_wakes, default=0.0):
        _rent = (spent + t1, now + t1)
        return 1
    _rent = (0.0, -1.0)
    _woke = now
    return n


def threads_for(n_threads, work, seconds=0.0):
    """Threads for a call of ``work`` multiply-adds that may use ``n_threads``:
    no more than the idle CPUs plus the caller's own, and one where the
    workers sleep and waking them would cost more than it gains
    (``_after_pause``).  ``seconds``: what the same call took on one thread
    before, where its caller measured it (0: not known)."""
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
        # counted again after this process's own: a thread of a pool that was
        # going to sleep (OpenCV's, just after its call) was runnable in the
        # first count and asleep by the time its process was read
        own = own_runnable()
        again = runnable_others(time.monotonic(), fresh=True)
        others = max(0, min(others, others if again is None else again) - own)
    n = max(1, min(n_threads, _CPUS - others))
    if n > 1:
        n = _after_pause(n, work, now, seconds)
    if n > 1:
        # a shorter call does not end the window of a longer one still running
        _own_until = (max(_own_until[0], now + work / (_SLOW_RATE * n) + _SPIN_SECONDS), n)
    return n

"""Wall-clock timing shared by the verification API, the demo and ``ndconv bench``."""
import math
import random
import statistics
import time


def median_time(fn, budget=0.3, min_reps=3, max_reps=15):
    """Median wall time of repeated calls to ``fn``.

    Parameters
    ----------
    fn : callable
        Called with no arguments.
    budget : float
        About how many seconds the timed calls should take together.
    min_reps, max_reps : int
        Bounds on the number of timed calls.  A call that takes more than twice
        ``budget`` is timed twice only (never fewer than two, so one hiccup of the
        machine does not become the answer).

    Returns
    -------
    (float, int, object)
        Median seconds, number of timed calls, and the result of the untimed
        warm-up call (the first call pays for caches and thread start-up).
    """
    t0 = time.perf_counter()
    first = fn()
    t_first = time.perf_counter() - t0
    if t_first > 2 * budget:
        reps = min(2, max_reps)
    else:
        reps = int(min(max_reps, max(min_reps, math.ceil(budget / max(t_first, 1e-9)))))
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), reps, first


def _minor_faults():
    try:
        import resource
    except ImportError:   # not on Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def interleaved(fns, budget=0.3, min_reps=3, max_reps=15, rewarm_below=0.0):
    """Time callables in interleaved rounds, so that their ratios compare calls
    made under the same conditions.

    Every round calls each function once, the order rotated from round to
    round: the slow and fast periods of a shared machine (seconds long on
    some virtual machines) then fall on all of them alike, where timed one
    after another a period change between two functions moved their ratio by
    up to 1.6x.  With more than two functions the order is also shuffled
    (seeded) before it is rotated, so that no function always follows the
    same one: a 30 us call right after torch's conv2d took 47-63 us (its
    caches cold), and rotated alone ndconv's call followed torch's in every
    round of ``ndconv bench``'s W9 while OpenCV's never did.

    Parameters
    ----------
    fns : sequence of callable
        Called with no arguments.
    budget : float
        About how many seconds of timed calls per function.
    min_reps, max_reps : int
        Bounds on the number of rounds; two where one round takes more than
        twice ``budget`` per function.
    rewarm_below : float
        Each timed call of a function whose first call took less than this many
        seconds is preceded by an untimed one (right after another function's
        call, which may have flushed the caches, a call ran up to 20 % slower).

    Returns
    -------
    list of tuple
        Per function: ``(median wall s, median CPU s, result of the untimed
        first call, median minor page faults, rounds)``.  The CPU time counts
        every thread of this process (steadier than the wall time on a busy
        machine); the page faults (0 where the platform does not count them)
        are those of memory touched for the first time.
    """
    n = len(fns)
    wall, cpu, faults = ([[] for _ in fns] for _ in range(3))

    def call(i):
        f0, c0, t0 = _minor_faults(), time.process_time(), time.perf_counter()
        out = fns[i]()
        wall[i].append(time.perf_counter() - t0)
        cpu[i].append(time.process_time() - c0)
        faults[i].append(_minor_faults() - f0)
        return out

    # the untimed first calls pay for caches, thread start-up and imports
    first = [call(i) for i in range(n)]
    first_s = [w[0] for w in wall]
    round_s = sum(first_s)
    if round_s > 2 * budget * n:
        reps = min(2, max_reps)
    else:
        reps = int(min(max_reps, max(min_reps, math.ceil(budget * n / max(round_s, 1e-9)))))
    for series in (wall, cpu, faults):
        for s in series:
            s.clear()
    order = list(range(n))
    shuffle = random.Random(n).shuffle
    for r in range(reps):
        if n > 2:
            shuffle(order)
        for j in range(n):
            i = order[(j + r) % n]
            if first_s[i] < rewarm_below:
                fns[i]()
            call(i)
    return [(statistics.median(wall[i]), statistics.median(cpu[i]), first[i],
             int(statistics.median(faults[i])), reps) for i in range(n)]

"""Wall-clock timing shared by the verification API, the demo and ``ndconv bench``."""
import math
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

"""The one-line progress bar of ``ndconv check``, ``ndconv bench`` and ``ndconv apply``."""
import sys
import time


class Progress:
    """A one-line progress bar on ``stream`` (stderr), drawn only on a terminal
    unless ``enabled`` says otherwise.

    ``update(label)`` redraws with a label (what runs now), ``step(label)``
    counts one item done, ``close()`` clears the line.
    """

    def __init__(self, total, stream=None, enabled=None, width=24):
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total, self.done, self.enabled, self.width = max(1, total), 0, enabled, width
        self.t0 = time.perf_counter()

    def update(self, label):
        if not self.enabled:
            return
        frac = min(1.0, self.done / self.total)
        fill = int(round(frac * self.width))
        line = "[%s%s] %3d/%d %4.0fs  %s" % ("#" * fill, "." * (self.width - fill), self.done, self.total,
                                             time.perf_counter() - self.t0, label)
        self.stream.write("\r" + line[:100].ljust(100))
        self.stream.flush()

    def step(self, label=""):
        self.done += 1
        self.update(label)

    def close(self):
        if self.enabled:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


def dask_progress(label, stream=None, enabled=None):
    """A :class:`Progress` bar counting the tasks of a dask computation, as a
    dask callback: ``with dask_progress("writing"): y.compute()`` (dask's local
    schedulers; imports dask)."""
    from dask.callbacks import Callback

    class _Bar(Callback):
        def _start_state(self, dsk, state):
            self.bar = Progress(len(dsk), stream, enabled)
            self.bar.update(label)

        def _posttask(self, key, result, dsk, state, worker_id):
            self.bar.step(label)

        def _finish(self, dsk, state, errored):
            self.bar.close()

    return _Bar()

"""ndconv.dask against one in-memory call and dask-image (the cases of
``ndconv bench --dask``: ``ndconv._tools.bench.chunked.CASES``).

Parameters: case, chunk side (the case's first or second), and the runner:
``in memory`` (one ``ndconv.convolve`` call, every thread; the chunk side does
not apply and only the first is run; ``in memory, out=`` the same into a
preallocated output), ``threads`` (ndconv.dask under dask's threaded scheduler,
``.compute()``: its blocks are written into the array it returns),
``store`` (the same written by ``da.store`` into a preallocated array),
``cluster`` (a ``LocalCluster`` of two single-threaded processes started in
setup, holding the input), ``dask-image`` (``dask_image.ndfilters.convolve``
on the same chunks, where the case allows).  Skipped without dask.
"""
import math

import numpy as np

from ndconv._tools.bench import chunked as _chunked

CASE_IDS = [c[0] for c in _chunked.CASES]
RUNNERS = ["in memory", "in memory, out=", "threads", "store", "cluster", "dask-image"]


class DaskConvolve:
    params = [CASE_IDS, [0, 1], RUNNERS]
    param_names = ["case", "chunks", "runner"]
    timeout = 600
    repeat = (1, 5, 60.0)
    number = 1

    def setup(self, case, chunks, runner):
        try:
            import dask
            import dask.array as da
        except ImportError:
            raise NotImplementedError("dask is not installed") from None
        import ndconv
        import ndconv.dask
        _, shape, kshape, sides, _ = next(c for c in _chunked.CASES if c[0] == case)
        if runner.startswith("in memory") and chunks:
            raise NotImplementedError("one in-memory call per case")
        rng = np.random.default_rng(0)
        x = rng.random(shape, dtype=np.float32)
        k = (rng.standard_normal(kshape) / math.sqrt(math.prod(kshape))).astype(np.float32)
        self.client = None
        if runner == "in memory":
            self.fn = lambda: ndconv.convolve(x, k, "same", boundary="reflect", method="direct")
            return
        if runner == "in memory, out=":
            target = np.empty_like(x)
            self.fn = lambda: ndconv.convolve(x, k, "same", boundary="reflect", method="direct",
                                              out=target)
            return
        xd = da.from_array(x, chunks=sides[chunks])
        if runner == "dask-image":
            try:
                from dask_image import ndfilters
            except ImportError:
                raise NotImplementedError("dask-image is not installed") from None
            if len(shape) < 2 or max(kshape) > _chunked.DASK_IMAGE_MAX_SIDE:
                raise NotImplementedError("dask-image takes minutes here")
            lazy = ndfilters.convolve(xd, k, mode="mirror")
            sched = "threads"
        else:
            sched = "threads"
            if runner == "cluster":
                import warnings

                from distributed import Client, LocalCluster, wait
                self.client = Client(LocalCluster(n_workers=2, threads_per_worker=1,
                                                  processes=True, dashboard_address=None))
                sched = self.client
                # the workers hold the input, as if they had read it
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "Sending large graph")
                    xd = self.client.persist(xd)
                wait(xd)
            lazy = ndconv.dask.convolve(xd, k, "same", boundary="reflect", method="direct")

        if runner == "store":
            target = np.empty_like(x)

            def compute():
                with dask.config.set(scheduler=sched):
                    da.store(lazy, target, lock=False)
        else:
            def compute():
                with dask.config.set(scheduler=sched):
                    return lazy.compute()
        self.fn = compute

    def teardown(self, *params):
        client = getattr(self, "client", None)
        if client is not None:
            client.close()

    def time_convolve(self, case, chunks, runner):
        self.fn()

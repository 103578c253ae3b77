"""``ndconv bench --dask``: ndconv.dask against one in-memory call and dask-image.

Each case convolves a float32 array (``"same"``, reflect) with a random kernel:
one in-memory ``ndconv.convolve`` call (every thread; again into a preallocated
``out=``), ``ndconv.dask.convolve`` computed by dask's threaded scheduler at
each chunk size (``.compute()``, whose blocks are written into the array it
returns, and ``da.store`` into a preallocated array) (and, with
``cluster=True``, by a ``LocalCluster(n_workers=2, threads_per_worker=1,
processes=True)``, the input held by the workers), and
``dask_image.ndfilters.convolve`` (scipy.ndimage per
chunk, its mode "mirror" being numpy's reflect) on the same chunks where it is
installed and the case allows (2-D and 3-D, at most 7 taps a side: scipy.ndimage
takes minutes on the larger kernels).  With ``method="direct"`` each dask result
is checked bitwise against the in-memory one.  ndconv's rows of a case are timed
in the same interleaved rounds, so each ratio compares calls made under the
same conditions (``timing.interleaved``), and in many of them: on a virtual
machine a fresh result's memory costs what the host makes it cost, and a
few rounds' medians of the in-memory call moved 1.5x between runs.
dask-image's rows, a hundred times slower, are timed in rounds of their own
with ndconv.dask's ``.compute()`` on the same chunks, which give the
throughput ratio.  The quick default is the
4096^2 5x5 case, the issue's target (threaded at most 1.25x the in-memory time
with 1024^2 chunks; at least 5x dask-image's throughput on the same chunks);
``big=True`` adds 4096^2 31x31, 8192^2 5x5 and 31x31, 1-D 10^8 samples with
255 taps, and 512^3 with 7^3.
"""
import functools
import math
import os
import warnings

import numpy as np

from ..timing import interleaved

# (case id, shape, kernel shape, chunk sides, big)
CASES = [
    ("2d-4096-5", (4096, 4096), (5, 5), (1024, 512), False),
    ("2d-4096-31", (4096, 4096), (31, 31), (1024, 512), True),
    ("2d-8192-5", (8192, 8192), (5, 5), (2048, 1024), True),
    ("2d-8192-31", (8192, 8192), (31, 31), (2048, 1024), True),
    ("1d-1e8-255", (10 ** 8,), (255,), (1 << 24, 1 << 22), True),
    ("3d-512-7", (512, 512, 512), (7, 7, 7), (256, 128), True),
]
# scipy.ndimage per chunk: direct sums, single-threaded per task
DASK_IMAGE_MAX_SIDE = 7


def _same_bits(a, b):
    return bool(np.array_equal(a.view(np.uint8), b.view(np.uint8)))


def cases(big=False, only=""):
    wanted = [s.strip() for s in only.split(",") if s.strip()]
    unknown = [w for w in wanted if w not in [c[0] for c in CASES]]
    if unknown:
        raise ValueError("unknown dask case(s) %s; known: %s"
                         % (", ".join(unknown), ", ".join(c[0] for c in CASES)))
    return [c for c in CASES if (c[0] in wanted if wanted else (big or not c[4]))]


def run(big=False, only="", cluster=False, method="direct", budget=1.0, progress=None, seed=0):
    """Time the cases; returns ``{"meta": ..., "rows": [...]}``, one row per
    (case, chunks, library) with ``median_s``, ``cpu_s`` (the median CPU time
    of this process's threads), ``faults`` (its median minor page faults),
    ``ratio`` (its median / the in-memory call's; the ``"ndconv in memory,
    out="`` and ``"..., da.store"`` rows write into a preallocated array) and,
    for ndconv.dask, ``bitwise``, ``tasks`` (the graph's, for compute rows) and
    ``vs_dask_image``
    (dask-image's median / ndconv.dask's on the same chunks: the throughput
    ratio, both in the rounds with dask-image, where ndconv.dask's median is
    ``pair_s``; ``vs_dask_image_cpu`` the same in CPU time, ``pair_cpu_s``)."""
    import dask
    import dask.array as da

    import ndconv
    import ndconv.dask

    from ..progress import Progress
    try:
        from dask_image import ndfilters
    except ImportError:
        ndfilters = None
    chosen = cases(big, only)
    client = None
    if cluster:
        import distributed
        from distributed import Client, LocalCluster
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None))
    bar = Progress(len(chosen), enabled=progress)
    rows = []
    load_before = os.getloadavg()
    try:
        for cid, shape, kshape, sides, _ in chosen:
            bar.update(cid)
            rng = np.random.default_rng(seed)
            x = rng.random(shape, dtype=np.float32)
            k = (rng.standard_normal(kshape) / math.sqrt(math.prod(kshape))).astype(np.float32)
            kw = dict(boundary="reflect", method=method)
            # every row of the case, timed in the same rounds (timing.interleaved): a row is
            # (its fields, the call, whether the call's result is to be bitwise the
            # in-memory one)
            target = np.empty(shape, np.float32)
            plan = [({"chunks": None, "lib": "ndconv in memory"},
                     functools.partial(ndconv.convolve, x, k, "same", **kw), False),
                    # into a preallocated output: what da.store below is compared with
                    ({"chunks": None, "lib": "ndconv in memory, out="},
                     functools.partial(ndconv.convolve, x, k, "same", out=target, **kw), False)]
            for side in sides:
                xd = da.from_array(x, chunks=side)
                lazy = ndconv.dask.convolve(xd, k, "same", **kw)
                tasks = len(lazy.__dask_graph__())
                label = "ndconv.dask threads"
                plan.append(({"chunks": side, "lib": label, "tasks": tasks},
                             functools.partial(_compute, "threads", lazy), True))
                # compute() writes the blocks into the array it returns (ndconv.dask's
                # gather, allocated by the first block); da.store writes each block into
                # a preallocated array as it is computed
                plan.append(({"chunks": side, "lib": label + ", da.store"},
                             functools.partial(_store, lazy, np.zeros(shape, np.float32)), True))
                if client is not None:
                    # the input held by the workers, as if they had read it: the time is the
                    # computation and the gathering of the result, not the shipping of x
                    with warnings.catch_warnings():
                        warnings.filterwarnings("ignore", "Sending large graph")
                        xc = client.persist(xd)
                    distributed.wait(xc)
                    on_cluster = ndconv.dask.convolve(xc, k, "same", **kw)
                    plan.append(({"chunks": side, "lib": "ndconv.dask LocalCluster 2x1",
                                  "tasks": len(on_cluster.__dask_graph__())},
                                 functools.partial(_compute, client, on_cluster), True))
                if ndfilters is not None and len(shape) > 1 \
                        and max(kshape) <= DASK_IMAGE_MAX_SIDE:
                    plan.append(({"chunks": side, "lib": "dask_image threads"},
                                 functools.partial(_compute, "threads",
                                                   ndfilters.convolve(xd, k, mode="mirror")),
                                 False))
            # ndconv's rows in many rounds; dask-image's with ndconv.dask's compute()
            # rows in few (its calls take seconds)
            theirs = [i for i, (fields, _, _) in enumerate(plan)
                      if fields["lib"] == "dask_image threads"]
            ours = [i for i in range(len(plan)) if i not in theirs]
            timed = [None] * len(plan)
            for i, res in zip(ours, interleaved([plan[i][1] for i in ours], budget, 9, 41)):
                timed[i] = res
            pairs = {}
            if theirs:
                their_sides = {plan[i][0]["chunks"] for i in theirs}
                group = [i for i in ours if plan[i][0]["lib"] == "ndconv.dask threads"
                         and plan[i][0]["chunks"] in their_sides]
                paired = interleaved([plan[i][1] for i in group + theirs], budget, 3, 7)
                pairs = dict(zip(group, paired))
                for i, res in zip(theirs, paired[len(group):]):
                    timed[i] = res
            ref = timed[0][2]
            t_mem = timed[0][0]
            case_rows = []
            for i, ((fields, _, check), (t, cpu, res, flt, _)) in enumerate(zip(plan, timed)):
                row = dict({"case": cid}, **fields, median_s=t, cpu_s=cpu, ratio=t / t_mem,
                           faults=flt)
                if check and method == "direct":
                    row["bitwise"] = _same_bits(res, ref)
                if i in pairs:
                    row["pair_s"], row["pair_cpu_s"] = pairs[i][0], pairs[i][1]
                case_rows.append(row)
            del timed, pairs, ref, res
            for row in case_rows:
                if row["lib"] == "dask_image threads":
                    mine = next(r for r in case_rows if r["chunks"] == row["chunks"]
                                and r["lib"] == "ndconv.dask threads")
                    mine["vs_dask_image"] = row["median_s"] / mine["pair_s"]
                    mine["vs_dask_image_cpu"] = row["cpu_s"] / max(mine["pair_cpu_s"], 1e-9)
            rows += case_rows
            bar.step()
    finally:
        bar.close()
        if client is not None:
            client.close()
    from .measure import machine_info
    meta = machine_info(mods={}, method=method, big=big, cluster=cluster,
                        load_before=load_before, load_after=os.getloadavg())
    meta["versions"]["dask"] = dask.__version__
    if ndfilters is not None:
        from importlib.metadata import version
        meta["versions"]["dask-image"] = version("dask-image")
    return {"meta": meta, "rows": rows}


def _compute(scheduler, lazy):
    import dask
    with dask.config.set(scheduler=scheduler):
        return lazy.compute()


def _store(lazy, target):
    import dask
    import dask.array as da
    with dask.config.set(scheduler="threads"):
        da.store(lazy, target, lock=False)
    return target


def format_table(result):
    """The rows as a plain-text table, with the machine and its load."""
    head = ("case", "chunks", "library", "median ms", "CPU ms", "faults", "/in memory",
            "dask-image/this (CPU)", "")
    body = []
    for r in result["rows"]:
        body.append((r["case"], str(r["chunks"] or "-"), r["lib"], "%.1f" % (1e3 * r["median_s"]),
                     "%.1f" % (1e3 * r["cpu_s"]), str(r.get("faults", "")),
                     "%.2f" % r["ratio"],
                     "%.1f (%.1f)" % (r["vs_dask_image"], r["vs_dask_image_cpu"])
                     if "vs_dask_image" in r else "",
                     "" if "bitwise" not in r else ("bitwise" if r["bitwise"] else "NOT BITWISE")))
    widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) if 3 <= i <= 7 else c.ljust(w)
                       for i, (c, w) in enumerate(zip(row, widths))).rstrip()
             for row in [head] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    m = result["meta"]
    lines.append("")
    lines.append("float32, \"same\", reflect, method=%s; medians; %s, %s cores; %s; %s."
                 % (m["method"], m["cpu"], m["cores"],
                    ", ".join("%s %s" % kv for kv in m["versions"].items()), m["date"]))
    lines.append("CPU ms: CPU time of this process's threads (not a LocalCluster's workers), "
                 "steadier than the wall time on a busy machine; faults: its minor page faults "
                 "(fresh memory).")
    lines.append("compute() writes the blocks into the new array it returns (a LocalCluster's: "
                 "dask gathers them); da.store rows write into a preallocated one (compare: in "
                 "memory, out=).")
    lines.append("load average before %s, after %s%s"
                 % ("/".join("%.1f" % v for v in m["load_before"]),
                    "/".join("%.1f" % v for v in m["load_after"]),
                    "  (busy machine: timings are noisy)" if m["load_before"][0] > 0.5 else ""))
    if "dask-image" not in m["versions"]:
        lines.append("dask-image is not installed: not compared (pip install dask-image).")
    return "\n".join(lines)


def main_args(args, out):
    """``ndconv bench --dask`` with parsed ``args``; prints to ``out``."""
    result = run(big=args.big, only=args.only, cluster=args.cluster,
                 progress=False if args.no_progress else None,
                 budget=0.2 if args.quick else 1.0)
    print(format_table(result), file=out)
    return result

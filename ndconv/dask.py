"""ndconv on dask arrays: lazy, chunked, and exactly the in-memory result.

``ndconv.dask.convolve`` / ``ndconv.dask.correlate`` take the unified API's
arguments (no ``out``), a dask array (a numpy array is wrapped) and an
in-memory kernel, and return a lazy dask array.  ``ndconv.convolve`` and
``ndconv.correlate`` send dask arrays here.

How a block is computed: every output sample reads the input coordinates that
``ndconv._api.geometry`` gives it, so an output block reads one box of
coordinates, the *window*.  Its coordinates are mapped to input indices by
``ndconv._plan.boundary``'s index maps over the whole array (numpy.pad's
meaning, for any width, wrap around the whole array), the window is
assembled from the input chunks it touches (a cval fill where the boundary is
``constant``; a view where the chunks are parts of one array laid out as the
window; with the direct method, extended past the array's edges by the core
itself where that reads the same samples), and the block is the "valid"
correlation of the window -- the same sums in the same order as the
in-memory call makes for those samples.
See ``docs/dask.rst`` for the rules on chunks and threads.
"""
from __future__ import annotations

import functools
import math
import numbers
import os
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _core as _dispatch
from ._api import correlate_nd, geometry, prepare
from ._plan import boundary as _boundary
from ._plan import direct as _direct
from ._plan import missing as _missing
from ._plan import placement as _placement
from ._plan import tuning as _tuning
from ._plan.validation import as_array, resolve_workers, result_dtype

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from numpy.typing import ArrayLike

    from ._plan.validation import BoundaryOrMissing, Method, Mode, NanPolicy

    # one name, one per convolved axis, or {axis: name}; one fill or one per axis
    Boundaries = (BoundaryOrMissing | Sequence[BoundaryOrMissing]
                  | Mapping[int, BoundaryOrMissing])
    Cvals = complex | np.number[Any] | Sequence[complex | np.number[Any]]

__all__ = ["convolve", "correlate"]

# An output chunk must be at least this many times the kernel's reach (K - 1)
# along its axis: the window a block reads is its chunk plus the reach, so
# this bounds the halo to a quarter of the chunk (copies, transfers and the
# window's memory stay within 1.25x of the block's own).
REACH_RATIO = 4


def is_dask_array(x):
    """True if ``x`` is a dask array, decided without importing dask."""
    return type(x).__module__.split(".", 1)[0] == "dask" and "dask.array" in sys.modules \
        and isinstance(x, sys.modules["dask.array"].Array)


# ------------------------------------------------------------------ the plan
class _Axis:
    """One axis of the plan: the output chunk boundaries, and per output
    chunk the runs of its window (see :func:`_runs`) and the start the core
    reads the window at (0 where the window is extended already; negative
    where the core extends it before its first sample, as the in-memory call
    does at the array's edge)."""

    __slots__ = ("out_bounds", "runs", "starts")

    def __init__(self, out_bounds, runs, starts):
        self.out_bounds = out_bounds
        self.runs = runs
        self.starts = starts


def _out_bounds(in_bounds, n, k, start, out_len, mode):
    """Output chunk boundaries along one axis.

    ``"same"`` keeps the input's.  Otherwise each interior input boundary
    moves to the output sample whose kernel is centred on it (``full`` grows
    the first and last chunks, ``valid`` shrinks them and drops chunks it
    empties).  Then consecutive chunks shorter than ``REACH_RATIO * (k - 1)``
    are merged, the last short group with the one before it.
    """
    if mode == "same":
        bounds = list(in_bounds)
    else:
        shift = -start - (k - 1) // 2
        inner = sorted({min(out_len, max(0, b + shift)) for b in in_bounds[1:-1]} - {0, out_len})
        bounds = [0] + inner + [out_len]
    target = REACH_RATIO * (k - 1)
    if target <= 0:
        return bounds
    merged = [0]
    for b in bounds[1:]:
        if b - merged[-1] >= target or b == out_len:
            merged.append(b)
    if len(merged) > 2 and merged[-1] - merged[-2] < target:
        del merged[-2]
    return merged


def _runs(idx, in_bounds):
    """Split a window's input indices (``CVAL`` for the cval fill) into runs.

    A run is ``(t0, t1, chunk, first, step)``: window positions ``t0..t1-1``
    read indices ``first, first + step, ...`` (step +1 or -1) of input chunk
    ``chunk`` (local indices), or hold cval when ``chunk`` is -1.
    """
    L = idx.shape[0]
    bounds = np.asarray(in_bounds, dtype=np.intp)
    chunk = np.where(idx >= 0, np.searchsorted(bounds, idx, side="right") - 1, -1)
    runs = []
    t = 0
    while t < L:
        c = int(chunk[t])
        if c < 0:
            rest = np.flatnonzero(idx[t:] >= 0)
            u = t + (int(rest[0]) if rest.size else L - t)
            runs.append((t, u, -1, 0, 1))
            t = u
            continue
        step = 1
        if t + 1 < L and chunk[t + 1] == c and abs(int(idx[t + 1]) - int(idx[t])) == 1:
            step = int(idx[t + 1]) - int(idx[t])
        # a run stays in one chunk: look no further than the chunk's length
        span = min(L - t, int(bounds[c + 1] - bounds[c]))
        expect = idx[t] + step * np.arange(span, dtype=np.intp)
        bad = np.flatnonzero((idx[t:t + span] != expect) | (chunk[t:t + span] != c))
        u = t + (int(bad[0]) if bad.size else span)
        runs.append((t, u, c, int(idx[t] - bounds[c]), step))
        t = u
    return runs


def _plan_axis(chunks, n, k, start, out_len, mode, boundary, whole=False, extend=False,
               core_extends=False):
    """The plan of one axis.  ``core_extends``: the direct core computes the
    blocks, and may extend a window past the array's edges itself."""
    in_bounds = [0]
    for c in chunks:
        in_bounds.append(in_bounds[-1] + c)
    if whole and extend:
        # one block reads the whole axis, extended here (the in-memory call
        # extends the input before the core reads it)
        idx = _boundary.extension_indices(n, start, out_len + k - 1, boundary)
        return _Axis([0, out_len], [_runs(idx, in_bounds)], [0])
    if whole:
        # one block reads the whole axis, and the core extends it itself
        return _Axis([0, out_len], [_runs(np.arange(n, dtype=np.intp), in_bounds)], [start])
    out_bounds = _out_bounds(in_bounds, n, k, start, out_len, mode)
    runs, starts = [], []
    for o0, o1 in zip(out_bounds[:-1], out_bounds[1:]):
        first, length = start + o0, o1 - o0 + k - 1
        idx = _boundary.extension_indices(n, first, length, boundary)
        lo, hi = max(0, first), min(n, first + length)
        if core_extends and not extend and lo < hi and (lo > first or hi < first + length):
            # A window past an edge of the array: where the core, extending
            # the window's samples of the array by the boundary, reads the
            # same samples (a reach the window's samples cover; not "wrap"
            # unless they are the whole axis), it does so as the in-memory call
            # does -- no extended copy, and the window can stay a view.
            own = _boundary.extension_indices(hi - lo, first - lo, length, boundary)
            if np.array_equal(np.where(own >= 0, own + lo, own), idx):
                runs.append(_runs(np.arange(lo, hi, dtype=np.intp), in_bounds))
                starts.append(first - lo)
                continue
        runs.append(_runs(idx, in_bounds))
        starts.append(0)
    return _Axis(out_bounds, runs, starts)


class _Block:
    """What one output block's task needs besides the kernel and the pieces
    (an opaque object, so that dask reads none of it as a key or a task)."""

    __slots__ = ("win_shape", "out_shape", "places", "picks", "fills", "cval", "dtype",
                 "method", "workers", "order", "starts", "boundary", "name", "origin", "number",
                 "place", "window", "plans")

    def __init__(self, **kw):
        self.window = None      # the window itself, where the graph holds it (``_lazy``)
        self.plans = {}         # its computations' direct plans (``_block_plan``)
        self.place = None       # where it lies in the gathered result (``_place``)
        for name, value in kw.items():
            setattr(self, name, value)

    def __getstate__(self):
        # a plan holds the core's module: each process plans its own
        return {name: getattr(self, name) for name in self.__slots__ if name != "plans"}

    def __setstate__(self, state):
        self.plans = {}
        for name, value in state.items():
            setattr(self, name, value)


class _Pieces:
    """The basic indices (slices) of the parts of one input chunk that other
    blocks' windows read, opaque to dask."""

    __slots__ = ("indices",)

    def __init__(self, indices):
        self.indices = indices


class _Parts:
    """The parts of an input chunk that other windows read, held as data in
    the graph (opaque to dask, which would read a tuple as a task)."""

    __slots__ = ("parts",)

    def __init__(self, parts):
        self.parts = parts

    def __getitem__(self, i):
        return self.parts[i]


def _chunk_in_graph(layer, key):
    """The array that is ``key``'s value in ``layer``, if it is data there (the
    chunks of ``dask.array.from_array`` of an array in memory), else None."""
    from dask.highlevelgraph import MaterializedLayer
    if not isinstance(layer, MaterializedLayer):
        return None
    value = layer.mapping.get(key)
    return value if type(value) is np.ndarray else None


def _take_pieces(chunk, pieces):
    """Every part of ``chunk`` that other windows read, as views: one task
    per chunk rather than one per part (dask's ordering and scheduling cost
    per task is of the order of a block's copy).  Under dask.distributed a
    block on another worker fetches these thin parts (all of them, also those
    its neighbours read), never the whole chunk."""
    chunk = np.asarray(chunk)
    return tuple(chunk[index] for index in pieces.indices)


def _run_slice(first, length, step):
    if step == 1:
        return slice(first, first + length)
    stop = first - length
    return slice(first, None if stop < 0 else stop, -1)


# ------------------------------------------------------------------ the tasks
def task_threads(workers, tasks=None):
    """ndconv's threads for one dask task.

    ``workers`` given: as in memory.  ``None``: the threads OpenMP allows now,
    divided by the tasks that run at once in this process (``tasks``, or, if
    None, as dask runs them here: the worker's thread count under
    dask.distributed, the pool's size under the threaded scheduler, one in the
    synchronous scheduler, whose tasks run in the calling main thread) -- so
    that the machine's total stays at its core count.  Either way no more
    than in memory (``resolve_workers``): one thread in a process forked from
    one that ran ndconv's threads, whose OpenMP runtime would hang.
    """
    n = resolve_workers(workers, _dispatch.omp_max_threads(), _dispatch.omp_num_procs())
    if workers is not None:
        return n
    return max(1, n // (tasks or _concurrent_tasks()))


def _concurrent_tasks():
    if "distributed" in sys.modules:
        try:
            worker = sys.modules["distributed"].get_worker()
        except ValueError:   # not in a worker
            pass
        else:
            return max(1, int(worker.state.nthreads))
    if threading.current_thread() is threading.main_thread():
        return 1
    import dask
    import dask.system
    return max(1, int(dask.config.get("num_workers", None) or dask.system.CPU_COUNT))


# Windows are assembled, and blocks bound for a gathered result computed, in
# buffers kept per thread, up to this many bytes each: a fresh one per task
# pays its page faults (a 1024^2 float32 window: faults cost three times the
# copy into it; the whole computation 3-15 % slower in A/B runs of a 5x5
# filter, threaded, on a loaded 2-core machine).
_KEEP_WINDOW = 64 << 20
_scratch = threading.local()


def _thread_buffer(slot, shape, dtype):
    """An uninitialised array of ``shape`` in this thread's buffer ``slot``
    ("window" or "block"; valid until the thread's next task: never returned
    from a task)."""
    nbytes = math.prod(shape) * dtype.itemsize
    buf = getattr(_scratch, slot, None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(nbytes, dtype=np.uint8)
        if nbytes <= _KEEP_WINDOW:
            setattr(_scratch, slot, buf)
    return buf[:nbytes].view(dtype).reshape(shape)


def _window_buffer(shape, dtype):
    return _thread_buffer("window", shape, dtype)


def _root(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _shared_view(pieces, places, win_shape, dtype):
    """The window as a view, without a copy, where its pieces are parts of one
    array laid out as the window is (the chunks of ``da.from_array`` of an
    array in memory, away from the array's edges); else None.

    Each piece is placed where the window's layout puts it (the same strides,
    and its first element at the window's origin plus its place's offset),
    and the pieces tile the window (no fills), so every element of the view
    is an element of a piece: the view addresses nothing else.
    """
    first = pieces[0]
    if not all(isinstance(p, np.ndarray) and p.dtype == dtype and p.strides == first.strides
               for p in pieces):
        return None
    root = _root(first)
    origin = None
    for p, index in zip(pieces, places):
        if _root(p) is not root:
            return None
        at = p.__array_interface__["data"][0] - sum(i.start * st for i, st in
                                                    zip(index, first.strides))
        if origin is None:
            origin = at
        elif at != origin:
            return None
    corner = next(p for p, index in zip(pieces, places) if all(i.start == 0 for i in index))
    return np.lib.stride_tricks.as_strided(corner, shape=win_shape, strides=first.strides,
                                           writeable=False)


# ------------------------------------------------------------------ gathering
# ``compute()`` ends with dask's gather: one task copies every block into a new
# array (``dask.array.core.finalize``), single-threaded, after the blocks; with
# the blocks' own fresh memory, that made a 4096^2 5x5 filter's compute() 2.9x
# its in-memory call.  When a result of ``convolve``/``correlate`` is computed
# itself (its ``__dask_postcompute__``: not stored, not an operand of another
# array), its blocks are written into one array and the gather hands that array
# over.  Only tasks in the process that computes see it: elsewhere (distributed
# workers, the processes scheduler) blocks are their own arrays and dask's
# gather copies them, as before.

_gathers: dict[str, list[Any]] = {}     # graph name -> weak references to live gathers
# reentrant: a weak reference's callback takes it, and may run while a thread
# holding it drops the last reference to a gather
_gathers_lock = threading.RLock()


class _Gather:
    """One ``compute()`` of a lazy result: the array its blocks are written
    into (allocated by the first block), and the finalize that returns it.

    The array is returned only if every block handed to the finalize is the
    very view of it that this gather gave that block's task (``part``), and
    nothing else refers to its memory (no other view, e.g. made by another
    computation of the same graph while this one ran); else dask's own gather
    copies the blocks.  A block's task asks for its view while no other
    gather of the same graph is alive in the process (two computations at
    once: each block its own array).  The one way to hold a block beside the
    result is to ask the same ``dask.compute`` for both (``to_delayed()``):
    that block is then a view of the result (documented in ``docs/dask.rst``).
    """

    __slots__ = ("name", "chunks", "shape", "dtype", "nbytes", "given", "pid", "lock", "slab",
                 "flat", "closed", "__weakref__")

    def __init__(self, name, chunks, dtype):
        self.name, self.chunks, self.dtype = name, chunks, np.dtype(dtype)
        self.shape = tuple(int(sum(c)) for c in chunks)
        self.nbytes = math.prod(self.shape) * self.dtype.itemsize
        # per block, in dask's key order: the view of the array given to its task
        self.given = [None] * math.prod(len(c) for c in chunks)
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.slab = self.flat = None
        self.closed = False

    def __reduce__(self):
        # elsewhere (a distributed worker), a gather that owns nothing: dask's copy
        return _Gather, (self.name, self.chunks, self.dtype)

    def register(self):
        name = self.name
        with _gathers_lock:
            _drop(name)
            _gathers.setdefault(name, []).append(weakref.ref(self, lambda ref: _drop(name)))
        return self

    def part(self, spec, near):
        """Block ``spec``'s part of the gathered array and its rows, or None;
        the first block places the array apart from ``near``, its window (the
        windows of an array in memory are views of it, alike modulo a page).

        The rows are the part's rows in the block's compute order as
        ``DirectPlan.run`` takes them, a slice of the array's flat view, or
        None where they are not rows of the array (the kernel then writes
        elsewhere, and the part is copied)."""
        with self.lock:
            if self.closed or self.pid != os.getpid():
                return None
            if self.slab is None:
                self.slab = _placement.empty(self.shape, self.dtype, near=near)
                self.flat = self.slab.reshape(-1)
            if spec.place is None:
                spec.place = _place(self.slab, spec)
            box, first, span, pitch = spec.place
            part = self.given[spec.number] = self.slab[box]
            return part, None if span is None else (self.flat[first:first + span], pitch)

    def close(self):
        """Give out no view after this; returns the array and the views given."""
        _drop(self.name, self)
        with self.lock:
            self.closed = True
            slab, given = self.slab, self.given
            self.slab = self.flat = self.given = None
        return slab, given

    def finalize(self, results):
        from dask.array.core import finalize
        slab, given = self.close()
        if slab is None or not _given(results, given):
            return finalize(results)
        n = len(given)
        del given       # (its references to the views)
        if not _referred_by_only(_root(slab), n + 1):
            return finalize(results)
        return slab


def _given(results, given):
    """Whether ``results`` (dask's nested lists) are exactly the views in
    ``given``, in order."""
    found = []
    _flatten(results, found)
    return len(found) == len(given) and all(a is b for a, b in zip(found, given))


def _place(slab, spec):
    """Where block ``spec`` lies in ``slab``, a C-ordered array of its
    graph's result (any such array: the same for every compute()): its box,
    and its rows in the block's compute order as a span of the flat array:
    ``(box, first, length, pitch)``, pitch -1 for contiguous rows, or
    ``(box, None, None, None)`` where they are not rows of it
    (``_direct._row_pitch``)."""
    box = tuple(slice(o, o + n) for o, n in zip(spec.origin, spec.out_shape))
    op = slab[box].transpose(spec.order)
    pitch = -1 if op.flags.c_contiguous else _direct._row_pitch(op)
    if pitch is None or op.size == 0:
        return box, None, None, None
    first = sum(o * s for o, s in zip(spec.origin, slab.strides)) // slab.itemsize
    return box, first, _direct._row_extent(op, pitch), pitch


def _referred_by_only(owner, n):
    """Whether ``n`` references (besides this call's) are all there are to
    ``owner``: here, one per block and one from the gathered array (itself, or
    a view of it), so that no other view of its memory would alias the
    result.  Compared with an object held as often, so that the count means
    the same on every Python version."""
    probe = object()
    held = [probe] * n
    same = sys.getrefcount(owner) == sys.getrefcount(probe)
    del held
    return same


def _drop(name, gather=None):
    """Forget the gathers of graph ``name`` that are gone, and ``gather``."""
    with _gathers_lock:
        refs = [r for r in _gathers.get(name, ()) if r() is not None and r() is not gather]
        if refs:
            _gathers[name] = refs
        else:
            _gathers.pop(name, None)


def _flatten(nested, into):
    if isinstance(nested, (list, tuple)):
        for item in nested:
            _flatten(item, into)
    else:
        into.append(nested)


def _gather_of(spec):
    """The gather of the one ``compute()`` of block ``spec``'s graph alive in
    this process, or None."""
    refs = _gathers.get(spec.name)
    if not refs:
        return None
    with _gathers_lock:
        live = [g for g in (r() for r in refs) if g is not None]
    return live[0] if len(live) == 1 else None


@functools.cache
def _result_class():
    """``dask.array.Array`` whose ``compute()`` gathers without a copy (dask
    is imported only when a dask array is used)."""
    import dask.array as da

    class Result(da.Array):
        __slots__ = ()

        def __dask_postcompute__(self):
            return _Gather(self.name, self.chunks, self.dtype).register().finalize, ()

        def compute(self, **kwargs):
            blocks = _blocks_of(self)
            if blocks is not None:
                runners = _runners_here(self, kwargs)
                if runners is not None:
                    return _compute_here(self, blocks, runners)
            return _in_runs(self, kwargs, super().compute, blocks is not None)

    Result.__qualname__ = "Result"
    Result.__module__ = __name__
    return Result


# compute()'s keywords that leave it what dask's local schedulers would compute
_HERE_KEYWORDS = frozenset(("scheduler", "num_workers", "optimize_graph"))


def _runners_here(result, kwargs):
    """How many threads ``result.compute(**kwargs)`` runs its blocks on
    itself (``_compute_here``), or None where dask computes it.

    Itself, for a graph whose every task is one of its blocks
    (``_blocks_of``: the input in memory): where dask would run them in this process on its
    threaded scheduler (``num_workers`` threads: the calling thread and
    helpers) or its synchronous one (the calling thread), on a pool of its
    own choosing, with nothing watching the tasks (no callbacks: a progress
    bar, a profiler) and no keyword for the scheduler beyond these.  The
    blocks, their plans and so their bits are the same either way; what goes
    is dask's work around them: 4096^2 float32 5x5 on 2 vCPUs, 1.07-1.13
    times the in-memory call against 1.24-1.44 with 1024^2 chunks, 1.27-1.47
    against 2.09-2.73 with 256^2 (docs/dask.rst).
    """
    if not _HERE_KEYWORDS.issuperset(kwargs):
        return None
    import dask
    from dask.callbacks import Callback
    if Callback.active or dask.config.get("pool", None) is not None:
        return None
    import dask.base
    import dask.local
    import dask.system
    import dask.threaded
    get = dask.base.get_scheduler(scheduler=kwargs.get("scheduler"), collections=[result])
    if get is dask.local.get_sync:
        return 1
    if get is not dask.threaded.get:
        return None
    n = kwargs.get("num_workers") or dask.config.get("num_workers", None) or dask.system.CPU_COUNT
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        return None     # dask's pool says what is wrong with it
    return int(n)


def _compute_here(result, blocks, runners):
    """``result``'s blocks (``_blocks_of``) computed on the calling thread
    and ``runners - 1`` helper threads, written into one array (``_Gather``)
    and returned as dask's computation would return them.

    Each thread takes blocks from its own stretch of them in key order, so
    that threads work on blocks apart (blocks side by side share the
    result's huge pages, which both would fault in), and, its stretch done,
    from the end of the longest stretch left: a helper that starts late (an
    idle vCPU wakes in 0.05-5 ms) costs no more than the block it takes last.
    The first error stops the others taking blocks, and is raised.
    """
    w, specs = blocks
    outs = [None] * len(specs)
    gather = _Gather(result.name, result.chunks, result.dtype).register()
    share = _Stretches(len(specs), runners)

    def run(r):
        try:
            for i in share.taken_by(r):
                outs[i] = _compute_block(w, specs[i], tasks=runners)
        except BaseException:
            share.stop()
            raise

    helpers = [_helpers(runners - 1).submit(run, r) for r in range(1, runners)]
    try:
        run(0)
        # a helper that has not started yet has nothing left to do
        for job in helpers:
            if not job.cancel():
                job.result()
    except BaseException:
        share.stop()
        gather.close()
        raise
    return gather.finalize(_nest(outs, [len(c) for c in result.chunks]))


class _Stretches:
    """Items ``0 .. n-1`` shared by ``runners`` threads (``_compute_here``):
    runner ``r`` takes the ``r``-th contiguous stretch from its start, then
    what is left of the others from their ends, longest first."""

    def __init__(self, n, runners):
        ends = [n * r // runners for r in range(runners + 1)]
        self.left = [[ends[r], ends[r + 1]] for r in range(runners)]
        self.lock = threading.Lock()
        self.stopped = False

    def taken_by(self, r):
        """The items runner ``r`` takes, one at a time, until none is left
        or ``stop()``."""
        own = self.left[r]
        while True:
            with self.lock:
                if self.stopped:
                    return
                if own[0] < own[1]:
                    own[0] += 1
                    i = own[0] - 1
                else:
                    other = max(self.left, key=lambda s: s[1] - s[0])
                    if other[0] >= other[1]:
                        return
                    other[1] -= 1
                    i = other[1]
            yield i

    def stop(self):
        with self.lock:
            self.stopped = True


_pools: dict[int, Any] = {}
_pools_lock = threading.Lock()
if hasattr(os, "register_at_fork"):
    # a forked child has none of the pools' threads: it makes pools of its own
    os.register_at_fork(after_in_child=_pools.clear)


def _helpers(n):
    """A pool of ``n`` threads, kept for later computations (as dask keeps
    its pool per thread count)."""
    with _pools_lock:
        pool = _pools.get(n)
        if pool is None:
            from concurrent.futures import ThreadPoolExecutor
            pool = _pools[n] = ThreadPoolExecutor(n, thread_name_prefix="ndconv-dask")
        return pool


def _nest(flat, grid):
    """``flat`` (blocks in key order) as nested lists of the block grid, as
    dask hands the blocks of an array to its finalize."""
    if len(grid) <= 1:
        return list(flat)
    step = len(flat) // grid[0]
    return [_nest(flat[i * step:(i + 1) * step], grid[1:]) for i in range(grid[0])]


def _in_runs(result, kwargs, compute, alone):
    """``compute(**kwargs)`` by dask (``_runners_here`` found it is not to
    run the blocks itself: a callback watches the tasks, say), where the
    result's blocks are its graph's only tasks (``alone``: their windows made
    with the graph, an array in memory), with dask's local schedulers handing a thread
    its blocks in runs of half its share (``chunksize``), unless the caller
    chose a ``chunksize``; other schedulers do not read the setting.

    One task at a time (dask's default) hands a thread the next block when it
    asks: two blocks side by side then run at once and both fault in the same
    huge pages of the result (4096^2 float32 5x5 in 1024^2 blocks, two
    threads: the first two blocks of each row band 3-9 ms, the others 1.1),
    and every task costs a wake-up of the scheduling thread.  40 calls per
    process, two processes, median / 90th percentile: 1024^2 blocks one at a
    time 20.1-21.3 / 23-24 ms, runs of half a share 15.9-16.5 / 25-27, of a
    whole share 15.7-16.0 / 43-97 (a thread that the machine slows holds up
    the end: nothing is left to hand the other), a quarter 18.9-20.6 / 23;
    512^2 blocks 32.6-33.4 / 38-39 one at a time, 22.4-22.9 / 25-29 in runs
    of half a share.  Graphs with other tasks (inputs read or computed by
    dask) keep dask's default, which lets their results flow.
    """
    import dask
    if "chunksize" in kwargs or dask.config.get("chunksize", None) is not None \
            or not alone:
        return compute(**kwargs)
    import dask.system
    pool = dask.config.get("pool", None)
    workers = (kwargs.get("num_workers") or dask.config.get("num_workers", None)
               or getattr(pool, "_max_workers", None) or dask.system.CPU_COUNT)
    with dask.config.set(chunksize=max(1, -(-result.npartitions // (2 * int(workers))))):
        return compute(**kwargs)


def _blocks_of(result):
    """``(kernel, specs)``, the specs in key order, where every task of
    ``result``'s graph is one of its blocks depending on the kernel alone
    (``_lazy``), else None."""
    layer = getattr(result.__dask_graph__(), "layers", {}).get(result.name)
    mapping = getattr(layer, "mapping", None)
    if mapping is None:
        return None
    # (the kernel is data; the input's layers, which no block reads, are culled)
    tasks = [task for key, task in mapping.items() if type(key) is tuple]
    if len(tasks) != result.npartitions or not all(
            type(task) is tuple and len(task) == 3 and task[0] is _compute_block
            for task in tasks):
        return None
    specs = [None] * len(tasks)
    for _, _, spec in tasks:
        specs[spec.number] = spec
    return mapping[tasks[0][1]], specs


def _view_window(spec, pieces, convert=False):
    """Block ``spec``'s window as its one piece or a view of its ``pieces``
    (``_shared_view``), without a copy, or None; ``convert``: a single piece
    of another dtype is converted (a copy)."""
    if spec.fills:
        return None
    if len(pieces) == 1 and pieces[0].shape == spec.win_shape:
        if convert or pieces[0].dtype == spec.dtype:
            return np.asarray(pieces[0], dtype=spec.dtype)   # the window is one chunk's part
        return None
    return _shared_view(pieces, spec.places, spec.win_shape, spec.dtype)


def _compute_block(w, spec, *deps, tasks=None):
    """One output block: assemble its window, then its valid correlation.

    ``deps`` are input chunks and the parts tuples of ``_take_pieces``;
    ``spec.picks`` gives, per piece of the window, the part it is (``-1``:
    the chunk itself); ``tasks``: how many blocks run at once
    (``task_threads``)."""
    win = spec.window
    if win is None:
        pieces = [d if pick < 0 else d[pick] for d, pick in zip(deps, spec.picks)]
        win = _view_window(spec, pieces, convert=True)
    if win is None:
        win = _window_buffer(spec.win_shape, spec.dtype)
        for index, value in spec.fills:
            win[index] = value
        for index, piece in zip(spec.places, pieces):
            win[index] = piece
    n_threads = task_threads(spec.workers, tasks)
    gather = _gather_of(spec)
    placed = None if gather is None else gather.part(spec, win)
    target, rows = placed or (None, None)
    if spec.method != "direct":
        return correlate_nd(win, w, "valid", "constant", spec.cval, 0, None, spec.method,
                            n_threads, target)
    # the in-memory call's axis order (its rows run along the same axis): the
    # taps are then summed in the same order, so the bits are the same
    order = spec.order
    written = 0
    if target is None:
        out = _placement.empty(spec.out_shape, spec.dtype, near=win, perm=order)
    elif rows is not None:
        out = target
        # the blocks together write the whole gathered array, which the
        # caches do not keep when it is large: the kernel's stores then stream
        # (a 4096^2 float32 5x5 filter's 16 blocks of 1024^2 into a fresh
        # array, two threads: 11.8 against 14.9 ms)
        written = gather.nbytes
    else:
        # the kernel writes whole rows in its order, which this part of the
        # gathered array's rows is not laid out as: computed in a buffer
        out = _thread_buffer("block", [spec.out_shape[a] for a in order],
                             spec.dtype).transpose(np.argsort(order))
    plan, span = _block_plan(spec, win, w.shape, n_threads, written)
    plan.run(win, w, spec.cval, out, span=span, rows=rows)
    if target is None:
        return out
    if out is not target:
        target[...] = out
    return target


# a block's plans kept, at most: one per layout of its window, thread count and
# output residence met (as a rule one, reused by every compute() of the graph)
_KEEP_PLANS = 4


def _block_plan(spec, win, w_shape, n_threads, written):
    """Block ``spec``'s direct plan (``correlate_direct``'s) for ``win`` laid
    out as it is, made once and reused by later computations of the graph,
    with the window's span for the kernel (``DirectPlan.input_span``) where
    the graph holds the window (``spec.window``), else None.

    A plan depends on the window's layout, never its values, and on the
    build and settings in force (``tuning.generation``), which the key
    holds.  A 16^2 block's task took 23 us in ndconv with a plan per call,
    18 with the plan kept; written into the gathered result, 29 with the
    plan kept and 10 with the span kept too and the block's rows in the
    result taken from ``_place``; a 4096^2 float32 5x5 filter's
    compute() (Intel Xeon, threaded, by turns in one process) 0.95-0.97x
    the time with 1024^2 chunks, 0.93-0.99x with 512^2, 0.89-0.93x with
    256^2, and then 0.70-0.75x with 256^2 (the tasks' Python is what their
    two threads hand each other's lock for).  Two threads may plan one block
    at once (the same plan twice; either is kept)."""
    key = (win.shape, win.strides, n_threads, written, _direct.core(), _tuning.generation())
    kept = spec.plans.get(key)
    if kept is None:
        plan = _direct.DirectPlan(win, w_shape, spec.starts, spec.out_shape, spec.boundary,
                                  n_threads, order=spec.order, written=written)
        span = None
        if win is spec.window:
            # the window the graph holds is read in place by every computation
            # (never a copy of it, which would miss later values of the input)
            span = plan.input_span(win)
            if not np.may_share_memory(span, win):
                span = None
        if len(spec.plans) >= _KEEP_PLANS:
            spec.plans.clear()
        kept = spec.plans[key] = (plan, span)
    return kept


# ------------------------------------------------------------------ the API
def _prepare(x, k, mode, boundary, cval, origin, axes, method, workers, flip, conj):
    """Check the arguments as the in-memory call does (``_api.prepare``: the
    same order and messages), without reading ``x``'s data."""
    import dask.array as da

    if not is_dask_array(x):
        x = da.asarray(as_array(x, "x"))
    as_array(np.empty(0, dtype=x.dtype), "x")   # the dtype check, on no data
    if any(math.isnan(s) for s in x.shape):
        raise ValueError("x has chunks of unknown size (shape %s); call x.compute_chunk_sizes() "
                         "first" % (x.shape,))
    _, w, _, dtype, boundary, cval, origins, _ = prepare(
        x, k, mode, boundary, cval, origin, axes, method, workers, flip, conj, None)
    return x, np.ascontiguousarray(w), dtype, boundary, cval, origins


def _lazy(op, x, k, mode, boundary, cval, origin, axes, method, workers):
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    x, w, dtype, boundary, cval, origins = _prepare(
        x, k, mode, boundary, cval, origin, axes, method, workers,
        flip=op == "convolve", conj=op == "correlate")
    starts, out_shape = geometry(x.shape, w.shape, mode, origins)
    # the axis order the in-memory call runs in, for the C-ordered array that
    # computing x gives (a strided view of one element: no memory)
    order = _direct.compute_order_c(x.shape, out_shape, dtype)
    whole = None
    if dtype.kind == "c" and method == "direct":
        # the core's complex blocks for row segments of 3-7 outputs round
        # differently from its wide ones, so each block computes whole rows
        # with the in-memory call's segments (its border columns included)
        whole = order[-1]
    token = tokenize(x.name, w, op, mode, boundary,
                     ("per-axis",) + tuple(cval) if isinstance(cval, _boundary.AxisCvals) else cval,
                     origins, method, workers)
    # per-axis fills: a window position past the edge of several "constant"
    # axes takes the fill of the last of them in numpy.pad's order
    fill_of = dict(cval) if isinstance(cval, _boundary.AxisCvals) else None
    plans = [_plan_axis(x.chunks[a], x.shape[a], w.shape[a], starts[a], out_shape[a], mode,
                        _boundary.on_axis(boundary, a), whole=a == whole,
                        extend=fill_of is not None, core_extends=method == "direct")
             for a in range(x.ndim)]
    if fill_of is not None:
        boundary, cval = "constant", dtype.type(0)
        fill_axes = [a for a, _ in reversed(list(fill_of.items()))]

    name = "ndconv-%s-%s" % (op, token)
    kname = "ndconv-kernel-" + tokenize(w)
    pname = "ndconv-halo-" + token
    dsk: dict[Any, Any] = {kname: w}
    # per input chunk, the parts of it that windows read: (first, length,
    # step) per axis -> position among the chunk's parts
    parts: dict[tuple[int, ...], dict[tuple[tuple[int, int, int], ...], int]] = {}
    blocks = []
    for bidx in np.ndindex(*[len(p.runs) for p in plans]):
        axis_runs = [plans[a].runs[b] for a, b in enumerate(bidx)]
        block_shape = tuple(plans[a].out_bounds[b + 1] - plans[a].out_bounds[b]
                            for a, b in enumerate(bidx))
        win_shape = tuple(sum(r[1] - r[0] for r in runs) for runs in axis_runs)
        places, picks, fills, deps = [], [], [], []
        for combo in _product(axis_runs):
            win_index = tuple(slice(r[0], r[1]) for r in combo)
            if any(r[2] < 0 for r in combo):
                value = cval
                if fill_of is not None:
                    value = fill_of[next(a for a in fill_axes if combo[a][2] < 0)]
                fills.append((win_index, value))
                continue
            cidx = tuple(r[2] for r in combo)
            cshape = tuple(x.chunks[a][r[2]] for a, r in enumerate(combo))
            whole = all(r[3] == 0 and r[4] == 1 and r[1] - r[0] == n
                        for r, n in zip(combo, cshape))
            if whole:
                deps.append((x.name,) + cidx)
                picks.append(-1)
            else:
                # (slices are not hashable before Python 3.12: keyed by the runs)
                known = parts.setdefault(cidx, {})
                picks.append(known.setdefault(tuple((r[3], r[1] - r[0], r[4]) for r in combo),
                                              len(known)))
                deps.append((pname,) + cidx)
            places.append(win_index)
        spec = _Block(win_shape=win_shape, out_shape=block_shape, places=places, picks=picks,
                      fills=fills, cval=cval, dtype=dtype, method=method, workers=workers,
                      order=order, starts=[p.starts[b] for p, b in zip(plans, bidx)],
                      boundary=boundary, name=name,
                      origin=tuple(p.out_bounds[b] for p, b in zip(plans, bidx)),
                      number=len(blocks))
        blocks.append(((name,) + tuple(bidx), spec, deps))
    layer = x.dask.layers.get(x.name)
    halos: dict[Any, Any] = {}
    for cidx, known in parts.items():
        indices = _Pieces(tuple(tuple(_run_slice(*run) for run in runs) for runs in known))
        chunk = _chunk_in_graph(layer, (x.name,) + cidx)
        if chunk is not None:
            # the chunk is data in the graph (an array in memory): its parts,
            # views of it, are data too, and cost the scheduler nothing
            halos[(pname,) + cidx] = _Parts(_take_pieces(chunk, indices))
        else:
            halos[(pname,) + cidx] = (_take_pieces, (x.name,) + cidx, indices)
    used = set()
    reads_input = False
    for key, spec, deps in blocks:
        values = [halos[d] if d[0] == pname else _chunk_in_graph(layer, d) for d in deps]
        if all(type(v) in (_Parts, np.ndarray) for v in values):
            # the window is a view of data in the graph: made here, once, rather
            # than from its pieces in every computation (16 blocks of a 4096^2
            # filter: 0.4 ms of each compute(), and no dependencies for dask to
            # order)
            spec.window = _view_window(
                spec, [v if pick < 0 else v[pick] for v, pick in zip(values, spec.picks)])
        if spec.window is not None:
            dsk[key] = (_compute_block, kname, spec)
        else:
            dsk[key] = (_compute_block, kname, spec) + tuple(deps)
            used.update(d for d in deps if d[0] == pname)
            reads_input = True
    dsk.update((k, v) for k, v in halos.items() if k in used)
    chunks = tuple(tuple(np.diff(p.out_bounds).tolist()) for p in plans)
    # a graph whose blocks all hold their windows has no task of x's to cull
    # (4096^2 in 1024^2 chunks: 0.2 ms of each compute())
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[x] if reads_input else [])
    return _result_class()(graph, name, chunks, meta=np.empty((0,) * x.ndim, dtype=dtype))


def _product(lists):
    if not lists:
        yield ()
        return
    for head in lists[0]:
        for tail in _product(lists[1:]):
            yield (head,) + tail


def _no_nan(block):
    if np.isnan(block).any():
        raise ValueError("x holds NaN and nan_policy='raise'")
    return block


def _with_missing(op, x, k, mode, boundary, cval, origin, axes, method, workers, nan_policy,
                  mask, min_weight, preserve_nan):
    """The missing-data keywords (``ndconv._plan.missing``), lazily: the data's
    and the weights' correlations are two lazy calls, combined per block."""
    if not _missing.requested(nan_policy, mask, min_weight, preserve_nan, boundary):
        return _lazy(op, x, k, mode, boundary, cval, origin, axes, method, workers)
    import dask.array as da

    if not is_dask_array(x):
        x = da.asarray(as_array(x, "x"))
    kk = as_array(k, "k")
    dtype = result_dtype(as_array(np.empty(0, dtype=x.dtype), "x"), kk)
    if mask is not None:
        if not is_dask_array(mask):
            mask = _missing.check_mask(mask, x.shape)
        mask = da.broadcast_to(da.asarray(mask), x.shape).rechunk(x.chunks)
    if nan_policy == "raise" and x.dtype.kind in "fc":
        # checked as each block is computed: nothing is computed now
        x = x.map_blocks(_no_nan, dtype=x.dtype)

    def correlate(a, bnd, cv, dst):
        return _lazy(op, a, kk, mode, bnd, cv, origin, axes, method, workers)

    return _missing.normalized(correlate, x, kk, mode, boundary, cval, nan_policy, mask,
                               min_weight, preserve_nan, flip=op == "convolve", dtype=dtype,
                               fft_possible=lambda present: method != "direct", axes=axes,
                               lazy=True)


def correlate(x: Any, k: ArrayLike, mode: Mode = "full", *, boundary: Boundaries = "constant",
              cval: Cvals = 0.0, origin: int | Sequence[int] = 0,
              axes: int | Sequence[int] | None = None, method: Method = "auto",
              workers: int | None = None, nan_policy: NanPolicy = "propagate",
              mask: Any = None, min_weight: float = 0.0, preserve_nan: bool = False) -> Any:
    return _with_missing("correlate", x, k, mode, boundary, cval, origin, axes, method, workers,
                         nan_policy, mask, min_weight, preserve_nan)


def convolve(x: Any, k: ArrayLike, mode: Mode = "full", *, boundary: Boundaries = "constant",
             cval: Cvals = 0.0, origin: int | Sequence[int] = 0,
             axes: int | Sequence[int] | None = None, method: Method = "auto",
             workers: int | None = None, nan_policy: NanPolicy = "propagate",
             mask: Any = None, min_weight: float = 0.0, preserve_nan: bool = False) -> Any:
    return _with_missing("convolve", x, k, mode, boundary, cval, origin, axes, method, workers,
                         nan_policy, mask, min_weight, preserve_nan)


_DASK_NOTES = """
    Returns
    -------
    dask.array.Array
        Lazy result in ndconv's result dtype (that of ``ndconv.%(op)s``).

    Notes
    -----
    Nothing is computed until the result is.  ``x`` is a dask array (a numpy
    array is wrapped with ``dask.array.asarray``); ``k`` is in memory and is
    one key of the graph, shipped to each worker once.  With
    ``method="direct"`` the computed result is bitwise
    ``ndconv.%(op)s(x.compute(), k, ...)``; with ``"fft"`` and ``"auto"``
    each block chooses for itself and the result is within the FFT accuracy
    bound of it.  The output is chunked like ``x`` (for ``"full"`` and
    ``"valid"`` the first and last chunks grow or shrink by the kernel's
    reach), except along an axis where chunks are shorter than four times the
    kernel's reach ``K - 1``: consecutive chunks are merged until none is.
    ``workers=None`` gives each task its share of the cores
    (``ndconv.dask.task_threads``).  Computed by itself in one process
    (``.compute()``, ``numpy.asarray``; threaded or synchronous scheduler),
    the result's blocks are written into the array returned, without dask's
    final copy of every block; where its input is in memory and no callback
    watches the tasks, ``.compute()`` runs the blocks itself, on the calling
    thread and ``num_workers - 1`` others, rather than through dask's
    scheduler (the same blocks and bits).  With the missing-data keywords the data's
    and the weights' correlations are two lazy results combined block by
    block, and ``nan_policy="raise"`` raises when a block holding NaN is
    computed.
"""


def _doc(op):
    from ._api import _DOC_PARAMS
    params = _DOC_PARAMS % {"op": op}
    # every parameter but out
    params = (params[:params.index("    out : ndarray")]
              + params[params.index("    nan_policy :"):params.index("\n    Returns")])
    return ("Lazy N-D %s of a dask array ``x`` with an in-memory kernel ``k``.\n"
            % ("cross-correlation" if op == "correlate" else "convolution")
            + params + _DASK_NOTES % {"op": op} + """
    Examples
    --------
    >>> import dask.array as da, numpy as np, ndconv.dask
    >>> x = da.ones((16, 16), chunks=8)
    >>> y = ndconv.dask.%s(x, np.ones((3, 3)) / 9, "same", boundary="edge")
    >>> y.chunks, float(y.sum().compute())
    (((8, 8), (8, 8)), 256.0)
""" % op)


correlate.__doc__ = _doc("correlate")
convolve.__doc__ = _doc("convolve")

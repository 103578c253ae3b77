"""Direct method: turn a validated problem into the core's index tables and run it.

The problem is always "valid correlation of the extended input": output sample
``i`` along an axis reads input coordinates ``start + i + j`` for kernel taps
``j``.  Output modes, origins and axis subsets only change ``start`` and the
output length (``_api.geometry``); boundaries only change the tables
(``_boundary``); strides and memory order are folded into the tables here.
"""
import functools
import math

import numpy as np

from .. import _core
from .._core import unfused_core
from . import boundary as _boundary
from . import placement as _placement
from . import tuning as _tuning

# Elements of gather scratch per thread (per chunk, summed over leading taps).
_GATHER_BUDGET = 1 << 18
# Largest run of output columns one work item computes.
_MAX_CHUNK = 2048
_MIN_CHUNK = 64


def core():
    """The kernel module of the direct method: the build picked for this CPU,
    or ``tuning.Settings.kernels``."""
    return _tuning.SETTINGS.kernels or _core.core()


def memory_order(x):
    """Axis permutation that puts ``x``'s axes from largest to smallest stride.

    The core's inner loop runs along the last axis, so a Fortran-ordered or
    transposed input is processed in its own memory order instead of being
    copied; the output is allocated in the same order.
    """
    shape = x.shape
    if x.flags.c_contiguous and 1 not in shape:
        # strides strictly decrease: the sort below would return the identity
        return tuple(range(x.ndim))
    keys = [(shape[a] != 1, -abs(x.strides[a]), a) for a in range(x.ndim)]
    return tuple(a for _, _, a in sorted(keys))


# Output rows shorter than this leave the register blocks idle.
_SHORT_ROW = 16


def compute_order(x, out_shape):
    """Axis permutation the core runs in: ``memory_order(x)``, except that a
    short last axis is replaced by a long one.

    Channels-last images ``(h, w, 3)`` filtered over ``(h, w)``, or a few
    columns ``(n, 3)`` filtered along axis 0, would otherwise give output rows
    of 3 samples: scalar code, 20x slower.  Running along the longest output
    axis instead reads the input with a stride (gathered rows) and writes the
    output through a temporary when it is not laid out that way -- both cheap
    next to the arithmetic they vectorise.
    """
    perm = list(memory_order(x))
    last = perm[-1]
    if out_shape[last] >= _SHORT_ROW:
        return tuple(perm)
    # the longest output axis, the smallest stride among equals
    best = max(perm, key=lambda a: (out_shape[a], -abs(x.strides[a])))
    if out_shape[best] < 4 * max(1, out_shape[last]):
        return tuple(perm)
    perm.remove(best)
    return tuple(perm) + (best,)


def compute_order_c(shape, out_shape, dtype):
    """``compute_order`` of a C-contiguous array of ``shape`` and ``dtype``,
    without one (for inputs that exist only as parts: dask blocks, streams)."""
    strides, step = [], np.dtype(dtype).itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= max(1, n)
    proxy = np.lib.stride_tricks.as_strided(np.empty(1, dtype), tuple(shape),
                                            tuple(reversed(strides)))
    return tuple(compute_order(proxy, out_shape))


def _flat_span(x):
    """A 1-D view of every element ``x`` can address, from its lowest address,
    and the per-axis element strides relative to that view."""
    item = x.itemsize
    if not x.flags.aligned:
        # the AVX-512 blocks load whole aligned vectors around each row (a
        # copy: ascontiguousarray keeps a contiguous, unaligned array)
        x = x.copy()
    if x.flags.c_contiguous:
        # The span is the array itself.  Only size-1 axes can have odd (even
        # negative or non-element) strides here, and they never move the
        # address: the tables scale their one index, 0, by the stride.
        return x.reshape(-1), [s // item for s in x.strides]
    if any(s % item for s in x.strides):
        # strides that are not a whole number of elements (e.g. fields of a
        # record array) cannot be expressed as element offsets
        x = np.ascontiguousarray(x)
    estr = [s // item for s in x.strides]
    flip = tuple(slice(None, None, -1) if s < 0 else slice(None) for s in estr)
    lowest = x[flip]
    span = 1 + sum((n - 1) * abs(s) for n, s in zip(x.shape, estr))
    flat = np.lib.stride_tricks.as_strided(lowest, shape=(span,), strides=(item,), writeable=False)
    return flat, estr


def _element_strides(x):
    """The per-axis element strides of ``_flat_span(x)``, without building it:
    C-order ones where it has to copy ``x`` first."""
    item = x.itemsize
    if not x.flags.aligned or (not x.flags.c_contiguous and any(s % item for s in x.strides)):
        return [s // item for s in np.empty(x.shape, dtype=x.dtype).strides]
    return [s // item for s in x.strides]


def _chunks(m, k_last, n_lead):
    """Column chunk boundaries of the last output axis and the widest chunk.

    Chunks bound the per-thread gather scratch (``n_lead`` rows of
    ``width + k_last - 1`` samples) and give 1-D signals enough work items to
    share between threads.  The width returned is the widest chunk's, not the
    limit: the core sizes its scratch, and fills a line of cval, by it, which
    for short rows would otherwise cost more than their arithmetic.
    """
    width = _GATHER_BUDGET // max(1, n_lead) - k_last + 1
    width = int(min(_MAX_CHUNK, max(_MIN_CHUNK, width)))
    pieces = max(1, -(-m // width))
    step = -(-m // pieces)  # balanced pieces, each <= width
    bounds = np.minimum(np.arange(0, pieces + 1, dtype=np.intp) * step, m)
    return bounds, max(1, step)


# Upper bound (sum over axes of output + kernel - 1) on the band entries of a
# geometry whose tables are cached: at most 128 entries of 32 KiB.
_CACHED_EXTENT = 4096


@functools.lru_cache(maxsize=128)
def _tables(shape, estr, oshape, kshape, starts, boundary, block):
    """The core's index tables for one geometry, in the compute order (read-only).

    ``(out_shape, k_shape, params, bands, bounds, width, c0, c1)``: see
    ``_core.correlate_nd``.
    """
    params = np.empty((len(shape), 5), dtype=np.intp)
    bands = []
    pos = 0
    for a, (n, s, m, k, st) in enumerate(zip(shape, estr, oshape, kshape, starts)):
        lo, hi, idx = _boundary.border_bands(n, st, m + k - 1, _boundary.on_axis(boundary, a))
        shift = (n - 1) * -s if s < 0 else 0
        bands.append(np.where(idx >= 0, idx * s + shift, _boundary.CVAL))
        params[a] = (lo, hi, st * s + shift, s, pos)
        pos += idx.shape[0]
    bands = np.ascontiguousarray(np.concatenate(bands), dtype=np.intp)

    # Columns whose taps all read interior samples of the last axis.
    k_last, m_last = kshape[-1], oshape[-1]
    lo_last, hi_last = int(params[-1, 0]), int(params[-1, 1])
    c0 = min(m_last, lo_last)
    c1 = max(c0, min(m_last, hi_last - k_last + 1))
    # Border columns are computed from gathered rows.  Give them at least one
    # of the widest register blocks each (``block`` outputs: narrower blocks
    # have too few FMA chains to hide latency, and cost up to 4x per output),
    # and gather short rows whole.
    if c0 > 0 or c1 < m_last:
        if m_last <= 2 * block:
            c0 = c1 = 0
        else:
            if c0 > 0:
                c0 = min(max(c0, block), c1)
            if c1 < m_last:
                c1 = max(c0, min(c1, m_last - block))
    n_lead = math.prod(kshape) // k_last
    bounds, width = _chunks(m_last, k_last, n_lead)
    arrays = (np.array(oshape, dtype=np.intp), np.array(kshape, dtype=np.intp),
              params, bands, bounds)
    for arr in arrays:
        arr.flags.writeable = False
    return arrays + (width, c0, c1)


def correlate_direct(x, w, starts, out_shape, boundary, cval, n_threads, out, unfused=False,
                     order=None, written=0):
    """Valid correlation of ``x`` extended by ``boundary`` with ``w``, into ``out``.

    Parameters
    ----------
    x : ndarray
        Input in the compute dtype, native byte order, any strides.
    w : ndarray
        Kernel with ``w.ndim == x.ndim`` (size 1 along axes that are not convolved),
        same dtype; already flipped/conjugated as the operation requires.
    starts : sequence of int
        Input coordinate read by output 0 and tap 0, per axis.
    out_shape : tuple of int
    boundary : str or tuple of str
        One name, or one per axis of ``x`` (``boundary.on_axis``).
    cval : scalar of the compute dtype
    n_threads : int
    out : ndarray
        Output of ``out_shape``, compute dtype, written completely; fastest when
        contiguous in ``memory_order(x)`` (see ``empty_like_order``).
    unfused : bool
        Round every product before adding it, in the kernel's tap order (C order),
        as scipy.ndimage does: its integer outputs truncate the float sums, and a
        fused multiply-add moves a sum that lies on an integer by one ulp.
    order : tuple of int, optional
        The axis order to run in (rows along its last axis) instead of
        ``compute_order(x, out_shape)``: the taps are summed in the kernel's C
        order in it, so a part of a problem computed in the whole problem's
        order gets the whole's bits (``ndconv.dask``).
    written : int
        Bytes of the larger result that ``out`` is a part of, written around
        it at the same time (a dask block of a gathered ``compute()``): the
        output's residence in the caches (``_residence``) is that of the
        larger of the two.
    """
    return DirectPlan(x, w.shape, starts, out_shape, boundary, n_threads, unfused,
                      order, written).run(x, w, cval, out)


class DirectPlan:
    """What the direct kernel needs that depends on sizes, strides and options
    alone: the compute order, the index tables, the merged-path plan.

    Built from ``x``'s shape, strides and dtype (never its values), so one plan
    serves every input laid out the same way (``run``): repeated small calls
    reuse it instead of deriving it again.  Arguments as ``correlate_direct``.
    """

    __slots__ = ("perm", "starts", "oshape", "wshape", "itemsize", "mod", "tables", "merge",
                 "n_threads")

    def __init__(self, x, w_shape, starts, out_shape, boundary, n_threads, unfused=False,
                 order=None, written=0):
        perm = compute_order(x, out_shape) if order is None else tuple(order)
        if perm == tuple(range(x.ndim)):
            self.perm = None
            xp, self.starts, self.oshape = x, tuple(starts), tuple(out_shape)
            wshape = tuple(w_shape)
        else:
            self.perm = perm
            xp = x.transpose(perm)
            self.starts = tuple([starts[a] for a in perm])
            self.oshape = tuple([out_shape[a] for a in perm])
            wshape = tuple([w_shape[a] for a in perm])
        estr = _element_strides(xp)
        self.mod = unfused_core() if unfused else core()
        key = (xp.shape, tuple(estr), self.oshape, wshape, self.starts,
               _boundary.permute(boundary, perm),
               _block(self.mod, xp.dtype.char))
        # The tables depend on sizes alone; repeated calls of one geometry (the
        # small-call case, where building them costs more than the arithmetic)
        # reuse them.  A gate on the total extended length bounds the cache's memory.
        if sum(self.oshape) + sum(wshape) - len(self.oshape) <= _CACHED_EXTENT:
            tables = _tables(*key)
        else:
            tables = _tables.__wrapped__(*key)
        oshape_a, kshape_a, params, bands, bounds, width, c0, c1 = tables
        self.tables = self.mod.Tables(oshape_a, kshape_a, params, bands, bounds, width, c0, c1,
                                      estr[-1] == 1, _tuning.SETTINGS.roll_tile_rows or 0,
                                      *_residence(self.oshape, x.itemsize, written),
                                      _tuning.SETTINGS.shared_tile_bytes or 0,
                                      _tuning.SETTINGS.alone_tile_bytes or 0,
                                      _window_rows(xp))
        self.wshape, self.itemsize = wshape, xp.itemsize
        self.n_threads = int(n_threads)
        self.merge = _merge_plan(self.oshape, wshape, xp.itemsize, self.n_threads)

    def with_threads(self, n_threads):
        """This plan for ``n_threads`` threads (the tables shared; the merged
        path's tiles depend on the thread count)."""
        other = object.__new__(DirectPlan)
        for name in DirectPlan.__slots__:
            setattr(other, name, getattr(self, name))
        other.n_threads = int(n_threads)
        other.merge = _merge_plan(self.oshape, self.wshape, self.itemsize, other.n_threads)
        return other

    def run(self, x, w, cval, out, missing=None, span=None, rows=None):
        """Compute into ``out`` (returned); ``x``, ``w`` laid out as when planned.

        ``missing=(ksum, limit, strict, own_lead, own_last)``: the normalized
        correlation of ``x``'s NaN as missing samples, in one pass
        (``_core.correlate_nd``'s ``missing``; float and double, on the plain
        path whatever the merge plan).

        A caller making this call again and again (a dask block, on every
        ``compute()``) passes what it already holds, which the call would
        otherwise derive each time: ``span``, ``input_span(x)``; ``rows``,
        ``(span, pitch)`` when ``out`` is the rows of a larger C-ordered
        array in the compute order, as ``_row_span`` and ``_row_pitch`` give
        them (a slice of that array's flat view)."""
        if rows is not None and (self.merge is None or missing is not None):
            self._run(x, w, cval, rows[0], missing, rows[1], span)
            return out
        op = out if self.perm is None else out.transpose(self.perm)
        if op.flags.c_contiguous:
            self._run(x, w, cval, op.reshape(-1), missing, span=span)
            return out
        pitch = _row_pitch(op) if self.merge is None or missing is not None else None
        if pitch is not None:
            # rows of a larger array (a dask block's part of the result): the
            # plain path writes them in place
            self._run(x, w, cval, _row_span(op, pitch), missing, pitch, span)
            return out
        # the kernel writes C-contiguous rows in the compute order; compute
        # there, then copy (one pass over the output)
        tmp = _placement.empty(self.oshape, out.dtype, near=x)
        self._run(x, w, cval, tmp.reshape(-1), missing, span=span)
        op[...] = tmp
        return out

    def input_span(self, x):
        """``x`` as the kernel reads it: the 1-D span of its memory from its
        lowest address (``_flat_span``; a copy where its strides or alignment
        need one), for ``run``'s ``span``."""
        return _flat_span(x if self.perm is None else x.transpose(self.perm))[0]

    def _run(self, x, w, cval, flat_out, missing=None, pitch=-1, span=None):
        """The core's call, into ``flat_out``: the output's span, its rows
        ``pitch`` elements apart (-1: contiguous)."""
        wp = np.ascontiguousarray(w if self.perm is None else w.transpose(self.perm))
        flat = self.input_span(x) if span is None else span
        if missing is not None:
            # a NaN cval is missing: its rows add nothing to either sum
            self.mod.correlate_nd(self.tables, flat, flat_out, wp.reshape(-1), cval,
                                  bool(cval != cval), self.n_threads, missing, pitch)
            return
        if self.merge is not None:
            self.mod.correlate_merged(self.tables, flat, flat_out, wp.reshape(-1),
                                      self.merge[0], self.merge[1], cval, self.n_threads)
            return
        # rows that lie wholly in a band of cval 0 add nothing (the core keeps
        # them when a weight is inf or nan, whose product with 0 is nan, as
        # numpy.pad + a direct sum, and scipy.ndimage, give)
        self.mod.correlate_nd(self.tables, flat, flat_out, wp.reshape(-1), cval,
                              bool(cval == 0), self.n_threads, None, pitch)


def writable_in_place(op):
    """Whether the plain path writes ``op`` (an output in the compute order)
    without a copy: contiguous, or rows of a larger array (``_row_pitch``)."""
    return op.flags.c_contiguous or _row_pitch(op) is not None


def _row_pitch(op):
    """The elements between the starts of ``op``'s rows (its last axis, unit
    stride; the leading axes flattened) where they lie in order and without
    overlapping, as in a part of a larger C-ordered array's rows; else None."""
    item = op.itemsize
    if (op.ndim < 2 or op.size == 0 or op.strides[-1] != item or not op.flags.writeable
            or not op.flags.aligned):
        return None
    pitch, rem = divmod(op.strides[-2], item)
    if rem or pitch < op.shape[-1]:
        return None
    for a in range(op.ndim - 2):
        if op.strides[a] != op.shape[a + 1] * op.strides[a + 1]:
            return None
    return pitch


def _row_extent(op, pitch):
    """The elements from ``op``'s first row's start to its last row's end,
    rows ``pitch`` elements apart (-1: contiguous)."""
    if pitch < 0:
        return op.size
    return (op.size // op.shape[-1] - 1) * pitch + op.shape[-1]


def _row_span(op, pitch):
    """A 1-D view of ``op``'s memory from its first row's start to its last
    row's end, rows ``pitch`` elements apart."""
    return np.lib.stride_tricks.as_strided(op, shape=(_row_extent(op, pitch),),
                                           strides=(op.itemsize,))


# The merged path (``correlate_merged`` in the core) fuses the trailing axes of
# tiles of the extended input into one row.  Rows shorter than _MERGE_BELOW
# always take it; ``tuning.Settings.tile_bytes`` bounds a tile's extended input
# and output, per thread.
_MERGE_BELOW = 128
# Cost of copying one sample and of starting one copied row, in multiply-adds,
# fitted to 1-thread timings of every g0 (``tuning.override(force_g0=...)``) on
# 48^4, 16^5, 32^4 and 256^3 inputs.
_COPY_COST = 4
_ROW_COST = 200


def _merge_plan(oshape, kshape, itemsize, n_threads):
    """``(g0, tile_rows, cost)`` for the core's merged path, or None; see ``_plan_merged``."""
    s = _tuning.SETTINGS
    if not s.merged:
        return None
    return _plan_merged(tuple(oshape), tuple(kshape), itemsize, n_threads,
                        _MERGE_BELOW, s.tile_bytes, s.force_g0)


@functools.lru_cache(maxsize=256)
def _plan_merged(oshape, kshape, itemsize, n_threads, merge_below, tile_bytes, force_g0):
    """``(g0, tile_rows, cost)`` for the core's merged path, or None for the plain
    one; ``cost`` is in multiply-adds (``_method`` turns it into seconds).

    Merging pays for copying each tile's input window.  It wins where the
    plain path is slow: rows too short for the register blocks, and kernels
    spanning two or more leading axes (3-D and up), where every output row
    gathers its border columns from ``prod(k[:-1])`` source rows (W5 and W8 of
    ``ndconv bench``, against the plain path under
    ``tuning.override(merged=False)``); 2-D images with long rows run slower
    on it, so they stay on the plain path.

    ``g0`` trades two costs: a later ``g0`` re-copies each input row for every
    tap of the axes before it (the tile holds only their kernel extent), an
    earlier one computes more dropped positions (``prod(P/m)`` over the axes
    after it).  The estimate counts multiply-adds, copied samples and copied
    rows, weighted as measured; tiles must fit the cache budget.
    """
    nd = len(oshape)
    if nd < 2 or math.prod(oshape) < 4096:
        return None
    if oshape[-1] >= merge_below and sum(k > 1 for k in kshape[:-1]) < 2:
        return None
    taps = math.prod(kshape)
    best = None
    for g0 in range(nd - 1, -1, -1) if force_g0 is None else [force_g0]:
        inner = math.prod(m + k - 1 for m, k in zip(oshape[g0 + 1:], kshape[g0 + 1:]))
        lead = math.prod(kshape[:g0])
        rows = _tile_rows(oshape, kshape, g0, inner, lead, itemsize, n_threads, tile_bytes)
        if (lead * (rows + kshape[g0] - 1) + rows) * inner * itemsize > 2 * tile_bytes and force_g0 is None:
            continue   # the tile would not stay in cache
        outer = math.prod(oshape[:g0])
        slabs = -(-oshape[g0] // rows)
        computed = outer * oshape[g0] * inner * taps
        copied = outer * lead * (oshape[g0] + slabs * (kshape[g0] - 1)) * inner
        copied_rows = copied // (oshape[-1] + kshape[-1] - 1 if g0 < nd - 1 else rows + kshape[-1] - 1)
        cost = computed + _COPY_COST * copied + _ROW_COST * copied_rows
        if best is None or cost < best[2]:
            best = (g0, rows, cost)
    return best


def _tile_rows(oshape, kshape, g0, inner, lead, itemsize, n_threads, tile_bytes):
    """Output rows of axis ``g0`` per tile of the merged path: the tile's
    extended input fits in ``tile_bytes`` (cache), and there are enough tiles
    to share between threads.  ``inner`` is the extended size of the axes after
    ``g0``, ``lead`` the kernel size of those before it."""
    # per row of axis g0: its input rows (one per leading tap of the axes
    # before g0) and its output row; the halo of k[g0] - 1 input rows on top
    row_in = lead * inner * itemsize
    rows = max(1, (tile_bytes - (kshape[g0] - 1) * row_in) // max(1, row_in + inner * itemsize))
    rows = min(rows, oshape[g0])
    slabs = -(-oshape[g0] // rows)
    outer = math.prod(oshape[:g0])
    if n_threads > 1 and outer * slabs < 8 * n_threads:
        # few tiles: a multiple of the threads, so that none waits at the end
        slabs = min(oshape[g0], -(-slabs // n_threads) * n_threads)
    # balanced slabs: none of them a sliver
    return int(-(-oshape[g0] // slabs))


def _window_rows(xp):
    """The most rows per tile of the rolling rows for ``xp`` (in the compute
    order) where its rows are parts of longer ones -- a page or more lies
    between one row's samples and the next's (a window of a wider array: a
    dask block, a view) -- from ``tuning.Settings.window_tile_rows``; else 0
    (no limit)."""
    rows = _tuning.SETTINGS.window_tile_rows
    if not rows or xp.ndim < 2 or xp.strides[-1] != xp.itemsize:
        return 0
    return rows if abs(xp.strides[-2]) - xp.shape[-1] * xp.itemsize >= _placement.PAGE else 0


def _residence(oshape, itemsize, written=0):
    """``(uncached, stream)`` for an output of ``oshape``, part of ``written``
    bytes written at the same time: whether it is larger than the caches hold
    (``tuning.Settings.uncached_bytes``: the rolling rows take short tiles for
    the smallest kernels) and whether it streams through memory
    (``stream_bytes``: they also store it with non-temporal stores where the
    build has them).  An output that streams is also uncached."""
    nbytes = max(math.prod(oshape) * itemsize, written)
    s = _tuning.SETTINGS
    stream = s.stream_bytes is not None and nbytes >= s.stream_bytes
    return stream or (s.uncached_bytes is not None and nbytes >= s.uncached_bytes), stream


@functools.cache
def _block(mod, kind):
    return mod.widest_block(kind)


def empty_like_order(x, shape, dtype):
    """Uninitialised output of ``shape`` laid out in ``x``'s memory order, placed
    apart from ``x`` (``placement``)."""
    perm = memory_order(x)
    return _placement.empty(shape, dtype, near=x,
                            perm=None if perm == tuple(range(len(perm))) else perm)


# The one-pass kernel for missing samples (the four-row blocks on split rows,
# or one row at a time) against the two passes (the row-sharing blocks and
# the merged path, plus about ten elementwise passes over whole arrays).  CPU
# time of the one pass / the two, float32 with 10 % NaN, 1 thread, AVX2:
# 2048^2: 1x9 0.36, 3x3 0.46, 5x5 0.61, 7x7 0.63, 9x9 0.69, 15x3 0.70, 31x1
# 0.71, 11x11 0.77, 15x15 0.86, 31x31 0.93; 128^3: 3x3x3 0.57, but 5x5x5 1.17,
# where the two passes take the merged path.  Kernels spanning two leading
# axes with more leading taps than that stay on the two passes.
_ONE_PASS_LEAD = 9


def one_pass_pays(k_shape):
    """Whether the one-pass kernel for missing samples (``DirectPlan.run``'s
    ``missing``) beats the two passes of ``_plan.missing`` for a kernel of
    ``k_shape`` in the order it runs in (rows along the last axis)."""
    lead = [n for n in k_shape[:-1] if n > 1]
    return len(lead) <= 1 or math.prod(lead) <= _ONE_PASS_LEAD

"""The convolution layer of deep learning: ``conv`` and its gradients ``conv_grad``.

The chapter's multi-channel layer (D2L, "From fully connected layers to
convolutions")::

    H[i, j, d] = u[d] + sum_{a, b, c} V[a, b, c, d] * X[i + a, j + b, c]

with a batch axis, any number of spatial axes, stride, dilation, groups,
padding and the unified API's boundary rules.  The work is one problem,
"valid correlation of the extended input": padding and boundary become per-axis
index maps (``_boundary.index_map``), stride and dilation the step of those
maps, and the compiled core (``ndconv._core``'s selected build) reads the input through them, so
nothing is ever padded or unrolled into columns in memory.

The gradients reduce to the same core: the weight gradient is a correlation of
the extended input with the output gradient (the core's ``weight_grad``), the
input gradient is the forward layer applied to the output gradient (zeros
inserted between samples for stride > 1, ``(K - 1) * dilation`` zeros of padding)
with the kernel flipped and its channel axes swapped, folded back through the
adjoint of the boundary extension.
"""
from __future__ import annotations

import copy
import numbers
import operator
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from . import _core as _dispatch
from ._plan import boundary as _boundary
from ._plan import placement as _placement
from ._plan import threads as _plan_threads
from ._plan.validation import (
    BOUNDARIES,
    as_array,
    check_choice,
    check_out_memory,
    normalize_boundary,
    normalize_cval,
    normalize_cvals,
    resolve_workers,
    result_dtype,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from numpy.typing import ArrayLike, NDArray

    from ._plan.validation import Boundary

    # an int (every axis, both sides), one int or one (before, after) pair per axis, or a rule
    Padding = int | Sequence[int] | Sequence[tuple[int, int]] | Literal["valid", "same"]

Layout = Literal["channels_last", "channels_first"]
LAYOUTS = get_args(Layout)
Method = Literal["auto", "direct", "winograd"]
METHODS = get_args(Method)

# Output pixels per work item at most; a work item holds one pointer per tap
# and pixel, so the table is also kept below _MAX_PTRS entries.
_MAX_SEG = 1024
_MAX_PTRS = 1 << 17
# Multiply-adds of one work item at most (tens of milliseconds): the core
# checks for Ctrl-C between items, so wide layers get shorter items.
_ITEM_WORK = 1 << 28
# Below this many multiply-adds a call runs on one thread (start-up costs more).
_SERIAL_WORK = 1 << 16
# Work items are split so that there are at least this many (for threads to
# share), independent of the thread count so that results are too.
_MIN_ITEMS = 16
# The weight gradient sums this many chunks of work items separately (then adds
# the partial sums in order), fewer if their buffers would exceed _PART_BYTES.
_GRAD_CHUNKS = 16
_PART_BYTES = 1 << 26
# A Winograd work item's transformed tiles (input and products) at most, so
# that they stay in L2 while its 16 GEMMs run.
_WINO_ITEM_BYTES = 1 << 18
# ... and at least a register block of tiles (6 pixels of the GEMM kernel).
_WINO_MIN_TILES = 6
# method="auto" takes Winograd for float32 layers with at least this many
# input and output channels and output pixels (all images): below them the
# transforms (of the weights per call, of each tile per channel) outweigh
# the GEMMs' saving.  Measured on Intel Xeon (AVX-512 and AVX2 builds): 16
# channels 0.83-0.91 of the direct time from 200 pixels on, 8 channels
# 0.81-1.52; 32-128 channels 0.97-1.30 below 1,024 pixels, 0.75-0.98 from
# 1,568 on.
_WINO_MIN_CHANNELS = 16
_WINO_MIN_PIXELS = 1536


# ----------------------------------------------------------------------------- arguments
def _as_int(value, name):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("%s must be an int, got %r" % (name, value))
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError("%s must be an int, got %r" % (name, value)) from None


def _per_axis(value, name, n, minimum):
    """An int or one int per spatial axis, each ``>= minimum``, as a tuple of ``n``."""
    if isinstance(value, (str, bytes)):
        raise TypeError("%s must be an int or a sequence of %d ints, got %r" % (name, n, value))
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        vals = (int(value),) * n
    else:
        try:
            seq = list(value)
        except TypeError:
            raise TypeError("%s must be an int or a sequence of %d ints, got %r"
                            % (name, n, value)) from None
        if len(seq) != n:
            raise ValueError("%s must have one entry per spatial axis (%d), got %d"
                             % (name, n, len(seq)))
        vals = tuple(_as_int(v, name) for v in seq)
    for v in vals:
        if v < minimum:
            raise ValueError("%s must be >= %d, got %r" % (name, minimum, value))
    return vals


def _padding(padding, sizes, ksizes, strides, dilations):
    """``padding`` as one ``(before, after)`` pair per spatial axis."""
    n = len(sizes)
    if isinstance(padding, str):
        check_choice(padding, "padding", ("valid", "same"))
        if padding == "valid":
            return [(0, 0)] * n
        pads = []
        for size, k, s, d in zip(sizes, ksizes, strides, dilations):
            out = -(-size // s)
            total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
            pads.append((total // 2, total - total // 2))   # the odd sample after
        return pads
    msg = ("padding must be 'valid', 'same', an int, or one int or (before, after) pair per "
           "spatial axis (%d), got %r" % (n, padding))
    if isinstance(padding, (numbers.Integral, np.integer)) and not isinstance(padding, (bool, np.bool_)):
        entries = [int(padding)] * n
    else:
        try:
            entries = list(padding)
        except TypeError:
            raise TypeError(msg) from None
        if len(entries) != n:
            raise ValueError(msg)
    pads = []
    for e in entries:
        if isinstance(e, (numbers.Integral, np.integer)) and not isinstance(e, (bool, np.bool_)):
            pair = (int(e), int(e))
        else:
            try:
                pair = tuple(_as_int(v, "padding") for v in e)
            except TypeError:
                raise TypeError(msg) from None
            if len(pair) != 2:
                raise ValueError(msg)
        if pair[0] < 0 or pair[1] < 0:
            raise ValueError("padding must not be negative, got %r" % (padding,))
        pads.append(pair)
    return pads


class _Layer:
    """A validated problem in channels-last form.

    Attributes: ``x`` (batch, *spatial, c_in) contiguous, ``w`` (*kernel, cg, c_out),
    ``bias`` (c_out,) or None, ``dtype``, ``groups``, ``strides``, ``dilations``,
    ``pads`` [(before, after)], ``out_spatial``, ``batched``, ``layout``,
    ``boundary``, ``cval``, ``n_threads``.
    """


def _setup(x, w, bias, stride, padding, dilation, groups, boundary, cval, layout, workers):
    x = as_array(x, "x")
    w = as_array(w, "w")
    check_choice(layout, "layout", LAYOUTS)
    if isinstance(boundary, str):
        check_choice(boundary, "boundary", BOUNDARIES)
    arrays = [x, w]
    if bias is not None:
        bias = as_array(bias, "bias")
        arrays.append(bias)
    for a, name in zip(arrays, ("x", "w", "bias")):
        if a.dtype.kind == "c":
            raise TypeError("%s is complex; ndconv.conv computes with real float32/float64 "
                            "only" % name)
    dtype = result_dtype(x, w)
    if w.ndim < 3:
        raise ValueError("w must have at least 3 dimensions (kernel axes plus two channel axes), "
                         "got shape %s" % (w.shape,))
    nsp = w.ndim - 2
    if x.ndim not in (nsp + 1, nsp + 2):
        raise ValueError("x must have %d (unbatched) or %d (batched) dimensions for a %d-D "
                         "kernel w of shape %s in layout %r, got shape %s"
                         % (nsp + 1, nsp + 2, nsp, w.shape, layout, x.shape))
    batched = x.ndim == nsp + 2
    if not batched:
        x = x[None]
    if layout == "channels_first":
        x = np.moveaxis(x, 1, -1)
        w = np.moveaxis(w, (0, 1), (-1, -2))
    groups = _as_int(groups, "groups")
    if groups < 1:
        raise ValueError("groups must be >= 1, got %d" % groups)
    c_in, c_out, cg = x.shape[-1], w.shape[-1], w.shape[-2]
    ksizes, sizes = w.shape[:-2], x.shape[1:-1]
    if min(ksizes) < 1 or cg < 1 or c_out < 1:
        raise ValueError("w is empty (shape %s)" % (w.shape,))
    if min(sizes) < 1 or c_in < 1:
        raise ValueError("x has an empty spatial or channel axis (shape %s)" % (x.shape,))
    if c_in % groups or c_out % groups:
        raise ValueError("groups (%d) must divide both the input channels (%d) and the output "
                         "channels (%d)" % (groups, c_in, c_out))
    if cg * groups != c_in:
        raise ValueError("w has %d input channels per group but x has %d channels in %d "
                         "group(s) (expected %d); w is %s in layout %r"
                         % (cg, c_in, groups, c_in // groups,
                            "(*kernel, c_in // groups, c_out)" if layout == "channels_last"
                            else "(c_out, c_in // groups, *kernel)", layout))
    if bias is not None:
        if bias.shape != (c_out,):
            raise ValueError("bias must have shape (%d,) (one value per output channel), got %s"
                             % (c_out, bias.shape))
        bias = np.asarray(bias, dtype=dtype)
    strides = _per_axis(stride, "stride", nsp, 1)
    dilations = _per_axis(dilation, "dilation", nsp, 1)
    pads = _padding(padding, sizes, ksizes, strides, dilations)
    out_spatial = []
    for n, k, s, d, (pb, pa) in zip(sizes, ksizes, strides, dilations, pads):
        span = n + pb + pa - d * (k - 1)
        if span < 1:
            raise ValueError("the dilated kernel (extent %d) is larger than the padded input "
                             "(%d) along a spatial axis; pad more or use a smaller kernel"
                             % (d * (k - 1) + 1, n + pb + pa))
        out_spatial.append((span - 1) // s + 1)
    p = _Layer()
    p.x = np.ascontiguousarray(x, dtype=dtype)
    p.w = np.asarray(w, dtype=dtype)
    p.bias, p.dtype, p.groups = bias, dtype, groups
    p.strides, p.dilations, p.pads = strides, dilations, pads
    p.out_spatial = tuple(out_spatial)
    p.batched, p.layout = batched, layout
    p.boundary, p.cval = _boundary_per_axis(boundary, cval, nsp, dtype)
    p.n_threads = resolve_workers(workers, _dispatch.omp_max_threads(), _dispatch.omp_num_procs())
    return p


def _boundary_per_axis(boundary, cval, nsp, dtype):
    """``(boundary, cval)`` for the spatial axes: one name or one per spatial axis
    (a sequence, or a dict keyed by spatial axis 0..nsp-1), and one fill or
    the fills of the "constant" axes (``AxisCvals``, see ``_filled``)."""
    spatial = tuple(range(nsp))
    if not isinstance(boundary, str):
        boundary = normalize_boundary(boundary, spatial, nsp)
    if isinstance(cval, (list, tuple, np.ndarray)):
        # a scalar where the "constant" axes agree, else their (axis, fill) pairs
        cval = normalize_cvals(cval, boundary, spatial, dtype)
    else:
        cval = normalize_cval(cval, dtype)
    return boundary, cval


def _filled(p):
    """``p`` itself, or, where "constant" axes have fills of their own (an
    ``AxisCvals``), a copy that reads the input extended beforehand with no
    padding: the core's border reads take one fill pixel, which cannot tell
    the axes apart, while a corner takes the fill of the later axis (numpy.pad
    one spatial axis at a time, in order).  Index maps and the adjoint
    (``_fold``) do not depend on the fills, so only the forward pass and the
    weight gradient read this copy."""
    if not isinstance(p.cval, _boundary.AxisCvals):
        return p
    nsp = len(p.out_spatial)
    names = p.boundary
    if not isinstance(names, str):   # per array axis: batch, spatial, channels
        names = ("constant",) + tuple(names) + ("constant",)
    fills = _boundary.AxisCvals((a + 1, c) for a, c in p.cval)
    starts = [-before for before, _ in p.pads]
    lengths = [n + before + after for n, (before, after) in zip(p.x.shape[1:-1], p.pads)]
    q = copy.copy(p)
    q.x = np.ascontiguousarray(_boundary.extend(p.x, starts, lengths, names, fills,
                                                tuple(range(1, nsp + 1))))
    q.pads = [(0, 0)] * nsp
    q.boundary, q.cval = "constant", p.dtype.type(0)
    return q


def _user_shape(p, spatial, channels):
    """Shape of an array of the problem's batch, ``spatial`` and ``channels`` in the
    caller's layout."""
    lead = (p.x.shape[0],) if p.batched else ()
    if p.layout == "channels_last":
        return lead + tuple(spatial) + (channels,)
    return lead + (channels,) + tuple(spatial)


def _to_user(p, arr):
    """Channels-last batched ``arr`` as the caller's layout (a view, no copy)."""
    if not p.batched:
        arr = arr[0]
    if p.layout == "channels_first":
        arr = np.moveaxis(arr, -1, 1 if p.batched else 0)
    return arr


def _from_user(p, arr, name, spatial, channels):
    """The caller's ``arr`` (shape checked) as channels-last batched, contiguous."""
    arr = as_array(arr, name)
    if arr.dtype.kind == "c":
        raise TypeError("%s is complex; ndconv.conv computes with real float32/float64 only" % name)
    want = _user_shape(p, spatial, channels)
    if arr.shape != want:
        raise ValueError("%s must have shape %s (the shape of conv's output), got %s"
                         % (name, want, arr.shape))
    if not p.batched:
        arr = arr[None]
    if p.layout == "channels_first":
        arr = np.moveaxis(arr, 1, -1)
    return np.ascontiguousarray(arr, dtype=p.dtype)


# ----------------------------------------------------------------------------- core calls
def _tables(p):
    """Where each kernel tap reads the input, as the core's element offsets.

    Returns ``(rowtab, coltab, colgeom)``.  ``rowtab[line, lead_tap]``: offset of
    the input row (all spatial axes but the last) that leading taps ``lead_tap``
    read for output line ``line`` (both in C order), ``-1`` for cval.  Along the
    last axis, output columns ``jlo <= j < jhi`` have every tap inside the input
    and read offset ``start + j * step + tap * tap_step`` (``colgeom = (jlo, jhi,
    start, step, tap_step)``); the other (border) columns are tabulated in
    ``coltab[tap, border column]``.  All from ``_boundary.index_map``.
    """
    sizes = p.x.shape[1:-1]
    c_in = p.x.shape[-1]
    ksizes = p.w.shape[:-2]
    nsp = len(sizes)
    elem = [c_in * int(np.prod(sizes[a + 1:], dtype=np.int64)) for a in range(nsp)]

    def taps_map(a, outs):
        coords = (outs[None, :] * p.strides[a] - p.pads[a][0]
                  + np.arange(ksizes[a], dtype=np.intp)[:, None] * p.dilations[a])
        return _boundary.index_map(coords, sizes[a], _boundary.on_axis(p.boundary, a))

    n, k, s, d, pb = sizes[-1], ksizes[-1], p.strides[-1], p.dilations[-1], p.pads[-1][0]
    wo = p.out_spatial[-1]
    jlo = min(wo, -(-pb // s))
    jhi = max(jlo, min(wo, (n - 1 - (k - 1) * d + pb) // s + 1))
    cols = np.concatenate([np.arange(0, jlo), np.arange(jhi, wo)]).astype(np.intp)
    m = taps_map(nsp - 1, cols)
    coltab = np.ascontiguousarray(np.where(m < 0, -1, m * elem[-1]), dtype=np.intp)
    colgeom = np.array([jlo, jhi, -pb * elem[-1], s * elem[-1], d * elem[-1]], dtype=np.intp)

    # leading axes: sum of per-axis offsets on the grid (k_0, o_0, k_1, o_1, ...)
    off = np.zeros((1,) * (2 * (nsp - 1)), dtype=np.intp)
    bad = np.zeros(off.shape, dtype=bool)
    for a in range(nsp - 1):
        m = taps_map(a, np.arange(p.out_spatial[a], dtype=np.intp))
        shape = [1] * (2 * (nsp - 1))
        shape[2 * a], shape[2 * a + 1] = m.shape
        m = m.reshape(shape)
        off = off + np.where(m < 0, 0, m * elem[a])
        bad = bad | (m < 0)
    order = list(range(1, 2 * (nsp - 1), 2)) + list(range(0, 2 * (nsp - 1), 2))
    n_lines = int(np.prod(p.out_spatial[:-1], dtype=np.int64))
    n_lead = int(np.prod(ksizes[:-1], dtype=np.int64))
    rowtab = np.where(bad, -1, off).transpose(order).reshape(n_lines, n_lead)
    return np.ascontiguousarray(rowtab, dtype=np.intp), coltab, colgeom


def _segment(p, ntap):
    """Output pixels per work item: whole lines unless more items are needed
    to share between threads, and bounded so the pointer table stays small and
    an item ends soon (the core stops between items on Ctrl-C)."""
    wo = p.out_spatial[-1]
    lines = p.x.shape[0] * int(np.prod(p.out_spatial[:-1], dtype=np.int64))
    pieces = 1
    if lines < _MIN_ITEMS:
        pieces = -(-_MIN_ITEMS // max(lines, 1))
    seg = -(-wo // pieces)
    seg = min(seg, _MAX_SEG, max(8, _MAX_PTRS // ntap),
              _ITEM_WORK // max(1, ntap * p.w.shape[-2] * p.w.shape[-1]))
    return max(1, min(seg, wo))


def _depthwise(p):
    """One input and one output channel per group: the core's depthwise kernels."""
    return p.groups > 1 and p.w.shape[-2] == 1 and p.w.shape[-1] == p.groups


def _img_size(p):
    return int(np.prod(p.x.shape[1:], dtype=np.int64))


def _threads(p, work):
    return 1 if work < _SERIAL_WORK else _plan_threads.threads_for(p.n_threads, work)


def _padded(n, vw):
    """``n`` channels rounded up to whole vectors of ``vw`` lanes."""
    return -(-n // vw) * vw


def _layer_taps(p, kern, tables, dg, dp, seg, depthwise=False):
    """The core's ``LayerTaps`` of ``p``: its index tables (``_tables(p)``), its
    cval pixel, and groups of ``dg`` output channels in ``dp`` lanes, work items
    of ``seg`` output pixels."""
    rowtab, coltab, colgeom = tables
    cval_pixel = np.full(p.x.shape[-1], p.cval, dtype=p.dtype)
    return kern.LayerTaps(p.x.reshape(-1), p.x.shape[0], _img_size(p), rowtab, coltab, colgeom,
                          p.out_spatial[-1], cval_pixel, p.groups, p.w.shape[-2], dg, dp, seg,
                          depthwise)


def _pack_weights(w, groups, vw):
    """``w`` (*kernel, cg, c_out) as (groups, taps, cg, dp), ``dp`` = the group's
    output channels padded with zeros to a multiple of the vector width."""
    cg, c_out = w.shape[-2:]
    dg = c_out // groups
    dp = _padded(dg, vw)
    taps = int(np.prod(w.shape[:-2], dtype=np.int64))
    packed = _placement.zeros((groups, taps, cg, dp), w.dtype)
    packed[..., :dg] = w.reshape(taps, cg, groups, dg).transpose(2, 0, 1, 3)
    return packed, dg, dp


def _winograd_fits(p):
    """Whether Winograd's F(2x2, 3x3) computes the layer ``p``: a 2-D 3x3 kernel,
    stride 1, dilation 1, one group."""
    return (len(p.out_spatial) == 2 and tuple(p.w.shape[:2]) == (3, 3) and p.groups == 1
            and all(s == 1 for s in p.strides) and all(d == 1 for d in p.dilations))


def _method(p, method):
    """The method that computes ``p``: ``method`` checked, ``"auto"`` resolved."""
    check_choice(method, "method", METHODS)
    fits = _winograd_fits(p)
    if method == "winograd" and not fits:
        raise ValueError("method='winograd' needs a 2-D 3x3 kernel with stride 1, dilation 1 "
                         "and groups=1; got kernel %s, stride %s, dilation %s, groups %d"
                         % (tuple(p.w.shape[:-2]), tuple(p.strides), tuple(p.dilations),
                            p.groups))
    if method == "auto":
        cg, c_out = p.w.shape[-2:]
        big = (min(cg, c_out) >= _WINO_MIN_CHANNELS
               and p.x.shape[0] * p.out_spatial[0] * p.out_spatial[1] >= _WINO_MIN_PIXELS)
        method = "winograd" if fits and big and p.dtype == np.float32 else "direct"
    return method


def _winograd_segment(p, dp, n_threads):
    """Output columns (even) per Winograd work item: whole lines unless more
    items are needed for the threads to share (a tile's result does not depend
    on its item), at least a register block of tiles, and few enough that their
    transforms stay in L2 and the item ends soon (Ctrl-C)."""
    cg = p.w.shape[-2]
    row = -(-p.out_spatial[-1] // 2)
    pairs = p.x.shape[0] * -(-p.out_spatial[0] // 2)
    tiles = row
    if n_threads > 1 and pairs < 4 * n_threads:
        tiles = -(-row // -(-4 * n_threads // pairs))
    tiles = min(max(tiles, _WINO_MIN_TILES),
                max(_WINO_MIN_TILES, _WINO_ITEM_BYTES // (16 * (cg + dp) * p.dtype.itemsize)),
                max(1, _ITEM_WORK // (16 * cg * dp)))
    return 2 * max(1, min(tiles, row))


def _forward_winograd(p, out):
    """``_forward`` by Winograd's F(2x2, 3x3) (``_winograd_fits(p)``)."""
    kern = _dispatch.core()
    vw = kern.vector_width(p.dtype.itemsize)
    cg, c_out = p.w.shape[-2:]
    dp = _padded(c_out, vw)
    upack = _placement.zeros((16, cg, dp), p.dtype)
    kern.winograd_weights(np.ascontiguousarray(p.w), upack)
    bpack = _placement.zeros((dp,), p.dtype)
    if p.bias is not None:
        bpack[:c_out] = p.bias
    zeros = _placement.zeros((16 * dp,), p.dtype)
    if out is None:
        out = _placement.empty((p.x.shape[0],) + p.out_spatial + (c_out,), p.dtype, near=p.x)
    # the direct method's multiply-adds: one thread policy for both methods
    n_threads = _threads(p, out.size * 9 * cg)
    taps = _layer_taps(p, kern, _tables(p), c_out, dp, _winograd_segment(p, dp, n_threads))
    kern.winograd_forward(taps, upack.reshape(-1), bpack, zeros, out.reshape(-1), n_threads)
    return out


def _forward(p, out=None, method="direct"):
    """Channels-last batched result of the layer described by ``p`` (into ``out``,
    a C-contiguous array of the result's shape, if given), by ``method``
    ("direct" or "winograd", resolved by ``_method``)."""
    p = _filled(p)
    if method == "winograd":
        return _forward_winograd(p, out)
    kern = _dispatch.core()   # once per call: packing and kernel agree on the vector width
    vw = kern.vector_width(p.dtype.itemsize)
    depthwise = _depthwise(p)
    if depthwise:   # one (taps, channels) matrix: the vectors run along the channels
        wpack, dg, dp = _pack_weights(p.w, 1, vw)
        bpack = _placement.zeros((dp,), p.dtype)
        if p.bias is not None:
            bpack[:p.groups] = p.bias
        dg = 1
    else:
        wpack, dg, dp = _pack_weights(p.w, p.groups, vw)
        bpack = _placement.zeros((p.groups, dp), p.dtype)
        if p.bias is not None:
            bpack[:, :dg] = p.bias.reshape(p.groups, dg)
    tables = _tables(p)
    ntap = tables[0].shape[1] * tables[1].shape[0]
    batch, c_out = p.x.shape[0], p.w.shape[-1]
    if out is None:
        out = _placement.empty((batch,) + p.out_spatial + (c_out,), p.dtype, near=p.x)
    work = out.size * ntap * p.w.shape[-2]
    n_threads = _threads(p, work)
    taps = _layer_taps(p, kern, tables, dg, dp, _segment(p, ntap), depthwise)
    kern.forward(taps, wpack.reshape(-1), bpack.reshape(-1), out.reshape(-1), n_threads)
    return out


def _weight_grad(p, g):
    """Gradient with respect to ``p.w`` (channels-last layout) of ``sum(g * conv)``."""
    p = _filled(p)
    kern = _dispatch.core()
    vw = kern.vector_width(p.dtype.itemsize)
    cg, c_out = p.w.shape[-2:]
    depthwise = _depthwise(p)
    dg = c_out // p.groups
    dp = _padded(c_out if depthwise else dg, vw)
    tables = _tables(p)
    ntap = tables[0].shape[1] * tables[1].shape[0]
    work = g.size * ntap * cg
    n_threads = _threads(p, work)
    seg = _segment(p, ntap)
    items = p.x.shape[0] * tables[0].shape[0] * -(-p.out_spatial[-1] // seg)
    size = ntap * dp if depthwise else p.groups * ntap * cg * dp
    chunks = max(1, min(_GRAD_CHUNKS, items, _PART_BYTES // (size * p.dtype.itemsize)))
    part = _placement.zeros((chunks, size), p.dtype)
    taps = _layer_taps(p, kern, tables, dg, dp, seg, depthwise)
    kern.weight_grad(taps, g.reshape(-1), part, n_threads)
    if depthwise:
        return np.ascontiguousarray(part.sum(axis=0).reshape(ntap, dp)[:, :c_out]).reshape(p.w.shape)
    gw = part.sum(axis=0).reshape(p.groups, ntap, cg, dp)[..., :dg]
    return np.ascontiguousarray(gw.transpose(1, 2, 0, 3)).reshape(p.w.shape)


def _fold(ge, p):
    """Adjoint of the boundary extension: the extended-input gradient ``ge``
    (position ``e`` of spatial axis ``a`` is input coordinate ``e - pad_before``)
    summed onto the input samples each position reads; ``cval`` positions drop."""
    for a, n in enumerate(p.x.shape[1:-1]):
        ax = a + 1
        length = ge.shape[ax]
        lo, hi, band = _boundary.border_bands(n, -p.pads[a][0], length,
                                              _boundary.on_axis(p.boundary, a))
        shape = list(ge.shape)
        shape[ax] = n
        res = np.zeros(shape, dtype=ge.dtype)
        start = lo - p.pads[a][0]
        idx = [slice(None)] * ge.ndim
        idx[ax] = slice(start, start + hi - lo)
        src = [slice(None)] * ge.ndim
        src[ax] = slice(lo, hi)
        res[tuple(idx)] += ge[tuple(src)]
        border = np.concatenate([np.arange(0, lo), np.arange(hi, length)]).astype(np.intp)
        keep = band >= 0
        if keep.any():
            idx[ax] = band[keep]
            np.add.at(res, tuple(idx), np.take(ge, border[keep], axis=ax))
        ge = res
    return ge


def _input_grad(p, g):
    """Gradient with respect to ``p.x`` (channels-last batched) of ``sum(g * conv)``.

    The extended input's gradient is a 'full' correlation of the output gradient
    (zeros inserted between samples for stride > 1) with the kernel flipped and
    its channel axes swapped; ``_fold`` takes it back to the input.
    """
    nsp = len(p.out_spatial)
    ksizes = p.w.shape[:-2]
    if any(s > 1 for s in p.strides):
        up_shape = tuple((o - 1) * s + 1 for o, s in zip(p.out_spatial, p.strides))
        gu = np.zeros((g.shape[0],) + up_shape + (g.shape[-1],), dtype=p.dtype)
        gu[(slice(None),) + tuple(slice(None, None, s) for s in p.strides)] = g
    else:
        gu = g
    cg, c_out = p.w.shape[-2:]
    dg = c_out // p.groups
    wt = p.w[(slice(None, None, -1),) * nsp]                       # flip every kernel axis
    wt = wt.reshape(ksizes + (cg, p.groups, dg))
    axes = tuple(range(nsp)) + (nsp + 2, nsp + 1, nsp)                 # (*K, dg, groups, cg)
    wt = wt.transpose(axes).reshape(ksizes + (dg, p.groups * cg))
    q = _Layer()
    q.x, q.w, q.bias, q.dtype, q.groups = gu, np.ascontiguousarray(wt), None, p.dtype, p.groups
    q.strides, q.dilations = (1,) * nsp, p.dilations
    q.pads = [((k - 1) * d, (k - 1) * d) for k, d in zip(ksizes, p.dilations)]
    q.out_spatial = tuple((o - 1) * s + (k - 1) * d + 1
                          for o, s, k, d in zip(p.out_spatial, p.strides, ksizes, p.dilations))
    q.boundary, q.cval, q.n_threads = "constant", p.dtype.type(0), p.n_threads
    return _fold(_forward(q), p)


# ----------------------------------------------------------------------------- public API
def conv(x: ArrayLike, w: ArrayLike, bias: ArrayLike | None = None, *, stride: int | Sequence[int] = 1,
         padding: Padding = 0, dilation: int | Sequence[int] = 1, groups: int = 1,
         boundary: Boundary | Sequence[Boundary] | Mapping[int, Boundary] = "constant",
         cval: float | Sequence[float] = 0.0, layout: Layout = "channels_last",
         method: Method = "auto", workers: int | None = None,
         out: NDArray[Any] | None = None) -> NDArray[Any]:
    p = _setup(x, w, bias, stride, padding, dilation, groups, boundary, cval, layout, workers)
    method = _method(p, method)
    c_out = p.w.shape[-1]
    if out is None:
        return _to_user(p, _forward(p, method=method))
    want = _user_shape(p, p.out_spatial, c_out)
    if not isinstance(out, np.ndarray):
        raise TypeError("out must be a numpy.ndarray, got %s" % type(out).__name__)
    if out.shape != want:
        raise ValueError("out has shape %s but the result has shape %s" % (out.shape, want))
    if out.dtype != p.dtype:
        raise ValueError("out has dtype %s but the result has dtype %s" % (out.dtype, p.dtype))
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    check_out_memory(out)
    direct = (p.layout == "channels_last" and out.flags.c_contiguous
              and not np.shares_memory(out, p.x) and not np.shares_memory(out, p.w)
              and (p.bias is None or not np.shares_memory(out, p.bias)))
    if direct:   # the core writes every element of the contiguous result
        _forward(p, out.reshape((p.x.shape[0],) + p.out_spatial + (c_out,)), method)
        return out
    out[...] = _to_user(p, _forward(p, method=method))
    return out


def conv_grad(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike, *, stride: int | Sequence[int] = 1,
              padding: Padding = 0, dilation: int | Sequence[int] = 1, groups: int = 1,
              boundary: Boundary | Sequence[Boundary] | Mapping[int, Boundary] = "constant",
         cval: float | Sequence[float] = 0.0, layout: Layout = "channels_last",
              workers: int | None = None) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    p = _setup(x, w, None, stride, padding, dilation, groups, boundary, cval, layout, workers)
    c_out = p.w.shape[-1]
    g = _from_user(p, grad_out, "grad_out", p.out_spatial, c_out)
    grad_bias = g.sum(axis=tuple(range(g.ndim - 1)), dtype=p.dtype)
    grad_w = _weight_grad(p, g)
    grad_x = _to_user(p, _input_grad(p, g))
    if p.layout == "channels_first":
        grad_w = np.moveaxis(grad_w, (-1, -2), (0, 1))
    return grad_x, grad_w, grad_bias


_PARAMS = """
    Parameters
    ----------
    x : array_like
        Input.  ``layout="channels_last"``: ``(batch, *spatial, c_in)`` or, without
        a batch axis, ``(*spatial, c_in)``.  ``layout="channels_first"``:
        ``(batch, c_in, *spatial)`` or ``(c_in, *spatial)``.  Any number of spatial
        axes (1-D signals, 2-D images, 3-D volumes, ...).
    w : array_like
        Weights.  ``channels_last``: ``(*kernel, c_in // groups, c_out)``, the
        chapter's ``V[a, b, c, d]``; ``channels_first``: ``(c_out, c_in // groups,
        *kernel)``, PyTorch's.  The number of spatial axes is ``w.ndim - 2``.
    %(extra)s
    stride : int or sequence of int, optional
        Step between output samples in the input, per spatial axis.  Default 1.
    padding : int, sequence, "valid" or "same", optional
        Samples added before and after each spatial axis, taken from the boundary
        rule: an int (every axis, both sides), one int per axis (both sides), one
        ``(before, after)`` pair per axis, ``"valid"`` (none) or ``"same"``: output
        size ``ceil(n / stride)`` with the total padding
        ``max((out - 1) * stride + dilation * (k - 1) + 1 - n, 0)`` split evenly and
        the odd sample after (for even kernels too; PyTorch's and TensorFlow's
        convention).  Default 0.
    dilation : int or sequence of int, optional
        Spacing between kernel taps, per spatial axis.  Default 1.
    groups : int, optional
        Input and output channels are split into ``groups`` groups and group ``i``
        of the output sees only group ``i`` of the input (``groups == c_in``:
        depthwise).  Default 1.
    boundary : {"constant", "edge", "symmetric", "reflect", "wrap"}, sequence or dict, optional
        How the input is extended into the padding, with ``numpy.pad``'s names and
        meaning for any width (the unified API's rule); one name for every axis,
        one per spatial axis, or a dict ``{spatial axis: name}`` (spatial axes
        counted from 0, unnamed ones ``"constant"``)::

            constant   k k k | a b c d | k k k      (k = cval)
            edge       a a a | a b c d | d d d
            symmetric  c b a | a b c d | d c b
            reflect    d c b | a b c d | c b a
            wrap       b c d | a b c d | a b c

    cval : float or sequence of float, optional
        Value past the edges for ``boundary="constant"``, or one per spatial
        axis.  Default 0.  The extension is ``numpy.pad`` applied one spatial
        axis at a time in order, so where two ``"constant"`` axes with fills
        of their own meet (a corner), the later axis' fill wins.
    layout : {"channels_last", "channels_first"}, optional
        Axis order of ``x``, ``w`` and the result; see above.  Default
        ``"channels_last"`` (the chapter's, and the fast one: channels-first input
        is copied to channels-last internally).
    workers : int, optional
        Threads, as in :func:`ndconv.convolve` (the cap per CPU, one thread after
        a fork, only idle CPUs on a busy machine).  The results
        do not depend on it: each output is summed in the same order.
"""

conv.__doc__ = """Multi-channel convolution layer (cross-correlation, as in deep learning).

    With ``layout="channels_last"`` and one spatial axis pair ``(i, j)``::

        out[n, i, j, d] = bias[d] + sum_{a, b, c} w[a, b, c, d]
                          * x_ext[n, i * s0 + a * d0 - p0, j * s1 + b * d1 - p1, g(d) * cg + c]

    where ``x_ext`` is ``x`` extended by ``boundary``, ``s``, ``d`` and ``p`` are the
    stride, dilation and padding before, ``cg = c_in // groups`` and ``g(d)`` the
    group of output channel ``d``; likewise for any number of spatial axes.  This
    is the chapter's ``H[i, j, d] = u_d + sum V[a, b, c, d] X[i + a, j + b, c]``:
    the kernel is *not* flipped (a cross-correlation).  For a true convolution
    flip the kernel axes: ``conv(x, w[::-1, ::-1], ...)``.
""" + _PARAMS % {"extra": """bias : array_like, optional
        One value per output channel, ``(c_out,)``.  Default none."""} + """
    method : {"auto", "direct", "winograd"}, optional
        How the sums are computed.  ``"direct"``: each output summed over its
        taps and input channels in a fixed order, the formula above.
        ``"winograd"``: Winograd's minimal filtering F(2x2, 3x3), for a 2-D 3x3
        kernel with stride 1, dilation 1 and one group (else a ValueError):
        16 multiplies per 2x2 output tile and channel pair instead of 36, the
        error bounded as in the Notes.  ``"auto"`` (default): ``"winograd"``
        where it fits a float32 layer with at least 16 input and output
        channels and 1,536 output pixels in all (measured faster there, at
        0.55-0.9 of the direct time), else ``"direct"``; float64 layers sum
        directly unless asked.
    out : ndarray, optional
        Preallocated result of exactly the result's shape and dtype.

    Returns
    -------
    ndarray
        ``(batch, *out_spatial, c_out)`` (channels_last) or ``(batch, c_out,
        *out_spatial)`` (channels_first; a view with channels-last memory order),
        without the batch axis if ``x`` had none.  ``out_spatial = (n + before +
        after - dilation * (k - 1) - 1) // stride + 1``.  dtype: ``np.result_type(x,
        w)``, float32 or float64 (bool and integers give float64, float16 gives
        float32); complex input is a TypeError.

    See Also
    --------
    conv_grad : the gradients of this layer.
    correlate : one kernel over any axes, with output modes instead of padding.

    Notes
    -----
    The input is read in place through index tables (no padded copy, no
    im2col matrix); the extra memory is the output plus a table of one pointer
    per kernel tap and output pixel of each work item in flight.  Only
    ``"constant"`` axes with different ``cval`` make a padded copy of the
    input (the corners' fill depends on the axes' order).  float32
    accumulates in float32, each output in a fixed order, and the result does
    not depend on ``workers`` with either method.

    Accuracy.  Direct: each output lies within ``n * eps * S`` of the exact
    layer, ``n = taps * cg + 1`` and ``S`` the layer on absolute values
    (``|w|``, ``|x_ext|``, ``|bias|``).  Winograd: within ``(cg + 12) * eps * S_W``,
    where ``S_W`` is the algorithm on absolute values for the output's 2x2
    tile, ``|A^T| (sum_c (|B^T| |d_c| |B|) * (|G| |g_c| |G^T|)) |A| + |bias|``
    with ``d_c`` the tile's 4x4 input patch of channel ``c`` and ``g_c`` the
    3x3 weights.  The sums are shorter (``cg`` terms instead of ``9 cg``), so on
    ordinary data Winograd's error is no larger than the direct method's (W6,
    float32: 2.0e-6 against 1.0e-5 at most, against a float64 reference), but
    an output's error scales with the whole 4x4 patch, including the inputs of
    its tile that it does not read.  ``method="direct"`` keeps the
    per-output bound.

    Examples
    --------
    >>> import numpy as np, ndconv
    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)        # one 4x4 image, one channel
    >>> w = np.array([[1.0, -1.0]]).reshape(1, 2, 1, 1)  # the 1x2 edge detector
    >>> ndconv.conv(x, w)[0, :, :, 0]
    array([[-1., -1., -1.],
           [-1., -1., -1.],
           [-1., -1., -1.],
           [-1., -1., -1.]])
"""

conv_grad.__doc__ = """Gradients of :func:`conv`: ``(grad_x, grad_w, grad_bias)``.

    The exact gradients of ``L = sum(grad_out * conv(x, w, bias, ...))`` with
    respect to ``x``, ``w`` and ``bias`` (which is why ``bias`` is not needed),
    for every option of :func:`conv`: the backward pass of the layer, given
    ``grad_out = dLoss/d(conv output)``.  Samples of ``x`` read several times
    through the boundary extension (``edge``, ``reflect``, ...) collect the
    gradient of every read; ``cval`` is a constant and gets none.
""" + _PARAMS % {"extra": """grad_out : array_like
        Gradient with respect to the layer's output, of the output's shape; it
        is cast to the dtype the layer computes in (``np.result_type(x, w)``)."""} + """
    Returns
    -------
    grad_x : ndarray
        Shape of ``x``.
    grad_w : ndarray
        Shape of ``w``.
    grad_bias : ndarray
        ``(c_out,)``.

    Examples
    --------
    >>> import numpy as np, ndconv
    >>> x = np.random.default_rng(0).standard_normal((2, 5, 5, 3))
    >>> w = np.zeros((3, 3, 3, 4))
    >>> y = ndconv.conv(x, w, padding="same")
    >>> gx, gw, gb = ndconv.conv_grad(x, w, np.ones_like(y), padding="same")
    >>> gx.shape, gw.shape, gb
    ((2, 5, 5, 3), (3, 3, 3, 4), array([50., 50., 50., 50.]))
"""

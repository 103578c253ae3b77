# The convolution layer (``ndconv.conv`` / ``ndconv.conv_grad``), included by
# every build of the core next to kernels.pxi, so the layer runs the
# instruction set ndconv._core picked for the correlation kernels.
#
# The layer is an implicit GEMM: no im2col copy and no materialised boundary
# extension.  Work items are runs of output pixels along the last spatial
# axis.  For each item a small table gives, per kernel tap and output pixel, a
# pointer to the input pixel the tap reads (into ``x``, or to a pixel of
# ``cval`` for the constant boundary); strides, dilations, padding and every
# boundary rule live in that table, so one register-blocked micro-kernel
# (src/ndconv_layer.h) serves all of them.
from libc.string cimport memcpy

from ndconv._core.csrc cimport (
    LK_VW_D,
    LK_VW_F,
    lk_dw_d,
    lk_dw_f,
    lk_dwg_d,
    lk_dwg_f,
    lk_fwd_d,
    lk_fwd_f,
    lk_gw_d,
    lk_gw_f,
    lk_win_in_d,
    lk_win_in_f,
    lk_win_out_d,
    lk_win_out_f,
    lk_win_weights_d,
    lk_win_weights_f,
)

ctypedef fused real:
    float
    double


def vector_width(itemsize):
    """Lanes per vector of the layer's kernels in this build, for elements of
    ``itemsize`` bytes.

    Packed weights pad each group's output channels to a multiple of it.
    """
    return LK_VW_F if itemsize == 4 else LK_VW_D


cdef inline Py_ssize_t _col_offset(const Py_ssize_t[:, ::1] coltab, const Py_ssize_t[::1] colgeom,
                                   Py_ssize_t jj, Py_ssize_t kl) noexcept nogil:
    """Element offset within its row of the sample that last-axis tap ``kl``
    reads for output column ``jj`` (``-1``: cval).

    Columns ``jlo <= jj < jhi`` (all taps inside the input) are at ``start +
    jj * step + kl * tap_step`` (``colgeom``); the others are looked up in
    ``coltab[kl, border column]``."""
    cdef Py_ssize_t jlo = colgeom[0], jhi = colgeom[1]
    if jj >= jlo and jj < jhi:
        return colgeom[2] + jj * colgeom[3] + kl * colgeom[4]
    return coltab[kl, jj if jj < jlo else jj - jhi + jlo]


cdef inline void _fill_ptrs(const real** ptrs, const real* base, const real* cv,
                            const Py_ssize_t[:, ::1] rowtab, const Py_ssize_t[:, ::1] coltab,
                            const Py_ssize_t[::1] colgeom,
                            Py_ssize_t line, Py_ssize_t j0, Py_ssize_t npix) noexcept nogil:
    """Pointer table of one work item: ``ptrs[t * npix + j]`` is the input pixel
    tap ``t`` reads for output pixel ``j0 + j`` of output line ``line``
    (``_col_offset`` within the row)."""
    cdef Py_ssize_t lt, kl, j, t, ro, co
    cdef Py_ssize_t nlt = rowtab.shape[1], klast = coltab.shape[0]
    for lt in range(nlt):
        ro = rowtab[line, lt]
        for kl in range(klast):
            t = lt * klast + kl
            for j in range(npix):
                co = _col_offset(coltab, colgeom, j0 + j, kl)
                if ro < 0 or co < 0:
                    ptrs[t * npix + j] = cv
                else:
                    ptrs[t * npix + j] = base + ro + co


cdef class LayerTaps:
    """Where every tap of every output pixel reads the input, and the shape of
    the layer's groups: what ``forward`` and ``weight_grad`` share.

    ``x`` is the flat channels-last input, ``img_size`` elements per batch item;
    ``rowtab[line, lead_tap]`` is the element offset of the input row leading taps
    ``lead_tap`` read for output line ``line``, and ``coltab`` / ``colgeom``
    (``jlo, jhi, start, step, tap_step``) give the offset within the row per last
    tap and output column (see ``_fill_ptrs``); ``-1`` means the constant
    boundary's pixel ``cval_pixel``.  ``wo`` is the number of output columns.
    ``groups`` of ``cg`` input and ``dg`` output channels, ``dp`` the latter
    padded to the vector width; work items are runs of at most ``seg`` output
    pixels of one line.  ``depthwise`` (``cg == dg == 1``): the vectors run along
    the channels.
    """
    cdef readonly object x, cval_pixel
    cdef const Py_ssize_t[:, ::1] rowtab
    cdef const Py_ssize_t[:, ::1] coltab
    cdef const Py_ssize_t[::1] colgeom
    cdef readonly Py_ssize_t batch, img_size, wo, seg
    cdef readonly int groups, cg, dg, dp
    cdef readonly bint depthwise

    def __init__(self, x, Py_ssize_t batch, Py_ssize_t img_size,
                 const Py_ssize_t[:, ::1] rowtab, const Py_ssize_t[:, ::1] coltab,
                 const Py_ssize_t[::1] colgeom, Py_ssize_t wo, cval_pixel,
                 int groups, int cg, int dg, int dp, Py_ssize_t seg, bint depthwise=False):
        self.x, self.cval_pixel = x, cval_pixel
        self.rowtab, self.coltab, self.colgeom = rowtab, coltab, colgeom
        self.batch, self.img_size, self.wo, self.seg = batch, img_size, wo, seg
        self.groups, self.cg, self.dg, self.dp = groups, cg, dg, dp
        self.depthwise = depthwise


def forward(LayerTaps taps, const real[::1] wpack, const real[::1] bpack, real[::1] out,
            int n_threads):
    """Valid correlation of the (implicitly extended) input with the packed weights.

    ``wpack`` is ``(groups, taps, cg, dp)``, ``bpack`` ``(groups, dp)``; ``out`` is
    the flat ``(batch, lines, columns, groups*dg)`` result.  Depthwise:
    ``wpack`` is ``(taps, dp)`` with ``dp >= groups`` and ``bpack`` ``(dp,)``.
    """
    cdef const real[::1] x = taps.x
    cdef const real[::1] cval_pixel = taps.cval_pixel
    cdef const Py_ssize_t[:, ::1] rowtab = taps.rowtab
    cdef const Py_ssize_t[:, ::1] coltab = taps.coltab
    cdef const Py_ssize_t[::1] colgeom = taps.colgeom
    cdef Py_ssize_t batch = taps.batch, img_size = taps.img_size, wo = taps.wo, seg = taps.seg
    cdef int groups = taps.groups, cg = taps.cg, dg = taps.dg, dp = taps.dp
    cdef bint depthwise = taps.depthwise
    cdef Py_ssize_t nl = rowtab.shape[0]
    cdef int ntap = <int>(rowtab.shape[1] * coltab.shape[0])
    cdef Py_ssize_t nseg = (wo + seg - 1) // seg
    cdef Py_ssize_t ntask = batch * nl * nseg
    cdef Py_ssize_t cout = <Py_ssize_t>groups * dg
    cdef Py_ssize_t task, li, j0, npix
    cdef const real** ptrs = NULL
    cdef const real* xb
    cdef const real* cv
    cdef real* ob
    cdef int failed = 0, armed
    cdef double t0   # the parallel region's start (ndconv_region.h)
    cdef int* failp = &failed   # shared: plain locals are thread-private in a parallel block
    cdef ndconv_scratch sc
    cdef ndconv_scratch_spec spec = ndconv_scratch_parts(ntap * seg * sizeof(real*), 0, 0, 0, 0, 0, 0)
    if ntask == 0:
        return
    xb, cv, ob = &x[0], &cval_pixel[0], &out[0]
    ptrs = NULL   # set per thread below
    armed = _arm(<double>ntask * seg * ntap * cg * dp * groups)
    while True:
        t0 = ndconv_region_begin()
        with nogil, parallel(num_threads=n_threads):
            sc = ndconv_scratch_alloc(&spec, failp)
            ptrs = <const real**>sc.part[0]
            ndconv_region_enter(t0, threadid())
            for task in prange(ntask, schedule="dynamic", chunksize=1):
                li = task // nseg
                j0 = (task % nseg) * seg
                npix = wo - j0 if wo - j0 < seg else seg
                if sc.block == NULL or ndconv_stop_requested(armed):
                    continue
                _fill_ptrs(ptrs, xb + (li // nl) * img_size, cv, rowtab, coltab, colgeom, li % nl,
                           j0, npix)
                if depthwise:
                    if real is float:
                        lk_dw_f(ptrs, npix, <int>npix, ntap, groups, dp, &wpack[0], &bpack[0],
                                ob + (li * wo + j0) * cout, cout)
                    else:
                        lk_dw_d(ptrs, npix, <int>npix, ntap, groups, dp, &wpack[0], &bpack[0],
                                ob + (li * wo + j0) * cout, cout)
                elif real is float:
                    lk_fwd_f(ptrs, npix, <int>npix, ntap, groups, cg, dg, dp, &wpack[0], &bpack[0],
                             ob + (li * wo + j0) * cout, cout)
                else:
                    lk_fwd_d(ptrs, npix, <int>npix, ntap, groups, cg, dg, dp, &wpack[0], &bpack[0],
                             ob + (li * wo + j0) * cout, cout)
            ndconv_scratch_free(&sc)
        ndconv_region_end()
        if not _interrupted(armed):
            break
        armed = 0   # a handler that did not raise: compute it all again, to the end
    if failed:
        raise MemoryError("ndconv.conv could not allocate its per-thread pointer tables")


cdef inline void _fill_patch_ptrs(const real** ptrs, const real* base, const real* cv,
                                  const Py_ssize_t[:, ::1] rowtab, const Py_ssize_t[:, ::1] coltab,
                                  const Py_ssize_t[::1] colgeom, Py_ssize_t line, Py_ssize_t j0,
                                  Py_ssize_t ntile, Py_ssize_t wo) noexcept nogil:
    """Pointer table of one Winograd work item: ``ptrs[(r * 4 + s) * ntile + t]``
    is pixel ``(r, s)`` of the 4x4 input patch of the 2x2 tile ``t`` of output
    lines ``line, line + 1`` and columns from ``j0 + 2 * t``.

    Patch row ``r < 3`` is what tap row ``r`` of line ``line`` reads, row 3 what
    tap row 2 of the next line reads (stride 1, dilation 1); columns alike, so
    the layer's tables give every boundary rule.  A tile's missing line or
    column (odd output sizes) reads the last one instead: its output is not
    stored, and every pointer stays inside the input."""
    cdef Py_ssize_t r, s, t, ln, kl, jj, ro, co
    cdef Py_ssize_t nl = rowtab.shape[0]
    for r in range(4):
        ln = line + 1 if r == 3 else line
        if ln >= nl:
            ln = nl - 1
        ro = rowtab[ln, r if r < 3 else 2]
        for s in range(4):
            kl = s if s < 3 else 2
            for t in range(ntile):
                jj = j0 + 2 * t + (1 if s == 3 else 0)
                co = _col_offset(coltab, colgeom, jj if jj < wo else wo - 1, kl)
                if ro < 0 or co < 0:
                    ptrs[(r * 4 + s) * ntile + t] = cv
                else:
                    ptrs[(r * 4 + s) * ntile + t] = base + ro + co


def winograd_weights(const real[:, :, :, ::1] w, real[:, :, ::1] upack):
    """Winograd's transformed weights U = G g G^T: ``w`` ``(3, 3, c_in, c_out)``
    into ``upack`` ``(16, c_in, dp)``, ``dp >= c_out`` (the padding lanes are
    left as they are)."""
    cdef int cin = <int>w.shape[2], cout = <int>w.shape[3], dp = <int>upack.shape[2]
    if w.shape[0] != 3 or w.shape[1] != 3 or upack.shape[0] != 16 or upack.shape[1] != cin \
            or dp < cout:
        raise ValueError("winograd_weights: w must be (3, 3, c_in, c_out) and upack "
                         "(16, c_in, >= c_out)")
    with nogil:
        if real is float:
            lk_win_weights_f(&w[0, 0, 0, 0], cin, cout, dp, &upack[0, 0, 0])
        else:
            lk_win_weights_d(&w[0, 0, 0, 0], cin, cout, dp, &upack[0, 0, 0])


def winograd_forward(LayerTaps taps, const real[::1] upack, const real[::1] bpack,
                     const real[::1] zeros, real[::1] out, int n_threads):
    """The forward pass of a 2-D 3x3 layer (stride 1, dilation 1, one group) by
    Winograd's F(2x2, 3x3) (src/ndconv_winograd.h).

    ``upack`` is the transformed weights ``(16, cg, dp)``, ``bpack`` the bias
    ``(dp,)``, ``zeros`` ``16 * dp`` zeros (the GEMMs' bias); work items are
    ``taps.seg`` (even) output columns of two output lines of one image.
    """
    cdef const real[::1] x = taps.x
    cdef const real[::1] cval_pixel = taps.cval_pixel
    cdef const Py_ssize_t[:, ::1] rowtab = taps.rowtab
    cdef const Py_ssize_t[:, ::1] coltab = taps.coltab
    cdef const Py_ssize_t[::1] colgeom = taps.colgeom
    cdef Py_ssize_t batch = taps.batch, img_size = taps.img_size, wo = taps.wo, seg = taps.seg
    cdef int cg = taps.cg, dg = taps.dg, dp = taps.dp
    cdef Py_ssize_t nl = rowtab.shape[0]
    cdef Py_ssize_t npair = (nl + 1) // 2
    cdef Py_ssize_t nseg = (wo + seg - 1) // seg
    cdef Py_ssize_t ntask = batch * npair * nseg
    cdef Py_ssize_t tmax = (seg + 1) // 2
    cdef Py_ssize_t task, b, ln, j0, ncol, ntile, t
    cdef const real** ptrs = NULL
    cdef const real** vptr = NULL
    cdef real* vbuf = NULL
    cdef real* mbuf = NULL
    cdef real* o0
    cdef real* o1
    cdef const real* xb
    cdef const real* cv
    cdef real* ob
    cdef int failed = 0, armed
    cdef double t0   # the parallel region's start (ndconv_region.h)
    cdef int* failp = &failed   # shared: plain locals are thread-private in a parallel block
    cdef ndconv_scratch sc
    cdef ndconv_scratch_spec spec = ndconv_scratch_parts(
        16 * tmax * sizeof(real*), tmax * sizeof(real*), 16 * tmax * cg * sizeof(real),
        16 * tmax * dp * sizeof(real), 0, 0, 0)
    if ntask == 0:
        return
    if taps.groups != 1 or rowtab.shape[1] != 3 or coltab.shape[0] != 3 or seg % 2:
        raise ValueError("winograd_forward needs one group, a 3x3 kernel and an even segment")
    if upack.shape[0] < 16 * cg * dp or bpack.shape[0] < dp or zeros.shape[0] < 16 * dp:
        raise ValueError("winograd_forward: packed weights or bias too short")
    xb, cv, ob = &x[0], &cval_pixel[0], &out[0]
    ptrs, vptr, vbuf, mbuf, t = NULL, NULL, NULL, NULL, 0   # set per thread below
    armed = _arm(<double>ntask * seg * 4 * cg * dp)
    while True:
        t0 = ndconv_region_begin()
        with nogil, parallel(num_threads=n_threads):
            sc = ndconv_scratch_alloc(&spec, failp)
            ptrs = <const real**>sc.part[0]
            vptr = <const real**>sc.part[1]
            vbuf = <real*>sc.part[2]
            mbuf = <real*>sc.part[3]
            if sc.block != NULL:
                for t in range(tmax):
                    vptr[t] = vbuf + t * 16 * cg
            ndconv_region_enter(t0, threadid())
            for task in prange(ntask, schedule="dynamic", chunksize=1):
                b = task // (npair * nseg)
                ln = 2 * ((task // nseg) % npair)
                j0 = (task % nseg) * seg
                ncol = wo - j0 if wo - j0 < seg else seg
                ntile = (ncol + 1) // 2
                if sc.block == NULL or ndconv_stop_requested(armed):
                    continue
                _fill_patch_ptrs(ptrs, xb + b * img_size, cv, rowtab, coltab, colgeom, ln, j0,
                                 ntile, wo)
                o0 = ob + ((b * nl + ln) * wo + j0) * dg
                o1 = o0 + wo * dg if ln + 1 < nl else NULL
                if real is float:
                    lk_win_in_f(ptrs, ntile, <int>ntile, cg, vbuf)
                    lk_fwd_f(vptr, ntile, <int>ntile, 1, 16, cg, dp, dp, &upack[0], &zeros[0],
                             mbuf, 16 * dp)
                    lk_win_out_f(mbuf, <int>ntile, dp, dg, &bpack[0], o0, o1, dg, <int>ncol)
                else:
                    lk_win_in_d(ptrs, ntile, <int>ntile, cg, vbuf)
                    lk_fwd_d(vptr, ntile, <int>ntile, 1, 16, cg, dp, dp, &upack[0], &zeros[0],
                             mbuf, 16 * dp)
                    lk_win_out_d(mbuf, <int>ntile, dp, dg, &bpack[0], o0, o1, dg, <int>ncol)
            ndconv_scratch_free(&sc)
        ndconv_region_end()
        if not _interrupted(armed):
            break
        armed = 0   # a handler that did not raise: compute it all again, to the end
    if failed:
        raise MemoryError("ndconv.conv could not allocate its per-thread Winograd buffers")


def weight_grad(LayerTaps taps, const real[::1] gout, real[:, ::1] part, int n_threads):
    """Weight gradient ``sum over pixels of x_tap (outer) grad_out``, per group.

    Same tables and work items as :func:`forward`; ``gout`` is the flat
    ``(batch, lines, columns, groups*dg)`` output gradient.  The work items are
    split into ``part.shape[0]`` contiguous chunks; chunk ``i`` adds its items,
    in order, into ``part[i]`` (``(groups, taps, cg, dp)``), so the sums do not
    depend on the number of threads.  The caller adds the rows.  Depthwise:
    ``part`` rows are ``(taps, dp)``, vectors along channels.
    """
    cdef const real[::1] x = taps.x
    cdef const real[::1] cval_pixel = taps.cval_pixel
    cdef const Py_ssize_t[:, ::1] rowtab = taps.rowtab
    cdef const Py_ssize_t[:, ::1] coltab = taps.coltab
    cdef const Py_ssize_t[::1] colgeom = taps.colgeom
    cdef Py_ssize_t batch = taps.batch, img_size = taps.img_size, wo = taps.wo, seg = taps.seg
    cdef int groups = taps.groups, cg = taps.cg, dg = taps.dg, dp = taps.dp
    cdef bint depthwise = taps.depthwise
    cdef Py_ssize_t nl = rowtab.shape[0]
    cdef int ntap = <int>(rowtab.shape[1] * coltab.shape[0])
    cdef Py_ssize_t nseg = (wo + seg - 1) // seg
    cdef Py_ssize_t ntask = batch * nl * nseg
    cdef Py_ssize_t nchunk = part.shape[0]
    cdef Py_ssize_t cout = <Py_ssize_t>groups * dg
    cdef Py_ssize_t gld = <Py_ssize_t>groups * dp
    cdef Py_ssize_t chunk, task, li, j0, npix, j, g
    cdef const real** ptrs = NULL
    cdef real* gbuf = NULL
    cdef const real* xb
    cdef const real* cv
    cdef const real* gsrc
    cdef int failed = 0, armed
    cdef double t0   # the parallel region's start (ndconv_region.h)
    cdef int* failp = &failed   # shared: plain locals are thread-private in a parallel block
    cdef ndconv_scratch sc
    # pointer tables, and the output gradient with each group padded to dp
    # lanes (zeroed once: the padding lanes past dg stay zero, only dg lanes
    # are copied)
    cdef ndconv_scratch_spec spec = ndconv_scratch_parts(ntap * seg * sizeof(real*),
                                                         seg * gld * sizeof(real), 0, 0, 0, 0, 1u << 1)
    if ntask == 0 or nchunk == 0:
        return
    xb, cv = &x[0], &cval_pixel[0]
    ptrs, gbuf = NULL, NULL   # set per thread below
    armed = _arm(<double>ntask * seg * ntap * cg * dp * groups)
    while True:
        t0 = ndconv_region_begin()
        with nogil, parallel(num_threads=n_threads):
            sc = ndconv_scratch_alloc(&spec, failp)
            ptrs = <const real**>sc.part[0]
            gbuf = <real*>sc.part[1]
            ndconv_region_enter(t0, threadid())
            for chunk in prange(nchunk, schedule="dynamic", chunksize=1):
                if sc.block == NULL:
                    continue
                for task in range(chunk * ntask // nchunk, (chunk + 1) * ntask // nchunk):
                    if ndconv_stop_requested(armed):
                        break
                    li = task // nseg
                    j0 = (task % nseg) * seg
                    npix = wo - j0 if wo - j0 < seg else seg
                    _fill_ptrs(ptrs, xb + (li // nl) * img_size, cv, rowtab, coltab, colgeom,
                               li % nl, j0, npix)
                    gsrc = &gout[0] + (li * wo + j0) * cout
                    if depthwise:
                        if real is float:
                            lk_dwg_f(ptrs, npix, <int>npix, ntap, groups, dp, gsrc, cout, &part[chunk, 0])
                        else:
                            lk_dwg_d(ptrs, npix, <int>npix, ntap, groups, dp, gsrc, cout, &part[chunk, 0])
                        continue
                    for j in range(npix):
                        for g in range(groups):
                            memcpy(gbuf + j * gld + g * dp, gsrc + j * cout + g * dg,
                                   dg * sizeof(real))
                    if real is float:
                        lk_gw_f(ptrs, npix, <int>npix, ntap, groups, cg, dp, gbuf, gld, &part[chunk, 0])
                    else:
                        lk_gw_d(ptrs, npix, <int>npix, ntap, groups, cg, dp, gbuf, gld, &part[chunk, 0])
            ndconv_scratch_free(&sc)
        ndconv_region_end()
        if not _interrupted(armed):
            break
        # a handler that did not raise: the partial sums are incomplete, start
        # again and compute to the end
        part[:, :] = 0
        armed = 0
    if failed:
        raise MemoryError("ndconv.conv_grad could not allocate its per-thread buffers")


def build_info():
    """What this build runs, for ``show_config``: the direct path's blocks and
    the layer's vector lanes and methods."""
    if NDCONV_SHUFFLE_BLOCK:
        direct = "one-row (aligned loads + shuffles), four-row and rolling-row blocks"
    elif NDCONV_ROW_BLOCKS:
        direct = "one-row, four-row and rolling-row blocks (%s, %d float32 lanes)" % (
            NDCONV_ROW_ISA.decode(), NDCONV_ROW_LANES_F32)
    else:
        direct = "one-row blocks (compiler-vectorised)"
    return {"direct": direct,
            "layer": "%d float32 / %d float64 lanes; 3x3 also by Winograd F(2x2,3x3)" % (
                LK_VW_F, LK_VW_D)}

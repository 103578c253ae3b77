# Direct N-D correlation kernels, included by _core.pyx (baseline flags) and
# _core_avx2.pyx (-mavx2 -mfma), so the same source is compiled twice and the
# faster one is picked at import (see _dispatch.py).
#
# The kernels know nothing about Python objects, boundary names or modes.  They
# compute one primitive, "valid correlation of an index-extended input":
#
#     out[i_0, .., i_{d-1}] = sum_{j} w[j_0, .., j_{d-1}] * X(i_0 + j_0, .., i_{d-1} + j_{d-1})
#
# where X(t_0, .., t_{d-1}) = x[sum_a T_a(t_a)] if every T_a(t_a) >= 0, else cval.
# T_a maps a position of the extended axis to an element offset (index * stride,
# shifted so that all offsets are >= 0).  Inside the input it is affine,
# base + t * stride; in the two border bands it is an explicit table built in
# Python from numpy.pad's index semantics (-1 = cval).  Every boundary mode, origin
# and output mode is expressed in those maps, the tables cost O(kernel) not
# O(input), and arbitrary strides (negative, Fortran, sliced) come for free
# because the strides are folded into the offsets.
#
# Work is split into items = (output row, column chunk).  Per item we collect one
# source pointer per leading-axis tap: straight into x where the chunk only reads
# interior, unit-stride samples (the common case), otherwise into a small
# per-thread gather buffer (borders, non-unit strides) or a line of cval.  Then
# one register-blocked pass computes every output of the chunk from all taps, so
# each output is loaded and stored once, whatever the kernel size.  Each output
# has exactly one writer and a fixed summation order, so results are bitwise
# identical for any number of threads and any schedule.  Items are handed out
# dynamically: a thread that shares its core with another process takes fewer
# of them instead of holding up the call.

from cython.parallel cimport parallel, prange
from libc.stdlib cimport malloc, free

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define NDCONV_PREFETCH(p) __builtin_prefetch((const void*)(p), 0, 3)
    #define NDCONV_PREFETCHW(p) __builtin_prefetch((const void*)(p), 1, 3)
    #else
    #define NDCONV_PREFETCH(p) ((void)0)
    #define NDCONV_PREFETCHW(p) ((void)0)
    #endif
    """
    void NDCONV_PREFETCH(const void* p) noexcept nogil
    void NDCONV_PREFETCHW(const void* p) noexcept nogil


cdef extern from *:
    """
    /* 1 in the AVX-512 build (set by setup.py): 512-bit registers hold twice the
       outputs, so the register blocks double to stay at 8 accumulators. */
    #ifndef NDCONV_WIDE_BLOCKS
    #define NDCONV_WIDE_BLOCKS 0
    #endif
    """
    int NDCONV_WIDE_BLOCKS


cdef struct AxisMap:
    Py_ssize_t lo       # positions [lo, hi) are interior: offset = base + t * stride
    Py_ssize_t hi
    Py_ssize_t base
    Py_ssize_t stride
    const Py_ssize_t* band   # offsets of positions < lo, then of positions >= hi


cdef inline Py_ssize_t _offset(const AxisMap* m, Py_ssize_t t) noexcept nogil:
    if t < m.lo:
        return m.band[t]
    if t >= m.hi:
        return m.band[m.lo + t - m.hi]
    return m.base + t * m.stride

ctypedef fused num_t:
    float
    double
    float complex
    double complex
    long long

cdef inline void _block32(num_t* o, Py_ssize_t c, const num_t** ptrs, const num_t** wrows,
                          Py_ssize_t ntaps, Py_ssize_t klast) noexcept nogil:
    """o[c:c+32] = sum_r sum_j wrows[r][j] * ptrs[r][c + j : c + j + 32].

    A fixed trip count and a local accumulator array: the compiler keeps the 32
    sums in vector registers (4 ymm of floats / 8 of doubles) across the whole
    tap loop, so each tap costs one load and one FMA per vector, and the output
    is stored once.
    """
    cdef num_t acc[32]
    cdef Py_ssize_t r, j, u
    cdef const num_t* p
    cdef const num_t* wr
    cdef num_t wj
    for u in range(32):
        acc[u] = 0
    for r in range(ntaps):
        p = ptrs[r] + c
        wr = wrows[r]
        for j in range(klast):
            wj = wr[j]
            for u in range(32):
                acc[u] = acc[u] + wj * p[j + u]
    for u in range(32):
        o[c + u] = acc[u]


cdef inline void _block64(num_t* o, Py_ssize_t c, const num_t** ptrs, const num_t** wrows,
                          Py_ssize_t ntaps, Py_ssize_t klast) noexcept nogil:
    """As _block32 for 64 outputs: for float32, 8 ymm accumulators, enough
    independent FMA chains to cover the FMA latency (used for float only;
    doubles would spill)."""
    cdef num_t acc[64]
    cdef Py_ssize_t r, j, u
    cdef const num_t* p
    cdef const num_t* wr
    cdef num_t wj
    for u in range(64):
        acc[u] = 0
    for r in range(ntaps):
        p = ptrs[r] + c
        wr = wrows[r]
        for j in range(klast):
            wj = wr[j]
            for u in range(64):
                acc[u] = acc[u] + wj * p[j + u]
    for u in range(64):
        o[c + u] = acc[u]


cdef inline void _block128(num_t* o, Py_ssize_t c, const num_t** ptrs, const num_t** wrows,
                           Py_ssize_t ntaps, Py_ssize_t klast) noexcept nogil:
    """As _block32 for 128 outputs: float32 in the AVX-512 build, 8 zmm
    accumulators."""
    cdef num_t acc[128]
    cdef Py_ssize_t r, j, u
    cdef const num_t* p
    cdef const num_t* wr
    cdef num_t wj
    for u in range(128):
        acc[u] = 0
    for r in range(ntaps):
        p = ptrs[r] + c
        wr = wrows[r]
        for j in range(klast):
            wj = wr[j]
            for u in range(128):
                acc[u] = acc[u] + wj * p[j + u]
    for u in range(128):
        o[c + u] = acc[u]


cdef inline void _block8(num_t* o, Py_ssize_t c, const num_t** ptrs, const num_t** wrows,
                         Py_ssize_t ntaps, Py_ssize_t klast) noexcept nogil:
    """As _block32 for 8 outputs (short rows)."""
    cdef num_t acc[8]
    cdef Py_ssize_t r, j, u
    cdef const num_t* p
    cdef const num_t* wr
    cdef num_t wj
    for u in range(8):
        acc[u] = 0
    for r in range(ntaps):
        p = ptrs[r] + c
        wr = wrows[r]
        for j in range(klast):
            wj = wr[j]
            for u in range(8):
                acc[u] = acc[u] + wj * p[j + u]
    for u in range(8):
        o[c + u] = acc[u]


cdef inline void _block_sum(num_t* o, Py_ssize_t n, const num_t** ptrs,
                            const num_t** wrows, Py_ssize_t ntaps,
                            Py_ssize_t klast) noexcept nogil:
    """o[c] = sum_r sum_j wrows[r][j] * ptrs[r][c + j] for c < n.

    The remainder after whole blocks is covered by one more block ending at n,
    overlapping outputs already written: they are recomputed by the same code in
    the same order, so the stored values do not change, and no output is left to
    a slow scalar loop unless the whole run is shorter than one block.
    """
    cdef Py_ssize_t c = 0, r, j
    cdef const num_t* p
    cdef const num_t* wr
    cdef num_t s
    if NDCONV_WIDE_BLOCKS and num_t is float and n >= 128:
        while c + 128 <= n:
            _block128(o, c, ptrs, wrows, ntaps, klast)
            c += 128
        if c < n:
            _block128(o, n - 128, ptrs, wrows, ntaps, klast)
        return
    if (num_t is float or (NDCONV_WIDE_BLOCKS and num_t is double)) and n >= 64:
        while c + 64 <= n:
            _block64(o, c, ptrs, wrows, ntaps, klast)
            c += 64
        if c < n:
            _block64(o, n - 64, ptrs, wrows, ntaps, klast)
        return
    if n >= 32:
        while c + 32 <= n:
            _block32(o, c, ptrs, wrows, ntaps, klast)
            c += 32
        if c < n:
            _block32(o, n - 32, ptrs, wrows, ntaps, klast)
        return
    if n >= 8:
        while c + 8 <= n:
            _block8(o, c, ptrs, wrows, ntaps, klast)
            c += 8
        if c < n:
            _block8(o, n - 8, ptrs, wrows, ntaps, klast)
        return
    while c < n:
        s = 0
        for r in range(ntaps):
            p = ptrs[r] + c
            wr = wrows[r]
            for j in range(klast):
                s = s + wr[j] * p[j]
        o[c] = s
        c += 1


cdef inline void _gather(num_t* g, const num_t* xrow, const AxisMap* m, Py_ssize_t sa,
                         Py_ssize_t span, num_t cval) noexcept nogil:
    """g[t] = extended row at position sa + t: band lookups at the borders, a plain
    (vectorisable) copy over the interior."""
    cdef Py_ssize_t t = 0, e, end, s = m.stride
    cdef const num_t* src
    while t < span and sa + t < m.lo:
        e = m.band[sa + t]
        g[t] = cval if e < 0 else xrow[e]
        t += 1
    end = m.hi - sa
    if end > span:
        end = span
    if t < end:
        src = xrow + m.base + (sa + t) * s
        if s == 1:
            for e in range(end - t):
                g[t + e] = src[e]
        else:
            for e in range(end - t):
                g[t + e] = src[e * s]
        t = end
    while t < span:
        e = m.band[m.lo + sa + t - m.hi]
        g[t] = cval if e < 0 else xrow[e]
        t += 1


cdef inline Py_ssize_t _segment_taps(
        Py_ssize_t sa, Py_ssize_t sb, bint in_place, const num_t* x, const num_t* w,
        Py_ssize_t n_lead, Py_ssize_t klast, const Py_ssize_t* offs, const AxisMap* last,
        num_t cval, bint skip_cval, const num_t** ptrs, const num_t** wrows,
        num_t* gbuf, Py_ssize_t gstride, const num_t* cline) noexcept nogil:
    """Source pointers of every leading tap for output columns [sa, sb); returns their count.

    In place where the columns only read interior unit-stride samples, else from
    a gather of the extended row into scratch (borders, strided input), or a line
    of cval for rows outside the input (skipped when cval is 0).
    """
    cdef Py_ssize_t lt, ntaps = 0, nbuf = 0
    cdef Py_ssize_t span = sb - sa + klast - 1
    cdef Py_ssize_t first = 0
    cdef num_t* g
    if in_place:
        first = _offset(last, sa)
    for lt in range(n_lead):
        if offs[lt] < 0:
            if skip_cval:
                continue
            ptrs[ntaps] = cline
        elif in_place:
            ptrs[ntaps] = x + offs[lt] + first
        else:
            g = gbuf + nbuf * gstride
            nbuf += 1
            _gather(g, x + offs[lt], last, sa, span, cval)
            ptrs[ntaps] = g
        wrows[ntaps] = w + lt * klast
        ntaps += 1
    return ntaps


cdef inline void _do_item(
        Py_ssize_t item, const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t n_chunks, Py_ssize_t m_last, Py_ssize_t klast,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const AxisMap* maps, const Py_ssize_t* bounds,
        Py_ssize_t c0, Py_ssize_t c1, bint unit, num_t cval, bint skip_cval,
        Py_ssize_t ahead, Py_ssize_t x_span, Py_ssize_t n_out,
        Py_ssize_t* idx, Py_ssize_t* jdx, Py_ssize_t* offs, const num_t** ptrs,
        const num_t** wrows, num_t* gbuf, Py_ssize_t gstride,
        const num_t* cline) noexcept nogil:
    """One output row's column chunk [bounds[q], bounds[q+1])."""
    cdef Py_ssize_t row = item // n_chunks
    cdef Py_ssize_t q = item - row * n_chunks
    cdef Py_ssize_t a = bounds[q], b = bounds[q + 1]
    cdef Py_ssize_t rem, ax, lt, off, t, seg, sa, sb, ntaps
    cdef num_t* orow = out + row * m_last
    if b <= a:
        return
    # output row -> multi-index over the leading output axes (C order)
    rem = row
    for ax in range(nla - 1, -1, -1):
        idx[ax] = rem % out_lead[ax]
        rem = rem // out_lead[ax]
        jdx[ax] = 0
    # offset of every leading tap's source row (-1: the row lies in a cval band)
    for lt in range(n_lead):
        off = 0
        for ax in range(nla):
            t = _offset(maps + ax, idx[ax] + jdx[ax])
            if t < 0:
                off = -1
                break
            off += t
        offs[lt] = off
        # odometer over the leading kernel taps (C order, matching w's layout)
        for ax in range(nla - 1, -1, -1):
            jdx[ax] += 1
            if jdx[ax] < k_lead[ax]:
                break
            jdx[ax] = 0
    # Rows far apart in memory defeat the hardware prefetcher (measured: 3x3 on
    # 2048^2 float32 ran at 31 GFLOP/s from DRAM, 54 from L3).  Ask for the
    # source row that this thread's next item is likely to need first (the
    # newest row, ``ahead`` rows down) and the output row it will write.
    if nla > 0 and ahead > 0 and offs[n_lead - 1] >= 0:
        off = offs[n_lead - 1] + ahead * maps[nla - 1].stride + _offset(maps + nla, a if a > c0 else c0)
        if off >= 0 and off + (b - a) + klast - 1 <= x_span:
            t = 0
            while t < b - a + klast - 1:
                NDCONV_PREFETCH(x + off + t)
                t += 64 // sizeof(num_t)
        if (row + ahead) * m_last + b <= n_out:
            t = a
            while t < b:
                NDCONV_PREFETCHW(out + (row + ahead) * m_last + t)
                t += 64 // sizeof(num_t)
    # left border, interior, right border of the last axis, clipped to the chunk
    for seg in range(3):
        if seg == 0:
            sa, sb = a, (b if b < c0 else c0)
        elif seg == 1:
            sa, sb = (a if a > c0 else c0), (b if b < c1 else c1)
        else:
            sa, sb = (a if a > c1 else c1), b
        if sb <= sa:
            continue
        ntaps = _segment_taps(sa, sb, seg == 1 and unit, x, w, n_lead, klast, offs, maps + nla,
                              cval, skip_cval, ptrs, wrows, gbuf, gstride, cline)
        _block_sum(orow + sa, sb - sa, ptrs, wrows, ntaps, klast)


cdef int _correlate_nd(
        const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t n_rows, Py_ssize_t m_last, Py_ssize_t klast,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const AxisMap* maps, const Py_ssize_t* bounds, Py_ssize_t n_chunks,
        Py_ssize_t max_chunk, Py_ssize_t c0, Py_ssize_t c1, bint unit,
        num_t cval, bint skip_cval, int n_threads, Py_ssize_t x_span) noexcept nogil:
    """Returns 0 on success, -1 if a thread could not allocate its scratch."""
    cdef Py_ssize_t n_items = n_rows * n_chunks
    cdef Py_ssize_t gstride = max_chunk + klast - 1
    cdef Py_ssize_t item, i
    cdef int failed = 0
    cdef int* failp = &failed   # written through a pointer: plain locals are thread-private in a parallel block
    cdef Py_ssize_t* idx
    cdef Py_ssize_t* jdx
    cdef Py_ssize_t* offs
    cdef const num_t** ptrs
    cdef const num_t** wrows
    cdef num_t* gbuf
    cdef num_t* cline
    # with unit stride only the border segments (at most one chunk wide) gather
    cdef bint need_gather = (not unit) or c0 > 0 or c1 < m_last
    if n_items <= 0:
        return 0
    idx = jdx = offs = NULL
    i = 0
    ptrs = wrows = NULL
    gbuf = cline = NULL
    if n_threads < 1:
        n_threads = 1
    if n_threads > n_items:
        n_threads = <int>n_items
    with parallel(num_threads=n_threads):
        # per-thread scratch: O(taps x chunk), independent of the input size
        idx = <Py_ssize_t*>malloc((2 * nla + n_lead + 1) * sizeof(Py_ssize_t))
        jdx = idx + nla
        offs = jdx + nla
        ptrs = <const num_t**>malloc((n_lead + 1) * sizeof(num_t*))
        wrows = <const num_t**>malloc((n_lead + 1) * sizeof(num_t*))
        cline = <num_t*>malloc(gstride * sizeof(num_t))
        if need_gather:
            gbuf = <num_t*>malloc(n_lead * gstride * sizeof(num_t))
        else:
            gbuf = <num_t*>malloc(sizeof(num_t))
        if idx == NULL or ptrs == NULL or wrows == NULL or cline == NULL or gbuf == NULL:
            failp[0] = 1
        else:
            for i in range(gstride):
                cline[i] = cval
        for item in prange(n_items, schedule="dynamic", chunksize=1):
            if idx != NULL and ptrs != NULL and wrows != NULL and cline != NULL and gbuf != NULL:
                _do_item(item, x, out, w, n_chunks, m_last, klast, n_lead, nla,
                         out_lead, k_lead, maps, bounds, c0, c1, unit,
                         cval, skip_cval, n_threads if n_chunks == 1 else 0, x_span,
                         n_rows * m_last, idx, jdx, offs, ptrs, wrows, gbuf, gstride, cline)
        free(idx)
        free(<void*>ptrs)
        free(<void*>wrows)
        free(cline)
        free(gbuf)
    return -1 if failed else 0


def correlate_nd(const num_t[::1] x, num_t[::1] out, const num_t[::1] w,
                 const Py_ssize_t[::1] out_shape, const Py_ssize_t[::1] k_shape,
                 const Py_ssize_t[:, ::1] axis_params, const Py_ssize_t[::1] bands,
                 const Py_ssize_t[::1] bounds, Py_ssize_t max_chunk,
                 Py_ssize_t c0, Py_ssize_t c1, bint unit,
                 num_t cval, bint skip_cval, int n_threads):
    """Valid correlation of an index-extended input; see the comment at the top.

    Every argument is prepared by ``ndconv._direct``; this entry point re-checks
    everything that could make the kernel read or write out of bounds, so it is
    memory-safe on its own.  ``x`` is the flat span of the input from its lowest
    address, ``out`` the C-contiguous output (in the kernel's axis order), ``w``
    the C-contiguous kernel.  Row ``a`` of ``axis_params`` is ``(lo, hi, base,
    stride, band_start)`` of axis ``a``'s map (see ``AxisMap``); ``bands`` holds
    the border-band offsets of every axis.  ``bounds`` are the column-chunk
    boundaries of the last axis (each chunk at most ``max_chunk`` wide); output
    columns ``[c0, c1)`` read only interior samples of the last axis, and
    ``unit`` says that axis has unit stride, so those columns read ``x`` in place.
    """
    cdef Py_ssize_t nd = out_shape.shape[0]
    cdef Py_ssize_t a, n_out = 1, n_k = 1, n_rows = 1, n_lead = 1, t, L, lo, hi, nb, hi_off, reach = 0
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t span = x.shape[0]
    cdef AxisMap maps[64]
    cdef int rc
    if nd < 1 or nd > 64 or k_shape.shape[0] != nd or axis_params.shape[0] != nd or axis_params.shape[1] != 5:
        raise ValueError("inconsistent number of dimensions")
    for a in range(nd):
        if out_shape[a] < 0 or k_shape[a] < 1:
            raise ValueError("invalid output or kernel shape")
        n_out *= out_shape[a]
        n_k *= k_shape[a]
        if a < nd - 1:
            n_rows *= out_shape[a]
            n_lead *= k_shape[a]
        L = out_shape[a] + k_shape[a] - 1
        lo = axis_params[a, 0]
        hi = axis_params[a, 1]
        nb = lo + L - hi
        if not (0 <= lo <= hi <= L) or axis_params[a, 4] < 0 or axis_params[a, 4] + nb > bands.shape[0]:
            raise ValueError("axis map out of range")
        maps[a].lo = lo
        maps[a].hi = hi
        maps[a].base = axis_params[a, 2]
        maps[a].stride = axis_params[a, 3]
        maps[a].band = &bands[0] + axis_params[a, 4] if bands.shape[0] > 0 else NULL
        # the largest offset this axis can contribute; every offset must be >= -1
        hi_off = 0
        for t in range(axis_params[a, 4], axis_params[a, 4] + nb):
            if bands[t] < -1 or bands[t] >= span:
                raise ValueError("axis map out of range")
            if bands[t] > hi_off:
                hi_off = bands[t]
        if hi > lo:
            for t in (lo, hi - 1):
                if maps[a].base + t * maps[a].stride < 0:
                    raise ValueError("axis map out of range")
                if maps[a].base + t * maps[a].stride > hi_off:
                    hi_off = maps[a].base + t * maps[a].stride
        reach += hi_off
    if reach >= span:
        raise ValueError("axis maps address past the end of x")
    if out.shape[0] != n_out or w.shape[0] != n_k:
        raise ValueError("output or kernel size mismatch")
    if n_out == 0:
        return
    if n_chunks < 1 or bounds[0] != 0 or bounds[n_chunks] != out_shape[nd - 1]:
        raise ValueError("invalid chunk bounds")
    for a in range(n_chunks):
        if bounds[a + 1] < bounds[a] or bounds[a + 1] - bounds[a] > max_chunk:
            raise ValueError("invalid chunk bounds")
    if not (0 <= c0 <= c1 <= out_shape[nd - 1]):
        raise ValueError("invalid interior columns")
    # reading x in place needs interior, unit-stride positions for every tap
    if unit and c1 > c0 and not (maps[nd - 1].stride == 1 and c0 >= maps[nd - 1].lo
                                 and c1 + k_shape[nd - 1] - 1 <= maps[nd - 1].hi):
        raise ValueError("invalid interior columns")
    with nogil:
        rc = _correlate_nd(&x[0], &out[0], &w[0], n_rows, out_shape[nd - 1], k_shape[nd - 1],
                           n_lead, nd - 1, &out_shape[0], &k_shape[0], maps, &bounds[0],
                           n_chunks, max_chunk, c0, c1, unit, cval, skip_cval, n_threads, span)
    if rc != 0:
        raise MemoryError("ndconv: could not allocate per-thread scratch")

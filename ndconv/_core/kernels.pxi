# Direct N-D correlation kernels, included by baseline.pyx (the compiler's
# baseline flags), avx2.pyx (-mavx2 -mfma), avx512.pyx (AVX-512) and, on
# aarch64, neon.pyx, so the same source is compiled once per instruction set
# and ndconv._core picks one build at import.
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
# each output is loaded and stored once, whatever the kernel size.  Output row r
# (the leading axes flattened) starts at out + r * o_pitch: the row length for
# a contiguous output, more for rows that are parts of a larger array's rows.
#
# In the AVX-512, AVX2 and NEON builds, neighbouring output rows share the work of
# the source rows they have in common: an item is then four rows (``_do_quad``), or, for
# kernels of 2-7 rows along one axis (2-D kernels; AVX2: 2-6), a tile of up to 128 rows
# whose column strips are swept down with the accumulators of every row a
# source row reaches kept in registers (``_do_tile``, "rolling rows").  Each
# shifted vector then feeds up to 4 or kb multiply-adds instead of one.
#
# Each output has exactly one writer (or, where a run is widened, one thread
# writing the same value twice) and a fixed summation order, the same in every
# block: results are bitwise identical for any number of threads, any
# schedule and any of the blocks.  Items are handed out dynamically: a thread
# that shares its core with another process takes fewer of them instead of
# holding up the call.

cimport cython
import threading

from cpython.buffer cimport (
    PyBUF_SIMPLE,
    PyBUF_STRIDES,
    PyBUF_WRITABLE,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.exc cimport PyErr_CheckSignals
from cpython.pythread cimport PyThread_get_thread_ident
from cpython.pyport cimport PY_SSIZE_T_MAX
from cython.parallel cimport parallel, prange, threadid
from libc.math cimport isfinite
from libc.stdlib cimport free, malloc

from ndconv._core.csrc cimport (
    NDCONV_PREFETCH,
    NDCONV_PREFETCHW,
    NDCONV_QUAD_COLS_F32,
    NDCONV_QUAD_COLS_F64,
    NDCONV_ROW_BLOCKS,
    NDCONV_ROW_ISA,
    NDCONV_ROW_LANES_F32,
    NDCONV_ROW_LANES_F64,
    NDCONV_SHUFFLE_BLOCK,
    NDCONV_SEP_FUSED,
    NDCONV_WIDE_BLOCKS,
    ndconv_blk4_f32,
    ndconv_blk4_f64,
    ndconv_blk64_f64,
    ndconv_blk128_f32,
    ndconv_copy_kernel,
    ndconv_fmad,
    ndconv_finish_f32,
    ndconv_finish_f64,
    ndconv_fmaf,
    ndconv_roll_f32,
    ndconv_roll_f64,
    ndconv_roll_weights_f32,
    ndconv_roll_weights_f64,
    ndconv_roll_width,
    ndconv_scratch,
    ndconv_scratch_alloc,
    ndconv_scratch_alloc_in,
    ndconv_scratch_free,
    ndconv_scratch_parts,
    ndconv_scratch_spec,
    ndconv_sep_chunk,
    ndconv_sep_tile_f32,
    ndconv_sep_tile_f64,
    ndconv_split_f32,
    ndconv_split_f64,
    ndconv_region_begin,
    ndconv_region_end,
    ndconv_region_enter,
    ndconv_region_times,
    ndconv_stop_arm,
    ndconv_stop_disarm,
    ndconv_stop_requested,
    ndconv_stream_fence,
    ndconv_tile_rows,
)


# Ctrl-C (src/ndconv_interrupt.h).  Calls of at least this many multiply-adds
# (a millisecond or more) install the SIGINT handler that stops their loops;
# smaller ones end soon anyway and skip the two system calls.
DEF _ARM_WORK = 1 << 22
# Multiply-adds of one work item at most, where the planner can choose (a few
# tens of milliseconds): the loops check for SIGINT between items.
DEF _ITEM_WORK = 1 << 28
# outputs from this size on are computed with software prefetches (_correlate_nd)
DEF _PREFETCH_BYTES = 1 << 20


cdef int _arm(double work) except -1:
    """Make a call of ``work`` multiply-adds stoppable by SIGINT; returns
    whether it is (pass it to the loops and to ``_interrupted``).  Only from
    Python's main thread: Python runs its signal handlers there only."""
    if work < _ARM_WORK or PyThread_get_thread_ident() != threading.main_thread().ident:
        return 0
    return ndconv_stop_arm()


cdef bint _interrupted(int armed) except -1:
    """After the loops of a call armed by ``_arm``: restore the signal handler
    and, if SIGINT stopped the loops, run Python's signal handlers, which raise
    KeyboardInterrupt (or whatever the user's handler raises).  Returns True
    when the loops stopped early but no handler raised: the caller must run the
    call again (its output is incomplete), unarmed, so that a stream of signals
    cannot restart it forever.  Further signals then reach Python when the
    call returns, as they would without this handler."""
    if not armed or not ndconv_stop_disarm():
        return False
    PyErr_CheckSignals()
    return True


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

cdef inline void _prefetch(const void* p, Py_ssize_t nbytes) noexcept nogil:
    """Prefetch the cache lines of ``nbytes`` bytes from ``p`` (for reading):
    every line they touch, the last one too when ``p`` is inside a line."""
    cdef const char* q = <const char*>p
    cdef Py_ssize_t t = -<Py_ssize_t>(<size_t>p & 63)
    while t < nbytes:
        NDCONV_PREFETCH(q + t)
        t += 64


ctypedef fused num_t:
    float
    double
    float complex
    double complex
    long long

cdef inline void _cmac(num_t* acc, num_t w, const num_t* x) noexcept nogil:
    """``*acc += w * *x`` for complex ``num_t``, every rounding spelled out.

    Written as ``acc + w * x``, the compiler contracts the complex product's
    four multiply-adds one way in a vectorised wide block and another in a
    narrow one, so a short row differed from a long one in the last bit.  Here
    each part is two multiply-adds in a fixed order (fused where the build
    fuses, plain where it does not), the same in every block.
    """
    cdef float* af
    cdef const float* xf
    cdef double* ad
    cdef const double* xd
    cdef float wfr, wfi, rf, jf
    cdef double wdr, wdi, rd, jd
    if num_t is cython.floatcomplex:
        af, xf = <float*>acc, <const float*>x
        wfr, wfi = w.real, w.imag
        rf = ndconv_fmaf(wfr, xf[0], ndconv_fmaf(-wfi, xf[1], af[0]))
        jf = ndconv_fmaf(wfr, xf[1], ndconv_fmaf(wfi, xf[0], af[1]))
        af[0], af[1] = rf, jf
    elif num_t is cython.doublecomplex:
        ad, xd = <double*>acc, <const double*>x
        wdr, wdi = w.real, w.imag
        rd = ndconv_fmad(wdr, xd[0], ndconv_fmad(-wdi, xd[1], ad[0]))
        jd = ndconv_fmad(wdr, xd[1], ndconv_fmad(wdi, xd[0], ad[1]))
        ad[0], ad[1] = rd, jd


cdef inline num_t _madd(num_t w, num_t x, num_t acc) noexcept nogil:
    """``w * x + acc`` with the build's multiply-add for float and double
    (``ndconv_fmaf``/``_fmad``: fused in the FMA builds, product then sum in the
    others); the blocks call it for every real and integer ``num_t``, and
    ``_cmac`` for complex ones.

    Spelled out, not written ``acc + w * x`` and left to the compiler to
    contract: gcc contracts only from -O2 on (at -O0 and -O1 it rounds the
    product, whatever -ffp-contract says), and at -O3 it vectorised the 8-wide
    loop with the product rounded.  The row-sharing blocks' multiply-adds are
    explicit (ndconv_vec.h), so a one-row block left to contraction equalled
    them only at the optimisation levels, and in the loops, where the compiler
    chose to contract.  This way every block's chain is fixed by the source.
    """
    if num_t is float:
        return ndconv_fmaf(w, x, acc)
    elif num_t is double:
        return ndconv_fmad(w, x, acc)
    else:
        return acc + w * x


cdef inline void _block32(num_t* o, Py_ssize_t c, const num_t** ptrs, const num_t** wrows,
                          Py_ssize_t ntaps, Py_ssize_t klast) noexcept nogil:
    """o[c:c+32] = sum_r sum_j wrows[r][j] * ptrs[r][c + j : c + j + 32].

    A fixed trip count and a local accumulator array: the compiler keeps the 32
    sums in vector registers (4 ymm of floats / 8 of doubles) across the whole
    tap loop, so each tap costs one load and one multiply-add (``_madd``) per
    vector, and the output is stored once.
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
                if num_t is cython.floatcomplex or num_t is cython.doublecomplex:
                    _cmac(&acc[u], wj, &p[j + u])
                else:
                    acc[u] = _madd(wj, p[j + u], acc[u])
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
                if num_t is cython.floatcomplex or num_t is cython.doublecomplex:
                    _cmac(&acc[u], wj, &p[j + u])
                else:
                    acc[u] = _madd(wj, p[j + u], acc[u])
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
                if num_t is cython.floatcomplex or num_t is cython.doublecomplex:
                    _cmac(&acc[u], wj, &p[j + u])
                else:
                    acc[u] = _madd(wj, p[j + u], acc[u])
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
                if num_t is cython.floatcomplex or num_t is cython.doublecomplex:
                    _cmac(&acc[u], wj, &p[j + u])
                else:
                    acc[u] = _madd(wj, p[j + u], acc[u])
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
    if num_t is float:
        if NDCONV_SHUFFLE_BLOCK and n >= 128 and klast >= 3:
            while c + 128 <= n:
                ndconv_blk128_f32(o, c, ptrs, wrows, ntaps, klast)
                c += 128
            if c < n:
                ndconv_blk128_f32(o, n - 128, ptrs, wrows, ntaps, klast)
            return
    if num_t is double:
        if NDCONV_SHUFFLE_BLOCK and n >= 64 and klast >= 3:
            while c + 64 <= n:
                ndconv_blk64_f64(o, c, ptrs, wrows, ntaps, klast)
                c += 64
            if c < n:
                ndconv_blk64_f64(o, n - 64, ptrs, wrows, ntaps, klast)
            return
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
                if num_t is cython.floatcomplex or num_t is cython.doublecomplex:
                    _cmac(&s, wr[j], &p[j])
                else:
                    s = _madd(wr[j], p[j], s)
        o[c] = s
        c += 1


cdef inline void _quad_sum(num_t* o, Py_ssize_t ostr, Py_ssize_t n, const num_t** src,
                           const num_t* w, Py_ssize_t n_groups, Py_ssize_t kb, Py_ssize_t klast,
                           const num_t* pf, Py_ssize_t pfstr) noexcept nogil:
    """Four neighbouring output rows (``ostr`` apart) over ``n`` columns, n at
    least one block (the tail overlaps, as in _block_sum); see ndconv_blk4_*.

    Block by block, the same columns of the next quad's four new source rows
    (``pf``, ``pfstr`` apart; NULL: none) are prefetched, a whole row sweep
    before they are needed.  Prefetching them a whole row at a time instead
    (as single rows do) pulled 64 KB into L1 at once and evicted the rows
    being computed (3x3 ran at half speed); prefetching the output rows as
    well cost more than it saved.
    """
    cdef Py_ssize_t c = 0, cb, i
    if num_t is float:
        cb = NDCONV_QUAD_COLS_F32
    else:
        cb = NDCONV_QUAD_COLS_F64
    while c < n:
        if c + cb > n:
            c = n - cb
        if pf != NULL:
            for i in range(4):
                _prefetch(pf + i * pfstr + c, cb * sizeof(num_t))
        if num_t is float:
            ndconv_blk4_f32(o, ostr, c, src, w, n_groups, kb, klast)
        elif num_t is double:
            ndconv_blk4_f64(o, ostr, c, src, w, n_groups, kb, klast)
        c += cb


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


cdef inline void _row_offsets(Py_ssize_t row, Py_ssize_t n_lead, Py_ssize_t nla,
                              const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
                              const AxisMap* maps, Py_ssize_t* idx, Py_ssize_t* jdx,
                              Py_ssize_t* offs) noexcept nogil:
    """offs[lt] = offset of leading tap lt's source row for output row ``row``
    (-1: the row lies in a cval band)."""
    cdef Py_ssize_t rem = row, ax, lt, off, t
    # output row -> multi-index over the leading output axes (C order)
    for ax in range(nla - 1, -1, -1):
        idx[ax] = rem % out_lead[ax]
        rem = rem // out_lead[ax]
        jdx[ax] = 0
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


cdef inline void _do_item(
        Py_ssize_t item, const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t n_chunks, Py_ssize_t m_last, Py_ssize_t o_pitch, Py_ssize_t klast,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const AxisMap* maps, const Py_ssize_t* bounds,
        Py_ssize_t c0, Py_ssize_t c1, bint unit, num_t cval, bint skip_cval,
        Py_ssize_t ahead, Py_ssize_t x_span, Py_ssize_t n_out,
        Py_ssize_t* idx, Py_ssize_t* jdx, Py_ssize_t* offs, const num_t** ptrs,
        const num_t** wrows, num_t* gbuf, Py_ssize_t gstride,
        const num_t* cline, int skip=0, bint offs_ready=False) noexcept nogil:
    """One output row's column chunk [bounds[q], bounds[q+1]) (without the
    segments whose bit is set in ``skip`` (left border 1, interior 2, right
    border 4): ``_do_quad`` computed them; with
    ``offs_ready``, ``offs`` already holds the row's source offsets)."""
    cdef Py_ssize_t row = item // n_chunks
    cdef Py_ssize_t q = item - row * n_chunks
    cdef Py_ssize_t a = bounds[q], b = bounds[q + 1]
    cdef Py_ssize_t off, t, seg, sa, sb, ntaps
    cdef num_t* orow = out + row * o_pitch
    if b <= a:
        return
    if not offs_ready:
        _row_offsets(row, n_lead, nla, out_lead, k_lead, maps, idx, jdx, offs)
    # Rows far apart in memory defeat the hardware prefetcher (3x3 on 2048^2
    # float32 ran far slower from DRAM than from L3).  Ask for the
    # source row that this thread's next item is likely to need first (the
    # newest row, ``ahead`` rows down) and the output row it will write.
    if nla > 0 and ahead > 0 and offs[n_lead - 1] >= 0:
        off = offs[n_lead - 1] + ahead * maps[nla - 1].stride + _offset(maps + nla, a if a > c0 else c0)
        if off >= 0 and off + (b - a) + klast - 1 <= x_span:
            _prefetch(x + off, (b - a + klast - 1) * sizeof(num_t))
        if (row + ahead) * o_pitch + b <= n_out:
            t = a
            while t < b:
                NDCONV_PREFETCHW(out + (row + ahead) * o_pitch + t)
                t += 64 // sizeof(num_t)
    # left border, interior, right border of the last axis, clipped to the chunk
    for seg in range(3):
        if seg == 0:
            sa, sb = a, (b if b < c0 else c0)
        elif seg == 1:
            sa, sb = (a if a > c0 else c0), (b if b < c1 else c1)
        else:
            sa, sb = (a if a > c1 else c1), b
        if sb <= sa or (skip >> seg) & 1:
            continue
        ntaps = _segment_taps(sa, sb, seg == 1 and unit, x, w, n_lead, klast, offs, maps + nla,
                              cval, skip_cval, ptrs, wrows, gbuf, gstride, cline)
        _block_sum(orow + sa, sb - sa, ptrs, wrows, ntaps, klast)


cdef struct MissingSpec:
    # The one-pass kernel for missing samples (``correlate_nd``'s ``missing``):
    # how an output is finished, in the compute dtype (see ndconv_finish_*)
    double ksum     # the kernel's sum, taps added in C order (missing.kernel_sum)
    double limit    # NaN where the signed weight is below it (strict) or at most it
    int strict
    int neg         # ksum < 0: the signed weight is -den
    # preserve_nan: the tap that reads each output's own input sample (its
    # leading tap and its column; own_lead -1: none), NaN where that is missing
    Py_ssize_t own_lead
    Py_ssize_t own_last


cdef inline void _do_item_missing(
        Py_ssize_t item, const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t n_chunks, Py_ssize_t m_last, Py_ssize_t o_pitch, Py_ssize_t klast,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const AxisMap* maps, const Py_ssize_t* bounds,
        Py_ssize_t c0, Py_ssize_t c1, bint unit, num_t cval, bint skip_cval,
        Py_ssize_t* idx, Py_ssize_t* jdx, Py_ssize_t* offs, const num_t** ptrs,
        const num_t** wrows, num_t* gbuf, Py_ssize_t gstride,
        const num_t* cline, num_t* den, const MissingSpec* ms, int skip=0,
        bint offs_ready=False) noexcept nogil:
    """``_do_item`` for missing samples (NaN): the normalized correlation of
    one output row's column chunk, finished in place (``skip``,
    ``offs_ready``: as ``_do_item``'s, for ``_do_quad_missing``).

    Per segment, each leading tap's source row (in place or gathered, as
    ``_do_item`` reads it) is split into its zeroed values and its presence
    (``ndconv_split_*``, ``2 n_lead`` rows of scratch); the one-row blocks sum
    both with the plain path's order and multiply-adds, so the numerator and
    the weight are bitwise the plain correlations of the two arrays the
    two-pass path makes, and the finish is ``missing.finish``'s.  Rows in a
    band of cval: skipped where the cval is NaN (missing: 0 in both sums, as
    the two passes skip their cval 0), else ``cline`` (the cval, then a line of
    ones: present).  x is read once, the output written once."""
    cdef Py_ssize_t row = item // n_chunks
    cdef Py_ssize_t q = item - row * n_chunks
    cdef Py_ssize_t a = bounds[q], b = bounds[q + 1]
    cdef Py_ssize_t seg, sa, sb, ntaps, lt, nbuf, span, first
    cdef num_t* orow = out + row * o_pitch
    cdef const num_t** pres = ptrs + n_lead
    cdef const AxisMap* last = maps + nla
    cdef num_t* g
    cdef const num_t* src
    cdef const num_t* own
    if b <= a:
        return
    if not offs_ready:
        _row_offsets(row, n_lead, nla, out_lead, k_lead, maps, idx, jdx, offs)
    for seg in range(3):
        if seg == 0:
            sa, sb = a, (b if b < c0 else c0)
        elif seg == 1:
            sa, sb = (a if a > c0 else c0), (b if b < c1 else c1)
        else:
            sa, sb = (a if a > c1 else c1), b
        if sb <= sa or (skip >> seg) & 1:
            continue
        span = sb - sa + klast - 1
        first = _offset(last, sa) if seg == 1 and unit else 0
        ntaps = nbuf = 0
        own = NULL
        for lt in range(n_lead):
            if offs[lt] < 0:
                if skip_cval:
                    continue
                ptrs[ntaps] = cline
                pres[ntaps] = cline + gstride
            else:
                g = gbuf + 2 * nbuf * gstride
                nbuf += 1
                if seg == 1 and unit:
                    src = x + offs[lt] + first
                else:
                    _gather(g, x + offs[lt], last, sa, span, cval)
                    src = g
                if num_t is float:
                    ndconv_split_f32(src, g, g + gstride, span)
                elif num_t is double:
                    ndconv_split_f64(src, g, g + gstride, span)
                ptrs[ntaps] = g
                pres[ntaps] = g + gstride
            if lt == ms.own_lead:
                own = pres[ntaps] + ms.own_last
            wrows[ntaps] = w + lt * klast
            ntaps += 1
        _block_sum(orow + sa, sb - sa, ptrs, wrows, ntaps, klast)
        _block_sum(den, sb - sa, pres, wrows, ntaps, klast)
        if num_t is float:
            ndconv_finish_f32(orow + sa, den, sb - sa, <float>ms.ksum, <float>ms.limit,
                              ms.strict, ms.neg, own)
        elif num_t is double:
            ndconv_finish_f64(orow + sa, den, sb - sa, ms.ksum, ms.limit, ms.strict, ms.neg, own)


cdef inline void _do_quad_missing(
        Py_ssize_t item, Py_ssize_t n_rows, const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t n_chunks, Py_ssize_t m_last, Py_ssize_t o_pitch, Py_ssize_t klast,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const AxisMap* maps, const Py_ssize_t* bounds,
        Py_ssize_t c0, Py_ssize_t c1, bint unit, num_t cval, bint skip_cval,
        Py_ssize_t* idx, Py_ssize_t* jdx, Py_ssize_t* offs, Py_ssize_t* qoffs,
        const num_t** ptrs, const num_t** wrows, num_t* gbuf, Py_ssize_t gstride,
        const num_t* cline, num_t* den, const MissingSpec* ms) noexcept nogil:
    """Output rows 4p .. 4p + 3 of one column chunk for missing samples:
    ``_do_quad``'s four-row blocks (``_quad_sum``) on split source rows
    (``kb + 3`` per group, each split once for the four rows), numerator and
    weight, then each row finished as ``_do_item_missing`` does.  Rows that
    do not share their sources, and segments narrower than a block, run as
    single rows (the same sums: the blocks agree bit for bit)."""
    cdef Py_ssize_t quad = item // n_chunks, q = item - (item // n_chunks) * n_chunks
    cdef Py_ssize_t r0 = 4 * quad, i, g, t, e, kb, n_groups, sa, sb, first, cb, seg, span, ns
    cdef Py_ssize_t a = bounds[q], b = bounds[q + 1]
    cdef const AxisMap* last = maps + nla
    cdef const num_t** pres = ptrs + 4 * n_lead
    cdef num_t* o = out + r0 * o_pitch
    cdef num_t* gz
    cdef const num_t* src
    cdef const num_t* own
    cdef int done = 0
    cdef bint ok = r0 + 3 < n_rows and b > a and _quad_shares(r0, n_lead, nla, out_lead, k_lead,
                                                              maps, idx, jdx, qoffs)
    kb = k_lead[nla - 1]
    n_groups = n_lead // kb
    if num_t is float:
        cb = NDCONV_QUAD_COLS_F32
    else:
        cb = NDCONV_QUAD_COLS_F64
    if ok:
        for seg in range(3):
            if seg == 0:
                sa, sb = a, (b if b < c0 else c0)
            elif seg == 1:
                sa, sb = (a if a > c0 else c0), (b if b < c1 else c1)
            else:
                sa, sb = (a if a > c1 else c1), b
            if sb - sa < cb:
                continue
            done |= 1 << seg
            first = _offset(last, sa) if seg == 1 and unit else 0
            span = sb - sa + klast - 1
            for g in range(n_groups):
                for t in range(kb + 3):
                    e = qoffs[g * kb + t] if t < kb else qoffs[(t - kb + 1) * n_lead + g * kb + kb - 1]
                    ns = g * (kb + 3) + t
                    gz = gbuf + 2 * ns * gstride
                    if seg == 1 and unit:
                        src = x + e + first
                    else:
                        _gather(gz, x + e, last, sa, span, cval)
                        src = gz
                    if num_t is float:
                        ndconv_split_f32(src, gz, gz + gstride, span)
                    elif num_t is double:
                        ndconv_split_f64(src, gz, gz + gstride, span)
                    ptrs[ns] = gz
                    pres[ns] = gz + gstride
            _quad_sum(o + sa, o_pitch, sb - sa, ptrs, w, n_groups, kb, klast, NULL, 0)
            _quad_sum(den, gstride, sb - sa, pres, w, n_groups, kb, klast, NULL, 0)
            for i in range(4):
                own = NULL
                if ms.own_lead >= 0:
                    own = pres[(ms.own_lead // kb) * (kb + 3) + ms.own_lead % kb + i] + ms.own_last
                if num_t is float:
                    ndconv_finish_f32(o + i * o_pitch + sa, den + i * gstride, sb - sa,
                                      <float>ms.ksum, <float>ms.limit, ms.strict, ms.neg, own)
                elif num_t is double:
                    ndconv_finish_f64(o + i * o_pitch + sa, den + i * gstride, sb - sa, ms.ksum,
                                      ms.limit, ms.strict, ms.neg, own)
    if done == 7:
        return
    for i in range(4):
        if r0 + i >= n_rows:
            break
        _do_item_missing((r0 + i) * n_chunks + q, x, out, w, n_chunks, m_last, o_pitch, klast, n_lead,
                         nla, out_lead, k_lead, maps, bounds, c0, c1, unit, cval, skip_cval,
                         idx, jdx, qoffs + i * n_lead if ok else offs, ptrs, wrows, gbuf,
                         gstride, cline, den, ms, done, ok)


cdef inline bint _quad_shares(Py_ssize_t r0, Py_ssize_t n_lead, Py_ssize_t nla,
                              const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
                              const AxisMap* maps, Py_ssize_t* idx, Py_ssize_t* jdx,
                              Py_ssize_t* qoffs) noexcept nogil:
    """Fill ``qoffs`` with the source offsets of output rows r0 .. r0 + 3 (one
    row of ``n_lead`` after another); True if the four rows read the same
    source rows, each shifted by one, none in a cval band (the four-row
    blocks' layout: ``kb + 3`` rows per group of ``kb`` leading taps)."""
    cdef Py_ssize_t i, g, t, e, kb = k_lead[nla - 1], n_groups = n_lead // kb
    cdef const AxisMap* m = maps
    # one leading axis (an image) and the four rows' sources inside its
    # interior, as in all but its first and last rows: the offsets are one
    # arithmetic run, which shares by construction (the general way below
    # took 7 % of a 256^2 7x7 call, AVX2)
    if nla == 1 and m.lo <= r0 and r0 + kb + 2 < m.hi and m.base + r0 * m.stride >= 0 \
            and m.base + (r0 + kb + 2) * m.stride >= 0:
        for i in range(4):
            for t in range(kb):
                qoffs[i * n_lead + t] = m.base + (r0 + i + t) * m.stride
        return True
    for i in range(4):
        _row_offsets(r0 + i, n_lead, nla, out_lead, k_lead, maps, idx, jdx, qoffs + i * n_lead)
    # row i, tap (g, t) must read what row 0 reads with tap (g, t + i), or,
    # past the group's last row, what row t + i - kb + 1 reads with tap (g, kb - 1)
    for g in range(n_groups):
        for i in range(4):
            for t in range(kb):
                e = t + i
                e = qoffs[g * kb + e] if e < kb else qoffs[(e - kb + 1) * n_lead + g * kb + kb - 1]
                if e < 0 or qoffs[i * n_lead + g * kb + t] != e:
                    return False
    return True


cdef inline bint _in_place_run(const AxisMap* last, bint unit, Py_ssize_t a, Py_ssize_t b,
                               Py_ssize_t klast, Py_ssize_t width, Py_ssize_t* ia,
                               Py_ssize_t* ib) noexcept nogil:
    """Whether columns ``[ia, ib)`` of chunk ``[a, b)``, whose taps read only
    interior unit-stride samples, are at least ``width`` wide once a border
    narrower than ``width`` is widened to it (``width``: a register block).
    A border then takes one block, never part of one beside a block
    computed twice."""
    if not unit or last.stride != 1:
        return False
    ia[0] = last.lo if last.lo > a else a
    ib[0] = last.hi - klast + 1 if last.hi - klast + 1 < b else b
    if ia[0] > a and ia[0] < a + width:
        ia[0] = a + width
    if ib[0] < b and ib[0] > b - width:
        ib[0] = b - width
    return ib[0] - ia[0] >= width


cdef inline void _do_quad(
        Py_ssize_t item, Py_ssize_t n_rows, const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t n_chunks, Py_ssize_t m_last, Py_ssize_t o_pitch, Py_ssize_t klast,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const AxisMap* maps, const Py_ssize_t* bounds,
        Py_ssize_t c0, Py_ssize_t c1, bint unit, num_t cval, bint skip_cval,
        Py_ssize_t ahead, Py_ssize_t x_span, Py_ssize_t n_out,
        Py_ssize_t* idx, Py_ssize_t* jdx, Py_ssize_t* offs, Py_ssize_t* qoffs,
        const num_t** ptrs, const num_t** wrows, num_t* gbuf, Py_ssize_t gstride,
        const num_t* cline) noexcept nogil:
    """Output rows 4p .. 4p + 3 of one column chunk (see ``quad`` in
    _correlate_nd).

    Where the four rows read the same source rows, each shifted by one row
    (everywhere but near the first and last rows of a leading axis, and cval
    rows), each segment of the chunk at least one block wide runs through
    ``_quad_sum``: the interior in place, the border segments from the quad's
    source rows gathered once (``kb + 3`` rows per group instead of ``4 kb``).
    Anything else runs as single rows.
    """
    cdef Py_ssize_t quad = item // n_chunks, q = item - (item // n_chunks) * n_chunks
    cdef Py_ssize_t r0 = 4 * quad, i, g, t, e, kb, n_groups, sa, sb, first, cb, seg, span
    cdef Py_ssize_t a = bounds[q], b = bounds[q + 1], rstr = maps[nla - 1].stride
    cdef const num_t* pf = NULL
    cdef num_t* o = out + r0 * o_pitch
    cdef int done = 0
    cdef bint ok = r0 + 3 < n_rows and b > a and _quad_shares(r0, n_lead, nla, out_lead, k_lead,
                                                              maps, idx, jdx, qoffs)
    kb = k_lead[nla - 1]
    n_groups = n_lead // kb
    if num_t is float:
        cb = NDCONV_QUAD_COLS_F32
    else:
        cb = NDCONV_QUAD_COLS_F64
    if not ok:
        for i in range(r0, r0 + 4 if r0 + 4 <= n_rows else n_rows):
            _do_item(i * n_chunks + q, x, out, w, n_chunks, m_last, o_pitch, klast, n_lead, nla,
                     out_lead, k_lead, maps, bounds, c0, c1, unit, cval, skip_cval, ahead, x_span,
                     n_out, idx, jdx, offs, ptrs, wrows, gbuf, gstride, cline)
        return
    # The next quad of this thread (``ahead`` rows on) reads four new source
    # rows after the last one read here, if its rows continue these: prefetch
    # them as this quad sweeps the same columns.
    e = qoffs[4 * n_lead - 1] + (ahead - 3) * rstr
    if ahead >= 4 and r0 + ahead + 3 < n_rows and rstr > 0 and unit and e >= 0 \
            and e + 3 * rstr < x_span:
        pf = x + e
    # The border segments as narrow as one quad block where that leaves every
    # segment a block wide or empty (c0, c1 give a side the one-row path's
    # widest block, in the AVX2 build wider than a quad's: the columns between
    # were gathered and summed from copies; 256^2 7x7 118 -> 107 us, 11x11
    # 236 -> 214).  The same sums: columns in place read what copies held,
    # and the rows' fallback below then has nothing left to do.
    cdef Py_ssize_t s0, s1
    if not _in_place_run(maps + nla, unit, a, b, klast, cb, &s0, &s1):
        s0, s1 = c0, c1
    for seg in range(3):
        if seg == 0:
            sa, sb = a, (b if b < s0 else s0)
        elif seg == 1:
            sa, sb = (a if a > s0 else s0), (b if b < s1 else s1)
        else:
            sa, sb = (a if a > s1 else s1), b
        if sb <= sa:
            done |= 1 << seg    # the segments tile the chunk: nothing to do here
            continue
        if sb - sa < cb:
            continue
        done |= 1 << seg
        first = _offset(maps + nla, sa)
        span = sb - sa + klast - 1
        for g in range(n_groups):
            for t in range(kb + 3):
                e = qoffs[g * kb + t] if t < kb else qoffs[(t - kb + 1) * n_lead + g * kb + kb - 1]
                if seg == 1 and unit:
                    ptrs[g * (kb + 3) + t] = x + e + first
                else:
                    _gather(gbuf + (g * (kb + 3) + t) * gstride, x + e, maps + nla, sa, span, cval)
                    ptrs[g * (kb + 3) + t] = gbuf + (g * (kb + 3) + t) * gstride
        if seg == 1 and unit:
            _quad_sum(o + sa, o_pitch, sb - sa, ptrs, w, n_groups, kb, klast,
                      pf + first if pf != NULL else NULL, rstr)
        else:
            if pf != NULL:
                for i in range(4):
                    _prefetch(pf + i * rstr + (first if first > 0 else 0), span * sizeof(num_t))
            _quad_sum(o + sa, o_pitch, sb - sa, ptrs, w, n_groups, kb, klast, NULL, 0)
    if done != 7:
        for i in range(4):
            _do_item((r0 + i) * n_chunks + q, x, out, w, n_chunks, m_last, o_pitch, klast, n_lead, nla,
                     out_lead, k_lead, maps, bounds, c0, c1, unit, cval, skip_cval, 0, x_span,
                     n_out, idx, jdx, qoffs + i * n_lead, ptrs, wrows, gbuf, gstride, cline,
                     done, True)


# Rolling-path geometry: the widest run of border columns gathered at a time
# (tile rows x this, per thread); the rows per tile are the build's
# (ndconv_tile_rows).
DEF _TILE_GATHER = 256
# a tile's scratch holds its source rows' pointers and offsets: a bound on it
DEF _MAX_TILE_ROWS = 4096


cdef inline void _roll_sum(num_t* o, Py_ssize_t ostr, Py_ssize_t n, const num_t** src,
                           Py_ssize_t h, const num_t* w, Py_ssize_t kb, Py_ssize_t klast,
                           bint prefetch, const num_t* pn, Py_ssize_t pn_str,
                           Py_ssize_t pn_rows, const num_t* x, const Py_ssize_t* roffs,
                           Py_ssize_t nr, Py_ssize_t la, Py_ssize_t lb, Py_ssize_t n_ab,
                           bint nt) noexcept nogil:
    """``h`` output rows (``ostr`` apart) over ``n`` columns, n at least one
    strip (the tail overlaps, as in _block_sum); see ndconv_roll_* (``w``
    tap-major: ndconv_roll_weights_*).  ``nt``:
    rows that start a cache line are stored with non-temporal stores.

    With ``prefetch``, each strip prefetches in its source and output rows
    the lines that the next strip reads and it does not
    (``NDCONV_PREFETCH_STRIP``),
    and the strips share out prefetching (a) the first strip of ``pn_rows``
    rows from ``pn`` (``pn_str`` apart; the next tile's, which would otherwise
    start cold: up to 134 rows, each a miss to memory) and (b) ``n_ab`` samples from
    offsets ``la`` and ``lb`` of the ``nr`` rows at ``x + roffs[i]`` (this
    tile's border columns, gathered after the sweep; ``n_ab`` = 0: none)."""
    cdef Py_ssize_t c = 0, rw, pfd, n_strips, si = 0, r, r1
    if num_t is float:
        rw = ndconv_roll_width(kb, NDCONV_ROW_LANES_F32)
    else:
        rw = ndconv_roll_width(kb, NDCONV_ROW_LANES_F64)
    n_strips = (n + rw - 1) // rw
    while c < n:
        if c + rw > n:
            c = n - rw
        pfd = rw if prefetch and c + 2 * rw <= n else 0
        if prefetch and pn != NULL:
            r = si * pn_rows // n_strips
            r1 = (si + 1) * pn_rows // n_strips
            while r < r1:
                _prefetch(pn + r * pn_str, (rw + klast - 1) * sizeof(num_t))
                r += 1
        if prefetch and n_ab > 0:
            r = si * nr // n_strips
            r1 = (si + 1) * nr // n_strips
            while r < r1:
                if roffs[r] >= 0:
                    _prefetch(x + roffs[r] + la, n_ab * sizeof(num_t))
                    _prefetch(x + roffs[r] + lb, n_ab * sizeof(num_t))
                r += 1
        if num_t is float:
            ndconv_roll_f32(kb, o, ostr, c, src, h, w, klast, pfd, nt)
        elif num_t is double:
            ndconv_roll_f64(kb, o, ostr, c, src, h, w, klast, pfd, nt)
        c += rw
        si += 1


cdef inline void _do_tile(
        Py_ssize_t item, Py_ssize_t th, Py_ssize_t tpp, Py_ssize_t rw,
        const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t n_chunks, Py_ssize_t m_last, Py_ssize_t o_pitch, Py_ssize_t klast,
        Py_ssize_t kb, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const AxisMap* maps, const Py_ssize_t* bounds, bint unit, num_t cval, Py_ssize_t x_span,
        Py_ssize_t* idx, Py_ssize_t* jdx, Py_ssize_t* offs, Py_ssize_t* toffs,
        const num_t** ptrs, num_t* tbuf, Py_ssize_t tstride, const num_t* cline,
        bint nt, bint prefetch) noexcept nogil:
    """One tile of the rolling path (kernels whose leading taps are ``kb``
    rows of one axis): up to ``th`` output rows of one plane (``tpp`` tiles
    per plane) x one column chunk (at least one strip wide), column strips
    swept down the tile by ``_roll_sum`` (``w`` tap-major).

    The columns whose taps read only interior samples read ``x`` in place;
    the few others (``kb // 2`` a side for "same") are computed from the
    tile's source rows gathered ``_TILE_GATHER`` columns at a time, after the
    interior has pulled their cache lines in.  A border run narrower than a
    strip is widened into the interior of the chunk: those columns are
    recomputed by this thread to the same values.  Source rows in a cval
    band read ``cline``.  ``nt``: the interior's rows are stored with
    non-temporal stores where they start a cache line (the caller fences);
    ``prefetch``: its strips prefetch (``_roll_sum``).
    """
    cdef Py_ssize_t q = item % n_chunks, tile = item // n_chunks
    cdef Py_ssize_t M = out_lead[nla - 1], rstr = maps[nla - 1].stride
    cdef Py_ssize_t i0 = (tile % tpp) * th, row0, h, i, t, seg, sa, sb, ua, ub, n_sub, step
    cdef Py_ssize_t span, first, e, ia, ib
    cdef Py_ssize_t a = bounds[q], b = bounds[q + 1]
    cdef const AxisMap* last = maps + nla
    cdef const num_t* pn = NULL
    h = M - i0
    if h > th:
        h = th
    if h <= 0 or b <= a:
        return
    row0 = (tile // tpp) * M + i0
    # source row i + t feeds output row i with kernel row t
    if nla == 1:
        # an image: source row j of the tile is row i0 + j of the one leading
        # axis (no index arithmetic per row: 256^2 3x3 spent ~5 % of its time
        # on _row_offsets' divisions)
        for i in range(h + kb - 1):
            toffs[i] = _offset(maps, i0 + i)
    else:
        for i in range(h):
            _row_offsets(row0 + i, kb, nla, out_lead, k_lead, maps, idx, jdx, offs)
            toffs[i] = offs[0]
        for t in range(1, kb):
            toffs[h - 1 + t] = offs[t]
    # columns [ia, ib) of the chunk read only interior, unit-stride samples; a
    # border, when there is one, is gathered one whole strip wide
    if not _in_place_run(last, unit, a, b, klast, rw, &ia, &ib):
        ia = ib = a
    if ib > ia:
        first = _offset(last, ia)
        for i in range(h + kb - 1):
            ptrs[i] = x + toffs[i] + first if toffs[i] >= 0 else cline
        # the next tile's new source rows (this thread's next tile, as a
        # rule), where they continue these in memory
        e = toffs[h + kb - 2] + rstr
        if i0 + h < M and rstr > 0 and toffs[h + kb - 2] >= 0 \
                and e + (th - 1) * rstr + first + rw + klast - 1 <= x_span:
            pn = x + e + first
        # the border columns' samples nearest the row ends (for the gather)
        e = ia - a if ia - a > b - ib else b - ib
        _roll_sum(out + row0 * o_pitch + ia, o_pitch, ib - ia, ptrs, h, w, kb, klast,
                  prefetch,
                  pn, rstr, th, x, toffs, h + kb - 1, _offset(last, last.lo),
                  max(0, _offset(last, last.hi - 1) - e - klast + 1), e + klast - 1 if e > 0 else 0,
                  nt)
    for seg in range(2):
        sa, sb = (a, ia) if seg == 0 else (ib, b)
        if ia == ib:
            if seg == 1:
                break
            sa, sb = a, b
        if sb <= sa:
            continue
        # balanced runs of at most _TILE_GATHER columns (so at least half
        # that, more than a strip, when there are several)
        n_sub = (sb - sa + _TILE_GATHER - 1) // _TILE_GATHER
        step = (sb - sa + n_sub - 1) // n_sub
        ua = sa
        while ua < sb:
            ub = ua + step if ua + step < sb else sb
            if ub - ua < rw:
                ua = ub - rw if ub - rw >= a else a
                ub = ua + rw
            span = ub - ua + klast - 1
            for i in range(h + kb - 1):
                if toffs[i] >= 0:
                    _gather(tbuf + i * tstride, x + toffs[i], last, ua, span, cval)
                    ptrs[i] = tbuf + i * tstride
                else:
                    ptrs[i] = cline
            _roll_sum(out + row0 * o_pitch + ua, o_pitch, ub - ua, ptrs, h, w, kb, klast, False,
                      NULL, 0, 0, NULL, NULL, 0, 0, 0, 0, False)
            ua = ub


cpdef enum RowMode:
    # How the plain path shares work between neighbouring output rows
    ROWS_ONE = 0        # one row at a time (the one-row blocks)
    ROWS_FOUR = 1       # four rows sharing each shifted vector (ndconv_blk4_*)
    ROWS_ROLLING = 2    # rolling rows: column strips swept down a tile (ndconv_roll_*)


# The test hook of use_row_sharing: 0 runs the plain path one row at a time.
cdef int _row_sharing = 1


def use_row_sharing(bint on):
    """Let the direct path share work between neighbouring rows (the default)
    or run it one row at a time; returns the previous setting.  For tests
    that compare the row-sharing blocks with the same build's one-row blocks
    (not thread-safe: it applies to the whole process)."""
    global _row_sharing
    prev = bool(_row_sharing)
    _row_sharing = 1 if on else 0
    return prev


cdef inline RowMode _row_mode(Py_ssize_t lanes, Py_ssize_t quad_cols, Py_ssize_t n_lead,
                              Py_ssize_t nla, Py_ssize_t kb, Py_ssize_t m_last) noexcept nogil:
    """How the plain path shares work between output rows (rolling rows
    unless the weights are not finite and cval rows would be skipped, or a
    column chunk is narrower than a strip: then four rows).  ``lanes``:
    samples per vector (0: a dtype without these blocks); ``quad_cols``:
    columns of a four-row block; ``kb``: the kernel's size along the last
    leading axis."""
    cdef Py_ssize_t rw
    if not NDCONV_ROW_BLOCKS or not _row_sharing or lanes == 0 or nla == 0 or n_lead < 2 or kb < 2:
        return ROWS_ONE
    rw = ndconv_roll_width(kb, lanes)
    if n_lead == kb and rw > 0 and m_last >= rw:
        return ROWS_ROLLING
    return ROWS_FOUR if m_last >= quad_cols else ROWS_ONE


def row_mode(str kind, Py_ssize_t n_lead, Py_ssize_t kb, Py_ssize_t m_last):
    """``_row_mode`` for a dtype kind (``numpy.dtype.char``), for the cost
    model: a ``RowMode``."""
    if kind == "f":
        return RowMode(_row_mode(NDCONV_ROW_LANES_F32, NDCONV_QUAD_COLS_F32, n_lead, 1, kb, m_last))
    if kind == "d":
        return RowMode(_row_mode(NDCONV_ROW_LANES_F64, NDCONV_QUAD_COLS_F64, n_lead, 1, kb, m_last))
    return RowMode(_row_mode(0, 0, n_lead, 1, kb, m_last))


# Bytes of a single-threaded call's scratch kept on the stack (below that, no malloc).
DEF _STACK_SCRATCH = 8192


cdef inline void _nd_cline(ndconv_scratch* sc, Py_ssize_t gstride, num_t cval,
                           bint missing) noexcept nogil:
    """Fill the line of cval in a thread's scratch of ``_correlate_nd`` (with
    ``missing``, then a line of ones: the cval's presence)."""
    cdef num_t* cline = <num_t*>sc.part[3]
    cdef Py_ssize_t i
    for i in range(gstride):
        cline[i] = cval
    if missing:
        for i in range(gstride):
            cline[gstride + i] = 1


cdef inline void _nd_items(
        Py_ssize_t i0, Py_ssize_t i1, const ndconv_scratch* sc, int armed, bint roll, bint quad,
        Py_ssize_t th, Py_ssize_t tpp, Py_ssize_t rw,
        const num_t* x, num_t* out, const num_t* w, Py_ssize_t n_rows,
        Py_ssize_t n_chunks, Py_ssize_t m_last, Py_ssize_t o_pitch, Py_ssize_t klast, Py_ssize_t kb,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const AxisMap* maps, const Py_ssize_t* bounds,
        Py_ssize_t c0, Py_ssize_t c1, bint unit, num_t cval, bint skip_cval,
        Py_ssize_t x_span, Py_ssize_t gstride, Py_ssize_t tstride,
        const MissingSpec* ms, bint nt, bint prefetch) noexcept nogil:
    """Work items ``i0 <= item < i1`` of ``_correlate_nd`` with one thread's
    scratch ``sc`` (see there); stops early once SIGINT is seen."""
    cdef Py_ssize_t* idx = <Py_ssize_t*>sc.part[0]
    cdef Py_ssize_t* jdx = idx + nla
    cdef Py_ssize_t* offs = jdx + nla
    cdef Py_ssize_t* qoffs = offs + n_lead
    cdef Py_ssize_t* toffs = qoffs + 4 * n_lead
    cdef const num_t** ptrs = <const num_t**>sc.part[1]
    cdef const num_t** wrows = <const num_t**>sc.part[2]
    cdef const num_t* cline = <const num_t*>sc.part[3]
    cdef num_t* gbuf = <num_t*>sc.part[4]
    cdef Py_ssize_t item
    for item in range(i0, i1):
        if ndconv_stop_requested(armed):
            return
        if ms != NULL and quad:
            _do_quad_missing(item, n_rows, x, out, w, n_chunks, m_last, o_pitch, klast, n_lead, nla,
                             out_lead, k_lead, maps, bounds, c0, c1, unit, cval, skip_cval,
                             idx, jdx, offs, qoffs, ptrs, wrows, gbuf, gstride, cline,
                             <num_t*>sc.part[5], ms)
        elif ms != NULL:
            _do_item_missing(item, x, out, w, n_chunks, m_last, o_pitch, klast, n_lead, nla,
                             out_lead, k_lead, maps, bounds, c0, c1, unit, cval, skip_cval,
                             idx, jdx, offs, ptrs, wrows, gbuf, gstride, cline,
                             <num_t*>sc.part[5], ms)
        elif roll:
            _do_tile(item, th, tpp, rw, x, out, w, n_chunks, m_last, o_pitch, klast, kb, nla,
                     out_lead, k_lead, maps, bounds, unit, cval, x_span,
                     idx, jdx, offs, toffs, ptrs, gbuf, tstride, cline, nt, prefetch)
            if nt:
                ndconv_stream_fence()
        elif quad:
            _do_quad(item, n_rows, x, out, w, n_chunks, m_last, o_pitch, klast, n_lead, nla,
                     out_lead, k_lead, maps, bounds, c0, c1, unit,
                     cval, skip_cval, 4 if n_chunks == 1 and prefetch else 0, x_span,
                     (n_rows - 1) * o_pitch + m_last, idx, jdx, offs, qoffs, ptrs, wrows, gbuf,
                     gstride, cline)
        else:
            _do_item(item, x, out, w, n_chunks, m_last, o_pitch, klast, n_lead, nla,
                     out_lead, k_lead, maps, bounds, c0, c1, unit,
                     cval, skip_cval, 1 if n_chunks == 1 else 0, x_span,
                     (n_rows - 1) * o_pitch + m_last, idx, jdx, offs, ptrs, wrows, gbuf, gstride, cline)


cdef int _correlate_nd(
        const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t n_rows, Py_ssize_t m_last, Py_ssize_t o_pitch, Py_ssize_t klast,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const AxisMap* maps, const Py_ssize_t* bounds, Py_ssize_t n_chunks,
        Py_ssize_t max_chunk, Py_ssize_t c0, Py_ssize_t c1, bint unit,
        num_t cval, bint skip_cval, int n_threads, Py_ssize_t x_span, int armed,
        Py_ssize_t tile_rows, bint uncached, bint stream, const MissingSpec* ms=NULL,
        Py_ssize_t shared_bytes=0, Py_ssize_t alone_bytes=0,
        Py_ssize_t window_rows=0) noexcept nogil:
    """Returns 0 on success, -1 if a thread could not allocate its scratch.
    ``tile_rows``: output rows per tile of the rolling rows, at most (0: the
    build's ``ndconv_tile_rows``, at most ``window_rows`` if positive, which
    ``shared_bytes`` and ``alone_bytes`` may shorten: see ``Tables``);
    ``uncached``: the output is larger than the caches hold, so the rolling
    rows take short tiles for the smallest kernels; ``stream``: it is far
    larger, so they also store with non-temporal stores (where the build has
    them).
    With ``armed`` (see ``_arm``) SIGINT stops it between work items.  With
    ``ms``, the one-pass normalized correlation of x's NaN as missing
    samples (``_do_quad_missing`` where the plain path shares rows, else
    ``_do_item_missing``)."""
    cdef Py_ssize_t n_items = n_rows * n_chunks
    cdef Py_ssize_t gstride = max_chunk + klast - 1
    cdef Py_ssize_t i
    # rows in fours, sharing their loads (ndconv_blk4_*; AVX-512, AVX2 and NEON
    # builds, each with a block width its registers hold)
    cdef Py_ssize_t lanes = 0, quad_cols = 0
    if num_t is float:
        lanes, quad_cols = NDCONV_ROW_LANES_F32, NDCONV_QUAD_COLS_F32
    elif num_t is double:
        lanes, quad_cols = NDCONV_ROW_LANES_F64, NDCONV_QUAD_COLS_F64
    cdef RowMode mode = _row_mode(lanes, quad_cols, n_lead, nla, k_lead[nla - 1] if nla > 0 else 1,
                                  m_last)
    # missing samples: rolling rows have no split-row variant; four rows do
    cdef bint quad = mode == ROWS_FOUR or (ms != NULL and mode == ROWS_ROLLING
                                           and m_last >= quad_cols)
    if ms != NULL:
        mode = ROWS_FOUR if quad else ROWS_ONE
    # rolling rows (ndconv_roll_*; AVX-512, AVX2 and NEON builds): kernels whose leading taps
    # are 2-7 rows of one axis (every 2-D kernel of up to 7 rows; AVX2: up to 6).  Rows that
    # lie in a cval band are computed from a line of cval, not skipped: the
    # same sums when every weight is finite, else not used.
    cdef Py_ssize_t n_planes = 1, kb = k_lead[nla - 1] if nla > 0 else 1
    cdef Py_ssize_t rw = 0, th = tile_rows
    if th <= 0:
        th = ndconv_tile_rows(kb, klast, uncached)
        if 0 < window_rows < th:
            th = window_rows
    cdef Py_ssize_t limit
    cdef Py_ssize_t tpp = 0, tstride = _TILE_GATHER + klast - 1
    cdef bint roll = False, finite = True
    # the rolling rows and the four-row blocks prefetch (ahead of the
    # hardware) for outputs that leave L2, not for those its prefetchers serve
    # from there (AVX2, one thread, 128^2 and 256^2 3x3: 3-6 % less time
    # without; AVX-512 256^2 9x9 1-2 %)
    cdef bint prefetch = uncached or <double>n_rows * m_last * sizeof(num_t) >= _PREFETCH_BYTES
    if mode == ROWS_ROLLING:
        rw = ndconv_roll_width(kb, lanes)
        if num_t is float or num_t is double:
            if skip_cval:
                for i in range(n_lead * klast):
                    if not isfinite(w[i]):
                        finite = False
        roll = finite
        # every chunk must hold a strip (chunks are far wider unless the
        # kernel has thousands of rows)
        for i in range(n_chunks):
            if bounds[i + 1] - bounds[i] < rw:
                roll = False
        quad = not roll and m_last >= quad_cols
    if roll:
        n_planes = n_rows // out_lead[nla - 1]
        # each tile's source rows within L2 (a thread's share of it, where
        # threads share the last-level cache), so that strips find them there
        # and not in the shared cache
        limit = shared_bytes if n_threads > 1 else alone_bytes
        if tile_rows <= 0 and limit > 0:
            while th > 16 and (th + kb - 1) * (max_chunk + klast - 1) * <Py_ssize_t>sizeof(num_t) \
                    > limit:
                th //= 2
        while th > 16 and n_planes * ((out_lead[nla - 1] + th - 1) // th) * n_chunks < 4 * n_threads:
            th //= 2
        # a tile is one work item: small enough to stop soon after Ctrl-C
        while th > 16 and <double>th * max_chunk * n_lead * klast > _ITEM_WORK:
            th //= 2
        tpp = (out_lead[nla - 1] + th - 1) // th
        n_items = n_planes * tpp * n_chunks
        quad = False
    elif quad:
        n_items = ((n_rows + 3) // 4) * n_chunks
    cdef Py_ssize_t item
    cdef int failed = 0
    cdef double t0   # the parallel region's start (ndconv_region.h)
    cdef int* failp = &failed   # shared: plain locals are thread-private in a parallel block
    cdef ndconv_scratch sc
    cdef ndconv_scratch_spec spec
    cdef char stack_scratch[_STACK_SCRATCH]
    # with unit stride only the border segments (at most one chunk wide) gather
    cdef bint need_gather = (not unit) or c0 > 0 or c1 < m_last or roll
    if n_items <= 0:
        return 0
    if ms != NULL:
        # idx, jdx, offs, qoffs; split rows (values, presence) of every tap (of
        # a quad's sources: at most 4 n_lead), the cval line and its presence,
        # a line of weights per row
        spec = ndconv_scratch_parts(
            (2 * nla + 5 * n_lead) * sizeof(Py_ssize_t), 8 * n_lead * sizeof(num_t*),
            (n_lead + 1) * sizeof(num_t*), 2 * gstride * sizeof(num_t),
            (8 if quad else 2) * n_lead * gstride * sizeof(num_t),
            (4 if quad else 1) * gstride * sizeof(num_t), 0)
    else:
        # per-thread scratch: O(taps x chunk), independent of the input size.
        # idx, jdx, offs, qoffs (a quad's four rows) and toffs (a tile's th + kb - 1
        # source rows); a quad's source rows are (kb + 3) per group of kb taps, at
        # most 4 * n_lead, and so are the rows a quad gathers
        spec = ndconv_scratch_parts(
            (2 * nla + 5 * n_lead + th + kb) * sizeof(Py_ssize_t),
            (4 * n_lead + th + kb) * sizeof(num_t*), (n_lead + 1) * sizeof(num_t*),
            gstride * sizeof(num_t),
            (((th + kb - 1) * tstride if roll else (4 * n_lead if quad else n_lead) * gstride)
             if need_gather else 1) * sizeof(num_t), 0, 0)
    if n_threads < 1:
        n_threads = 1
    if n_threads > n_items:
        n_threads = <int>n_items
    # the rolling rows read the weights tap-major (ndconv_roll_weights_*),
    # and only they read w on this path
    cdef num_t* wt = NULL
    if roll:
        wt = <num_t*>malloc(kb * klast * sizeof(num_t))
        if wt == NULL:
            return -1
        if num_t is float:
            ndconv_roll_weights_f32(w, kb, klast, wt)
        elif num_t is double:
            ndconv_roll_weights_f64(w, kb, klast, wt)
        w = wt
    if n_threads == 1:
        # no parallel region: entering one costs as much as a 16-sample call's
        # arithmetic, and a small call's scratch fits on the stack
        sc = ndconv_scratch_alloc_in(&spec, failp, stack_scratch, _STACK_SCRATCH)
        if sc.block != NULL:
            _nd_cline(&sc, gstride, cval, ms != NULL)
            _nd_items(0, n_items, &sc, armed, roll, quad, th, tpp, rw, x, out, w, n_rows,
                      n_chunks, m_last, o_pitch, klast, kb, n_lead, nla, out_lead, k_lead, maps, bounds,
                      c0, c1, unit, cval, skip_cval, x_span, gstride, tstride, ms, stream,
                      prefetch)
        ndconv_scratch_free(&sc)
        free(wt)
        return -1 if failed else 0
    t0 = ndconv_region_begin()
    with parallel(num_threads=n_threads):
        sc = ndconv_scratch_alloc(&spec, failp)
        if sc.block != NULL:
            _nd_cline(&sc, gstride, cval, ms != NULL)
        ndconv_region_enter(t0, threadid())
        # guided: runs of neighbouring rows (source rows still in cache), and
        # fewer grabs of the shared counter than one row at a time, which
        # cost time at 2 threads on 3x3 rows of a few hundred nanoseconds.
        # A thread's next item is then, as a rule, the next one, whatever the
        # number of threads: the rows a quad or a row prefetches for it are
        # the next quad's (4 rows on) or the next row's (1 row on), where
        # items dealt round the threads one by one would be n_threads on.
        for item in prange(n_items, schedule="guided", chunksize=1):
            if sc.block != NULL:
                _nd_items(item, item + 1, &sc, armed, roll, quad, th, tpp, rw, x, out, w, n_rows,
                          n_chunks, m_last, o_pitch, klast, kb, n_lead, nla, out_lead, k_lead, maps, bounds,
                          c0, c1, unit, cval, skip_cval, x_span, gstride, tstride, ms, stream,
                          prefetch)
        ndconv_scratch_free(&sc)
    ndconv_region_end()
    free(wt)
    return -1 if failed else 0


cdef inline void _merged_item(
        Py_ssize_t item, const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t nd, Py_ssize_t g0, Py_ssize_t R, Py_ssize_t n_slabs,
        const Py_ssize_t* m, const Py_ssize_t* k, const Py_ssize_t* L, const AxisMap* maps,
        const Py_ssize_t* bshape, const Py_ssize_t* bstr, const Py_ssize_t* ostr,
        Py_ssize_t n_lead, const Py_ssize_t* toff, num_t cval,
        Py_ssize_t* pos, num_t* buf, num_t* tmp, const num_t** ptrs, const num_t** wrows) noexcept nogil:
    """One tile of the merged path: outer output index x slab of axis g0.

    1. Extend the tile's input window into ``buf`` (C order, shape ``bshape``
       with axis g0 cut to the slab): axes before g0 hold only their kernel
       extent, axes after g0 their whole extended length.
    2. Correlate: in ``buf`` the merged axes g0.. are one row, each leading tap a
       fixed shift ``toff`` of it, so one register-blocked pass computes all
       ``r * inner`` positions (those past ``m`` on axes after g0 are dropped).
    3. Copy the real positions into ``out``.
    """
    cdef Py_ssize_t q = item % n_slabs, rem = item // n_slabs
    cdef Py_ssize_t r0 = q * R, r, a, row, n_rows, t, off, e, o_base = 0, inner, span, first
    cdef Py_ssize_t last = nd - 1
    r = m[g0] - r0
    if r > R:
        r = R
    if r <= 0:
        return
    # outer output index (axes before g0) -> pos[a]; its output offset
    for a in range(g0 - 1, -1, -1):
        pos[a] = rem % m[a]
        rem = rem // m[a]
        o_base += pos[a] * ostr[a]
    # 1. extension, one buffer row (all axes but the last) at a time, walked
    # with an odometer: per row only the axes that changed are re-mapped
    cdef Py_ssize_t* cur = pos + nd
    cdef Py_ssize_t* ext = pos + 2 * nd
    cdef Py_ssize_t* pre = pos + 3 * nd     # source offset of axes 0..a (-1: cval)
    cdef Py_ssize_t* pe = pos + 4 * nd      # buffer offset of axes 0..a
    n_rows = 1
    for a in range(last):
        ext[a] = (r + k[g0] - 1) if a == g0 else bshape[a]
        n_rows *= ext[a]
        cur[a] = 0
    if g0 == last:
        span, first = r + k[last] - 1, r0
    else:
        span, first = L[last], 0
    a = 0
    for row in range(n_rows):
        # re-map axes a.. (those the odometer moved)
        while a < last:
            t = cur[a] + (pos[a] if a < g0 else (r0 if a == g0 else 0))
            off = pre[a - 1] if a > 0 else 0
            e = pe[a - 1] if a > 0 else 0
            if off >= 0:
                t = _offset(maps + a, t)
                off = -1 if t < 0 else off + t
            pre[a] = off
            pe[a] = e + cur[a] * bstr[a]
            a += 1
        off = pre[last - 1] if last > 0 else 0
        e = pe[last - 1] if last > 0 else 0
        if off < 0:
            for t in range(span):
                buf[e + t] = cval
        else:
            _gather(buf + e, x + off, maps + last, first, span, cval)
        a = last - 1
        while a >= 0:
            cur[a] += 1
            if cur[a] < ext[a]:
                break
            cur[a] = 0
            a -= 1
        if a < 0:
            a = 0
    # 2. every position of the merged row
    inner = 1 if g0 == last else bstr[g0]
    for a in range(n_lead):
        ptrs[a] = buf + toff[a]
        wrows[a] = w + a * k[last]
    _block_sum(tmp, r * inner, ptrs, wrows, n_lead, k[last])
    # 3. the real positions: rows of m[last] samples, inner-grid stride L
    if g0 == last:
        for t in range(r):
            out[o_base + r0 + t] = tmp[t]
        return
    n_rows = r
    for a in range(g0 + 1, last):
        n_rows *= m[a]
    for row in range(n_rows):
        rem = row
        e = 0
        off = o_base
        for a in range(last - 1, g0, -1):
            t = rem % m[a]
            rem = rem // m[a]
            e += t * bstr[a]
            off += t * ostr[a]
        e += rem * inner
        off += (r0 + rem) * ostr[g0]
        for t in range(m[last]):
            out[off + t] = tmp[e + t]


cdef int _correlate_merged(
        const num_t* x, num_t* out, const num_t* w, Py_ssize_t nd, Py_ssize_t g0, Py_ssize_t R,
        const Py_ssize_t* m, const Py_ssize_t* k, const Py_ssize_t* L, const AxisMap* maps,
        num_t cval, int n_threads, int armed) noexcept nogil:
    """Returns 0 on success, -1 if scratch could not be allocated.  With
    ``armed`` (see ``_arm``) SIGINT stops it between tiles."""
    cdef Py_ssize_t a, lt, n_outer = 1, n_slabs, n_items, n_buf, n_tmp, reach, n_lead = 1, item
    cdef Py_ssize_t last = nd - 1
    cdef Py_ssize_t bshape[64]
    cdef Py_ssize_t bstr[64]
    cdef Py_ssize_t ostr[64]
    cdef Py_ssize_t* toff
    cdef Py_ssize_t* pos
    cdef num_t* buf
    cdef num_t* tmp
    cdef const num_t** ptrs
    cdef const num_t** wrows
    cdef int failed = 0
    cdef double t0   # the parallel region's start (ndconv_region.h)
    cdef int* failp = &failed   # shared: plain locals are thread-private in a parallel block
    cdef ndconv_scratch sc
    cdef ndconv_scratch_spec spec
    for a in range(nd):
        bshape[a] = k[a] if a < g0 else ((R + k[a] - 1) if a == g0 else L[a])
    bstr[last] = 1
    ostr[last] = 1
    for a in range(last - 1, -1, -1):
        bstr[a] = bstr[a + 1] * bshape[a + 1]
        ostr[a] = ostr[a + 1] * m[a + 1]
    for a in range(g0):
        n_outer *= m[a]
    for a in range(last):
        n_lead *= k[a]
    n_slabs = (m[g0] + R - 1) // R
    n_items = n_outer * n_slabs
    if n_items <= 0:
        return 0
    # leading-tap shifts in the buffer (C order over the kernel's leading axes)
    toff = <Py_ssize_t*>malloc(n_lead * sizeof(Py_ssize_t))
    if toff == NULL:
        return -1
    for lt in range(n_lead):
        item = lt
        toff[lt] = 0
        for a in range(last - 1, -1, -1):
            toff[lt] += (item % k[a]) * bstr[a]
            item = item // k[a]
    # the furthest any position reads: the last one plus the largest shift
    n_tmp = R * (1 if g0 == last else bstr[g0])
    reach = n_tmp - 1 + k[last] - 1
    for a in range(last):
        reach += (k[a] - 1) * bstr[a]
    n_buf = bstr[0] * bshape[0]
    if reach + 1 > n_buf:
        n_buf = reach + 1
    if n_threads > n_items:
        n_threads = <int>n_items
    if n_threads < 1:
        n_threads = 1
    # per thread: positions, the tile's extended input (zeroed: positions that
    # are dropped may read parts no tile wrote), its results, tap pointers
    spec = ndconv_scratch_parts(5 * nd * sizeof(Py_ssize_t), n_buf * sizeof(num_t),
                                n_tmp * sizeof(num_t), n_lead * sizeof(num_t*),
                                n_lead * sizeof(num_t*), 0, 1u << 1)
    pos = NULL   # set per thread below
    buf = tmp = NULL
    ptrs = wrows = NULL
    t0 = ndconv_region_begin()
    with parallel(num_threads=n_threads):
        sc = ndconv_scratch_alloc(&spec, failp)
        pos = <Py_ssize_t*>sc.part[0]
        buf = <num_t*>sc.part[1]
        tmp = <num_t*>sc.part[2]
        ptrs = <const num_t**>sc.part[3]
        wrows = <const num_t**>sc.part[4]
        ndconv_region_enter(t0, threadid())
        for item in prange(n_items, schedule="dynamic", chunksize=1):
            if sc.block != NULL and not ndconv_stop_requested(armed):
                _merged_item(item, x, out, w, nd, g0, R, n_slabs, m, k, L, maps, bshape, bstr,
                             ostr, n_lead, toff, cval, pos, buf, tmp, ptrs, wrows)
        ndconv_scratch_free(&sc)
    ndconv_region_end()
    free(toff)
    return -1 if failed else 0


cdef class Tables:
    """The index tables of one direct problem, built once by ``ndconv._plan.direct``
    and read by every call of that geometry (the entry points re-check them).

    ``out_shape`` and ``k_shape`` in the kernel's axis order; row ``a`` of
    ``axis_params`` is ``(lo, hi, base, stride, band_start)`` of axis ``a``'s map
    (see ``AxisMap``); ``bands`` holds the border-band offsets of every axis.
    ``bounds`` are the column-chunk boundaries of the last axis (each chunk at
    most ``max_chunk`` wide); output columns ``[c0, c1)`` read only interior
    samples of the last axis, and ``unit`` says that axis has unit stride, so
    those columns read ``x`` in place.  ``tile_rows``: output rows per tile of
    the rolling rows, at most (0: the build's choice, shortened in a call on
    several threads until a tile's source rows take at most ``shared_bytes``,
    in a call on one thread until they take at most ``alone_bytes``:
    ``tuning.Settings.shared_tile_bytes`` and ``alone_tile_bytes``; 0:
    never); ``window_rows``: at most this many rows per tile of the build's
    choice (before that shortening), for an input whose rows are parts of
    longer ones (``tuning.Settings.window_tile_rows``; 0: no limit); ``uncached`` and
    ``stream``: the output is larger than the caches hold, or far larger
    (``_correlate_nd``'s ``uncached`` and ``stream``).
    """
    cdef const Py_ssize_t[::1] out_shape
    cdef const Py_ssize_t[::1] k_shape
    cdef const Py_ssize_t[:, ::1] axis_params
    cdef const Py_ssize_t[::1] bands
    cdef const Py_ssize_t[::1] bounds
    cdef readonly Py_ssize_t max_chunk, c0, c1, tile_rows, shared_bytes, alone_bytes, window_rows
    cdef readonly bint unit, uncached, stream

    def __init__(self, const Py_ssize_t[::1] out_shape, const Py_ssize_t[::1] k_shape,
                 const Py_ssize_t[:, ::1] axis_params, const Py_ssize_t[::1] bands,
                 const Py_ssize_t[::1] bounds, Py_ssize_t max_chunk, Py_ssize_t c0, Py_ssize_t c1,
                 bint unit, Py_ssize_t tile_rows=0, bint uncached=False, bint stream=False,
                 Py_ssize_t shared_bytes=0, Py_ssize_t alone_bytes=0, Py_ssize_t window_rows=0):
        if not 0 <= tile_rows <= _MAX_TILE_ROWS:
            raise ValueError("tile_rows must be 0 (the build's choice) or 1 to %d, got %d"
                             % (_MAX_TILE_ROWS, tile_rows))
        if not 0 <= window_rows <= _MAX_TILE_ROWS:
            raise ValueError("window_rows must be 0 (no limit) or 1 to %d, got %d"
                             % (_MAX_TILE_ROWS, window_rows))
        self.out_shape, self.k_shape, self.axis_params = out_shape, k_shape, axis_params
        self.bands, self.bounds = bands, bounds
        self.max_chunk, self.c0, self.c1, self.unit = max_chunk, c0, c1, unit
        self.tile_rows, self.uncached, self.stream = tile_rows, uncached, stream
        self.shared_bytes = shared_bytes if shared_bytes > 0 else 0
        self.alone_bytes = alone_bytes if alone_bytes > 0 else 0
        self.window_rows = window_rows


def correlate_merged(Tables t, const num_t[::1] x, num_t[::1] out, const num_t[::1] w,
                     Py_ssize_t g0, Py_ssize_t tile_rows, num_t cval, int n_threads):
    """``correlate_nd`` for short rows: axes ``g0..`` are fused into one row.

    Same arguments as ``correlate_nd`` (the tables' chunking unused), plus the
    first fused axis ``g0`` and the number of output rows of axis ``g0`` per tile.
    Each thread extends one tile of the input at a time into its own scratch
    (size ``prod(k[:g0]) * (tile_rows + k[g0] - 1) * prod(m[g0+1:] + k[g0+1:] - 1)``),
    so the extra memory is O(threads x tile), and computes it there.
    """
    cdef const Py_ssize_t[::1] out_shape = t.out_shape
    cdef const Py_ssize_t[::1] k_shape = t.k_shape
    cdef const Py_ssize_t[:, ::1] axis_params = t.axis_params
    cdef const Py_ssize_t[::1] bands = t.bands
    cdef Py_ssize_t nd = out_shape.shape[0], a, n_out = 1, n_k = 1
    cdef Py_ssize_t lengths[64]
    cdef AxisMap maps[64]
    cdef int rc, armed
    if nd < 1 or nd > 64 or k_shape.shape[0] != nd:
        raise ValueError("inconsistent number of dimensions")
    if not (0 <= g0 < nd) or tile_rows < 1:
        raise ValueError("invalid merge geometry")
    for a in range(nd):
        if out_shape[a] < 0 or k_shape[a] < 1:
            raise ValueError("invalid output or kernel shape")
        n_out *= out_shape[a]
        n_k *= k_shape[a]
        lengths[a] = out_shape[a] + k_shape[a] - 1
    _load_maps(maps, nd, <Py_ssize_t[:nd]>lengths, axis_params, bands, x.shape[0])
    if out.shape[0] != n_out or w.shape[0] != n_k:
        raise ValueError("output or kernel size mismatch")
    if n_out == 0:
        return
    armed = _arm(<double>n_out * n_k)
    while True:
        with nogil:
            rc = _correlate_merged(&x[0], &out[0], &w[0], nd, g0, tile_rows, &out_shape[0],
                                   &k_shape[0], lengths, maps, cval, n_threads, armed)
        if not _interrupted(armed):
            break
        armed = 0
    if rc != 0:
        raise MemoryError("ndconv: could not allocate per-thread scratch")


cdef void _load_maps(AxisMap* maps, Py_ssize_t nd, const Py_ssize_t[::1] lengths,
                     const Py_ssize_t[:, ::1] axis_params, const Py_ssize_t[::1] bands,
                     Py_ssize_t span) except *:
    """Fill ``maps`` from the tables, checking that every offset they can give
    lies in ``[-1, span)`` and that the offsets of all axes together stay below
    ``span``: what makes the kernels memory-safe whatever Python passed."""
    cdef Py_ssize_t a, t, L, lo, hi, nb, hi_off, reach = 0
    if axis_params.shape[0] != nd or axis_params.shape[1] != 5:
        raise ValueError("inconsistent number of dimensions")
    for a in range(nd):
        L = lengths[a]
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


cdef inline bint _all_finite(const num_t* w, Py_ssize_t n) noexcept nogil:
    """False if a weight is inf or nan (integer weights never are)."""
    cdef Py_ssize_t i
    if num_t is float or num_t is double:
        for i in range(n):
            if not isfinite(w[i]):
                return False
    elif num_t is cython.floatcomplex or num_t is cython.doublecomplex:
        for i in range(n):
            if not (isfinite(w[i].real) and isfinite(w[i].imag)):
                return False
    return True


def region_times():
    """``(since_end, ready)`` of this build's last parallel region, in seconds:
    how long ago it ended (-1.0: none has run) and how late its latest worker
    was ready to work (``src/ndconv_region.h``; read by ``ndconv._plan.threads``)."""
    cdef double since_end, ready
    ndconv_region_times(&since_end, &ready)
    return since_end, ready


def widest_block(str kind):
    """Outputs per register block of the widest kernel for a dtype kind
    (``numpy.dtype.char``): segments of a row narrower than this run the
    narrower blocks, which have too few independent FMA chains to hide latency."""
    if kind == "f":
        return 128 if NDCONV_WIDE_BLOCKS else 64
    if kind == "d":
        return 64 if NDCONV_WIDE_BLOCKS else 32
    return 32


def correlate_nd(Tables t, const num_t[::1] x, num_t[::1] out, const num_t[::1] w,
                 num_t cval, bint skip_cval, int n_threads, missing=None, Py_ssize_t pitch=-1):
    """Valid correlation of an index-extended input; see the comment at the top.

    The tables ``t`` and the arrays are prepared by ``ndconv._plan.direct``; this
    entry point re-checks everything that could make the kernel read or write
    out of bounds, so it is memory-safe on its own.  ``x`` is the flat span of
    the input from its lowest address, ``out`` the C-contiguous output (in the
    kernel's axis order), ``w`` the C-contiguous kernel.  With ``pitch`` (at
    least the output's last length), output row ``r`` (the leading axes
    flattened) starts ``r * pitch`` elements into ``out``, which spans the
    first row's start to the last row's end; nothing between rows is written
    (a part of a larger array's rows, written in place).  ``skip_cval`` (for
    ``cval == 0``) lets rows lying wholly in a band of cval be skipped; it is
    ignored when a weight is inf or nan.

    ``missing=(ksum, limit, strict, own_lead, own_last)`` (float and double
    only, finite weights):
    normalized correlation in one pass, NaN samples (and a NaN cval) missing;
    ``skip_cval`` must then say whether cval is NaN.  Each output is
    ``num * (ksum / den)``, num the correlation of x with NaN as 0, den that
    of its presence, NaN where the signed weight (``den``, or ``-den`` for a
    negative ``ksum``) is below ``limit`` (``strict``) or at most ``limit``:
    ``_plan.missing.finish``, bit for bit; and NaN where the sample that
    leading tap ``own_lead`` (-1: none) and column tap ``own_last`` read is
    missing (``preserve_nan``: each output's own input sample).
    """
    cdef const Py_ssize_t[::1] out_shape = t.out_shape
    cdef const Py_ssize_t[::1] k_shape = t.k_shape
    cdef const Py_ssize_t[:, ::1] axis_params = t.axis_params
    cdef const Py_ssize_t[::1] bands = t.bands
    cdef const Py_ssize_t[::1] bounds = t.bounds
    cdef Py_ssize_t max_chunk = t.max_chunk, c0 = t.c0, c1 = t.c1
    cdef bint unit = t.unit
    cdef Py_ssize_t nd = out_shape.shape[0]
    cdef Py_ssize_t a, n_out = 1, n_k = 1, n_rows = 1, n_lead = 1
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t span = x.shape[0]
    cdef Py_ssize_t lengths[64]
    cdef AxisMap maps[64]
    cdef int rc, armed
    if nd < 1 or nd > 64 or k_shape.shape[0] != nd:
        raise ValueError("inconsistent number of dimensions")
    for a in range(nd):
        if out_shape[a] < 0 or k_shape[a] < 1:
            raise ValueError("invalid output or kernel shape")
        n_out *= out_shape[a]
        n_k *= k_shape[a]
        if a < nd - 1:
            n_rows *= out_shape[a]
            n_lead *= k_shape[a]
        lengths[a] = out_shape[a] + k_shape[a] - 1
    _load_maps(maps, nd, <Py_ssize_t[:nd]>lengths, axis_params, bands, span)
    cdef Py_ssize_t need = n_out
    if pitch < 0:
        pitch = out_shape[nd - 1]
    elif pitch < out_shape[nd - 1]:
        raise ValueError("output rows overlap (pitch below the row length)")
    elif n_out > 0:
        if n_rows > 1 and pitch > (PY_SSIZE_T_MAX - out_shape[nd - 1]) // (n_rows - 1):
            raise ValueError("output or kernel size mismatch")
        need = (n_rows - 1) * pitch + out_shape[nd - 1]
    if out.shape[0] != need or w.shape[0] != n_k:
        raise ValueError("output or kernel size mismatch")
    if n_out == 0:
        return
    if (<size_t>&x[0]) % sizeof(num_t) != 0:
        raise ValueError("x must be aligned to its item size")
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
    # skipping a band of cval 0 is exact only if no weight is inf or nan (0 * inf is nan)
    cdef MissingSpec ms
    cdef const MissingSpec* msp = NULL
    if missing is not None:
        if not (num_t is float or num_t is double):
            raise TypeError("the one-pass missing-sample kernel is for float and double")
        if not _all_finite(&w[0], n_k):
            raise ValueError("the one-pass missing-sample kernel needs finite weights")
        ms.ksum, ms.limit, ms.strict, ms.own_lead, ms.own_last = missing
        ms.neg = ms.ksum < 0
        if ms.own_lead >= n_lead or ms.own_last < 0 or ms.own_last >= k_shape[nd - 1]:
            raise ValueError("invalid own-sample tap")
        if ms.own_lead < 0:
            ms.own_lead = -1
        msp = &ms
    elif skip_cval and not _all_finite(&w[0], n_k):
        skip_cval = False
    armed = _arm(<double>n_out * n_k * (2 if missing is not None else 1))
    while True:
        with nogil:
            rc = _correlate_nd(&x[0], &out[0], &w[0], n_rows, out_shape[nd - 1], pitch,
                               k_shape[nd - 1],
                               n_lead, nd - 1, &out_shape[0], &k_shape[0], maps, &bounds[0],
                               n_chunks, max_chunk, c0, c1, unit, cval, skip_cval, n_threads, span,
                               armed, t.tile_rows, t.uncached, t.stream, msp, t.shared_bytes,
                               t.alone_bytes, t.window_rows)
        if not _interrupted(armed):
            break
        armed = 0
    if rc != 0:
        raise MemoryError("ndconv: could not allocate per-thread scratch")


# Bytes of kernel a planned call copies on the stack; larger kernels are copied
# into the heap.
DEF _KERNEL_STACK = 2048


cdef int _run_flat(const num_t* x, num_t* out, num_t* w, num_t cval, FlatCall c) except -1:
    """``correlate_nd``'s kernel call for a ``FlatCall``: its checks that depend on the
    weights, then the loops (without the GIL)."""
    cdef bint skip_cval = c.skip_cval and _all_finite(w, c.n_k)
    cdef int rc, armed = _arm(<double>c.n_out * c.n_k)
    while True:
        with nogil:
            rc = _correlate_nd(x, out, w, c.n_rows, c.out_shape[c.nd - 1], c.out_shape[c.nd - 1],
                               c.k_shape[c.nd - 1],
                               c.n_lead, c.nd - 1, &c.out_shape[0], &c.k_shape[0], c.maps,
                               &c.bounds[0], c.n_chunks, c.max_chunk, c.c0, c.c1, c.unit, cval,
                               skip_cval, 1, c.span, armed, c.tables.tile_rows, c.tables.uncached,
                               c.tables.stream, NULL, 0, c.tables.alone_bytes,
                               c.tables.window_rows)
        if not _interrupted(armed):
            break
        armed = 0
    if rc != 0:
        raise MemoryError("ndconv: could not allocate per-thread scratch")
    return 0


cdef class FlatCall:
    """A planned single-threaded direct call on a C-contiguous input read in
    place (``ndconv._api``'s plans): ``run(x, k)`` is ``correlate_nd`` with
    the tables, the output and the kernel's copy made here, for calls so small
    that the numpy calls preparing them would cost more than the arithmetic.

    Built once per call geometry from ``Tables`` (checked against an input of
    ``span`` elements, as ``correlate_nd`` checks them) and the kernel's
    layout: ``k_order[i]`` is the axis of the given kernel that is axis ``i`` of
    the kernel the loops read, reversed throughout with ``flip``, conjugated
    with ``conj``.  ``kind`` is the compute dtype's (``numpy.dtype.kind`` +
    itemsize: f4, f8, c8, c16, i8); ``run`` takes arrays of that dtype only (the
    plan's key says so), and re-checks the sizes that keep it in bounds.  The
    output is ``empty(shape, dtype)``, or ``place(address of x)`` where given
    (a large output placed apart from its input: ``ndconv._plan.placement``).
    """
    cdef Tables tables          # keeps the arrays the maps point into alive
    cdef AxisMap* maps
    cdef const Py_ssize_t[::1] out_shape
    cdef const Py_ssize_t[::1] k_shape
    cdef const Py_ssize_t[::1] bounds
    cdef Py_ssize_t nd, span, n_out, n_k, n_rows, n_lead, n_chunks, max_chunk, c0, c1
    cdef Py_ssize_t itemsize, k_nd
    cdef Py_ssize_t k_axis[64]
    cdef bint unit, skip_cval, flip
    cdef int kind, conj
    cdef double complex cval_z
    cdef long long cval_q
    cdef object empty, place, shape, dtype

    def __init__(self, Tables t, Py_ssize_t span, str kind, cval, bint skip_cval,
                 tuple k_order, bint flip, bint conj, tuple shape, dtype, empty, place=None):
        cdef Py_ssize_t a, lengths[64]
        self.tables = t
        self.out_shape, self.k_shape, self.bounds = t.out_shape, t.k_shape, t.bounds
        self.max_chunk, self.c0, self.c1, self.unit = t.max_chunk, t.c0, t.c1, t.unit
        self.nd = self.out_shape.shape[0]
        self.span = span
        kinds = ("f4", "f8", "c8", "c16", "i8")
        if kind not in kinds:
            raise ValueError("unsupported dtype %r" % kind)
        self.kind = kinds.index(kind)
        self.itemsize = (4, 8, 8, 16, 8)[self.kind]
        self.conj = ((0, 0, 4, 8, 0)[self.kind]) if conj else 0
        if self.kind == 4:
            self.cval_q = cval
        else:
            self.cval_z = cval
        self.skip_cval, self.flip = skip_cval, flip
        self.shape, self.dtype, self.empty, self.place = shape, dtype, empty, place
        if self.nd < 1 or self.nd > 64 or self.k_shape.shape[0] != self.nd:
            raise ValueError("inconsistent number of dimensions")
        self.n_out = self.n_k = self.n_rows = self.n_lead = 1
        for a in range(self.nd):
            if self.out_shape[a] < 1 or self.k_shape[a] < 1:
                raise ValueError("invalid output or kernel shape")
            self.n_out *= self.out_shape[a]
            self.n_k *= self.k_shape[a]
            if a < self.nd - 1:
                self.n_rows *= self.out_shape[a]
                self.n_lead *= self.k_shape[a]
            lengths[a] = self.out_shape[a] + self.k_shape[a] - 1
        self.maps = <AxisMap*>malloc(self.nd * sizeof(AxisMap))
        if self.maps == NULL:
            raise MemoryError()
        _load_maps(self.maps, self.nd, <Py_ssize_t[:self.nd]>lengths, t.axis_params, t.bands, span)
        self.n_chunks = self.bounds.shape[0] - 1
        if (self.n_chunks < 1 or self.bounds[0] != 0
                or self.bounds[self.n_chunks] != self.out_shape[self.nd - 1]):
            raise ValueError("invalid chunk bounds")
        for a in range(self.n_chunks):
            if (self.bounds[a + 1] < self.bounds[a]
                    or self.bounds[a + 1] - self.bounds[a] > self.max_chunk):
                raise ValueError("invalid chunk bounds")
        if not (0 <= self.c0 <= self.c1 <= self.out_shape[self.nd - 1]):
            raise ValueError("invalid interior columns")
        a = self.nd - 1
        if self.unit and self.c1 > self.c0 and not (
                self.maps[a].stride == 1 and self.c0 >= self.maps[a].lo
                and self.c1 + self.k_shape[a] - 1 <= self.maps[a].hi):
            raise ValueError("invalid interior columns")
        # the given kernel's axes, in the order the loops read them
        self.k_nd = len(k_order)
        if self.k_nd < 1 or self.k_nd > 64 or sorted(k_order) != list(range(self.k_nd)):
            raise ValueError("invalid kernel axis order")
        for a in range(self.k_nd):
            self.k_axis[a] = k_order[a]

    def __dealloc__(self):
        free(self.maps)

    def run(self, x, k, given=None):
        """The result for ``x`` (C-contiguous, aligned, ``span`` elements) and the
        kernel ``k`` as given (any strides, the planned shape): written into
        ``given`` (a C-contiguous, writable array of the planned size and
        dtype; returned) where it is not None, else into a new array.  A
        ``given`` overlapping ``x`` gets the result through a new array (the
        kernel reads ``x`` while it writes)."""
        cdef Py_buffer xb, kb, ob
        cdef bint through = False
        cdef Py_ssize_t a, ax, size = 1
        cdef Py_ssize_t step[64]
        cdef Py_ssize_t dims[64]
        cdef const char* src
        cdef char stack_w[_KERNEL_STACK]
        cdef char* w = stack_w
        PyObject_GetBuffer(x, &xb, PyBUF_SIMPLE)   # raises unless C-contiguous
        try:
            if xb.itemsize != self.itemsize or xb.len != self.span * self.itemsize:
                raise ValueError("x does not have the planned size")
            if (<size_t>xb.buf) % <size_t>self.itemsize != 0:
                raise ValueError("x must be aligned to its item size")
            PyObject_GetBuffer(k, &kb, PyBUF_STRIDES)
            try:
                if kb.ndim != self.k_nd or kb.itemsize != self.itemsize:
                    raise ValueError("k does not have the planned shape")
                src = <const char*>kb.buf
                for a in range(self.k_nd):
                    ax = self.k_axis[a]
                    dims[a] = kb.shape[ax]
                    size *= dims[a]
                    step[a] = kb.strides[ax]
                    if self.flip:
                        src += (dims[a] - 1) * step[a]
                        step[a] = -step[a]
                if size != self.n_k:
                    raise ValueError("k does not have the planned shape")
                if self.n_k * self.itemsize > _KERNEL_STACK:
                    w = <char*>malloc(self.n_k * self.itemsize)
                    if w == NULL:
                        raise MemoryError()
                try:
                    ndconv_copy_kernel(w, src, <int>self.k_nd, dims, step, self.itemsize, self.conj)
                    out = given
                    if given is not None:
                        PyObject_GetBuffer(given, &ob, PyBUF_SIMPLE | PyBUF_WRITABLE)
                        through = (<char*>ob.buf < <char*>xb.buf + xb.len
                                   and <char*>xb.buf < <char*>ob.buf + ob.len)
                        PyBuffer_Release(&ob)
                    if given is None or through:
                        if self.place is None:
                            out = self.empty(self.shape, self.dtype)
                        else:
                            out = self.place(<size_t>xb.buf)
                    PyObject_GetBuffer(out, &ob, PyBUF_SIMPLE | PyBUF_WRITABLE)
                    try:
                        if ob.len != self.n_out * self.itemsize:
                            raise ValueError("output size mismatch")
                        if self.kind == 0:
                            _run_flat(<const float*>xb.buf, <float*>ob.buf, <float*>w,
                                      <float>self.cval_z.real, self)
                        elif self.kind == 1:
                            _run_flat(<const double*>xb.buf, <double*>ob.buf, <double*>w,
                                      self.cval_z.real, self)
                        elif self.kind == 2:
                            _run_flat(<const float complex*>xb.buf, <float complex*>ob.buf,
                                      <float complex*>w, <float complex>self.cval_z, self)
                        elif self.kind == 3:
                            _run_flat(<const double complex*>xb.buf, <double complex*>ob.buf,
                                      <double complex*>w, self.cval_z, self)
                        else:
                            _run_flat(<const long long*>xb.buf, <long long*>ob.buf,
                                      <long long*>w, self.cval_q, self)
                    finally:
                        PyBuffer_Release(&ob)
                finally:
                    if w != stack_w:
                        free(w)
            finally:
                PyBuffer_Release(&kb)
        finally:
            PyBuffer_Release(&xb)
        if through:
            given[...] = out
            return given
        return out


# The separable path's fused passes (src/ndconv_sep.h): the vector builds only.
ctypedef fused sep_t:
    float
    double


cdef inline void _sep_fill(sep_t* p, Py_ssize_t n, sep_t v) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        p[i] = v


cdef inline void _sep_item(Py_ssize_t item, Py_ssize_t n_chunks, Py_ssize_t chunk,
                           Py_ssize_t tile_rows,
                           Py_ssize_t m0, Py_ssize_t m1, const sep_t* x, sep_t* out,
                           const Py_ssize_t* vrow, const Py_ssize_t* hcol, Py_ssize_t lin_lo,
                           Py_ssize_t lin_hi, const sep_t* wv, Py_ssize_t kv, const sep_t* wh,
                           Py_ssize_t kh, sep_t cval, sep_t* ring, Py_ssize_t rstr, sep_t* g,
                           const sep_t* cline, const sep_t** rp) noexcept nogil:
    """Work item ``item`` of ``correlate_sep2d``: ``tile_rows`` output rows
    by ``chunk`` columns (fewer at the ends); see there."""
    cdef Py_ssize_t tile = item // n_chunks, q = item % n_chunks
    cdef Py_ssize_t i0 = tile * tile_rows, c0 = q * chunk
    cdef Py_ssize_t i1 = min(m0, i0 + tile_rows), c1 = min(m1, c0 + chunk)
    if sep_t is float:
        ndconv_sep_tile_f32(x, out, m1, vrow, hcol, lin_lo, lin_hi, wv, kv, wh, kh, cval,
                            i0, i1, c0, c1, ring, rstr, g, cline, rp)
    else:
        ndconv_sep_tile_f64(x, out, m1, vrow, hcol, lin_lo, lin_hi, wv, kv, wh, kh, cval,
                            i0, i1, c0, c1, ring, rstr, g, cline, rp)


def sep_chunk(Py_ssize_t kv, Py_ssize_t itemsize):
    """Columns per chunk of ``correlate_sep2d`` for a kernel of ``kv`` rows
    and elements of ``itemsize`` bytes (its ring of ``kv`` filtered rows
    stays in L1); 0 in a build without the fused passes."""
    return ndconv_sep_chunk(kv, itemsize) if NDCONV_SEP_FUSED else 0


def correlate_sep2d(const sep_t[::1] x, sep_t[:, ::1] out, const sep_t[::1] wv,
                    const sep_t[::1] wh, const Py_ssize_t[::1] vrow, const Py_ssize_t[::1] hcol,
                    Py_ssize_t lin_lo, Py_ssize_t lin_hi, sep_t cval, Py_ssize_t tile_rows,
                    Py_ssize_t chunk, int n_threads):
    """Valid correlation of an index-extended 2-D input with ``outer(wv, wh)``,
    as one sweep of fused passes (``ndconv_sep_tile_*``).

    ``out`` is ``(m0, m1)``; extended row ``r < m0 + len(wv) - 1`` is the
    row of ``x`` from element ``vrow[r]`` (a row of ``cval`` where it is
    negative); extended column ``e < m1 + len(wh) - 1`` is element
    ``hcol[e]`` of a row (``cval`` where negative), and for ``lin_lo <= e <
    lin_hi``, ``hcol[e] == hcol[lin_lo] + e - lin_lo``.  Work items are
    ``tile_rows`` output rows by ``chunk`` columns.  Every index is checked
    here, so the call is memory-safe on its own.
    """
    cdef Py_ssize_t m0 = out.shape[0], m1 = out.shape[1], kv = wv.shape[0], kh = wh.shape[0]
    cdef Py_ssize_t span = x.shape[0], hmax = -1, e, r, n_tiles, n_chunks, n_items, item
    cdef Py_ssize_t rstr, width, tile, q, i0, i1, c0, c1
    cdef int armed, failed = 0
    cdef double t0   # the parallel region's start (ndconv_region.h)
    cdef int* failp = &failed
    cdef ndconv_scratch sc
    cdef ndconv_scratch_spec spec
    cdef sep_t* ring
    cdef sep_t* g
    cdef sep_t* cline
    cdef const sep_t** rp
    if not NDCONV_SEP_FUSED:
        raise RuntimeError("this build has no fused separable passes")
    if kv < 1 or kh < 1 or tile_rows < 1 or chunk < 1:
        raise ValueError("invalid kernel, tile or chunk size")
    if vrow.shape[0] != m0 + kv - 1 or hcol.shape[0] != m1 + kh - 1:
        raise ValueError("index tables do not match the output and kernel")
    if m0 == 0 or m1 == 0:
        return
    for e in range(hcol.shape[0]):
        if hcol[e] >= span:
            raise ValueError("column index out of range")
        if hcol[e] > hmax:
            hmax = hcol[e]
    if lin_lo < lin_hi:
        if lin_lo < 0 or lin_hi > hcol.shape[0] or hcol[lin_lo] < 0:
            raise ValueError("invalid linear column range")
        for e in range(lin_lo, lin_hi):
            if hcol[e] != hcol[lin_lo] + e - lin_lo:
                raise ValueError("invalid linear column range")
    for r in range(vrow.shape[0]):
        if vrow[r] >= 0 and hmax >= 0 and vrow[r] > span - 1 - hmax:
            raise ValueError("row index out of range")
    if (<size_t>&x[0]) % sizeof(sep_t) != 0:
        raise ValueError("x must be aligned to its item size")
    if chunk > m1:
        chunk = m1
    if tile_rows > m0:
        tile_rows = m0
    n_tiles = (m0 + tile_rows - 1) // tile_rows
    n_chunks = (m1 + chunk - 1) // chunk
    n_items = n_tiles * n_chunks
    # ring rows padded to whole cache lines, so the rows start aligned alike
    rstr = (chunk * sizeof(sep_t) + 63) // 64 * 64 // sizeof(sep_t)
    width = chunk + kh - 1
    # the ring holds kv + 1 filtered rows (output rows are summed in pairs)
    spec = ndconv_scratch_parts((kv + 1) * rstr * sizeof(sep_t), width * sizeof(sep_t),
                                width * sizeof(sep_t), max(kv + 1, kh) * sizeof(sep_t*), 0, 0, 0)
    if n_threads < 1:
        n_threads = 1
    if n_threads > n_items:
        n_threads = <int>n_items
    armed = _arm(<double>m0 * m1 * (kv + kh))
    ring = g = cline = NULL
    rp = NULL
    while True:
        t0 = ndconv_region_begin()
        with nogil, parallel(num_threads=n_threads):
            sc = ndconv_scratch_alloc(&spec, failp)
            if sc.block != NULL:
                ring = <sep_t*>sc.part[0]
                g = <sep_t*>sc.part[1]
                cline = <sep_t*>sc.part[2]
                rp = <const sep_t**>sc.part[3]
                _sep_fill(cline, width, cval)
            ndconv_region_enter(t0, threadid())
            for item in prange(n_items, schedule="guided", chunksize=1):
                if sc.block == NULL or ndconv_stop_requested(armed):
                    pass
                else:
                    _sep_item(item, n_chunks, chunk, tile_rows, m0, m1, &x[0], &out[0, 0], &vrow[0],
                              &hcol[0], lin_lo, lin_hi, &wv[0], kv, &wh[0], kh, cval, ring, rstr,
                              g, cline, rp)
            ndconv_scratch_free(&sc)
        ndconv_region_end()
        if not _interrupted(armed):
            break
        armed = 0
    if failed:
        raise MemoryError("ndconv: could not allocate per-thread scratch")

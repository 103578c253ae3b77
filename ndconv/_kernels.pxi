# Direct N-D correlation kernels, included by _core.pyx (baseline flags) and
# _core_avx2.pyx (-mavx2 -mfma), so the same source is compiled twice and the
# faster one is picked at import (see _dispatch.py).
#
# The kernels know nothing about Python objects, boundary names or modes.  They
# compute one primitive, "valid correlation of an index-extended input":
#
#     out[i_0, .., i_{d-1}] = sum_{j} w[j_0, .., j_{d-1}] * X(i_0 + j_0, .., i_{d-1} + j_{d-1})
#
# where X(t_0, .., t_{d-1}) = x[base + sum_a T_a[t_a]] if every T_a[t_a] >= 0, else cval.
# T_a is a per-axis table of element offsets (index * stride, shifted so that all
# offsets are >= 0) built in Python from numpy.pad's index semantics: every
# boundary mode, origin and output mode is expressed in those tables, and arbitrary
# strides (negative, Fortran, sliced) come for free because the strides are folded
# into the offsets.
#
# Work is split into items = (output row, column chunk).  Per item we collect one
# source pointer per leading-axis tap: straight into x where the chunk only reads
# interior, unit-stride samples (the common case), otherwise into a small
# per-thread gather buffer (borders, non-unit strides) or a line of cval.  Then
# one register-blocked pass computes every output of the chunk from all taps, so
# each output is loaded and stored once, whatever the kernel size.  Each output
# has exactly one writer and a fixed summation order, so results are bitwise
# identical for any number of threads.

from cython.parallel cimport parallel, prange
from libc.stdlib cimport malloc, free

ctypedef fused num_t:
    float
    double
    float complex
    double complex
    long long

# Outputs accumulated in registers per block.  32 floats = 4 ymm registers of
# accumulators, enough to hide FMA latency when two blocks' worth of taps
# interleave; larger blocks spill on x86-64's 16 vector registers.
cdef enum:
    BLK = 32


cdef inline void _block_sum(num_t* o, Py_ssize_t n, const num_t** ptrs,
                            const num_t** wrows, Py_ssize_t ntaps,
                            Py_ssize_t klast) noexcept nogil:
    """o[c] = sum_r sum_j wrows[r][j] * ptrs[r][c + j] for c < n."""
    cdef num_t acc[BLK]
    cdef Py_ssize_t c = 0, r, j, u
    cdef const num_t* p
    cdef const num_t* wr
    cdef num_t wj, s
    while c + BLK <= n:
        for u in range(BLK):
            acc[u] = 0
        for r in range(ntaps):
            p = ptrs[r] + c
            wr = wrows[r]
            for j in range(klast):
                wj = wr[j]
                # fixed trip count and a local accumulator: the compiler keeps
                # acc in vector registers across the whole tap loop
                for u in range(BLK):
                    acc[u] = acc[u] + wj * p[j + u]
        for u in range(BLK):
            o[c + u] = acc[u]
        c += BLK
    while c < n:
        s = 0
        for r in range(ntaps):
            p = ptrs[r] + c
            wr = wrows[r]
            for j in range(klast):
                s = s + wr[j] * p[j]
        o[c] = s
        c += 1


cdef inline int _do_item(
        Py_ssize_t item, const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t n_chunks, Py_ssize_t m_last, Py_ssize_t klast,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const Py_ssize_t* tables, const Py_ssize_t* tstart,
        const Py_ssize_t* last_table, const Py_ssize_t* bounds,
        const unsigned char* direct, num_t cval, bint skip_cval,
        Py_ssize_t* idx, Py_ssize_t* jdx, const num_t** ptrs,
        const num_t** wrows, num_t* gbuf, Py_ssize_t gstride,
        const num_t* cline) noexcept nogil:
    cdef Py_ssize_t row = item // n_chunks
    cdef Py_ssize_t q = item - row * n_chunks
    cdef Py_ssize_t a = bounds[q], b = bounds[q + 1]
    cdef Py_ssize_t span = b - a + klast - 1
    cdef Py_ssize_t rem, ax, lt, off, t, ntaps = 0, nbuf = 0
    cdef bint is_cval
    cdef num_t* g
    if b <= a:
        return 0
    # output row -> multi-index over the leading output axes (C order)
    rem = row
    for ax in range(nla - 1, -1, -1):
        idx[ax] = rem % out_lead[ax]
        rem = rem // out_lead[ax]
        jdx[ax] = 0
    for lt in range(n_lead):
        off = 0
        is_cval = False
        for ax in range(nla):
            t = tables[tstart[ax] + idx[ax] + jdx[ax]]
            if t < 0:
                is_cval = True
                break
            off += t
        if is_cval:
            if not skip_cval:
                ptrs[ntaps] = cline
                wrows[ntaps] = w + lt * klast
                ntaps += 1
        elif direct[q]:
            ptrs[ntaps] = x + off + last_table[a]
            wrows[ntaps] = w + lt * klast
            ntaps += 1
        else:
            g = gbuf + nbuf * gstride
            nbuf += 1
            for t in range(span):
                if last_table[a + t] < 0:
                    g[t] = cval
                else:
                    g[t] = x[off + last_table[a + t]]
            ptrs[ntaps] = g
            wrows[ntaps] = w + lt * klast
            ntaps += 1
        # odometer over the leading kernel taps (C order, matching w's layout)
        for ax in range(nla - 1, -1, -1):
            jdx[ax] += 1
            if jdx[ax] < k_lead[ax]:
                break
            jdx[ax] = 0
    _block_sum(out + row * m_last + a, b - a, ptrs, wrows, ntaps, klast)
    return 0


cdef int _correlate_nd(
        const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t n_rows, Py_ssize_t m_last, Py_ssize_t klast,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const Py_ssize_t* tables, const Py_ssize_t* tstart,
        const Py_ssize_t* last_table, const Py_ssize_t* bounds,
        const unsigned char* direct, Py_ssize_t n_chunks, Py_ssize_t max_chunk,
        num_t cval, bint skip_cval, int n_threads) noexcept nogil:
    """Returns 0 on success, -1 if a thread could not allocate its scratch."""
    cdef Py_ssize_t n_items = n_rows * n_chunks
    cdef Py_ssize_t gstride = max_chunk + klast - 1
    cdef Py_ssize_t item, i
    cdef int failed = 0
    cdef int* failp = &failed   # written through a pointer: plain locals are thread-private in a parallel block
    cdef Py_ssize_t* idx
    cdef Py_ssize_t* jdx
    cdef const num_t** ptrs
    cdef const num_t** wrows
    cdef num_t* gbuf
    cdef num_t* cline
    cdef bint need_gather = False
    for i in range(n_chunks):
        if not direct[i]:
            need_gather = True
    if n_items <= 0:
        return 0
    idx = jdx = NULL
    ptrs = wrows = NULL
    gbuf = cline = NULL
    if n_threads < 1:
        n_threads = 1
    if n_threads > n_items:
        n_threads = <int>n_items
    with parallel(num_threads=n_threads):
        # per-thread scratch: O(taps x chunk), independent of the input size
        idx = <Py_ssize_t*>malloc((2 * nla + 1) * sizeof(Py_ssize_t))
        jdx = idx + nla
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
        for item in prange(n_items, schedule="static"):
            if idx != NULL and ptrs != NULL and wrows != NULL and cline != NULL and gbuf != NULL:
                _do_item(item, x, out, w, n_chunks, m_last, klast, n_lead, nla,
                         out_lead, k_lead, tables, tstart, last_table, bounds, direct,
                         cval, skip_cval, idx, jdx, ptrs, wrows, gbuf, gstride, cline)
        free(idx)
        free(<void*>ptrs)
        free(<void*>wrows)
        free(cline)
        free(gbuf)
    return -1 if failed else 0


def correlate_nd(const num_t[::1] x, num_t[::1] out, const num_t[::1] w,
                 const Py_ssize_t[::1] out_shape, const Py_ssize_t[::1] k_shape,
                 const Py_ssize_t[::1] tables, const Py_ssize_t[::1] tstart,
                 const Py_ssize_t[::1] bounds, const unsigned char[::1] direct,
                 Py_ssize_t max_chunk, num_t cval, bint skip_cval, int n_threads):
    """Valid correlation of an index-extended input; see the module comment.

    Every argument is prepared and validated by ``ndconv._plan``; this entry
    point only checks what would otherwise make the kernel read or write out of
    bounds.  ``x`` is the flat span of the input from its lowest address,
    ``out`` the C-contiguous output (in the kernel's axis order), ``w`` the
    C-contiguous kernel, ``tables`` the concatenated per-axis offset tables
    (``tstart[a]`` is where axis ``a`` begins; length ``out_shape[a] +
    k_shape[a] - 1``), ``bounds`` the column-chunk boundaries of the last axis
    and ``direct[q]`` whether chunk ``q`` may read ``x`` in place.
    """
    cdef Py_ssize_t nd = out_shape.shape[0]
    cdef Py_ssize_t a, n_out = 1, n_k = 1, n_rows = 1, n_lead = 1, t, tl, e
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef int rc
    if nd < 1 or k_shape.shape[0] != nd or tstart.shape[0] != nd:
        raise ValueError("inconsistent number of dimensions")
    for a in range(nd):
        if out_shape[a] < 0 or k_shape[a] < 1:
            raise ValueError("invalid output or kernel shape")
        n_out *= out_shape[a]
        n_k *= k_shape[a]
        if a < nd - 1:
            n_rows *= out_shape[a]
            n_lead *= k_shape[a]
        tl = out_shape[a] + k_shape[a] - 1
        if tstart[a] < 0 or tstart[a] + tl > tables.shape[0]:
            raise ValueError("table out of range")
        # every table entry must address x (or be a cval marker)
        for t in range(tstart[a], tstart[a] + tl):
            if tables[t] >= x.shape[0]:
                raise ValueError("table entry out of range")
    if out.shape[0] != n_out or w.shape[0] != n_k:
        raise ValueError("output or kernel size mismatch")
    if n_out == 0:
        return
    if n_chunks < 1 or bounds[0] != 0 or bounds[n_chunks] != out_shape[nd - 1] or direct.shape[0] < n_chunks:
        raise ValueError("invalid chunk bounds")
    for a in range(n_chunks):
        if bounds[a + 1] < bounds[a] or bounds[a + 1] - bounds[a] > max_chunk:
            raise ValueError("invalid chunk bounds")
    # The sum of one offset per axis must stay inside x: guaranteed when every
    # table entry is a valid index times its axis' stride (how _plan builds them),
    # but re-check the extreme to keep this entry point memory-safe on its own.
    t = 0
    for a in range(nd):
        tl = 0
        for e in range(out_shape[a] + k_shape[a] - 1):
            if tables[tstart[a] + e] > tl:
                tl = tables[tstart[a] + e]
        t += tl
    if t >= x.shape[0]:
        raise ValueError("tables address past the end of x")
    with nogil:
        rc = _correlate_nd(&x[0], &out[0], &w[0], n_rows, out_shape[nd - 1], k_shape[nd - 1],
                           n_lead, nd - 1, &out_shape[0], &k_shape[0], &tables[0], &tstart[0],
                           &tables[tstart[nd - 1]], &bounds[0], &direct[0], n_chunks, max_chunk,
                           cval, skip_cval, n_threads)
    if rc != 0:
        raise MemoryError("ndconv: could not allocate per-thread scratch")

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
from libc.stdlib cimport calloc, malloc, free

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


cdef extern from *:
    """
    /* AVX-512 float32 block of 128 outputs (and float64 of 64) that halves the
       unaligned loads.

       The plain block loads p[j + 16v .. +16) for every tap j: one unaligned
       512-bit load per FMA, nearly every one crossing a cache line, and those
       loads, not the FMAs, set the pace (about one per cycle).  Here the even
       taps instead shift a window of aligned vectors with vpermt2ps (shuffle
       pipes), the odd taps keep the plain loads (load pipes), so both kinds of
       pipe feed the FMAs.  Measured in a standalone loop, L2-resident rows:
       3x3 71 -> 113 GFLOP/s, 5x5 95 -> 134, 7x7 106 -> 147, 15x15 122 -> 164.
       Every output keeps its tap order and its FMA chain: results are
       bitwise those of the plain block.

       Memory: the aligned vectors are read only where they contain an element
       the plain block reads, so they never leave the cache lines (and pages)
       it touches; the part of a line before p that they also cover is not
       part of the result.  Sanitizers would still flag those bytes, so the
       block is off under them. */
    #if NDCONV_WIDE_BLOCKS && defined(__AVX512F__) && !defined(__SANITIZE_ADDRESS__)
    #include <immintrin.h>
    #include <stdint.h>
    #define NDCONV_SHUFFLE_BLOCK 1
    static const int32_t ndconv_shift_idx[16][16] __attribute__((aligned(64))) = {
        {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15}, {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16},
        {2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17}, {3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18},
        {4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19}, {5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20},
        {6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21}, {7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22},
        {8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23}, {9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24},
        {10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25}, {11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26},
        {12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27}, {13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28},
        {14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29}, {15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30}};
    static inline void ndconv_blk128_f32(float* o, Py_ssize_t c, const float** ptrs,
                                         const float** wrows, Py_ssize_t ntaps, Py_ssize_t klast) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (Py_ssize_t r = 0; r < ntaps; r++) {
            const float* p = ptrs[r] + c;
            const float* wr = wrows[r];
            Py_ssize_t s = (Py_ssize_t)(((uintptr_t)p & 63) >> 2);
            const float* pa = p - s;                    /* the aligned vector holding p[0] */
            Py_ssize_t top = s + 127 + klast - 1;       /* last element read, from pa */
            Py_ssize_t next = 144;                      /* next aligned vector, from pa */
            __m512 v0 = _mm512_load_ps(pa), v1 = _mm512_load_ps(pa + 16), v2 = _mm512_load_ps(pa + 32),
                   v3 = _mm512_load_ps(pa + 48), v4 = _mm512_load_ps(pa + 64), v5 = _mm512_load_ps(pa + 80),
                   v6 = _mm512_load_ps(pa + 96), v7 = _mm512_load_ps(pa + 112), v8 = _mm512_load_ps(pa + 128);
            for (Py_ssize_t j = 0; j < klast; j++, s++) {
                __m512 w = _mm512_set1_ps(wr[j]);
                if (s >= 16) {   /* slide the window one vector on */
                    s -= 16;
                    v0 = v1; v1 = v2; v2 = v3; v3 = v4; v4 = v5; v5 = v6; v6 = v7; v7 = v8;
                    if (next <= top) v8 = _mm512_load_ps(pa + next);
                    next += 16;
                }
                if (j & 1) {
                    const float* q = p + j;
                    a0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(q), a0);
                    a1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(q + 16), a1);
                    a2 = _mm512_fmadd_ps(w, _mm512_loadu_ps(q + 32), a2);
                    a3 = _mm512_fmadd_ps(w, _mm512_loadu_ps(q + 48), a3);
                    a4 = _mm512_fmadd_ps(w, _mm512_loadu_ps(q + 64), a4);
                    a5 = _mm512_fmadd_ps(w, _mm512_loadu_ps(q + 80), a5);
                    a6 = _mm512_fmadd_ps(w, _mm512_loadu_ps(q + 96), a6);
                    a7 = _mm512_fmadd_ps(w, _mm512_loadu_ps(q + 112), a7);
                } else if (s == 0) {
                    a0 = _mm512_fmadd_ps(w, v0, a0); a1 = _mm512_fmadd_ps(w, v1, a1);
                    a2 = _mm512_fmadd_ps(w, v2, a2); a3 = _mm512_fmadd_ps(w, v3, a3);
                    a4 = _mm512_fmadd_ps(w, v4, a4); a5 = _mm512_fmadd_ps(w, v5, a5);
                    a6 = _mm512_fmadd_ps(w, v6, a6); a7 = _mm512_fmadd_ps(w, v7, a7);
                } else {
                    __m512i ix = _mm512_load_si512((const void*)ndconv_shift_idx[s]);
                    a0 = _mm512_fmadd_ps(w, _mm512_permutex2var_ps(v0, ix, v1), a0);
                    a1 = _mm512_fmadd_ps(w, _mm512_permutex2var_ps(v1, ix, v2), a1);
                    a2 = _mm512_fmadd_ps(w, _mm512_permutex2var_ps(v2, ix, v3), a2);
                    a3 = _mm512_fmadd_ps(w, _mm512_permutex2var_ps(v3, ix, v4), a3);
                    a4 = _mm512_fmadd_ps(w, _mm512_permutex2var_ps(v4, ix, v5), a4);
                    a5 = _mm512_fmadd_ps(w, _mm512_permutex2var_ps(v5, ix, v6), a5);
                    a6 = _mm512_fmadd_ps(w, _mm512_permutex2var_ps(v6, ix, v7), a6);
                    a7 = _mm512_fmadd_ps(w, _mm512_permutex2var_ps(v7, ix, v8), a7);
                }
            }
        }
        _mm512_storeu_ps(o + c, a0); _mm512_storeu_ps(o + c + 16, a1);
        _mm512_storeu_ps(o + c + 32, a2); _mm512_storeu_ps(o + c + 48, a3);
        _mm512_storeu_ps(o + c + 64, a4); _mm512_storeu_ps(o + c + 80, a5);
        _mm512_storeu_ps(o + c + 96, a6); _mm512_storeu_ps(o + c + 112, a7);
    }
    static const int64_t ndconv_shift_idx64[8][8] __attribute__((aligned(64))) = {
        {0,1,2,3,4,5,6,7}, {1,2,3,4,5,6,7,8}, {2,3,4,5,6,7,8,9}, {3,4,5,6,7,8,9,10},
        {4,5,6,7,8,9,10,11}, {5,6,7,8,9,10,11,12}, {6,7,8,9,10,11,12,13}, {7,8,9,10,11,12,13,14}};
    /* The same for float64: 64 outputs, 8 per vector. */
    static inline void ndconv_blk64_f64(double* o, Py_ssize_t c, const double** ptrs,
                                         const double** wrows, Py_ssize_t ntaps, Py_ssize_t klast) {
        __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (Py_ssize_t r = 0; r < ntaps; r++) {
            const double* p = ptrs[r] + c;
            const double* wr = wrows[r];
            Py_ssize_t s = (Py_ssize_t)(((uintptr_t)p & 63) >> 3);
            const double* pa = p - s;                    /* the aligned vector holding p[0] */
            Py_ssize_t top = s + 63 + klast - 1;       /* last element read, from pa */
            Py_ssize_t next = 72;                      /* next aligned vector, from pa */
            __m512d v0 = _mm512_load_pd(pa), v1 = _mm512_load_pd(pa + 8), v2 = _mm512_load_pd(pa + 16),
                   v3 = _mm512_load_pd(pa + 24), v4 = _mm512_load_pd(pa + 32), v5 = _mm512_load_pd(pa + 40),
                   v6 = _mm512_load_pd(pa + 48), v7 = _mm512_load_pd(pa + 56), v8 = _mm512_load_pd(pa + 64);
            for (Py_ssize_t j = 0; j < klast; j++, s++) {
                __m512d w = _mm512_set1_pd(wr[j]);
                if (s >= 8) {   /* slide the window one vector on */
                    s -= 8;
                    v0 = v1; v1 = v2; v2 = v3; v3 = v4; v4 = v5; v5 = v6; v6 = v7; v7 = v8;
                    if (next <= top) v8 = _mm512_load_pd(pa + next);
                    next += 8;
                }
                if (j & 1) {
                    const double* q = p + j;
                    a0 = _mm512_fmadd_pd(w, _mm512_loadu_pd(q), a0);
                    a1 = _mm512_fmadd_pd(w, _mm512_loadu_pd(q + 8), a1);
                    a2 = _mm512_fmadd_pd(w, _mm512_loadu_pd(q + 16), a2);
                    a3 = _mm512_fmadd_pd(w, _mm512_loadu_pd(q + 24), a3);
                    a4 = _mm512_fmadd_pd(w, _mm512_loadu_pd(q + 32), a4);
                    a5 = _mm512_fmadd_pd(w, _mm512_loadu_pd(q + 40), a5);
                    a6 = _mm512_fmadd_pd(w, _mm512_loadu_pd(q + 48), a6);
                    a7 = _mm512_fmadd_pd(w, _mm512_loadu_pd(q + 56), a7);
                } else if (s == 0) {
                    a0 = _mm512_fmadd_pd(w, v0, a0); a1 = _mm512_fmadd_pd(w, v1, a1);
                    a2 = _mm512_fmadd_pd(w, v2, a2); a3 = _mm512_fmadd_pd(w, v3, a3);
                    a4 = _mm512_fmadd_pd(w, v4, a4); a5 = _mm512_fmadd_pd(w, v5, a5);
                    a6 = _mm512_fmadd_pd(w, v6, a6); a7 = _mm512_fmadd_pd(w, v7, a7);
                } else {
                    __m512i ix = _mm512_load_si512((const void*)ndconv_shift_idx64[s]);
                    a0 = _mm512_fmadd_pd(w, _mm512_permutex2var_pd(v0, ix, v1), a0);
                    a1 = _mm512_fmadd_pd(w, _mm512_permutex2var_pd(v1, ix, v2), a1);
                    a2 = _mm512_fmadd_pd(w, _mm512_permutex2var_pd(v2, ix, v3), a2);
                    a3 = _mm512_fmadd_pd(w, _mm512_permutex2var_pd(v3, ix, v4), a3);
                    a4 = _mm512_fmadd_pd(w, _mm512_permutex2var_pd(v4, ix, v5), a4);
                    a5 = _mm512_fmadd_pd(w, _mm512_permutex2var_pd(v5, ix, v6), a5);
                    a6 = _mm512_fmadd_pd(w, _mm512_permutex2var_pd(v6, ix, v7), a6);
                    a7 = _mm512_fmadd_pd(w, _mm512_permutex2var_pd(v7, ix, v8), a7);
                }
            }
        }
        _mm512_storeu_pd(o + c, a0); _mm512_storeu_pd(o + c + 8, a1);
        _mm512_storeu_pd(o + c + 16, a2); _mm512_storeu_pd(o + c + 24, a3);
        _mm512_storeu_pd(o + c + 32, a4); _mm512_storeu_pd(o + c + 40, a5);
        _mm512_storeu_pd(o + c + 48, a6); _mm512_storeu_pd(o + c + 56, a7);
    }
    /* Two neighbouring output rows of a kernel with one tap per source row
       (the passes of separable kernels): the rows share all but one source
       row, so each loaded vector feeds two FMAs instead of one.  Their taps
       lie in different rows, so the shuffle block above cannot help them.
       Each output keeps the tap order and FMA chain of the one-row block
       (starting from +0.0), so the sums are bitwise the same. */
    #define NDCONV_BLK2(NAME, T, V, LANES, SETZERO, SET1, LOADU, STOREU, FMADD)              \
    static inline void NAME(T* o0, T* o1, Py_ssize_t c, const T** src, const T* w,         \
                            Py_ssize_t ntaps) {                                             \
        V a[8], b[8];                                                                       \
        for (int i = 0; i < 8; i++) { a[i] = SETZERO(); b[i] = SETZERO(); }                 \
        for (Py_ssize_t t = 0; t <= ntaps; t++) {                                           \
            const T* p = src[t] + c;                                                        \
            V x[8];                                                                         \
            for (int i = 0; i < 8; i++) x[i] = LOADU(p + LANES * i);                        \
            if (t < ntaps) { V wa = SET1(w[t]);                                             \
                for (int i = 0; i < 8; i++) a[i] = FMADD(wa, x[i], a[i]); }                 \
            if (t > 0) { V wb = SET1(w[t - 1]);                                             \
                for (int i = 0; i < 8; i++) b[i] = FMADD(wb, x[i], b[i]); }                 \
        }                                                                                   \
        for (int i = 0; i < 8; i++) { STOREU(o0 + c + LANES * i, a[i]);                     \
                                      STOREU(o1 + c + LANES * i, b[i]); }                   \
    }
    NDCONV_BLK2(ndconv_blk2_f32, float, __m512, 16, _mm512_setzero_ps, _mm512_set1_ps,
                _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps)
    NDCONV_BLK2(ndconv_blk2_f64, double, __m512d, 8, _mm512_setzero_pd, _mm512_set1_pd,
                _mm512_loadu_pd, _mm512_storeu_pd, _mm512_fmadd_pd)
    /* Two neighbouring output rows of 64 float32 outputs, for kernels with
       3 or more taps per row: the shuffle block's split (even taps shuffled
       from aligned loads, odd taps loaded unaligned), but each shifted vector
       of a source row feeds both output rows (kernel rows t and t - 1).
       Standalone, L2-resident: 5x5 127 -> 160 GFLOP/s, 7x7 143 -> 188; 3x3
       unchanged.  Same tap order and FMA chains as the one-row block, and the
       same rule for the aligned loads (only vectors holding an element the
       plain block reads). */
    static inline void ndconv_blk2s_f32(float* o0, float* o1, Py_ssize_t c, const float** src,
                                        const float* w, Py_ssize_t ntaps, Py_ssize_t klast) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (Py_ssize_t t = 0; t <= ntaps; t++) {
            const float* p = src[t] + c;
            const float* w0 = t < ntaps ? w + t * klast : NULL;
            const float* w1 = t > 0 ? w + (t - 1) * klast : NULL;
            Py_ssize_t s = (Py_ssize_t)(((uintptr_t)p & 63) >> 2);
            const float* pa = p - s;
            Py_ssize_t top = s + 63 + klast - 1;
            Py_ssize_t next = 80;
            __m512 v0 = _mm512_load_ps(pa), v1 = _mm512_load_ps(pa + 16), v2 = _mm512_load_ps(pa + 32),
                   v3 = _mm512_load_ps(pa + 48), v4 = _mm512_load_ps(pa + 64);
            for (Py_ssize_t j = 0; j < klast; j++, s++) {
                __m512 x0, x1, x2, x3;
                if (s >= 16) {
                    s -= 16;
                    v0 = v1; v1 = v2; v2 = v3; v3 = v4;
                    if (next <= top) v4 = _mm512_load_ps(pa + next);
                    next += 16;
                }
                if (j & 1) {
                    const float* q = p + j;
                    x0 = _mm512_loadu_ps(q); x1 = _mm512_loadu_ps(q + 16);
                    x2 = _mm512_loadu_ps(q + 32); x3 = _mm512_loadu_ps(q + 48);
                } else if (s == 0) {
                    x0 = v0; x1 = v1; x2 = v2; x3 = v3;
                } else {
                    __m512i ix = _mm512_load_si512((const void*)ndconv_shift_idx[s]);
                    x0 = _mm512_permutex2var_ps(v0, ix, v1); x1 = _mm512_permutex2var_ps(v1, ix, v2);
                    x2 = _mm512_permutex2var_ps(v2, ix, v3); x3 = _mm512_permutex2var_ps(v3, ix, v4);
                }
                if (w0) {
                    __m512 wa = _mm512_set1_ps(w0[j]);
                    a0 = _mm512_fmadd_ps(wa, x0, a0); a1 = _mm512_fmadd_ps(wa, x1, a1);
                    a2 = _mm512_fmadd_ps(wa, x2, a2); a3 = _mm512_fmadd_ps(wa, x3, a3);
                }
                if (w1) {
                    __m512 wb = _mm512_set1_ps(w1[j]);
                    b0 = _mm512_fmadd_ps(wb, x0, b0); b1 = _mm512_fmadd_ps(wb, x1, b1);
                    b2 = _mm512_fmadd_ps(wb, x2, b2); b3 = _mm512_fmadd_ps(wb, x3, b3);
                }
            }
        }
        _mm512_storeu_ps(o0 + c, a0); _mm512_storeu_ps(o0 + c + 16, a1);
        _mm512_storeu_ps(o0 + c + 32, a2); _mm512_storeu_ps(o0 + c + 48, a3);
        _mm512_storeu_ps(o1 + c, b0); _mm512_storeu_ps(o1 + c + 16, b1);
        _mm512_storeu_ps(o1 + c + 32, b2); _mm512_storeu_ps(o1 + c + 48, b3);
    }
    #else
    #define NDCONV_SHUFFLE_BLOCK 0
    static inline void ndconv_blk128_f32(float* o, Py_ssize_t c, const float** ptrs,
                                         const float** wrows, Py_ssize_t ntaps, Py_ssize_t klast) {
        (void)o; (void)c; (void)ptrs; (void)wrows; (void)ntaps; (void)klast;   /* never called */
    }
    static inline void ndconv_blk64_f64(double* o, Py_ssize_t c, const double** ptrs,
                                        const double** wrows, Py_ssize_t ntaps, Py_ssize_t klast) {
        (void)o; (void)c; (void)ptrs; (void)wrows; (void)ntaps; (void)klast;   /* never called */
    }
    static inline void ndconv_blk2_f32(float* o0, float* o1, Py_ssize_t c, const float** src,
                                       const float* w, Py_ssize_t ntaps) {
        (void)o0; (void)o1; (void)c; (void)src; (void)w; (void)ntaps;   /* never called */
    }
    static inline void ndconv_blk2_f64(double* o0, double* o1, Py_ssize_t c, const double** src,
                                       const double* w, Py_ssize_t ntaps) {
        (void)o0; (void)o1; (void)c; (void)src; (void)w; (void)ntaps;   /* never called */
    }
    static inline void ndconv_blk2s_f32(float* o0, float* o1, Py_ssize_t c, const float** src,
                                        const float* w, Py_ssize_t ntaps, Py_ssize_t klast) {
        (void)o0; (void)o1; (void)c; (void)src; (void)w; (void)ntaps; (void)klast;   /* never called */
    }
    #endif
    """
    int NDCONV_SHUFFLE_BLOCK
    void ndconv_blk128_f32(float* o, Py_ssize_t c, const float** ptrs, const float** wrows,
                           Py_ssize_t ntaps, Py_ssize_t klast) noexcept nogil
    void ndconv_blk64_f64(double* o, Py_ssize_t c, const double** ptrs, const double** wrows,
                          Py_ssize_t ntaps, Py_ssize_t klast) noexcept nogil
    void ndconv_blk2_f32(float* o0, float* o1, Py_ssize_t c, const float** src, const float* w,
                         Py_ssize_t ntaps) noexcept nogil
    void ndconv_blk2_f64(double* o0, double* o1, Py_ssize_t c, const double** src,
                         const double* w, Py_ssize_t ntaps) noexcept nogil
    void ndconv_blk2s_f32(float* o0, float* o1, Py_ssize_t c, const float** src, const float* w,
                          Py_ssize_t ntaps, Py_ssize_t klast) noexcept nogil


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
                s = s + wr[j] * p[j]
        o[c] = s
        c += 1


cdef inline void _pair_sum(num_t* o0, num_t* o1, Py_ssize_t n, const num_t** src,
                           const num_t* w, Py_ssize_t ntaps, Py_ssize_t klast) noexcept nogil:
    """Two neighbouring output rows over ``n`` columns (n >= one block; the tail
    overlaps, as in _block_sum): o0[c] = sum_r sum_j w[r, j] * src[r][c + j],
    o1[c] = sum_r sum_j w[r, j] * src[r + 1][c + j]; ``klast`` is 1 (float32
    or float64) or at least 6 (float32)."""
    cdef Py_ssize_t c = 0
    if num_t is float:
        if klast == 1:
            while c + 128 <= n:
                ndconv_blk2_f32(o0, o1, c, src, w, ntaps)
                c += 128
            if c < n:
                ndconv_blk2_f32(o0, o1, n - 128, src, w, ntaps)
        else:
            while c + 64 <= n:
                ndconv_blk2s_f32(o0, o1, c, src, w, ntaps, klast)
                c += 64
            if c < n:
                ndconv_blk2s_f32(o0, o1, n - 64, src, w, ntaps, klast)
    elif num_t is double:
        while c + 64 <= n:
            ndconv_blk2_f64(o0, o1, c, src, w, ntaps)
            c += 64
        if c < n:
            ndconv_blk2_f64(o0, o1, n - 64, src, w, ntaps)


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
        Py_ssize_t n_chunks, Py_ssize_t m_last, Py_ssize_t klast,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const AxisMap* maps, const Py_ssize_t* bounds,
        Py_ssize_t c0, Py_ssize_t c1, bint unit, num_t cval, bint skip_cval,
        Py_ssize_t ahead, Py_ssize_t x_span, Py_ssize_t n_out,
        Py_ssize_t* idx, Py_ssize_t* jdx, Py_ssize_t* offs, const num_t** ptrs,
        const num_t** wrows, num_t* gbuf, Py_ssize_t gstride,
        const num_t* cline, bint skip_interior=False, bint offs_ready=False) noexcept nogil:
    """One output row's column chunk [bounds[q], bounds[q+1]) (without the
    interior segment if ``skip_interior``: ``_do_pair`` computes it; with
    ``offs_ready``, ``offs`` already holds the row's source offsets)."""
    cdef Py_ssize_t row = item // n_chunks
    cdef Py_ssize_t q = item - row * n_chunks
    cdef Py_ssize_t a = bounds[q], b = bounds[q + 1]
    cdef Py_ssize_t off, t, seg, sa, sb, ntaps
    cdef num_t* orow = out + row * m_last
    if b <= a:
        return
    if not offs_ready:
        _row_offsets(row, n_lead, nla, out_lead, k_lead, maps, idx, jdx, offs)
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
        if sb <= sa or (seg == 1 and skip_interior):
            continue
        ntaps = _segment_taps(sa, sb, seg == 1 and unit, x, w, n_lead, klast, offs, maps + nla,
                              cval, skip_cval, ptrs, wrows, gbuf, gstride, cline)
        _block_sum(orow + sa, sb - sa, ptrs, wrows, ntaps, klast)


cdef inline void _do_pair(
        Py_ssize_t item, Py_ssize_t n_rows, const num_t* x, num_t* out, const num_t* w,
        Py_ssize_t n_chunks, Py_ssize_t m_last, Py_ssize_t klast,
        Py_ssize_t n_lead, Py_ssize_t nla,
        const Py_ssize_t* out_lead, const Py_ssize_t* k_lead,
        const AxisMap* maps, const Py_ssize_t* bounds,
        Py_ssize_t c0, Py_ssize_t c1, bint unit, num_t cval, bint skip_cval,
        Py_ssize_t ahead, Py_ssize_t x_span, Py_ssize_t n_out,
        Py_ssize_t* idx, Py_ssize_t* jdx, Py_ssize_t* offs, Py_ssize_t* poffs,
        const num_t** ptrs, const num_t** wrows, num_t* gbuf, Py_ssize_t gstride,
        const num_t* cline) noexcept nogil:
    """Output rows 2p and 2p + 1 of one column chunk (see ``pair`` in
    _correlate_nd): where both rows read the same source rows shifted by one,
    in place, their interior runs through ``_pair_sum``; anything else (borders,
    cval rows, the seam between two leading indices) as single rows."""
    cdef Py_ssize_t pair = item // n_chunks, q = item - (item // n_chunks) * n_chunks
    cdef Py_ssize_t r0 = 2 * pair, lt, sa = 0, sb = 0, first
    cdef bint two = r0 + 1 < n_rows
    cdef bint ok = two
    if two:
        _row_offsets(r0, n_lead, nla, out_lead, k_lead, maps, idx, jdx, poffs)
        _row_offsets(r0 + 1, n_lead, nla, out_lead, k_lead, maps, idx, jdx, poffs + n_lead)
        sa = bounds[q] if bounds[q] > c0 else c0
        sb = bounds[q + 1] if bounds[q + 1] < c1 else c1
        ok = sb - sa >= 128
        for lt in range(n_lead):
            if not ok:
                break
            if poffs[lt] < 0 or poffs[n_lead + lt] < 0 or (
                    lt + 1 < n_lead and poffs[n_lead + lt] != poffs[lt + 1]):
                ok = False
        _do_item(r0 * n_chunks + q, x, out, w, n_chunks, m_last, klast, n_lead, nla, out_lead,
                 k_lead, maps, bounds, c0, c1, unit, cval, skip_cval, ahead, x_span, n_out,
                 idx, jdx, poffs, ptrs, wrows, gbuf, gstride, cline, ok, True)
        _do_item((r0 + 1) * n_chunks + q, x, out, w, n_chunks, m_last, klast, n_lead, nla,
                 out_lead, k_lead, maps, bounds, c0, c1, unit, cval, skip_cval, ahead, x_span,
                 n_out, idx, jdx, poffs + n_lead, ptrs, wrows, gbuf, gstride, cline, ok, True)
    else:
        _do_item(r0 * n_chunks + q, x, out, w, n_chunks, m_last, klast, n_lead, nla, out_lead,
                 k_lead, maps, bounds, c0, c1, unit, cval, skip_cval, ahead, x_span, n_out,
                 idx, jdx, offs, ptrs, wrows, gbuf, gstride, cline)
    if ok:
        first = _offset(maps + nla, sa)
        for lt in range(n_lead):
            ptrs[lt] = x + poffs[lt] + first
        ptrs[n_lead] = x + poffs[2 * n_lead - 1] + first
        _pair_sum(out + r0 * m_last + sa, out + (r0 + 1) * m_last + sa, sb - sa, ptrs, w, n_lead,
                  klast)


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
    cdef Py_ssize_t* poffs
    # rows in pairs, sharing their loads and shuffles (ndconv_blk2*; AVX-512
    # builds, where both rows' accumulators fit the 32 registers): kernels of
    # one tap per source row (separable passes), and float32 kernels of 6+ taps
    # per row with 2+ rows (2048^2, from memory: 7x7 and 15x15 15-25 % faster,
    # 5x5 20 % slower, 3x3 no gain)
    cdef bint pair = False
    if num_t is float:
        pair = NDCONV_SHUFFLE_BLOCK and (klast == 1 or klast >= 6) and n_lead >= 2 and unit and c1 - c0 >= 128
    elif num_t is double:
        pair = NDCONV_SHUFFLE_BLOCK and klast == 1 and n_lead >= 2 and unit and c1 - c0 >= 128
    if pair:
        n_items = ((n_rows + 1) // 2) * n_chunks
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
    idx = jdx = offs = poffs = NULL
    i = 0
    ptrs = wrows = NULL
    gbuf = cline = NULL
    if n_threads < 1:
        n_threads = 1
    if n_threads > n_items:
        n_threads = <int>n_items
    with parallel(num_threads=n_threads):
        # per-thread scratch: O(taps x chunk), independent of the input size
        idx = <Py_ssize_t*>malloc((2 * nla + 3 * n_lead + 1) * sizeof(Py_ssize_t))
        jdx = idx + nla
        offs = jdx + nla
        poffs = offs + n_lead
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
        # guided: runs of neighbouring rows (source rows still in cache), and
        # fewer grabs of the shared counter than one row at a time, which cost
        # 10 % at 2 threads on 3x3 rows of a few hundred nanoseconds
        for item in prange(n_items, schedule="guided", chunksize=1):
            if idx == NULL or ptrs == NULL or wrows == NULL or cline == NULL or gbuf == NULL:
                pass
            elif pair:
                _do_pair(item, n_rows, x, out, w, n_chunks, m_last, klast, n_lead, nla,
                         out_lead, k_lead, maps, bounds, c0, c1, unit,
                         cval, skip_cval, 2 * n_threads if n_chunks == 1 else 0, x_span,
                         n_rows * m_last, idx, jdx, offs, poffs, ptrs, wrows, gbuf, gstride, cline)
            else:
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
        num_t cval, int n_threads) noexcept nogil:
    """Returns 0 on success, -1 if scratch could not be allocated."""
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
    cdef int* failp = &failed
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
    pos = NULL
    buf = tmp = NULL
    ptrs = wrows = NULL
    with parallel(num_threads=n_threads):
        pos = <Py_ssize_t*>malloc(5 * nd * sizeof(Py_ssize_t))
        # zeroed: positions that are dropped may read parts no tile wrote
        buf = <num_t*>calloc(n_buf, sizeof(num_t))
        tmp = <num_t*>malloc(n_tmp * sizeof(num_t))
        ptrs = <const num_t**>malloc(n_lead * sizeof(num_t*))
        wrows = <const num_t**>malloc(n_lead * sizeof(num_t*))
        if pos == NULL or buf == NULL or tmp == NULL or ptrs == NULL or wrows == NULL:
            failp[0] = 1
        for item in prange(n_items, schedule="dynamic", chunksize=1):
            if pos != NULL and buf != NULL and tmp != NULL and ptrs != NULL and wrows != NULL:
                _merged_item(item, x, out, w, nd, g0, R, n_slabs, m, k, L, maps, bshape, bstr,
                             ostr, n_lead, toff, cval, pos, buf, tmp, ptrs, wrows)
        free(pos)
        free(buf)
        free(tmp)
        free(<void*>ptrs)
        free(<void*>wrows)
    free(toff)
    return -1 if failed else 0


def correlate_merged(const num_t[::1] x, num_t[::1] out, const num_t[::1] w,
                     const Py_ssize_t[::1] out_shape, const Py_ssize_t[::1] k_shape,
                     const Py_ssize_t[:, ::1] axis_params, const Py_ssize_t[::1] bands,
                     Py_ssize_t g0, Py_ssize_t tile_rows, num_t cval, int n_threads):
    """``correlate_nd`` for short rows: axes ``g0..`` are fused into one row.

    Same arguments as ``correlate_nd`` (without the chunking), plus the first
    fused axis ``g0`` and the number of output rows of axis ``g0`` per tile.
    Each thread extends one tile of the input at a time into its own scratch
    (size ``prod(k[:g0]) * (tile_rows + k[g0] - 1) * prod(m[g0+1:] + k[g0+1:] - 1)``),
    so the extra memory is O(threads x tile), and computes it there.
    """
    cdef Py_ssize_t nd = out_shape.shape[0], a, n_out = 1, n_k = 1
    cdef Py_ssize_t lengths[64]
    cdef AxisMap maps[64]
    cdef int rc
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
    with nogil:
        rc = _correlate_merged(&x[0], &out[0], &w[0], nd, g0, tile_rows, &out_shape[0],
                               &k_shape[0], lengths, maps, cval, n_threads)
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


def widest_block(str kind):
    """Outputs per register block of the widest kernel for a dtype kind
    (``numpy.dtype.char``): segments of a row narrower than this run the
    narrower blocks, which have too few independent FMA chains to hide latency."""
    if kind == "f":
        return 128 if NDCONV_WIDE_BLOCKS else 64
    if kind == "d":
        return 64 if NDCONV_WIDE_BLOCKS else 32
    return 32


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
    cdef Py_ssize_t a, n_out = 1, n_k = 1, n_rows = 1, n_lead = 1
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t span = x.shape[0]
    cdef Py_ssize_t lengths[64]
    cdef AxisMap maps[64]
    cdef int rc
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

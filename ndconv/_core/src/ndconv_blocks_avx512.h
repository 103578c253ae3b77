/* The AVX-512 build's own blocks of the direct path (one-row shuffle blocks,
   four-row block, rolling rows); elsewhere NDCONV_SHUFFLE_BLOCK is 0, the
   one-row stubs below are never called and ndconv_blocks.h supplies the
   row-sharing blocks. */
#ifndef NDCONV_BLOCKS_AVX512_H
#define NDCONV_BLOCKS_AVX512_H

#include "ndconv_simd.h"
#include "ndconv_vec.h"

/* AVX-512 float32 block of 128 outputs (and float64 of 64) that halves the
   unaligned loads.

   The plain block loads p[j + 16v .. +16) for every tap j: one unaligned
   512-bit load per FMA, nearly every one crossing a cache line, and those
   loads, not the FMAs, set the pace (about one per cycle).  Here the even
   taps instead shift a window of aligned vectors with vpermt2ps (shuffle
   pipes), the odd taps keep the plain loads (load pipes), so both kinds of
   pipe feed the FMAs.  Every output keeps its tap order and its FMA chain: results are
   bitwise those of the plain block.

   Memory: the aligned vectors are read only where they contain an element
   the plain block reads, so they never leave the cache lines (and pages)
   it touches; the part of a line before p (and after the last element
   read) that they also cover is not part of the result.  Under
   AddressSanitizer those bytes would be reported, so there the window
   loads read only the lanes the block uses (NDCONV_WLOAD). */
#if NDCONV_WIDE_BLOCKS && defined(__AVX512F__)
#include <immintrin.h>
#include <stdint.h>
#define NDCONV_SHUFFLE_BLOCK 1
/* One aligned vector of a window: pa + at .. + L, of which only the lanes
   lo..hi (indices from pa) hold elements the block reads.  Under ASan
   exactly those are read, one by one (instrumented), and the other lanes
   are zero: ASan then checks every byte a result depends on, and a lane
   outside lo..hi reaching a result would make it differ from the other
   blocks' (the tests compare them bit for bit).  Same sums, same order. */
#if NDCONV_ASAN
#define NDCONV_WLOAD_CHECKED(T, S, L)                                                           \
static inline ndv_##S ndconv_wload_##S(const T* pa, ptrdiff_t at, ptrdiff_t lo, ptrdiff_t hi) { \
    T lanes[L] __attribute__((aligned(64)));                                                    \
    for (ptrdiff_t e = 0; e < L; e++)                                                           \
        lanes[e] = (at + e >= lo && at + e <= hi) ? pa[at + e] : (T)0;                          \
    return ndv_##S##_load(lanes);                                                               \
}
NDCONV_WLOAD_CHECKED(float, f32, 16)
NDCONV_WLOAD_CHECKED(double, f64, 8)
#define NDCONV_WLOAD(S, PA, AT, LO, HI) ndconv_wload_##S((PA), (AT), (LO), (HI))
#else
#define NDCONV_WLOAD(S, PA, AT, LO, HI) ndv_##S##_load((PA) + (AT))
#endif
static const int32_t ndconv_shift_idx[16][16] __attribute__((aligned(64))) = {
    {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15}, {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16},
    {2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17}, {3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18},
    {4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19}, {5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20},
    {6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21}, {7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22},
    {8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23}, {9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24},
    {10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25}, {11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26},
    {12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27}, {13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28},
    {14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29}, {15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30}};
/* The one-row block for element type T (the vector layer's suffix S, L lanes,
   IDX the shift table of its lane size, PERM the two-source permute): 8
   vectors = 8 L outputs from column c.  (Accumulators and window as named
   registers, as in the four-row block.) */
#define NDCONV_BLK1(NAME, T, S, L, IDX, PERM)                                                   \
static inline void NAME(T* o, ptrdiff_t c, const T** ptrs, const T** wrows, ptrdiff_t ntaps,    \
                        ptrdiff_t klast) {                                                      \
    ndv_##S a0 = ndv_##S##_zero(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,        \
            a7 = a0;                                                                            \
    for (ptrdiff_t r = 0; r < ntaps; r++) {                                                     \
        const T* p = ptrs[r] + c;                                                               \
        const T* wr = wrows[r];                                                                 \
        ptrdiff_t s = (ptrdiff_t)(((uintptr_t)p & 63) >> (sizeof(T) == 4 ? 2 : 3));             \
        const T* pa = p - s;                    /* the aligned vector holding p[0] */           \
        ptrdiff_t top = s + (8 * L - 1) + klast - 1;  /* last element read, from pa */          \
        ptrdiff_t next = 9 * L;                 /* next aligned vector, from pa */              \
        ndv_##S v0 = NDCONV_WLOAD(S, pa, 0, s, top), v1 = NDCONV_WLOAD(S, pa, L, s, top),       \
                v2 = NDCONV_WLOAD(S, pa, 2 * L, s, top), v3 = NDCONV_WLOAD(S, pa, 3 * L, s, top),   \
                v4 = NDCONV_WLOAD(S, pa, 4 * L, s, top), v5 = NDCONV_WLOAD(S, pa, 5 * L, s, top),   \
                v6 = NDCONV_WLOAD(S, pa, 6 * L, s, top), v7 = NDCONV_WLOAD(S, pa, 7 * L, s, top),   \
                v8 = NDCONV_WLOAD(S, pa, 8 * L, s, top);                                        \
        for (ptrdiff_t j = 0; j < klast; j++, s++) {                                            \
            ndv_##S w = ndv_##S##_set1(wr[j]);                                                  \
            if (s >= L) {   /* slide the window one vector on */                                \
                s -= L;                                                                         \
                v0 = v1; v1 = v2; v2 = v3; v3 = v4; v4 = v5; v5 = v6; v6 = v7; v7 = v8;         \
                if (next <= top) v8 = NDCONV_WLOAD(S, pa, next, 0, top);                        \
                next += L;                                                                      \
            }                                                                                   \
            if (j & 1) {                                                                        \
                const T* q = p + j;                                                             \
                a0 = ndv_##S##_fma(w, ndv_##S##_loadu(q), a0);                                  \
                a1 = ndv_##S##_fma(w, ndv_##S##_loadu(q + L), a1);                              \
                a2 = ndv_##S##_fma(w, ndv_##S##_loadu(q + 2 * L), a2);                          \
                a3 = ndv_##S##_fma(w, ndv_##S##_loadu(q + 3 * L), a3);                          \
                a4 = ndv_##S##_fma(w, ndv_##S##_loadu(q + 4 * L), a4);                          \
                a5 = ndv_##S##_fma(w, ndv_##S##_loadu(q + 5 * L), a5);                          \
                a6 = ndv_##S##_fma(w, ndv_##S##_loadu(q + 6 * L), a6);                          \
                a7 = ndv_##S##_fma(w, ndv_##S##_loadu(q + 7 * L), a7);                          \
            } else if (s == 0) {                                                                \
                a0 = ndv_##S##_fma(w, v0, a0); a1 = ndv_##S##_fma(w, v1, a1);                   \
                a2 = ndv_##S##_fma(w, v2, a2); a3 = ndv_##S##_fma(w, v3, a3);                   \
                a4 = ndv_##S##_fma(w, v4, a4); a5 = ndv_##S##_fma(w, v5, a5);                   \
                a6 = ndv_##S##_fma(w, v6, a6); a7 = ndv_##S##_fma(w, v7, a7);                   \
            } else {                                                                            \
                __m512i ix = _mm512_load_si512((const void*)IDX[s]);                            \
                a0 = ndv_##S##_fma(w, PERM(v0, ix, v1), a0);                                    \
                a1 = ndv_##S##_fma(w, PERM(v1, ix, v2), a1);                                    \
                a2 = ndv_##S##_fma(w, PERM(v2, ix, v3), a2);                                    \
                a3 = ndv_##S##_fma(w, PERM(v3, ix, v4), a3);                                    \
                a4 = ndv_##S##_fma(w, PERM(v4, ix, v5), a4);                                    \
                a5 = ndv_##S##_fma(w, PERM(v5, ix, v6), a5);                                    \
                a6 = ndv_##S##_fma(w, PERM(v6, ix, v7), a6);                                    \
                a7 = ndv_##S##_fma(w, PERM(v7, ix, v8), a7);                                    \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
    ndv_##S##_storeu(o + c, a0); ndv_##S##_storeu(o + c + L, a1);                               \
    ndv_##S##_storeu(o + c + 2 * L, a2); ndv_##S##_storeu(o + c + 3 * L, a3);                   \
    ndv_##S##_storeu(o + c + 4 * L, a4); ndv_##S##_storeu(o + c + 5 * L, a5);                   \
    ndv_##S##_storeu(o + c + 6 * L, a6); ndv_##S##_storeu(o + c + 7 * L, a7);                   \
}
static const int64_t ndconv_shift_idx64[8][8] __attribute__((aligned(64))) = {
    {0,1,2,3,4,5,6,7}, {1,2,3,4,5,6,7,8}, {2,3,4,5,6,7,8,9}, {3,4,5,6,7,8,9,10},
    {4,5,6,7,8,9,10,11}, {5,6,7,8,9,10,11,12}, {6,7,8,9,10,11,12,13}, {7,8,9,10,11,12,13,14}};
NDCONV_BLK1(ndconv_blk128_f32, float, f32, 16, ndconv_shift_idx, _mm512_permutex2var_ps)
NDCONV_BLK1(ndconv_blk64_f64, double, f64, 8, ndconv_shift_idx64, _mm512_permutex2var_pd)
/* Four neighbouring output rows of 4 vectors each (64 float32 or 32
   float64 outputs per row): the rows of a kernel slide over the same
   source rows, so every shifted vector built from a source row feeds up
   to four FMAs, one per output row it reaches (kernel rows s, s-1, s-2,
   s-3), instead of one.  For 5x5 that is 2.5 FMAs per shifted vector
   against 1 in the one-row block, which leaves the FMA pipes, not loads
   and shuffles, setting the pace.  Shifted vectors are built as in the
   one-row block (even taps shuffled from aligned loads, odd taps loaded
   unaligned; all loaded when there is one tap per row).

   The kernel's leading taps form ``n_groups`` groups of ``kb`` rows
   (kb = size of the last leading axis; 1 group for 2-D): output row i,
   tap (g, t) reads source row src[g * (kb + 3) + t + i].  Row i keeps the
   tap order and FMA chain of the one-row block, so the sums are bitwise
   those of every other block.  Not inlined: inside the caller's parallel
   region gcc ran short of general registers and spilled the loop's
   scalars, at less than half the speed. */
/* The shifted vectors of the row-sharing blocks below, as in the one-row
   blocks: for source row ``p`` (``klast`` taps), a window ``win`` of NV + 1
   aligned vectors from ``pa``; tap j's NV vectors x[v] = p[j + v L ..] are
   shuffled from it for even j, loaded unaligned for odd j (and for every
   tap of a one-tap row, where a window would cost more than it saves).
   Every array index is a constant once the loops over v are unrolled, so
   gcc keeps the arrays in registers. */
#define NDCONV_WINDOW(T, S, L, NV)                                                              \
    ptrdiff_t s = (ptrdiff_t)(((uintptr_t)p & 63) / sizeof(T));                                 \
    const T* pa = p - s;                                                                        \
    ptrdiff_t top = s + NV * L - 1 + klast - 1, next = (NV + 1) * L;                            \
    ndv_##S win[NV + 1];                                                                        \
    _Pragma("GCC unroll 8") for (int v = 0; v <= NV; v++) win[v] = ndv_##S##_zero();            \
    if (klast > 1) {                                                                            \
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)                                    \
            win[v] = NDCONV_WLOAD(S, pa, v * L, s, top);                                        \
        if (NV * L <= top) win[NV] = NDCONV_WLOAD(S, pa, NV * L, s, top);                       \
    }
#define NDCONV_SHIFTED(T, S, L, NV, IDX, PERM)                                                  \
    ndv_##S x[NV];                                                                              \
    if (s >= L) {   /* slide the window one vector on */                                        \
        s -= L;                                                                                 \
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) win[v] = win[v + 1];               \
        if (next <= top) win[NV] = NDCONV_WLOAD(S, pa, next, 0, top);                           \
        next += L;                                                                              \
    }                                                                                           \
    if ((j & 1) || klast == 1) {                                                                \
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)                                    \
            x[v] = ndv_##S##_loadu(p + j + v * L);                                              \
    } else if (s == 0) {                                                                        \
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) x[v] = win[v];                     \
    } else {                                                                                    \
        __m512i ix = _mm512_load_si512((const void*)IDX[s]);                                    \
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)                                    \
            x[v] = PERM(win[v], ix, win[v + 1]);                                                \
    }
#define NDCONV_FMA4(S, U, W, A0, A1, A2, A3)                                                    \
    if (U) { ndv_##S wv = ndv_##S##_set1((W)[j]);                                               \
             A0 = ndv_##S##_fma(wv, x[0], A0); A1 = ndv_##S##_fma(wv, x[1], A1);                \
             A2 = ndv_##S##_fma(wv, x[2], A2); A3 = ndv_##S##_fma(wv, x[3], A3); }
#define NDCONV_STORE4(S, L, O, A0, A1, A2, A3)                                                  \
    ndv_##S##_storeu(O, A0); ndv_##S##_storeu(O + L, A1);                                       \
    ndv_##S##_storeu(O + 2 * L, A2); ndv_##S##_storeu(O + 3 * L, A3);
/* (Accumulators as named registers: as arrays, slower at 9x9-15x15.) */
#define NDCONV_BLK4(NAME, T, S, L, IDX, PERM)                                                   \
static __attribute__((noinline)) void NAME(T* o, ptrdiff_t ostr, ptrdiff_t c, const T** src,    \
                                           const T* w, ptrdiff_t n_groups, ptrdiff_t kb,        \
                                           ptrdiff_t klast) {                                   \
    ndv_##S a00 = ndv_##S##_zero(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00,      \
      a12 = a00, a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00,   \
      a32 = a00, a33 = a00;                                                                     \
    for (ptrdiff_t g = 0; g < n_groups; g++) {                                                  \
        const T** sg = src + g * (kb + 3);                                                      \
        const T* wg = w + g * kb * klast;                                                       \
        for (ptrdiff_t r = 0; r < kb + 3; r++) {                                                \
            const T* p = sg[r] + c;                                                             \
            /* output row i takes kernel row r - i, if it exists */                             \
            int u0 = r < kb, u1 = r >= 1 && r <= kb, u2 = r >= 2 && r <= kb + 1,                \
                u3 = r >= 3;                                                                    \
            const T* w0 = wg + r * klast;                                                       \
            const T* w1 = w0 - klast;                                                           \
            const T* w2 = w1 - klast;                                                           \
            const T* w3 = w2 - klast;                                                           \
            NDCONV_WINDOW(T, S, L, 4)                                                           \
            for (ptrdiff_t j = 0; j < klast; j++, s++) {                                        \
                NDCONV_SHIFTED(T, S, L, 4, IDX, PERM)                                           \
                NDCONV_FMA4(S, u0, w0, a00, a01, a02, a03)                                      \
                NDCONV_FMA4(S, u1, w1, a10, a11, a12, a13)                                      \
                NDCONV_FMA4(S, u2, w2, a20, a21, a22, a23)                                      \
                NDCONV_FMA4(S, u3, w3, a30, a31, a32, a33)                                      \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
    T* o0 = o + c;                                                                              \
    NDCONV_STORE4(S, L, o0, a00, a01, a02, a03)                                                 \
    o0 += ostr;                                                                                 \
    NDCONV_STORE4(S, L, o0, a10, a11, a12, a13)                                                 \
    o0 += ostr;                                                                                 \
    NDCONV_STORE4(S, L, o0, a20, a21, a22, a23)                                                 \
    o0 += ostr;                                                                                 \
    NDCONV_STORE4(S, L, o0, a30, a31, a32, a33)                                                 \
}
NDCONV_BLK4(ndconv_blk4_f32, float, f32, 16, ndconv_shift_idx, _mm512_permutex2var_ps)
NDCONV_BLK4(ndconv_blk4_f64, double, f64, 8, ndconv_shift_idx64, _mm512_permutex2var_pd)
/* Rolling rows: a column strip of NV vectors (64 float32 / 32 float64
   outputs for kernels of up to 5 rows, 48 / 24 for 6-7) swept down ``h``
   output rows of a kernel with KB rows.  The accumulators of the KB
   output rows that a source row reaches stay in registers; each source
   row's shifted vectors (built as in the one-row block) feed all KB of
   them, and when a source row is done the oldest output row is complete:
   it is stored and its registers start the next row.  So each shifted
   vector feeds KB FMAs (5 for 5x5, against 2.5 in the four-row block and
   1 in the one-row block), and no output is loaded or stored twice.

   Output row i is sum_t sum_j w[t][j] src[i + t][c + j ..], the weights
   given tap-major (wt[j KB + t] = w[t][j], ndconv_roll_weights_*); the KB - 1
   source rows before the first output row of the strip (and after its
   last) also feed rows outside the strip, which are computed and dropped
   (KB - 1 rows per strip of ``h``).  Row i accumulates its taps in the
   one-row block's order from +0.0, so the sums are bitwise those of every
   other block.  ``pfd`` > 0: prefetch the lines of each row that the
   strip ``pfd`` samples on reads and the strip before it does not
   (NDCONV_PREFETCH_STRIP).  ``nt``: output rows that start a cache line
   are stored with non-temporal stores (the caller fences:
   ndv_stream_fence).  The arrays of
   accumulators have constant indices only (every loop over them is
   unrolled), so gcc keeps them in registers. */
/* One source row's taps into the accumulators of kernel rows TLO..THI: with
   constants 0, KB - 1 (the full rows), a loop that tests nothing (as
   ndv_roll_row_ in ndconv_rows_tmpl.h). */
#define NDCONV_ROLL_TAPS(T, S, L, NV, KB, IDX, PERM, TLO, THI)                                  \
    {                                                                                           \
        NDCONV_WINDOW(T, S, L, NV)                                                              \
        for (ptrdiff_t j = 0; j < klast; j++, s++) {                                            \
            NDCONV_SHIFTED(T, S, L, NV, IDX, PERM)                                              \
            _Pragma("GCC unroll 16") for (int t = 0; t < KB; t++) {                             \
                if (t >= (TLO) && t <= (THI)) {                                                 \
                    ndv_##S wv = ndv_##S##_set1(wt[j * KB + t]);                                \
                    _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)                        \
                        acc[t][v] = ndv_##S##_fma(wv, x[v], acc[t][v]);                         \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    }
#define NDCONV_ROLL(NAME, T, S, L, NV, KB, IDX, PERM)                                           \
static __attribute__((noinline)) void NAME(T* o, ptrdiff_t ostr, ptrdiff_t c, const T** src,    \
                                           ptrdiff_t h, const T* wt, ptrdiff_t klast,           \
                                           ptrdiff_t pfd, int nt) {                             \
    ndv_##S acc[KB][NV];                                                                        \
    _Pragma("GCC unroll 16") for (int t = 0; t < KB; t++)                                       \
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) acc[t][v] = ndv_##S##_zero();      \
    for (ptrdiff_t r = 0; r < h + KB - 1; r++) {                                                \
        const T* p = src[r] + c;                                                                \
        if (pfd > 0)                                                                            \
            NDCONV_PREFETCH_STRIP(NDCONV_PREFETCH, T, p, pfd, NV * L, klast - 1);               \
        /* kernel rows tlo..thi reach output rows of the strip (all of                          \
           them but in the first and last KB - 1 source rows) */                                \
        int tlo = r - h + 1 > 0 ? (int)(r - h + 1) : 0, thi = r < KB - 1 ? (int)r : KB - 1;     \
        if (tlo == 0 && thi == KB - 1) {                                                        \
            NDCONV_ROLL_TAPS(T, S, L, NV, KB, IDX, PERM, 0, KB - 1)                             \
        } else {                                                                                \
            NDCONV_ROLL_TAPS(T, S, L, NV, KB, IDX, PERM, tlo, thi)                              \
        }                                                                                       \
        if (r >= KB - 1) {                                                                      \
            T* q = o + (r - KB + 1) * ostr + c;                                                 \
            if (pfd > 0)                                                                        \
                NDCONV_PREFETCH_STRIP(NDCONV_PREFETCHW, T, q, pfd, NV * L, 0);                  \
            NDV_STORE_ROW(ndv_##S##_stream, ndv_##S##_storeu, L, NV, q, acc[KB - 1], nt)        \
        }                                                                                       \
        _Pragma("GCC unroll 16") for (int t = KB - 1; t > 0; t--)                               \
            _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) acc[t][v] = acc[t - 1][v];     \
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) acc[0][v] = ndv_##S##_zero();      \
    }                                                                                           \
}
#define NDCONV_ROLL_F32(KB, NV)                                                                 \
    NDCONV_ROLL(ndconv_roll##KB##_f32, float, f32, 16, NV, KB, ndconv_shift_idx, _mm512_permutex2var_ps)
#define NDCONV_ROLL_F64(KB, NV)                                                                 \
    NDCONV_ROLL(ndconv_roll##KB##_f64, double, f64, 8, NV, KB, ndconv_shift_idx64, _mm512_permutex2var_pd)
NDCONV_ROLL_F32(2, 4) NDCONV_ROLL_F32(3, 4) NDCONV_ROLL_F32(4, 4) NDCONV_ROLL_F32(5, 4)
NDCONV_ROLL_F32(6, 3) NDCONV_ROLL_F32(7, 3)
NDCONV_ROLL_F64(2, 4) NDCONV_ROLL_F64(3, 4) NDCONV_ROLL_F64(4, 4) NDCONV_ROLL_F64(5, 4)
NDCONV_ROLL_F64(6, 3) NDCONV_ROLL_F64(7, 3)
#define NDCONV_ROLL_MAX 7
/* Outputs per strip of the rolling kernel for KB kernel rows (0: none). */
static inline ptrdiff_t ndconv_roll_width(ptrdiff_t kb, ptrdiff_t lanes) {
    return (kb < 2 || kb > NDCONV_ROLL_MAX) ? 0 : (kb <= 5 ? 4 : 3) * lanes;
}
#define NDCONV_ROLL_DISPATCH(NAME, T, SUF)                                                      \
static inline void NAME(ptrdiff_t kb, T* o, ptrdiff_t ostr, ptrdiff_t c, const T** src,         \
                        ptrdiff_t h, const T* w, ptrdiff_t klast, ptrdiff_t pfd, int nt) {      \
    switch (kb) {                                                                               \
    case 2: ndconv_roll2_##SUF(o, ostr, c, src, h, w, klast, pfd, nt); break;                   \
    case 3: ndconv_roll3_##SUF(o, ostr, c, src, h, w, klast, pfd, nt); break;                   \
    case 4: ndconv_roll4_##SUF(o, ostr, c, src, h, w, klast, pfd, nt); break;                   \
    case 5: ndconv_roll5_##SUF(o, ostr, c, src, h, w, klast, pfd, nt); break;                   \
    case 6: ndconv_roll6_##SUF(o, ostr, c, src, h, w, klast, pfd, nt); break;                   \
    case 7: ndconv_roll7_##SUF(o, ostr, c, src, h, w, klast, pfd, nt); break;                   \
    default: break;                                                                             \
    }                                                                                           \
}
NDCONV_ROLL_DISPATCH(ndconv_roll_f32, float, f32)
NDCONV_ROLL_DISPATCH(ndconv_roll_f64, double, f64)
#else
#define NDCONV_SHUFFLE_BLOCK 0
static inline void ndconv_blk128_f32(float* o, ptrdiff_t c, const float** ptrs,
                                     const float** wrows, ptrdiff_t ntaps, ptrdiff_t klast) {
    (void)o; (void)c; (void)ptrs; (void)wrows; (void)ntaps; (void)klast;   /* never called */
}
static inline void ndconv_blk64_f64(double* o, ptrdiff_t c, const double** ptrs,
                                    const double** wrows, ptrdiff_t ntaps, ptrdiff_t klast) {
    (void)o; (void)c; (void)ptrs; (void)wrows; (void)ntaps; (void)klast;   /* never called */
}
#endif

#endif

/* Body of ndconv_rows.h for one element type: NDV_T (float or double),
   NDV_SUF (f32 or f64, the vector layer's suffix), NDV_L (lanes).  Included
   once per type; no include guard on purpose. */
#define V NDV_XGLUE(ndv_, NDV_SUF)
#define OP(name) NDV_XGLUE(NDV_XGLUE(ndv_, NDV_SUF), name)
#define FN(name) NDV_XGLUE(name, NDV_SUF)

/* Four output rows (ostr apart) of NDV_QUAD_NV vectors from column c. */
NDV_NOINLINE void FN(ndv_quad_)(NDV_T* o, ptrdiff_t ostr, ptrdiff_t c, const NDV_T** src,
                                const NDV_T* w, ptrdiff_t n_groups, ptrdiff_t kb, ptrdiff_t klast) {
    V acc[4][NDV_QUAD_NV];
    NDV_UNROLL(4) for (int i = 0; i < 4; i++)
        NDV_UNROLL(4) for (int v = 0; v < NDV_QUAD_NV; v++) acc[i][v] = OP(_zero)();
    for (ptrdiff_t g = 0; g < n_groups; g++) {
        const NDV_T** sg = src + g * (kb + 3);
        const NDV_T* wg = w + g * kb * klast;
        for (ptrdiff_t r = 0; r < kb + 3; r++) {
            const NDV_T* p = sg[r] + c;
            /* output row i takes kernel row r - i, if it exists */
            int use[4];
            NDV_UNROLL(4) for (int i = 0; i < 4; i++) use[i] = r - i >= 0 && r - i < kb;
            for (ptrdiff_t j = 0; j < klast; j++) {
                V x[NDV_QUAD_NV];
                NDV_UNROLL(4) for (int v = 0; v < NDV_QUAD_NV; v++) x[v] = OP(_loadu)(p + j + v * NDV_L);
                NDV_UNROLL(4) for (int i = 0; i < 4; i++) {
                    if (use[i]) {
                        V wv = OP(_set1)(wg[(r - i) * klast + j]);
                        NDV_UNROLL(4) for (int v = 0; v < NDV_QUAD_NV; v++)
                            acc[i][v] = OP(_fma)(wv, x[v], acc[i][v]);
                    }
                }
            }
        }
    }
    NDV_UNROLL(4) for (int i = 0; i < 4; i++)
        NDV_UNROLL(4) for (int v = 0; v < NDV_QUAD_NV; v++)
            OP(_storeu)(o + i * ostr + c + v * NDV_L, acc[i][v]);
}

/* One source row's taps into the accumulators of kernel rows tlo..thi (all
   KB of them but at a strip's first and last KB - 1 source rows).  Called
   with constants 0, KB - 1 for those full rows, so that their loop tests
   nothing: with tap-major weights gcc no longer hoisted that test out of the
   tap loop of 3x3 itself, which then ran at 0.91x the speed (benchmarks/c,
   AVX2). */
NDV_INLINE void FN(ndv_roll_row_)(V (*acc)[NDV_ROLL_NVMAX], const NDV_T* p, const NDV_T* wt,
                                  ptrdiff_t klast, int tlo, int thi, const int KB, const int NV) {
    for (ptrdiff_t j = 0; j < klast; j++) {
        V x[NDV_ROLL_NVMAX];
        NDV_UNROLL(8) for (int v = 0; v < NV; v++) x[v] = OP(_loadu)(p + j + v * NDV_L);
        NDV_UNROLL(8) for (int t = 0; t < KB; t++) {
            if (t >= tlo && t <= thi) {
                V wv = OP(_set1)(wt[j * KB + t]);
                NDV_UNROLL(8) for (int v = 0; v < NV; v++) acc[t][v] = OP(_fma)(wv, x[v], acc[t][v]);
            }
        }
    }
}

/* Rolling rows: the strip of NV vectors from column c, h output rows, a
   kernel of KB rows given tap-major (wt: klast x KB, wt[j KB + t] = w[t][j],
   ndconv_roll_weights_*).  pfd > 0: prefetch the lines of each
   source and output row that the strip pfd on reads and the strip before
   it does not (NDCONV_PREFETCH_STRIP; pfd = the strip's width: the next).
   nt: output rows that start a cache line are stored with non-temporal
   stores (the caller fences: ndv_stream_fence).  KB and NV are
   constants in every caller, so the loops over them unroll and the
   accumulators stay in registers. */
NDV_INLINE void FN(ndv_roll_body_)(NDV_T* o, ptrdiff_t ostr, ptrdiff_t c, const NDV_T** src,
                                   ptrdiff_t h, const NDV_T* wt, ptrdiff_t klast, ptrdiff_t pfd,
                                   int nt, const int KB, const int NV) {
    V acc[NDV_ROLL_MAX][NDV_ROLL_NVMAX];
    NDV_UNROLL(8) for (int t = 0; t < KB; t++)
        NDV_UNROLL(8) for (int v = 0; v < NV; v++) acc[t][v] = OP(_zero)();
    for (ptrdiff_t r = 0; r < h + KB - 1; r++) {
        const NDV_T* p = src[r] + c;
        if (pfd > 0)
            NDCONV_PREFETCH_STRIP(NDCONV_PREFETCH, NDV_T, p, pfd, NV * NDV_L, klast - 1);
        /* kernel rows tlo..thi reach output rows of the strip (all of them
           but in the first and last KB - 1 source rows) */
        int tlo = r - h + 1 > 0 ? (int)(r - h + 1) : 0, thi = r < KB - 1 ? (int)r : KB - 1;
        if (tlo == 0 && thi == KB - 1)
            FN(ndv_roll_row_)(acc, p, wt, klast, 0, KB - 1, KB, NV);
        else
            FN(ndv_roll_row_)(acc, p, wt, klast, tlo, thi, KB, NV);
        if (r >= KB - 1) {
            NDV_T* q = o + (r - KB + 1) * ostr + c;
            if (pfd > 0)
                NDCONV_PREFETCH_STRIP(NDCONV_PREFETCHW, NDV_T, q, pfd, NV * NDV_L, 0);
            NDV_STORE_ROW(OP(_stream), OP(_storeu), NDV_L, NV, q, acc[KB - 1], nt)
        }
        NDV_UNROLL(8) for (int t = KB - 1; t > 0; t--)
            NDV_UNROLL(8) for (int v = 0; v < NV; v++) acc[t][v] = acc[t - 1][v];
        NDV_UNROLL(8) for (int v = 0; v < NV; v++) acc[0][v] = OP(_zero)();
    }
}

#define NDV_ROLL_KB(KB)                                                                       \
    NDV_NOINLINE void NDV_XGLUE(FN(ndv_roll_), _##KB)(NDV_T* o, ptrdiff_t ostr, ptrdiff_t c,   \
            const NDV_T** src, ptrdiff_t h, const NDV_T* w, ptrdiff_t klast, ptrdiff_t pfd,   \
            int nt) {                                                                         \
        FN(ndv_roll_body_)(o, ostr, c, src, h, w, klast, pfd, nt, KB, NDV_ROLL_NV(KB));       \
    }
NDV_ROLL_KB(2) NDV_ROLL_KB(3) NDV_ROLL_KB(4) NDV_ROLL_KB(5) NDV_ROLL_KB(6) NDV_ROLL_KB(7)
#undef NDV_ROLL_KB

/* The rolling rows for a kernel of kb rows (2..7; others do nothing). */
static inline void FN(ndv_roll_)(ptrdiff_t kb, NDV_T* o, ptrdiff_t ostr, ptrdiff_t c,
                                 const NDV_T** src, ptrdiff_t h, const NDV_T* w, ptrdiff_t klast,
                                 ptrdiff_t pfd, int nt) {
    switch (kb) {
    case 2: NDV_XGLUE(FN(ndv_roll_), _2)(o, ostr, c, src, h, w, klast, pfd, nt); break;
    case 3: NDV_XGLUE(FN(ndv_roll_), _3)(o, ostr, c, src, h, w, klast, pfd, nt); break;
    case 4: NDV_XGLUE(FN(ndv_roll_), _4)(o, ostr, c, src, h, w, klast, pfd, nt); break;
    case 5: NDV_XGLUE(FN(ndv_roll_), _5)(o, ostr, c, src, h, w, klast, pfd, nt); break;
    case 6: NDV_XGLUE(FN(ndv_roll_), _6)(o, ostr, c, src, h, w, klast, pfd, nt); break;
    case 7: NDV_XGLUE(FN(ndv_roll_), _7)(o, ostr, c, src, h, w, klast, pfd, nt); break;
    default: break;
    }
}

#undef V
#undef OP
#undef FN

/* Body of ndconv_sep.h for one element type: NDV_SEP_T (float or double)
   and NDV_SEP_SUF (f32 or f64, the vector layer's suffix).  Included once
   per type; no include guard on purpose. */
#define NDV_T NDV_SEP_T
#define NDV_L ((ptrdiff_t)(NDV_ISA == 1 ? 1 : NDV_BITS / 8 / (int)sizeof(NDV_T)))
#define V NDV_XGLUE(ndv_, NDV_SEP_SUF)
#define OP(name) NDV_XGLUE(NDV_XGLUE(ndv_, NDV_SEP_SUF), name)
#define FN(name) NDV_XGLUE(name, NDV_SEP_SUF)

/* o[c] = sum_t w[t] * rows[t][c] for c < n, the vertical pass; the
   horizontal pass is the same sum over the rows s, s + 1, .., s + k - 1.
   Blocks of NDV_SEP_NV vectors, then single vectors, then scalars; a
   remainder after whole blocks is one more block ending at n, overlapping
   outputs already written with the same values (same code, same order). */
NDV_NOINLINE void FN(ndv_sep_sum_)(NDV_T* o, const NDV_T* const* rows, ptrdiff_t n, const NDV_T* w,
                                   ptrdiff_t k) {
    const ptrdiff_t B = NDV_SEP_NV * NDV_L;
    ptrdiff_t c = 0;
    if (n >= B) {
        for (;;) {
            if (c + B > n)
                c = n - B;
            V acc[NDV_SEP_NV];
            NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV; v++) acc[v] = OP(_zero)();
            for (ptrdiff_t t = 0; t < k; t++) {
                V wv = OP(_set1)(w[t]);
                const NDV_T* p = rows[t] + c;
                NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV; v++)
                    acc[v] = OP(_fma)(wv, OP(_loadu)(p + v * NDV_L), acc[v]);
            }
            NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV; v++) OP(_storeu)(o + c + v * NDV_L, acc[v]);
            c += B;
            if (c >= n)
                return;
        }
    }
    if (n >= NDV_L) {
        for (;;) {
            if (c + NDV_L > n)
                c = n - NDV_L;
            V acc = OP(_zero)();
            for (ptrdiff_t t = 0; t < k; t++) acc = OP(_fma)(OP(_set1)(w[t]), OP(_loadu)(rows[t] + c), acc);
            OP(_storeu)(o + c, acc);
            c += NDV_L;
            if (c >= n)
                return;
        }
    }
    for (; c < n; c++) {
        V acc = OP(_zero)();
        for (ptrdiff_t t = 0; t < k; t++) acc = OP(_fma)(OP(_set1)(w[t]), OP(_set1)(rows[t][c]), acc);
        NDV_T lane[NDV_L];
        OP(_storeu)(lane, acc);
        o[c] = lane[0];
    }
}

/* The horizontal pass: o[c] = sum_j w[j] * s[c + j] for c < n, the sums of
   ndv_sep_sum_ over the rows s + j (rp: k pointers of scratch).  Where the
   layer shifts lanes by an immediate (AVX-512), half the loads become lane
   shifts: for the taps j = q .. q + L - 1 (q a multiple of L) a block loads
   the window b[v] = s[c + q + v L], v = 0 .. NDV_SEP_NV, once; tap q + R of
   output vector v is then b[v] for R = 0, the shift of b[v]:b[v + 1] by R
   for odd R (shuffle pipes) and a plain load for even R (load pipes), so
   both kinds of pipe feed the multiply-adds.  Same values in the same
   order: the bits of ndv_sep_sum_.  The window's last vector is read only
   up to the last element the plain loads read (ndv_*_loadn). */
NDV_NOINLINE void FN(ndv_sep_hsum_)(NDV_T* o, const NDV_T* s, ptrdiff_t n, const NDV_T* w,
                                    ptrdiff_t k, const NDV_T** rp) {
    const ptrdiff_t B = NDV_SEP_NV * NDV_L;
    if (!NDV_HAS_ALIGNR || n < B) {
        for (ptrdiff_t j = 0; j < k; j++) rp[j] = s + j;
        FN(ndv_sep_sum_)(o, rp, n, w, k);
        return;
    }
#if NDV_HAS_ALIGNR
    for (ptrdiff_t c = 0;;) {
        if (c + B > n)
            c = n - B;
        V acc[NDV_SEP_NV], b[NDV_SEP_NV + 1];
        NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV; v++) acc[v] = OP(_zero)();
        for (ptrdiff_t q = 0; q < k; q += NDV_L) {
            const NDV_T* p = s + c + q;
            NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV; v++) b[v] = OP(_loadu)(p + v * NDV_L);
            ptrdiff_t m = k - 1 - q < NDV_L - 1 ? k - 1 - q : NDV_L - 1;
            b[NDV_SEP_NV] = OP(_loadn)(p + NDV_SEP_NV * NDV_L, (int)m);
            V w0 = OP(_set1)(w[q]);
            NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV; v++) acc[v] = OP(_fma)(w0, b[v], acc[v]);
/* tap q + R: R is a literal, so the shift's amount is an immediate */
#define NDV_SEP_HTAP(R)                                                                         \
            if ((R) < NDV_L && q + (R) < k) {                                                  \
                V wr = OP(_set1)(w[q + (R)]);                                                   \
                if ((R) & 1) {                                                                  \
                    NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV; v++)                         \
                        acc[v] = OP(_fma)(wr, OP(_alignr)(b[v], b[v + 1], (R) & (NDV_L - 1)), acc[v]); \
                } else {                                                                        \
                    NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV; v++)                         \
                        acc[v] = OP(_fma)(wr, OP(_loadu)(p + v * NDV_L + (R)), acc[v]);         \
                }                                                                               \
            }
            NDV_SEP_HTAP(1) NDV_SEP_HTAP(2) NDV_SEP_HTAP(3) NDV_SEP_HTAP(4) NDV_SEP_HTAP(5)
            NDV_SEP_HTAP(6) NDV_SEP_HTAP(7) NDV_SEP_HTAP(8) NDV_SEP_HTAP(9) NDV_SEP_HTAP(10)
            NDV_SEP_HTAP(11) NDV_SEP_HTAP(12) NDV_SEP_HTAP(13) NDV_SEP_HTAP(14) NDV_SEP_HTAP(15)
#undef NDV_SEP_HTAP
        }
        NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV; v++) OP(_storeu)(o + c + v * NDV_L, acc[v]);
        c += B;
        if (c >= n)
            return;
    }
#endif
}

/* o0[c] = sum_t w[t] * rows[t][c] and o1[c] = sum_t w[t] * rows[t + 1][c]
   for c < n: two neighbouring output rows of the vertical pass, from k + 1
   filtered rows.  Each loaded vector of rows 1 .. k - 1 feeds both rows'
   chains, so the pass loads about half as many vectors as two calls of
   ndv_sep_sum_; every output keeps its own chain, t = 0 .. k - 1 from +0.0,
   so the bits are that function's.  Blocks of NDV_SEP_NV2 vectors per row,
   the last one overlapping as there; rows narrower than a block take that
   function twice. */
NDV_NOINLINE void FN(ndv_sep_sum2_)(NDV_T* o0, NDV_T* o1, const NDV_T* const* rows, ptrdiff_t n,
                                    const NDV_T* w, ptrdiff_t k) {
    const ptrdiff_t B = NDV_SEP_NV2 * NDV_L;
    if (n < B) {
        FN(ndv_sep_sum_)(o0, rows, n, w, k);
        FN(ndv_sep_sum_)(o1, rows + 1, n, w, k);
        return;
    }
    for (ptrdiff_t c = 0;;) {
        if (c + B > n)
            c = n - B;
        V a0[NDV_SEP_NV2], a1[NDV_SEP_NV2];
        NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV2; v++) a0[v] = a1[v] = OP(_zero)();
        V wv = OP(_set1)(w[0]);
        NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV2; v++)
            a0[v] = OP(_fma)(wv, OP(_loadu)(rows[0] + c + v * NDV_L), a0[v]);
        for (ptrdiff_t t = 1; t < k; t++) {
            V w0 = OP(_set1)(w[t]), w1 = OP(_set1)(w[t - 1]);
            const NDV_T* p = rows[t] + c;
            NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV2; v++) {
                V x = OP(_loadu)(p + v * NDV_L);
                a0[v] = OP(_fma)(w0, x, a0[v]);
                a1[v] = OP(_fma)(w1, x, a1[v]);
            }
        }
        wv = OP(_set1)(w[k - 1]);
        NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV2; v++)
            a1[v] = OP(_fma)(wv, OP(_loadu)(rows[k] + c + v * NDV_L), a1[v]);
        NDV_UNROLL(16) for (int v = 0; v < NDV_SEP_NV2; v++) {
            OP(_storeu)(o0 + c + v * NDV_L, a0[v]);
            OP(_storeu)(o1 + c + v * NDV_L, a1[v]);
        }
        c += B;
        if (c >= n)
            return;
    }
}

/* One work item of the fused passes: output rows i0 .. i1 - 1, columns
   c0 .. c1 - 1, of a kernel of kv x kh taps (wv, wh), into out (rows ostr
   apart).  Extended row r of the input is the source row at element offset
   vrow[r] of x, or a row of cval where vrow[r] < 0; extended column e is
   element hcol[e] of a row, or cval where hcol[e] < 0, and the columns
   lin_lo <= e < lin_hi are consecutive elements (read in place).  Scratch:
   ring (kv + 1 rows, rstr apart, of c1 - c0 samples), g and cline (c1 - c0 +
   kh - 1 samples; cline filled with cval), rp (max(kv + 1, kh) pointers).
   Output rows are summed in pairs (ndv_sep_sum2_) as soon as the ring holds
   their kv + 1 filtered rows; an odd last row alone. */
static inline void FN(ndconv_sep_tile_)(const NDV_T* x, NDV_T* out, ptrdiff_t ostr,
                                        const ptrdiff_t* vrow, const ptrdiff_t* hcol,
                                        ptrdiff_t lin_lo, ptrdiff_t lin_hi,
                                        const NDV_T* wv, ptrdiff_t kv, const NDV_T* wh, ptrdiff_t kh,
                                        NDV_T cval, ptrdiff_t i0, ptrdiff_t i1, ptrdiff_t c0,
                                        ptrdiff_t c1, NDV_T* ring, ptrdiff_t rstr, NDV_T* g,
                                        const NDV_T* cline, const NDV_T** rp) {
    ptrdiff_t n = c1 - c0, span = n + kh - 1;
    int inplace = c0 >= lin_lo && c1 + kh - 1 <= lin_hi;
    const NDV_T* lin = inplace ? x + hcol[lin_lo] + (c0 - lin_lo) : NULL;
    /* the extended columns c0 + e_lo .. c0 + e_hi - 1 lie in lin_lo .. lin_hi */
    ptrdiff_t e_lo = lin_lo - c0 > 0 ? (lin_lo - c0 < span ? lin_lo - c0 : span) : 0;
    ptrdiff_t e_hi = lin_hi - c0 < span ? lin_hi - c0 : span;
    if (e_hi < e_lo)
        e_hi = e_lo;
    const ptrdiff_t nring = kv + 1;
    ptrdiff_t next = i0; /* the first output row not written yet */
    /* ring slots of source row r and of filtered row `next`, kept by steps
       rather than divisions (kv + 2 of them per pair of output rows) */
    ptrdiff_t slot = 0, head = 0;
    for (ptrdiff_t r = i0; r < i1 + kv - 1; r++) {
        const NDV_T* src;
        if (vrow[r] < 0) {
            src = cline;
        } else if (inplace) {
            src = lin + vrow[r];
        } else {
            /* the chunks at the edges: only the columns outside lin_lo ..
               lin_hi need the index map, the run inside is one copy
               (gathering the whole span through the map made a 2048^2
               15x15 sweep with reflected edges 1.15-1.2x slower, both
               builds, AMD Zen 4) */
            const NDV_T* xr = x + vrow[r];
            for (ptrdiff_t e = 0; e < e_lo; e++) {
                ptrdiff_t h = hcol[c0 + e];
                g[e] = h < 0 ? cval : xr[h];
            }
            if (e_hi > e_lo)
                memcpy(g + e_lo, xr + hcol[lin_lo] + (c0 + e_lo - lin_lo),
                       (size_t)(e_hi - e_lo) * sizeof(NDV_T));
            for (ptrdiff_t e = e_hi; e < span; e++) {
                ptrdiff_t h = hcol[c0 + e];
                g[e] = h < 0 ? cval : xr[h];
            }
            src = g;
        }
        /* the source row NDV_SEP_PF rows on: each row of a chunk lies in
           another page, where the hardware prefetchers stop */
        if (inplace && r + NDV_SEP_PF < i1 + kv - 1 && vrow[r + NDV_SEP_PF] >= 0) {
            const NDV_T* q = lin + vrow[r + NDV_SEP_PF];
            NDCONV_PREFETCH_SPAN(NDCONV_PREFETCH, q, span);
        }
        FN(ndv_sep_hsum_)(ring + slot * rstr, src, n, wh, kh, rp);
        slot = slot + 1 == nring ? 0 : slot + 1;
        if (r == next + kv) {
            for (ptrdiff_t t = 0, u = head; t <= kv; t++, u = u + 1 == nring ? 0 : u + 1)
                rp[t] = ring + u * rstr;
            FN(ndv_sep_sum2_)(out + next * ostr + c0, out + (next + 1) * ostr + c0, rp, n, wv, kv);
            next += 2;
            head = head + 2 >= nring ? head + 2 - nring : head + 2;
        }
    }
    if (next < i1) {
        for (ptrdiff_t t = 0, u = head; t < kv; t++, u = u + 1 == nring ? 0 : u + 1)
            rp[t] = ring + u * rstr;
        FN(ndv_sep_sum_)(out + next * ostr + c0, rp, n, wv, kv);
    }
}

#undef V
#undef OP
#undef FN
#undef NDV_L
#undef NDV_T
#undef NDV_SEP_T
#undef NDV_SEP_SUF

/* Checks and timing of the separable path's fused passes (ndconv_sep.h),
   included by rows_check.c after its helpers (fill_*, same_*, rnd, now).

   The reference filters every extended row horizontally (wh[j] * s[c + j],
   j increasing, from +0.0, with the reference multiply-add) into a whole
   intermediate image, then sums its rows vertically the same way: the two
   passes of the direct path.  The fused tiles must give the same bits for
   every tile height and chunk width, with rows and columns of cval, columns
   read in place and gathered. */
#include "ndconv_sep.h"

#define SEP_ROWS 45
#define SEP_COLS 460

#define DEFINE_SEP_CHECKS(T, S, REF)                                                           \
static int sep_check_##S(void) {                                                                \
    int n = 0;                                                                                  \
    enum { KMAX = 40, EXT_R = SEP_ROWS + KMAX, EXT_C = SEP_COLS + KMAX };                       \
    T* x = malloc(sizeof(T) * SEP_ROWS * SEP_COLS);                                             \
    T* mid = malloc(sizeof(T) * EXT_R * SEP_COLS);                                              \
    T* ref = malloc(sizeof(T) * SEP_ROWS * SEP_COLS);                                           \
    T* out = malloc(sizeof(T) * SEP_ROWS * SEP_COLS);                                           \
    T* ring = malloc(sizeof(T) * (KMAX + 1) * SEP_COLS);                                        \
    T* g = malloc(sizeof(T) * EXT_C);                                                           \
    T* cline = malloc(sizeof(T) * EXT_C);                                                       \
    const T* rp[KMAX + 1];                                                                      \
    ptrdiff_t vrow[EXT_R], hcol[EXT_C];                                                         \
    T wv[KMAX], wh[KMAX], cval = (T)0.375;                                                      \
    fill_##S(x, SEP_ROWS * SEP_COLS);                                                           \
    fill_##S(wv, KMAX);                                                                         \
    fill_##S(wh, KMAX);                                                                         \
    for (int e = 0; e < EXT_C; e++) cline[e] = cval;                                            \
    static const int ks[][2] = {{1, 1}, {2, 3}, {3, 15}, {15, 15}, {16, 2}, {5, 9}, {3, 17},      \
                                {2, 33}, {4, 40}, {1, 31}};                                    \
    for (size_t kc = 0; kc < sizeof(ks) / sizeof(ks[0]); kc++) {                                \
        int kv = ks[kc][0], kh = ks[kc][1];                                                     \
        for (int m1 = 1; m1 <= SEP_COLS - KMAX; m1 += 37) {                                     \
            ptrdiff_t m0 = SEP_ROWS - kv + 1 - (m1 % 3);                                        \
            /* rows: two of cval at the top, then a reflection; columns: a                      \
               border of cval and of a far column around an in-place run */                     \
            for (ptrdiff_t r = 0; r < m0 + kv - 1; r++)                                         \
                vrow[r] = r < 2 ? -1 : ((r * 7) % SEP_ROWS) * SEP_COLS;                         \
            ptrdiff_t lin_lo = 3, lin_hi = m1 + kh - 1 - 2;                                     \
            if (lin_hi < lin_lo) lin_hi = lin_lo;                                               \
            for (ptrdiff_t e = 0; e < m1 + kh - 1; e++)                                         \
                hcol[e] = e >= lin_lo && e < lin_hi ? e + 5 : e % 2 ? -1 : SEP_COLS - 1 - e % 5;\
            for (ptrdiff_t r = 0; r < m0 + kv - 1; r++)                                         \
                for (ptrdiff_t c = 0; c < m1; c++) {                                            \
                    T s = 0;                                                                    \
                    for (int j = 0; j < kh; j++) {                                              \
                        ptrdiff_t h = hcol[c + j];                                              \
                        T v = vrow[r] < 0 || h < 0 ? cval : x[vrow[r] + h];                     \
                        s = REF(wh[j], v, s);                                                   \
                    }                                                                           \
                    mid[r * SEP_COLS + c] = s;                                                  \
                }                                                                               \
            for (ptrdiff_t i = 0; i < m0; i++)                                                  \
                for (ptrdiff_t c = 0; c < m1; c++) {                                            \
                    T s = 0;                                                                    \
                    for (int t = 0; t < kv; t++) s = REF(wv[t], mid[(i + t) * SEP_COLS + c], s); \
                    ref[i * m1 + c] = s;                                                        \
                }                                                                               \
            static const int tiles[][2] = {{1, 1}, {4, 7}, {9, 64}, {5, 200}, {100, SEP_COLS}};          \
            for (size_t tc = 0; tc < sizeof(tiles) / sizeof(tiles[0]); tc++) {                  \
                ptrdiff_t th = tiles[tc][0], cw = tiles[tc][1];                                 \
                memset(out, 0, sizeof(T) * SEP_ROWS * SEP_COLS);                                \
                for (ptrdiff_t i0 = 0; i0 < m0; i0 += th)                                       \
                    for (ptrdiff_t c0 = 0; c0 < m1; c0 += cw) {                                 \
                        ptrdiff_t i1 = i0 + th < m0 ? i0 + th : m0;                             \
                        ptrdiff_t c1 = c0 + cw < m1 ? c0 + cw : m1;                             \
                        ndconv_sep_tile_##S(x, out, m1, vrow, hcol, lin_lo, lin_hi, wv, kv, wh, \
                                            kh, cval, i0, i1, c0, c1, ring, SEP_COLS, g, cline, \
                                            rp);                                                \
                    }                                                                           \
                same_##S(out, ref, (size_t)(m0 * m1), "sep_tile_" #S " kv x kh", kv, kh);       \
                n++;                                                                            \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
    free(x); free(mid); free(ref); free(out); free(ring); free(g); free(cline);                  \
    return n;                                                                                   \
}

DEFINE_SEP_CHECKS(float, f32, REF_FMAF)
DEFINE_SEP_CHECKS(double, f64, REF_FMAD)

/* The sweeps sep_time times: the whole N x N image in tiles of 128 rows by
   chunks of cw columns, best of 3, in milliseconds. */
static double sep_sweep_ms(const float* x, float* o, ptrdiff_t N, const ptrdiff_t* vrow,
                           const ptrdiff_t* hcol, ptrdiff_t lin_lo, ptrdiff_t lin_hi,
                           const float* w, ptrdiff_t K, ptrdiff_t cw, float* ring, float* g,
                           const float* cline, const float** rp) {
    double best = 1e30;
    for (int run = 0; run < 3; run++) {
        double t0 = now();
        for (ptrdiff_t i0 = 0; i0 < N; i0 += 128)
            for (ptrdiff_t c0 = 0; c0 < N; c0 += cw)
                ndconv_sep_tile_f32(x, o, N, vrow, hcol, lin_lo, lin_hi, w, K, w, K, 0.0f, i0,
                                    i0 + 128 < N ? i0 + 128 : N, c0, c0 + cw < N ? c0 + cw : N,
                                    ring, cw, g, cline, rp);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    return best * 1e3;
}

/* Milliseconds of a 2048 x 2048 float32 image filtered by a 15 x 15
   separable kernel with the fused passes (one thread, interior rows and
   columns read in place), per chunk width: the ring of 16 filtered rows
   against L1; then with columns reflected at the edges. */
static void sep_time(void) {
    enum { N = 2048, K = 15, E = N + K - 1 };
    float* x = malloc(sizeof(float) * (size_t)E * E);
    float* o = malloc(sizeof(float) * (size_t)N * N);
    float* ring = malloc(sizeof(float) * (K + 1) * N);
    float* g = malloc(sizeof(float) * E);
    float* cline = malloc(sizeof(float) * E);
    const float* rp[K + 1];
    ptrdiff_t* vrow = malloc(sizeof(ptrdiff_t) * E);
    ptrdiff_t* hcol = malloc(sizeof(ptrdiff_t) * E);
    float w[K];
    fill_f32(x, (size_t)E * E);
    fill_f32(w, K);
    for (ptrdiff_t e = 0; e < E; e++) { vrow[e] = e * E; hcol[e] = e; cline[e] = 0; }
    printf("%-8s %-30s %8s\n", NDV_ISA_NAME, "2048^2 float32 15x15 fused", "ms");
    ptrdiff_t def = ndconv_sep_chunk(K, 4);
    ptrdiff_t widths[] = {def, 128, 256, 512, 1024, N};
    for (size_t wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++)
        printf("%-8s chunks of %4td columns%s %8.2f\n", "", widths[wi],
               wi == 0 ? " (default)" : "          ",
               sep_sweep_ms(x, o, N, vrow, hcol, 0, E, w, K, widths[wi], ring, g, cline, rp));
    /* columns reflected at the edges (whole-sample, as "reflect"): the two
       edge chunks of every row copy their in-place run and map the rest */
    for (ptrdiff_t e = 0; e < E; e++) {
        ptrdiff_t h = e - K / 2;
        hcol[e] = h < 0 ? -h : h >= N ? 2 * (N - 1) - h : h;
    }
    printf("%-8s reflected edges, default chunks %8.2f\n", "",
           sep_sweep_ms(x, o, N, vrow, hcol, K / 2, N + K / 2, w, K, def, ring, g, cline, rp));
    free(x); free(o); free(ring); free(g); free(cline); free(vrow); free(hcol);
}

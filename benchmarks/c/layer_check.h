/* Checks and timing of the convolution layer's micro-kernels
   (ndconv_layer.h), included by rows_check.c after its helpers (rnd,
   fill_*, same_*, now, REF_FMAF / REF_FMAD).  The kernels come from
   layer_kernels.c, compiled apart with the flags of the module the build
   stands for (see there); being static there, they are reached through
   the table below.

   The reference sums each output from its bias (the gradients from +0.0)
   over the taps t and, within a tap, the input channels c in increasing
   order (the gradients over the pixels j), with the reference multiply-add,
   and adds a gradient's sum into the partial sums: each kernel's chain for
   one accumulator lane, whichever register block holds it.  The data are
   random, including the values around the outputs and the partial sums
   and the padded lanes of weights, bias and output gradient (which the
   drivers zero), so a lane mix-up or a write outside shows as a
   difference. */
#include <stddef.h>

#define LAYER_KERNEL_PTRS(T, S)                                                                         \
    void (*fwd_##S)(const T* const* ptr, ptrdiff_t pstride, int npix, int ntap, int G, int Cg, int Dg,  \
                    int DP, const T* wpack, const T* bpack, T* out, ptrdiff_t ostride);                 \
    void (*gw_##S)(const T* const* ptr, ptrdiff_t pstride, int npix, int ntap, int G, int Cg, int DP,   \
                   const T* gbuf, ptrdiff_t gld, T* part);                                              \
    void (*dw_##S)(const T* const* ptr, ptrdiff_t pstride, int npix, int ntap, int C, int CP,           \
                   const T* wpack, const T* bpack, T* out, ptrdiff_t ostride);                          \
    void (*dwg_##S)(const T* const* ptr, ptrdiff_t pstride, int npix, int ntap, int C, int CP,          \
                    const T* gsrc, ptrdiff_t gld, T* part);                                              \
    void (*win_in_##S)(const T* const* ptr, ptrdiff_t pstride, int ntile, int C, T* V);                 \
    void (*win_out_##S)(const T* M, int ntile, int DP, int Dg, const T* bias, T* o0, T* o1,             \
                        ptrdiff_t ostride, int ncol);                                                   \
    void (*win_weights_##S)(const T* w, int C, int O, int DP, T* U);
struct layer_kernels {
    int vw_f32, vw_f64, nvmax;   /* lanes per vector; vectors of output channels per block */
    LAYER_KERNEL_PTRS(float, f32)
    LAYER_KERNEL_PTRS(double, f64)
};
extern const struct layer_kernels layer_kernels;

#ifndef LAYER_KERNELS_ONLY

#define LGUARD 64   /* elements of random values before and after outputs and partial sums */

/* The references, with the weights (and partial sums) at w[g * wg + t * wt
   + c * wc + d] and the bias at b[g * bg + d]: packed (G, taps, Cg, DP) and
   (G, DP), or for depthwise G = C groups of one channel in (taps, CP) and
   (CP,).  The gradient reads the output gradient at gs[j * gld + g * gg + d]
   for the Dn lanes d of a group. */
#define DEFINE_LAYER_CHECKS(T, S, REF)                                                                     \
static void lref_fwd_##S(const T* const* ptr, ptrdiff_t pstride, int npix, int ntap, int G, int Cg,        \
                         int Dg, const T* w, ptrdiff_t wg, ptrdiff_t wt, ptrdiff_t wc, const T* b,         \
                         ptrdiff_t bg, T* out, ptrdiff_t ostride) {                                        \
    for (int j = 0; j < npix; j++)                                                                         \
        for (int g = 0; g < G; g++)                                                                        \
            for (int d = 0; d < Dg; d++) {                                                                 \
                T s = b[g * bg + d];                                                                       \
                for (int t = 0; t < ntap; t++)                                                             \
                    for (int c = 0; c < Cg; c++)                                                           \
                        s = REF(ptr[t * pstride + j][g * Cg + c], w[g * wg + t * wt + c * wc + d], s);     \
                out[j * ostride + g * Dg + d] = s;                                                         \
            }                                                                                              \
}                                                                                                          \
static void lref_grad_##S(const T* const* ptr, ptrdiff_t pstride, int npix, int ntap, int G, int Cg,       \
                          int Dn, const T* gs, ptrdiff_t gld, ptrdiff_t gg, T* part, ptrdiff_t wg,         \
                          ptrdiff_t wt, ptrdiff_t wc) {                                                    \
    for (int g = 0; g < G; g++)                                                                            \
        for (int t = 0; t < ntap; t++)                                                                     \
            for (int c = 0; c < Cg; c++)                                                                   \
                for (int d = 0; d < Dn; d++) {                                                             \
                    T s = 0;                                                                               \
                    for (int j = 0; j < npix; j++)                                                         \
                        s = REF(ptr[t * pstride + j][g * Cg + c], gs[j * gld + g * gg + d], s);            \
                    part[g * wg + t * wt + c * wc + d] += s;                                               \
                }                                                                                          \
}                                                                                                          \
static T* lrand_##S(size_t n) { T* a = malloc(sizeof(T) * n); fill_##S(a, n); return a; }                  \
static T* lcopy_##S(const T* a, size_t n) {                                                                \
    T* c = malloc(sizeof(T) * n);                                                                          \
    memcpy(c, a, sizeof(T) * n);                                                                           \
    return c;                                                                                              \
}                                                                                                          \
/* One case: the forward pass and the weight gradient (dw: the depthwise                                   \
   kernels, G = C groups of one channel, DP = CP).  A tap reads the cval                                   \
   pixel one time in four; the pointer table's slots past npix are NULL, and                               \
   every array the kernels read has no element past those they may read, for                               \
   the ASan build.  Strides as the drivers' except a gap after each output                                 \
   row and depthwise gradient row. */                                                                      \
static int lcase_##S(int dw, int npix, int ntap, int G, int Cg, int Dg, int DP) {                          \
    const struct layer_kernels* K = &layer_kernels;                                                        \
    const int npx = 17, C = G * Cg;                                                                        \
    const ptrdiff_t pstride = npix + npix % 2, ostride = (ptrdiff_t)G * Dg + 1 + npix % 3;                 \
    const ptrdiff_t gld = dw ? C + 2 : (ptrdiff_t)G * DP;   /* dense: the drivers' padded copy */          \
    const ptrdiff_t wg = dw ? 1 : (ptrdiff_t)ntap * Cg * DP, wt = dw ? DP : (ptrdiff_t)Cg * DP;            \
    const ptrdiff_t wc = dw ? 0 : DP;                                                                      \
    const size_t nw = (size_t)(dw ? 1 : G) * ntap * Cg * DP, np = nw + 2 * LGUARD;                         \
    const size_t no = (size_t)(npix - 1) * ostride + G * Dg + 2 * LGUARD;                                  \
    T* x = lrand_##S((size_t)npx * C);                                                                     \
    T* cval = lrand_##S(C);                                                                                \
    T* w = lrand_##S(nw);                                                                                  \
    T* b = lrand_##S((size_t)(dw ? 1 : G) * DP);                                                           \
    T* gs = lrand_##S((size_t)(npix - 1) * gld + (dw ? C : G * DP));                                       \
    T* out = lrand_##S(no);                                                                                \
    T* oref = lcopy_##S(out, no);                                                                          \
    T* part = lrand_##S(np);                                                                               \
    T* pref = lcopy_##S(part, np);                                                                         \
    const T** ptr = calloc((size_t)ntap * pstride, sizeof *ptr);                                           \
    for (int t = 0; t < ntap; t++)                                                                         \
        for (int j = 0; j < npix; j++)                                                                     \
            ptr[t * pstride + j] = rnd() < -0.5 ? cval : x + (ptrdiff_t)((rnd() + 1) * 0.5 * npx) * C;     \
    if (dw) {                                                                                              \
        K->dw_##S(ptr, pstride, npix, ntap, C, DP, w, b, out + LGUARD, ostride);                           \
        K->dwg_##S(ptr, pstride, npix, ntap, C, DP, gs, gld, part + LGUARD);                               \
    } else {                                                                                               \
        K->fwd_##S(ptr, pstride, npix, ntap, G, Cg, Dg, DP, w, b, out + LGUARD, ostride);                  \
        K->gw_##S(ptr, pstride, npix, ntap, G, Cg, DP, gs, gld, part + LGUARD);                            \
    }                                                                                                      \
    lref_fwd_##S(ptr, pstride, npix, ntap, G, Cg, Dg, w, wg, wt, wc, b, dw ? 1 : DP, oref + LGUARD,        \
                 ostride);                                                                                 \
    lref_grad_##S(ptr, pstride, npix, ntap, G, Cg, dw ? 1 : DP, gs, gld, dw ? 1 : DP, pref + LGUARD,       \
                  wg, wt, wc);                                                                             \
    int ok = same_##S(out, oref, no, dw ? "layer dw_" #S " npix, C" : "layer fwd_" #S " npix, Cg",         \
                      npix, dw ? C : Cg);                                                                  \
    ok &= same_##S(part, pref, np, dw ? "layer dwg_" #S " npix, C" : "layer gw_" #S " npix, Cg",           \
                   npix, dw ? C : Cg);                                                                     \
    if (!ok)                                                                                               \
        printf("  (%s: npix %d, ntap %d, groups %d, Cg %d, Dg %d, DP %d; elements from %d)\n",             \
               dw ? "depthwise" : "dense", npix, ntap, G, Cg, Dg, DP, LGUARD);                             \
    free(x); free(cval); free(w); free(b); free(gs);                                                       \
    free(out); free(oref); free(part); free(pref); free(ptr);                                              \
    return 2;                                                                                              \
}                                                                                                          \
/* Pixel runs of 1..13 (register blocks of R = 1..6 pixels, remainders),                                   \
   1, 3 and 9 taps, output channels in 1..NVMAX + 1 vectors (every NV, and                                 \
   a second block of vectors), the last one whole or partial; dense with 1                                 \
   and 2 groups of 1..13 input channels (the gradient's blocks of R input                                  \
   channels), depthwise with whole vectors and channels one at a time. */                                  \
static int layer_check_##S(void) {                                                                         \
    static const int ntaps[] = {1, 3, 9};                                                                  \
    const int vw = layer_kernels.vw_##S;                                                                   \
    int n = 0;                                                                                             \
    for (int npix = 1; npix <= 13; npix++)                                                                 \
        for (int i = 0; i < 3; i++)                                                                        \
            for (int nvec = 0; nvec <= layer_kernels.nvmax + 1; nvec++)                                    \
                for (int part = 0; part <= (vw > 1); part++) {                                             \
                    const int rem = part ? 1 + (npix + nvec) % (vw - 1) : 0;   /* 1 .. vw - 1 */           \
                    const int Cg = 1 + (npix * 7 + nvec + part) % 13;                                      \
                    for (int G = 1; G <= 2 && nvec > 0; G++)                                               \
                        n += lcase_##S(0, npix, ntaps[i], G, Cg, nvec * vw - rem, nvec * vw);              \
                    if (nvec + rem > 0)                                                                    \
                        n += lcase_##S(1, npix, ntaps[i], nvec * vw + rem, 1, 1, (nvec + (rem > 0)) * vw); \
                }                                                                                          \
    return n;                                                                                              \
}

/* Winograd F(2x2, 3x3)'s transforms (ndconv_winograd.h) against scalar
   references with the same operations in the same order (additions only, and
   the weights' in double: nothing a compiler could contract), over 1..7 tiles,
   1..2 VW + 3 channels (whole vectors and tails), one or two output rows and
   odd or even column counts, with random values around what they write. */
#define DEFINE_WINOGRAD_CHECKS(T, S)                                                                       \
static void wref_in_##S(const T* const* ptr, ptrdiff_t pstride, int ntile, int C, T* V) {                  \
    static const int ii[4] = {0, 1, 2, 1}, jj[4] = {2, 2, 1, 3};                                           \
    for (int t = 0; t < ntile; t++)                                                                        \
        for (int c = 0; c < C; c++)                                                                        \
            for (int k = 0; k < 4; k++) {                                                                  \
                T q[4];                                                                                    \
                for (int r = 0; r < 4; r++) {                                                              \
                    const T a = ptr[(r * 4 + ii[k]) * pstride + t][c];                                     \
                    const T b = ptr[(r * 4 + jj[k]) * pstride + t][c];                                     \
                    q[r] = k == 1 ? a + b : a - b;                                                         \
                }                                                                                          \
                T* v = V + (ptrdiff_t)t * 16 * C + c;                                                      \
                v[k * C] = q[0] - q[2]; v[(4 + k) * C] = q[1] + q[2];                                      \
                v[(8 + k) * C] = q[2] - q[1]; v[(12 + k) * C] = q[1] - q[3];                               \
            }                                                                                              \
}                                                                                                          \
static void wref_out_##S(const T* M, int ntile, int DP, int Dg, const T* bias, T* o0, T* o1,               \
                         ptrdiff_t ostride, int ncol) {                                                    \
    for (int t = 0; t < ntile; t++)                                                                        \
        for (int d = 0; d < Dg; d++) {                                                                     \
            const T* m = M + (ptrdiff_t)t * 16 * DP + d;                                                   \
            T h0[4], h1[4];                                                                                \
            for (int s = 0; s < 4; s++) {                                                                  \
                h0[s] = m[s * DP] + m[(4 + s) * DP] + m[(8 + s) * DP];                                     \
                h1[s] = m[(4 + s) * DP] - m[(8 + s) * DP] - m[(12 + s) * DP];                              \
            }                                                                                              \
            for (int i = 0; i < 2; i++) {                                                                  \
                T* o = i ? o1 : o0;                                                                        \
                const T* h = i ? h1 : h0;                                                                  \
                if (o == NULL) continue;                                                                   \
                o[2 * t * ostride + d] = h[0] + h[1] + h[2] + bias[d];                                     \
                if (2 * t + 1 < ncol) o[(2 * t + 1) * ostride + d] = h[1] - h[2] - h[3] + bias[d];         \
            }                                                                                              \
        }                                                                                                  \
}                                                                                                          \
static void wref_weights_##S(const T* w, int C, int O, int DP, T* U) {                                     \
    for (int c = 0; c < C; c++)                                                                            \
        for (int o = 0; o < O; o++) {                                                                      \
            double e[4][3];                                                                                \
            for (int b = 0; b < 3; b++) {                                                                  \
                const double g0 = w[((0 + b) * C + c) * O + o], g1 = w[((3 + b) * C + c) * O + o];         \
                const double g2 = w[((6 + b) * C + c) * O + o];                                            \
                e[0][b] = g0; e[1][b] = 0.5 * (g0 + g1 + g2); e[2][b] = 0.5 * (g0 - g1 + g2); e[3][b] = g2; \
            }                                                                                              \
            for (int i = 0; i < 4; i++) {                                                                  \
                T* u = U + ((ptrdiff_t)(4 * i) * C + c) * DP + o;                                          \
                u[0] = (T)e[i][0];                                                                         \
                u[(ptrdiff_t)C * DP] = (T)(0.5 * (e[i][0] + e[i][1] + e[i][2]));                           \
                u[(ptrdiff_t)2 * C * DP] = (T)(0.5 * (e[i][0] - e[i][1] + e[i][2]));                       \
                u[(ptrdiff_t)3 * C * DP] = (T)e[i][2];                                                     \
            }                                                                                              \
        }                                                                                                  \
}                                                                                                          \
static int wcase_##S(int ntile, int C, int O, int rows, int ncol) {                                        \
    const struct layer_kernels* K = &layer_kernels;                                                        \
    const int vw = K->vw_##S, DP = (O + vw - 1) / vw * vw, npx = 23;                                       \
    const ptrdiff_t pstride = ntile + 1, ostride = O + 3;                                                  \
    const size_t nv = (size_t)ntile * 16 * C + 2 * LGUARD, nm = (size_t)ntile * 16 * DP;                   \
    const size_t no = (size_t)2 * (2 * ntile) * ostride + 2 * LGUARD, nu = (size_t)16 * C * DP + 2 * LGUARD; \
    T* x = lrand_##S((size_t)npx * C);                                                                     \
    T* cval = lrand_##S(C);                                                                                \
    T* v = lrand_##S(nv);                                                                                  \
    T* vref = lcopy_##S(v, nv);                                                                            \
    T* m = lrand_##S(nm);                                                                                  \
    T* bias = lrand_##S(DP);                                                                               \
    T* out = lrand_##S(no);                                                                                \
    T* oref = lcopy_##S(out, no);                                                                          \
    T* w = lrand_##S((size_t)9 * C * O);                                                                   \
    T* u = lrand_##S(nu);                                                                                  \
    T* uref = lcopy_##S(u, nu);                                                                            \
    const T** ptr = calloc((size_t)16 * pstride, sizeof *ptr);                                             \
    for (int p = 0; p < 16; p++)                                                                           \
        for (int t = 0; t < ntile; t++)                                                                    \
            ptr[p * pstride + t] = rnd() < -0.5 ? cval : x + (ptrdiff_t)((rnd() + 1) * 0.5 * npx) * C;     \
    T* o0 = out + LGUARD;                                                                                  \
    T* r0 = oref + LGUARD;                                                                                 \
    K->win_in_##S(ptr, pstride, ntile, C, v + LGUARD);                                                     \
    wref_in_##S(ptr, pstride, ntile, C, vref + LGUARD);                                                    \
    K->win_out_##S(m, ntile, DP, O, bias, o0, rows > 1 ? o0 + 2 * ntile * ostride : NULL, ostride, ncol);  \
    wref_out_##S(m, ntile, DP, O, bias, r0, rows > 1 ? r0 + 2 * ntile * ostride : NULL, ostride, ncol);    \
    K->win_weights_##S(w, C, O, DP, u + LGUARD);                                                           \
    wref_weights_##S(w, C, O, DP, uref + LGUARD);                                                          \
    int ok = same_##S(v, vref, nv, "winograd in_" #S " tiles, C", ntile, C);                               \
    ok &= same_##S(out, oref, no, "winograd out_" #S " tiles, O", ntile, O);                               \
    ok &= same_##S(u, uref, nu, "winograd weights_" #S " C, O", C, O);                                     \
    if (!ok) printf("  (winograd: %d tiles, C %d, O %d, rows %d, columns %d)\n", ntile, C, O, rows, ncol);  \
    free(x); free(cval); free(v); free(vref); free(m); free(bias); free(out); free(oref);                   \
    free(w); free(u); free(uref); free(ptr);                                                               \
    return 3;                                                                                              \
}                                                                                                          \
static int winograd_check_##S(void) {                                                                      \
    const int vw = layer_kernels.vw_##S;                                                                   \
    int n = 0;                                                                                             \
    for (int ntile = 1; ntile <= 7; ntile++)                                                               \
        for (int C = 1; C <= 2 * vw + 3; C += 1 + (C > 8) * 2)                                             \
            n += wcase_##S(ntile, C, 1 + (C * 5 + ntile) % (2 * vw + 3), 1 + (ntile + C) % 2,              \
                           2 * ntile - (C % 2));                                                           \
    return n;                                                                                              \
}

DEFINE_LAYER_CHECKS(float, f32, REF_FMAF)
DEFINE_LAYER_CHECKS(double, f64, REF_FMAD)
DEFINE_WINOGRAD_CHECKS(float, f32)
DEFINE_WINOGRAD_CHECKS(double, f64)

static int layer_check(void) {
    return layer_check_f32() + layer_check_f64() + winograd_check_f32() + winograd_check_f64();
}

/* ResNet's W6 layer: batch 8, 56 x 56 pixels, 64 -> 64 channels, 3 x 3
   taps, zero padding (the cval pixel). */
enum { W6_N = 8, W6_HW = 56, W6_C = 64, W6_K = 3 };

/* Seconds of one W6 forward pass in work items of one output row, each
   filling its pointer table first, as layer.pxi's. */
static double layer_w6_pass(const float* x, const float* cval, const float** ptr, const float* w,
                            const float* b, float* o) {
    double t0 = now();
    for (int item = 0; item < W6_N * W6_HW; item++) {
        const int n = item / W6_HW, i = item % W6_HW;
        for (int t = 0; t < W6_K * W6_K; t++)
            for (int j = 0; j < W6_HW; j++) {
                const int r = i + t / W6_K - 1, c = j + t % W6_K - 1;
                ptr[t * W6_HW + j] = r < 0 || r >= W6_HW || c < 0 || c >= W6_HW
                    ? cval : x + (((ptrdiff_t)n * W6_HW + r) * W6_HW + c) * W6_C;
            }
        layer_kernels.fwd_f32(ptr, W6_HW, W6_HW, W6_K * W6_K, 1, W6_C, W6_C, W6_C, w, b,
                              o + (ptrdiff_t)item * W6_HW * W6_C, W6_C);
    }
    return now() - t0;
}

/* Seconds of one W6 forward pass by Winograd's F(2x2, 3x3), as layer.pxi's
   winograd_forward runs it: the weights' transform, then work items of two
   output rows (28 tiles), each filling its table of patch pointers,
   transforming its tiles, running the 16 GEMMs as one call of the forward
   kernel (16 groups of one tap) and the output transform. */
static double layer_w6_winograd_pass(const float* x, const float* cval, const float* w, const float* b,
                                     float* o, float* u, const float* zeros, const float** ptr,
                                     const float** vptr, float* v, float* m) {
    enum { TW = W6_HW / 2 };
    double t0 = now();
    layer_kernels.win_weights_f32(w, W6_C, W6_C, W6_C, u);
    for (int t = 0; t < TW; t++) vptr[t] = v + (ptrdiff_t)t * 16 * W6_C;
    for (int item = 0; item < W6_N * TW; item++) {
        const int n = item / TW, i = 2 * (item % TW);
        for (int p = 0; p < 16; p++)
            for (int t = 0; t < TW; t++) {
                const int r = i + p / 4 - 1, c = 2 * t + p % 4 - 1;
                ptr[p * TW + t] = r < 0 || r >= W6_HW || c < 0 || c >= W6_HW
                    ? cval : x + (((ptrdiff_t)n * W6_HW + r) * W6_HW + c) * W6_C;
            }
        layer_kernels.win_in_f32(ptr, TW, TW, W6_C, v);
        layer_kernels.fwd_f32(vptr, TW, TW, 1, 16, W6_C, W6_C, W6_C, u, zeros, m, 16 * W6_C);
        float* o0 = o + (((ptrdiff_t)n * W6_HW + i) * W6_HW) * W6_C;
        layer_kernels.win_out_f32(m, TW, W6_C, W6_C, b, o0, o0 + W6_HW * W6_C, W6_C, W6_HW);
    }
    return now() - t0;
}

/* Milliseconds and G multiply-adds/s of the W6 forward pass, float32, one
   thread, best and median of 7, alternately with the packed weights on a
   cache line and 16 bytes past one: off a line, a vector of weights
   straddles two lines (every one with 64-byte vectors, every other with
   32), and the kernel loads a vector of weights per 6 multiply-adds (its 6
   pixels), which is why the drivers start the packed weights on a line. */
static void sort7(double* a) {
    for (int i = 1; i < 7; i++)
        for (int k = i; k > 0 && a[k] < a[k - 1]; k--) { double s = a[k]; a[k] = a[k - 1]; a[k - 1] = s; }
}

static void layer_time(void) {
    const size_t nx = (size_t)W6_N * W6_HW * W6_HW * W6_C, nw = (size_t)W6_K * W6_K * W6_C * W6_C;
    float* x = aligned_alloc(64, sizeof(float) * nx);
    float* o = aligned_alloc(64, sizeof(float) * nx);
    float* cval = aligned_alloc(64, sizeof(float) * W6_C);
    float* b = aligned_alloc(64, sizeof(float) * W6_C);
    float* w[2] = {aligned_alloc(64, sizeof(float) * nw), aligned_alloc(64, sizeof(float) * (nw + 16))};
    const float* ptr[W6_K * W6_K * W6_HW];
    double sec[3][7];
    fill_f32(x, nx);
    fill_f32(b, W6_C);
    fill_f32(w[0], nw);
    memcpy(w[1] + 4, w[0], sizeof(float) * nw);
    memset(cval, 0, sizeof(float) * W6_C);
    /* Winograd's buffers: U (16, C, C), the GEMMs' zero bias, one item's V and M */
    float* u = aligned_alloc(64, sizeof(float) * 16 * W6_C * W6_C);
    float* zeros = calloc(16 * W6_C, sizeof(float));
    float* v = aligned_alloc(64, sizeof(float) * 16 * (W6_HW / 2) * W6_C);
    float* m = aligned_alloc(64, sizeof(float) * 16 * (W6_HW / 2) * W6_C);
    const float* wptr[16 * (W6_HW / 2)];
    const float* vptr[W6_HW / 2];
    layer_w6_pass(x, cval, ptr, w[0], b, o);   /* the output's pages, the caches */
    for (int run = 0; run < 7; run++) {
        for (int a = 0; a < 2; a++) sec[a][run] = layer_w6_pass(x, cval, ptr, w[a] + 4 * a, b, o);
        sec[2][run] = layer_w6_winograd_pass(x, cval, w[0], b, o, u, zeros, wptr, vptr, v, m);
    }
    printf("%-8s %-40s %8s %8s %8s\n", NDV_ISA_NAME, "layer W6 forward, float32", "ms", "median", "GMAC/s");
    static const char* what[3] = {"weights on a cache line", "weights 16 bytes past a line",
                                  "Winograd F(2x2,3x3) (direct-equivalent)"};
    for (int a = 0; a < 3; a++) {
        sort7(sec[a]);
        printf("%-8s %-40s %8.2f %8.2f %8.1f\n", "", what[a], sec[a][0] * 1e3, sec[a][3] * 1e3,
               (double)nx * W6_C * W6_K * W6_K / sec[a][0] * 1e-9);
    }
    free(x); free(o); free(cval); free(b); free(w[0]); free(w[1]);
    free(u); free(zeros); free(v); free(m);
}

#endif

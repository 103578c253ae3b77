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
                    const T* gsrc, ptrdiff_t gld, T* part);
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

DEFINE_LAYER_CHECKS(float, f32, REF_FMAF)
DEFINE_LAYER_CHECKS(double, f64, REF_FMAD)

static int layer_check(void) { return layer_check_f32() + layer_check_f64(); }

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

/* Milliseconds and G multiply-adds/s of the W6 forward pass, float32, one
   thread, best and median of 7, alternately with the packed weights on a
   cache line and 16 bytes past one: off a line, a vector of weights
   straddles two lines (every one with 64-byte vectors, every other with
   32), and the kernel loads a vector of weights per 6 multiply-adds (its 6
   pixels), which is why the drivers start the packed weights on a line. */
static void layer_time(void) {
    const size_t nx = (size_t)W6_N * W6_HW * W6_HW * W6_C, nw = (size_t)W6_K * W6_K * W6_C * W6_C;
    float* x = aligned_alloc(64, sizeof(float) * nx);
    float* o = aligned_alloc(64, sizeof(float) * nx);
    float* cval = aligned_alloc(64, sizeof(float) * W6_C);
    float* b = aligned_alloc(64, sizeof(float) * W6_C);
    float* w[2] = {aligned_alloc(64, sizeof(float) * nw), aligned_alloc(64, sizeof(float) * (nw + 16))};
    const float* ptr[W6_K * W6_K * W6_HW];
    double sec[2][7];
    fill_f32(x, nx);
    fill_f32(b, W6_C);
    fill_f32(w[0], nw);
    memcpy(w[1] + 4, w[0], sizeof(float) * nw);
    memset(cval, 0, sizeof(float) * W6_C);
    layer_w6_pass(x, cval, ptr, w[0], b, o);   /* the output's pages, the caches */
    for (int run = 0; run < 7; run++)
        for (int a = 0; a < 2; a++) sec[a][run] = layer_w6_pass(x, cval, ptr, w[a] + 4 * a, b, o);
    printf("%-8s %-32s %8s %8s %8s\n", NDV_ISA_NAME, "layer W6 forward, float32", "ms", "median", "GMAC/s");
    for (int a = 0; a < 2; a++) {
        for (int i = 1; i < 7; i++)
            for (int k = i; k > 0 && sec[a][k] < sec[a][k - 1]; k--) {
                double s = sec[a][k]; sec[a][k] = sec[a][k - 1]; sec[a][k - 1] = s;
            }
        printf("%-8s %-32s %8.2f %8.2f %8.1f\n", "", a ? "weights 16 bytes past a line" : "weights on a cache line",
               sec[a][0] * 1e3, sec[a][3] * 1e3, (double)nx * W6_C * W6_K * W6_K / sec[a][0] * 1e-9);
    }
    free(x); free(o); free(cval); free(b); free(w[0]); free(w[1]);
}

#endif

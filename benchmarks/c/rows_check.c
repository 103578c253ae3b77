/* Standalone check and timing of the direct path's C blocks, without Python.

   Compiled once per instruction set (see the Makefile): the row-sharing
   blocks written over the vector layer (ndconv_rows.h) are checked bit for
   bit against a scalar reference that sums the same taps in the same order
   with the same multiply-add (fused in the FMA builds, product then sum
   without FMA), over random data, every kernel size they serve, row
   misalignments and strip positions; the vector layer's lane shift is
   checked lane by lane.  Built with NDCONV_NEON on aarch64, the NEON layer
   is the one checked.  Built with NDCONV_WIDE_BLOCKS, the AVX-512 blocks
   (ndconv_blocks_avx512.h) are checked the same way, when the CPU runs them.

   The separable path's fused passes (ndconv_sep.h) are checked against the
   two passes computed apart (sep_check.h), the convolution layer's
   micro-kernels (ndconv_layer.h, linked in from layer_kernels.c) against
   the same kind of scalar reference (layer_check.h).

   --time adds GFLOP/s of the float32 row-sharing blocks on an L2-resident
   tile, a whole 2048^2 image swept with tiles of 16..128 rows, the fused
   separable passes on a 2048^2 image, 15x15, and the layer's forward pass
   on ResNet's W6 shape.

   Usage: rows_check [--time]   exit status 0 when every check passes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndconv_rows.h"
#if NDV_ISA == 3
#include "ndconv_blocks_avx512.h"
#endif

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;
static double rnd(void) {   /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}

#if NDV_FUSED
#define REF_FMAF(a, b, c) fmaf((a), (b), (c))
#define REF_FMAD(a, b, c) fma((a), (b), (c))
#else
/* built with -ffp-contract=off: the product is rounded, then the sum */
#define REF_FMAF(a, b, c) ((a) * (b) + (c))
#define REF_FMAD(a, b, c) ((a) * (b) + (c))
#endif

static int failures = 0;

#define NROWS 40
#define NCOLS 200
#define KLMAX 9

/* The checks for one element type (T, suffix S, lanes L, reference FMA REF). */
#define DEFINE_CHECKS(T, S, L, REF)                                                          \
static void ref_##S(T* o, ptrdiff_t ostr, ptrdiff_t c, ptrdiff_t ncols, const T** src,        \
                    const ptrdiff_t* rowsel, int nrows, ptrdiff_t ntaps, ptrdiff_t klast,       \
                    const T* w, ptrdiff_t rstep) {                                             \
    /* output row i, tap row t reads src[rowsel[t] + i * rstep] */                             \
    for (int i = 0; i < nrows; i++)                                                           \
        for (ptrdiff_t u = 0; u < ncols; u++) {                                               \
            T s = 0;                                                                          \
            for (ptrdiff_t t = 0; t < ntaps; t++)                                             \
                for (ptrdiff_t j = 0; j < klast; j++)                                         \
                    s = REF(w[t * klast + j], src[rowsel[t] + i * rstep][c + u + j], s);      \
            o[i * ostr + c + u] = s;                                                          \
        }                                                                                     \
}                                                                                             \
static void fill_##S(T* a, size_t n) { for (size_t i = 0; i < n; i++) a[i] = (T)rnd(); }      \
static int same_##S(const T* a, const T* b, size_t n, const char* what, int p1, int p2) {     \
    for (size_t i = 0; i < n; i++)                                                            \
        if (memcmp(&a[i], &b[i], sizeof(T)) != 0) {                                           \
            printf("FAIL %s (%d, %d): element %zu: %.9g != %.9g\n", what, p1, p2, i,          \
                   (double)a[i], (double)b[i]);                                               \
            failures++;                                                                       \
            return 0;                                                                         \
        }                                                                                     \
    return 1;                                                                                 \
}                                                                                             \
static int check_##S(void) {                                                                  \
    int n = 0;                                                                                \
    T* data = malloc(sizeof(T) * (NROWS * (NCOLS + 64) + 64));                                \
    T* out = aligned_alloc(64, sizeof(T) * NROWS * NCOLS);                                     \
    T* ref = malloc(sizeof(T) * NROWS * NCOLS);                                               \
    T w[3 * 7 * KLMAX], wt[7 * KLMAX];                                                        \
    const T* src[NROWS];                                                                      \
    ptrdiff_t rowsel[3 * 7];                                                                  \
    fill_##S(data, NROWS * (NCOLS + 64) + 64);                                                \
    fill_##S(w, 3 * 7 * KLMAX);                                                               \
    /* lane shift: every amount */                                                            \
    for (int s = 0; s < L; s++) {                                                             \
        T lo[L], hi[L], got[L];                                                               \
        fill_##S(lo, L); fill_##S(hi, L);                                                     \
        ndv_##S##_storeu(got, ndv_##S##_shift(ndv_##S##_loadu(lo), ndv_##S##_loadu(hi), s)); \
        for (int i = 0; i < L; i++)                                                           \
            if (memcmp(&got[i], i + s < L ? &lo[i + s] : &hi[i + s - L], sizeof(T))) {        \
                printf("FAIL shift %d lane %d\n", s, i); failures++;                          \
            }                                                                                 \
        n++;                                                                                  \
    }                                                                                         \
    /* rolling rows: every kernel height (each block at its own strip width, also where       \
       ndv_roll_width leaves a height to the four-row block), several widths,                 \
       misalignments, strip positions; half of them with non-temporal stores */               \
    for (int kb = 2; kb <= NDV_ROLL_MAX; kb++)                                                \
        for (int klast = 1; klast <= KLMAX; klast += 2)                                       \
            for (int mis = 0; mis < L + 1; mis += (L > 2 ? L / 2 - 1 : 1)) {                  \
                ptrdiff_t rw = NDV_ROLL_NV(kb) * L, h = 1 + (kb * 7 + klast + mis) % 30;       \
                ptrdiff_t c = (mis * 3) % (NCOLS - rw - KLMAX);                               \
                for (int r = 0; r < NROWS; r++) src[r] = data + r * (NCOLS + 64) + mis;       \
                for (int t = 0; t < kb; t++) rowsel[t] = t;                                   \
                memset(out, 0, sizeof(T) * NROWS * NCOLS);                                    \
                memset(ref, 0, sizeof(T) * NROWS * NCOLS);                                    \
                ndconv_roll_weights_##S(w, kb, klast, wt);                                    \
                ndv_roll_##S(kb, out, NCOLS, c, src, h, wt, klast, mis & 1 ? rw : 0,          \
                             (kb + klast) & 2);                                               \
                ndv_stream_fence();                                                           \
                ref_##S(ref, NCOLS, c, rw, src, rowsel, (int)h, kb, klast, w, 1);             \
                same_##S(out, ref, NROWS * NCOLS, "roll_" #S " kb, klast", kb, klast);        \
                n++;                                                                          \
            }                                                                                 \
    /* four rows: groups of kb rows (source rows kb + 3 per group) */                         \
    for (int groups = 1; groups <= 3; groups++)                                               \
        for (int kb = 1; kb <= 7; kb++)                                                       \
            for (int klast = 1; klast <= KLMAX; klast += 4) {                                 \
                int mis = (groups + kb + klast) % L;                                          \
                ptrdiff_t c = (kb * 5) % 40, nsrc = groups * (kb + 3);                        \
                if (nsrc > NROWS) continue;                                                   \
                for (int r = 0; r < nsrc; r++)                                                \
                    src[r] = data + ((r * 7) % NROWS) * (NCOLS + 64) + mis;                   \
                for (int g = 0; g < groups; g++)                                              \
                    for (int t = 0; t < kb; t++) rowsel[g * kb + t] = g * (kb + 3) + t;       \
                memset(out, 0, sizeof(T) * NROWS * NCOLS);                                    \
                memset(ref, 0, sizeof(T) * NROWS * NCOLS);                                    \
                ndv_quad_##S(out, NCOLS, c, src, w, groups, kb, klast);                       \
                ref_##S(ref, NCOLS, c, NDV_QUAD_NV * L, src, rowsel, 4, groups * kb, klast,   \
                        w, 1);                                                                \
                same_##S(out, ref, NROWS * NCOLS, "quad_" #S " groups, kb", groups, kb);      \
                n++;                                                                          \
            }                                                                                 \
    free(data); free(out); free(ref);                                                         \
    return n;                                                                                 \
}

DEFINE_CHECKS(float, f32, NDV_F32_LANES, REF_FMAF)
DEFINE_CHECKS(double, f64, NDV_F64_LANES, REF_FMAD)

#if NDV_ISA == 3
#include "avx512_check.h"
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);   /* CPU time: the machines are shared */
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* GFLOP/s (2 per multiply-add) of the float row-sharing blocks on an
   L2-resident tile: 256 columns x 64 output rows, best of 5 runs of reps
   sweeps; square kernels of 2-7 rows (the rolling rows at their own strip
   width, also where ndv_roll_width gives that height to the four-row block)
   and 15x15 (four rows only). */
static void time_f32(void) {
    enum { COLS = 256, H = 64 };
    enum { KMAX = 15 };
    float* data = malloc(sizeof(float) * (H + KMAX) * (COLS + 32));
    float* out = malloc(sizeof(float) * H * COLS);
    float w[KMAX * KMAX], wt[KMAX * KMAX];
    const float* src[H + KMAX];
    fill_f32(data, (H + KMAX) * (COLS + 32));
    fill_f32(w, KMAX * KMAX);
    for (int r = 0; r < H + KMAX; r++) src[r] = data + r * (COLS + 32);
    printf("%-8s %-22s %10s\n", NDV_ISA_NAME, "block (float32)", "GFLOP/s");
    for (int k = 2; k <= KMAX; k += k < NDV_ROLL_MAX ? 1 : KMAX - NDV_ROLL_MAX) {
        ptrdiff_t rw = k <= NDV_ROLL_MAX ? NDV_ROLL_NV(k) * NDV_F32_LANES : 0;
        double best = 0;
        int reps = 200;
        ndconv_roll_weights_f32(w, k, k, wt);
        for (int run = 0; run < 5 && rw > 0; run++) {
            double t0 = now();
            for (int rep = 0; rep < reps; rep++)
                for (ptrdiff_t c = 0; c + rw <= COLS; c += rw)
                    ndv_roll_f32(k, out, COLS, c, src, H, wt, k, 0, 0);
            double dt = now() - t0;
            double flop = 2.0 * reps * (COLS / rw) * rw * H * k * k;
            if (flop / dt > best) best = flop / dt;
        }
        if (rw > 0)
            printf("%-8s rolling rows %dx%d%s %10.1f\n", "", k, k,
                   ndv_roll_width(k, NDV_F32_LANES) ? "      " : " (unused)", best * 1e-9);
        best = 0;
        for (int run = 0; run < 5; run++) {
            double t0 = now();
            ptrdiff_t qc = NDV_QUAD_NV * NDV_F32_LANES;
            for (int rep = 0; rep < reps; rep++)
                for (int i = 0; i + 4 <= H; i += 4)
                    for (ptrdiff_t c = 0; c + qc <= COLS; c += qc)
                        ndv_quad_f32(out + i * COLS, COLS, c, src + i, w, 1, k, k);
            double dt = now() - t0;
            double flop = 2.0 * reps * (COLS / qc) * qc * H * k * k;
            if (flop / dt > best) best = flop / dt;
        }
        printf("%-8s four rows %dx%d%*s %10.1f\n", "", k, k, k < 10 ? 10 : 8, "", best * 1e-9);
    }
    free(data); free(out);
}

/* Milliseconds of one 2048 x 2048 float32 image swept by the rolling rows in
   tiles of th rows (as the direct path does, one thread): how the tile
   height trades L2 residency of a tile's source rows against ramp rows and
   against reading them in long runs (the short tiles of streaming outputs),
   with plain and with non-temporal stores of the output. */
static void time_tiles(void) {
    enum { N = 2048, PAD = 8 };
    float* x = malloc(sizeof(float) * (size_t)(N + PAD) * (N + PAD));
    float* o = aligned_alloc(64, sizeof(float) * (size_t)N * N);
    float w[49], wt[49];
    const float* src[N + PAD];
    fill_f32(x, (size_t)(N + PAD) * (N + PAD));
    fill_f32(w, 49);
    printf("%-8s %-22s %10s\n", NDV_ISA_NAME, "2048^2 float32 sweep", "ms");
    for (int k = 3; k <= 7; k += 2) {
        ptrdiff_t rw = ndv_roll_width(k, NDV_F32_LANES);
        if (rw == 0) continue;   /* this build runs the four-row block there */
        ndconv_roll_weights_f32(w, k, k, wt);
        static const int heights[] = {4, 6, 8, 16, 32, 64, 128};
        for (size_t hi = 0; hi < sizeof heights / sizeof heights[0]; hi++)
            for (int nt = 0; nt <= 1; nt++) {   /* plain, then non-temporal stores */
                int th = heights[hi];
                double best = 1e30;
                for (int run = 0; run < 3; run++) {
                    double t0 = now();
                    for (int r0 = 0; r0 < N; r0 += th) {
                        int h = N - r0 < th ? N - r0 : th;
                        for (int i = 0; i < h + k - 1; i++) src[i] = x + (size_t)(r0 + i) * (N + PAD);
                        for (ptrdiff_t c = 0; c + rw <= N; c += rw)
                            ndv_roll_f32(k, o + (size_t)r0 * N, N, c, src, h, wt, k,
                                         c + 2 * rw <= N ? rw : 0, nt);
                        ndv_stream_fence();
                    }
                    double dt = now() - t0;
                    if (dt < best) best = dt;
                }
                printf("%-8s %dx%d, tiles of %3d rows%s %10.2f\n", "", k, k, th, nt ? ", streamed" : "         ",
                       best * 1e3);
            }
    }
    free(x); free(o);
}

#include "sep_check.h"
#include "layer_check.h"

/* Whether this CPU runs the instruction set the file was compiled for. */
static int cpu_runs_build(void) {
#if (NDV_ISA == 2 || NDV_ISA == 3) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return 0;
#if NDV_ISA == 3
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
          && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))) return 0;
#endif
#endif
    return 1;
}

int main(int argc, char** argv) {
    if (!cpu_runs_build()) {
        printf("%s: this CPU cannot run this build; compiled, not run\n", NDV_ISA_NAME);
        return 0;
    }
    int n = check_f32() + check_f64() + sep_check_f32() + sep_check_f64() + layer_check();
#if NDV_ISA == 3
    n += check_avx512();
#endif
    printf("%s: %d checks, %d failures\n", NDV_ISA_NAME, n, failures);
    if (argc > 1 && strcmp(argv[1], "--time") == 0) {
        time_f32();
        time_tiles();
        sep_time();
        layer_time();
    }
    return failures != 0;
}

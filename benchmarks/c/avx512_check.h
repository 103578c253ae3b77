/* The AVX-512 build's own blocks (ndconv_blocks_avx512.h), checked like the
   others when the CPU runs them; part of rows_check.c's AVX-512 build. */
#define DEFINE_AVX512_CHECKS(T, S, L, WIDE)                                                  \
static int check_avx512_##S(void) {                                                           \
    int n = 0;                                                                                \
    T* data = malloc(sizeof(T) * (NROWS * (NCOLS + 256) + 64));                               \
    T* out = aligned_alloc(64, sizeof(T) * NROWS * (NCOLS + 256));                            \
    T* ref = malloc(sizeof(T) * NROWS * (NCOLS + 256));                                       \
    T w[3 * 7 * KLMAX], wt[7 * KLMAX];                                                        \
    const T* src[NROWS];                                                                      \
    const T* wrows[NROWS];                                                                    \
    ptrdiff_t rowsel[3 * 7];                                                                  \
    ptrdiff_t ocols = NCOLS + 256;                                                            \
    fill_##S(data, NROWS * (NCOLS + 256) + 64);                                               \
    fill_##S(w, 3 * 7 * KLMAX);                                                               \
    for (int mis = 0; mis <= L; mis++)                                                        \
        for (int klast = 3; klast <= KLMAX; klast += 3) {                                     \
            int ntaps = 1 + (mis + klast) % 5;                                                \
            for (int t = 0; t < ntaps; t++) {                                                 \
                src[t] = data + ((t * 3) % NROWS) * ocols + mis;                              \
                wrows[t] = w + t * klast;                                                     \
                rowsel[t] = t;                                                                \
            }                                                                                 \
            memset(out, 0, sizeof(T) * NROWS * ocols);                                        \
            memset(ref, 0, sizeof(T) * NROWS * ocols);                                        \
            WIDE(out, mis, src, wrows, ntaps, klast);                                         \
            ref_##S(ref, ocols, mis, 8 * L, src, rowsel, 1, ntaps, klast, w, 0);              \
            same_##S(out, ref, NROWS * ocols, "avx512 one-row " #S " mis, klast", mis, klast); \
            n++;                                                                              \
            for (int kb = 2; kb <= 7; kb++) {                                                 \
                ptrdiff_t rw = ndconv_roll_width(kb, L), h = 1 + (kb + mis) % 20;             \
                for (int r = 0; r < NROWS; r++) src[r] = data + r * ocols + mis;              \
                for (int t = 0; t < kb; t++) rowsel[t] = t;                                   \
                memset(out, 0, sizeof(T) * NROWS * ocols);                                    \
                memset(ref, 0, sizeof(T) * NROWS * ocols);                                    \
                ndconv_roll_weights_##S(w, kb, klast, wt);                                    \
                ndconv_roll_##S(kb, out, ocols, 0, src, h, wt, klast, 0, klast & 1);          \
                ndv_stream_fence();                                                           \
                ref_##S(ref, ocols, 0, rw, src, rowsel, (int)h, kb, klast, w, 1);             \
                same_##S(out, ref, NROWS * ocols, "avx512 roll " #S " kb, klast", kb, klast); \
                memset(out, 0, sizeof(T) * NROWS * ocols);                                    \
                memset(ref, 0, sizeof(T) * NROWS * ocols);                                    \
                ndconv_blk4_##S(out, ocols, 0, src, w, 1, kb, klast);                         \
                ref_##S(ref, ocols, 0, 4 * L, src, rowsel, 4, kb, klast, w, 1);               \
                same_##S(out, ref, NROWS * ocols, "avx512 four-row " #S " kb, klast", kb, klast); \
                n += 2;                                                                       \
            }                                                                                 \
        }                                                                                     \
    free(data); free(out); free(ref);                                                         \
    return n;                                                                                 \
}
DEFINE_AVX512_CHECKS(float, f32, 16, ndconv_blk128_f32)
DEFINE_AVX512_CHECKS(double, f64, 8, ndconv_blk64_f64)

/* Rows that own only the elements a block reads.  The aligned window
   vectors cover the rest of their cache lines; built with
   -fsanitize=address, every byte of a row outside [p, p + need) is
   poisoned, so a read the results do not depend on is reported.  (Without
   ASan the same checks run, bit for bit, on ordinary rows.) */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
#endif
#define TIGHT_STRIDE 512   /* elements per row: 64-byte multiples, room for the widest read */
#define DEFINE_TIGHT_CHECKS(T, S, L, WIDE)                                                   \
static void tight_rows_##S(T* arena, const T** src, int nrows, int mis, ptrdiff_t need) {     \
    ASAN_UNPOISON_MEMORY_REGION(arena, sizeof(T) * NROWS * TIGHT_STRIDE);                     \
    fill_##S(arena, NROWS * TIGHT_STRIDE);                                                    \
    ASAN_POISON_MEMORY_REGION(arena, sizeof(T) * NROWS * TIGHT_STRIDE);                       \
    for (int r = 0; r < nrows; r++) {                                                         \
        src[r] = arena + r * TIGHT_STRIDE + 64 / sizeof(T) + mis;                             \
        ASAN_UNPOISON_MEMORY_REGION(src[r], sizeof(T) * need);                                \
    }                                                                                         \
}                                                                                             \
static int check_avx512_tight_##S(void) {                                                     \
    int n = 0;                                                                                \
    T* arena = aligned_alloc(64, sizeof(T) * NROWS * TIGHT_STRIDE);                           \
    T* out = aligned_alloc(64, sizeof(T) * NROWS * TIGHT_STRIDE);                             \
    T* ref = malloc(sizeof(T) * NROWS * TIGHT_STRIDE);                                        \
    T w[7 * KLMAX], wt[7 * KLMAX];                                                            \
    const T* src[NROWS];                                                                      \
    const T* wrows[7];                                                                        \
    ptrdiff_t rowsel[7];                                                                      \
    fill_##S(w, 7 * KLMAX);                                                                   \
    for (int mis = 0; mis < L; mis++)                                                         \
        for (int klast = 1; klast <= KLMAX; klast++) {                                        \
            for (int kb = 1; kb <= 7; kb++) {                                                 \
                for (int t = 0; t < kb; t++) { wrows[t] = w + t * klast; rowsel[t] = t; }     \
                if (kb <= 5) {    /* one-row: kb rows of taps, 8 L outputs */                 \
                    tight_rows_##S(arena, src, kb, mis, 8 * L + klast - 1);                   \
                    memset(out, 0, sizeof(T) * 8 * L);                                        \
                    WIDE(out, 0, src, wrows, kb, klast);                                      \
                    ref_##S(ref, 0, 0, 8 * L, src, rowsel, 1, kb, klast, w, 0);               \
                    same_##S(out, ref, 8 * L, "tight one-row " #S " mis, klast", mis, klast); \
                    n++;                                                                      \
                }                                                                             \
                if (kb < 2) continue;                                                         \
                ptrdiff_t rw = ndconv_roll_width(kb, L), h = 1 + (kb + mis + klast) % 9;      \
                tight_rows_##S(arena, src, (int)h + kb - 1, mis, rw + klast - 1);             \
                ndconv_roll_weights_##S(w, kb, klast, wt);                                    \
                ndconv_roll_##S(kb, out, rw, 0, src, h, wt, klast, 0, mis & 1);               \
                ndv_stream_fence();                                                           \
                ref_##S(ref, rw, 0, rw, src, rowsel, (int)h, kb, klast, w, 1);                \
                same_##S(out, ref, rw * h, "tight roll " #S " kb, klast", kb, klast);         \
                tight_rows_##S(arena, src, kb + 3, mis, 4 * L + klast - 1);                   \
                ndconv_blk4_##S(out, 4 * L, 0, src, w, 1, kb, klast);                         \
                ref_##S(ref, 4 * L, 0, 4 * L, src, rowsel, 4, kb, klast, w, 1);               \
                same_##S(out, ref, 16 * L, "tight four-row " #S " kb, klast", kb, klast);     \
                n += 2;                                                                       \
            }                                                                                 \
        }                                                                                     \
    ASAN_UNPOISON_MEMORY_REGION(arena, sizeof(T) * NROWS * TIGHT_STRIDE);                     \
    free(arena); free(out); free(ref);                                                        \
    return n;                                                                                 \
}
DEFINE_TIGHT_CHECKS(float, f32, 16, ndconv_blk128_f32)
DEFINE_TIGHT_CHECKS(double, f64, 8, ndconv_blk64_f64)

static int check_avx512(void) {
    return check_avx512_f32() + check_avx512_f64() + check_avx512_tight_f32() + check_avx512_tight_f64();
}

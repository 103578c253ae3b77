/* The AVX-512 build's own blocks (ndconv_blocks_avx512.h), checked like the
   others when the CPU runs them; part of rows_check.c's AVX-512 build. */
#define DEFINE_AVX512_CHECKS(T, S, L, WIDE)                                                  \
static int check_avx512_##S(void) {                                                           \
    int n = 0;                                                                                \
    T* data = malloc(sizeof(T) * (NROWS * (NCOLS + 256) + 64));                               \
    T* out = malloc(sizeof(T) * NROWS * (NCOLS + 256));                                       \
    T* ref = malloc(sizeof(T) * NROWS * (NCOLS + 256));                                       \
    T w[3 * 7 * KLMAX];                                                                       \
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
                ndconv_roll_##S(kb, out, ocols, 0, src, h, w, klast, 0);                      \
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

static int check_avx512(void) { return check_avx512_f32() + check_avx512_f64(); }

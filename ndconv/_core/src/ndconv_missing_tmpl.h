/* Body of ndconv_missing.h for one element type: NDCONV_MISS_T (float or
   double), NDCONV_MISS_U (the unsigned integer of its size), NDCONV_MISS_SUF
   (f32 or f64), NDCONV_MISS_ONE and NDCONV_MISS_QNAN (the bits of 1.0 and of
   a quiet NaN).  Included once per type; no include guard on purpose. */
#define T NDCONV_MISS_T
#define U NDCONV_MISS_U
#define FN(name) NDCONV_MISS_GLUE(name, NDCONV_MISS_SUF)

/* xz[i] = src[i] where src[i] is not NaN, else 0; pr[i] = 1.0 or 0.0
   likewise.  src may be xz itself (a gathered row split in place). */
static inline void FN(ndconv_split_)(const T* src, T* xz, T* pr, ptrdiff_t n) {
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        T v = src[i];
        U b, keep = (U)0 - (U)(v == v), z, p;
        memcpy(&b, &v, sizeof b);
        z = b & keep;
        p = (U)NDCONV_MISS_ONE & keep;
        memcpy(xz + i, &z, sizeof z);
        memcpy(pr + i, &p, sizeof p);
    }
}

/* o[i] = o[i] * (ksum / den[i]), NaN where the signed weight (den, or -den
   when the kernel sums below zero) is below `limit` (strict) or at most
   `limit` (not strict: the weight counts as none), as missing.finish; and,
   with `own` (the presence of each output's own input sample: preserve_nan),
   NaN where it is 0 -- the same NaN, ORed into the scale. */
static inline void FN(ndconv_finish_)(T* o, const T* den, ptrdiff_t n, T ksum, T limit,
                                      int strict, int neg, const T* own) {
    ptrdiff_t i;
    /* one loop per case: with `own` tested inside, gcc loaded own[i] with a
       masked load from NULL, which AMD cores replay slowly (4x the call) */
#define NDCONV_FINISH_LOOP(BAD)                                                \
    for (i = 0; i < n; i++) {                                                  \
        T d = den[i], s = neg ? -d : d, scale = ksum / d;                      \
        U b, bad = (U)(BAD);                                                   \
        memcpy(&b, &scale, sizeof b);                                          \
        b |= ((U)0 - bad) & (U)NDCONV_MISS_QNAN;                               \
        memcpy(&scale, &b, sizeof b);                                          \
        o[i] = o[i] * scale;                                                   \
    }
    if (own == NULL) {
        if (strict)
            NDCONV_FINISH_LOOP(s < limit)
        else
            NDCONV_FINISH_LOOP(s <= limit)
    } else {
        if (strict)
            NDCONV_FINISH_LOOP((s < limit) | (own[i] == 0))
        else
            NDCONV_FINISH_LOOP((s <= limit) | (own[i] == 0))
    }
#undef NDCONV_FINISH_LOOP
}

#undef FN
#undef U
#undef T
#undef NDCONV_MISS_T
#undef NDCONV_MISS_U
#undef NDCONV_MISS_SUF
#undef NDCONV_MISS_ONE
#undef NDCONV_MISS_QNAN

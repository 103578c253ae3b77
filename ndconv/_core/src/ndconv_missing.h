/* The one-pass direct kernel for missing samples (kernels.pxi's
   _do_item_missing): a NaN sample is missing.  Each source row is split, in a
   thread's cache-resident scratch, into the row with its missing samples
   zeroed and the row of presence (1 or 0); the one-row blocks correlate both,
   and the ratio is finished in place before the row chunk leaves the cache.

   The bits match _plan/missing.py's two passes exactly: the same zeroed
   values and 0/1 weights, the same blocks (so the same sums), then the same
   steps as missing.finish, scale = ksum / den, NaN ORed into the scale where
   the weight is too small, out = num * scale.  Bit operations, not branches:
   holes are scattered, and a mispredicted branch per sample cost more than
   the arithmetic (the same reason as missing.zero_where). */
#ifndef NDCONV_MISSING_H
#define NDCONV_MISSING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* xz[i] = src[i] where src[i] is not NaN, else 0; pr[i] = 1.0 or 0.0
   likewise.  src may be xz itself (a gathered row split in place). */
static inline void ndconv_split_f32(const float* src, float* xz, float* pr, ptrdiff_t n) {
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        float v = src[i];
        uint32_t b, keep = (uint32_t)0 - (uint32_t)(v == v), z, p;
        memcpy(&b, &v, sizeof b);
        z = b & keep;
        p = (uint32_t)0x3F800000u & keep;
        memcpy(xz + i, &z, sizeof z);
        memcpy(pr + i, &p, sizeof p);
    }
}

static inline void ndconv_split_f64(const double* src, double* xz, double* pr, ptrdiff_t n) {
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        double v = src[i];
        uint64_t b, keep = (uint64_t)0 - (uint64_t)(v == v), z, p;
        memcpy(&b, &v, sizeof b);
        z = b & keep;
        p = (uint64_t)0x3FF0000000000000ull & keep;
        memcpy(xz + i, &z, sizeof z);
        memcpy(pr + i, &p, sizeof p);
    }
}

/* o[i] = o[i] * (ksum / den[i]), NaN where the signed weight (den, or -den
   when the kernel sums below zero) is below `limit` (strict) or at most
   `limit` (not strict: the weight counts as none), as missing.finish; and,
   with `own` (the presence of each output's own input sample: preserve_nan),
   NaN where it is 0 -- the same NaN, ORed into the scale. */
static inline void ndconv_finish_f32(float* o, const float* den, ptrdiff_t n, float ksum,
                                     float limit, int strict, int neg, const float* own) {
    ptrdiff_t i;
    /* one loop per case: with `own` tested inside, gcc loaded own[i] with a
       masked load from NULL, which AMD cores replay slowly (4x the call) */
#define NDCONV_FINISH_LOOP(BAD)                                                \
    for (i = 0; i < n; i++) {                                                  \
        float d = den[i], s = neg ? -d : d, scale = ksum / d;                  \
        uint32_t b, bad = (uint32_t)(BAD);                                     \
        memcpy(&b, &scale, sizeof b);                                          \
        b |= ((uint32_t)0 - bad) & (uint32_t)0x7FC00000u;                      \
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

static inline void ndconv_finish_f64(double* o, const double* den, ptrdiff_t n, double ksum,
                                     double limit, int strict, int neg, const double* own) {
    ptrdiff_t i;
    /* one loop per case: with `own` tested inside, gcc loaded own[i] with a
       masked load from NULL, which AMD cores replay slowly (4x the call) */
#define NDCONV_FINISH_LOOP(BAD)                                                \
    for (i = 0; i < n; i++) {                                                  \
        double d = den[i], s = neg ? -d : d, scale = ksum / d;                 \
        uint64_t b, bad = (uint64_t)(BAD);                                     \
        memcpy(&b, &scale, sizeof b);                                          \
        b |= ((uint64_t)0 - bad) & (uint64_t)0x7FF8000000000000ull;            \
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

#endif

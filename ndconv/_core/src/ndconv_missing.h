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

#define NDCONV_MISS_GLUE2(a, b) a##b
#define NDCONV_MISS_GLUE(a, b) NDCONV_MISS_GLUE2(a, b)

#define NDCONV_MISS_T float
#define NDCONV_MISS_U uint32_t
#define NDCONV_MISS_SUF f32
#define NDCONV_MISS_ONE 0x3F800000u
#define NDCONV_MISS_QNAN 0x7FC00000u
#include "ndconv_missing_tmpl.h"

#define NDCONV_MISS_T double
#define NDCONV_MISS_U uint64_t
#define NDCONV_MISS_SUF f64
#define NDCONV_MISS_ONE 0x3FF0000000000000ull
#define NDCONV_MISS_QNAN 0x7FF8000000000000ull
#include "ndconv_missing_tmpl.h"

#endif

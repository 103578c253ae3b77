/* The convolution layer's micro-kernels (ndconv_layer.h), compiled apart
   from rows_check.c: they leave their multiply-adds to the compiler's
   contraction of acc += x * w, so they are checked as a module ships them
   only with that module's flags (the Makefile's LAYER): contracted in the
   FMA builds, -ffp-contract=off in the scalar one as in the baseline module,
   whereas rows_check.c is compiled with -ffp-contract=off throughout.  The
   checks and the timing are in layer_check.h. */
#include "ndconv_layer.h"
#define LAYER_KERNELS_ONLY
#include "layer_check.h"

#ifndef LK_NVMAX
#define LK_NVMAX 4   /* the scalar instantiation (no vector extensions) */
#endif

const struct layer_kernels layer_kernels = {
    .vw_f32 = LK_VW_F, .vw_f64 = LK_VW_D, .nvmax = LK_NVMAX,
    .fwd_f32 = lk_fwd_f, .gw_f32 = lk_gw_f, .dw_f32 = lk_dw_f, .dwg_f32 = lk_dwg_f,
    .fwd_f64 = lk_fwd_d, .gw_f64 = lk_gw_d, .dw_f64 = lk_dw_d, .dwg_f64 = lk_dwg_d,
};

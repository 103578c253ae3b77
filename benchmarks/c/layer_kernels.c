/* The convolution layer's micro-kernels (ndconv_layer.h) and Winograd
   transforms (ndconv_winograd.h), compiled apart
   from rows_check.c: they leave their multiply-adds to the compiler's
   contraction of acc += x * w, so they are checked as a module ships them
   only with that module's flags (the Makefile's LAYER): contracted in the
   FMA builds, -ffp-contract=off in the scalar one as in the baseline module,
   whereas rows_check.c is compiled with -ffp-contract=off throughout.  The
   checks and the timing are in layer_check.h. */
#include "ndconv_winograd.h"   /* and ndconv_layer.h */
#define LAYER_KERNELS_ONLY
#include "layer_check.h"

#ifndef LK_NVMAX
#define LK_NVMAX 4   /* the scalar instantiation (no vector extensions) */
#endif

const struct layer_kernels layer_kernels = {
    .vw_f32 = LK_VW_F, .vw_f64 = LK_VW_D, .nvmax = LK_NVMAX,
    .fwd_f32 = lk_fwd_f, .gw_f32 = lk_gw_f, .dw_f32 = lk_dw_f, .dwg_f32 = lk_dwg_f,
    .fwd_f64 = lk_fwd_d, .gw_f64 = lk_gw_d, .dw_f64 = lk_dw_d, .dwg_f64 = lk_dwg_d,
    .win_in_f32 = lk_win_in_f, .win_out_f32 = lk_win_out_f, .win_weights_f32 = lk_win_weights_f,
    .win_in_f64 = lk_win_in_d, .win_out_f64 = lk_win_out_d, .win_weights_f64 = lk_win_weights_d,
};

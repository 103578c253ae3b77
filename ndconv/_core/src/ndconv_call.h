/* Small calls: the kernel of a planned call copied into the contiguous layout
   the direct kernels read, without a numpy call per step.

   A planned call receives the kernel as the user passed it (any strides), and
   the direct kernels read it C-contiguous, in the order of the axes they run
   in, flipped for a convolution and conjugated for a complex correlation.
   numpy does that in four calls (conj, a reversed view, a transpose, a
   contiguous copy), each costing more than a 3-tap kernel's arithmetic; this
   walks the kernel once.  The copy is exact (conjugation negates the imaginary
   part, as numpy.conj does), so the sums do not change by a bit. */
#ifndef NDCONV_CALL_H
#define NDCONV_CALL_H

#include <stddef.h>
#include <string.h>

/* dst[i] = src element at sum_a idx_a * step[a] (bytes) for the C-order
   multi-index idx of i over shape[0..nd-1]; nd <= 64.  conj: 4 for complex64
   and 8 for complex128 (the size of the imaginary part, negated), else 0. */
static inline void ndconv_copy_kernel(char* dst, const char* src, int nd, const ptrdiff_t* shape,
                                      const ptrdiff_t* step, size_t itemsize, int conj) {
    ptrdiff_t idx[64];
    ptrdiff_t n = 1, i;
    int a;
    for (a = 0; a < nd; a++) {
        n *= shape[a];
        idx[a] = 0;
    }
    for (i = 0; i < n; i++) {
        char* d = dst + (size_t)i * itemsize;
        memcpy(d, src, itemsize);
        if (conj == 4) {
            float v;
            memcpy(&v, d + 4, 4);
            v = -v;
            memcpy(d + 4, &v, 4);
        } else if (conj == 8) {
            double v;
            memcpy(&v, d + 8, 8);
            v = -v;
            memcpy(d + 8, &v, 8);
        }
        for (a = nd - 1; a >= 0; a--) {
            src += step[a];
            if (++idx[a] < shape[a])
                break;
            src -= step[a] * shape[a];
            idx[a] = 0;
        }
    }
}

#endif

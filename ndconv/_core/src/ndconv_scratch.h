/* Per-thread scratch of the parallel kernels: one allocation per thread,
   split into up to NDCONV_SCRATCH_PARTS parts, and one failure flag that the
   caller turns into a MemoryError after the parallel region.

   Every kernel needs a few buffers per thread (pointer tables, gather rows, a
   line of cval, ...).  Allocating them together means one call to check and
   one to free, and each part starts on its own cache line, so threads never
   share a line and the vector loads of a gathered row start aligned. */
#ifndef NDCONV_SCRATCH_H
#define NDCONV_SCRATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NDCONV_SCRATCH_PARTS 6
#define NDCONV_SCRATCH_ALIGN 64

/* What a kernel needs per thread: bytes[i] for part i (0: unused), and
   zero_mask bit i set where part i must start zeroed. */
typedef struct {
    size_t bytes[NDCONV_SCRATCH_PARTS];
    unsigned zero_mask;
} ndconv_scratch_spec;

/* A spec of up to six parts (sizes in bytes, 0 for none). */
static inline ndconv_scratch_spec ndconv_scratch_parts(size_t b0, size_t b1, size_t b2, size_t b3,
                                                       size_t b4, size_t b5, unsigned zero_mask) {
    ndconv_scratch_spec spec;
    spec.bytes[0] = b0; spec.bytes[1] = b1; spec.bytes[2] = b2;
    spec.bytes[3] = b3; spec.bytes[4] = b4; spec.bytes[5] = b5;
    spec.zero_mask = zero_mask;
    return spec;
}

/* One thread's scratch: part[i] points into block (NULL when the allocation
   failed, or when bytes[i] was 0). */
typedef struct {
    void* block;
    void* part[NDCONV_SCRATCH_PARTS];
    int owned;      /* block came from malloc (not the caller's buffer) */
} ndconv_scratch;

/* One thread's scratch, in the caller's buffer `buf` of `cap` bytes when it
   fits (a single-threaded call's stack: a small call then makes no malloc,
   which cost a tenth of a 16-sample call), else from malloc.  On failure (or
   a size that overflows) the block is NULL and *failed is set to 1; several
   threads may set it. */
static inline ndconv_scratch ndconv_scratch_alloc_in(const ndconv_scratch_spec* spec, int* failed,
                                                     void* buf, size_t cap) {
    ndconv_scratch s;
    size_t off[NDCONV_SCRATCH_PARTS], total = 0;
    int i;
    for (i = 0; i < NDCONV_SCRATCH_PARTS; i++) {
        size_t b = spec->bytes[i];
        off[i] = total;
        if (b > (size_t)-1 / 2 - total) {   /* absurd sizes fail instead of wrapping */
            total = (size_t)-1;
            break;
        }
        total += (b + NDCONV_SCRATCH_ALIGN - 1) / NDCONV_SCRATCH_ALIGN * NDCONV_SCRATCH_ALIGN;
    }
    s.block = NULL;
    s.owned = 0;
    if (total != (size_t)-1) {
        /* over-allocate by one alignment unit rather than use aligned_alloc,
           which MSVC lacks */
        if (buf != NULL && total <= cap && cap - total >= NDCONV_SCRATCH_ALIGN) {
            s.block = buf;
        } else {
            s.block = malloc(total + NDCONV_SCRATCH_ALIGN);
            s.owned = 1;
        }
    }
    for (i = 0; i < NDCONV_SCRATCH_PARTS; i++) s.part[i] = NULL;
    if (s.block == NULL) {
#if defined(__GNUC__) || defined(__clang__)
        __atomic_store_n(failed, 1, __ATOMIC_RELAXED);
#else
        *failed = 1;
#endif
        return s;
    }
    {
        char* base = (char*)s.block;
        size_t mis = (size_t)((uintptr_t)base % NDCONV_SCRATCH_ALIGN);
        if (mis) base += NDCONV_SCRATCH_ALIGN - mis;
        for (i = 0; i < NDCONV_SCRATCH_PARTS; i++) {
            if (spec->bytes[i] == 0) continue;
            s.part[i] = base + off[i];
            if (spec->zero_mask & (1u << i)) memset(s.part[i], 0, spec->bytes[i]);
        }
    }
    return s;
}

/* One thread's scratch from malloc (see ndconv_scratch_alloc_in). */
static inline ndconv_scratch ndconv_scratch_alloc(const ndconv_scratch_spec* spec, int* failed) {
    return ndconv_scratch_alloc_in(spec, failed, NULL, 0);
}

static inline void ndconv_scratch_free(ndconv_scratch* s) {
    if (s->owned) free(s->block);
    s->block = NULL;
}

#endif

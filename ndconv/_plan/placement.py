"""Where ndconv puts the large arrays it allocates for its results.

Two properties of an output's address decide how fast a kernel writes it
while reading its input, and neither is in numpy's ``np.empty``:

* **Half a page from the input.**  A CPU guesses whether a load depends on an
  earlier store from the low 12 bits of the two addresses.  glibc starts every
  large block 16 bytes past a page boundary, so an input and a fresh output of
  a few MiB share those bits at every element, and each load of the input
  waits on the store to the output ("4K aliasing").  Measured on an AMD EPYC,
  one thread, float32 2048^2 ``"same"``: 3x3 2.92 ms at 0 bytes apart vs 2.46 at
  3072, 3.59 ms 16 bytes below; 5x5 5.7-5.8 ms up to 128 bytes apart, 4.3 ms
  from 256 on; on two threads a 3x3 took 2.5x as long.  Whether a call hit it
  depended on what the process had allocated before (glibc's heap or a fresh
  mapping), so the same call ran at different speeds in different processes.
  An output placed ``SPREAD`` bytes (half a page) past the input modulo the
  page is as far from both of its neighbours as it can be.
* **Huge pages.**  numpy asks Linux for huge pages on allocations of 4 MiB
  and more, but a huge page backs only a 2 MiB-aligned range: a 1024^2
  float32 output that starts just past a page boundary took about 500 page
  faults instead of 2 (on a virtual machine about as much time as a 5x5
  filter of it).  A large output therefore starts ``SPREAD`` bytes past a
  2 MiB boundary (the huge pages still cover all of it but its head).

Arrays ndconv packs for its own kernels to read with vector loads (the
layer's weights) start on a cache line (``zeros``): numpy aligns to 16 bytes,
and a 64-byte load that straddles two lines costs an extra load.  The
layer's forward pass on an Intel Xeon, one thread, W6 shape: 11.8 ms with
the weights on a line, 13.7-13.8 ms 16, 32 or 48 bytes past one (the AVX2
build 19.5 vs 21.6-21.8 ms 16 bytes past); which one a call got depended on
the process's earlier allocations.

Only outputs of ``MIN_PLACED`` bytes and more are placed: smaller ones stay in
the caches, where neither effect showed (512^2 float32), and their calls
cannot spare the microseconds the placement costs.  The unused head and tail
of an allocation are never touched, so they cost address space, not memory.
"""
import math

import numpy as np

PAGE = 4096
HUGE_PAGE = 2 << 20
SPREAD = PAGE // 2
# the outputs placed: as large as a huge page (smaller ones stay in cache)
MIN_PLACED = HUGE_PAGE
# vector stores stay whole within a cache line
_LINE = 64


def address(a):
    """The address of ``a``'s first element (an array, or an int address)."""
    return a if isinstance(a, int) else a.__array_interface__["data"][0]


def placed(shape, dtype):
    """Whether ``empty`` places an array of ``shape`` and ``dtype`` (the rule, for
    callers that decide once and then skip the call for small arrays)."""
    return math.prod(shape) * np.dtype(dtype).itemsize >= MIN_PLACED


def empty(shape, dtype, near=None, perm=None):
    """An uninitialised C-ordered array of ``shape`` and ``dtype``, placed (see
    the module's docstring) for a kernel that reads ``near`` (an array or its
    address; None: no input to keep apart from) while it writes the result.

    ``perm``, a permutation of the axes, lays the array out with its axes in
    that order in memory (``perm[0]`` the slowest), as ``np.empty`` of the
    permuted shape transposed back.
    """
    dtype = np.dtype(dtype)
    if perm is not None:
        shape = [shape[a] for a in perm]
    if not placed(shape, dtype):
        out = np.empty(shape, dtype=dtype)
    else:
        nbytes = math.prod(shape) * dtype.itemsize
        target = 0 if near is None else (address(near) + SPREAD) % PAGE // _LINE * _LINE
        raw = np.empty(nbytes + HUGE_PAGE + PAGE, dtype=np.uint8)
        skip = -address(raw) % HUGE_PAGE + target
        out = raw[skip:skip + nbytes].view(dtype).reshape(shape)
    if perm is not None:
        out = out.transpose(np.argsort(perm))
    return out


def zeros(shape, dtype):
    """A zeroed C-ordered array of ``shape`` and ``dtype`` whose first element
    starts a cache line, for the kernels' vector loads (module docstring)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.zeros(nbytes + _LINE, dtype=np.uint8)
    skip = -address(raw) % _LINE
    return raw[skip:skip + nbytes].view(dtype).reshape(shape)

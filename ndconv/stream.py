"""Convolution of a signal that arrives in blocks: :class:`Stream`.

A stream keeps what the next outputs still need of the past input (the last
``K - 1`` samples along the stream axis) and emits each output as soon as it
is final, so that the outputs of all blocks and of :meth:`Stream.flush`,
concatenated, are one :func:`ndconv.convolve` call over the whole signal.

Two ways to compute a block:

* **one call per block**: :func:`ndconv.convolve` in ``"valid"`` mode over the
  kept samples followed by the block.  Each output is the same sum, in the same
  order, as in the one call over the whole signal, so with ``method="direct"``
  the stream is bitwise that call.  No latency beyond the ``"same"`` centring.
* **uniformly partitioned overlap-save** (1-D kernels, ``method="fft"``, or
  ``"auto"`` when it is estimated cheaper): the kernel is cut into partitions of
  ``L`` samples whose spectra are computed once; each block of ``L`` input
  samples costs one forward and one inverse transform of ``2 L`` samples and
  one multiply-add per kernel tap in the frequency domain, whatever the kernel
  length.  Outputs come ``L`` samples at a time (latency: one partition).
"""
from __future__ import annotations

import math
import numbers
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _api
from ._plan import boundary as _boundary
from ._plan import direct as _direct
from ._plan import fft as _fft
from ._plan import method as _method
from ._plan import validation as _validation

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike, NDArray

    from ._plan.validation import Boundary, Method

__all__ = ["Stream"]

STREAM_MODES = ("full", "same")

# Seconds per complex multiply-add of the frequency-domain sum (one small
# matrix product per frequency bin: 0.48 ns in complex64, 1.4 ns in complex128
# on a 2-core AMD EPYC, bound by reading both spectra), and the Python cost of
# one batch of partitions; used by ``method="auto"``.
_SPECTRAL_MAC_SECONDS = {"F": 0.5e-9, "D": 1.4e-9}
_BATCH_SECONDS = 20e-6


class Stream:
    """Convolve a signal that arrives block by block, as one call would.

    Parameters
    ----------
    k : array_like
        Kernel.  1-D: convolved along ``axis`` of every block (the same kernel
        for every other index, as ``convolve(x, k, axes=axis)``).  N-D: as many
        dimensions as the blocks, its axis ``axis`` along the stream.
    axis : int, optional
        The stream axis of the blocks (time).  Default: the last.
    axes : int or sequence of int, optional
        The convolved axes of the blocks, ``axis`` among them, as in
        :func:`ndconv.convolve`; a kernel with more dimensions is a batch whose
        leading axes broadcast against the blocks' other axes -- e.g. blocks
        ``(channels, samples)``, ``k`` of shape ``(channels, taps)`` and
        ``axes=-1``: one filter per channel.  Default: ``axis`` for a 1-D kernel,
        every axis for an N-D one.
    mode : {"full", "same"}, optional
        Along the stream, as in :func:`ndconv.convolve`: ``"full"`` emits
        ``n + K - 1`` samples for ``n`` input samples, ``"same"`` emits ``n``,
        centred like ``scipy.signal``, ``K // 2`` samples late (:attr:`delay`).
        An N-D kernel's other axes take the same mode.
    boundary, cval : optional
        The extension of the *other* axes of an N-D kernel, as in
        :func:`ndconv.convolve`.  Along the stream the signal is zero before the
        first block and after the end.
    method : {"auto", "direct", "fft"}, optional
        ``"direct"``: bitwise the one call with ``method="direct"``.  ``"fft"``: a
        1-D kernel runs partitioned overlap-save (within the FFT accuracy bound
        of :func:`ndconv.convolve`), an N-D kernel one FFT call per block.
        ``"auto"``: per the cost model, for the partition length.
    workers : int, optional
        Threads per block, as in :func:`ndconv.convolve`.
    partition : int, optional
        Partition length ``L`` of overlap-save (its latency, in samples).
        Default: the first non-empty block's length rounded up to a fast
        transform length, at least 64.

    Notes
    -----
    Contract: for any sequence of blocks (of any and varying lengths, also 1
    and 0), ``np.concatenate([s.process(b) for b in blocks] + [s.flush()],
    axis)`` equals ``ndconv.convolve(np.concatenate(blocks, axis), k, mode,
    axes=...)`` computed with a zero boundary along the stream axis: bitwise for
    the direct method, within the FFT bound otherwise.  The blocks must agree
    in every dimension but ``axis``; the first block fixes the dtype, and later
    blocks must cast to it safely.

    Examples
    --------
    >>> import numpy as np, ndconv
    >>> s = ndconv.Stream([1.0, 2.0, 3.0], method="direct")
    >>> parts = [s.process(b) for b in ([1.0, 0.0], [0.0, 1.0, 2.0])] + [s.flush()]
    >>> np.concatenate(parts)
    array([1., 2., 3., 1., 4., 7., 6.])
    >>> ndconv.convolve([1.0, 0.0, 0.0, 1.0, 2.0], [1.0, 2.0, 3.0], method="direct")
    array([1., 2., 3., 1., 4., 7., 6.])
    """

    def __init__(self, k: ArrayLike, *, axis: int = -1, axes: int | Sequence[int] | None = None,
                 mode: str = "full",
                 boundary: Boundary = "constant", cval: complex = 0.0, method: Method = "auto",
                 workers: int | None = None, partition: int | None = None) -> None:
        k = _validation.as_array(k, "k")
        if k.ndim == 0 or k.size == 0:
            raise ValueError("k must have at least one dimension and one sample, got shape %s"
                             % (k.shape,))
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
            raise TypeError("axis must be an int, got %r" % (axis,))
        self.mode = _validation.check_choice(mode, "mode", STREAM_MODES)
        self.method = _validation.check_choice(method, "method", _validation.METHODS)
        self.boundary = _validation.check_choice(boundary, "boundary", _validation.BOUNDARIES)
        if isinstance(cval, (str, bytes)):
            raise TypeError("cval must be a number, got %r" % (cval,))
        self.cval = cval
        _validation.resolve_workers(workers, 1, 1)   # checked now, resolved per call
        self.workers = workers
        if partition is not None:
            if isinstance(partition, bool) or not isinstance(partition, numbers.Integral) \
                    or partition < 1:
                raise ValueError("partition must be None or a positive int, got %r"
                                 % (partition,))
            partition = int(partition)
        self._partition_arg = partition
        self._axis_arg = int(axis)
        self._axes_arg = axes
        self._k = np.array(k)      # a copy: the caller may change theirs
        self._fade = None
        self.reset()

    # ------------------------------------------------------------ public state
    @property
    def kernel(self) -> NDArray[Any]:
        """The kernel now in use (a read-only view)."""
        v = self._k.view()
        v.flags.writeable = False
        return v

    @property
    def delay(self) -> int:
        """Samples of latency of the convolution itself: 0 for ``"full"``,
        ``K // 2`` for ``"same"`` (``K`` the kernel's length along the stream).
        Overlap-save adds up to one partition of buffering (:attr:`latency`)."""
        return 0 if self.mode == "full" else self._klen() // 2

    @property
    def latency(self) -> int:
        """Input samples that may be held before their first output: 0 when
        every block is computed on arrival, else the partition length ``L - 1``
        (known after the first block)."""
        return 0 if self._ola is None else self._ola.L - 1

    @property
    def samples_in(self) -> int:
        """Samples received along the stream since the start (or :meth:`reset`)."""
        return self._n_in

    def reset(self) -> None:
        """Forget the signal: the next block starts a new stream (zero before it).
        Any crossfade in progress ends on the newer kernel."""
        if self._fade is not None:
            self._k = self._fade.k_new
            self._fade = None
        self._started = False
        self._flushed = False
        self._n_in = 0          # samples received
        self._n_full = 0        # "full"-index of the next output to compute
        self._hist = None
        self._ola = None
        self._order = None      # the direct method's axis order, fixed per stream

    # ------------------------------------------------------------ processing
    def process(self, block: ArrayLike) -> NDArray[Any]:
        """Add ``block`` (samples along :attr:`axis`) and return the outputs now final.

        Returns an array of the stream's output dtype with ``block``'s other
        dimensions (or the N-D kernel's mode applied to them) and as many
        samples along the axis as became final: the block's length in
        ``"full"`` mode with the direct method, fewer at the start of
        ``"same"`` or while overlap-save fills a partition.
        """
        if self._flushed:
            raise RuntimeError("the stream was flushed; call reset() to start a new one")
        block = _validation.as_array(block, "block")
        if not self._started:
            self._start(block)
        block = self._conform(block)
        if block.shape[self.axis] == 0:
            return self._empty_out(0)
        self._n_in += block.shape[self.axis]
        if self._ola is not None:
            full = self._ola.push(block)
        else:
            full = self._direct(block)
        return self._emit(full)

    def flush(self) -> NDArray[Any]:
        """The outputs after the last sample (the signal is zero from there on).

        Ends the stream: :meth:`process` then needs :meth:`reset` first.
        """
        if self._flushed:
            raise RuntimeError("the stream was flushed already; call reset() to start a new one")
        self._flushed = True
        if not self._started:
            return np.empty(0, self._out_dtype_guess())
        K = self._klen()
        if self._n_in == 0 or (K == 1 and self._ola is None):
            return self._empty_out(0)
        n_total = self._n_in + K - 1                  # "full" length
        if self._ola is not None:
            full = self._ola.finish(n_total - self._ola.n_done)
        else:
            zeros = self._zeros(K - 1)
            full = self._direct(zeros)
        return self._emit(full, end=n_total)

    def set_kernel(self, k2: ArrayLike, *, crossfade: int = 0) -> None:
        """Replace the kernel, fading from the old one over ``crossfade`` outputs.

        The new kernel applies to the signal's whole past, not only to samples
        arriving from now on: output ``i`` after the switch is what a stream built
        with ``k2`` would emit.  During the crossfade output ``i`` (``i = 0, 1, ...``
        counted from the next one emitted) is ``(1 - w) * old + w * new`` with
        ``w = (i + 1) / (crossfade + 1)``; from output ``crossfade`` on it is the
        new kernel's output exactly, so the one-call contract holds for ``k2``
        over every output after the fade.  ``k2`` must have the shape and result
        dtype of the current kernel (the kept history and the outputs' dtype
        depend on them).
        """
        k2 = _validation.as_array(k2, "k2")
        if k2.shape != self._k.shape:
            raise ValueError("k2 must have the current kernel's shape %s, got %s"
                             % (self._k.shape, k2.shape))
        if isinstance(crossfade, bool) or not isinstance(crossfade, numbers.Integral) \
                or crossfade < 0:
            raise ValueError("crossfade must be a non-negative int, got %r" % (crossfade,))
        if self._started and _validation.result_dtype(self._probe, k2) != self._out_dtype:
            raise TypeError("k2 (dtype %s) would change the stream's output dtype %s"
                            % (k2.dtype, self._out_dtype))
        k2 = np.array(k2)
        if self._fade is not None:       # a fade in progress jumps to its end
            self._k = self._fade.k_new
            self._fade = None
        if crossfade == 0:
            self._k = k2
            if self._ola is not None:
                self._ola.set_kernel(self._k_ola(k2))
            return
        self._fade = _Fade(k2, int(crossfade))
        if self._ola is not None:
            self._ola.add_kernel(self._k_ola(k2))

    # ------------------------------------------------------------ internals
    def _klen(self):
        """The kernel's length along the stream."""
        if not self._started:
            return self._k.shape[-1] if self._k.ndim == 1 else self._k.shape[self._axis_arg]
        return self._k.shape[self._nb + self._conv.index(self.axis)]

    def _out_dtype_guess(self):
        return _validation.result_dtype(np.empty(0), self._k)

    def _kshape(self, ax):
        """The kernel's extent along convolved axis ``ax`` of the blocks."""
        return self._k.shape[self._nb + self._conv.index(ax)]

    def _start(self, block):
        if block.ndim == 0:
            raise ValueError("block must have at least one dimension")
        if not -block.ndim <= self._axis_arg < block.ndim:
            raise ValueError("axis %d is out of range for blocks with %d dimensions"
                             % (self._axis_arg, block.ndim))
        self.axis = self._axis_arg % block.ndim
        if self._axes_arg is None:
            if self._k.ndim != 1 and self._k.ndim != block.ndim:
                raise ValueError("k.ndim (%d) must be 1 or block.ndim (%d) (or pass axes= for "
                                 "a batch of kernels)" % (self._k.ndim, block.ndim))
            conv = (self.axis,) if self._k.ndim == 1 else tuple(range(block.ndim))
        else:
            n_axes = 1 if np.ndim(self._axes_arg) == 0 else len(self._axes_arg)
            conv = _validation.normalize_axes(self._axes_arg, block.ndim, n_axes)
            if self.axis not in conv:
                raise ValueError("axes %r must include the stream axis %d"
                                 % (self._axes_arg, self.axis))
            if self._k.ndim < len(conv):
                raise ValueError("k.ndim (%d) must be at least len(axes) (%d)"
                                 % (self._k.ndim, len(conv)))
        self._conv = conv
        self._nb = self._k.ndim - len(conv)          # leading batch axes of k
        other = [a for a in range(block.ndim) if a not in conv]
        if self._nb > len(other):
            raise ValueError("k has %d batch axes but the blocks only %d axes besides the "
                             "convolved ones" % (self._nb, len(other)))
        self._paired = other[len(other) - self._nb:]
        for a, m in zip(self._paired, self._k.shape[:self._nb]):
            if block.shape[a] != m and 1 not in (block.shape[a], m):
                raise ValueError("k's batch shape %s does not broadcast against the blocks' "
                                 "shape %s" % (self._k.shape[:self._nb], block.shape))
        self._in_dtype = block.dtype
        self._probe = np.empty(0, self._in_dtype)
        self._out_dtype = _validation.result_dtype(self._probe, self._k)
        self._cval = _validation.normalize_cval(self.cval, self._out_dtype)
        self._other = tuple(n for i, n in enumerate(block.shape) if i != self.axis)
        self._ndim = block.ndim
        self._started = True
        K = self._klen()
        self._hist = self._zeros(K - 1)
        if self._use_ola(block, K):
            L = self._partition_arg or max(64, _fft.next_fast_len(block.shape[self.axis], True))
            self._ola = _OverlapSave(self._k_ola(self._k), L, self.axis, self._other,
                                     self._out_dtype, self.workers)
            if self._fade is not None:
                self._ola.add_kernel(self._k_ola(self._fade.k_new))

    def _k_ola(self, k):
        """The kernel as overlap-save takes it: batch axes aligned with the
        blocks' other axes (size 1 where none), then the taps."""
        kb = [1] * len(self._other)
        other_axes = [a for a in range(self._ndim) if a != self.axis]
        for a, m in zip(self._paired, k.shape[:self._nb]):
            kb[other_axes.index(a)] = m
        return k.reshape(tuple(kb) + (k.shape[-1] if self._nb == 0 else k.shape[self._nb],))

    def _use_ola(self, block, K):
        if self._conv != (self.axis,) and any(self._kshape(a) > 1 for a in self._conv
                                              if a != self.axis):
            return False          # N-D kernels: one call per block
        if self.method == "direct" or K == 1:
            return False
        if self.method == "fft":
            return True
        # "auto": per partition, the direct sum against overlap-save
        L = self._partition_arg or max(64, _fft.next_fast_len(block.shape[self.axis], True))
        batch = math.prod(self._out_shape(L)) // L
        t_direct = _method.direct_seconds((batch, L), (1, K), self._out_dtype, 1)
        bins = L + 1 if self._out_dtype.kind == "f" else 2 * L
        cdt = np.result_type(self._out_dtype, np.complex64).char
        t_ola = (_BATCH_SECONDS + 2 * _fft.transform_seconds(2 * L, batch, self._out_dtype)
                 + math.ceil(K / L) * bins * batch * _SPECTRAL_MAC_SECONDS[cdt])
        return t_ola < 0.8 * t_direct

    def _conform(self, block):
        if block.ndim != self._ndim:
            raise ValueError("block has %d dimensions; this stream's blocks have %d"
                             % (block.ndim, self._ndim))
        other = tuple(n for i, n in enumerate(block.shape) if i != self.axis)
        if other != self._other:
            raise ValueError("block has shape %s; this stream's blocks are %s along the other "
                             "axes (axis %d is the stream)" % (block.shape, self._other, self.axis))
        if block.dtype != self._in_dtype:
            if not np.can_cast(block.dtype, self._in_dtype, "safe"):
                raise TypeError("block has dtype %s, which does not cast safely to the stream's "
                                "dtype %s (set by its first block)" % (block.dtype, self._in_dtype))
            block = block.astype(self._in_dtype)
        return block

    def _zeros(self, n):
        shape = list(self._other)
        shape.insert(self.axis, n)
        return np.zeros(shape, self._in_dtype)

    def _out_shape(self, n):
        """The output's shape for ``n`` samples along the stream: the mode on the
        other convolved axes, the batch's broadcast on the paired ones."""
        shape = list(self._other)
        shape.insert(self.axis, n)
        for a in self._conv:
            if a != self.axis and self.mode == "full":
                shape[a] += self._kshape(a) - 1
        for a, m in zip(self._paired, self._k.shape[:self._nb]):
            shape[a] = max(shape[a], m)
        return tuple(shape)

    def _empty_out(self, n):
        return np.empty(self._out_shape(n), self._out_dtype)

    def _direct(self, block):
        """The next ``len(block)`` "full" outputs: the "valid" correlation, along
        the stream, of the kept samples followed by the block (for each kernel
        during a crossfade)."""
        ext = np.concatenate([self._hist, block], axis=self.axis)
        K = self._klen()
        n = ext.shape[self.axis]
        self._hist = ext[(slice(None),) * self.axis + (slice(n - (K - 1), n),)].copy()
        self._n_full += block.shape[self.axis]
        ks = [self._k] if self._fade is None else [self._k, self._fade.k_new]
        if self.method == "direct":
            if self._nb == 0:
                return [self._exact(ext, k, self._conv) for k in ks]
            return [_api._batched(ext, k, self._conv, self._exact) for k in ks]
        ext = self._extend_other(ext)
        return [_api.convolve(ext, k, "valid", axes=self._conv, method=self.method,
                              workers=self.workers) for k in ks]

    def _exact(self, ext, k, axes):
        """The direct method's block, summed as the one call sums: the other
        axes' extension by the core itself, and the one call's axis order (for
        a stream whose axis is its longest, see ``_direct.compute_order``).
        ``axes``: the convolved axes of ``ext`` (a slice of the blocks for a
        batch of kernels), the stream's among them in its place."""
        stream = axes[self._conv.index(self.axis)]
        k, w, _, dtype, boundary, cval, origins, n_threads = _api.prepare(
            ext, k, self.mode, self.boundary, self.cval, 0, axes, "direct", self.workers,
            True, False, None)
        starts, out_shape = _api.geometry(ext.shape, w.shape, self.mode, origins)
        starts[stream] = 0
        out_shape = list(out_shape)
        out_shape[stream] = ext.shape[stream] - w.shape[stream] + 1
        if self._order is None:
            long = list(out_shape)
            long[stream] = 1 << 40
            self._order = _direct.compute_order_c(long, long, dtype)
        out = np.empty([out_shape[a] for a in self._order], dtype)
        out = out.transpose(np.argsort(self._order))
        x = np.ascontiguousarray(ext, dtype=dtype)
        _direct.correlate_direct(x, w, starts, tuple(out_shape), boundary, cval, n_threads, out,
                                 order=self._order)
        return out

    def _extend_other(self, ext):
        """Extend the convolved axes other than the stream's by the boundary, so
        that a "valid" call gives the requested mode there (``"same"`` centred as
        :func:`ndconv.convolve`: ``K // 2`` samples before, ``(K - 1) // 2`` after)."""
        starts, lengths, axes = [], [], []
        for ax in self._conv:
            K = self._kshape(ax)
            if ax == self.axis or K == 1:
                continue
            before = K - 1 if self.mode == "full" else K // 2
            after = K - 1 if self.mode == "full" else (K - 1) // 2
            starts.append(-before)
            lengths.append(ext.shape[ax] + before + after)
            axes.append(ax)
        if not axes:
            return ext
        return _boundary.extend(ext, starts, lengths, self.boundary, self._cval, axes)

    def _computed(self):
        """The "full" index of the next output to compute."""
        return self._ola.n_done if self._ola is not None else self._n_full

    def _emit(self, outs, end=None):
        """Keep the "full" outputs just computed that the mode returns (up to
        ``end`` at the end of the stream), blending a crossfade."""
        n = outs[0].shape[self.axis]
        lo = self._computed() - n
        if self.mode == "same":
            s = (self._klen() - 1) // 2
            want_lo, want_hi = s, s + self._n_in
        else:
            want_lo, want_hi = 0, (end if end is not None else math.inf)
        a = max(lo, want_lo) - lo
        b = min(lo + n, want_hi) - lo
        if b <= a:
            return self._empty_out(0)
        if a != 0 or b != n:
            outs = [y[(slice(None),) * self.axis + (slice(a, b),)] for y in outs]
        y = outs[0]
        if len(outs) > 1:
            y = self._fade.blend(y, outs[1], self.axis)
            if self._fade.done:
                self._k = self._fade.k_new
                self._fade = None
                if self._ola is not None:
                    self._ola.drop_old_kernel()
        return y


class _Fade:
    """A crossfade in progress: the new kernel and how many outputs are blended."""

    def __init__(self, k_new, length):
        self.k_new = k_new
        self.length = length
        self.pos = 0

    @property
    def done(self):
        return self.pos >= self.length

    def blend(self, old, new, axis):
        n = old.shape[axis]
        i = np.arange(self.pos, self.pos + n)
        w = np.minimum((i + 1) / (self.length + 1), 1.0)
        shape = [1] * old.ndim
        shape[axis] = n
        w = w.reshape(shape)
        mixed = old + w * (new - old)
        out = np.where(w >= 1.0, new, mixed).astype(old.dtype, copy=False)
        self.pos += n
        return out


class _OverlapSave:
    """Uniformly partitioned overlap-save along ``axis`` for a 1-D kernel.

    Input partitions of ``L`` samples; partition ``t`` and ``t - 1`` make one
    transform of ``2 L``; its spectrum enters a ring of the last ``P`` such
    spectra (``P = ceil(K / L)``), and the next ``L`` outputs are the inverse
    transform of ``sum_p H_p X_{t-p}`` (second half).  ``H_p`` is partition
    ``p`` of the kernel.  The ring is indexed so that the sum over it is one
    contiguous multiply-add over both arrays (the kernel's spectra are stored
    twice, in reverse, for that).
    """

    def __init__(self, k, L, axis, other, dtype, workers):
        self.L = L
        self.axis = axis
        self.other = other
        self.dtype = dtype
        self.real = dtype.kind == "f"
        self.workers = workers
        self.cdtype = np.result_type(dtype, np.complex64)
        self.F = L + 1 if self.real else 2 * L
        self.P = -(-k.shape[-1] // L)
        # the outputs' other axes: the blocks' broadcast against the kernels' batch
        self.out_other = np.broadcast_shapes(other, k.shape[:-1])
        self._fft, self._ifft = self._transforms()
        self.spectra = [self._spectra(k)]
        # frequency bins first, partitions last: the sum over partitions is then
        # one small matrix product per bin (einsum over the leading axis ran
        # 10x slower)
        self.ring = np.zeros(other + (self.F, self.P), self.cdtype)
        self.t = 0                              # partitions transformed
        self.prev = np.zeros(other + (L,), dtype)
        self.pend = np.zeros(other + (L,), dtype)
        self.n_pend = 0
        self.n_done = 0                         # "full" outputs computed

    def _transforms(self):
        """The 1-D forward and inverse transforms along the last axis (scipy.fft's
        when installed, with this stream's threads over the batch)."""
        sfft = _fft._scipy_fft()
        lib = sfft if sfft is not None else np.fft
        fwd, inv = (lib.rfft, lib.irfft) if self.real else (lib.fft, lib.ifft)
        n = 2 * self.L
        if sfft is None:
            return (lambda a: fwd(a, axis=-1)), (lambda a: inv(a, n, axis=-1))
        # scipy.fft threads over the batch of transforms only
        cpus = os.cpu_count() or 1
        w = _validation.resolve_workers(self.workers, cpus, cpus) if math.prod(self.other) > 1 else 1
        return (lambda a: fwd(a, axis=-1, workers=w)), (lambda a: inv(a, n, axis=-1, workers=w))

    def _spectra(self, k):
        """The kernel's partitions' spectra, ``(..., F, 2 P)`` (batch axes first)."""
        L, P = self.L, self.P
        kt = k.dtype if k.dtype.kind in "fc" else np.dtype(np.float64)
        if self.real and kt.kind == "c":
            raise TypeError("complex kernel on a real overlap-save stream")
        parts = np.zeros(k.shape[:-1] + (P, 2 * L), self.dtype if self.real else self.cdtype)
        flat = np.zeros(k.shape[:-1] + (P * L,), parts.dtype)
        flat[..., :k.shape[-1]] = k
        parts[..., :L] = flat.reshape(k.shape[:-1] + (P, L))
        H = self._fft(parts).astype(self.cdtype, copy=False)          # (..., P, F)
        # G[i] = H[(-i) mod P], twice: sum_q ring[q] * H[(t - q) mod P]
        # = sum_q ring[q] * Gd[c + q] with c = (-t) mod P, one slice
        G = H[..., (-np.arange(P)) % P, :]
        return np.ascontiguousarray(np.swapaxes(np.concatenate([G, G], axis=-2), -1, -2))

    def set_kernel(self, k):
        self.spectra = [self._spectra(k)]

    def add_kernel(self, k):
        self.spectra = [self.spectra[0], self._spectra(k)]

    def drop_old_kernel(self):
        self.spectra = self.spectra[-1:]

    def _steps(self, x):
        """Partitions ``x[..., m, L]`` of input: the next ``m L`` "full" outputs,
        one array per kernel.  The transforms of all ``m`` run as one batch."""
        m, L, P = x.shape[-2], self.L, self.P
        frames = np.empty(self.other + (m, 2 * L), self.dtype)
        frames[..., 0, :L] = self.prev
        frames[..., 1:, :L] = x[..., :-1, :]
        frames[..., L:] = x
        self.prev = x[..., -1, :].copy()
        spectra = self._fft(frames)                       # (..., m, F)
        Y = np.empty(self.out_other + (len(self.spectra), m, self.F), self.cdtype)
        for i in range(m):
            self.ring[..., self.t % P] = spectra[..., i, :]
            c = (-self.t) % P
            self.t += 1
            for j, G in enumerate(self.spectra):
                Y[..., j, i, :] = np.matmul(self.ring[..., None, :],
                                            G[..., c:c + P, None])[..., 0, 0]
        y = self._ifft(Y)[..., L:]                         # (..., kernels, m, L)
        self.n_done += m * L
        shape = self.out_other + (m * L,)
        return [y[..., j, :, :].reshape(shape).astype(self.dtype, copy=False)
                for j in range(len(self.spectra))]

    def push(self, block):
        """Add a block (stream axis anywhere); the "full" outputs completed."""
        x = block if self.axis == block.ndim - 1 else np.moveaxis(block, self.axis, -1)
        n, L = x.shape[-1], self.L
        if self.n_pend + n < L:                    # not a whole partition yet
            self.pend[..., self.n_pend:self.n_pend + n] = x
            self.n_pend += n
            return self._gather([])
        head = L - self.n_pend
        m = 1 + (n - head) // L
        parts = np.empty(self.other + (m, L), self.dtype)
        parts[..., 0, :self.n_pend] = self.pend[..., :self.n_pend]
        parts[..., 0, self.n_pend:] = x[..., :head]
        used = head + (m - 1) * L
        parts[..., 1:, :] = x[..., head:used].reshape(self.other + (m - 1, L))
        self.n_pend = n - used
        self.pend[..., :self.n_pend] = x[..., used:]
        return self._gather(self._steps(parts))

    def finish(self, n_more):
        """The last ``n_more`` outputs (at least): zero input until they are computed."""
        m = -(-n_more // self.L)
        if m <= 0:
            return self._gather([])
        parts = np.zeros(self.other + (m, self.L), self.dtype)
        parts[..., 0, :self.n_pend] = self.pend[..., :self.n_pend]
        self.n_pend = 0
        return self._gather(self._steps(parts))

    def _gather(self, outs):
        if not outs:
            empty = np.empty(self.out_other + (0,), self.dtype)
            outs = [empty] * len(self.spectra)
        if self.axis == len(self.other):
            return outs
        return [np.moveaxis(y, -1, self.axis) for y in outs]

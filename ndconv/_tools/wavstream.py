"""``ndconv apply`` on signals too long for memory (WAV, .npy): read, convolve, write in blocks.

The samples go through :class:`ndconv.Stream` in blocks of ``BLOCK_FRAMES``
frames, so memory stays a few blocks (plus the kernel's spectra) whatever the
recording's length.  The result equals the in-memory ``ndconv apply`` (the same
convolution, the same cropping for each mode, the same 16-bit encoding and
full-scale rule): a WAV output needs the result's peak before its first sample
is written, so it is computed twice -- once for the peak, once to write.
"""
import os
import wave

import numpy as np

from .._plan.validation import result_dtype
from ..stream import Stream
from . import io as _io
from .progress import Progress

BLOCK_FRAMES = 1 << 16
# WAV inputs larger than this are streamed by default (--stream forces it)
STREAM_BYTES = 256 << 20


class StreamingError(ValueError):
    """An option the streamed computation cannot honour (one line for the user)."""


def wants_stream(path, forced):
    """True if ``path`` (a WAV file) should be streamed (a missing file is left
    to the in-memory reader's message)."""
    return os.path.isfile(path) and (forced or os.path.getsize(path) > STREAM_BYTES)


def _open(path):
    """``(wave reader, channels, width, rate, frames)``, the header checked against the file."""
    try:
        w = wave.open(str(path), "rb")
    except (OSError, MemoryError):
        raise
    except Exception as exc:    # wave.Error, EOFError, struct.error, ...
        raise _io.FileFormatError("%s: not a readable PCM WAV file (%s)" % (path, exc)) from None
    nch, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
    if width not in (1, 2, 3, 4) or nch < 1:
        w.close()
        raise _io.FileFormatError("%s: unsupported WAV layout (%d channels, %d-byte samples)"
                                  % (path, nch, width))
    if n == 0:
        w.close()
        raise _io.FileFormatError("%s: WAV file holds no samples" % path)
    return w, nch, width, rate, n


def _blocks(path, frames):
    """The file's samples as float64 ``(n, channels)`` blocks of ``frames`` frames."""
    w, nch, width, _, n = _open(path)
    with w:
        done = 0
        while done < n:
            raw = w.readframes(min(frames, n - done))
            got = len(raw) // (nch * width)
            if got == 0:
                raise _io.FileFormatError("%s: truncated WAV file: its header announces %d "
                                          "frames but it holds %d" % (path, n, done))
            done += got
            yield _io.pcm_to_float(raw[:got * nch * width], width, nch)


def _crop(mode, n, K):
    """``(start, length)`` of the mode's output within the "full" output."""
    if mode == "full":
        return 0, n + K - 1
    if mode == "same":
        return (K - 1) // 2, n
    return min(K, n) - 1, abs(n - K) + 1


class _Wav:
    """A WAV file as a stream source: float64 ``(frames, channels)`` blocks."""

    def __init__(self, path):
        self.path = path
        _, self.nch, _, self.rate, self.n = _open_close(path)
        self.rest = (self.nch,)
        self.dtype = np.dtype(np.float64)

    def blocks(self, frames):
        return _blocks(self.path, frames)


class _Npy:
    """A .npy file as a stream source along its first axis, each block read
    through a map opened for it alone (a map kept open would hold every page
    read so far in the process's resident memory)."""

    def __init__(self, path):
        self.path = path
        a = np.load(path, mmap_mode="r")
        if a.ndim == 0 or a.shape[0] == 0 or a.dtype.kind not in "biufc":
            raise _io.FileFormatError("%s: a streamed array needs samples along its first axis "
                                      "and a numeric dtype (shape %s, dtype %s)"
                                      % (path, a.shape, a.dtype))
        self.n, self.rest, self.dtype = a.shape[0], a.shape[1:], a.dtype
        self.nch, self.rate = None, None
        del a

    def blocks(self, frames):
        for i in range(0, self.n, frames):
            a = np.load(self.path, mmap_mode="r")
            block = np.array(a[i:i + frames])
            del a
            yield block


def _results(src, k, mode, correlate, method, workers, progress):
    """The mode's output of the source convolved with ``k`` along its first
    axis, in blocks."""
    n, K = src.n, k.shape[0]
    if mode == "valid" and K > n:
        raise StreamingError("mode 'valid' with a kernel longer than the signal needs the signal "
                             "in memory (leave out --stream)")
    kern = np.conj(k[::-1]) if correlate else k
    stream = Stream(kern, axis=0, mode="full", method=method, workers=workers)
    start, length = _crop(mode, n, K)
    pos = 0                     # "full" index of the next output

    def keep(y):
        nonlocal pos
        lo, hi = max(start - pos, 0), min(start + length - pos, y.shape[0])
        pos += y.shape[0]
        return y[lo:hi] if hi > lo else y[:0]

    for block in src.blocks(BLOCK_FRAMES):
        y = keep(stream.process(block))
        progress.step("convolving")
        if y.shape[0]:
            yield y
    y = keep(stream.flush())
    if y.shape[0]:
        yield y


def _open_close(path):
    w, nch, width, rate, n = _open(path)
    w.close()
    return w, nch, width, rate, n


def apply(args, k, label):
    """Stream ``args.input`` (WAV, or .npy along its first axis) through ``k``
    into ``args.output`` (.wav or .npy)."""
    if (args.boundary or "constant") != "constant" or args.cval != 0:
        raise StreamingError("a streamed signal is zero before its start and after its end: "
                             "--boundary %s --cval %g need the whole signal in memory "
                             "(leave out --stream)" % (args.boundary or "constant", args.cval))
    if args.axes not in (None, [0]):
        raise StreamingError("a streamed signal is convolved along its first axis (--axes 0)")
    if k.ndim != 1:
        raise StreamingError("kernel %s is %d-D (shape %s) but a streamed signal needs a 1-D "
                             "kernel" % (label, k.ndim, k.shape))
    src = _Wav(args.input) if _io.extension(args.input) in _io.WAV else _Npy(args.input)
    ext = _io.extension(args.output)
    if ext not in _io.WAV + _io.NPY:
        raise StreamingError("a streamed signal is written as .wav or .npy, not %s" % ext)
    if ext in _io.WAV and len(src.rest) > 1:
        raise StreamingError("a WAV file holds (samples,) or (samples, channels); the input's "
                             "blocks are %s" % ((None,) + src.rest,))
    n = src.n
    passes = 2 if ext in _io.WAV else 1
    quiet = getattr(args, "no_progress", False)
    progress = Progress(-(-n // BLOCK_FRAMES) * passes, enabled=False if quiet else None)
    run = (src, k, args.mode, args.correlate, args.method, args.workers, progress)
    mono = src.nch == 1
    notes = []
    try:
        if ext in _io.NPY:
            length = _crop(args.mode, n, k.shape[0])[1]
            shape = (length,) if mono else (length,) + src.rest
            dtype = result_dtype(np.empty(0, src.dtype), k)
            with _io.replaced_when_complete(args.output) as f:
                np.lib.format.write_array_header_1_0(
                    f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                        "fortran_order": False, "shape": shape})
                for y in _results(*run):
                    f.write(np.ascontiguousarray(y[:, 0] if mono else y, dtype).tobytes())
        else:
            peak = 0.0
            for y in _results(*run):
                peak = max(peak, float(np.max(np.abs(y))))
            if not np.isfinite(peak):
                raise _io.FileFormatError("%s: the signal holds NaN or inf" % args.output)
            # the in-memory path's arithmetic, so that the samples are the same
            if args.rescale and peak > 0:
                def scaled(y):
                    return 0.9 * y / peak
            elif peak > 1.0:
                def scaled(y):
                    return y / peak
                notes.append("%s: peak %.3g exceeds full scale; scaled by %.3g to fit"
                             % (args.output, peak, 1 / peak))
            else:
                def scaled(y):
                    return y
            out_rate = _io.check_rate(args.rate or src.rate or 44100,
                                      "the sample rate of %s" % args.output)
            with _io.replaced_when_complete(args.output) as f:
                with wave.open(f, "wb") as w:
                    w.setnchannels(1 if not src.rest else src.rest[0])
                    w.setsampwidth(2)
                    w.setframerate(out_rate)
                    for y in _results(*run):
                        w.writeframes(_io.float_to_pcm16(scaled(y)).tobytes())
    finally:
        progress.close()
    return notes, (n,) if mono or not src.rest else (n,) + src.rest

"""``ndconv apply`` on WAV files too long for memory: read, convolve, write in blocks.

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


def _results(path, k, mode, correlate, method, workers, progress):
    """The mode's output of ``path`` convolved with ``k``, in blocks ``(n, channels)``."""
    _, nch, _, _, n = _open_close(path)
    K = k.shape[0]
    if mode == "valid" and K > n:
        raise StreamingError("mode 'valid' with a kernel longer than the recording needs the "
                             "recording in memory (leave out --stream)")
    kern = np.conj(k[::-1]) if correlate else k
    stream = Stream(kern, axis=0, mode="full", method=method, workers=workers)
    start, length = _crop(mode, n, K)
    pos = 0                     # "full" index of the next output

    def keep(y):
        nonlocal pos
        lo, hi = max(start - pos, 0), min(start + length - pos, y.shape[0])
        pos += y.shape[0]
        return y[lo:hi] if hi > lo else y[:0]

    for block in _blocks(path, BLOCK_FRAMES):
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
    """Stream ``args.input`` (WAV) through ``k`` into ``args.output`` (.wav or .npy)."""
    if (args.boundary or "constant") != "constant" or args.cval != 0:
        raise StreamingError("a streamed recording is zero before its start and after its "
                             "end: --boundary %s --cval %g need the whole recording in memory "
                             "(leave out --stream)" % (args.boundary or "constant", args.cval))
    if args.axes not in (None, [0]):
        raise StreamingError("a streamed recording is convolved along time (--axes 0)")
    if k.ndim != 1:
        raise StreamingError("kernel %s is %d-D (shape %s) but a WAV file needs a 1-D kernel"
                             % (label, k.ndim, k.shape))
    _, nch, _, rate, n = _open_close(args.input)
    ext = _io.extension(args.output)
    if ext not in _io.WAV + _io.NPY:
        raise StreamingError("a streamed recording is written as .wav or .npy, not %s" % ext)
    blocks_per_pass = -(-n // BLOCK_FRAMES)
    passes = 2 if ext in _io.WAV else 1
    quiet = getattr(args, "no_progress", False)
    progress = Progress(blocks_per_pass * passes, enabled=False if quiet else None)
    run = (args.input, k, args.mode, args.correlate, args.method, args.workers, progress)
    notes = []
    try:
        if ext in _io.NPY:
            length = _crop(args.mode, n, k.shape[0])[1]
            shape = (length,) if nch == 1 else (length, nch)
            dtype = np.result_type(k, np.float64)
            with _io.replaced_when_complete(args.output) as f:
                np.lib.format.write_array_header_1_0(
                    f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                        "fortran_order": False, "shape": shape})
                for y in _results(*run):
                    f.write(np.ascontiguousarray(y[:, 0] if nch == 1 else y, dtype).tobytes())
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
            out_rate = _io.check_rate(args.rate or rate, "the sample rate of %s" % args.output)
            with _io.replaced_when_complete(args.output) as f:
                with wave.open(f, "wb") as w:
                    w.setnchannels(nch)
                    w.setsampwidth(2)
                    w.setframerate(out_rate)
                    for y in _results(*run):
                        w.writeframes(_io.float_to_pcm16(scaled(y)).tobytes())
    finally:
        progress.close()
    return notes, (n,) if nch == 1 else (n, nch)

"""The ``ndconv`` command (console script and ``python -m ndconv``).

Each subcommand is one function ``add(subparsers)`` that adds its parser and
sets ``func`` (parsed arguments -> exit status); listing it in ``SUBCOMMANDS``
registers it.  User errors -- bad files, unknown kernels, mismatched shapes,
missing optional libraries -- end with a one-line message on stderr and exit
status 2 (``NDCONV_DEBUG=1`` shows the traceback instead).
"""
import argparse
import math
import os
import sys

import numpy as np

from .._plan.validation import BOUNDARIES, METHODS, MODES
from . import io as _io
from . import wavstream as _wavstream
from .named_kernels import describe as _describe_kernels
from .named_kernels import named_kernel


class UsageError(Exception):
    """A mistake in the command line or its files: one line, exit status 2."""


# ----------------------------------------------------------------------------- demo
def add_demo(subparsers):
    p = subparsers.add_parser(
        "demo", help="run the main job on the shipped data (audio, images, Waldo)",
        description="Reverb and an FIR low-pass on a shipped speech clip (WAV), blur, Sobel "
                    "edges and sharpening on a shipped image (PNG), and the chapter's Waldo "
                    "found by normalised cross-correlation; prints each step's agreement with "
                    "scipy and its time against scipy.")
    p.add_argument("--out", default="demo-output", metavar="DIR",
                   help="directory for the output files (default: demo-output)")

    def run(args):
        from . import demo as _demo
        return _demo.run(args.out)

    p.set_defaults(func=run)


# ----------------------------------------------------------------------------- check
def add_check(subparsers):
    p = subparsers.add_parser(
        "check", help="randomized self-check: commutativity and agreement with scipy",
        description="Random cases over ndim x mode x boundary x dtype x method x workers: "
                    "commutativity where it holds by definition, and convolve/correlate "
                    "against scipy with the conventions translated.  Prints a table; exit "
                    "status 1 on any failure.")
    p.add_argument("--quick", action="store_true",
                   help="each combination once with ndim 1-3 (a few seconds) instead of four "
                        "times with ndim 1-4")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    def run(args):
        from . import check as _check
        return _check.main(quick=args.quick, seed=args.seed,
                           progress=False if args.no_progress else None)

    p.set_defaults(func=run)


# ----------------------------------------------------------------------------- apply
_APPLY_EPILOG = """named kernels (any number of dimensions unless said otherwise):
%s

Data layout: a WAV file (n,) or (n, channels) is convolved along time with a
1-D kernel; an image (h, w) or (h, w, channels) along its two spatial axes
with a 2-D kernel, each colour channel alike, the alpha channel of a
grey+alpha or RGBA image passed through unchanged; 16-bit grey images stay
16-bit in PNG and TIFF.  A .npy/.txt/.csv array is convolved along all its
axes (or --axes).  A kernel file may be .npy, .txt, .csv, .wav (e.g. an
impulse response), a grey image or a .zarr store.

Arrays larger than memory: a .zarr input or output, --chunks, or a .npy input
over 1 GiB written to .npy (with dask installed) is computed in blocks by
ndconv.dask and written block by block to .npy (memory-mapped) or .zarr, in
memory of a few blocks per thread; the .npy input is memory-mapped one block
at a time.  The result is that of the whole array in memory (bitwise with
--method direct).  .zarr needs `pip install "ndconv[dask]"`.

examples:
  ndconv apply photo.png gaussian:2 -o blurred.png          # edges mirrored
  ndconv apply photo.png sobel-x -o dx.png --boundary edge --rescale
  ndconv apply dry.wav room.wav -o wet.wav --mode full
  ndconv apply volume.npy box:3 -o smooth.npy --axes 1 2
  ndconv apply scan.zarr gaussian:2 -o smooth.zarr --chunks 256  # out of core
""" % _describe_kernels()


def add_apply(subparsers):
    p = subparsers.add_parser(
        "apply", help="convolve a .npy, .wav or image file with a kernel",
        description="Convolve (or correlate) INPUT with KERNEL and write OUTPUT; the file "
                    "types follow the extensions (.npy, .zarr, .wav, .png and other images, "
                    ".txt/.csv).",
        epilog=_APPLY_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", help="input file")
    p.add_argument("kernel", metavar="KERNEL", help="kernel file or named kernel (see below)")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                   help="output file; written to a temporary file in its folder and renamed "
                        "when complete, so a failure leaves no partial file")
    p.add_argument("--force", action="store_true",
                   help="allow OUTPUT to be the input or kernel file (replaced only once the "
                        "result is complete)")
    p.add_argument("--mode", choices=MODES, default="same",
                   help="output extent (default: same, the input's size)")
    p.add_argument("--boundary", choices=BOUNDARIES, default=None,
                   help="extension of the input past its edges, numpy.pad's names (default: "
                        "symmetric for images -- mirrored with the edge pixel repeated, "
                        "scipy.ndimage's 'reflect' -- else constant)")
    p.add_argument("--cval", type=float, default=0.0, help="value past the edges for constant")
    p.add_argument("--correlate", action="store_true", help="correlate instead of convolve")
    p.add_argument("--axes", type=int, nargs="+", default=None, metavar="AXIS",
                   help="axes to convolve over (default: time for WAV, rows and columns for "
                        "images, all axes for arrays)")
    p.add_argument("--method", choices=METHODS, default="auto")
    p.add_argument("--workers", type=int, default=None,
                   help="threads (default: all allowed); in blocks, the blocks computed at once, "
                        "one thread each")
    p.add_argument("--chunks", default=None, metavar="N[,N...]|SIZE",
                   help="compute in blocks of this shape (one N for every axis, or one per axis) "
                        "or about this size (e.g. 64MiB), read and written block by block (see "
                        "below; default for .npy: blocks of about %s, for .zarr: the store's)"
                   % _DEFAULT_BLOCK)
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar on stderr (drawn on a terminal when computing in blocks)")
    p.add_argument("--rescale", action="store_true",
                   help="map the result's range to [0, 1] for images, or its peak to 0.9 for WAV")
    p.add_argument("--rate", type=int, default=None,
                   help="sample rate of a WAV output in Hz (default: the input's, else 44100)")
    p.add_argument("--stream", action="store_true",
                   help="read, convolve and write a WAV or .npy input in blocks along its first "
                        "axis, in memory bounded by a few blocks (the default for WAV files over "
                        "%d MiB); output .wav or .npy"
                        % (_wavstream.STREAM_BYTES >> 20))
    p.set_defaults(func=_apply)


# A .npy input larger than this (written to .npy) is computed in blocks when
# dask is installed: the in-memory call would hold input and output whole.
_LARGE_NPY = 1 << 30
# Default block size for .npy inputs: dask holds a few blocks read ahead and
# each thread about three more (the window around its block, the result, the
# copy being written), so with two threads about 0.5 GiB however large the file.
_DEFAULT_BLOCK = "32MiB"


def _load_kernel(spec, n_axes):
    if os.path.exists(spec):
        k, info = _io.read(spec)
        if info["kind"] == "wav" and k.ndim != 1:
            raise UsageError("kernel %s has %d channels; a kernel WAV must be mono"
                             % (spec, k.shape[1]))
        if info["kind"] == "image" and k.ndim != 2:
            raise UsageError("kernel %s is a colour image; a kernel image must be grey" % spec)
        return k, spec
    if os.path.splitext(spec)[1].lower() in _io.KNOWN:
        raise UsageError("kernel file %s: no such file" % spec)
    return named_kernel(spec, n_axes), spec


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:          # one of them does not exist (yet)
        return False


def _check_apply_files(args):
    """Refuse now, before any work, what would fail or destroy a file later."""
    if args.rate is not None:
        try:
            _io.check_rate(args.rate)
        except ValueError:
            raise UsageError("--rate must be a whole number of samples per second from 1 to "
                             "4294967295, got %d" % args.rate) from None
    _io.check_writable(args.output)
    for role, path in (("input", args.input), ("kernel", args.kernel)):
        if _same_file(args.output, path) and not args.force:
            raise UsageError("-o %s is the %s file; refusing to overwrite it (--force replaces "
                             "it once the result is complete)" % (args.output, role))


def _alpha_channel(x, info, axes):
    """Whether ``x``'s last channel is an alpha channel to pass through: an
    image with alpha (grey+alpha or RGBA) convolved over its two spatial axes."""
    return (info["kind"] == "image" and info.get("mode") in ("LA", "RGBA") and x.ndim == 3
            and sorted(a % x.ndim for a in axes) == [0, 1])


def _carry_alpha(alpha, k_shape, mode, boundary, cval):
    """The alpha channel laid out like a colour channel of the result.

    Under ``mode="same"`` it is the input's alpha.  Output ``i`` of "full" is
    centred on input ``i - (K-1)//2`` and output ``i`` of "valid" on input
    ``i + K//2`` (for convolve and correlate alike), so "full" extends the
    alpha as the picture is extended and "valid" crops it; a kernel larger than
    the image under "valid" has no such centre, and the result is opaque
    (a note says so).
    """
    if mode == "same":
        return alpha
    if mode == "full":
        widths = [((K - 1) // 2, K - 1 - (K - 1) // 2) for K in k_shape]
        kw = {"constant_values": cval} if boundary == "constant" else {}
        return np.pad(alpha, widths, mode=boundary, **kw)
    if all(K <= n for K, n in zip(k_shape, alpha.shape)):
        return alpha[tuple(slice(K // 2, K // 2 + n - K + 1) for K, n in zip(k_shape, alpha.shape))]
    return np.ones(tuple(abs(n - K) + 1 for K, n in zip(k_shape, alpha.shape)))


def _axes(args, ndim, kind):
    """The axes to convolve over: --axes, else time for WAV, rows and columns
    for images, all axes for arrays."""
    if args.axes is not None:
        axes = tuple(args.axes)
    elif kind == "wav":
        axes = (0,)
    elif kind == "image":
        axes = (0, 1)
    else:
        axes = tuple(range(ndim))
    for a in axes:
        if not -ndim <= a < ndim:
            raise UsageError("--axes %d is out of range for %s with %d dimensions"
                             % (a, args.input, ndim))
    return axes


def _kernel(args, axes, kind):
    k, label = _load_kernel(args.kernel, len(axes))
    if k.ndim != len(axes):
        what = {"wav": "a WAV file needs a 1-D kernel",
                "image": "an image needs a 2-D kernel"}.get(kind, "%s is convolved over %d axes"
                                                                  % (args.input, len(axes)))
        raise UsageError("kernel %s is %d-D (shape %s) but %s" % (label, k.ndim, k.shape, what))
    return k, label


def _report(args, label, shape_in, boundary, shape_out, extra=""):
    print("wrote %s: %s of %s %s with %s (mode=%s, boundary=%s%s), shape %s"
          % (args.output, "correlation" if args.correlate else "convolution", args.input,
             shape_in, label, args.mode, boundary, extra, shape_out))


def _apply(args):
    _check_apply_files(args)
    if _io.extension(args.input) in _io.WAV:
        if _wavstream.wants_stream(args.input, args.stream):
            return _apply_streamed(args)
    elif args.stream:
        if _io.extension(args.input) not in _io.NPY:
            raise UsageError("--stream reads WAV and .npy inputs; %s is neither" % args.input)
        return _apply_streamed(args)
    if _in_blocks(args):
        return _apply_in_blocks(args)
    from .._api import convolve, correlate
    x, info = _io.read(args.input)
    kind = info["kind"]
    shape_in = x.shape
    axes = _axes(args, x.ndim, kind)
    # images look natural at the edges when mirrored; a zero frame darkens them
    boundary = args.boundary or ("symmetric" if kind == "image" else "constant")
    k, label = _kernel(args, axes, kind)
    alpha = None
    if _alpha_channel(x, info, axes):
        x, alpha = x[..., :-1], x[..., -1]
    fn = correlate if args.correlate else convolve
    y = fn(x, k, args.mode, boundary=boundary, cval=args.cval, axes=axes,
           method=args.method, workers=args.workers)
    ext = _io.extension(args.output)
    if args.rescale and ext in _io.IMAGE:
        lo, hi = float(y.min()), float(y.max())
        y = (y - lo) / (hi - lo) if hi > lo else y * 0
    elif args.rescale and ext in _io.WAV:
        peak = float(abs(y).max())
        y = 0.9 * y / peak if peak > 0 else y
    notes = list(info.get("notes", ()))
    if alpha is not None:
        if args.mode == "valid" and any(K > n for K, n in zip(k.shape, alpha.shape)):
            notes.append("kernel %s is larger than the image: the result of 'valid' has no "
                         "alpha to carry over and is opaque" % (k.shape,))
        a_out = _carry_alpha(alpha, k.shape, args.mode, boundary, args.cval)
        y = np.concatenate([y, a_out[..., None].astype(y.dtype)], axis=-1)
    bits = 16 if kind == "image" and info.get("bits", 8) >= 16 else 8
    notes += _io.write(args.output, y, args.rate or info.get("rate"), bits)
    for note in notes:
        print("ndconv apply: note: %s" % note, file=sys.stderr)
    _report(args, label, shape_in, boundary, y.shape,
            ", alpha passed through" if alpha is not None else "")
    return 0


# ----------------------------------------------------------------------------- apply in blocks
def _in_blocks(args):
    """Whether to compute in blocks: a .zarr input or output, --chunks, or a
    large .npy written to .npy with dask installed (else in memory, as ever)."""
    ext_in, ext_out = _io.extension(args.input), _io.extension(args.output)
    if ext_in in _io.ZARR or ext_out in _io.ZARR or args.chunks is not None:
        for flag, ext, path in (("INPUT", ext_in, args.input), ("OUTPUT", ext_out, args.output)):
            if ext not in _io.CHUNKED:
                raise UsageError("%s %s: arrays computed in blocks (a .zarr file or --chunks) are "
                                 "read and written as .npy or .zarr only" % (flag, path))
        return True
    if ext_in in _io.NPY and ext_out in _io.NPY and os.path.isfile(args.input) \
            and os.path.getsize(args.input) > _LARGE_NPY:
        import importlib.util
        return importlib.util.find_spec("dask") is not None
    return False


def _slabs(shape, itemsize, limit, reach):
    """Blocks of about ``limit`` bytes that span whole trailing axes: only the
    leading axes are cut, as few as can be, each block at least
    ``REACH_RATIO * reach`` long along a cut axis (else ``ndconv.dask`` merges
    blocks to that length).

    Why slabs: a block is computed once the blocks beside it are read (its
    halo), and dask holds a block it has read until every block beside it is
    done.  Slabs have two neighbours each, so about three slabs are held at a
    time; cubes in a volume have 26, and a whole layer of them is held.  A
    slab is also one contiguous range of a C-ordered file.
    """
    from ..dask import REACH_RATIO
    chunks = list(shape)
    for a in range(len(shape)):
        rest = itemsize * math.prod(shape[a + 1:])
        if rest * shape[a] <= limit:
            break
        chunks[a] = min(shape[a], max(1, limit // rest, REACH_RATIO * reach[a]))
        if rest <= limit:
            break
        chunks[a] = min(shape[a], max(1, REACH_RATIO * reach[a]))
    return tuple(chunks)


def _parse_bytes(text):
    from dask.utils import parse_bytes
    return parse_bytes(text)


def _parse_chunks(text, ndim):
    """--chunks as dask's chunks argument: an int, a tuple of ndim ints, or a size."""
    text = text.strip()
    parts = [t.strip() for t in text.split(",")]
    if all(t.isdigit() for t in parts):
        sizes = [int(t) for t in parts]
        if min(sizes) < 1 or len(sizes) not in (1, ndim):
            raise UsageError("--chunks %s: give one block length for every axis or one per axis "
                             "(%d), each at least 1" % (text, ndim))
        return sizes[0] if len(sizes) == 1 else tuple(sizes)
    try:
        size = _parse_bytes(text)
    except (ValueError, TypeError):
        size = 0
    if len(parts) != 1 or size < 1:
        raise UsageError("--chunks %s: expected block lengths (e.g. 256 or 64,512,512) or a size "
                         "(e.g. 64MiB)" % text)
    return "%dB" % size


def _apply_in_blocks(args):
    _io._dask_array()         # a clear message if dask is missing
    import dask

    from .. import _core
    from .. import dask as _nd_dask
    from .._plan.validation import resolve_workers
    from .progress import dask_progress
    if args.rescale or args.rate is not None:
        raise UsageError("--%s applies to images and WAV; a result computed in blocks is .npy "
                         "or .zarr" % ("rescale" if args.rescale else "rate"))
    x = _io.open_chunked(args.input)
    axes = _axes(args, x.ndim, "array")
    boundary = args.boundary or "constant"
    k, label = _kernel(args, axes, "array")
    chunks = _parse_chunks(args.chunks, x.ndim) if args.chunks is not None else None
    if chunks is None and _io.extension(args.input) in _io.NPY:
        chunks = _DEFAULT_BLOCK
    if isinstance(chunks, str):
        reach = [0] * x.ndim
        for a, K in zip(axes, k.shape):
            reach[a % x.ndim] = K - 1
        chunks = _slabs(x.shape, x.dtype.itemsize, _parse_bytes(chunks), reach)
    if chunks is not None:
        x = _io.open_chunked(args.input, chunks)
    try:
        threads = resolve_workers(args.workers, _core.omp_max_threads(), _core.omp_num_procs())
    except ValueError as exc:
        raise UsageError("--workers: %s" % exc) from None
    fn = _nd_dask.correlate if args.correlate else _nd_dask.convolve
    # one thread per task: dask's pool runs ``threads`` blocks at once
    y = fn(x, k, args.mode, boundary=boundary, cval=args.cval, axes=axes, method=args.method,
           workers=1)
    bar = dask_progress("%s -> %s" % (os.path.basename(args.input),
                                      os.path.basename(args.output)),
                        enabled=False if args.no_progress else None)
    with dask.config.set(scheduler="threads", num_workers=threads), bar:
        _io.store_chunked(args.output, y)
    _report(args, label, x.shape, boundary, y.shape,
            "; %d blocks of up to %s, %d at once" % (y.npartitions, tuple(max(c) for c in y.chunks),
                                                      threads))
    return 0


def _apply_streamed(args):
    k, label = _load_kernel(args.kernel, 1)
    try:
        notes, shape_in = _wavstream.apply(args, k, label)
    except _wavstream.StreamingError as exc:
        raise UsageError(str(exc)) from None
    for note in notes:
        print("ndconv apply: note: %s" % note, file=sys.stderr)
    print("wrote %s: %s of %s %s with %s (mode=%s, streamed in blocks of %d frames)"
          % (args.output, "correlation" if args.correlate else "convolution", args.input,
             shape_in, label, args.mode, _wavstream.BLOCK_FRAMES))
    return 0


# ----------------------------------------------------------------------------- main
def add_bench(subparsers):
    from . import bench as _bench
    _bench.add_parser(subparsers)


SUBCOMMANDS = (add_demo, add_check, add_apply, add_bench)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="ndconv", description="Fast exact N-D convolution: demo, self-check, and "
                                   "convolution of files.")
    parser.add_argument("--version", action="version",
                        version="ndconv " + __import__("ndconv").__version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def _one_line(exc):
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def main(argv=None):
    """Run the ``ndconv`` command with ``argv`` (default ``sys.argv[1:]``); returns the
    exit status: 0 success, 1 a check or demo step failed, 2 a usage or input error."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:         # --help, --version, or argparse's own usage error
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except (UsageError, ValueError, TypeError, OSError, ImportError, MemoryError) as exc:
        if os.environ.get("NDCONV_DEBUG"):
            raise
        print("ndconv %s: error: %s" % (args.command, _one_line(exc)), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ndconv %s: interrupted" % args.command, file=sys.stderr)
        return 130

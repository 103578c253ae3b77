"""The planners' tunable sizes, and the one switch that changes them.

The direct, separable and FFT planners read these values at every call.
Tests change them through :func:`override` to reach code paths that the
defaults take only on large problems (threads on small inputs, many merged
tiles or separable strips, groups of FFT blocks) or to pin one choice (a
merged-path layout, the plain path, a kernel build), instead of patching the
planners' module globals.  None of them changes a result beyond the accuracy
contract: they move work between threads, tiles, strips and blocks.

Not public API, and not thread-safe: an override applies to the whole process
while its ``with`` block runs.
"""
import contextlib
import dataclasses

from . import cpu as _cpu


def _stream_default():
    """``Settings.stream_bytes`` on this CPU: 16 MB on AMD's, where the
    non-temporal stores were measured to pay, else never."""
    return 16 << 20 if _cpu.vendor() == "AuthenticAMD" else None


def _uncached_default():
    """``Settings.uncached_bytes`` on this CPU: where an output and its input
    no longer fit the caches a core has to itself.  On an Intel Xeon (2 MB of
    L2 per core, a slow shared L3) from 1 MB; elsewhere 7 MB (AMD Zen 4, whose
    L3 keeps the rows of a few MB close)."""
    return 1 << 20 if _cpu.vendor() == "GenuineIntel" else 7 << 20


def _alone_tile_default():
    """``Settings.alone_tile_bytes`` on this CPU: half an L2 of 1 MB on
    Intel's (whose L3 is far), else None (the build's tile height)."""
    return 512 << 10 if _cpu.vendor() == "GenuineIntel" else None


def _window_tile_default():
    """``Settings.window_tile_rows`` on this CPU: 24 on Intel's, else None
    (not measured elsewhere)."""
    return 24 if _cpu.vendor() == "GenuineIntel" else None


@dataclasses.dataclass
class Settings:
    """The values in force; see :func:`override`."""

    #: Multiply-adds of the direct sum each thread of a call must have, or the
    #: call runs on fewer threads: waking a worker costs tens of microseconds on
    #: a 2-vCPU VM, and 1 and 2 threads broke even near 4M multiply-adds (256^2,
    #: 7x7).  ``benchmarks/wait_policy.py`` times small calls at 1 and 2 threads.
    work_per_thread: int = 1 << 21
    #: Whether calls add threads only for the CPUs idle when they start
    #: (``ndconv._plan.threads``); off, a call takes every thread it may use.
    load_aware: bool = True
    #: Bytes of a merged-path tile's extended input and output, per thread: 4 MB
    #: beat 1-2 MB by a few percent on 3-D/4-D inputs (W5, W8 of ``ndconv bench``)
    #: with 1 MB of L2 per core and a shared L3 behind it.
    tile_bytes: int = 4 << 20
    #: Output rows per tile of the direct path's rolling rows, at most, forced
    #: (None: the build's, ``ndconv_tile_rows``, which also depends on
    #: ``uncached_bytes``).  On AMD Zen 4 (2048^2 float32, 3x3 to 7x7, 1 and 2
    #: threads, one process) 32 and 64 were no faster than the AVX-512 build's
    #: 128, though separate processes had suggested so; 4-8 were far faster
    #: for 2-3 rows.
    roll_tile_rows: int | None = None
    #: Output rows per tile of the rolling rows, at most, where the input's
    #: rows are parts of longer ones, a page or more apart (a window of a wider
    #: array: a dask block, a view of an image's region); None: no limit (the
    #: build's height, as for a whole array).  The short tiles of the smallest
    #: kernels stay; ``shared_tile_bytes`` and ``alone_tile_bytes`` may shorten
    #: further.  On an Intel Xeon (float32 unless marked, blocks of a 4096^2 or
    #: 2048x8192 array computed one by one as ``ndconv.dask`` does, 24 rows
    #: against no limit, one process; 1 / 2 threads) 1024-wide windows 5x5 took
    #: 0.88-0.89 / 0.90-0.94x the time (AVX-512) and 0.65-0.68 / 0.78-0.83x
    #: (AVX2), 7x7 0.70 / 0.90x (AVX-512; AVX2 has no rolling rows for 7 rows),
    #: 3x3 0.97-1.00x, 512-wide 0.77 / 0.94x and 0.65 / 0.84x, 256-wide
    #: 0.95 / 1.00x and 0.77 / 0.95x, 2048-wide 0.95-1.02x, float64 512-wide
    #: 0.89-0.94x; 32 rows were slower than 24 and 64 (what the tile bytes give
    #: a 1024-wide window) far slower.  Whole arrays keep the build's heights:
    #: 24 rows there took 0.97-1.07x the time (float32 512^2 to 4096^2 and
    #: 1024-wide, 3x3 to 7x7, 1 and 2 threads, both builds, by turns in one
    #: process under ``override``), faster only for the AVX2 build's one-thread
    #: calls on tall narrow arrays (8192x1024 and 16384x512 5x5: 0.82-0.91x).
    #: Hence a default per vendor (``_window_tile_default``; AMD's not
    #: measured).
    window_tile_rows: int | None = dataclasses.field(default_factory=_window_tile_default)
    #: Bytes of source rows a tile of the rolling rows may read, in a call on
    #: several threads (their tiles are then shortened, down to 16 rows; None:
    #: never): half of a 1 MB L2.  Threads that share the last-level cache
    #: and sweep taller tiles refetch their rows from it strip after strip.
    #: On AMD Zen 4, 2 threads, float32, in one process by turns against
    #: None (a thread alone ran 128-row tiles as fast as shorter ones or
    #: faster): 1024^2 3x3 to 7x7 0.74-0.97x the time (64-row tiles), 2048^2
    #: 5x5 and 7x7 0.89-0.95x (32), 4096^2 5x5 0.96-0.98x (16), in the AVX-512
    #: and AVX2 builds alike.
    shared_tile_bytes: int | None = 512 << 10
    #: The same for a call on one thread (None: never; the build's height).
    #: On an Intel Xeon (2 MB of L2, a slow shared L3; one thread, float32, by
    #: turns in one process against None) the tiles it gives ran 4096^2 4x4
    #: to 6x6 in 0.59-0.67x the time (AVX2; 16 rows) and 0.76-0.80x
    #: (AVX-512), 2048^2 0.84-0.92x and 0.87-0.99x (32 rows), 1024^2 within
    #: 0.94-1.08x (64); on AMD Zen 4 the build's 128 rows were as fast or
    #: faster for a thread alone.  Hence a default per vendor
    #: (``_alone_tile_default``).
    alone_tile_bytes: int | None = dataclasses.field(default_factory=_alone_tile_default)
    #: Outputs of at least this many bytes stream through memory; None: none
    #: does.  The rolling rows then store with non-temporal stores where the
    #: build has them (AVX-512: lines written without being read first, the
    #: input not evicted).  Whether that pays depends on the CPU, not the
    #: build, so the default follows the vendor (``_stream_default``).  On AMD
    #: Zen 4 (32 MB L3), the stores took 16 MB outputs to 0.80-0.92x the time
    #: (2048^2 float32 3x3, 5x5; 4096x1024 5x5), larger ones to 0.91-1.02x,
    #: and 6-8 MB ones, which stay in L3 for the caller, to 1.03-1.3x (with
    #: short tiles as well as without).  On an Intel Xeon (AVX-512, AMX) they
    #: cost time at every size: plain stores took 2048^2 3x3 and 5x5 to
    #: 0.75-0.82x, 4096^2 to 0.68-0.79x, 8192^2 to 0.68-0.98x (1 and 2
    #: threads, by turns in one process).
    stream_bytes: int | None = dataclasses.field(default_factory=_stream_default)
    #: Outputs of at least this many bytes (and those that stream) are larger
    #: than the caches hold: kernels of 2-3 rows by 2-5 columns take short tiles
    #: of the rolling rows (``NDCONV_STREAM_TILE_ROWS``).  On AMD Zen 4, one
    #: process, float32 3x3, short tiles against the build's tall ones: 1024^2
    #: and 1200^2 (4-6 MB) 1.03-1.36x the time, 1250^2 0.93 / 1.07x at one /
    #: two threads (AVX-512) and 0.67 / 0.82x (AVX2), 1448^2 (8.4 MB) 0.59-0.87x,
    #: 1700^2 0.51-0.74x, 2048^2 0.5-0.9x.  Where in that range the caches end
    #: depends on the machine's L3 and who shares it; 7 MB takes 1448^2 and
    #: leaves 1250^2, whose gain was not the same in both builds.  On an Intel
    #: Xeon (one thread, short / tall tiles, by turns in one process) short
    #: tiles won from 512^2 (1 MB) up: 3x3 0.89-0.95x at 512^2, 0.77-0.95x
    #: at 896^2 to 1200^2 (AVX-512 / AVX2), 2x2 0.76-0.89x; at 400^2 they lost
    #: (3x3 1.06-1.10x).  Hence a default per vendor (``_uncached_default``).
    uncached_bytes: int | None = dataclasses.field(default_factory=_uncached_default)
    #: Whether the direct method may take the merged path at all.
    merged: bool = True
    #: The merged path's fused axis ``g0``, forced (None: the cost model picks).
    force_g0: int | None = None
    #: Bytes of the separable passes' intermediate: strips of output along the
    #: outermost convolved axis keep it cache-resident (faulted in once per call)
    #: instead of a second array the size of the output.  Each strip costs two
    #: parallel regions, so fewer, larger strips win at 2 threads: 4 MB beat
    #: 2 MB on W4b of ``ndconv bench`` (2048^2 float32, 15x15 Gaussian).
    strip_bytes: int = 4 << 20
    #: Whether two separable factors may run as the core's fused passes
    #: (``correlate_sep2d``: one sweep, the intermediate in an L1-sized ring)
    #: in the builds that have them; off, as separate passes in strips.
    sep_fused: bool = True
    #: Output rows and columns of a work item of the fused passes, forced
    #: (None: the planner's choice; the columns from the build's ring size).
    sep_tile_rows: int | None = None
    sep_chunk: int | None = None
    #: Whether missing samples (``nan_policy="omit"`` and the like) take the
    #: one-pass direct kernel where it applies (``_plan.missing``): None where
    #: the planner finds it faster than two passes, True wherever it applies,
    #: False never.
    missing_one_pass: bool | None = None
    #: Samples per group of FFT blocks: at most this many, or an eighth of the
    #: output if that is larger.  A group holds its extended input, its spectra,
    #: the inverse and its cropped copy, and scipy.fft pads the input once more:
    #: about six groups, so the FFT path's peak stays under twice the output
    #: (with a quarter it reached 3.0x: 1-D 2^22 samples, 4095 taps).
    fft_group_samples: int = 1 << 18
    #: The direct method's kernel module instead of the build picked for this
    #: CPU (a module of ``ndconv._core``; None: the picked one).
    kernels: object = None


SETTINGS = Settings()
# The settings in force, as a number: each override gets a new one and puts the
# previous one back when it ends, as it does the values.
_generation = 0
_overrides = 0


def generation():
    """A number that identifies the settings in force, for caches of plans made
    under them: it changes with every :func:`override` and returns to its value
    when the override ends."""
    return _generation


@contextlib.contextmanager
def override(**values):
    """Run the ``with`` block with some :class:`Settings` changed, then restore them.

    Examples
    --------
    >>> from ndconv._plan import tuning
    >>> with tuning.override(work_per_thread=1):
    ...     tuning.SETTINGS.work_per_thread
    1
    >>> tuning.SETTINGS.work_per_thread
    2097152
    """
    names = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise TypeError("override: unknown setting(s) %s; known: %s"
                        % (", ".join(unknown), ", ".join(sorted(names))))
    global _generation, _overrides
    saved = {name: getattr(SETTINGS, name) for name in values}
    saved_generation = _generation
    for name, value in values.items():
        setattr(SETTINGS, name, value)
    _overrides += 1
    _generation = _overrides
    try:
        yield SETTINGS
    finally:
        for name, value in saved.items():
            setattr(SETTINGS, name, value)
        _generation = saved_generation

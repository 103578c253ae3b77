"""The developer page's two diagrams: ndconv's layers, and one call's path to a kernel block.

Drawn with matplotlib while the docs build, like every other figure, so the build
needs nothing beyond the docs extra.  Every Python function a box names is looked
up in the installed package first (:func:`check_names`): renaming one without
updating the diagram fails the build instead of leaving a stale picture.
"""
import importlib

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

PUBLIC = "#d8e8f6"
API = "#cfe8cf"
PLAN = "#fbe3c4"
CORE = "#f3cccc"
KERNEL = "#e4d5ef"
TOOLS = "#eeeeee"

# (module, attribute) of every Python-visible function the call path names
CALL_PATH_NAMES = [
    ("ndconv", "convolve"),
    ("ndconv._api", "correlate_nd"),
    ("ndconv._api", "geometry"),
    ("ndconv._plan.validation", "result_dtype"),
    ("ndconv._plan.method", "choose"),
    ("ndconv._plan.fft", "correlate_fft"),
    ("ndconv._plan.separable", "correlate_separable"),
    ("ndconv._plan.direct", "correlate_direct"),
    ("ndconv._plan.boundary", "border_bands"),
    ("ndconv._core", "core"),
    ("ndconv._core.baseline", "correlate_nd"),
    ("ndconv._core.baseline", "correlate_merged"),
]


def check_names(names=CALL_PATH_NAMES):
    """Raise if a function the diagrams name no longer exists."""
    missing = []
    for module, attr in names:
        if not hasattr(importlib.import_module(module), attr):
            missing.append("%s.%s" % (module, attr))
    if missing:
        raise RuntimeError("the developer page's diagram names functions that do not exist: "
                           + ", ".join(missing))


def _box(ax, x, y, w, h, title, body="", color=PUBLIC, size=8.5):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=color, edgecolor="#555555", lw=1))
    if body:
        ax.text(x + w / 2, y + h - 0.1, title, ha="center", va="top", fontsize=size,
                fontweight="bold", family="monospace")
        ax.text(x + w / 2, y + h - 0.42, body, ha="center", va="top", fontsize=size - 1.5,
                family="monospace", linespacing=1.35)
    else:
        ax.text(x + w / 2, y + h / 2, title, ha="center", va="center", fontsize=size,
                family="monospace")


def _arrow(ax, a, b, text="", style="-|>", color="#333333", rad=0.0):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=11, color=color, lw=1.1,
                                 connectionstyle="arc3,rad=%g" % rad, shrinkA=2, shrinkB=2))
    if text:
        ax.text((a[0] + b[0]) / 2 + 0.08, (a[1] + b[1]) / 2, text, fontsize=7, va="center",
                color="#333333", style="italic")


def _canvas(width, height):
    fig = plt.figure(figsize=(width, height), layout="none")  # the boxes place themselves
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width * 1.6)
    ax.set_ylim(0, height * 1.6)
    ax.set_axis_off()
    return fig, ax


def layers():
    """The packages of ndconv from the public modules down to the kernel blocks."""
    check_names()
    fig, ax = _canvas(7.2, 5.4)
    W = 7.2 * 1.6
    rows = [  # (y, height, boxes: (x, width, title, body, colour))
        (7.25, 0.95, [(0.2, W - 0.4, "ndconv._tools",
                       "cli (ndconv demo | check | apply | bench), demo, check, verify, match,\n"
                       "io, named_kernels, timing, bench/ -- applications on the public API",
                       TOOLS)]),
        (5.85, 1.05, [(0.2, 4.1, "ndconv", "convolve  correlate\nconv  conv_grad  show_config", PUBLIC),
                      (4.45, 6.87, "ndconv.signal  .ndimage  .numpy  .datasets",
                       "scipy's and numpy's names and signatures,\nthe shipped data", PUBLIC)]),
        (4.35, 1.15, [(0.2, 4.1, "_api.py", "correlate_nd: validate, canonicalise,\ngeometry, method, run",
                       API),
                      (4.45, 3.5, "_layer.py", "conv, conv_grad:\nindex tables -> layer core", API),
                      (8.1, 3.22, "_config.py", "show_config", API)]),
        (2.6, 1.4, [(0.2, 7.6, "ndconv._plan  (what to compute)",
                     "validation   boundary (numpy.pad index maps)\nmethod + cost_model.json   dropin\n"
                     "direct (tables, chunks, merged plan)\nseparable   fft (overlap-save)",
                     PLAN)]),
        (1.0, 1.3, [(0.2, 7.6, "ndconv._core  (compiled, one import point)",
                     "__init__: ISA choice (core()), OpenMP queries\nbaseline | avx2 | avx512 = kernels.pxi "
                     "+ layer.pxi built three ways", CORE),
                    (7.95, 3.37, "_core/src (C)", "vector layer, blocks,\nscratch, CPU probe", CORE)]),
        (0.05, 0.7, [(0.2, 7.6, "kernel blocks (src/*.h, kernels.pxi)",
                      "register blocks of 8-128 outputs, four-row and rolling-row blocks", KERNEL)]),
    ]
    for y, h, boxes in rows:
        for x, w, title, body, color in boxes:
            _box(ax, x, y, w, h, title, body, color)
    for x in (1.6, 3.0):                      # tools use the public API
        _arrow(ax, (x, 7.25), (x, 6.9))
    _arrow(ax, (6.0, 7.25), (6.0, 6.9))
    _arrow(ax, (2.25, 5.85), (2.25, 5.5), "every function")
    _arrow(ax, (3.9, 5.85), (5.8, 5.5))
    _arrow(ax, (8.0, 5.85), (2.9, 5.5), rad=-0.05)   # drop-ins funnel into correlate_nd
    _arrow(ax, (2.25, 4.35), (2.25, 4.0))
    _arrow(ax, (5.6, 4.35), (5.6, 4.0), "boundary maps")
    _arrow(ax, (2.25, 2.6), (2.25, 2.3))
    _arrow(ax, (7.4, 4.35), (9.7, 2.3))
    _arrow(ax, (2.25, 1.0), (2.25, 0.75))
    ax.text(W - 0.2, 7.05 + 1.35, "arrows: who calls whom", ha="right", fontsize=7, color="#555555")
    return fig


def call_path():
    """``ndconv.convolve(x, k, "same", boundary="reflect")`` from the call to a kernel block."""
    check_names()
    fig, ax = _canvas(7.2, 5.9)
    steps = [  # (title, body, colour)
        ("ndconv.convolve(x, k, 'same', boundary='reflect')", "", PUBLIC),
        ("_api.correlate_nd(..., flip=True)",
         "as_array, check_choice, normalize_axes/origin/cval; result_dtype;\n"
         "resolve_workers; k flipped; geometry() -> starts, out_shape", API),
        ("_plan.method.choose(x, w, out_shape, n_threads, cval)",
         "cost model (cost_model.json): 'direct' | 'separable' | 'fft'\n"
         "(fft: _plan.fft.correlate_fft; separable: _plan.separable.correlate_separable)", PLAN),
        ("_plan.direct.correlate_direct(x, w, starts, ...)",
         "memory order; per-axis border tables from boundary.border_bands;\n"
         "column chunks; short rows -> the merged plan (correlate_merged)", PLAN),
        ("_core.core()  ->  avx512 | avx2 | baseline",
         "the module _core picked once at import from the CPU's features", CORE),
        ("<module>.correlate_nd(x, out, w, ..., n_threads)   [kernels.pxi, def]",
         "re-checks every offset (memory-safe alone), releases the GIL,\n"
         "per-thread scratch; _correlate_nd: prange over items (row x column chunk)", CORE),
        ("_do_item | _do_quad | _do_tile   (one item: 1 row, 4 rows, a tile)",
         "_segment_taps: one source pointer per tap (in place, gathered, cval line)", KERNEL),
        ("_block_sum -> _block8/32/64/128 | ndconv_blk128_f32",
         "register blocks: each output summed in the same tap order, written once", KERNEL),
    ]
    W = 7.2 * 1.6
    h, gap, top = 1.0, 0.25, 5.9 * 1.6 - 0.1
    y = top
    for i, (title, body, color) in enumerate(steps):
        hh = 0.5 if not body else h
        y -= hh
        _box(ax, 0.2, y, W - 0.4, hh, title, body, color, size=8)
        if i + 1 < len(steps):
            _arrow(ax, (W / 2, y), (W / 2, y - gap))
        y -= gap
    return fig

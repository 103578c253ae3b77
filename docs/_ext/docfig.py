"""Small drawing helpers for the documentation figures.

They only draw; every number they draw is computed by ndconv in the page's own
plot code, which the reader sees.
"""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

INSIDE = "#1f77b4"
OUTSIDE = "#ff7f0e"


def cells(ax, values, lo, n, title=None, fmt="{:g}"):
    """Draw a 1-D array as a row of labelled cells; ``values[lo:lo+n]`` is the input itself.

    Cells outside that range (the extension) are drawn in another colour.
    """
    values = np.asarray(values)
    for i, v in enumerate(values):
        inside = lo <= i < lo + n
        ax.add_patch(Rectangle((i - lo, 0), 1, 1, facecolor=INSIDE if inside else OUTSIDE,
                               alpha=0.85 if inside else 0.45, edgecolor="white"))
        ax.text(i - lo + 0.5, 0.5, fmt.format(v), ha="center", va="center", fontsize=9,
                color="white" if inside else "black")
    ax.add_patch(Rectangle((0, 0), n, 1, fill=False, edgecolor="black", lw=2))
    ax.set_xlim(-lo - 0.2, len(values) - lo + 0.2)
    ax.set_ylim(-0.1, 1.1)
    ax.set_yticks([])
    ax.set_xticks(np.arange(-lo, len(values) - lo) + 0.5)
    ax.set_xticklabels(np.arange(-lo, len(values) - lo), fontsize=7)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, loc="left")


def image_with_box(ax, img, pad, title=None, **kw):
    """Show an extended image and outline the original (``pad`` pixels in from each edge)."""
    h, w = img.shape[:2]
    ax.imshow(img, **kw)
    ax.add_patch(Rectangle((pad - 0.5, pad - 0.5), w - 2 * pad, h - 2 * pad, fill=False,
                           edgecolor=OUTSIDE, lw=2))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)


def images(imgs, titles, ncols=None, size=2.3, **kw):
    """A row (or grid) of images with titles, ``size`` inches wide each; returns the figure."""
    ncols = ncols or len(imgs)
    nrows = -(-len(imgs) // ncols)
    height = size * imgs[0].shape[0] / imgs[0].shape[1]    # cells shaped like the images
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (height + 0.3) * nrows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, title in zip(axes.flat, imgs, titles):
        ax.imshow(img, **kw)
        ax.set_title(title)
    return fig


def mark(ax, top, left, h, w, color="red"):
    """Outline an ``h`` x ``w`` rectangle whose top-left pixel is ``(top, left)``."""
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, edgecolor=color, lw=2))


def window(ax, n, reads, anchor, title=None):
    """Draw ``n`` input samples; label the samples that taps ``0..K-1`` read (``reads``).

    The sample under tap ``anchor`` gets a red frame.
    """
    for i in range(n):
        ax.add_patch(Rectangle((i, 0), 1, 1, facecolor="#dddddd", edgecolor="white"))
        ax.text(i + 0.5, -0.35, str(i), ha="center", va="center", fontsize=7)
    for j, i in enumerate(reads):
        ax.add_patch(Rectangle((i, 0), 1, 1, facecolor=INSIDE, edgecolor="white"))
        ax.text(i + 0.5, 0.5, "k%d" % j, ha="center", va="center", color="white", fontsize=9)
    ax.add_patch(Rectangle((reads[anchor], 0), 1, 1, fill=False, edgecolor="red", lw=2.5))
    ax.set_xlim(-0.2, n + 0.2)
    ax.set_ylim(-0.7, 1.05)
    ax.axis("off")
    if title:
        ax.set_title(title, loc="left")

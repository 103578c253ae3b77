"""Small data sets shipped with ndconv, for examples, the demo and the docs.

Every file in ``ndconv/data/`` is synthesized by ``tools/make_data.py`` (no
recordings or photographs of third parties; see ``ndconv/data/README.md``), so
it can be regenerated and is under the project's BSD-3-Clause licence.  Loading
needs numpy only.

=========================  =================================================
:func:`speech`             a synthesized spoken phrase, 16 kHz mono
:func:`room_impulse_response`  the response of a modelled room, 16 kHz
:func:`image`              a photo-like landscape, 256 x 384 RGB
:func:`waldo`              a busy scene, the figure to find and where he is
=========================  =================================================
"""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ._tools import io as _io

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["Sound", "Waldo", "speech", "room_impulse_response", "image", "waldo", "path"]

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")



class Sound(NamedTuple):
    """A sampled sound: ``data`` (float32 samples in [-1, 1)) and ``rate`` (Hz)."""

    data: NDArray[np.float32]
    rate: int


class Waldo(NamedTuple):
    """The search problem: ``scene`` and ``template`` (float32 grey values in
    [0, 1]) and ``location``, the ``(row, column)`` of the template's top-left
    corner in the scene."""

    scene: NDArray[np.float32]
    template: NDArray[np.float32]
    location: tuple[int, int]


def path(name: str) -> str:
    """Absolute path of the shipped file ``name`` (e.g. ``"speech.wav"``).

    Parameters
    ----------
    name : str
        File name inside ``ndconv/data``.

    Returns
    -------
    str

    Examples
    --------
    >>> import ndconv.datasets
    >>> ndconv.datasets.path("speech.wav").endswith("speech.wav")
    True
    """
    p = os.path.join(DATA_DIR, name)
    if os.path.basename(name) != name or not os.path.isfile(p):
        available = sorted(f for f in os.listdir(DATA_DIR) if not f.startswith(("README", "LICENSE")))
        raise ValueError("no shipped data file %r; available: %s" % (name, ", ".join(available)))
    return p


def _sound(name: str) -> Sound:
    data, rate = _io.read_wav(path(name))
    return Sound(data.astype(np.float32), rate)


def speech() -> Sound:
    """A spoken phrase, "hello world, signal", synthesized (1.9 s, 16 kHz, mono).

    A glottal pulse train and noise shaped by time-varying formant
    resonators: a dry recording with no room in it, ready to be convolved
    with :func:`room_impulse_response`.

    Returns
    -------
    Sound
        ``(data, rate)``: float32 samples in [-1, 1) of shape ``(n,)``, and
        16000.

    Examples
    --------
    >>> import ndconv
    >>> voice, rate = ndconv.datasets.speech()
    >>> voice.dtype, rate
    (dtype('float32'), 16000)
    """
    return _sound("speech.wav")


def room_impulse_response() -> Sound:
    """The impulse response of a modelled room (0.5 s, 16 kHz).

    The direct sound, a dozen early reflections off the walls, and a late
    tail of noise decaying by 60 dB in 0.5 s at low frequencies and in 0.3 s at
    high ones.  ``ndconv.convolve(voice, rir)`` plays a dry recording in this
    room.

    Returns
    -------
    Sound
        ``(data, rate)``: float32 samples of shape ``(8000,)``, and 16000.

    Examples
    --------
    >>> import ndconv
    >>> voice, rate = ndconv.datasets.speech()
    >>> rir, _ = ndconv.datasets.room_impulse_response()
    >>> wet = ndconv.convolve(voice, rir)          # the voice in the room
    >>> wet.shape[0] == voice.shape[0] + rir.shape[0] - 1
    True
    """
    return _sound("room_ir.wav")


def image(as_gray: bool = False) -> NDArray[np.float32]:
    """A photo-like landscape: sky, sun, mountains, a house, a tree, grass (256 x 384).

    Procedural, with smooth gradients, sharp edges, fine texture and
    sensor noise -- the things blurs, edge detectors and sharpening act on.

    Parameters
    ----------
    as_gray : bool, optional
        Return luminance (ITU-R BT.601 weights) instead of RGB.

    Returns
    -------
    ndarray of float32
        Values in [0, 1], shape ``(256, 384, 3)``, or ``(256, 384)`` with
        ``as_gray=True``.

    Examples
    --------
    >>> import numpy as np, ndconv
    >>> rgb = ndconv.datasets.image()
    >>> blurred = ndconv.convolve(rgb, np.ones((5, 5)) / 25, "same", boundary="symmetric",
    ...                           axes=(0, 1))       # each colour channel alike
    >>> blurred.shape
    (256, 384, 3)
    """
    rgb = np.load(path("image.npy"), allow_pickle=False).astype(np.float32) / np.float32(255)
    if as_gray:
        return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return rgb


def waldo() -> Waldo:
    """The chapter's "Where's Waldo": a busy grey scene and the figure to find.

    The scene (240 x 320) is crowded with figures that share most of his
    features -- the bobble hat, the round face, the glasses, the striped shirt
    -- but never all of them, plus striped flags, balloons and noise.  He is
    there once, a little darker and lower in contrast than the template.

    Returns
    -------
    Waldo
        ``(scene, template, location)``: float32 arrays in [0, 1] of shapes
        ``(240, 320)`` and ``(22, 13)``, and the ``(row, column)`` of his
        top-left corner in the scene.

    Examples
    --------
    >>> import numpy as np, ndconv
    >>> scene, template, location = ndconv.datasets.waldo()
    >>> score = ndconv.match_template(scene, template)
    >>> tuple(int(i) for i in np.unravel_index(np.argmax(score), score.shape)) == location
    True
    """
    scene = np.load(path("waldo_scene.npy"), allow_pickle=False).astype(np.float32) / np.float32(255)
    template = np.load(path("waldo_template.npy"), allow_pickle=False).astype(np.float32) / np.float32(255)
    with open(path("waldo.json")) as f:
        where = json.load(f)
    return Waldo(scene, template, (int(where["row"]), int(where["col"])))

"""The shipped data: shapes, ranges, size, origin note, and regeneration."""
import importlib.util
import json
import os
import sys

import numpy as np
import pytest

import ndconv
from ndconv import datasets
from ndconv._tools import io as _io

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAKE_DATA = os.path.join(ROOT, "tools", "make_data.py")


def test_speech_and_room():
    voice, rate = datasets.speech()
    assert rate == 16000 and voice.dtype == np.float32 and voice.ndim == 1
    assert 1.5 < voice.size / rate < 2.5
    assert 0.5 < np.abs(voice).max() <= 1
    rir = datasets.room_impulse_response()
    assert rir.rate == 16000 and rir.data.shape == (8000,)
    # the direct sound comes first and is the loudest; the tail decays
    assert np.argmax(np.abs(rir.data)) < 0.005 * rir.rate
    assert np.abs(rir.data[-1000:]).max() < 0.05 * np.abs(rir.data).max()


def test_image():
    rgb = datasets.image()
    assert rgb.shape == (256, 384, 3) and rgb.dtype == np.float32
    assert 0 <= rgb.min() and rgb.max() <= 1 and rgb.std() > 0.1
    gray = datasets.image(as_gray=True)
    assert gray.shape == (256, 384)
    np.testing.assert_allclose(gray, 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2],
                               atol=1e-6)


def test_waldo_is_found_where_he_is_hidden():
    scene, template, location = datasets.waldo()
    assert scene.shape == (240, 320) and template.shape == (22, 13)
    score = ndconv.match_template(scene, template)
    assert tuple(int(i) for i in np.unravel_index(np.argmax(score), score.shape)) == location
    # the busy scene is a real search: plain correlation is fooled by bright clutter
    raw = ndconv.correlate(scene, template, "valid")
    assert tuple(int(i) for i in np.unravel_index(np.argmax(raw), raw.shape)) != location


def test_size_and_origin_note():
    files = os.listdir(datasets.DATA_DIR)
    total = sum(os.path.getsize(os.path.join(datasets.DATA_DIR, f)) for f in files)
    assert total < 2 * 1024 * 1024
    with open(os.path.join(datasets.DATA_DIR, "README.md")) as f:
        readme = f.read()
    for f in files:
        assert f == "README.md" or f in readme, f
    assert "make_data.py" in readme and "BSD-3-Clause" in readme


def test_path_errors():
    assert os.path.isfile(datasets.path("speech.wav"))
    with pytest.raises(ValueError, match="available: .*speech.wav"):
        datasets.path("nothing.wav")
    with pytest.raises(ValueError):
        datasets.path("../__init__.py")


def test_loading_needs_no_pillow(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    assert datasets.image().shape == (256, 384, 3)
    assert datasets.waldo().scene.shape == (240, 320)


def test_make_data_regenerates_the_shipped_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_data", MAKE_DATA)
    make_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_data)
    assert make_data.main(["--out", str(tmp_path)]) == 0
    shipped = sorted(f for f in os.listdir(datasets.DATA_DIR) if f != "README.md")
    assert sorted(os.listdir(tmp_path)) == shipped
    for name in shipped:
        new, old = os.path.join(tmp_path, name), datasets.path(name)
        if name.endswith(".json"):
            with open(new) as f1, open(old) as f2:
                assert json.load(f1) == json.load(f2)
            continue
        a, _ = _io.read(new)
        b, _ = _io.read(old)
        assert a.shape == b.shape
        # numpy's sin/exp may differ by an ulp between CPUs, which can move a
        # value across one rounding step of the 8/16-bit quantisation
        step = 1 / 32768 if name.endswith(".wav") else 1
        assert np.max(np.abs(a.astype(np.float64) - b)) <= step * 1.0001, name

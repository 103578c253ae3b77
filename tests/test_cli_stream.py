"""``ndconv apply`` streaming a WAV file in blocks: the in-memory result, in bounded memory."""
import os
import wave

import numpy as np
import pytest

from ndconv._tools import cli as _cli
from ndconv._tools import io as _io
from ndconv._tools import wavstream


def run(argv, capsys):
    code = _cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def write_wav(path, samples, rate=8000, width=2):
    scale = {1: 127, 2: 32767, 3: 8388607, 4: 2147483647}[width]
    ints = np.round(np.atleast_2d(samples.T).T * scale).astype(np.int64)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(ints.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 1:
            raw = (ints + 128).astype(np.uint8).tobytes()
        elif width == 3:
            b = (ints.reshape(-1) & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)
            raw = b[:, :3].tobytes()
        else:
            raw = ints.astype("<i%d" % width).tobytes()
        w.writeframes(raw)


@pytest.fixture
def small_blocks(monkeypatch):
    # blocks much shorter than the recording and than the kernel: many block edges
    monkeypatch.setattr(wavstream, "BLOCK_FRAMES", 97)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("extra", [[], ["--rescale"], ["--correlate"]])
def test_streamed_equals_in_memory(tmp_path, capsys, small_blocks, mode, channels, extra):
    rng = np.random.default_rng(channels)
    x = rng.uniform(-0.5, 0.5, (2000, channels)) if channels > 1 else rng.uniform(-0.5, 0.5, 2000)
    write_wav(tmp_path / "in.wav", x)
    np.save(tmp_path / "k.npy", rng.standard_normal(300) * 0.2)
    for out in ("o.wav", "o.npy"):
        common = ["apply", str(tmp_path / "in.wav"), str(tmp_path / "k.npy"), "--mode", mode,
                  "--method", "direct"] + extra
        code1, _, err1 = run(common + ["-o", str(tmp_path / ("m" + out))], capsys)
        code2, msg, err2 = run(common + ["-o", str(tmp_path / ("s" + out)), "--stream"], capsys)
        assert code1 == code2 == 0, (err1, err2)
        assert "streamed in blocks of 97 frames" in msg
        assert err1.replace("m" + out, "s" + out) == err2          # the same notes
        with open(tmp_path / ("m" + out), "rb") as f1, open(tmp_path / ("s" + out), "rb") as f2:
            assert f1.read() == f2.read()
    assert sorted(os.listdir(tmp_path)) == ["in.wav", "k.npy", "mo.npy", "mo.wav", "so.npy",
                                            "so.wav"]


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_every_pcm_width(tmp_path, capsys, small_blocks, width):
    x = np.random.default_rng(width).uniform(-0.9, 0.9, 500)
    write_wav(tmp_path / "in.wav", x, width=width)
    np.save(tmp_path / "k.npy", np.array([0.5, 0.25]))
    code, _, _ = run(["apply", str(tmp_path / "in.wav"), str(tmp_path / "k.npy"), "-o",
                      str(tmp_path / "o.npy"), "--stream", "--method", "direct", "--mode", "full"],
                     capsys)
    assert code == 0
    samples, _ = _io.read_wav(str(tmp_path / "in.wav"))
    want = 0.5 * np.concatenate([samples, [0]]) + 0.25 * np.concatenate([[0], samples])
    assert np.array_equal(np.load(tmp_path / "o.npy"), want)


def test_fft_stream_within_the_bound(tmp_path, capsys, small_blocks):
    rng = np.random.default_rng(7)
    x = rng.uniform(-0.5, 0.5, 3000)
    write_wav(tmp_path / "in.wav", x)
    k = rng.standard_normal(1500) * 0.01
    np.save(tmp_path / "k.npy", k)
    base = ["apply", str(tmp_path / "in.wav"), str(tmp_path / "k.npy")]
    assert run(base + ["-o", str(tmp_path / "s.npy"), "--stream", "--method", "fft"],
               capsys)[0] == 0
    assert run(base + ["-o", str(tmp_path / "m.npy"), "--method", "direct"], capsys)[0] == 0
    s, m = np.load(tmp_path / "s.npy"), np.load(tmp_path / "m.npy")
    eps = np.finfo(np.float64).eps
    P = -(-1500 // 97)
    assert np.abs(s - m).max() <= 8 * eps * (np.log2(2 * 97) + P) * np.abs(k).sum() * 0.5


@pytest.mark.parametrize("args, words", [
    (["--boundary", "reflect"], ["--boundary reflect", "in memory"]),
    (["--cval", "1"], ["--cval 1", "in memory"]),
    (["--axes", "1"], ["along its first axis"]),
    (["-o", "{tmp}/o.png"], ["written as .wav or .npy"]),
])
def test_streaming_refuses_what_it_cannot_honour(tmp_path, capsys, args, words):
    write_wav(tmp_path / "in.wav", np.zeros((100, 2)))
    np.save(tmp_path / "k.npy", np.ones(3))
    argv = ["apply", str(tmp_path / "in.wav"), str(tmp_path / "k.npy"), "--stream"]
    if "-o" not in args:
        argv += ["-o", str(tmp_path / "o.wav")]
    argv += [a.format(tmp=tmp_path) for a in args]
    code, _, err = run(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err
    assert sorted(os.listdir(tmp_path)) == ["in.wav", "k.npy"]      # no partial output


def test_stream_needs_a_wav_or_npy_input(tmp_path, capsys):
    np.savetxt(tmp_path / "x.txt", np.ones(10))
    code, _, err = run(["apply", str(tmp_path / "x.txt"), "box:3", "-o", str(tmp_path / "o.npy"),
                        "--stream"], capsys)
    assert code == 2 and "--stream reads WAV and .npy inputs" in err


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("shape, dtype", [((1500,), np.float64), ((1500, 3), np.float32),
                                          ((1500, 2, 2), np.int16)])
def test_npy_streams_along_its_first_axis(tmp_path, capsys, small_blocks, mode, shape, dtype):
    rng = np.random.default_rng(len(shape))
    np.save(tmp_path / "x.npy", (rng.standard_normal(shape) * 100).astype(dtype))
    np.save(tmp_path / "k.npy", rng.standard_normal(200))
    base = ["apply", str(tmp_path / "x.npy"), str(tmp_path / "k.npy"), "--mode", mode,
            "--axes", "0", "--method", "direct"]
    assert run(base + ["-o", str(tmp_path / "m.npy")], capsys)[0] == 0
    code, out, err = run(base + ["-o", str(tmp_path / "s.npy"), "--stream"], capsys)
    assert code == 0, err
    m, s = np.load(tmp_path / "m.npy"), np.load(tmp_path / "s.npy")
    assert m.dtype == s.dtype and m.shape == s.shape
    assert np.array_equal(m, s)


def test_truncated_wav_leaves_no_file(tmp_path, capsys, small_blocks):
    write_wav(tmp_path / "in.wav", np.zeros(1000))
    data = (tmp_path / "in.wav").read_bytes()
    (tmp_path / "in.wav").write_bytes(data[:len(data) - 600])       # header says 1000 frames
    np.save(tmp_path / "k.npy", np.ones(3))
    code, _, err = run(["apply", str(tmp_path / "in.wav"), str(tmp_path / "k.npy"), "-o",
                        str(tmp_path / "o.wav"), "--stream"], capsys)
    assert code == 2 and "truncated" in err
    assert sorted(os.listdir(tmp_path)) == ["in.wav", "k.npy"]


def test_large_wav_streams_by_default(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(wavstream, "STREAM_BYTES", 1000)
    write_wav(tmp_path / "in.wav", np.zeros(2000))
    code, out, _ = run(["apply", str(tmp_path / "in.wav"), "box:3", "-o",
                        str(tmp_path / "o.wav")], capsys)
    assert code == 0 and "streamed" in out

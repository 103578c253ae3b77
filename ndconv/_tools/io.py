"""Reading and writing arrays as .npy, .wav, images and text, for the ``ndconv`` command.

Codecs are other people's: numpy for .npy and text, the standard library's
``wave`` for PCM WAV (scipy.io.wavfile, if installed, for floating-point WAV),
Pillow (the optional ``io`` extra) for PNG and other images.
"""
import os
import wave

import numpy as np

WAV = (".wav",)
NPY = (".npy",)
TEXT = (".txt", ".csv")
IMAGE = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
KNOWN = NPY + WAV + IMAGE + TEXT


class FileFormatError(ValueError):
    """A file that cannot be read or written as its extension says."""


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("images need Pillow, which is not installed; install it with "
                          "`pip install pillow` (or `pip install \"ndconv[io]\"`)") from None
    return Image


def extension(path):
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in KNOWN:
        raise FileFormatError("%s: unsupported file type %r; use one of %s"
                              % (path, ext or "(none)", ", ".join(KNOWN)))
    return ext


def read(path):
    """``(array, info)`` from ``path``; ``info["kind"]`` is ``"npy"``, ``"wav"``,
    ``"image"`` or ``"text"``, and ``info["rate"]`` the sample rate of a WAV.

    WAV samples are float64 in [-1, 1) with shape ``(n,)`` (mono) or
    ``(n, channels)``; images are float64 in [0, 1] with shape ``(h, w)`` or
    ``(h, w, channels)``.
    """
    ext = extension(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("%s: no such file" % path)
    if ext in NPY:
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise FileFormatError("%s: not a .npy file (no NumPy header)" % path)
        try:
            a = np.load(path, allow_pickle=False)
        except Exception as exc:  # numpy raises ValueError/OSError/EOFError for bad files
            raise FileFormatError("%s: not a readable .npy file (%s)" % (path, exc)) from None
        if not isinstance(a, np.ndarray):
            raise FileFormatError("%s: holds no single array" % path)
        return a, {"kind": "npy"}
    if ext in WAV:
        data, rate = read_wav(path)
        return data, {"kind": "wav", "rate": rate}
    if ext in TEXT:
        try:
            a = np.loadtxt(path, delimiter="," if ext == ".csv" else None, ndmin=1)
        except Exception as exc:
            raise FileFormatError("%s: not a table of numbers (%s)" % (path, exc)) from None
        return a, {"kind": "text"}
    return read_image(path), {"kind": "image"}


def read_wav(path):
    """``(samples, rate)`` of a WAV file: float64 in [-1, 1), ``(n,)`` or ``(n, channels)``."""
    try:
        with wave.open(str(path), "rb") as w:
            nch, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except wave.Error as exc:
        if "unknown format" in str(exc):
            return _read_wav_scipy(path, exc)
        raise FileFormatError("%s: not a readable WAV file (%s)" % (path, exc)) from None
    except EOFError:
        raise FileFormatError("%s: not a readable WAV file (truncated)" % path) from None
    if width == 1:
        a = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128) / 128
    elif width == 2:
        a = np.frombuffer(raw, "<i2") / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        a = np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)
    elif width == 4:
        a = np.frombuffer(raw, "<i4") / float(1 << 31)
    else:
        raise FileFormatError("%s: unsupported sample width %d bytes" % (path, width))
    a = a[:len(a) - len(a) % nch].reshape(-1, nch)
    if a.shape[0] == 0:
        raise FileFormatError("%s: WAV file holds no samples" % path)
    return (a[:, 0].copy() if nch == 1 else a), rate


def _read_wav_scipy(path, exc):
    try:
        from scipy.io import wavfile
    except ImportError:
        raise FileFormatError("%s: %s -- the standard library reads integer PCM WAV only; "
                              "install scipy to read floating-point WAV" % (path, exc)) from None
    try:
        rate, a = wavfile.read(path)
    except Exception as e:
        raise FileFormatError("%s: not a readable WAV file (%s)" % (path, e)) from None
    a = np.asarray(a)
    if a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        a = (a.astype(np.float64) - (info.max + 1 if a.dtype.kind == "u" else 0) / 2) / (info.max + 1)
    return a.astype(np.float64), int(rate)


def read_image(path):
    """An image as float64 in [0, 1], ``(h, w)`` grey or ``(h, w, channels)``."""
    Image = _pillow()
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode in ("1", "CMYK", "YCbCr", "HSV", "LAB"):
                im = im.convert("L" if im.mode == "1" else "RGB")
            a = np.asarray(im)
    except OSError as exc:
        raise FileFormatError("%s: not a readable image (%s)" % (path, exc)) from None
    if a.dtype == np.uint8:
        return a / 255.0
    if a.dtype.kind in "iu":               # 16-bit grey comes as I;16 or I
        return a.astype(np.float64) / 65535.0
    return a.astype(np.float64)


def write(path, data, rate=None):
    """Write ``data`` as ``path``'s extension says; returns notes for the user.

    WAV: 16-bit PCM at ``rate``; a signal louder than full scale is scaled
    down to fit (a note says by how much).  Images: values clipped to [0, 1]
    and stored as 8 bits (a note counts clipped pixels).  Text: at most 2-D.
    """
    ext = extension(path)
    data = np.asarray(data)
    if data.dtype.kind == "c":
        raise FileFormatError("%s: the result is complex; only .npy can hold it" % path)
    notes = []
    if ext in NPY:
        np.save(path, data)
    elif ext in TEXT:
        if data.ndim > 2:
            raise FileFormatError("%s: text files hold 1-D or 2-D arrays, the result is %d-D"
                                  % (path, data.ndim))
        np.savetxt(path, data, delimiter="," if ext == ".csv" else " ")
    elif ext in WAV:
        if data.ndim not in (1, 2):
            raise FileFormatError("%s: WAV needs samples shaped (n,) or (n, channels), got %s"
                                  % (path, data.shape))
        peak = float(np.max(np.abs(data))) if data.size else 0.0
        if not np.isfinite(peak):
            raise FileFormatError("%s: the signal holds NaN or inf" % path)
        if peak > 1.0:
            data = data / peak
            notes.append("%s: peak %.3g exceeds full scale; scaled by %.3g to fit"
                         % (path, peak, 1 / peak))
        pcm = np.clip(np.round(data * 32767), -32768, 32767).astype("<i2")
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1 if pcm.ndim == 1 else pcm.shape[1])
            w.setsampwidth(2)
            w.setframerate(int(rate or 44100))
            w.writeframes(pcm.tobytes())
    else:
        Image = _pillow()
        if not (data.ndim == 2 or (data.ndim == 3 and data.shape[2] in (1, 3, 4))):
            raise FileFormatError("%s: images are (h, w) or (h, w, 1|3|4), the result is %s"
                                  % (path, data.shape))
        if data.ndim == 3 and data.shape[2] == 1:
            data = data[:, :, 0]
        # values within half a step of the range round into it anyway
        half = 0.5 / 255
        n_clip = int(np.count_nonzero((data < -half) | (data > 1 + half)))
        if n_clip:
            notes.append("%s: %d values outside [0, 1] were clipped (--rescale maps the range "
                         "instead)" % (path, n_clip))
        img = np.round(np.clip(np.nan_to_num(data), 0, 1) * 255).astype(np.uint8)
        Image.fromarray(img).save(path)
    return notes

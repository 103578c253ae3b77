"""Reading and writing arrays as .npy, .wav, images and text, for the ``ndconv`` command.

Codecs are other people's: numpy for .npy and text, the standard library's
``wave`` for PCM WAV (scipy.io.wavfile, if installed, for floating-point WAV),
Pillow (the optional ``io`` extra) for PNG and other images, zarr (the optional
``dask`` extra) for .zarr stores.

Arrays larger than memory are read and written a block at a time
(:func:`open_chunked`, :func:`store_chunked`): a .npy file through a memory
map of the block's range, opened for that block only, and a .zarr store
through dask.

Every file (and .zarr folder) is written to a temporary one in the target's
folder and renamed over the target only when complete, so a failed write
leaves the target as it was and nothing partial behind.
"""
import contextlib
import os
import secrets
import shutil
import stat
import wave

import numpy as np

WAV = (".wav",)
NPY = (".npy",)
ZARR = (".zarr",)
TEXT = (".txt", ".csv")
IMAGE = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
KNOWN = NPY + ZARR + WAV + IMAGE + TEXT
# what :func:`open_chunked` reads and :func:`store_chunked` writes
CHUNKED = NPY + ZARR


class FileFormatError(ValueError):
    """A file that cannot be read or written as its extension says."""


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("images need Pillow, which is not installed; install it with "
                          "`pip install pillow` (or `pip install \"ndconv[io]\"`)") from None
    return Image


def _zarr():
    try:
        import zarr
    except ImportError:
        raise ImportError(".zarr stores need zarr, which is not installed; install it with "
                          "`pip install zarr` (or `pip install \"ndconv[dask]\"`)") from None
    return zarr


def _dask_array():
    try:
        import dask.array as da
    except ImportError:
        raise ImportError("arrays processed in chunks need dask, which is not installed; install "
                          "it with `pip install \"ndconv[dask]\"`") from None
    return da


def extension(path):
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in KNOWN:
        raise FileFormatError("%s: unsupported file type %r; use one of %s"
                              % (path, ext or "(none)", ", ".join(KNOWN)))
    return ext


def read(path):
    """``(array, info)`` from ``path``; ``info["kind"]`` is ``"npy"``, ``"wav"``,
    ``"image"``, ``"text"`` or ``"zarr"`` (a .zarr store, read whole), and
    ``info["rate"]`` the sample rate of a WAV.

    WAV samples are float64 in [-1, 1) with shape ``(n,)`` (mono) or
    ``(n, channels)``; images are float64 in [0, 1] with shape ``(h, w)`` or
    ``(h, w, channels)``; ``info["bits"]`` is an image's bits per sample as read
    (8 or 16) and ``info["mode"]`` its Pillow mode (``"LA"`` and ``"RGBA"``
    have alpha as the last channel).
    """
    ext = extension(path)
    if ext in ZARR:
        return _open_zarr(path)[...], {"kind": "zarr"}
    if os.path.isdir(path):
        raise IsADirectoryError("%s: is a folder, not a file" % path)
    if not os.path.isfile(path):
        raise FileNotFoundError("%s: no such file" % path)
    try:
        return _read(path, ext)
    except OSError as exc:        # permissions, a failing disk, a file removed meanwhile
        raise OSError("cannot read %s: %s" % (path, exc.strerror or exc)) from None


def _read(path, ext):
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
    a, mode, bits = _read_image(path)
    info = {"kind": "image", "mode": mode, "bits": bits, "notes": []}
    if _png_colour_16bit(path):
        info["notes"].append("%s: 16-bit colour PNG read with 8 bits per channel (Pillow's "
                             "limit; 16-bit grey keeps all 16)" % path)
    return a, info


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
    except (OSError, MemoryError):
        raise
    except Exception:  # the wave module's parser raises EOFError, RuntimeError, struct.error, ...
        raise FileFormatError("%s: not a readable WAV file (truncated or damaged header)"
                              % path) from None
    if nch < 1 or len(raw) < n * nch * width:
        raise FileFormatError("%s: truncated WAV file: its header announces %d frames but it "
                              "holds %d" % (path, n, len(raw) // max(nch * width, 1)))
    if width not in (1, 2, 3, 4):
        raise FileFormatError("%s: unsupported sample width %d bytes" % (path, width))
    a = pcm_to_float(raw[:n * nch * width], width, nch)
    if a.shape[0] == 0:
        raise FileFormatError("%s: WAV file holds no samples" % path)
    return (a[:, 0].copy() if nch == 1 else a), rate


def pcm_to_float(raw, width, nch):
    """PCM bytes (``width`` bytes per sample, ``nch`` interleaved channels) as
    float64 ``(frames, nch)`` in [-1, 1)."""
    if width == 1:
        a = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128) / 128
    elif width == 2:
        a = np.frombuffer(raw, "<i2") / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        a = np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)
    else:
        a = np.frombuffer(raw, "<i4") / float(1 << 31)
    return a.reshape(-1, nch)


def float_to_pcm16(data):
    """Samples in [-1, 1] as little-endian 16-bit PCM (rounded, clipped)."""
    return np.clip(np.round(data * 32767), -32768, 32767).astype("<i2")


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
    return _read_image(path)[0]


def _read_image(path):
    """``(array, mode, bits)``: the image as :func:`read_image` gives it, its
    Pillow mode after conversion, and the bits per sample it was stored with
    (16 for 16-bit grey, which Pillow keeps; it reads 16-bit colour as 8 bits)."""
    Image = _pillow()
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode in ("1", "CMYK", "YCbCr", "HSV", "LAB"):
                im = im.convert("L" if im.mode == "1" else "RGB")
            mode = im.mode
            a = np.asarray(im)
    except MemoryError:
        raise
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, ... for bad files
        raise FileFormatError("%s: not a readable image (%s)" % (path, exc)) from None
    if a.dtype == np.uint8:
        return a / 255.0, mode, 8
    if a.dtype.kind in "iu":               # 16-bit grey comes as I;16 or I
        return a.astype(np.float64) / 65535.0, mode, 16
    return a.astype(np.float64), mode, 32


def _png_colour_16bit(path):
    """Whether ``path`` is a PNG whose header says 16-bit colour or grey+alpha."""
    with open(path, "rb") as f:
        head = f.read(26)
    # signature, IHDR length and type, width, height, then bit depth and colour type
    return (len(head) == 26 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
            and head[24] == 16 and head[25] in (2, 4, 6))


@contextlib.contextmanager
def replaced_when_complete(path):
    """A binary file to write ``path``'s new content to.

    The file is a temporary one in ``path``'s folder (the folder of the file a
    symbolic link points to); when the block ends normally it is flushed to
    disk and renamed over ``path`` (``os.replace``, atomic on POSIX and
    Windows), keeping an existing target's permissions.
    When the block raises, the temporary file is removed and ``path`` is left
    as it was.  OS errors become an ``OSError`` with a one-line message naming
    ``path``.
    """
    with temporary_beside(path) as tmp:
        try:
            with open(tmp, "wb") as f:
                yield f
        except OSError as exc:
            raise OSError("cannot write %s: %s" % (path, exc.strerror or exc)) from exc


def _is_zarr_store(path):
    return any(os.path.exists(os.path.join(path, name)) for name in ("zarr.json", ".zarray", ".zgroup"))


@contextlib.contextmanager
def temporary_beside(path, folder=False):
    """The name of a new, empty temporary file (a folder if ``folder``) in
    ``path``'s folder, to write ``path``'s new content to.

    When the block ends normally the temporary is flushed to disk (a file) and
    renamed over ``path``, through a symbolic link as writing in place would,
    keeping an existing file's permissions; an existing folder (a .zarr store)
    is moved aside, replaced and then removed.  When the block raises, the
    temporary is removed and ``path`` is left as it was.  OS errors become an
    ``OSError`` with a one-line message naming ``path``.
    """
    path = os.fspath(path)
    if os.path.isdir(path) and not folder:
        raise IsADirectoryError("cannot write %s: it is a folder" % path)
    target = os.path.realpath(path)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode) if not folder else None
    except OSError:
        mode = None
    tmp = None
    try:
        tmp = _claim(target, ".tmp", folder)
        yield tmp
        if folder:
            _swap_folder(tmp, target)
        else:
            fd = os.open(tmp, os.O_RDWR | getattr(os, "O_BINARY", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        if str(exc).startswith(("cannot write ", "cannot read ")):
            raise
        raise OSError("cannot write %s: %s" % (path, exc.strerror or exc)) from exc
    finally:
        if tmp is not None:
            _remove(tmp)


def _claim(target, suffix, folder):
    """Create a new empty file (or folder) named like ``target`` with a random
    part, in its folder, and return its name; never reuses (or follows) an
    existing name."""
    base = os.path.join(os.path.dirname(target), "." + os.path.basename(target))
    for _ in range(100):
        tmp = "%s.%s%s" % (base, secrets.token_hex(4), suffix)
        try:
            if folder:
                os.mkdir(tmp)
            else:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                 | getattr(os, "O_BINARY", 0), 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(0, "no free temporary name")


def _swap_folder(tmp, target):
    """Rename folder ``tmp`` to ``target``, moving an existing ``target`` aside
    first and removing it once the new one is in place (put back on failure)."""
    if not os.path.lexists(target):
        os.rename(tmp, target)
        return
    old = _claim(target, ".old", True)
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(old, target)
        raise
    _remove(old)


def _remove(path):
    with contextlib.suppress(OSError):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def check_writable(path):
    """Raise a one-line error now if ``path`` cannot be written later: an unknown
    extension, a missing folder, or a folder in its place (a file in the place
    of a .zarr folder, or a folder that is not a zarr store)."""
    ext = extension(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError("cannot write %s: folder %s does not exist" % (path, folder))
    if ext in ZARR:
        if os.path.isdir(path) and not _is_zarr_store(path):
            raise IsADirectoryError("cannot write %s: it is a folder that is not a zarr store"
                                    % path)
        if os.path.lexists(path) and not os.path.isdir(path):
            raise FileExistsError("cannot write %s: it is a file, not a .zarr folder" % path)
    elif os.path.isdir(path):
        raise IsADirectoryError("cannot write %s: it is a folder" % path)
    if not os.access(folder, os.W_OK):
        raise PermissionError("cannot write %s: folder %s is not writable" % (path, folder))


def check_rate(rate, what="rate"):
    """``rate`` as an int if it is a valid WAV sample rate, else a ValueError."""
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, np.integer)) \
            or not 1 <= rate <= 0xFFFFFFFF:   # the header holds it in 32 bits
        raise FileFormatError("%s must be a whole number of samples per second from 1 to "
                              "4294967295, got %r" % (what, rate))
    return int(rate)


def write(path, data, rate=None, bits=8):
    """Write ``data`` as ``path``'s extension says; returns notes for the user.

    The file is written to a temporary file next to ``path`` and renamed over
    it when complete (see :func:`replaced_when_complete`): a failure leaves
    ``path`` as it was.

    WAV: 16-bit PCM at ``rate`` (default 44100); a signal louder than full
    scale is scaled down to fit (a note says by how much).  Images: values
    clipped to [0, 1] (a note counts clipped pixels) and stored with ``bits``
    per sample, 8 or 16; 16 bits are written for grey PNG and TIFF (Pillow
    stores colour with 8 bits per channel, a note says so).  ``(h, w, 2)`` is
    grey with alpha, ``(h, w, 4)`` colour with alpha.  Text: at most 2-D.
    """
    ext = extension(path)
    data = np.asarray(data)
    if data.dtype.kind == "c":
        raise FileFormatError("%s: the result is complex; only .npy can hold it" % path)
    notes = []
    if ext in NPY:
        encode = lambda f: np.save(f, data)  # noqa: E731
    elif ext in TEXT:
        if data.ndim > 2:
            raise FileFormatError("%s: text files hold 1-D or 2-D arrays, the result is %d-D"
                                  % (path, data.ndim))
        encode = lambda f: np.savetxt(f, data, delimiter="," if ext == ".csv" else " ")  # noqa: E731
    elif ext in WAV:
        encode = _wav_encoder(path, data, 44100 if rate is None else rate, notes)
    else:
        encode = _image_encoder(path, ext, data, bits, notes)
    with replaced_when_complete(path) as f:
        try:
            encode(f)
        except (OSError, MemoryError):
            raise
        except Exception as exc:  # a codec's own complaint (wave.Error, struct.error, ...)
            raise FileFormatError("%s: cannot write (%s)" % (path, exc)) from exc
    return notes


def _wav_encoder(path, data, rate, notes):
    rate = check_rate(rate, "the sample rate of %s" % path)
    if data.ndim not in (1, 2) or data.size == 0:
        raise FileFormatError("%s: WAV needs samples shaped (n,) or (n, channels), got %s"
                              % (path, data.shape))
    peak = float(np.max(np.abs(data)))
    if not np.isfinite(peak):
        raise FileFormatError("%s: the signal holds NaN or inf" % path)
    if peak > 1.0:
        data = data / peak
        notes.append("%s: peak %.3g exceeds full scale; scaled by %.3g to fit"
                     % (path, peak, 1 / peak))
    pcm = float_to_pcm16(data)

    def encode(f):
        with wave.open(f, "wb") as w:
            w.setnchannels(1 if pcm.ndim == 1 else pcm.shape[1])
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
    return encode


def _image_encoder(path, ext, data, bits, notes):
    Image = _pillow()
    if not (data.ndim == 2 or (data.ndim == 3 and data.shape[2] in (1, 2, 3, 4))):
        raise FileFormatError("%s: images are (h, w) or (h, w, 1|2|3|4), the result is %s"
                              % (path, data.shape))
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    if bits not in (8, 16):
        raise FileFormatError("%s: images are stored with 8 or 16 bits, not %r" % (path, bits))
    if bits == 16 and not (data.ndim == 2 and ext in (".png", ".tif", ".tiff")):
        notes.append("%s: stored with 8 bits per sample (16 bits are written for grey PNG and "
                     "TIFF only)" % path)
        bits = 8
    top = 2 ** bits - 1
    # values within half a step of the range round into it anyway
    half = 0.5 / top
    n_clip = int(np.count_nonzero((data < -half) | (data > 1 + half)))
    if n_clip:
        notes.append("%s: %d values outside [0, 1] were clipped (--rescale maps the range "
                     "instead)" % (path, n_clip))
    img = np.round(np.clip(np.nan_to_num(data), 0, 1) * top).astype(np.uint16 if bits == 16
                                                                      else np.uint8)
    Image.init()
    fmt = Image.registered_extensions().get(ext)
    picture = Image.fromarray(img)      # uint16 (h, w) is mode I;16, (h, w, 2) uint8 is LA
    return lambda f: picture.save(f, format=fmt)


# ----------------------------------------------------------------------------- chunked
def _open_zarr(path):
    """The zarr array stored in folder ``path``, or a one-line error."""
    zarr = _zarr()
    if not os.path.lexists(path):
        raise FileNotFoundError("%s: no such .zarr folder" % path)
    if not os.path.isdir(path):
        raise NotADirectoryError("%s: is a file; a .zarr store is a folder" % path)
    try:
        return zarr.open_array(path, mode="r")
    except OSError as exc:
        raise OSError("cannot read %s: %s" % (path, exc.strerror or exc)) from None
    except Exception as exc:  # zarr's own errors: a group, no or damaged metadata, ...
        raise FileFormatError("%s: not a readable zarr array (%s)"
                              % (path, " ".join(str(exc).split()))) from None


class _NpyBlocks:
    """The array of a .npy file, read one block at a time.

    Each read maps the file, copies the block out and unmaps it again, so the
    process holds only the blocks being computed: pages of one long-lived map
    would stay resident (and counted in the process's memory) once read.
    """

    def __init__(self, path):
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise FileFormatError("%s: not a .npy file (no NumPy header)" % path)
        try:
            m = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # numpy raises ValueError/OSError/EOFError for bad files
            raise FileFormatError("%s: not a readable .npy file (%s)" % (path, exc)) from None
        self.path, self.shape, self.dtype, self.offset = path, m.shape, m.dtype, m.offset
        self.ndim = m.ndim
        self.order = "F" if m.flags.f_contiguous and not m.flags.c_contiguous else "C"

    def __getitem__(self, index):
        try:
            m = np.memmap(self.path, self.dtype, "r", self.offset, self.shape, self.order)
            return np.array(m[index])      # a copy: the map is closed with ``m``
        except OSError as exc:
            raise OSError("cannot read %s: %s" % (self.path, exc.strerror or exc)) from None


def open_chunked(path, chunks=None):
    """``path`` (.npy or .zarr) as a dask array that reads it block by block.

    ``chunks`` is dask's argument (an int, one per axis, ``"auto"`` or a size
    such as ``"64MiB"``); default: a zarr store's own chunks, dask's
    ``"auto"`` (blocks of its ``array.chunk-size``) for .npy.  A .npy file is
    memory-mapped for each block's read only (:class:`_NpyBlocks`).
    """
    ext = extension(path)
    if ext not in CHUNKED:
        raise FileFormatError("%s: only .npy and .zarr are read in chunks" % path)
    da = _dask_array()
    if ext in ZARR:
        z = _open_zarr(path)
        return da.from_zarr(z, chunks=z.chunks if chunks is None else chunks)
    if os.path.isdir(path):
        raise IsADirectoryError("%s: is a folder, not a file" % path)
    if not os.path.isfile(path):
        raise FileNotFoundError("%s: no such file" % path)
    try:
        blocks = _NpyBlocks(path)
    except OSError as exc:
        raise OSError("cannot read %s: %s" % (path, exc.strerror or exc)) from None
    from dask.base import tokenize
    st = os.stat(path)
    name = "ndconv-npy-" + tokenize(os.path.realpath(path), st.st_mtime_ns, st.st_size, chunks)
    return da.from_array(blocks, chunks="auto" if chunks is None else chunks, name=name,
                         lock=False, fancy=False, meta=np.empty((0,) * blocks.ndim, blocks.dtype))


class _NpyTarget:
    """A .npy file's array, written one block at a time through a map opened
    for that block only (see :class:`_NpyBlocks`)."""

    def __init__(self, path, offset, dtype, shape):
        self.path, self.offset, self.dtype, self.shape = path, offset, dtype, shape

    def __setitem__(self, index, value):
        m = np.memmap(self.path, self.dtype, "r+", self.offset, self.shape)
        m[index] = value


def store_chunked(path, y):
    """Compute the dask array ``y`` block by block into ``path`` (.npy or .zarr).

    The result is written to a temporary file (folder) beside ``path`` and
    renamed over it when complete (:func:`temporary_beside`).  A .npy file is
    created with ``numpy.lib.format.open_memmap``, its space reserved at once
    where the OS can (so that a full disk is an error now, not a fault while
    writing through the map), and filled by ``dask.array.store`` through
    :class:`_NpyTarget`.  A .zarr store is written by ``dask.array.to_zarr``
    with regular chunks: the commonest chunk size along each axis where
    ``"full"`` or ``"valid"`` made the first and last chunks differ.
    """
    ext = extension(path)
    da = _dask_array()
    if ext in NPY:
        with temporary_beside(path) as tmp:
            m = np.lib.format.open_memmap(tmp, mode="w+", dtype=y.dtype, shape=y.shape)
            offset = m.offset
            del m
            if hasattr(os, "posix_fallocate") and y.nbytes:
                fd = os.open(tmp, os.O_RDWR)
                try:
                    os.posix_fallocate(fd, 0, offset + y.nbytes)
                finally:
                    os.close(fd)
            da.store(y, _NpyTarget(tmp, offset, y.dtype, y.shape), lock=False)
        return
    if ext not in ZARR:
        raise FileFormatError("%s: only .npy and .zarr are written in chunks" % path)
    _zarr()
    # zarr's chunks are regular (the last may be shorter): keep the commonest size
    if any(len(set(c[:-1])) > 1 or c[-1] > c[0] for c in y.chunks):
        y = y.rechunk(tuple(max(c, key=c.count) for c in y.chunks))
    with temporary_beside(path, folder=True) as tmp:
        y.to_zarr(tmp, overwrite=True)

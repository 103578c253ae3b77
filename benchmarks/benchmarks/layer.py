"""The convolution layer on peerbench's W6: ResNet's 56x56 stage, a batch of 8,
64 -> 64 channels, 3x3, ``padding="same"``, float32, channels-last.

Times ``ndconv.conv`` with each method (``"auto"`` takes Winograd here) and
PyTorch's ``conv2d`` on channels-last tensors (oneDNN) when torch is
installed, and ``ndconv.conv_grad``, at 1 and 2 threads.
"""
import contextlib
import functools

import numpy as np

import ndconv
from ndconv._tools import bench as _bench

# (batch, pixels per side, channels in = out); the tests shrink it
SHAPE = (8, 56, 64)


def _data():
    batch, side, c = SHAPE
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, side, side, c), dtype=np.float32)
    w = (rng.standard_normal((3, 3, c, c)) / np.sqrt(9 * c)).astype(np.float32)
    return x, w


class W6Layer:
    params = [["auto", "direct", "winograd", "torch"], [1, 2]]
    param_names = ["call", "threads"]
    timeout = 120
    repeat = (3, 20, 10.0)
    number = 1

    def setup(self, call, threads):
        x, w = _data()
        self._ctx = contextlib.ExitStack()
        if call != "torch":
            self.fn = functools.partial(ndconv.conv, x, w, padding="same", method=call,
                                        workers=threads)
            return
        mods = _bench.peer_modules(["torch"])
        torch = mods["torch"]
        if torch is None:
            raise NotImplementedError("torch is not installed")
        cl = torch.channels_last
        tx = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).contiguous(memory_format=cl)
        tw = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).contiguous(memory_format=cl)
        self.fn = functools.partial(mods["torch.nn.functional"].conv2d, tx, tw, padding=1)
        self._ctx.enter_context(_bench.thread_settings(threads, mods))

    def teardown(self, *params):
        self._ctx.close()

    def time_forward(self, call, threads):
        self.fn()


class W6LayerGradients:
    """``ndconv.conv_grad`` on W6 (the gradients sum directly, whatever the
    forward pass's method)."""
    params = [[1, 2]]
    param_names = ["threads"]
    timeout = 120
    repeat = (3, 10, 10.0)
    number = 1

    def setup(self, threads):
        x, w = _data()
        g = np.random.default_rng(1).standard_normal(x.shape[:-1] + (w.shape[-1],), dtype=np.float32)
        self.fn = functools.partial(ndconv.conv_grad, x, w, g, padding="same", workers=threads)

    def time_gradients(self, threads):
        self.fn()

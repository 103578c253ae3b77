"""A batch of kernels (one FIR per channel, one PSF per image) and integer outputs.

``time_batch`` against ``time_loop``: the same work as a Python loop of single
calls (the batch's result is bitwise that loop's with the direct method).
``time_uint8`` against ``time_float``: a uint8 image filtered back to uint8
(exact sums, rounding, saturation) against the default float64 result.
"""
import numpy as np

import ndconv

BATCHES = {
    "64 channels x 48000, 511 taps": ((64, 48000), (64, 511), -1),
    "32 images 256^2, 7x7 each": ((32, 256, 256), (32, 7, 7), (1, 2)),
}


class Batch:
    params = [list(BATCHES), ["direct", "fft"]]
    param_names = ["case", "method"]
    timeout = 300

    def setup(self, case, method):
        xs, ks, self.axes = BATCHES[case]
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal(xs, dtype=np.float32)
        self.k = rng.standard_normal(ks, dtype=np.float32)

    def time_batch(self, case, method):
        ndconv.convolve(self.x, self.k, "same", axes=self.axes, method=method)

    def time_loop(self, case, method):
        axes = self.axes if isinstance(self.axes, int) else tuple(a - 1 for a in self.axes)
        for i in range(self.x.shape[0]):
            ndconv.convolve(self.x[i], self.k[i], "same", axes=axes, method=method)


class IntegerOutput:
    params = [[3, 7, 15]]
    param_names = ["kernel"]

    def setup(self, K):
        rng = np.random.default_rng(0)
        self.img = rng.integers(0, 256, (2048, 2048)).astype(np.uint8)
        self.k = rng.random((K, K)).astype(np.float32)
        self.k /= self.k.sum()

    def time_uint8(self, K):
        ndconv.correlate(self.img, self.k, "same", boundary="reflect", dtype=np.uint8)

    def time_float(self, K):
        ndconv.correlate(self.img, self.k, "same", boundary="reflect")

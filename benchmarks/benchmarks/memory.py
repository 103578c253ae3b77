"""Memory of the direct and FFT paths, against the targets below.

``peakmem_convolve`` is the process's peak resident memory during one call;
``peakmem_reference`` the same setup without the call (inputs only), so the
difference is what the call adds.  ``track_traced_peak_per_output`` measures
the call's peak of traced allocations (numpy arrays, which is where the FFT
path's spectra and blocks live; the compiled core's per-thread scratch and the
FFT library's internal buffers are not traced) in units of the output's size:
the targets are about 1 (plus O(threads x tile)) for direct and at most 3 for FFT.
"""
import tracemalloc

import numpy as np

import ndconv

CASES = {
    "1-D 2^22, 4095 taps": ((1 << 22,), (4095,)),
    "2-D 2048^2, 15x15": ((2048, 2048), (15, 15)),
    "3-D 128^3, 9^3": ((128, 128, 128), (9, 9, 9)),
}


class Memory:
    params = [list(CASES), ["direct", "fft"]]
    param_names = ["case", "method"]
    timeout = 180

    def setup(self, case, method):
        x_shape, k_shape = CASES[case]
        rng = np.random.default_rng(0)
        # generated in float32: a float64 temporary would set the peak in setup
        self.x = rng.standard_normal(x_shape, dtype=np.float32)
        self.k = rng.standard_normal(k_shape, dtype=np.float32)

    def _call(self, method):
        return ndconv.convolve(self.x, self.k, "same", boundary="reflect", method=method, workers=1)

    def peakmem_convolve(self, case, method):
        self._call(method)

    def peakmem_reference(self, case, method):
        # same inputs, no call: the baseline the peakmem_convolve numbers sit on
        pass

    def track_traced_peak_per_output(self, case, method):
        out_bytes = self.x.nbytes  # "same": the output has x's shape and dtype
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            self._call(method)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return (peak - base) / out_bytes

    track_traced_peak_per_output.unit = "x output size"

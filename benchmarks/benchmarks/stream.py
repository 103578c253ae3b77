"""Streams: the cost of one block of ``ndconv.Stream.process``.

Steady state (the partitions' spectra computed, the history full), mono
float32, against ``scipy.signal.oaconvolve`` on the same block alone and the
direct method; ``benchmarks/stream_bench.py`` prints the table with ratios.
"""
import numpy as np

import ndconv


class StreamBlock:
    params = [[31, 8000, 100_000], [64, 256, 1024, 4096], ["auto", "direct"]]
    param_names = ["taps", "block", "method"]
    timeout = 120

    def setup(self, taps, block, method):
        if method == "direct" and taps > 8000:
            raise NotImplementedError   # asv: skip (minutes of direct multiply-adds)
        rng = np.random.default_rng(0)
        self.k = rng.standard_normal(taps).astype(np.float32)
        self.x = rng.standard_normal(block).astype(np.float32)
        self.s = ndconv.Stream(self.k, method=method, partition=block, workers=1)
        for _ in range(3):
            self.s.process(self.x)

    def time_process(self, taps, block, method):
        self.s.process(self.x)

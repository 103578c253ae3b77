"""Type-checks the public API's hints as a user's code sees them (not run by pytest).

``mypy`` in the repository root checks this file (settings in pyproject.toml, also a
pre-commit hook and so CI).  The calls below are typical uses and must type-check; each
deliberate misuse at the end carries a ``type: ignore`` that mypy must need (strict mode
reports an unneeded one), so hints that stop catching the misuse fail too.
"""
import io

import numpy as np
from numpy.typing import NDArray

import ndconv
import ndconv.datasets
from ndconv import ndimage, signal
from ndconv import numpy as npc
from ndconv._core import baseline

x = np.random.default_rng(0).standard_normal((32, 32))
k = np.ones((3, 3)) / 9
a: NDArray[np.float64] = ndconv.convolve(x, k, "same", boundary="reflect", workers=2)
b = ndconv.correlate([1.0, 2.0, 3.0], [0.0, 1.0], origin=0, axes=None, method="direct")
ndconv.convolve(x, k, out=np.empty((34, 34)), cval=np.float32(1))
filled = ndconv.convolve(x, k, "same", boundary="missing", nan_policy="omit", mask=x > 0,
                         min_weight=0.5, preserve_nan=True)
strip = ndconv.convolve(x, k, "same", boundary=("missing", "wrap"), nan_policy="omit")
ndconv.conv(x[None, :, :, None], np.ones((3, 3, 1, 2)), padding=1, cval=[1.0, 2.0])
y = ndconv.conv(x[None, :, :, None], np.ones((3, 3, 1, 2)), padding="same", stride=(1, 2))
gx, gw, gb = ndconv.conv_grad(x[None, :, :, None], np.ones((3, 3, 1, 2)), np.ones((1, 30, 30, 2)))
ndconv.show_config(file=io.StringIO())
voice, rate = ndconv.datasets.speech()
scene, template, (row, col) = ndconv.datasets.waldo()
score = ndconv.match_template(scene, template, "same", boundary="edge")
status: str = ndconv.check_commutativity(x, k).status
speedup: float = ndconv.compare_with_scipy("convolve", x, k, "same").speedup
s1 = signal.fftconvolve(x, k, axes=(0, 1))
s2 = signal.convolve2d(x, k, boundary="symm")
n1 = ndimage.correlate1d(x, [1.0, 2.0], axis=0, mode="nearest")
p1 = npc.convolve([1, 2, 3], [1, 1], 2)
threads: int = baseline.omp_num_procs() + baseline.vector_width(8)
total = float(a.sum() + b.sum() + y.sum() + gx.sum() + gw.sum() + gb.sum() + score.max() + filled.sum()
              + s1.sum() + s2.sum() + n1.sum() + p1.sum() + voice.sum()) + rate + row + col + threads

u8 = ndconv.correlate(x, k, "same", dtype=np.uint8, casting="saturate")
stream = ndconv.Stream([1.0, 2.0], mode="same", method="direct", partition=64)
streamed = stream.process(x[0]).sum() + stream.flush().sum() + stream.delay + stream.latency + u8.sum()

ndconv.convolve(x, k, mode="sideways")  # type: ignore[arg-type]
ndconv.convolve(x, k, dtype=np.uint8, casting="clip")  # type: ignore[arg-type]
ndconv.convolve(x, k, nan_policy="ignore")  # type: ignore[arg-type]
ndconv.conv(x, k, layout="nhwc")  # type: ignore[arg-type]
ndimage.convolve(x, k, mode="edge")  # type: ignore[arg-type]
baseline.omp_num_procs(3)  # type: ignore[call-arg]

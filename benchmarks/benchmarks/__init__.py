"""asv benchmarks for ndconv: one module per area.

* ``workloads`` -- the reference workloads W1-W9 of ``ndconv bench`` (as defined in
  ``ndconv._tools.bench``), ndconv and every installed peer in the same classes.
* ``sweep``     -- signal size x kernel size for each method, scipy.ndimage alongside.
* ``memory``    -- ``peakmem_`` of the direct and FFT paths against a
  ``peakmem_reference`` that only holds the inputs, and tracemalloc peaks per output size.
"""

import os
import sys

try:
    import ndconv  # noqa: F401 - installed in the asv environment
except ImportError:
    # ``asv run --python=same`` from a source checkout with an in-place build:
    # benchmark that tree (asv does not pass PYTHONPATH on).
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    import ndconv  # noqa: F401

"""The examples in the public API's docstrings run and print what they show."""
import doctest
import importlib

import numpy as np
import pytest

# every module whose docstrings users read: the public namespaces and the
# private modules that define public functions
MODULES = ["ndconv", "ndconv._api", "ndconv._layer", "ndconv._config", "ndconv.signal",
           "ndconv.ndimage", "ndconv.numpy", "ndconv.datasets", "ndconv.kernels", "ndconv.stream",
           "ndconv._tools.verify", "ndconv._tools.match"]


def _examples():
    finder = doctest.DocTestFinder(exclude_empty=True)
    seen = set()
    for name in MODULES:
        module = importlib.import_module(name)
        for test in finder.find(module, name):
            if test.examples and test.name not in seen:
                seen.add(test.name)
                yield pytest.param(test, id=test.name)


@pytest.mark.skipif(int(np.__version__.split(".")[0]) < 2,
                    reason="the examples show numpy 2's output (numpy 1 prints scalars without "
                           "their type)")
@pytest.mark.parametrize("test", list(_examples()))
def test_docstring_example(test):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    test.globs = {"np": np}
    report: list[str] = []
    with np.printoptions(legacy=False):
        result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)

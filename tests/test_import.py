"""``import ndconv`` stays light: scipy and the other optional, slow-to-import
libraries are loaded when a call first needs them, and such a call then works."""
import importlib.util
import os
import subprocess
import sys

import ndconv

# optional libraries ndconv may use, each costing tens of milliseconds or more to import
HEAVY = ("scipy", "threadpoolctl", "PIL", "matplotlib")

CODE = """
import sys
import numpy as np
import ndconv

heavy = sorted(m for m in sys.modules if m.split(".")[0] in %r)
assert not heavy, "imported by `import ndconv`: %%s" %% heavy

rng = np.random.default_rng(0)
x, k = rng.standard_normal(300), rng.standard_normal(40)
got = ndconv.convolve(x, k, method="fft")
ref = np.convolve(x, k)
# FFT convolution error, normwise: about eps * log2(L) * sqrt(L) * |x|_2 * |k|_2
L = 512
tol = np.finfo(float).eps * np.log2(L) * np.sqrt(L) * np.linalg.norm(x) * np.linalg.norm(k)
err = np.abs(got - ref).max()
assert got.shape == ref.shape and err <= tol, (err, tol)
print("scipy.fft" in sys.modules)
print(ndconv._config.config()["fft"])
""" % (HEAVY,)


def run(code, cwd):
    # the ndconv this test session imported (a source tree or an installed copy),
    # from a directory where no other copy can shadow it
    parent = os.path.dirname(os.path.dirname(os.path.abspath(ndconv.__file__)))
    env = dict(os.environ, PYTHONPATH=parent + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_import_defers_heavy_modules_and_fft_then_works(tmp_path):
    p = run(CODE, tmp_path)
    assert p.returncode == 0, p.stderr
    imported_fft, backend = p.stdout.split()
    has_scipy = importlib.util.find_spec("scipy") is not None
    # the first transform imports scipy.fft when scipy is installed, and the
    # configuration report names the library that was used
    assert imported_fft == str(has_scipy)
    assert backend == ("scipy.fft" if has_scipy else "numpy.fft")


def test_lazy_names_resolve(tmp_path):
    p = run("import ndconv, sys\n"
            "assert 'ndconv._tools.verify' not in sys.modules\n"
            "from ndconv import check_commutativity, compare_with_scipy, match_template\n"
            "assert ndconv.datasets.__name__ == 'ndconv.datasets'\n"
            "assert {'datasets', 'match_template'} <= set(dir(ndconv))\n"
            "assert ndconv.check_commutativity([1.0, 2.0], [3.0]).passed\n"
            "try:\n    ndconv.no_such_name\nexcept AttributeError as e:\n    print(e)\n",
            tmp_path)
    assert p.returncode == 0, p.stderr
    assert "no_such_name" in p.stdout

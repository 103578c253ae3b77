#!/usr/bin/env bash
# The oldest versions ndconv declares: Python 3.10 with numpy, scipy and the
# [test] extra's pytest, hypothesis, threadpoolctl and pillow at their lower
# bounds (read from pyproject.toml, so the job follows the declared bounds),
# installed from wheels only; then the whole test suite.  Usage: minversions.sh SCRATCH
set -euo pipefail
scratch=$1
cd "$(dirname "$0")/.."
start=$(date +%s)

py=
for cand in python3.10 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
    if "$cand" -c "" 2>/dev/null; then py=$cand; break; fi
done
[ -n "$py" ] || { echo "minversions: no working python3.10 (install one, e.g. with pyenv)"; exit 1; }

# ">=A.B" becomes "==A.B.*" (the oldest release line); ">=A" becomes "==A.0.*"
pins=$(python3 - <<'PY'
import re, tomllib
meta = tomllib.load(open("pyproject.toml", "rb"))["project"]
reqs = meta["dependencies"] + meta["optional-dependencies"]["test"]
pins = {}
for req in reqs:
    m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9]+)(?:\.([0-9]+))?[0-9.]*\s*", req)
    if m is None:
        raise SystemExit("minversions: no lower bound to pin in %r" % req)
    name, major, minor = m.group(1), m.group(2), m.group(3) or "0"
    pins[name.lower()] = "%s==%s.%s.*" % (name, major, minor)
print(" ".join(pins.values()))
PY
)
echo "minversions: $("$py" --version), $pins"

"$py" -m venv "$scratch/minvenv"
minpy=$scratch/minvenv/bin/python
"$minpy" -m pip install --quiet --upgrade pip
# shellcheck disable=SC2086  # one word per pin
"$minpy" -m pip install --quiet --only-binary=:all: $pins "Cython>=3.1" "setuptools>=77"
"$minpy" -m pip list 2>/dev/null | grep -iE "^(numpy|scipy|pytest|hypothesis|threadpoolctl|pillow) "

# an editable build next to the main job's: the extension file names carry the
# Python version, so the two builds do not collide
# the AVX-512 module only where this CPU runs it: the old versions' concern is Python-side
grep -qw avx512f /proc/cpuinfo || export NDCONV_DISABLE_AVX512=1
"$minpy" setup.py -q build_ext --inplace -j 2 > "$scratch/minbuild.log" 2>&1 \
    || { tail -40 "$scratch/minbuild.log"; exit 1; }
"$minpy" -m pip install --quiet --no-build-isolation --no-deps -e . > "$scratch/mininstall.log" 2>&1 \
    || { tail -40 "$scratch/mininstall.log"; exit 1; }
"$minpy" -c "import numpy, scipy, ndconv; print('ndconv', ndconv.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__)"

"$minpy" -m pytest -q -p no:cacheprovider
echo "minversions: $(( $(date +%s) - start )) s"

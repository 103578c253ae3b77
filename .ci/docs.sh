#!/usr/bin/env bash
# CI stage: the HTML docs at 1280 px in headless Chromium -- no code block, table or
# formula clipped or scrolling, on any page -- and screenshots of a few pages.
#   bash .ci/docs.sh SCRATCH [SHOTS_DIR]      (SHOTS_DIR defaults to SCRATCH/docs-shots)
# Reuses the main job's venv and HTML build (SCRATCH/venv, SCRATCH/docs-html) when they
# are there, so it costs only the browser's time; otherwise it makes both.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(cd "$1" && pwd)
shots=${2:-$scratch/docs-shots}
start=$(date +%s)

if ! command -v chromium > /dev/null; then
    echo "-- installing chromium (Debian package)"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
        > "$scratch/chromium-install.log" 2>&1 \
        || { tail -20 "$scratch/chromium-install.log"; echo "could not install chromium"; exit 1; }
fi
chromium --version 2> /dev/null

html=$scratch/docs-html
if [ ! -s "$html/index.html" ]; then
    py=$scratch/venv/bin/python
    if ! { [ -x "$py" ] && "$py" -c "import ndconv, sphinx, pydata_sphinx_theme" 2> /dev/null; }; then
        python3 -m venv "$scratch/docs-venv"
        py=$scratch/docs-venv/bin/python
        "$py" -m pip install --quiet --upgrade pip
        "$py" -m pip install --quiet ".[docs]"
    fi
    html=$scratch/docs-layout-html
    MPLBACKEND=Agg "$py" -m sphinx -W -q -b html docs "$html"
fi

python3 .ci/docs_layout.py "$html" "$shots" --width 1280 --height 800
echo "docs layout stage: $(( $(date +%s) - start )) s"

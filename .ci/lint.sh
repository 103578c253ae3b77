#!/usr/bin/env bash
# CI stage: the linters (ruff, cython-lint and the hygiene hooks) over the whole tree, at the
# versions .pre-commit-config.yaml pins, so CI and a contributor's commit hook agree.
# pre-commit and every hook's tool go into venvs under the scratch folder ($1).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${1:?usage: lint.sh SCRATCH_DIR}
python3 -m venv "$scratch/lint-venv"
"$scratch/lint-venv/bin/python" -m pip install --quiet "pre-commit==4.7.0"
# pre-commit lists the files with git: this runs in a clone, and lints what is committed.
PRE_COMMIT_HOME="$scratch/pre-commit-home" "$scratch/lint-venv/bin/pre-commit" \
    run --all-files --show-diff-on-failure --color never

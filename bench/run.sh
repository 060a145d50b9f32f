#!/usr/bin/env bash
# The load benchmark: the app against a bare Streamlit chat page, N users x K turns each.
# Writes bench/results/load.json, load.md and load.png. Arguments go to bench/load/run_load.py
# (for example --users 1,10 --turns 2). Takes one to ten minutes with the defaults on 2 cores,
# depending on how busy the machine is.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv requirements.txt
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
exec .venv/bin/python bench/load/run_load.py "$@"

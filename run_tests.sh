#!/usr/bin/env bash
# Run the whole test suite: unit, integration (a real embedded PostgreSQL), UI (AppTest) and lint.
# Makes or updates .venv with the dev requirements first. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
ensure_venv requirements-dev.txt

.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m pytest "$@"

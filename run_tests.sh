#!/usr/bin/env bash
# Run the whole test suite: lint (ruff), types (mypy, strict on services/ and persistence/), then unit,
# integration (a real embedded PostgreSQL), UI (AppTest), browser, deploy and reliability tests.
# Makes or updates .venv with the dev requirements first. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
ensure_venv requirements-dev.txt

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing Chromium for the browser tests..."
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "Chromium is missing and this is not root: the browser tests will be skipped." >&2
    fi
fi

.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m mypy
.venv/bin/python -m pytest "$@"

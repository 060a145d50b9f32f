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

# The accessibility audit injects axe-core, from the npm registry at the version package-lock.json pins.
if [ ! -f tests/e2e/axe/node_modules/axe-core/axe.min.js ]; then
    if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing Node.js and npm for the accessibility audit..."
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    fi
    if command -v npm >/dev/null 2>&1; then
        (cd tests/e2e/axe && npm ci --no-audit --no-fund --loglevel=error)
    else
        echo "npm is missing and cannot be installed here: the accessibility audit will fail." >&2
    fi
fi

.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m mypy
.venv/bin/python -m pytest "$@"

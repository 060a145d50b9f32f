#!/usr/bin/env bash
# Stop what ./start_app.sh started: the app, then the embedded PostgreSQL (if the app used one).
set -euo pipefail
cd "$(dirname "$0")"

if [ -f .data/app.pid ]; then
    pid=$(cat .data/app.pid)
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "The app did not stop within 15 s; killing it."
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "App stopped."
    fi
    rm -f .data/app.pid
else
    echo "The app is not running."
fi

if [ -x .venv/bin/python ]; then
    .venv/bin/python -m persistence.embedded stop
fi

#!/usr/bin/env bash
# Stop what ./start_app.sh started (on $APP_PORT, default 8000): the app, then the embedded
# PostgreSQL in EMBEDDED_DB_DIR if one runs there.
set -euo pipefail
cd "$(dirname "$0")"

port="${APP_PORT:-8000}"
pid_file=".data/app-$port.pid"
if [ -f "$pid_file" ]; then
    pid=$(cat "$pid_file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "The app did not stop within 15 s; killing it."
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "App stopped."
    fi
    rm -f "$pid_file"
else
    echo "The app is not running."
fi

if [ -x .venv/bin/python ]; then
    .venv/bin/python -m persistence.embedded stop
fi

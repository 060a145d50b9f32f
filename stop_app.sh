#!/usr/bin/env bash
# Stop what ./start_app.sh started (on $APP_PORT, default 8000): the app, then the embedded
# PostgreSQL it used, if it used one and no other app started by start_app.sh still uses it.
# An app on DATABASE_URL or Lakebase never stops anything but itself.
set -euo pipefail
cd "$(dirname "$0")"

port="${APP_PORT:-8000}"
pid_file=".data/app-$port.pid"
embedded_file=".data/app-$port.embedded"
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

embedded_dir=""
if [ -f "$embedded_file" ]; then
    embedded_dir=$(cat "$embedded_file")
    rm -f "$embedded_file"
fi
if [ -z "$embedded_dir" ]; then
    exit 0
fi
# Another app started by start_app.sh on the same embedded database keeps it running.
for other in .data/app-*.embedded; do
    [ -f "$other" ] || continue
    other_port=$(basename "$other" .embedded); other_port=${other_port#app-}
    if [ "$(cat "$other")" = "$embedded_dir" ] && [ -f ".data/app-$other_port.pid" ] \
        && kill -0 "$(cat ".data/app-$other_port.pid")" 2>/dev/null; then
        echo "The embedded PostgreSQL keeps running: the app on port $other_port still uses it."
        exit 0
    fi
done
if [ -x .venv/bin/python ]; then
    .venv/bin/python -m persistence.embedded stop "$embedded_dir"
fi

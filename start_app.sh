#!/usr/bin/env bash
# Run the app locally at http://localhost:8000 (or $APP_PORT) on its embedded defaults.
# It listens on 127.0.0.1 only: locally every visitor is LOCAL_USER_EMAIL, so the app must not be
# reachable from other machines. APP_ADDRESS=0.0.0.0 opens it up (only behind a proxy that signs
# people in and sets X-Forwarded-Email, with TRUST_FORWARDED_HEADERS=true).
# Settings come from the environment and .env (see .env.example).
# Makes .venv on first use. The app runs in the background; ./stop_app.sh stops it and the database.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
ensure_venv requirements.txt

port="${APP_PORT:-8000}"
address="${APP_ADDRESS:-127.0.0.1}"
pid_file=".data/app-$port.pid"
embedded_file=".data/app-$port.embedded"
log_file=".data/app-$port.log"
mkdir -p .data
if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    echo "The app is already running (pid $(cat "$pid_file")) at http://localhost:$port"
    exit 0
fi

# Bad settings stop start-up here, with a message naming the setting. The embedded database's
# folder (empty when the app uses DATABASE_URL or Lakebase) is kept for stop_app.sh.
.venv/bin/python -m services.config --embedded-dir > "$embedded_file.new" || {
    cat "$embedded_file.new"; rm -f "$embedded_file.new"; exit 2
}
mv "$embedded_file.new" "$embedded_file"
# Start the embedded database now, not on the first page load: the first visitor does not wait.
if [ -s "$embedded_file" ]; then
    # -W ignore: platformdirs warns about XDG_RUNTIME_DIR on servers; nothing a user can act on.
    .venv/bin/python -W ignore -m persistence.embedded start "$(cat "$embedded_file")" >/dev/null
fi

# serve.py is `streamlit run` with Nagle's algorithm off on the server's connections (see serve.py).
nohup .venv/bin/python serve.py run Home.py \
    --server.port "$port" --server.address "$address" --server.headless true --browser.gatherUsageStats false \
    > "$log_file" 2>&1 &
echo $! > "$pid_file"

for _ in $(seq 1 300); do
    if .venv/bin/python - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_stcore/health", timeout=1)
PY
    then
        echo "The app is running at http://localhost:$port (log: $log_file; stop: ./stop_app.sh)"
        exit 0
    fi
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        echo "The app did not start. Last lines of $log_file:" >&2
        tail -n 20 "$log_file" >&2
        exit 1
    fi
    sleep 0.1
done
echo "The app did not answer within 30 s; see $log_file" >&2
exit 1

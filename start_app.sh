#!/usr/bin/env bash
# Run the app locally at http://localhost:8000 (or $APP_PORT) on its embedded defaults.
# Makes .venv on first use. The app runs in the background; ./stop_app.sh stops it and the database.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
ensure_venv requirements.txt

port="${APP_PORT:-8000}"
mkdir -p .data
if [ -f .data/app.pid ] && kill -0 "$(cat .data/app.pid)" 2>/dev/null; then
    echo "The app is already running (pid $(cat .data/app.pid)) at http://localhost:$port"
    exit 0
fi

# Bad settings stop start-up here, with a message naming the setting.
.venv/bin/python -m services.config

nohup .venv/bin/python -m streamlit run Home.py \
    --server.port "$port" --server.headless true --browser.gatherUsageStats false \
    > .data/app.log 2>&1 &
echo $! > .data/app.pid

for _ in $(seq 1 300); do
    if .venv/bin/python - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_stcore/health", timeout=1)
PY
    then
        echo "The app is running at http://localhost:$port (log: .data/app.log; stop: ./stop_app.sh)"
        exit 0
    fi
    if ! kill -0 "$(cat .data/app.pid)" 2>/dev/null; then
        echo "The app did not start. Last lines of .data/app.log:" >&2
        tail -n 20 .data/app.log >&2
        exit 1
    fi
    sleep 0.1
done
echo "The app did not answer within 30 s; see .data/app.log" >&2
exit 1

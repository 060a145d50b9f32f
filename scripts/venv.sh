# Sourced by start_app.sh and run_tests.sh: make or update .venv from a requirements file.
# Usage: ensure_venv requirements.txt
# pip runs only when the requirements files changed since the last install (a stamp holds their hash).

ensure_venv() {
    local requirements="$1"
    local python="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        echo "Creating .venv with $($python --version 2>&1)..."
        "$python" -m venv .venv
    fi
    local stamp=".venv/.installed-$(basename "$requirements")"
    local wanted
    wanted=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
        echo "Installing $requirements into .venv..."
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
        echo "$wanted" > "$stamp"
    fi
}

#!/usr/bin/env bash
# Deploy the app to Databricks with its bundle (databricks.yml at the project root).
#
#   deploy/deploy.sh doctor|validate|deploy|run|destroy [--target dev|prod] [--profile NAME]
#                    [--var NAME=VALUE ...] [--dry-run]
#
#   doctor    check the workspace before a deploy: sign-in, CLI, endpoint, Lakebase, app name
#   validate  check the bundle against the workspace
#   deploy    upload the code and create or update the app and its resources (does not start it)
#   run       start the app (or restart it with the deployed code) and print its URL
#   destroy   delete what the bundle created (asks for confirmation)
#   --dry-run print the databricks command instead of running it
#
# Needs the Databricks CLI at the version databricks.yml states (bundle.databricks_cli_version).
# Authentication is the CLI's: a profile or DATABRICKS_* variables. This script never prints a token.
set -euo pipefail
cd "$(dirname "$0")/.."

# Stated once, in databricks.yml: `databricks_cli_version: ">= X.Y.Z"`.
MINIMUM_CLI_VERSION=$(sed -nE 's/^ *databricks_cli_version: *"?>= *([0-9]+\.[0-9]+\.[0-9]+)"?.*/\1/p' databricks.yml)

usage() {
    sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

action="${1:-}"
case "$action" in
    doctor|validate|deploy|run|destroy) shift ;;
    -h|--help) usage 0 ;;
    "") usage 2 ;;
    *) echo "Unknown action '$action'." >&2; usage 2 ;;
esac

target="dev"
profile=""
dry_run=false
variables=()
while [ $# -gt 0 ]; do
    case "$1" in
        --target|-t) target="${2:?--target needs dev or prod}"; shift 2 ;;
        --profile|-p) profile="${2:?--profile needs a name}"; shift 2 ;;
        --var) variables+=(--var "${2:?--var needs NAME=VALUE}"); shift 2 ;;
        --dry-run) dry_run=true; shift ;;
        -h|--help) usage 0 ;;
        *) echo "Unknown option '$1'." >&2; usage 2 ;;
    esac
done
case "$target" in
    dev|prod) ;;
    *) echo "The target must be dev or prod, not '$target'." >&2; exit 2 ;;
esac

if [ "$action" = "doctor" ]; then
    # The doctor reports a missing or old CLI as one of its lines, so it runs before those checks.
    source scripts/venv.sh
    ensure_venv requirements.txt >&2
    exec .venv/bin/python -m deploy.doctor --target "$target" ${profile:+--profile "$profile"} "${variables[@]}"
fi

if ! command -v databricks >/dev/null 2>&1; then
    echo "The Databricks CLI is not installed (the 'databricks' command was not found)." >&2
    echo "Install version $MINIMUM_CLI_VERSION or newer: https://docs.databricks.com/dev-tools/cli/install" >&2
    exit 1
fi

# `databricks --version` prints e.g. "Databricks CLI v0.297.1".
installed=$(databricks --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1 || true)
if [ -z "$installed" ]; then
    echo "Could not read the Databricks CLI's version; version $MINIMUM_CLI_VERSION or newer is needed." >&2
    exit 1
fi
oldest=$(printf '%s\n%s\n' "$MINIMUM_CLI_VERSION" "$installed" | sort -V | head -n 1)
if [ "$oldest" != "$MINIMUM_CLI_VERSION" ]; then
    echo "The Databricks CLI is version $installed; this bundle needs $MINIMUM_CLI_VERSION or newer" >&2
    echo "(for the Lakebase 'postgres' app resource). Upgrade it, then run this again." >&2
    exit 1
fi

common=(--target "$target")
[ -n "$profile" ] && common+=(--profile "$profile")
common+=("${variables[@]}")

case "$action" in
    validate) command=(databricks bundle validate "${common[@]}") ;;
    deploy) command=(databricks bundle deploy "${common[@]}") ;;
    run) command=(databricks bundle run chat "${common[@]}") ;;
    destroy) command=(databricks bundle destroy "${common[@]}") ;;
esac

if $dry_run; then
    echo "Would run: ${command[*]}"
    exit 0
fi
echo "Running: ${command[*]}"
"${command[@]}"
if [ "$action" = "deploy" ]; then
    echo "Deployed. A deploy does not start the app: run 'deploy/deploy.sh run --target $target${profile:+ --profile $profile}'."
fi

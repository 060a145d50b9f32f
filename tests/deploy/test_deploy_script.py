"""deploy/deploy.sh with stand-in `databricks` commands: the CLI missing, too old, and new enough."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "deploy" / "deploy.sh"


def fake_cli(folder: Path, version: str) -> None:
    """A `databricks` that reports `version` and records its arguments (and the token it sees)."""
    cli = folder / "databricks"
    cli.write_text(
        "#!/usr/bin/env bash\n"
        f'if [ "$1" = "--version" ]; then echo "Databricks CLI v{version}"; exit 0; fi\n'
        'echo "cli called with: $*"\n'
    )
    cli.chmod(0o755)


def run(args: list[str], *, path: str, token: str = "dapi-secret-token-value") -> subprocess.CompletedProcess:
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), "DATABRICKS_TOKEN": token}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=30)


def base_path() -> str:
    return "/usr/bin:/bin"


def test_a_missing_cli_is_named_with_the_version_needed(tmp_path) -> None:
    done = run(["deploy"], path=f"{tmp_path}:{base_path()}")
    assert done.returncode == 1
    assert "Databricks CLI is not installed" in done.stderr
    assert "1.4.0 or newer" in done.stderr


def test_an_old_cli_is_refused_before_anything_runs(tmp_path) -> None:
    fake_cli(tmp_path, "0.297.1")
    done = run(["deploy", "--target", "prod"], path=f"{tmp_path}:{base_path()}")
    assert done.returncode == 1
    assert "version 0.297.1" in done.stderr
    assert "1.4.0 or newer" in done.stderr
    assert "cli called with" not in done.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["validate"], "databricks bundle validate --target dev"),
        (
            ["deploy", "--target", "prod", "--profile", "work"],
            "databricks bundle deploy --target prod --profile work",
        ),
        (["run", "-t", "prod"], "databricks bundle run chat --target prod"),
        (["destroy"], "databricks bundle destroy --target dev"),
        (
            ["deploy", "--var", "app_name=team-chat", "--var", "serving_endpoint=my-llm"],
            "databricks bundle deploy --target dev --var app_name=team-chat --var serving_endpoint=my-llm",
        ),
    ],
)
def test_dry_run_prints_the_command_and_runs_nothing(tmp_path, args, expected) -> None:
    fake_cli(tmp_path, "1.13.0")
    done = run([*args, "--dry-run"], path=f"{tmp_path}:{base_path()}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Would run: {expected}"


def test_deploy_runs_the_cli_reminds_to_start_and_never_prints_the_token(tmp_path) -> None:
    fake_cli(tmp_path, "1.13.0")
    done = run(["deploy", "--target", "dev"], path=f"{tmp_path}:{base_path()}")
    assert done.returncode == 0, done.stderr
    assert "cli called with: bundle deploy --target dev" in done.stdout
    assert "does not start the app" in done.stdout
    assert "dapi-secret-token-value" not in done.stdout + done.stderr


@pytest.mark.parametrize("args", [["launch"], ["deploy", "--target", "staging"], ["deploy", "--colour"]])
def test_bad_arguments_get_a_clear_message(tmp_path, args) -> None:
    fake_cli(tmp_path, "1.13.0")
    done = run(args, path=f"{tmp_path}:{base_path()}")
    assert done.returncode == 2
    assert done.stderr.strip()


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["deploy", "--help"], ["doctor", "--help"]])
def test_help_prints_the_usage_and_exits_0(tmp_path, args) -> None:
    done = run(args, path=f"{tmp_path}:{base_path()}")
    assert done.returncode == 0, done.stderr
    assert "deploy/deploy.sh doctor|validate|deploy|run|destroy" in done.stdout


def test_the_minimum_cli_version_is_the_one_databricks_yml_states() -> None:
    from deploy.bundle import load_bundle, minimum_cli_version

    assert minimum_cli_version(load_bundle()) == "1.4.0"
    assert 'MINIMUM_CLI_VERSION="' not in SCRIPT.read_text()  # read from databricks.yml, not repeated

"""The deploy doctor against a fake workspace: every line passes on a ready workspace, and each
failing line is provoked once with the fix it prints."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.doctor import FAIL, OK, run_checks
from tests.conftest import PROJECT_ROOT
from tests.fakes.workspace import FakeWorkspace

DEV_APP = "chat-dev-jane-doe"
DEV_PROJECT = "chat-dev-jane-doe"
DEV_FILES = "/Workspace/Users/jane.doe@example.com/.bundle/lakebase-chat/dev/files"
ENDPOINT = "databricks-claude-sonnet-4-5"


def fake_cli(folder: Path, version: str) -> str:
    cli = folder / "databricks"
    cli.write_text(f'#!/usr/bin/env bash\necho "Databricks CLI v{version}"\n')
    cli.chmod(0o755)
    return str(cli)


@pytest.fixture
def workspace() -> Iterator[FakeWorkspace]:
    fake = FakeWorkspace().start()
    fake.add_chat_endpoint(ENDPOINT)
    yield fake
    fake.stop()


def checks_for(workspace: FakeWorkspace, cli: str, *, token: str | None = None, target: str = "dev") -> dict:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    def client() -> WorkspaceClient:
        config = Config(host=workspace.url, token=token or workspace.token, retry_timeout_seconds=5)
        return WorkspaceClient(config=config)

    return {check.name: check for check in run_checks(target, client_factory=client, cli=cli)}


def test_a_ready_workspace_passes_every_line(workspace, tmp_path) -> None:
    checks = checks_for(workspace, fake_cli(tmp_path, "1.13.0"))
    assert {name: check.status for name, check in checks.items()} == {
        "Databricks CLI": OK,
        "Sign-in": OK,
        "Bundle ids": OK,
        "Serving endpoint": OK,
        "Lakebase project": OK,
        "Lakebase branch": OK,
        "Lakebase database": OK,
        "App name": OK,
    }
    assert "creates it" in checks["Lakebase project"].detail
    assert DEV_PROJECT in checks["Lakebase project"].detail
    assert f"`{DEV_APP}` is free" in checks["App name"].detail


def test_a_second_deploy_of_the_same_bundle_passes(workspace, tmp_path) -> None:
    workspace.add_project(DEV_PROJECT, databases=("chat",))
    branch = f"projects/{DEV_PROJECT}/branches/production"
    workspace.apps[DEV_APP] = {
        "name": DEV_APP,
        "default_source_code_path": DEV_FILES,
        "resources": [
            {"name": "postgres", "postgres": {"branch": branch, "database": f"{branch}/databases/chat"}}
        ],
    }
    checks = checks_for(workspace, fake_cli(tmp_path, "1.13.0"))
    assert all(check.status == OK for check in checks.values()), checks
    assert "this bundle's" in checks["App name"].detail
    assert "this bundle's" in checks["Lakebase project"].detail
    assert checks["Lakebase database"].detail.endswith("exists")


@pytest.mark.parametrize(
    ("provoke", "line", "detail", "fix"),
    [
        ("old_cli", "Databricks CLI", "version 0.297.1; the bundle needs 1.4.0", "Upgrade"),
        ("no_cli", "Databricks CLI", "not installed", "Install the Databricks CLI 1.4.0"),
        ("bad_token", "Sign-in", "refused", "databricks auth login"),
        ("long_user_name", "Bundle ids", "must be 2-30 characters", "--var"),
        ("no_endpoint", "Serving endpoint", "does not exist", "--var serving_endpoint"),
        ("endpoint_not_ready", "Serving endpoint", "not ready (NOT_READY)", "Wait"),
        ("embedding_endpoint", "Serving endpoint", "`llm/v1/embeddings` endpoint, not a chat", "Choose"),
        ("someone_elses_project", "Lakebase project", "exists and this bundle's app does not use it", "bind"),
        ("app_name_taken", "App name", "taken by an app this bundle did not deploy", "--var app_name"),
    ],
)
def test_each_failing_line_says_how_to_fix_it(workspace, tmp_path, provoke, line, detail, fix) -> None:
    cli = fake_cli(tmp_path, "0.297.1" if provoke == "old_cli" else "1.13.0")
    if provoke == "no_cli":
        cli = str(tmp_path / "not-installed" / "databricks")
    if provoke == "long_user_name":
        workspace.user_name = "jane.doe.with.a.rather.long.name@example.com"
    if provoke == "no_endpoint":
        workspace.endpoints.clear()
    if provoke == "endpoint_not_ready":
        workspace.add_chat_endpoint(ENDPOINT, ready="NOT_READY")
    if provoke == "embedding_endpoint":
        workspace.add_chat_endpoint(ENDPOINT, task="llm/v1/embeddings")
    if provoke == "someone_elses_project":
        workspace.add_project(DEV_PROJECT)
    if provoke == "app_name_taken":
        workspace.apps[DEV_APP] = {"name": DEV_APP, "default_source_code_path": "/Workspace/Users/other/app"}
    checks = checks_for(workspace, cli, token="wrong-token" if provoke == "bad_token" else None)
    failed = {name: check for name, check in checks.items() if check.status == FAIL}
    assert list(failed) == [line], checks
    assert detail in failed[line].detail
    assert fix in failed[line].fix


def test_deploy_sh_doctor_prints_the_table_and_exits_by_the_result(workspace, tmp_path) -> None:
    fake_cli(tmp_path, "1.13.0")
    env = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATABRICKS_HOST": workspace.url,
        "DATABRICKS_TOKEN": workspace.token,
    }
    script = PROJECT_ROOT / "deploy" / "deploy.sh"
    done = subprocess.run(
        [str(script), "doctor", "--target", "prod"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0].split() == ["check", "result", "detail"]
    assert "`lakebase-chat` is free" in done.stdout
    assert "Ready: `deploy/deploy.sh deploy --target prod`" in done.stdout
    assert workspace.token not in done.stdout + done.stderr
    renamed = subprocess.run(
        [str(script), "doctor", "-t", "prod", "--var", "app_name=team-chat"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "`team-chat` is free" in renamed.stdout, renamed.stdout + renamed.stderr
    workspace.endpoints.clear()
    failed = subprocess.run(
        [str(script), "doctor", "-t", "prod"], capture_output=True, text=True, env=env, timeout=120
    )
    assert failed.returncode == 1
    assert "fix: Pick one from `databricks serving-endpoints list`" in failed.stdout

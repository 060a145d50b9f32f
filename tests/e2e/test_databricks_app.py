"""The app as Databricks Apps runs it: app.yaml's command, the platform's environment, a browser
behind the proxy's identity header, Lakebase credentials from the (fake) workspace."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.conftest import APP_ROLE, LAKEBASE_DATABASE, LAKEBASE_ENDPOINT, PROJECT_ROOT, objects_in_public
from tests.e2e.conftest import app_environment, free_port, wait_for_health

pytestmark = pytest.mark.e2e

USER_EMAIL = "alice@example.com"


def app_command(port: int) -> list[str]:
    command = yaml.safe_load((PROJECT_ROOT / "app.yaml").read_text())["command"]
    command = [str(port) if part == "$DATABRICKS_APP_PORT" else part for part in command]
    assert command[0] == "python"  # the platform's Python, with requirements.txt installed
    return [sys.executable, *command[1:]]


def app_yaml_env(resources: dict[str, str]) -> dict[str, str]:
    """app.yaml's env, with each valueFrom resolved the way the platform resolves resource keys."""
    env = {}
    for entry in yaml.safe_load((PROJECT_ROOT / "app.yaml").read_text())["env"]:
        env[entry["name"]] = resources[entry["valueFrom"]] if "valueFrom" in entry else entry["value"]
    return env


def test_a_streamed_turn_is_saved_in_lakebase_when_run_as_a_databricks_app(
    pg_server, lakebase_standin, fake_serving, browser
) -> None:
    password, _, _ = lakebase_standin
    fake_serving.database_password = lambda: password["current"]
    port = free_port()
    env = app_environment(
        **app_yaml_env({"serving-endpoint": "chat", "postgres": LAKEBASE_ENDPOINT}),
        DATABRICKS_HOST=fake_serving.url,
        DATABRICKS_CLIENT_ID=fake_serving.client_id,
        DATABRICKS_CLIENT_SECRET=fake_serving.client_secret,
        DATABRICKS_APP_NAME="lakebase-chat",
        DATABRICKS_APP_PORT=str(port),
        PGHOST=pg_server.socket_dir,
        PGPORT="5432",
        PGDATABASE=LAKEBASE_DATABASE,
        PGUSER=APP_ROLE,
        PGSSLMODE="disable",
        PGAPPNAME="lakebase-chat",
    )
    process = subprocess.Popen(
        app_command(port),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_health(port)
        context = browser.new_context(extra_http_headers={"X-Forwarded-Email": USER_EMAIL})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/chat")
        page.get_by_role("button", name="Details").click()  # the chat's model, in its details menu
        page.get_by_text("Databricks serving endpoint").first.wait_for(timeout=30_000)
        page.keyboard.press("Escape")
        page.get_by_placeholder("Message").fill("Hello from the workspace")
        page.keyboard.press("Enter")
        page.get_by_text("Served reply to: Hello from the workspace").wait_for(timeout=30_000)
        context.close()
    finally:
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            pytest.fail("the app did not exit within 15 s of SIGTERM")
    assert time.monotonic() - started < 15
    admin = create_engine(pg_server.sqlalchemy_url(LAKEBASE_DATABASE))
    with admin.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT s.owner_id, m.role, m.content, m.status FROM lakebase_chat.chat_message m "
                "JOIN lakebase_chat.chat_session s ON s.id = m.session_id ORDER BY m.seq"
            )
        ).all()
        owner = connection.execute(
            text(
                "SELECT tableowner FROM pg_tables "
                "WHERE schemaname = 'lakebase_chat' AND tablename = 'chat_message'"
            )
        ).scalar()
    admin.dispose()
    assert [tuple(r) for r in rows] == [
        (USER_EMAIL, "user", "Hello from the workspace", "complete"),
        (USER_EMAIL, "assistant", "Served reply to: Hello from the workspace", "complete"),
    ]
    assert owner == APP_ROLE  # the migrations ran as the app's own role
    assert objects_in_public(pg_server, LAKEBASE_DATABASE) == []
    for secret in [password["current"], fake_serving.client_secret, *fake_serving.issued_tokens]:
        assert secret not in output

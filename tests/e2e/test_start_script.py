"""`./start_app.sh` with DATABASE_URL, run as a role with exactly the grants a Databricks App's
database resource gives (CONNECT and CREATE on a database it does not own): a chat turn is saved in
the app's own schema and nothing lands in `public`."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PROJECT_ROOT, SUITE_APP_ROLE, create_database, objects_in_public
from tests.e2e.conftest import app_environment, free_port

pytestmark = pytest.mark.e2e

DATABASE = "start_script_grants"


def test_start_app_sh_runs_as_a_connect_and_create_role_and_saves_a_turn_in_its_schema(
    pg_server, browser
) -> None:
    url = create_database(pg_server, DATABASE).replace("postgresql+pg8000", "postgresql")
    port = free_port()
    env = app_environment(
        DATABASE_URL=url,
        APP_PORT=str(port),
        DEMO_FIRST_TOKEN_DELAY_SECONDS="0.05",
        DEMO_WORD_DELAY_SECONDS="0.002",
    )
    pid_file = PROJECT_ROOT / ".data" / f"app-{port}.pid"
    started = subprocess.run(
        ["./start_app.sh"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"http://localhost:{port}" in started.stdout
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/chat")
        page.get_by_placeholder("Message").fill("Saved in the app's schema")
        page.keyboard.press("Enter")
        page.get_by_text("demo model", exact=False).first.wait_for(timeout=30_000)
        deadline = time.monotonic() + 30
        admin = create_engine(pg_server.sqlalchemy_url(DATABASE))
        try:
            while True:
                with admin.connect() as connection:
                    rows = connection.execute(
                        text(
                            "SELECT m.role, m.status, s.owner_id FROM lakebase_chat.chat_message m "
                            "JOIN lakebase_chat.chat_session s ON s.id = m.session_id ORDER BY m.seq"
                        )
                    ).all()
                    owners = set(
                        connection.execute(
                            text("SELECT tableowner FROM pg_tables WHERE schemaname = 'lakebase_chat'")
                        ).scalars()
                    )
                if [tuple(r)[:2] for r in rows] == [("user", "complete"), ("assistant", "complete")]:
                    break
                assert time.monotonic() < deadline, rows
                time.sleep(0.2)
        finally:
            admin.dispose()
        context.close()
    finally:
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
        for _ in range(150):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        pid_file.unlink(missing_ok=True)
    assert owners == {SUITE_APP_ROLE}
    assert objects_in_public(pg_server, DATABASE) == []

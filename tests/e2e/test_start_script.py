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
    url = create_database(pg_server, DATABASE).replace("postgresql+psycopg", "postgresql")
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


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                lines = rows.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_each_app_stops_only_what_it_started_and_listens_on_loopback(pg_server, tmp_path) -> None:
    embedded_port, external_port = free_port(), free_port()
    embedded_dir = tmp_path / "postgres"
    url = create_database(pg_server, "start_script_stop").replace("postgresql+psycopg", "postgresql")
    embedded_env = app_environment(APP_PORT=str(embedded_port), EMBEDDED_DB_DIR=str(embedded_dir))
    external_env = app_environment(
        APP_PORT=str(external_port), EMBEDDED_DB_DIR=str(embedded_dir), DATABASE_URL=url
    )

    def script(name: str, env: dict[str, str]) -> str:
        done = subprocess.run(
            [f"./{name}"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    try:
        script("start_app.sh", embedded_env)
        script("start_app.sh", external_env)
        # Locally every visitor is the configured user: nothing but this machine may connect.
        assert listening_addresses(embedded_port) == {"0100007F"}
        script("stop_app.sh", external_env)
        assert (embedded_dir / "postmaster.pid").exists(), (
            "the DATABASE_URL app stopped another app's database"
        )
        script("stop_app.sh", embedded_env)
        assert not (embedded_dir / "postmaster.pid").exists()
    finally:
        subprocess.run(["./stop_app.sh"], cwd=PROJECT_ROOT, env=external_env, capture_output=True, timeout=60)
        subprocess.run(["./stop_app.sh"], cwd=PROJECT_ROOT, env=embedded_env, capture_output=True, timeout=60)

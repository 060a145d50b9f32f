"""Lakebase as a Databricks App meets it: OAuth credentials that rotate, connections that die.

A real PostgreSQL with password authentication for the app's role stands in for Lakebase; a fake
workspace on loopback issues the service principal's OAuth tokens and the database credentials.
The test rotates the role's password with ALTER ROLE (as Lakebase credentials expire) and kills
every app connection with pg_terminate_backend, while chat turns keep being saved.
"""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from sqlalchemy import text

from persistence.lakebase import LakebaseCredentials, LakebaseTarget
from services.application import build_application
from services.config import Settings
from services.views import User
from tests.conftest import APP_ROLE, LAKEBASE_DATABASE, objects_in_public
from tests.conftest import LAKEBASE_ENDPOINT as ENDPOINT

pytestmark = pytest.mark.integration


def wait_for_reply(app, user: User, session_id: uuid.UUID) -> None:
    deadline = time.monotonic() + 20
    while app.chat.open_request(user, session_id) is not None:
        assert time.monotonic() < deadline, "the reply did not finish"
        time.sleep(0.05)


def test_turns_keep_being_saved_across_rotations_and_killed_connections(
    pg_server, lakebase_standin, fake_serving, monkeypatch, caplog
) -> None:
    password, rotate, terminate_app_connections = lakebase_standin
    fake_serving.database_password = lambda: password["current"]
    fake_serving.credential_calls = 0
    # A Databricks App's environment: its service principal, and the database resource's variables.
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", fake_serving.client_id)
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", fake_serving.client_secret)
    for name in ("DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        _env_file=None,
        databricks_host=fake_serving.url,
        databricks_app_name="chat",
        pghost=pg_server.socket_dir,
        pguser=APP_ROLE,
        pgdatabase=LAKEBASE_DATABASE,
        pgsslmode="disable",
        lakebase_endpoint=ENDPOINT,
        llm_endpoint="chat",
        model_titles=False,
    )
    caplog.set_level(logging.DEBUG)
    app = build_application(settings)
    try:
        user = User("alice@example.com")
        session = app.chat.create_session(user)
        for turn in range(4):
            if turn:
                rotate()
                assert terminate_app_connections() >= 1
            result = app.chat.submit_message(
                user, session.id, f"question {turn}", client_message_id=f"c{turn}"
            )
            assert not result.duplicate
            wait_for_reply(app, user, session.id)
        messages = app.chat.messages(user, session.id)
        assert [(m.role, m.status) for m in messages] == [("user", "complete"), ("assistant", "complete")] * 4
        assert messages[-1].content == "Served reply to: question 3"
        assert fake_serving.credential_calls >= 4  # the first credential, then one per rotation
        with app.engine.connect() as connection:
            assert connection.execute(text("SELECT current_user")).scalar() == APP_ROLE
            # The app's role owns only what it made: its schema, and the tables in it.
            assert connection.execute(text("SELECT current_schema()")).scalar() == "lakebase_chat"
            assert not connection.execute(
                text("SELECT has_database_privilege(current_database(), 'TEMP')")
            ).scalar()
    finally:
        app.close()
    assert objects_in_public(pg_server, LAKEBASE_DATABASE) == []
    logged = caplog.text
    for secret in [password["current"], fake_serving.client_secret, *fake_serving.issued_tokens]:
        assert secret not in logged


def test_concurrent_refreshes_make_one_credential_call() -> None:
    calls = []

    class Credentials:
        token = "t"
        expire_time = None

    class Postgres:
        def generate_database_credential(self, endpoint: str):
            calls.append(endpoint)
            time.sleep(0.2)
            return Credentials()

    class Workspace:
        postgres = Postgres()

    target = LakebaseTarget("h", 5432, "db", "u", "require", ENDPOINT, None)
    credentials = LakebaseCredentials(target, workspace_client=Workspace)
    import threading

    threads = [threading.Thread(target=credentials.token) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [ENDPOINT]
    forced = [threading.Thread(target=lambda: credentials.token(force_refresh=True)) for _ in range(4)]
    for thread in forced:
        thread.start()
    for thread in forced:
        thread.join()
    assert 2 <= len(calls) <= 5

"""Shared fixtures: one real PostgreSQL (the embedded server) per test run, clean tables per test,
settings that never read the developer's `.env`, and the fake serving endpoint."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from persistence.database import build_engine, session_factory
from persistence.embedded import EmbeddedServer, start_embedded_server, stop_embedded_server
from persistence.migrate import apply_migrations
from services.config import Settings, get_settings
from tests.fakes.serving import FakeServing

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE = "chat_tests"

# Tests configure the app through the environment only; the developer's .env must not leak in.
Settings.model_config["env_file"] = None

# Every setting the app reads; cleared from the environment before each test.
SETTING_NAMES = [name.upper() for name in Settings.model_fields]


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    data_dir = tmp_path_factory.mktemp("pg") / "data"
    server = start_embedded_server(data_dir)
    yield server
    stop_embedded_server(data_dir)


# The role every test connects as: what a Databricks App's database resource (CAN_CONNECT_AND_CREATE)
# gives the app's service principal, and nothing more: CONNECT and CREATE on a database that
# another role owns, no rights in `public` (PostgreSQL 15+), no TEMP.
SUITE_APP_ROLE = "chat_app"
DATABASE_OWNER_ROLE = "database_owner"


def _ensure_role(connection, role: str, *, login: bool) -> None:
    exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
    if not exists:
        connection.execute(text(f'CREATE ROLE "{role}" {"LOGIN" if login else "NOLOGIN"}'))


def create_database(server: EmbeddedServer, name: str, *, app_role: str = SUITE_APP_ROLE) -> str:
    """A fresh database owned by DATABASE_OWNER_ROLE, where `app_role` has exactly CONNECT and CREATE.

    Returns a URL that connects as `app_role`, as the app on Databricks would.
    """
    admin = create_engine(server.sqlalchemy_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        _ensure_role(connection, DATABASE_OWNER_ROLE, login=False)
        _ensure_role(connection, app_role, login=True)
        connection.execute(text(f'CREATE DATABASE "{name}" OWNER "{DATABASE_OWNER_ROLE}"'))
        connection.execute(text(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC'))
        connection.execute(text(f'GRANT CONNECT, CREATE ON DATABASE "{name}" TO "{app_role}"'))
    admin.dispose()
    return app_role_url(server, name, app_role)


def app_role_url(server: EmbeddedServer, database: str, role: str = SUITE_APP_ROLE) -> str:
    return server.sqlalchemy_url(database).replace(f"://{server.user}@", f"://{role}@", 1)


def objects_in_public(server: EmbeddedServer, database: str) -> list[str]:
    """Every relation, type and function in `database`'s `public` schema (a fresh one has none)."""
    admin = create_engine(server.sqlalchemy_url(database))
    with admin.connect() as connection:
        rows = (
            connection.execute(
                text(
                    "SELECT 'relation ' || c.relname FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                    "UNION ALL SELECT 'type ' || t.typname FROM pg_type t "
                    "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' "
                    "UNION ALL SELECT 'function ' || p.proname FROM pg_proc p "
                    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
                )
            )
            .scalars()
            .all()
        )
    admin.dispose()
    return list(rows)


@pytest.fixture(scope="session")
def database_url(pg_server: EmbeddedServer) -> str:
    url = create_database(pg_server, TEST_DATABASE)
    engine = build_engine(url)
    apply_migrations(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clean_db(engine: Engine) -> Engine:
    with engine.begin() as connection:
        connection.execute(
            text("TRUNCATE admin_audit, feedback, chat_request, chat_message, chat_session CASCADE")
        )
    return engine


@pytest.fixture
def sessions(clean_db: Engine):
    return session_factory(clean_db)


@pytest.fixture
def app_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[pytest.MonkeyPatch]:
    """A clean environment for the app: the test database, a fast demo model, no Databricks."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("DATABRICKS_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url.replace("postgresql+psycopg", "postgresql"))
    monkeypatch.setenv("OUTBOX_DIR", str(tmp_path_factory.mktemp("outbox")))
    monkeypatch.setenv("DEMO_FIRST_TOKEN_DELAY_SECONDS", "0.05")
    monkeypatch.setenv("DEMO_WORD_DELAY_SECONDS", "0.001")
    monkeypatch.setenv("LLM_FIRST_TOKEN_TIMEOUT_SECONDS", "2")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def fake_serving() -> Iterator[FakeServing]:
    fake = FakeServing().start()
    yield fake
    fake.stop()


@pytest.fixture
def unique_id() -> str:
    return str(uuid.uuid4())


# -- a stand-in for Lakebase: the app's role has CONNECT and CREATE only, and logs in with a password
APP_ROLE = "app_service_principal"
LAKEBASE_DATABASE = "lakebase_standin"
LAKEBASE_ENDPOINT = "projects/chat/branches/production/endpoints/primary"


@pytest.fixture
def lakebase_standin(pg_server):
    """A database another role owns, where APP_ROLE (reachable only with its current password) has
    exactly the grants a Databricks App's CAN_CONNECT_AND_CREATE database resource gives."""
    admin = create_engine(pg_server.sqlalchemy_url(), isolation_level="AUTOCOMMIT")
    password = {"current": secrets.token_urlsafe(24)}
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{LAKEBASE_DATABASE}" WITH (FORCE)'))
        connection.execute(text(f"DROP OWNED BY {APP_ROLE}")) if _role_exists(connection) else None
        connection.execute(text(f"DROP ROLE IF EXISTS {APP_ROLE}"))
        connection.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{password['current']}'"))
    create_database(pg_server, LAKEBASE_DATABASE, app_role=APP_ROLE)
    hba = Path(pg_server.data_dir) / "pg_hba.conf"
    original = hba.read_text()
    # Password checks for the app's role only; everything else stays as the suite expects.
    hba.write_text(f"local all {APP_ROLE} scram-sha-256\n" + original)
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_reload_conf()"))

    def rotate() -> str:
        password["current"] = secrets.token_urlsafe(24)
        with admin.connect() as connection:
            connection.execute(text(f"ALTER ROLE {APP_ROLE} PASSWORD '{password['current']}'"))
        return password["current"]

    def terminate_app_connections() -> int:
        with admin.connect() as connection:
            return len(
                connection.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role"),
                    {"role": APP_ROLE},
                ).all()
            )

    yield password, rotate, terminate_app_connections
    hba.write_text(original)
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_reload_conf()"))
    admin.dispose()


def _role_exists(connection) -> bool:
    return bool(
        connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}).scalar()
    )

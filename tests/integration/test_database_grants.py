"""The app on a database where its role lacks what it needs: a message that says what to grant."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from services.application import DatabasePermissionError, build_application, report_startup_failure
from services.config import Settings
from tests.conftest import app_role_url, create_database

pytestmark = pytest.mark.integration

CONNECT_ONLY_ROLE = "connect_only"


def test_a_role_without_create_is_told_what_to_grant(pg_server) -> None:
    database = "grants_connect_only"
    create_database(pg_server, database)
    admin = create_engine(pg_server.sqlalchemy_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.execute(
            text(f"SELECT 1 FROM pg_roles WHERE rolname = '{CONNECT_ONLY_ROLE}'")
        ).scalar():
            connection.execute(text(f"CREATE ROLE {CONNECT_ONLY_ROLE} LOGIN"))
        connection.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO {CONNECT_ONLY_ROLE}'))
    admin.dispose()
    url = app_role_url(pg_server, database, CONNECT_ONLY_ROLE).replace("postgresql+psycopg", "postgresql")
    settings = Settings(_env_file=None, database_url=url, model_titles=False)

    with pytest.raises(DatabasePermissionError) as raised:
        build_application(settings)

    shown = report_startup_failure(raised.value)
    assert f"`{CONNECT_ONLY_ROLE}`" in shown
    assert f"`{database}`" in shown
    assert "`lakebase_chat`" in shown
    assert "GRANT CONNECT, CREATE ON DATABASE" in shown
    assert "CAN_CONNECT_AND_CREATE" in shown
    assert "could not be reached" not in shown


def test_an_unreachable_database_is_still_called_unreachable(tmp_path) -> None:
    settings = Settings(
        _env_file=None,
        database_url=f"postgresql://nobody@/chat?host={tmp_path}",
        model_titles=False,
    )
    with pytest.raises(Exception, match=r".") as raised:  # whatever the driver raises; the message is ours
        build_application(settings)
    assert "could not be reached" in report_startup_failure(raised.value)

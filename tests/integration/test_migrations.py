import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from persistence.database import build_engine
from persistence.migrate import apply_migrations, current_revision, head_revision
from persistence.orm import Base
from tests.conftest import create_database

pytestmark = pytest.mark.integration


def test_migrations_build_an_empty_database_and_a_rerun_changes_nothing(pg_server) -> None:
    engine = build_engine(create_database(pg_server, "migrate_empty"))
    try:
        assert current_revision(engine) is None
        apply_migrations(engine)
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {"chat_session", "chat_message", "chat_request", "feedback"} <= tables
        apply_migrations(engine)  # a second start: nothing to do, no error
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_the_migrated_schema_matches_the_models(engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_two_processes_migrating_at_once_do_not_race(pg_server) -> None:
    url = create_database(pg_server, "migrate_race")
    engines = [build_engine(url), build_engine(url)]
    errors: list[BaseException] = []

    def migrate(engine) -> None:
        try:
            apply_migrations(engine)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=migrate, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            engine.dispose()

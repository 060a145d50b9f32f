import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

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


def test_the_history_migration_fills_counts_and_previews_of_existing_chats(pg_server) -> None:
    engine = build_engine(create_database(pg_server, "migrate_backfill"))
    try:
        apply_migrations(engine, target="0001")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO chat_session (id, owner_id, title) VALUES "
                    "('00000000-0000-0000-0000-000000000001', 'a@x', 'Old chat'), "
                    "('00000000-0000-0000-0000-000000000002', 'a@x', 'Empty chat')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO chat_message (session_id, seq, role, content, status) VALUES "
                    "('00000000-0000-0000-0000-000000000001', 1, 'user', 'first question', 'complete'), "
                    "('00000000-0000-0000-0000-000000000001', 2, 'assistant', 'the last answer', 'complete')"
                )
            )
        apply_migrations(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT title, message_count, last_message_preview FROM chat_session ORDER BY title")
            ).all()
            found = connection.execute(
                text(
                    "SELECT count(*) FROM chat_message "
                    "WHERE search_vector @@ websearch_to_tsquery('english', 'answers')"
                )
            ).scalar()
        assert [tuple(r) for r in rows] == [("Empty chat", 0, None), ("Old chat", 2, "the last answer")]
        assert found == 1
    finally:
        engine.dispose()

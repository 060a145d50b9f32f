import re
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from persistence.database import build_engine
from persistence.migrate import apply_migrations, current_revision, head_revision
from persistence.orm import Base
from persistence.statuses import MessageStatus, RequestStatus, Role
from tests.conftest import create_database, objects_in_public

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


def test_the_suite_database_has_nothing_in_public(engine, pg_server) -> None:
    # Every table, index, sequence and type the app made lives in its own schema.
    from tests.conftest import TEST_DATABASE, objects_in_public

    assert objects_in_public(pg_server, TEST_DATABASE) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT current_schema()")).scalar() == "lakebase_chat"


def test_tables_an_earlier_version_left_in_public_are_moved_into_the_apps_schema(pg_server) -> None:
    # Earlier versions ran as the embedded server's superuser and created everything in public.
    name = "migrate_legacy_public"
    create_database(pg_server, name)
    legacy_url = pg_server.sqlalchemy_url(name)
    legacy = build_engine(legacy_url, schema="public")
    try:
        apply_migrations(legacy, schema="public")
        with legacy.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO chat_session (id, owner_id, title) "
                    "VALUES ('00000000-0000-0000-0000-000000000001', 'a@x', 'Kept chat')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO chat_message (session_id, seq, role, content, status) VALUES "
                    "('00000000-0000-0000-0000-000000000001', 1, 'user', 'still here', 'complete')"
                )
            )
    finally:
        legacy.dispose()

    engine = build_engine(legacy_url)
    try:
        apply_migrations(engine)
        assert current_revision(engine) == head_revision()
        with engine.begin() as connection:
            assert connection.execute(text("SELECT title FROM chat_session")).scalars().all() == ["Kept chat"]
            # The identity sequence moved with its table: new rows still get ids.
            connection.execute(
                text(
                    "INSERT INTO chat_message (session_id, seq, role, content, status) VALUES "
                    "('00000000-0000-0000-0000-000000000001', 2, 'assistant', 'new', 'complete')"
                )
            )
            found = connection.execute(
                text(
                    "SELECT count(*) FROM chat_message WHERE search_vector @@ to_tsquery('english', 'still')"
                )
            ).scalar()
        assert found == 1
        assert objects_in_public(pg_server, name) == []
        apply_migrations(engine)  # a second start moves nothing and changes nothing
    finally:
        engine.dispose()


def test_app_connections_have_a_statement_timeout_and_migrations_leave_it_in_place(engine) -> None:
    apply_migrations(engine)
    for _ in range(3):  # whichever pooled connection comes back, the migration's one included
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "20s"


@pytest.mark.parametrize(
    ("constraint", "values"),
    [
        ("ck_chat_message_status", list(MessageStatus)),
        ("ck_chat_message_role", list(Role)),
        ("ck_chat_request_status", list(RequestStatus)),
    ],
)
def test_the_databases_checks_allow_exactly_the_named_states(engine, constraint, values) -> None:
    with engine.connect() as connection:
        definition = connection.execute(
            text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :name"),
            {"name": constraint},
        ).scalar_one()
    assert sorted(re.findall(r"'([a-z_]+)'", definition)) == sorted(values)

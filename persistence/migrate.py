"""Apply Alembic migrations at start-up, under a PostgreSQL advisory lock.

Two app processes starting together both call this; the lock makes the second wait until the
first has finished, after which it finds nothing left to do. Before Alembic runs, the app's own
schema is created if missing, and tables an earlier version left in `public` are moved into it
(see persistence.schema); Alembic keeps its version table in that schema too.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from persistence.schema import (
    DEFAULT_SCHEMA,
    ensure_schema,
    move_tables_left_in_public,
)

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number unique to this app; taken by every process that migrates.
MIGRATION_LOCK_KEY = 7_315_224_019_001


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine, *, schema: str = DEFAULT_SCHEMA) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(
            connection, opts={"version_table_schema": schema}
        ).get_current_revision()


def apply_migrations(engine: Engine, *, schema: str = DEFAULT_SCHEMA, target: str = "head") -> None:
    """Bring the app's schema to `target`. The engine must set its search_path to `schema`
    (persistence.database.build_engine does)."""
    config = _alembic_config()
    with engine.connect() as connection:
        # Waiting for another process's migration, or a migration itself, may take longer than
        # the statement timeout every pooled connection has.
        connection_timeout = connection.execute(text("SHOW statement_timeout")).scalar()
        connection.execute(text("SET statement_timeout = 0"))
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        connection.commit()
        try:
            ensure_schema(connection, schema)
            move_tables_left_in_public(connection, schema)
            connection.commit()
            config.attributes["connection"] = connection
            config.attributes["schema"] = schema
            command.upgrade(config, target)
            connection.commit()
        finally:
            # A failed step leaves the transaction aborted; roll it back so the unlock can run
            # (the lock is session-level and survives the rollback) and the real error surfaces.
            try:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                connection.execute(
                    text("SELECT set_config('statement_timeout', :value, false)"),
                    {"value": connection_timeout},
                )
                connection.commit()
            except Exception:
                # The connection broke: closing it releases the lock, and it must not be pooled.
                logger.warning("Could not release the migration lock; discarding the connection")
                connection.invalidate()
    logger.info("Database schema is at revision %s", head_revision())

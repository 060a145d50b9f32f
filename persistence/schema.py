"""The app's own PostgreSQL schema: every table lives there, never in `public`.

A Databricks App's database resource (`CAN_CONNECT_AND_CREATE`) gives the app's role `CONNECT` and
`CREATE` on a database it does not own. Since PostgreSQL 15 only the database owner may create
objects in `public`, so the app creates a schema of its own (it then owns it) and points every
pooled connection's `search_path` at it. The same code path serves the embedded server,
`DATABASE_URL` and Lakebase, so what passes locally passes there.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine.interfaces import DBAPIConnection

logger = logging.getLogger(__name__)

DEFAULT_SCHEMA = "lakebase_chat"
# No statement may hold a connection (and its locks) longer than this; migrations lift it.
STATEMENT_TIMEOUT_MS = 20_000

# The tables earlier versions of the app created in `public` (Alembic's version table included).
LEGACY_PUBLIC_TABLES = (
    "alembic_version",
    "chat_session",
    "chat_message",
    "chat_request",
    "feedback",
    "admin_audit",
)


def quoted(schema: str) -> str:
    """The schema as a quoted identifier. Settings already restrict it to [a-z0-9_]; quote anyway."""
    return '"' + schema.replace('"', '""') + '"'


def use_schema_on_every_connection(
    engine: Engine, schema: str, *, statement_timeout_ms: int | None = None
) -> None:
    """Set `search_path` (and a statement timeout) on each new pooled connection, before
    SQLAlchemy's own first-connect checks, so unqualified names (the models, Alembic, raw SQL)
    all resolve in the app's schema.

    Only the app's schema is on the path: nothing can fall back into `public` by accident.
    `pg_catalog` is always searched implicitly, so built-ins such as `to_tsvector` still resolve.
    """

    @event.listens_for(engine, "connect", insert=True)
    def _set_search_path(dbapi_connection: DBAPIConnection, connection_record: object) -> None:
        # SET inside a transaction is undone by the pool's rollback; run it in autocommit.
        previous = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET search_path TO {quoted(schema)}")
            timeout = STATEMENT_TIMEOUT_MS if statement_timeout_ms is None else statement_timeout_ms
            cursor.execute(f"SET statement_timeout = {int(timeout)}")
        finally:
            cursor.close()
            dbapi_connection.autocommit = previous


def schema_exists(connection: Connection, schema: str) -> bool:
    return bool(
        connection.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"), {"schema": schema}
        ).scalar()
    )


def ensure_schema(connection: Connection, schema: str) -> bool:
    """Create the schema if it is missing. Returns whether it was created.

    The existence check comes first: `CREATE SCHEMA IF NOT EXISTS` checks the database's CREATE
    privilege before it notices the schema exists, which would fail a role that was given an
    existing schema but no CREATE on the database.
    """
    if schema_exists(connection, schema):
        return False
    connection.execute(text(f"CREATE SCHEMA {quoted(schema)}"))
    logger.info("Created the app's schema")
    return True


def _table_in(connection: Connection, schema: str, table: str) -> bool:
    return bool(
        connection.execute(
            text(
                "SELECT 1 FROM pg_tables WHERE schemaname = :schema AND tablename = :table "
                "AND tableowner = current_user"
            ),
            {"schema": schema, "table": table},
        ).scalar()
    )


def move_tables_left_in_public(connection: Connection, schema: str) -> list[str]:
    """Move the tables an earlier version created in `public` into the app's schema, once.

    Only when the app's schema has no version table yet and `public` holds this app's tables (owned
    by the current role). `ALTER TABLE ... SET SCHEMA` moves indexes, constraints and the identity
    sequences with each table, so nothing else needs touching. Returns the tables moved.
    """
    if _table_in(connection, schema, "alembic_version"):
        return []
    if not (
        _table_in(connection, "public", "alembic_version") and _table_in(connection, "public", "chat_session")
    ):
        return []
    moved = [table for table in LEGACY_PUBLIC_TABLES if _table_in(connection, "public", table)]
    for table in moved:
        connection.execute(text(f"ALTER TABLE public.{table} SET SCHEMA {quoted(schema)}"))
    logger.info("Moved %d tables left in public by an earlier version into the app's schema", len(moved))
    return moved

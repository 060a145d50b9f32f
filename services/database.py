"""Which database the app opens, decided from the settings alone, and its engine.

| configured                          | database                                              |
|-------------------------------------|-------------------------------------------------------|
| DATABASE_URL                        | that server (driver forced to psycopg)                |
| PGHOST + LAKEBASE_ENDPOINT/INSTANCE | Lakebase, with OAuth credentials (persistence.lakebase) |
| nothing                             | the embedded PostgreSQL under EMBEDDED_DB_DIR         |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from persistence.database import build_engine
from persistence.embedded import start_embedded_server
from persistence.lakebase import LakebaseCredentials, LakebaseTarget, build_lakebase_engine
from persistence.reconnect import discard_connection_after_foreign_errors
from persistence.schema import use_schema_on_every_connection
from services.config import Settings

if TYPE_CHECKING:  # imported for their types only: the SDK is loaded on first use, never at start-up
    from databricks.sdk import WorkspaceClient


@dataclass(frozen=True)
class DatabaseTarget:
    url: str
    description: str  # for the UI: names the kind of database, never its host or a password


def resolve_database_target(settings: Settings) -> DatabaseTarget:
    if settings.database_url is not None:
        url = make_url(settings.database_url.get_secret_value())
        if url.get_backend_name() != "postgresql":
            raise ValueError("DATABASE_URL must point at PostgreSQL (postgresql://...)")
        url = url.set(drivername="postgresql+psycopg")
        return DatabaseTarget(
            url=url.render_as_string(hide_password=False),
            description="PostgreSQL (DATABASE_URL)",
        )
    server = start_embedded_server(settings.embedded_db_path())
    return DatabaseTarget(url=server.sqlalchemy_url(), description="embedded PostgreSQL (local)")


def open_database(
    settings: Settings, *, workspace_client: Callable[[], WorkspaceClient]
) -> tuple[Engine, str]:
    """The engine for the configured database and a description of it for the UI (no secrets)."""
    if settings.uses_lakebase:
        assert settings.pghost is not None
        assert settings.pguser is not None
        target = LakebaseTarget(
            host=settings.pghost,
            port=settings.pgport,
            database=settings.pgdatabase,
            user=settings.pguser,
            sslmode=settings.pgsslmode,
            endpoint=settings.lakebase_endpoint,
            instance_name=settings.lakebase_instance_name,
        )
        credentials = LakebaseCredentials(target, workspace_client=workspace_client)
        engine = build_lakebase_engine(target, credentials)
        use_schema_on_every_connection(engine, settings.database_schema)
        discard_connection_after_foreign_errors(engine)
        return engine, target.description
    plain = resolve_database_target(settings)
    return build_engine(plain.url, schema=settings.database_schema), plain.description

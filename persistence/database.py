"""Engines and units of work. Which database to open, from the settings, is decided a layer up
(services.database): nothing in persistence reads the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from persistence.reconnect import discard_connection_after_foreign_errors
from persistence.schema import DEFAULT_SCHEMA, use_schema_on_every_connection

# libpq's limits on a server that stops answering, so that the action fails instead of hanging:
# seconds to connect, and, over TCP, milliseconds that sent data may stay unacknowledged (longer than
# the statement timeout), with keepalives for an idle connection. Unix sockets ignore the TCP ones.
UNRESPONSIVE_SERVER_LIMITS: dict[str, int] = {
    "connect_timeout": 10,
    "tcp_user_timeout": 30_000,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def build_engine(
    url: str,
    *,
    schema: str = DEFAULT_SCHEMA,
    # Connections kept open. Page runs (one thread per browser tab) and turn workers share them;
    # a connection made past the pool is closed again after use, and making one (with its SSL
    # context and search_path) was a tenth of the server's time under load (bench/load).
    pool_size: int = 30,
    max_overflow: int = 20,
    maintenance: bool = False,
) -> Engine:
    """An engine whose connections all work in the app's `schema` (see persistence.schema).

    `maintenance=True` (benchmark seeding, bulk jobs) lifts the connection and statement limits that
    protect the app's own short statements."""
    engine = create_engine(
        url,
        connect_args={} if maintenance else dict(UNRESPONSIVE_SERVER_LIMITS),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        # A connection older than this is replaced: servers and proxies close idle ones.
        pool_recycle=1800,
        # Statement parameters hold user text: keep them out of error messages and logs.
        hide_parameters=True,
    )
    use_schema_on_every_connection(engine, schema, statement_timeout_ms=0 if maintenance else None)
    discard_connection_after_foreign_errors(engine)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction for one use case: committed by the caller, rolled back by default."""
    session = factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@contextmanager
def unit_of_work_on_one_connection(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work that keeps its connection across commits, for a use case that reads after it
    commits: the read needs no second checkout, nor the pool's liveness check on it (a round trip).
    A session bound to the engine gives its connection back to the pool at every commit."""
    engine = factory.kw["bind"]
    with engine.connect() as connection:
        # Not in a transaction yet, so the session begins and commits its own on this connection.
        session = factory(bind=connection)
        try:
            yield session
        finally:
            session.rollback()
            session.close()

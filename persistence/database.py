"""Engines and units of work. Which database to open, from the settings, is decided a layer up
(services.database): nothing in persistence reads the settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from persistence.reconnect import check_connections_at_checkout, discard_connection_after_foreign_errors
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
        # Checked at checkout unless the work is safe to repeat (check_connections_at_checkout).
        pool_pre_ping=False,
        # A connection older than this is replaced: servers and proxies close idle ones.
        pool_recycle=1800,
        # Statement parameters hold user text: keep them out of error messages and logs.
        hide_parameters=True,
    )
    use_schema_on_every_connection(engine, schema, statement_timeout_ms=0 if maintenance else None)
    check_connections_at_checkout(engine)
    discard_connection_after_foreign_errors(engine)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, on: Connection | None = None) -> Iterator[Session]:
    """One transaction for one use case: committed by the caller, rolled back by default. `on`: a
    connection the caller holds (see `one_connection`), instead of one from the pool."""
    session = factory() if on is None else factory(bind=on)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@contextmanager
def reading(factory: sessionmaker[Session], *, on: Connection | None = None) -> Iterator[Session]:
    """A use case that only reads, outside any transaction: no BEGIN and no ROLLBACK, two round
    trips fewer, and under load each round trip is also a wait for the interpreter's lock on the
    way back (bench/load). The reads lose nothing: at READ COMMITTED, PostgreSQL's default and the
    app's, every statement sees a snapshot of its own inside a transaction too.

    A write would commit at once, statement by statement, so none is allowed: an INSERT, UPDATE,
    DELETE or flush here raises ReadOnlyViolation. `on`: as for `unit_of_work`."""
    session = factory() if on is None else factory(bind=on)
    session.info[_READ_ONLY] = True
    try:
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session
    finally:
        session.rollback()
        session.close()
        if on is not None:  # the caller's connection writes in transactions again (the pool resets its own)
            on.execution_options(isolation_level=on.default_isolation_level)


@contextmanager
def one_connection(factory: sessionmaker[Session]) -> Iterator[Connection]:
    """One connection from the pool for several units of work in a row (`on=`): a use case that
    reads after it commits needs no second checkout, nor the pool's liveness check (a round trip)."""
    with factory.kw["bind"].connect() as connection:
        yield connection


class ReadOnlyViolation(RuntimeError):
    """A write in a `reading` unit: a programming error, never a user's."""


_READ_ONLY = "read_only"


@event.listens_for(Session, "do_orm_execute")
def _refuse_statements_that_write(state: ORMExecuteState) -> None:
    if state.session.info.get(_READ_ONLY) and (state.is_insert or state.is_update or state.is_delete):
        raise ReadOnlyViolation("A write in a read-only unit of work; use unit_of_work.")


@event.listens_for(Session, "before_flush")
def _refuse_flushes(session: Session, flush_context: object, instances: object) -> None:
    if session.info.get(_READ_ONLY):
        raise ReadOnlyViolation("A flush in a read-only unit of work; use unit_of_work.")

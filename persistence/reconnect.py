"""Recognise a broken database connection and repeat work that is safe to repeat.

Lakebase scales to zero, restarts computes and rotates credentials; PostgreSQL anywhere can drop a
connection. Work that is safe to repeat runs again when its connection breaks, at any statement
(`retry_on_disconnect`); any other work gets a pooled connection that was checked at checkout
(`check_connections_at_checkout`), so that it cannot fail on one that died while it sat in the pool.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.pool import ConnectionPoolEntry

logger = logging.getLogger(__name__)

# SQLSTATEs of a refused login or a lost connection: invalid password (a rotated credential),
# admin shutdown, cannot connect now, and the connection-exception class.
RETRYABLE_SQLSTATES = frozenset({"28P01", "57P01", "57P03", "08000", "08003", "08006"})
AUTH_FAILED = "28P01"
# The role lacks a privilege (e.g. CREATE on the database, or on schema public since PostgreSQL 15).
INSUFFICIENT_PRIVILEGE = "42501"

P = ParamSpec("P")
R = TypeVar("R")


def sqlstate(error: BaseException) -> str | None:
    """The PostgreSQL error code inside a psycopg/SQLAlchemy error, if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "sqlstate", None)
        if isinstance(code, str):
            return code
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def is_refused_login(error: BaseException) -> bool:
    """Whether the server refused the password (a rotated credential). A refusal at login has no
    SQLSTATE in libpq, only the server's message, which PostgreSQL writes in English unless its
    lc_messages says otherwise (Lakebase's does not)."""
    return sqlstate(error) == AUTH_FAILED or "password authentication failed" in str(error)


def is_connection_error(error: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    # A socket error can come through unwrapped (seen with the pure-Python pg8000 when the check
    # at checkout met a connection the server terminated): the connection is gone all the same.
    if isinstance(error, ConnectionError):
        return True
    code = sqlstate(error)
    if code in RETRYABLE_SQLSTATES:
        return True
    text = type(getattr(error, "orig", error)).__name__
    return text in {"InterfaceError", "OperationalError"} and code is None


# Set while work that `retry_on_disconnect` repeats is running in this thread (or task).
_repeatable_work: ContextVar[bool] = ContextVar("repeatable_work", default=False)


def retry_on_disconnect(work: Callable[[], R], *, attempts: int = 3, pause_seconds: float = 0.2) -> R:
    """Run `work` again when the connection broke under it. Only for work that is safe to repeat.

    Its connections go out of the pool unchecked (see `check_connections_at_checkout`)."""
    repeatable = _repeatable_work.set(True)
    try:
        for attempt in range(1, attempts + 1):
            try:
                return work()
            except Exception as error:
                if attempt == attempts or not is_connection_error(error):
                    raise
                logger.warning(
                    "Database connection lost (%s); retrying", sqlstate(error) or type(error).__name__
                )
                time.sleep(pause_seconds * attempt)
        raise AssertionError("unreachable")
    finally:
        _repeatable_work.reset(repeatable)


def check_connections_at_checkout(engine: Engine) -> None:
    """SQLAlchemy's `pool_pre_ping`, except for work that is safe to repeat: a pooled connection is
    checked (a round trip) as it leaves the pool, unless it is new or the work it is for runs under
    `retry_on_disconnect`, which repeats the work on a new connection if this one died in the pool.

    Every page run and every submit is such work, and under load each round trip is also a wait for
    the interpreter's lock (bench/load): a page load is one round trip instead of two, a submit one
    fewer before the model is called. A check that finds the connection dead has the pool replace
    it, and every connection made before it, as `pool_pre_ping` does."""
    dialect = engine.dialect

    @event.listens_for(engine, "connect")
    def _remember_it_is_new(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_NEW_CONNECTION] = True

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, proxy: object) -> None:
        if record.info.pop(_NEW_CONNECTION, False) or _repeatable_work.get():
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise InvalidatePoolError("A pooled connection was closed by the server") from error
            raise


_NEW_CONNECTION = "new_connection"


def safe_to_repeat(method: Callable[P, R]) -> Callable[P, R]:
    """Mark a use case that may run again after a lost connection (reads, idempotent writes)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return retry_on_disconnect(functools.partial(method, *args, **kwargs))

    return wrapper


def discard_connection_after_foreign_errors(engine: Engine) -> None:
    """Throw away a connection when a query fails with anything but a database (driver) error.

    A driver that writes a query to the socket in parts (pg8000, the app's driver before psycopg,
    did) and fails half-way (text it cannot encode, such as a lone surrogate, or a bug) leaves the
    server waiting for the rest. Returned to the pool, that connection is out of step: the next
    user's query reads the previous one's answers. That is the bug class behind a well-known
    cross-user leak in a large chat service, so such a connection is marked as disconnected, which
    makes SQLAlchemy close it instead of pooling it, whichever driver is underneath.
    """
    driver_error = engine.dialect.loaded_dbapi.Error

    @event.listens_for(engine, "handle_error")
    def _discard(context: ExceptionContext) -> None:
        if not isinstance(context.original_exception, driver_error):
            logger.warning(
                "A query failed outside the database driver (%s); discarding its connection",
                type(context.original_exception).__name__,
            )
            context.is_disconnect = True

"""Recognise a broken database connection and repeat work that is safe to repeat.

Lakebase scales to zero, restarts computes and rotates credentials; PostgreSQL anywhere can drop a
connection. `pool_pre_ping` replaces dead pooled connections at checkout; this covers a connection
that breaks while it is in use.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

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
    # A socket error can come through unwrapped (seen with the pure-Python pg8000 when
    # pool_pre_ping met a connection the server terminated): the connection is gone all the same.
    if isinstance(error, ConnectionError):
        return True
    code = sqlstate(error)
    if code in RETRYABLE_SQLSTATES:
        return True
    text = type(getattr(error, "orig", error)).__name__
    return text in {"InterfaceError", "OperationalError"} and code is None


def retry_on_disconnect(work: Callable[[], R], *, attempts: int = 3, pause_seconds: float = 0.2) -> R:
    """Run `work` again when the connection broke under it. Only for work that is safe to repeat."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Exception as error:
            if attempt == attempts or not is_connection_error(error):
                raise
            logger.warning("Database connection lost (%s); retrying", sqlstate(error) or type(error).__name__)
            time.sleep(pause_seconds * attempt)
    raise AssertionError("unreachable")


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

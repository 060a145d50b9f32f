"""Recognise a broken database connection and repeat work that is safe to repeat.

Lakebase scales to zero, restarts computes and rotates credentials; PostgreSQL anywhere can drop a
connection. `replace_dead_connections_at_checkout` replaces dead pooled connections before use; the
rest of this module covers a connection that breaks while it is in use.
"""

from __future__ import annotations

import functools
import logging
import select
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

logger = logging.getLogger(__name__)

# SQLSTATEs of a refused login or a lost connection: invalid password (a rotated credential),
# admin shutdown, cannot connect now, and the connection-exception class.
RETRYABLE_SQLSTATES = frozenset({"28P01", "57P01", "57P03", "08000", "08003", "08006"})
AUTH_FAILED = "28P01"
# The role lacks a privilege (e.g. CREATE on the database, or on schema public since PostgreSQL 15).
INSUFFICIENT_PRIVILEGE = "42501"

# A pooled connection idle for longer than this is pinged at checkout (one round trip to the server);
# one used more recently is only checked for a server that has hung up (no round trip).
IDLE_SECONDS_BEFORE_PING = 10.0

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


def replace_dead_connections_at_checkout(engine: Engine) -> None:
    """What `pool_pre_ping` does, without its round trip for a connection in steady use.

    A server that ends a connection (a restart, a compute scaled to zero, `pg_terminate_backend`,
    an idle timeout) sends its reason and closes it, so the idle connection's socket has something
    to read: such a connection is replaced before anything is sent on it. One idle for longer than
    IDLE_SECONDS_BEFORE_PING gets a real ping as well, for a network that drops a connection without
    a word. Under load a connection goes back out within milliseconds, and `pool_pre_ping`'s round
    trip was one of the 11 of a submit (each a wait for the GIL under load: README, Under load).
    A connection that dies between this check and its first statement fails as before, and the work
    safe to repeat is repeated (`retry_on_disconnect`)."""

    @event.listens_for(engine, "checkin")
    def _note_idle(dbapi_connection: object, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: object, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:
            return  # a connection just made
        if _server_hung_up(dbapi_connection):
            raise DisconnectionError("the server closed this pooled connection")
        if time.monotonic() - idle_since > IDLE_SECONDS_BEFORE_PING:
            try:
                engine.dialect.do_ping(dbapi_connection)  # type: ignore[arg-type]
            except Exception as error:
                raise DisconnectionError("a pooled connection did not answer its ping") from error


def _server_hung_up(dbapi_connection: object) -> bool:
    """An idle connection whose socket has input (the server's goodbye, or its end of file)."""
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        return True
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return True
    return bool(readable)

"""Pooled connections against a real PostgreSQL: one the server has closed is replaced before use,
one in steady use costs no ping round trip, and one idle for long is pinged
(persistence.reconnect.replace_dead_connections_at_checkout)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

import persistence.reconnect as reconnect
from persistence.database import build_engine

pytestmark = pytest.mark.integration


@pytest.fixture
def pool(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(pool: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every ping the pool's check sends, counted on the way to the real one."""
    sent: list[object] = []
    real_ping = pool.dialect.do_ping

    def counted_ping(dbapi_connection: object) -> bool:
        sent.append(dbapi_connection)
        return real_ping(dbapi_connection)  # type: ignore[arg-type]

    monkeypatch.setattr(pool.dialect, "do_ping", counted_ping)
    return sent


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def pooled_dbapi_connection(engine: Engine) -> object:
    """The DBAPI connection waiting in a one-connection pool (read without checking it out)."""
    return engine.pool._pool.queue[0].dbapi_connection  # type: ignore[attr-defined]


def terminate(engine: Engine, pid: int) -> None:
    with engine.connect() as other:  # (with pool_size=1 this is a connection of its own: overflow)
        assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()


def test_a_connection_the_server_closed_is_replaced_before_use(
    pool: Engine, database_url: str, pings: list[object]
) -> None:
    first = backend_pid(pool)
    admin = build_engine(database_url, pool_size=1, max_overflow=0)
    try:
        terminate(admin, first)
    finally:
        admin.dispose()
    deadline = time.monotonic() + 5
    while not reconnect._server_hung_up(pooled_dbapi_connection(pool)):
        assert time.monotonic() < deadline, "the terminated connection's socket never had input"
        time.sleep(0.01)
    second = backend_pid(pool)  # no error: the dead connection was replaced at checkout
    assert second != first
    assert pings == []  # it was recognised without a round trip


def test_a_connection_in_steady_use_is_not_pinged(pool: Engine, pings: list[object]) -> None:
    pids = {backend_pid(pool) for _ in range(5)}
    assert len(pids) == 1
    assert pings == []


def test_a_connection_idle_for_long_is_pinged_first(
    pool: Engine, pings: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend_pid(pool)
    monkeypatch.setattr(reconnect, "IDLE_SECONDS_BEFORE_PING", 0.0)
    backend_pid(pool)
    assert len(pings) == 1

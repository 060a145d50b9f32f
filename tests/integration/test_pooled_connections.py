"""Which pooled connections are checked as they leave the pool (persistence.reconnect): every one
that is not new, except for work that `retry_on_disconnect` repeats on a lost connection. Either
way a connection the server closed while it sat in the pool costs the caller nothing. Against the
real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from persistence.database import build_engine
from persistence.reconnect import retry_on_disconnect

pytestmark = pytest.mark.integration


@pytest.fixture
def counted_engine(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, list[int]]]:
    """An engine of one pooled connection, and the list its liveness checks are counted in."""
    engine = build_engine(database_url, pool_size=1, max_overflow=0)
    pings: list[int] = []
    real_ping = engine.dialect.do_ping

    def counting_ping(dbapi_connection) -> bool:
        pings.append(1)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counting_ping)
    yield engine, pings
    engine.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def close_from_the_server(database_url: str, pid: int) -> None:
    admin = build_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        admin.dispose()


def test_a_pooled_connection_is_checked_unless_it_is_new(counted_engine) -> None:
    engine, pings = counted_engine
    first = backend_pid(engine)  # just made: nothing to check
    assert pings == []
    assert backend_pid(engine) == first
    assert backend_pid(engine) == first
    assert pings == [1, 1]


def test_work_that_is_safe_to_repeat_takes_its_connection_unchecked(counted_engine) -> None:
    engine, pings = counted_engine
    first = backend_pid(engine)
    assert retry_on_disconnect(lambda: backend_pid(engine)) == first
    assert retry_on_disconnect(lambda: backend_pid(engine)) == first
    assert pings == []
    assert backend_pid(engine) == first  # and outside it, checked again
    assert pings == [1]


def test_a_connection_closed_in_the_pool_is_replaced_unnoticed(counted_engine, database_url) -> None:
    engine, pings = counted_engine
    first = backend_pid(engine)
    close_from_the_server(database_url, first)
    replacement = backend_pid(engine)  # no error: the check found it dead and the pool made another
    assert replacement != first
    assert pings == [1]


def test_repeatable_work_on_a_connection_closed_in_the_pool_runs_again_on_a_new_one(
    counted_engine, database_url
) -> None:
    engine, pings = counted_engine
    first = backend_pid(engine)
    close_from_the_server(database_url, first)
    attempts: list[int] = []

    def work() -> int:
        attempts.append(1)
        return backend_pid(engine)

    replacement = retry_on_disconnect(work, pause_seconds=0)
    assert replacement != first
    assert (len(attempts), pings) == (2, [])

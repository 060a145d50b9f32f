import certifi
import psycopg.errors
import pytest
from sqlalchemy.exc import OperationalError

from persistence.lakebase import tls_settings
from persistence.reconnect import is_connection_error, is_refused_login, retry_on_disconnect, sqlstate


@pytest.mark.parametrize("mode", ["require", "verify-ca", "verify-full", "prefer", "allow"])
def test_tls_always_verifies_the_server_certificate_and_name(mode: str) -> None:
    assert tls_settings(mode) == {"sslmode": "verify-full", "sslrootcert": certifi.where()}


def test_tls_can_be_turned_off_explicitly() -> None:
    assert tls_settings("disable") == {"sslmode": "disable"}


def pg_error(code: str) -> OperationalError:
    # psycopg's error class for the server's SQLSTATE carries it; SQLAlchemy wraps the driver's error.
    return OperationalError("SELECT 1", {}, psycopg.errors.lookup(code)("message"))


@pytest.mark.parametrize("code", ["28P01", "57P01", "57P03", "08000", "08003", "08006"])
def test_connection_class_errors_are_retryable(code: str) -> None:
    assert sqlstate(pg_error(code)) == code
    assert is_connection_error(pg_error(code))


@pytest.mark.parametrize("code", ["23505", "42501", "22P02"])
def test_other_database_errors_are_not(code: str) -> None:
    assert not is_connection_error(pg_error(code))


def test_a_reset_socket_counts_as_a_lost_connection() -> None:
    assert is_connection_error(ConnectionResetError(104, "Connection reset by peer"))


def test_work_is_repeated_after_a_lost_connection_but_not_after_other_errors() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise pg_error("57P01")
        return "done"

    assert retry_on_disconnect(flaky, pause_seconds=0) == "done"
    assert len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise pg_error("23505")

    calls.clear()
    with pytest.raises(OperationalError):
        retry_on_disconnect(broken, pause_seconds=0)
    assert len(calls) == 1


def test_a_refused_password_is_recognised_with_or_without_a_sqlstate() -> None:
    assert is_refused_login(pg_error("28P01"))
    # libpq reports a login refused at connect time with the server's message only.
    at_connect = psycopg.OperationalError(
        'connection failed: connection to server on socket "/tmp/.s.PGSQL.5432" failed: '
        'FATAL:  password authentication failed for user "app"'
    )
    assert is_refused_login(OperationalError(None, None, at_connect))
    assert not is_refused_login(pg_error("57P01"))
    assert not is_refused_login(OperationalError(None, None, psycopg.OperationalError("connection refused")))

"""The tuned pg8000 (persistence.driver) against the real server."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from persistence import driver


def test_a_tuned_connection_reads_timestamps_from_the_server(engine) -> None:
    # Every connection of a tuned engine gets the reader: the values come back the same, zone included.
    driver.tune_pg8000(engine)
    with engine.connect() as connection:
        assert (
            connection.connection.dbapi_connection.pg_types[driver.TIMESTAMPTZ_OID] is driver.read_timestamptz
        )
        connection.exec_driver_sql("SET TIME ZONE 'Asia/Kolkata'")
        value = connection.scalar(text("SELECT TIMESTAMPTZ '2026-11-30 04:05:30.5+00'"))
    assert value == datetime(2026, 11, 30, 4, 5, 30, 500000, tzinfo=UTC)
    assert value.utcoffset() == timedelta(hours=5, minutes=30)

"""pg8000 made cheaper (persistence.driver): placeholder conversion remembered per statement text,
and timestamps read with datetime.fromisoformat."""

from datetime import UTC, datetime, timedelta, timezone

import pg8000.dbapi
import pg8000.legacy
import pytest
from sqlalchemy import create_engine

from persistence import driver

STATEMENTS = [
    "SELECT chat_message.id FROM chat_message WHERE chat_message.session_id = %s LIMIT %s",
    "SELECT '100%%' AS share, 'it''s %s in a string' AS text, %s::INTEGER AS n",
    'SELECT "odd %s name" FROM t WHERE a = %s -- a comment with %s\n AND b = %s',
    "SELECT $$ %s inside dollars $$, %s",
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_the_remembered_conversion_is_pg8000s_own(statement) -> None:
    args = ("a", 2, None)
    assert driver._convert_paramstyle("format", statement, args) == (
        driver._uncached_conversion("format", statement, args)[0],
        args,
    )
    # The second time comes from memory, and the arguments still pass through untouched.
    assert driver._convert_paramstyle("format", statement, ("b",))[1] == ("b",)


def test_other_parameter_styles_are_converted_as_before() -> None:
    converted = driver._convert_paramstyle("named", "SELECT :a, :b, :a", {"a": 1, "b": 2})
    assert converted == ("SELECT $1, $2, $1", (1, 2))


def test_tuning_an_engine_replaces_the_drivers_conversion() -> None:
    engine = create_engine("postgresql+pg8000://nobody@localhost/none")
    driver.tune_pg8000(engine)
    driver.tune_pg8000(engine)  # twice is harmless
    assert pg8000.legacy.convert_paramstyle is driver._convert_paramstyle
    assert pg8000.dbapi.convert_paramstyle is driver._convert_paramstyle
    with pytest.raises(pg8000.dbapi.InterfaceError):
        driver._convert_paramstyle("format", "SELECT %d", (1,))


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2026-11-30 04:05:30.121+00", datetime(2026, 11, 30, 4, 5, 30, 121000, tzinfo=UTC)),
        ("2026-11-30 04:05:30+00", datetime(2026, 11, 30, 4, 5, 30, tzinfo=UTC)),
        (
            "1999-01-08 04:05:06.000001+05:30",
            datetime(1999, 1, 8, 4, 5, 6, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
        ("infinity", "infinity"),  # as pg8000 itself gives it
    ],
)
def test_timestamps_read_as_pg8000_reads_them(written, expected) -> None:
    assert driver.read_timestamptz(written) == expected
    assert driver.read_timestamptz(written) == pg8000.converters.timestamptz_in(written)

"""pg8000's placeholder conversion, remembered per statement text (persistence.driver)."""

import pg8000.dbapi
import pg8000.legacy
import pytest

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


def test_installing_it_replaces_the_drivers_conversion() -> None:
    driver.remember_converted_statements()
    driver.remember_converted_statements()  # twice is harmless
    assert pg8000.legacy.convert_paramstyle is driver._convert_paramstyle
    assert pg8000.dbapi.convert_paramstyle is driver._convert_paramstyle
    with pytest.raises(pg8000.dbapi.InterfaceError):
        driver._convert_paramstyle("format", "SELECT %d", (1,))

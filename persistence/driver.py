"""pg8000, the pure-Python PostgreSQL driver, made cheaper for the app's repeated statements.

Two costs showed in profiles of page runs and submits (bench/load):

- pg8000 rewrites the `%s` placeholders of every statement into PostgreSQL's `$1, $2, …` with a
  character-by-character scan in Python, on every execute: about 0.1 ms per 350 characters, and the
  ORM's statements run to a thousand characters or more. The app sends the same few dozen statement
  texts over and over, and for SQLAlchemy's "format" parameter style the rewritten text depends on
  the text alone, so it is worked out once per text and remembered.
- pg8000 reads every `timestamptz` value with `datetime.strptime`, about 50 µs each; a chat page
  reads dozens. PostgreSQL's output is ISO 8601, which `datetime.fromisoformat` reads about ten
  times faster; anything it does not take (infinity, years beyond 9999) goes to pg8000's own parser.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import pg8000.converters  # type: ignore[import-untyped]
import pg8000.dbapi  # type: ignore[import-untyped]
import pg8000.legacy  # type: ignore[import-untyped]
from sqlalchemy import Engine, event

# Statement texts remembered; the app has well under a hundred distinct ones.
REMEMBERED_STATEMENTS = 1024
TIMESTAMPTZ_OID = 1184

_uncached_conversion = pg8000.dbapi.convert_paramstyle


@functools.lru_cache(maxsize=REMEMBERED_STATEMENTS)
def _converted_text(query: str) -> str:
    text, _ = _uncached_conversion("format", query, ())
    return str(text)


def _convert_paramstyle(style: str, query: str, args: Any) -> tuple[str, Any]:
    # With "format", pg8000 passes the arguments through untouched: only the text is converted.
    if style != "format":
        text, values = _uncached_conversion(style, query, args)
        return str(text), values
    return _converted_text(query), args


def read_timestamptz(text: str) -> Any:
    """A `timestamptz` as PostgreSQL writes it (ISO 8601, for example `2026-11-30 04:05:30.12+00`)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return pg8000.converters.timestamptz_in(text)


def tune_pg8000(engine: Engine) -> None:
    """Make pg8000 convert each statement text once, and read timestamps quickly, on `engine`'s
    connections. Safe to call more than once."""
    pg8000.legacy.convert_paramstyle = _convert_paramstyle  # SQLAlchemy's pg8000 dialect uses this
    pg8000.dbapi.convert_paramstyle = _convert_paramstyle
    if not event.contains(engine, "connect", _read_timestamps_quickly):
        event.listen(engine, "connect", _read_timestamps_quickly)


def _read_timestamps_quickly(dbapi_connection: Any, _connection_record: object) -> None:
    dbapi_connection.register_in_adapter(TIMESTAMPTZ_OID, read_timestamptz)

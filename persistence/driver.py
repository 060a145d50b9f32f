"""pg8000, the pure-Python PostgreSQL driver, made cheaper for the app's repeated statements.

pg8000 rewrites the `%s` placeholders of every statement into PostgreSQL's `$1, $2, …` with a
character-by-character scan in Python, on every execute: about 0.1 ms per 350 characters, and the
ORM's statements run to a thousand characters or more. The app sends the same few dozen statement
texts over and over, and for SQLAlchemy's "format" parameter style the rewritten text depends on
the text alone, so it is worked out once per text and remembered (bench/load: a tenth of the CPU a
submit costs).
"""

from __future__ import annotations

import functools
from typing import Any

import pg8000.dbapi  # type: ignore[import-untyped]
import pg8000.legacy  # type: ignore[import-untyped]

# Statement texts remembered; the app has well under a hundred distinct ones.
REMEMBERED_STATEMENTS = 1024

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


def remember_converted_statements() -> None:
    """Make pg8000 convert each statement text once. Safe to call more than once."""
    pg8000.legacy.convert_paramstyle = _convert_paramstyle  # SQLAlchemy's pg8000 dialect uses this
    pg8000.dbapi.convert_paramstyle = _convert_paramstyle

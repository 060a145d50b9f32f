"""Text every PostgreSQL text column can take: the one boundary where that is enforced.

NUL cannot be stored in a PostgreSQL text value, and a lone surrogate (half of a UTF-16 pair, which
Python strings can hold: JSON `"\\ud800"`, a broken paste) cannot be encoded as UTF-8. Either one,
reaching the driver, fails the statement half-way through sending it. Every text column is of
`StorableText`, which replaces them with U+FFFD on the way in, whatever path the value took
(a message, an import, a title, a preview, a comment).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

REPLACEMENT_CHARACTER = "\ufffd"
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    return UNSTORABLE.sub(REPLACEMENT_CHARACTER, text)


class StorableText(TypeDecorator[str]):
    """A text column whose values are made storable before they reach the driver."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, str):
            return storable(value)
        return value

"""The named states of messages and requests, and who wrote a message.

StrEnums: each member is its text, so it is stored, compared and exported as before; the
database's CHECK constraints (persistence/orm.py) list the same values, and a test keeps them equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(StrEnum):
    """How a message ended. A user's message is always complete."""

    COMPLETE = "complete"
    STOPPED = "stopped"  # by the user, or cut at the chat's max tokens
    ERROR = "error"
    INTERRUPTED = "interrupted"  # the app stopped while the reply was being written


class RequestStatus(StrEnum):
    """Where a turn is: waiting for a runner, streaming, or ended as its reply did."""

    PENDING = "pending"
    STREAMING = "streaming"
    COMPLETE = "complete"
    STOPPED = "stopped"
    ERROR = "error"
    INTERRUPTED = "interrupted"


# A request in one of these still has a turn to run or finish.
OPEN_REQUEST_STATUSES = frozenset({RequestStatus.PENDING, RequestStatus.STREAMING})


def sql_list(values: Iterable[StrEnum]) -> str:
    """`'a', 'b'` for a CHECK constraint or a partial index, in the given order."""
    return ", ".join(f"'{value}'" for value in values)

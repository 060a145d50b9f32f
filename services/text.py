"""Text that PostgreSQL can store, and the checks a user's message passes before anything is saved."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from persistence.storable import REPLACEMENT_CHARACTER, UNSTORABLE
from services.errors import SessionNotFound, UserError

# NUL cannot be stored in a PostgreSQL text column; lone surrogates cannot be encoded as UTF-8.
# The columns clean them too (persistence.storable); this counts them, to tell the user.
_UNSTORABLE = UNSTORABLE


@dataclass(frozen=True)
class StorableText:
    text: str
    replaced: int  # how many characters were replaced with U+FFFD


def make_storable(text: str) -> StorableText:
    """Replace the characters PostgreSQL cannot store with U+FFFD, counting them.

    Replacing rather than refusing keeps the rest of the user's words: a message pasted from a
    binary file or a broken emoji is saved with a visible mark where the bad character was.
    """
    cleaned, replaced = _UNSTORABLE.subn(REPLACEMENT_CHARACTER, text)
    return StorableText(cleaned, replaced)


class InvalidMessage(UserError):
    """A message refused before it was saved; `user_message` says why and what to do."""


def check_user_message(text: str | None, *, max_chars: int) -> StorableText:
    if text is None or not text.strip():
        raise InvalidMessage("The message is empty. Type something before sending.")
    if len(text) > max_chars:
        raise InvalidMessage(
            f"The message is {len(text):,} characters long; the limit is {max_chars:,}. "
            "Nothing was sent. Shorten it (it is shown below so you can copy it) and send it again."
        )
    return make_storable(text)


def parse_session_id(text: str | None) -> uuid.UUID:
    """A chat id from a URL; anything that is not one is a chat that does not exist."""
    try:
        return uuid.UUID(text or "")
    except ValueError:
        raise SessionNotFound() from None

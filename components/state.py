"""Every session-state key the app uses, with typed accessors. State holds ids and UI flags only:
the conversation itself is always read from the database."""

from __future__ import annotations

import uuid

import streamlit as st

_CURRENT_SESSION = "current_session_id"
_NOTICES = "pending_notices"
_REFUSED_TEXT = "refused_message_text"


def current_session_id() -> uuid.UUID | None:
    value = st.session_state.get(_CURRENT_SESSION)
    return value if isinstance(value, uuid.UUID) else None


def set_current_session_id(session_id: uuid.UUID | None) -> None:
    st.session_state[_CURRENT_SESSION] = session_id


def push_notice(text: str) -> None:
    """A message to show once on the next run (after a callback or a rerun)."""
    st.session_state.setdefault(_NOTICES, []).append(text)


def pop_notices() -> list[str]:
    return st.session_state.pop(_NOTICES, [])


def set_refused_text(text: str | None) -> None:
    st.session_state[_REFUSED_TEXT] = text


def pop_refused_text() -> str | None:
    return st.session_state.pop(_REFUSED_TEXT, None)

"""Every session-state key the app uses, with typed accessors. State holds ids and UI flags only:
the conversation itself is always read from the database."""

from __future__ import annotations

import uuid

import streamlit as st

_CURRENT_SESSION = "current_session_id"


def current_session_id() -> uuid.UUID | None:
    value = st.session_state.get(_CURRENT_SESSION)
    return value if isinstance(value, uuid.UUID) else None


def set_current_session_id(session_id: uuid.UUID | None) -> None:
    st.session_state[_CURRENT_SESSION] = session_id

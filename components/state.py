"""Every session-state key the app uses, with typed accessors. State holds ids and UI flags only:
the conversation itself is always read from the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import streamlit as st

_CURRENT_SESSION = "current_session_id"


def current_session_id() -> uuid.UUID | None:
    value = st.session_state.get(_CURRENT_SESSION)
    return value if isinstance(value, uuid.UUID) else None


def set_current_session_id(session_id: uuid.UUID | None) -> None:
    st.session_state[_CURRENT_SESSION] = session_id


# -- chat page ------------------------------------------------------------------------------------
_SHOWN_MESSAGES = "shown_messages"
# How many of a chat's newest messages its page draws at first, and how many more each click adds.
MESSAGES_PER_STEP = 50


def shown_messages(session_id: uuid.UUID) -> int:
    """How many of this chat's newest messages the page draws (more after "Show earlier messages")."""
    shown = st.session_state.get(_SHOWN_MESSAGES)
    if isinstance(shown, tuple) and len(shown) == 2 and shown[0] == session_id:
        return int(shown[1])
    return MESSAGES_PER_STEP


def show_earlier_messages(session_id: uuid.UUID) -> None:
    st.session_state[_SHOWN_MESSAGES] = (session_id, shown_messages(session_id) + MESSAGES_PER_STEP)


_DEMO_NOTICE_DISMISSED = "demo_notice_dismissed"


def demo_notice_dismissed() -> bool:
    return bool(st.session_state.get(_DEMO_NOTICE_DISMISSED))


def dismiss_demo_notice() -> None:
    st.session_state[_DEMO_NOTICE_DISMISSED] = True


_EDITING = "editing_message"


def editing_message() -> int | None:
    """The user message whose edit form is open, if any."""
    value = st.session_state.get(_EDITING)
    return value if isinstance(value, int) else None


def set_editing_message(message_id: int | None) -> None:
    st.session_state[_EDITING] = message_id


_SHOWN_VERSIONS = "shown_reply_versions"


def shown_version(first_version_id: int, count: int) -> int:
    """Which version of a regenerated reply to show (by the first version's id): the one chosen, or
    the newest. A new version makes the newest show again."""
    chosen = st.session_state.get(_SHOWN_VERSIONS, {}).get(first_version_id)
    if isinstance(chosen, tuple) and chosen[1] == count and 0 <= chosen[0] < count:
        return int(chosen[0])
    return count - 1


def show_version(first_version_id: int, index: int, count: int) -> None:
    st.session_state.setdefault(_SHOWN_VERSIONS, {})[first_version_id] = (index, count)


# -- history page ---------------------------------------------------------------------------------
_HISTORY_CURSORS = "history_cursors"
_HISTORY_QUERY_SIGNATURE = "history_query_signature"
_HISTORY_SELECTED = "history_selected_session"


def history_cursors(signature: str) -> list:
    """The keyset cursors of the pages visited so far (the first page has None), reset whenever the
    search or the filters change (`signature` describes them)."""
    if st.session_state.get(_HISTORY_QUERY_SIGNATURE) != signature:
        st.session_state[_HISTORY_QUERY_SIGNATURE] = signature
        st.session_state[_HISTORY_CURSORS] = [None]
    return st.session_state[_HISTORY_CURSORS]


def selected_history_session() -> uuid.UUID | None:
    value = st.session_state.get(_HISTORY_SELECTED)
    return value if isinstance(value, uuid.UUID) else None


def set_selected_history_session(session_id: uuid.UUID | None) -> None:
    st.session_state[_HISTORY_SELECTED] = session_id


_ACTION_NOTICE = "action_notice"
_IMPORT_ROUND = "history_import_round"

# What Undo does after an action: set the archived state back, or restore a deleted chat.
Undo = Literal["archive", "unarchive", "restore"]


@dataclass(frozen=True)
class ActionNotice:
    """What the last action on a chat did (archive, delete, import), shown with Undo where it can be
    undone, at the top of the page it was done on, until dismissed or replaced by the next one."""

    text: str
    session_id: uuid.UUID | None
    undo: Undo | None = None
    # Undo opens the chat again: it was the open chat when it was deleted.
    reopen: bool = False


def action_notice() -> ActionNotice | None:
    value = st.session_state.get(_ACTION_NOTICE)
    return value if isinstance(value, ActionNotice) else None


def set_action_notice(notice: ActionNotice | None) -> None:
    st.session_state[_ACTION_NOTICE] = notice


def import_round() -> int:
    """Counts imports in this tab: the uploader's key changes with it, which empties the uploader."""
    return int(st.session_state.get(_IMPORT_ROUND, 0))


def next_import_round() -> None:
    st.session_state[_IMPORT_ROUND] = import_round() + 1


_FLASH = "flash_message"


def set_flash(message: str) -> None:
    """A message for the next run of the page to show once (after a rerun that closes a dialog)."""
    st.session_state[_FLASH] = message


def pop_flash() -> str | None:
    value = st.session_state.pop(_FLASH, None)
    return value if isinstance(value, str) else None


_SETTINGS_OPEN = "model_settings_open"


def settings_open() -> bool:
    """Whether the chat's model settings dialog is open."""
    return bool(st.session_state.get(_SETTINGS_OPEN, False))


def set_settings_open(is_open: bool) -> None:
    st.session_state[_SETTINGS_OPEN] = is_open


_CHAT_ACTIONS_TARGET = "chat_actions_target"


def chat_actions_target() -> uuid.UUID | None:
    """The chat whose actions dialog is open (from its ⋯ in the sidebar): it stays open across reruns."""
    value = st.session_state.get(_CHAT_ACTIONS_TARGET)
    return value if isinstance(value, uuid.UUID) else None


def set_chat_actions_target(session_id: uuid.UUID | None) -> None:
    st.session_state[_CHAT_ACTIONS_TARGET] = session_id


_HISTORY_PENDING_DELETE = "history_pending_delete"


def pending_delete() -> uuid.UUID | None:
    """The chat whose deletion waits for confirmation: its dialog stays open across reruns."""
    value = st.session_state.get(_HISTORY_PENDING_DELETE)
    return value if isinstance(value, uuid.UUID) else None


def set_pending_delete(session_id: uuid.UUID | None) -> None:
    st.session_state[_HISTORY_PENDING_DELETE] = session_id


_PAGE_BEHAVIOUR_DELIVERED = "page_behaviour_delivered"


def page_behaviour_delivered() -> bool:
    """Whether this tab has the page's browser-side behaviour (components.page_behaviour) already."""
    return bool(st.session_state.get(_PAGE_BEHAVIOUR_DELIVERED, False))


def set_page_behaviour_delivered() -> None:
    st.session_state[_PAGE_BEHAVIOUR_DELIVERED] = True


# -- admin ------------------------------------------------------------------------------------------
_ADMIN_VIEWING = "admin_viewing_session"


def first_admin_view(session_id: uuid.UUID) -> bool:
    """True when this run opens the conversation (to be audited), False on a rerun of the same view."""
    if st.session_state.get(_ADMIN_VIEWING) == session_id:
        return False
    st.session_state[_ADMIN_VIEWING] = session_id
    return True


def end_admin_view() -> None:
    """Called by the admin page: the next opening of a conversation is a new view."""
    st.session_state.pop(_ADMIN_VIEWING, None)

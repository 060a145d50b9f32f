"""The notice after an action on a chat (archived, deleted, imported), with Undo where it can be undone.

Undo is what the best mail and chat apps offer instead of a second "are you sure": the action
happens at once and the notice can take it back (a deleted chat for `DELETE_UNDO_SECONDS`).
"""

from __future__ import annotations

import contextlib

import streamlit as st

from components import state
from components.markup import plain
from services.errors import SessionNotFound, UserError
from services.history import HistoryService
from services.views import User


def _undo(history: HistoryService, user: User, notice: state.ActionNotice, reopen: bool) -> None:
    state.set_action_notice(None)
    if notice.session_id is None or notice.undo is None:
        return
    try:
        if notice.undo == "restore":
            history.restore(user, notice.session_id)
            if reopen:  # the chat page: the chat comes back where it was, open
                state.set_current_session_id(notice.session_id)
                st.query_params.clear()
                st.query_params["session"] = str(notice.session_id)
        else:
            with contextlib.suppress(SessionNotFound):  # deleted meanwhile: nothing to set back
                history.set_archived(user, notice.session_id, notice.undo == "archive")
    except UserError as error:
        st.toast(error.user_message, icon=":material/error:")
    else:
        st.toast("Undone.", icon=":material/undo:")


def render_action_notice(history: HistoryService, user: User, *, reopen_restored: bool = False) -> None:
    """The current notice, if any, in a bordered row: its text, then Undo (or OK to dismiss it)."""
    notice = state.action_notice()
    if notice is None:
        return
    with st.container(border=True, key="action-notice"):
        text_column, button_column = st.columns([5, 1], vertical_alignment="center")
        text_column.markdown(f":material/check_circle: {plain(notice.text)}")
        if notice.undo is not None:
            button_column.button(
                "Undo",
                key="action-notice-undo",
                on_click=_undo,
                args=(history, user, notice, reopen_restored),
                width="stretch",
            )
        else:
            button_column.button(
                "OK", key="action-notice-ok", on_click=state.set_action_notice, args=(None,), width="stretch"
            )

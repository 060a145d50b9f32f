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


def _undo(history: HistoryService, user: User, notice: state.ActionNotice) -> None:
    state.set_action_notice(None)
    if notice.session_id is None or notice.undo is None:
        return
    try:
        if notice.undo == "restore":
            history.restore(user, notice.session_id)
            if notice.reopen:  # it was the open chat: it comes back open
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


def render_action_notice(history: HistoryService, user: User) -> None:
    """The current notice, if any, in a bordered row: its text, then Undo (or OK to dismiss it)."""
    notice = state.action_notice()
    if notice is None:
        return
    # One row that stays one row on a phone (columns would stack): the text, then the button.
    with st.container(
        border=True, horizontal=True, vertical_alignment="center", wrap=False, key="action-notice"
    ):
        st.markdown(f":material/check_circle: {plain(notice.text)}", width="stretch")
        if notice.undo is not None:
            st.button(
                "Undo",
                key="action-notice-undo",
                icon=":material/undo:",
                on_click=_undo,
                args=(history, user, notice),
                width="content",
            )
        else:
            st.button(
                "OK", key="action-notice-ok", on_click=state.set_action_notice, args=(None,), width="content"
            )

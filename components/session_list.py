"""The sidebar list of the user's recent sessions, to switch between them."""

from __future__ import annotations

import uuid

import streamlit as st

from components.markup import plain
from services.views import SessionSummary

CHAT_PAGE = "app_pages/chat.py"


def render_session_list(sessions: list[SessionSummary], *, current: uuid.UUID | None) -> None:
    st.sidebar.subheader("Recent chats")
    if not sessions:
        st.sidebar.caption("No chats yet. Your conversations appear here.")
        return
    for summary in sessions:
        label = ("▸ " if summary.id == current else "") + plain(summary.title)
        st.sidebar.page_link(
            CHAT_PAGE,
            label=label,
            query_params={"session": str(summary.id)},
            help=f"{summary.message_count} messages · {plain(summary.model_endpoint or 'default model')}",
        )

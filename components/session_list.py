"""The sidebar list of the user's recent chats: grouped by date, filterable, the open one marked."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from components.markup import plain
from services.views import SessionSummary

CHAT_PAGE = "app_pages/chat.py"
# Characters of a title shown in the sidebar; longer titles end with an ellipsis at a word boundary
# (a button cut by the sidebar's edge would cut mid-letter).
TITLE_CHARS = 34
# The key of the list's container; the page's style lays it out (components.page_behaviour).
RECENT_CHATS_KEY = "recent-chats"


def short_title(title: str, limit: int = TITLE_CHARS) -> str:
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,.;:-") + "…"


def date_group(updated: date, today: date) -> str:
    """The heading a chat is listed under, as ChatGPT-style lists group them."""
    age = (today - updated).days
    if age <= 0:
        return "Today"
    if age == 1:
        return "Yesterday"
    if age <= 7:
        return "Previous 7 days"
    if age <= 30:
        return "Previous 30 days"
    return "Older"


def grouped(sessions: Iterable[SessionSummary], now: datetime) -> list[tuple[str, list[SessionSummary]]]:
    """Pinned chats first, then by date group, each keeping the list's order (newest first)."""
    groups: dict[str, list[SessionSummary]] = {}
    for summary in sessions:
        heading = (
            "Pinned"
            if summary.pinned
            else date_group(summary.updated_at.astimezone(now.tzinfo).date(), now.date())
        )
        groups.setdefault(heading, []).append(summary)
    return list(groups.items())


def _viewer_now() -> datetime:
    """Now in the browser's time zone (sent by the browser), so "Today" means the viewer's today."""
    try:
        zone = ZoneInfo(st.context.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone)


def render_session_list(
    sessions: list[SessionSummary],
    *,
    current: uuid.UUID | None,
    on_open: Callable[[uuid.UUID], None],
    on_actions: Callable[[uuid.UUID], None],
) -> None:
    """The list; clicking a chat calls `on_open` with its id (which also puts it in the URL), and
    its ⋯ button `on_actions` (rename, pin, archive, delete)."""
    sidebar = st.sidebar
    sidebar.subheader("Recent chats")
    if not sessions:
        sidebar.caption("No chats yet. Your conversations appear here.")
        return
    query = sidebar.text_input(
        "Filter chats",
        placeholder="Filter chats by title",
        key="session-list-filter",
        label_visibility="collapsed",
        icon=":material/search:",
    ).strip()
    shown = [s for s in sessions if query.casefold() in s.title.casefold()] if query else sessions
    if not shown:
        sidebar.caption("No recent chat has that in its title. History searches every message.")
        sidebar.page_link("app_pages/history.py", label="Search in History", icon=":material/history:")
        return
    # One container for the whole list, laid out as a grid of two columns (components.page_behaviour):
    # a chat's title button, then its ⋯ button. Every element costs every run of the page, and a
    # container per row was a third of the list's (bench/page_runs.py's helpers, 20 chats).
    rows = sidebar.container(key=RECENT_CHATS_KEY, gap=None)
    for heading, members in grouped(shown, _viewer_now()):
        rows.caption(heading)
        for summary in members:
            is_current = summary.id == current
            rows.button(
                plain(short_title(summary.title)),
                key=f"open-{summary.id}",
                on_click=on_open,
                args=(summary.id,),
                type="secondary" if is_current else "tertiary",
                icon=":material/chat_bubble:" if is_current else None,
                width="stretch",
            )
            rows.button(
                "",
                key=f"actions-{summary.id}",
                on_click=on_actions,
                args=(summary.id,),
                type="tertiary",
                icon=":material/more_horiz:",
                help="Rename, pin, archive or delete",
                width="content",
            )
    if len(sessions) >= 20:
        sidebar.page_link("app_pages/history.py", label="All chats in History", icon=":material/history:")
